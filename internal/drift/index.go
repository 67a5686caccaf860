// Package drift owns tend's fast drift path: an index of the files the last
// run managed (path, type, size, mtime, ctime, inode, mode, owner, sha256),
// kept in state_dir/drift-index.json, a check that stats every indexed file
// and hashes only those whose stat changed (or all of them, on a periodic
// full hash), and a watcher that turns file events on managed paths into a
// debounced signal. The slow path — the playbook in check mode — stays in
// the agent; this package only answers "did a managed file change since tend
// last looked", in milliseconds.
package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tend-project/tend/internal/atomicfile"

	"github.com/tend-project/tend/internal/report"
)

// FileName is the index's file in state_dir.
const FileName = "drift-index.json"

// indexVersion is the on-disk format; another version is ignored (rebuilt).
const indexVersion = 1

// Types of an indexed path.
const (
	TypeFile    = "file"
	TypeDir     = "directory"
	TypeSymlink = "symlink"
	TypeAbsent  = "absent"
	TypeOther   = "other" // fifo, socket, device
)

// Entry is what one managed path looked like after the run that indexed it.
type Entry struct {
	Path    string `json:"path"` // the host's path (the resource ID)
	Type    string `json:"type"`
	Content bool   `json:"content,omitempty"` // content is managed: compare sha256
	Size    int64  `json:"size,omitempty"`
	Mtime   int64  `json:"mtime_ns,omitempty"`
	Ctime   int64  `json:"ctime_ns,omitempty"`
	Inode   uint64 `json:"inode,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
	Mode    uint32 `json:"mode,omitempty"` // permission and special bits (07777)
	UID     uint32 `json:"uid"`
	GID     uint32 `json:"gid"`
	SHA256  string `json:"sha256,omitempty"`
	Target  string `json:"target,omitempty"` // a symlink's target

	// unsettled: recorded from tend's write, not from the file, which
	// changed after it (Target.Wrote); Build lists it in Index.Unsettled
	unsettled bool
}

// Target is one path a run managed, as the index needs it.
type Target struct {
	Path string
	// Content is true when some task wrote the file's content (copy,
	// template, lineinfile, ...); a path only the file module manages keeps
	// its mode, owner and type, not its bytes.
	Content bool
	// Keep is true when a check-mode run said the path would change: it has
	// drifted, so the index keeps the old baseline instead of recording it.
	Keep bool
	// Wrote is the sha256 (hex) of the content tend last wrote to the path
	// in the run, "" when it wrote none. When the file holds something else
	// by the time the index is built, someone changed it during the run:
	// the index records what tend wrote, so the change is drift.
	Wrote string
}

// Failure is a path the index or a check could not look at, with the reason.
type Failure struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Index is the set of managed paths and what they looked like.
type Index struct {
	// Root maps every path under a directory ("" = the real system), as the
	// agent's --root does. Not stored: the agent sets it.
	Root string `json:"-"`

	Version  int       `json:"version"`
	Time     time.Time `json:"time"`                    // when it was built
	FullHash time.Time `json:"full_hash_time,omitzero"` // last time every content was hashed
	Entries  []*Entry  `json:"entries"`                 // sorted by path
	// Unsettled are the paths Build found changed after tend wrote them
	// in the run (see Target.Wrote): drift to look at now.
	Unsettled []string `json:"-"`

	mu     sync.Mutex
	byPath map[string]*Entry
	open   func(string) (int, error) // tests inject unreadable files
}

// contentlessActions manage a path's metadata, never its bytes.
var contentlessActions = map[string]bool{
	"file": true, "ansible.builtin.file": true, "ansible.legacy.file": true,
}

// Targets lists the file resources of a run: every path a task (or loop
// item) that did not fail reported as kind "file". In a check-mode report, a
// path some task would change is marked Keep.
func Targets(rep *report.Report) []Target {
	if rep == nil {
		return nil
	}
	byPath := map[string]*Target{}
	var order []string
	add := func(t report.TaskResult, action string) {
		if t.Status == report.StatusFailed || t.Status == report.StatusSkipped || t.Status == report.StatusUnreachable {
			return
		}
		for _, r := range t.Resources {
			if r.Kind != "file" || r.ID == "" || !filepath.IsAbs(r.ID) {
				continue
			}
			p := filepath.Clean(r.ID)
			tg := byPath[p]
			if tg == nil {
				tg = &Target{Path: p}
				byPath[p] = tg
				order = append(order, p)
			}
			tg.Content = tg.Content || !contentlessActions[action]
			tg.Keep = tg.Keep || rep.Check && t.Status == report.StatusChanged
		}
	}
	for _, pl := range rep.Plays {
		for _, t := range pl.Tasks {
			if len(t.Items) == 0 {
				add(t, t.Action)
				continue
			}
			for _, it := range t.Items {
				add(it, t.Action)
			}
		}
	}
	out := make([]Target, 0, len(order))
	for _, p := range order {
		out = append(out, *byPath[p])
	}
	return out
}

// Build records each target as it is now. A Keep target takes its entry from
// prev (it has drifted; the baseline stays), or is left out when prev has
// none. A target that cannot be looked at is left out and named in the
// failures.
func Build(root string, targets []Target, prev *Index, now time.Time) (*Index, []Failure) {
	x := &Index{Root: root, Version: indexVersion, Time: now, FullHash: now}
	var fails []Failure
	var todo []Target
	for _, t := range targets {
		if t.Keep {
			if e := prev.Lookup(t.Path); e != nil {
				c := *e
				x.Entries = append(x.Entries, &c)
			}
			continue
		}
		todo = append(todo, t)
	}
	entries := make([]*Entry, len(todo))
	errs := make([]error, len(todo))
	parallel(len(todo), func(i int) {
		entries[i], errs[i] = x.record(todo[i])
	})
	for i, e := range entries {
		if errs[i] != nil {
			fails = append(fails, Failure{Path: todo[i].Path, Reason: errs[i].Error()})
			continue
		}
		x.Entries = append(x.Entries, e)
		if e.unsettled {
			x.Unsettled = append(x.Unsettled, e.Path)
		}
	}
	x.index()
	return x, fails
}

// record stats (and, for managed content, hashes) one path.
func (x *Index) record(t Target) (*Entry, error) {
	e := &Entry{Path: t.Path, Content: t.Content}
	var st syscall.Stat_t
	phys := x.phys(t.Path)
	if err := syscall.Lstat(phys, &st); err != nil {
		if isMissing(err) {
			e.Type = TypeAbsent
			return e, nil
		}
		return nil, fmt.Errorf("stat %s: %w", phys, err)
	}
	e.fill(&st)
	switch e.Type {
	case TypeSymlink:
		target, err := os.Readlink(phys)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", phys, err)
		}
		e.Target = target
	case TypeFile:
		if e.Content {
			sum, st2, err := x.hash(phys)
			if err != nil {
				return nil, err
			}
			e.SHA256 = sum
			e.fill(st2) // the stat of what was hashed
			if t.Wrote != "" && sum != t.Wrote {
				// changed since tend wrote it: keep tend's content as
				// the baseline, and a stat no file has, so the next
				// check hashes it and reports the difference
				e.SHA256, e.Mtime, e.unsettled = t.Wrote, 0, true
			}
		}
	}
	return e, nil
}

// fill copies a stat into the entry.
func (e *Entry) fill(st *syscall.Stat_t) {
	e.Type = typeOf(st.Mode)
	e.Size = st.Size
	e.Mtime = st.Mtim.Nano()
	e.Ctime = st.Ctim.Nano()
	e.Inode = st.Ino
	e.Dev = st.Dev
	e.Mode = st.Mode & 0o7777
	e.UID, e.GID = st.Uid, st.Gid
}

func typeOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return TypeFile
	case syscall.S_IFDIR:
		return TypeDir
	case syscall.S_IFLNK:
		return TypeSymlink
	}
	return TypeOther
}

// isMissing is true for a path that does not exist (or whose parent is no
// longer a directory).
func isMissing(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hash returns the sha256 of a regular file and the stat of the opened file.
// It never follows a symlink and never blocks on a fifo swapped in. It reads
// through the raw descriptor: an *os.File would register each descriptor
// with the runtime poller, which costs more than hashing a small file.
func (x *Index) hash(phys string) (string, *syscall.Stat_t, error) {
	open := x.open
	if open == nil {
		open = openNoFollow
	}
	fd, err := open(phys)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", phys, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return "", nil, fmt.Errorf("stat %s: %w", phys, err)
	}
	if typeOf(st.Mode) != TypeFile {
		return "", &st, nil
	}
	h := sha256.New()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("read %s: %w", phys, err)
		}
		if n <= 0 {
			break
		}
		h.Write(buf[:n])
	}
	return hex.EncodeToString(h.Sum(nil)), &st, nil
}

func openNoFollow(p string) (int, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return fd, nil
	}
}

// phys is where a host path lives on this machine.
func (x *Index) phys(p string) string {
	if x == nil || x.Root == "" {
		return p
	}
	return filepath.Join(x.Root, p)
}

func (x *Index) index() {
	slices.SortFunc(x.Entries, func(a, b *Entry) int { return strings.Compare(a.Path, b.Path) })
	x.byPath = make(map[string]*Entry, len(x.Entries))
	for _, e := range x.Entries {
		x.byPath[e.Path] = e
	}
}

// Lookup returns the entry of a host path, nil when it is not indexed (or x
// is nil).
func (x *Index) Lookup(p string) *Entry {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.byPath[filepath.Clean(p)]
}

// Len is the number of indexed paths.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.Entries)
}

// Paths returns the indexed paths as they live on this machine (under
// Root), for the watcher.
func (x *Index) Paths() []string {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]string, len(x.Entries))
	for i, e := range x.Entries {
		out[i] = x.phys(e.Path)
	}
	return out
}

// Load reads state_dir/drift-index.json. A missing file, or one of another
// format version, is an empty index (the next run rebuilds it).
func Load(dir string) (*Index, error) {
	p := filepath.Join(dir, FileName)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &Index{Version: indexVersion, byPath: map[string]*Entry{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read drift index: %w", err)
	}
	x := &Index{}
	if err := json.Unmarshal(data, x); err != nil {
		return nil, fmt.Errorf("drift index %s is corrupt (delete it; the next run rebuilds it): %w", p, err)
	}
	if x.Version != indexVersion {
		return &Index{Version: indexVersion, byPath: map[string]*Entry{}}, nil
	}
	x.Entries = slices.DeleteFunc(x.Entries, func(e *Entry) bool { return e == nil || e.Path == "" })
	x.index()
	return x, nil
}

// Save writes state_dir/drift-index.json atomically (temp file, fsync,
// rename), so a crash leaves the old index or the new one.
func (x *Index) Save(dir string) error {
	x.mu.Lock()
	data, err := json.Marshal(x)
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save drift index: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save drift index: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, FileName), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save drift index in %s: %w", dir, err)
	}
	return nil
}
