package drift

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tend-project/tend/internal/module"
)

// What differs on a drifted path (module.Resource.Differs), in the words the
// file modules use where one exists.
const (
	DiffContent = "content" // sha256 (or size) differs
	DiffMode    = "mode"
	DiffOwner   = "owner"
	DiffGroup   = "group"
	DiffMissing = "missing" // the path is gone
	DiffState   = "state"   // a path that should be absent exists
	DiffType    = "type"    // a file replaced by a directory, a symlink, ...
	DiffSrc     = "src"     // a symlink points elsewhere
)

// Drifted is one managed path that differs from its index entry.
type Drifted struct {
	Path    string   `json:"path"`
	Differs []string `json:"differs"`
	Detail  string   `json:"detail"` // e.g. "mode 0644 -> 0600; content sha256 3f2a.. -> 9b1c.."
}

// Result is one check.
type Result struct {
	Drifted  []Drifted
	Failures []Failure // paths whose check could not complete, with why
	Checked  int       // paths stat'ed
	Hashed   int       // files whose content was read
	Full     bool      // every managed content was hashed
	// Refreshed counts entries whose stat changed while nothing managed did
	// (a touch, a rewrite with the same bytes): the index took the new stat,
	// so the next check need not hash them again. Save the index when > 0.
	Refreshed int
	Duration  time.Duration
}

// Resources returns the drift as the agent reports it (kind "file").
func (r *Result) Resources() []module.Resource {
	out := make([]module.Resource, 0, len(r.Drifted))
	for _, d := range r.Drifted {
		out = append(out, module.Resource{Kind: "file", ID: d.Path, Differs: d.Differs})
	}
	return out
}

// FullHashDue reports whether the periodic full hash is due: every is
// drift.full_hash_interval, 0 = every check.
func (x *Index) FullHashDue(every time.Duration, now time.Time) bool {
	if x == nil {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// a last full hash in the future means the wall clock was set back:
	// hash now rather than wait for the clock to catch up
	return every <= 0 || !now.Before(x.FullHash.Add(every)) || x.FullHash.After(now)
}

// NextFullHash is when the periodic full hash falls due.
func (x *Index) NextFullHash(every time.Duration) time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	if now := time.Now(); x.FullHash.After(now) {
		return now // see FullHashDue
	}
	return x.FullHash.Add(every)
}

// Check compares every indexed path with the machine: one lstat each, and a
// sha256 only for managed content whose stat (size, mtime, ctime, inode)
// changed — or for all of it when full is true, so a file whose mtime and
// size were forged back is still caught. It never fails as a whole: a path
// it cannot look at is a Failure with the reason.
func (x *Index) Check(ctx context.Context, full bool) *Result {
	start := time.Now()
	res := &Result{Full: full}
	if x == nil {
		return res
	}
	x.mu.Lock()
	entries := x.Entries
	x.mu.Unlock()

	type outcome struct {
		drift   *Drifted
		fail    *Failure
		fresh   *Entry // new stat for an entry whose managed state is unchanged
		hashed  bool
		checked bool
	}
	outs := make([]outcome, len(entries))
	parallel(len(entries), func(i int) {
		if ctx.Err() != nil {
			return
		}
		o := &outs[i]
		o.checked = true
		o.drift, o.fail, o.fresh, o.hashed = x.checkOne(entries[i], full)
	})
	x.mu.Lock()
	for i, o := range outs {
		if !o.checked {
			continue
		}
		res.Checked++
		if o.hashed {
			res.Hashed++
		}
		if o.drift != nil {
			res.Drifted = append(res.Drifted, *o.drift)
		}
		if o.fail != nil {
			res.Failures = append(res.Failures, *o.fail)
		}
		if o.fresh != nil && o.drift == nil && o.fail == nil {
			*entries[i] = *o.fresh
			res.Refreshed++
		}
	}
	if full && ctx.Err() == nil {
		x.FullHash = start
	}
	x.mu.Unlock()
	if ctx.Err() != nil {
		res.Failures = append(res.Failures, Failure{Reason: fmt.Sprintf("check cancelled after %d of %d paths: %v", res.Checked, len(entries), ctx.Err())})
	}
	res.Duration = time.Since(start)
	return res
}

