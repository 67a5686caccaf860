package drift

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce folds the burst of events of one save (an editor writes a
// temp file, renames it, chmods it) into one signal.
const DefaultDebounce = 50 * time.Millisecond

// resyncEvery is how often the watcher retries directories that are gone.
const resyncEvery = time.Second

// Watcher turns file events on managed paths into a debounced signal. It
// watches the directories of the managed files, not the files (editors and
// tend itself replace files by rename, which would orphan a per-file watch),
// keeps only events naming a managed path or one of their directories, and
// re-adds a directory's watch when the directory is removed and made again.
// Errors are logged and followed by a signal (a check never hurts); they
// never stop it.
type Watcher struct {
	fw       *fsnotify.Watcher
	log      *slog.Logger
	debounce time.Duration
	c        chan struct{}

	mu      sync.Mutex
	files   map[string]bool // managed paths
	dirs    map[string]bool // their directories
	anc     map[string]bool // every ancestor of those directories
	missing map[string]bool // directories that do not exist now
}

// NewWatcher starts an inotify instance; call Set with the managed paths and
// Run to deliver signals on C. debounce <= 0 means DefaultDebounce.
func NewWatcher(debounce time.Duration, log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	fw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil, err
	}
	return &Watcher{fw: fw, log: log, debounce: debounce, c: make(chan struct{}, 1),
		files: map[string]bool{}, dirs: map[string]bool{}, anc: map[string]bool{}, missing: map[string]bool{}}, nil
}

// C receives one value after a burst of events on managed paths.
func (w *Watcher) C() <-chan struct{} { return w.c }

// Set replaces the managed paths (as they live on this machine) and watches
// their directories.
func (w *Watcher) Set(paths []string) {
	files := make(map[string]bool, len(paths))
	dirs := map[string]bool{}
	anc := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		files[p] = true
		d := filepath.Dir(p)
		if dirs[d] {
			continue
		}
		dirs[d] = true
		for a := filepath.Dir(d); !anc[a]; a = filepath.Dir(a) {
			anc[a] = true
			if a == filepath.Dir(a) {
				break
			}
		}
	}
	w.mu.Lock()
	w.files, w.dirs, w.anc = files, dirs, anc
	w.missing = map[string]bool{}
	w.mu.Unlock()
	w.resync()
}

// Watched returns the directories watched now (tests, status).
func (w *Watcher) Watched() []string {
	l := w.fw.WatchList()
	slices.Sort(l)
	return l
}

// resync adds a watch to every managed directory that lacks one; for one
// that is gone it watches the nearest existing ancestor, whose events say
// when it comes back. Watches no longer needed are removed. It reports
// whether a directory that was missing is watched again (changes in it may
// have been missed: check).
func (w *Watcher) resync() (recovered bool) {
	have := map[string]bool{}
	for _, p := range w.fw.WatchList() {
		have[p] = true
	}
	w.mu.Lock()
	dirs := make([]string, 0, len(w.dirs))
	for d := range w.dirs {
		dirs = append(dirs, d)
	}
	wasMissing := w.missing
	w.mu.Unlock()
	slices.Sort(dirs)

	need := map[string]bool{}
	missing := map[string]bool{}
	for _, d := range dirs {
		need[d] = true
		if have[d] {
			continue
		}
		if err := w.fw.Add(d); err == nil {
			have[d] = true
			if wasMissing[d] {
				recovered = true
			}
			continue
		} else if !isGone(err) {
			w.log.Warn("drift watch", "dir", d, "err", err)
		}
		missing[d] = true
		for a := filepath.Dir(d); ; a = filepath.Dir(a) {
			need[a] = true
			if have[a] {
				break
			}
			if err := w.fw.Add(a); err == nil {
				have[a] = true
				break
			}
			if a == filepath.Dir(a) {
				break
			}
		}
	}
	for p := range have {
		if !need[p] {
			_ = w.fw.Remove(p)
		}
	}
	w.mu.Lock()
	w.missing = missing
	w.mu.Unlock()
	return recovered
}

func isGone(err error) bool {
	return errors.Is(err, fsnotify.ErrNonExistentWatch) || isMissing(err)
}

// relevant sorts an event: does it name a managed path (check), or a
// managed directory or one of its ancestors (re-watch, then check)?
func (w *Watcher) relevant(name string) (check, rewatch bool) {
	name = filepath.Clean(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.files[name] {
		return true, w.dirs[name]
	}
	if w.dirs[name] || w.anc[name] {
		return true, true
	}
	return false, false
}

// Run delivers signals until ctx ends, then closes the inotify instance.
func (w *Watcher) Run(ctx context.Context) {
	defer w.fw.Close()
	var fire <-chan time.Time
	arm := func() {
		if fire == nil {
			fire = time.After(w.debounce)
		}
	}
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			check, rewatch := w.relevant(ev.Name)
			if rewatch && w.resync() {
				check = true
			}
			if check {
				arm()
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			// overflow or a read error: events may be lost, so check
			w.log.Warn("drift watch", "err", err)
			w.resync()
			arm()
		case <-tick.C:
			w.mu.Lock()
			n := len(w.missing)
			w.mu.Unlock()
			if n > 0 && w.resync() {
				arm()
			}
		case <-fire:
			fire = nil
			select {
			case w.c <- struct{}{}:
			default: // a signal is already pending
			}
		}
	}
}
