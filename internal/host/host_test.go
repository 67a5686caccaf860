package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/host/hosttest"
)

var ctx = context.Background()

func TestLocalConformance(t *testing.T) {
	hosttest.Run(t, func(t *testing.T) (host.Host, string) {
		return host.NewLocal(), t.TempDir()
	})
}

func TestRootedConformance(t *testing.T) {
	hosttest.Run(t, func(t *testing.T) (host.Host, string) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "work"), 0755); err != nil {
			t.Fatal(err)
		}
		return host.Rooted(host.NewLocal(), root), "/work"
	})
}

func TestRootedMapsAndConfines(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	h := host.Rooted(host.NewLocal(), root)
	if err := h.WriteFile(ctx, "/f", []byte("x"), host.WriteOptions{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "f")); err != nil {
		t.Errorf("write /f did not land in root: %v", err)
	}
	for _, p := range []string{"/../etc/passwd", "/a/../../x", "relative"} {
		if _, err := h.ReadFile(ctx, p); err == nil {
			t.Errorf("ReadFile(%q) was allowed", p)
		}
	}
	// An absolute symlink is resolved inside root, not on the real system.
	os.WriteFile(filepath.Join(outside, "secret"), []byte("real"), 0644)
	if err := h.Symlink(ctx, filepath.Join(outside, "secret"), "/link"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := h.Stat(ctx, "/link"); fi.LinkTarget != filepath.Join(outside, "secret") || fi.Path != "/link" {
		t.Errorf("symlink stat = %+v, want target stored as given", fi)
	}
	if data, err := h.ReadFile(ctx, "/link"); err == nil {
		t.Errorf("read through an absolute symlink escaped root: %q", data)
	}
	if err := h.WriteFile(ctx, "/link", []byte("new"), host.WriteOptions{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "secret")); string(data) != "real" {
		t.Errorf("write through a symlink changed a file outside root: %q", data)
	}
	_, err := h.Run(ctx, host.Command{Shell: "touch /tmp/x"})
	if !errors.Is(err, host.ErrNoCommands) || !strings.Contains(err.Error(), "--root "+root) {
		t.Errorf("Run under root: %v", err)
	}
}

func TestRootedAccounts(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0755)
	h := host.Rooted(host.NewLocal(), root)
	// Without root/etc/passwd the real databases answer.
	if uid, err := h.LookupUser(ctx, "root"); err != nil || uid != 0 {
		t.Fatalf("LookupUser(root) without root/etc/passwd = %d, %v", uid, err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("app:x:1500:1500::/home/app:/bin/sh\n"), 0644)
	if uid, err := h.LookupUser(ctx, "app"); err != nil || uid != 1500 {
		t.Errorf("LookupUser(app) from root/etc/passwd = %d, %v", uid, err)
	}
	if _, err := h.LookupUser(ctx, "root"); err == nil {
		t.Error("root/etc/passwd exists, yet the real one answered for root")
	}
	// The cache sees a changed file.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("app:x:1500:1500::/home/app:/bin/sh\nweb:x:1501:1501::/:/bin/sh\n"), 0644)
	if n := h.UserName(ctx, 1501); n != "web" {
		t.Errorf("UserName(1501) after passwd changed = %q, want web", n)
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("x"), 0644)
	h := host.ReadOnly(host.NewLocal())
	if data, err := h.ReadFile(ctx, p); err != nil || string(data) != "x" {
		t.Errorf("ReadOnly ReadFile = %q, %v", data, err)
	}
	if fi, err := h.Stat(ctx, p); err != nil || !fi.Exists {
		t.Errorf("ReadOnly Stat = %+v, %v", fi, err)
	}
	now := time.Now()
	calls := map[string]error{
		"WriteFile": h.WriteFile(ctx, p, []byte("y"), host.WriteOptions{UID: -1, GID: -1}),
		"Mkdir":     h.Mkdir(ctx, filepath.Join(dir, "d"), 0755),
		"Remove":    h.Remove(ctx, p),
		"RemoveAll": h.RemoveAll(ctx, dir),
		"Rename":    h.Rename(ctx, p, p+"2"),
		"Symlink":   h.Symlink(ctx, p, p+"3"),
		"Link":      h.Link(ctx, p, p+"4"),
		"Chmod":     h.Chmod(ctx, p, 0600),
		"Lchown":    h.Lchown(ctx, p, 1, 1),
		"Chtimes":   h.Chtimes(ctx, p, now, now),
	}
	_, calls["Run"] = h.Run(ctx, host.Command{Shell: "true"})
	for name, err := range calls {
		if !errors.Is(err, host.ErrReadOnly) {
			t.Errorf("ReadOnly %s error = %v, want ErrReadOnly", name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	fi, _ := os.Stat(p)
	if len(entries) != 1 || fi.Mode().Perm() != 0644 {
		t.Errorf("ReadOnly host changed the directory: %d entries, mode %v", len(entries), fi.Mode())
	}
}

func TestLocalUserCacheInvalidation(t *testing.T) {
	// Exercised on the real files through Rooted above; here check that a
	// numeric name and the os/user fallback agree for the current user.
	h := host.NewLocal()
	uid := os.Getuid()
	name := h.UserName(ctx, uid)
	if name == "" {
		t.Fatalf("UserName(%d) is empty", uid)
	}
	if got, err := h.LookupUser(ctx, name); err != nil || got != uid {
		t.Errorf("LookupUser(%q) = %d, %v; want %d", name, got, err, uid)
	}
}

func TestSplitShell(t *testing.T) {
	for in, want := range map[string]string{
		`visudo -cf %s`:              "visudo|-cf|%s",
		`sh -c "echo a  b" x`:        "sh|-c|echo a  b|x",
		`a 'b c' d\ e`:               "a|b c|d e",
		`  lead  trail  `:            "lead|trail",
		`x "q\"uote" ''`:             `x|q"uote|`,
		`nginx -t -c '/tmp/%s.conf'`: "nginx|-t|-c|/tmp/%s.conf",
	} {
		got, err := host.SplitShell(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("SplitShell(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := host.SplitShell(`a "b`); err == nil {
		t.Error("unclosed quote accepted")
	}
}