// checkOne compares one entry with the machine.
func (x *Index) checkOne(e *Entry, full bool) (drift *Drifted, fail *Failure, fresh *Entry, hashed bool) {
	phys := x.phys(e.Path)
	var st syscall.Stat_t
	if err := syscall.Lstat(phys, &st); err != nil {
		if isMissing(err) {
			if e.Type == TypeAbsent {
				return nil, nil, nil, false
			}
			return &Drifted{Path: e.Path, Differs: []string{DiffMissing}, Detail: e.Type + " is missing"}, nil, nil, false
		}
		return nil, &Failure{Path: e.Path, Reason: fmt.Sprintf("cannot stat %s: %v", phys, err)}, nil, false
	}
	now := &Entry{Path: e.Path, Content: e.Content, SHA256: e.SHA256, Target: e.Target}
	now.fill(&st)
	if e.Type == TypeAbsent {
		return &Drifted{Path: e.Path, Differs: []string{DiffState}, Detail: "should be absent, is a " + now.Type}, nil, nil, false
	}
	if now.Type != e.Type {
		return &Drifted{Path: e.Path, Differs: []string{DiffType}, Detail: e.Type + " replaced by a " + now.Type}, nil, nil, false
	}
	var differs, details []string
	if now.Mode != e.Mode {
		differs = append(differs, DiffMode)
		details = append(details, fmt.Sprintf("mode %04o -> %04o", e.Mode, now.Mode))
	}
	if now.UID != e.UID {
		differs = append(differs, DiffOwner)
		details = append(details, fmt.Sprintf("owner %d -> %d", e.UID, now.UID))
	}
	if now.GID != e.GID {
		differs = append(differs, DiffGroup)
		details = append(details, fmt.Sprintf("group %d -> %d", e.GID, now.GID))
	}
	statChanged := now.Size != e.Size || now.Mtime != e.Mtime || now.Ctime != e.Ctime || now.Inode != e.Inode || now.Dev != e.Dev
	switch {
	case e.Type == TypeSymlink && statChanged:
		target, err := readlink(phys)
		if err != nil {
			return nil, &Failure{Path: e.Path, Reason: err.Error()}, nil, false
		}
		if target != e.Target {
			differs = append(differs, DiffSrc)
			details = append(details, fmt.Sprintf("points to %s, not %s", target, e.Target))
		}
		now.Target = target
	case e.Type == TypeFile && e.Content && now.Size != e.Size:
		differs = append(differs, DiffContent)
		details = append(details, fmt.Sprintf("size %d -> %d", e.Size, now.Size))
	case e.Type == TypeFile && e.Content && (statChanged || full):
		sum, st2, err := x.hash(phys)
		hashed = true
		if err != nil {
			// content not verifiable: report what stat shows, and why
			fail = &Failure{Path: e.Path, Reason: "content not verified: " + err.Error()}
			break
		}
		if st2 != nil && typeOf(st2.Mode) != TypeFile {
			// swapped between lstat and open
			return &Drifted{Path: e.Path, Differs: []string{DiffType}, Detail: "file replaced by a " + typeOf(st2.Mode)}, nil, nil, true
		}
		if sum != e.SHA256 {
			differs = append(differs, DiffContent)
			details = append(details, fmt.Sprintf("content sha256 %.12s -> %.12s", e.SHA256, sum))
		}
		now.SHA256 = sum
	}
	if len(differs) > 0 {
		return &Drifted{Path: e.Path, Differs: differs, Detail: strings.Join(details, "; ")}, fail, nil, hashed
	}
	if fail != nil {
		return nil, fail, nil, hashed
	}
	if statChanged {
		return nil, nil, now, hashed
	}
	return nil, nil, nil, hashed
}

func readlink(p string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := syscall.Readlink(p, buf)
		if err != nil {
			return "", fmt.Errorf("readlink %s: %w", p, err)
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// parallel runs fn(0..n-1) on a few goroutines: stat and hash are syscalls
// that block, so more workers than cores keep the disk and the CPUs busy.
func parallel(n int, fn func(i int)) {
	workers := min(max(runtime.GOMAXPROCS(0)*4, 4), 32, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
