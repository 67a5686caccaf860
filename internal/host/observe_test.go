package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestObserved(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	got := map[string]string{}
	h := Observed(NewLocal(), func(p string, data []byte) {
		if data == nil {
			got[p] = "<forgotten>"
			return
		}
		got[p] = string(data)
	})
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := h.WriteFile(ctx, a, []byte("one"), WriteOptions{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if got[a] != "one" {
		t.Fatalf("after WriteFile: %v", got)
	}
	if err := h.Rename(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if got[a] != "<forgotten>" || got[b] != "<forgotten>" {
		t.Fatalf("after Rename: %v", got)
	}
	if err := h.WriteFile(ctx, a, []byte("two"), WriteOptions{UID: -1, GID: -1}); err != nil || got[a] != "two" {
		t.Fatalf("second write: %v %v", err, got)
	}
	if err := h.Remove(ctx, a); err != nil || got[a] != "<forgotten>" {
		t.Fatalf("after Remove: %v %v", err, got)
	}
	// a failed write reports nothing
	delete(got, a)
	if err := h.WriteFile(ctx, filepath.Join(dir, "missing", "c"), []byte("x"), WriteOptions{UID: -1, GID: -1}); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	if _, ok := got[filepath.Join(dir, "missing", "c")]; ok {
		t.Fatalf("a failed write was reported: %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b")); string(b) != "one" {
		t.Fatalf("b = %q", b)
	}
	if Observed(NewLocal(), nil) == nil {
		t.Fatal("Observed with no callback must return the host")
	}
}
