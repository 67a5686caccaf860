package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/host"
)

func TestSaveRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "backups"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := host.NewLocal()
	existing := filepath.Join(dir, "motd")
	created := filepath.Join(dir, "new.conf")
	if err := os.WriteFile(existing, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	run := s.Begin("rev1")
	for _, p := range []string{existing, created, existing} {
		if err := run.Save(ctx, h, p); err != nil {
			t.Fatal(err)
		}
	}
	// the run changes both files
	os.WriteFile(existing, []byte("new\n"), 0o600)
	os.WriteFile(created, []byte("x\n"), 0o644)
	m, err := run.Finish(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 2 || m.Entries[0].SHA256 != Sum([]byte("old\n")) || m.Entries[0].After != Sum([]byte("new\n")) || m.Entries[1].Exists {
		t.Fatalf("manifest: %+v", m.Entries)
	}
	last, err := s.Last()
	if err != nil || last == nil || last.ID != m.ID {
		t.Fatalf("last: %v %v", last, err)
	}
	if _, err := s.Restore(ctx, h, last); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(existing)
	fi, _ := os.Stat(existing)
	if string(data) != "old\n" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("restored %q %v", data, fi.Mode())
	}
	if _, err := os.Stat(created); !os.IsNotExist(err) {
		t.Fatalf("created file not removed: %v", err)
	}
	if l, _ := s.Last(); l != nil {
		t.Fatalf("rolled back run still last: %+v", l)
	}
}

func TestPruneBySizeAndAge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "b"), 250, time.Hour)
	h := host.NewLocal()
	f := filepath.Join(dir, "f")
	for i := range 4 {
		os.WriteFile(f, []byte(strings.Repeat(string(rune('a'+i)), 100)), 0o644)
		r := s.Begin("r")
		if err := r.Save(ctx, h, f); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Finish(ctx, h); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	runs, _ := s.Runs()
	if len(runs) != 2 {
		t.Fatalf("want 2 runs kept under 250 bytes, got %d", len(runs))
	}
	var objs int
	filepath.WalkDir(filepath.Join(dir, "b", "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			objs++
		}
		return nil
	})
	if objs != 2 {
		t.Fatalf("unreferenced contents not deleted: %d objects", objs)
	}
	// age: everything but the newest goes
	if err := s.Prune(time.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Runs(); len(runs) != 1 {
		t.Fatalf("age prune kept %d runs", len(runs))
	}
}

func TestCorruptContentRefused(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 0, 0)
	sum, err := s.put([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.objectPath(sum), []byte("evil"), 0o600)
	if _, err := s.Content(sum); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt content: %v", err)
	}
}
