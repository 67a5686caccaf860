// Package backup owns state_dir/backups: a content-addressed store of the
// files tend changed, so that `tend rollback` can put them back. Before a
// module changes a file, the agent saves the file's old content (stored once
// per distinct sha256 under objects/) and its metadata (existed, mode,
// owner, symlink target) in the manifest of the current run (runs/ID.json).
// The store is bounded by size and age: Prune drops the oldest runs until
// both limits hold, then deletes contents no kept run refers to.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/atomicfile"

	"github.com/tend-project/tend/internal/host"
)

// Entry is one file as it was before a run changed it.
type Entry struct {
	Path       string      `json:"path"`
	Exists     bool        `json:"exists"`
	Dir        bool        `json:"dir,omitempty"`
	LinkTarget string      `json:"link_target,omitempty"`
	SHA256     string      `json:"sha256,omitempty"` // content of a regular file; "" otherwise
	Size       int64       `json:"size,omitempty"`
	Mode       fs.FileMode `json:"mode,omitempty"` // Unix permission bits
	UID        int         `json:"uid"`
	GID        int         `json:"gid"`
	// After is the file's sha256 after the run ("" = absent or not a regular
	// file), filled by Finish.
	After string    `json:"after_sha256,omitempty"`
	Time  time.Time `json:"time"`
}

// Manifest is what one run changed.
type Manifest struct {
	ID       string    `json:"id"`
	Revision string    `json:"revision"`
	Start    time.Time `json:"start"`
	Entries  []Entry   `json:"entries"`
	// RolledBack is set once `tend rollback` restored this run's files.
	RolledBack bool `json:"rolled_back,omitempty"`
}

// Store is a backup directory with its limits.
type Store struct {
	dir      string
	maxBytes int64
	maxAge   time.Duration
	mu       sync.Mutex
}

// Open prepares dir (mode 0700) as a store bounded by maxBytes of content
// and maxAge of runs (0 = no limit).
func Open(dir string, maxBytes int64, maxAge time.Duration) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "objects"), filepath.Join(dir, "runs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("backup store: %w", err)
		}
	}
	return &Store{dir: dir, maxBytes: maxBytes, maxAge: maxAge}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Run is a run being recorded: Save adds files to its manifest.
type Run struct {
	s  *Store
	mu sync.Mutex
	m  Manifest
}

// Begin starts recording a run of revision rev.
func (s *Store) Begin(rev string) *Run {
	now := time.Now().UTC()
	id := now.Format("20060102T150405.000000000Z")
	return &Run{s: s, m: Manifest{ID: id, Revision: rev, Start: now}}
}

// ID is the run's manifest id.
func (r *Run) ID() string { return r.m.ID }

// Save records path on h as it is now, before a change. A path already
// saved in this run is kept as first seen (the state before the run).
func (r *Run) Save(ctx context.Context, h host.Host, path string) error {
	r.mu.Lock()
	for _, e := range r.m.Entries {
		if e.Path == path {
			r.mu.Unlock()
			return nil
		}
	}
	r.mu.Unlock()
	fi, err := h.Stat(ctx, path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	e := Entry{Path: path, Exists: err == nil && fi.Exists, Time: time.Now().UTC()}
	if e.Exists {
		e.Mode, e.UID, e.GID, e.Size = fi.Perm(), fi.UID, fi.GID, fi.Size
		switch {
		case fi.IsSymlink():
			e.LinkTarget = fi.LinkTarget
		case fi.IsDir():
			e.Dir = true
		case fi.IsRegular():
			data, err := h.ReadFile(ctx, path)
			if err != nil {
				return fmt.Errorf("backup %s: %w", path, err)
			}
			if e.SHA256, err = r.s.put(data); err != nil {
				return fmt.Errorf("backup %s: %w", path, err)
			}
		}
	}
	r.mu.Lock()
	r.m.Entries = append(r.m.Entries, e)
	r.mu.Unlock()
	return nil
}

// Finish records each saved file's sha256 after the run, writes the
// manifest (when anything was saved) and prunes the store. It returns the
// manifest.
func (r *Run) Finish(ctx context.Context, h host.Host) (Manifest, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m.Entries) == 0 {
		return r.m, nil
	}
	for i := range r.m.Entries {
		e := &r.m.Entries[i]
		if h == nil {
			break
		}
		if fi, err := h.Stat(ctx, e.Path); err == nil && fi.IsRegular() {
			if data, err := h.ReadFile(ctx, e.Path); err == nil {
				e.After = Sum(data)
			}
		}
	}
	if err := r.s.writeManifest(r.m); err != nil {
		return r.m, err
	}
	return r.m, r.s.Prune(time.Now())
}

// Sum is the hex sha256 of data, as the store names contents.
func Sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func (s *Store) objectPath(sum string) string {
	return filepath.Join(s.dir, "objects", sum[:2], sum)
}

func (s *Store) put(data []byte) (string, error) {
	sum := Sum(data)
	p := s.objectPath(sum)
	if _, err := os.Stat(p); err == nil {
		now := time.Now()
		_ = os.Chtimes(p, now, now)
		return sum, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	return sum, writeAtomic(p, data)
}

// Content returns a stored content by its sha256, verifying it.
func (s *Store) Content(sum string) ([]byte, error) {
	if len(sum) != 64 {
		return nil, fmt.Errorf("backup: bad content id %q", sum)
	}
	data, err := os.ReadFile(s.objectPath(sum))
	if err != nil {
		return nil, fmt.Errorf("backup content %s: %w", sum[:12], err)
	}
	if Sum(data) != sum {
		return nil, fmt.Errorf("backup content %s is corrupt", sum[:12])
	}
	return data, nil
}

func (s *Store) writeManifest(m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, "runs", m.ID+".json"), data)
}

