package drift

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// startWatcher watches paths and returns the watcher; it stops with the test.
func startWatcher(t *testing.T, paths ...string) *Watcher {
	t.Helper()
	w, err := NewWatcher(20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Set(paths)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// expectSignal fails unless a signal arrives within 1 s (the contract).
func expectSignal(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.C():
	case <-time.After(time.Second):
		t.Fatalf("%s: no signal within 1s (watching %v)", what, w.Watched())
	}
}

// expectQuiet fails when a signal arrives within a debounce window and more.
func expectQuiet(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.C():
		t.Fatalf("%s: unexpected signal", what)
	case <-time.After(150 * time.Millisecond):
	}
}

func drain(w *Watcher) {
	for {
		select {
		case <-w.C():
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

func TestWatcherEvents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "managed.conf")
	other := filepath.Join(dir, "other.conf")
	for _, f := range []string{p, other} {
		if err := os.WriteFile(f, []byte("a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := startWatcher(t, p)
	if got := w.Watched(); !slices.Equal(got, []string{dir}) {
		t.Fatalf("watched %v, want only the directory %s", got, dir)
	}
	expectQuiet(t, w, "no event")

	if err := os.WriteFile(other, []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, w, "edit of an unmanaged file")

	if err := os.WriteFile(p, []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "edit")
	drain(w)

	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "chmod")
	drain(w)

	// an editor's save: write a temp file, rename it over the managed one
	tmp := filepath.Join(dir, ".managed.conf.swp")
	if err := os.WriteFile(tmp, []byte("c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "replace by rename")
	drain(w)
	// ... and the watch still works on the new file
	if err := os.WriteFile(p, []byte("d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "edit after replace")
	drain(w)

	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "delete")
	drain(w)

	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "replaced by a directory")
	drain(w)
	_ = os.Remove(p)
	drain(w)
	if err := os.Symlink(other, p); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "replaced by a symlink")
}

// The managed directory is removed and made again: the watcher signals the
// removal, re-adds its watch when the directory is back, and signals edits
// in the new directory.
func TestWatcherDirectoryRecreated(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "etc", "app")
	p := filepath.Join(dir, "app.conf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWatcher(t, p)

	if err := os.RemoveAll(filepath.Join(base, "etc")); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "directory removed")
	drain(w)
	if slices.Contains(w.Watched(), dir) {
		t.Fatalf("still watching the removed %s: %v", dir, w.Watched())
	}

	// made again in two steps, the file written at once (before any re-watch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "directory recreated")
	drain(w)
	deadline := time.Now().Add(2 * time.Second)
	for !slices.Contains(w.Watched(), dir) {
		if time.Now().After(deadline) {
			t.Fatalf("watch on %s not re-added: %v", dir, w.Watched())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(p, []byte("c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "edit in the recreated directory")

	// the directory renamed away and back
	drain(w)
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "directory renamed away")
	drain(w)
	if err := os.Rename(dir+".old", dir); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "directory renamed back")
	drain(w)
	if err := os.WriteFile(p, []byte("d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "edit after rename back")
}

// Managed paths whose directory does not exist yet are watched from the
// nearest existing ancestor.
func TestWatcherMissingAtStart(t *testing.T) {
	base := t.TempDir()
	p := filepath.Join(base, "a", "b", "f")
	w := startWatcher(t, p)
	if got := w.Watched(); !slices.Equal(got, []string{base}) {
		t.Fatalf("watched %v, want the ancestor %s", got, base)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, w, "file appeared")
	// Set to nothing removes every watch
	w.Set(nil)
	if got := w.Watched(); len(got) != 0 {
		t.Fatalf("after Set(nil) still watching %v", got)
	}
}