// Runs returns the kept manifests, oldest first.
func (s *Store) Runs() ([]Manifest, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "runs"))
	if err != nil {
		return nil, fmt.Errorf("backup store: %w", err)
	}
	var out []Manifest
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, "runs", e.Name()))
		if err != nil {
			return nil, err
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			continue // a torn manifest: skip it, its contents are pruned
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Last returns the newest manifest not yet rolled back, or nil.
func (s *Store) Last() (*Manifest, error) {
	runs, err := s.Runs()
	if err != nil {
		return nil, err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if !runs[i].RolledBack {
			return &runs[i], nil
		}
	}
	return nil, nil
}

// Restore puts every file of m back as it was before that run, in reverse
// order of saving, and marks m rolled back. It restores what it can and
// returns the paths it restored with an error joining every failure.
func (s *Store) Restore(ctx context.Context, h host.Host, m *Manifest) ([]string, error) {
	var done []string
	var errs []error
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := m.Entries[i]
		if err := s.restoreOne(ctx, h, e); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", e.Path, err))
			continue
		}
		done = append(done, e.Path)
	}
	if len(errs) == 0 {
		m.RolledBack = true
		if err := s.writeManifest(*m); err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}

func (s *Store) restoreOne(ctx context.Context, h host.Host, e Entry) error {
	cur, err := h.Stat(ctx, e.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	exists := err == nil && cur.Exists
	switch {
	case !e.Exists:
		if !exists {
			return nil
		}
		if cur.IsDir() {
			return h.RemoveAll(ctx, e.Path)
		}
		return h.Remove(ctx, e.Path)
	case e.LinkTarget != "":
		if exists {
			if err := h.Remove(ctx, e.Path); err != nil {
				return err
			}
		}
		return h.Symlink(ctx, e.LinkTarget, e.Path)
	case e.Dir:
		if !exists {
			if err := h.Mkdir(ctx, e.Path, e.Mode); err != nil {
				return err
			}
		}
		if err := h.Chmod(ctx, e.Path, e.Mode); err != nil {
			return err
		}
		return lchown(ctx, h, e)
	default:
		data, err := s.Content(e.SHA256)
		if err != nil {
			return err
		}
		if exists && !cur.IsRegular() {
			if err := h.RemoveAll(ctx, e.Path); err != nil {
				return err
			}
		}
		if err := h.WriteFile(ctx, e.Path, data, host.WriteOptions{Mode: e.Mode, UID: -1, GID: -1}); err != nil {
			return err
		}
		if err := h.Chmod(ctx, e.Path, e.Mode); err != nil {
			return err
		}
		return lchown(ctx, h, e)
	}
}

// lchown restores the owner when it differs (only root may change it).
func lchown(ctx context.Context, h host.Host, e Entry) error {
	fi, err := h.Stat(ctx, e.Path)
	if err != nil || (fi.UID == e.UID && fi.GID == e.GID) {
		return err
	}
	return h.Lchown(ctx, e.Path, e.UID, e.GID)
}

// Prune drops manifests older than the max age, then the oldest until the
// contents they refer to fit in the max size, then every content no kept
// manifest refers to. The newest manifest is always kept.
func (s *Store) Prune(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	runs, err := s.Runs()
	if err != nil {
		return err
	}
	drop := func(m Manifest) error {
		return os.Remove(filepath.Join(s.dir, "runs", m.ID+".json"))
	}
	for len(runs) > 1 && s.maxAge > 0 && now.Sub(runs[0].Start) > s.maxAge {
		if err := drop(runs[0]); err != nil {
			return err
		}
		runs = runs[1:]
	}
	sizes := map[string]int64{}
	size := func(rs []Manifest) int64 {
		seen := map[string]bool{}
		var n int64
		for _, m := range rs {
			for _, e := range m.Entries {
				if e.SHA256 == "" || seen[e.SHA256] {
					continue
				}
				seen[e.SHA256] = true
				sz, ok := sizes[e.SHA256]
				if !ok {
					if fi, err := os.Stat(s.objectPath(e.SHA256)); err == nil {
						sz = fi.Size()
					}
					sizes[e.SHA256] = sz
				}
				n += sz
			}
		}
		return n
	}
	for len(runs) > 1 && s.maxBytes > 0 && size(runs) > s.maxBytes {
		if err := drop(runs[0]); err != nil {
			return err
		}
		runs = runs[1:]
	}
	keep := map[string]bool{}
	for _, m := range runs {
		for _, e := range m.Entries {
			keep[e.SHA256] = true
		}
	}
	return filepath.WalkDir(filepath.Join(s.dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !keep[d.Name()] && !strings.HasPrefix(d.Name(), ".tmp-") {
			return os.Remove(p)
		}
		return nil
	})
}

// writeAtomic writes data to p through a temp file and rename, mode 0600.
func writeAtomic(p string, data []byte) error {
	return atomicfile.Write(p, data, 0o600)
}
