package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/moduletest"
)

func run(t *testing.T, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	return moduletest.Run(t, host.NewLocal(), name, raw, check)
}

func want(t *testing.T, what string, res module.Result, changed bool) {
	t.Helper()
	moduletest.Want(t, what, res, changed)
}

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGitCloneUpdateAndLocalMods(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	src := t.TempDir()
	gitCmd(t, src, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(src, "a"), []byte("1\n"), 0o644)
	gitCmd(t, src, "add", "a")
	gitCmd(t, src, "commit", "-q", "-m", "1")
	c1 := gitCmd(t, src, "rev-parse", "HEAD")
	dest := filepath.Join(t.TempDir(), "co")
	args := map[string]any{"repo": src, "dest": dest}

	res := run(t, "git", args, true)
	want(t, "check clone", res, true)
	if res.Values["after"] != c1 {
		t.Fatalf("check after = %v, want %s", res.Values["after"], c1)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("check mode created dest")
	}
	res = run(t, "git", args, false)
	want(t, "clone", res, true)
	if got := gitCmd(t, dest, "rev-parse", "HEAD"); got != c1 {
		t.Fatalf("HEAD %s, want %s", got, c1)
	}
	if got := gitCmd(t, dest, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Fatalf("HEAD ref %s", got)
	}
	want(t, "clone again", run(t, "git", args, false), false)

	// a new upstream commit: check mode sees it, apply brings it
	os.WriteFile(filepath.Join(src, "b"), []byte("2\n"), 0o755)
	gitCmd(t, src, "add", "b")
	gitCmd(t, src, "commit", "-q", "-m", "2")
	c2 := gitCmd(t, src, "rev-parse", "HEAD")
	res = run(t, "git", args, true)
	want(t, "check update", res, true)
	if res.Values["before"] != c1 || res.Values["after"] != c2 {
		t.Fatalf("check update before/after = %v/%v", res.Values["before"], res.Values["after"])
	}
	want(t, "update", run(t, "git", args, false), true)
	if got := gitCmd(t, dest, "rev-parse", "HEAD"); got != c2 {
		t.Fatalf("after update HEAD %s, want %s", got, c2)
	}
	if fi, err := os.Stat(filepath.Join(dest, "b")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("b: %v %v", fi, err)
	}
	if s := gitCmd(t, dest, "status", "--porcelain"); s != "" {
		t.Fatalf("git status after update: %q", s)
	}

	// local modifications: refused without force, discarded with it
	os.WriteFile(filepath.Join(dest, "a"), []byte("local\n"), 0o644)
	res = run(t, "git", args, false)
	if !res.Failed || !strings.Contains(res.Msg, "Local modifications exist in the destination: "+dest+" (force=no).") {
		t.Fatalf("local mods without force: %+v", res)
	}
	args["force"] = true
	want(t, "force", run(t, "git", args, false), true)
	if b, _ := os.ReadFile(filepath.Join(dest, "a")); string(b) != "1\n" {
		t.Fatalf("a after force = %q", b)
	}
	// a sha version, detached
	delete(args, "force")
	args["version"] = c1
	want(t, "sha", run(t, "git", args, false), true)
	if got := gitCmd(t, dest, "rev-parse", "HEAD"); got != c1 {
		t.Fatalf("HEAD %s, want %s", got, c1)
	}
	want(t, "sha again", run(t, "git", args, false), false)
}

func TestGetURL(t *testing.T) {
	body := []byte("payload\n")
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "f.txt", mod, bytes.NewReader(body))
	}))
	defer srv.Close()
	sum := sha256.Sum256(body)
	dest := filepath.Join(t.TempDir(), "f.txt")
	args := map[string]any{"url": srv.URL + "/f.txt", "dest": dest, "mode": "0600", "checksum": "sha256:" + hex.EncodeToString(sum[:])}
	want(t, "check", run(t, "get_url", args, true), true)
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("check mode wrote dest")
	}
	want(t, "download", run(t, "get_url", args, false), true)
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, body) {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	n := hits
	want(t, "again (checksum matches, no request)", run(t, "get_url", args, false), false)
	if hits != n {
		t.Fatalf("a matching checksum still downloaded")
	}
	// drift: content changed behind tend's back
	os.WriteFile(dest, []byte("tampered\n"), 0o600)
	want(t, "drift", run(t, "get_url", args, true), true)
	want(t, "repair", run(t, "get_url", args, false), true)
	// without checksum: If-Modified-Since gives 304
	delete(args, "checksum")
	os.Chtimes(dest, mod.Add(time.Hour), mod.Add(time.Hour))
	res := run(t, "get_url", args, false)
	want(t, "304", res, false)
	if res.Values["status_code"] != 304 {
		t.Fatalf("status_code = %v", res.Values["status_code"])
	}
	// a bad checksum fails and leaves nothing
	bad := filepath.Join(t.TempDir(), "bad")
	res = run(t, "get_url", map[string]any{"url": srv.URL + "/f.txt", "dest": bad, "checksum": "sha256:00"}, false)
	if !res.Failed || !strings.Contains(res.Msg, "did not match") {
		t.Fatalf("bad checksum: %+v", res)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Fatal("bad download left a file")
	}
	res = run(t, "get_url", map[string]any{"url": srv.URL + "/missing", "dest": bad}, false)
	if !res.Failed || !strings.Contains(res.Msg, "HTTP Error 404") {
		t.Fatalf("404: %+v", res)
	}
}

func TestUnarchiveTarGz(t *testing.T) {
	mtime := time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o750, ModTime: mtime})
	tw.WriteHeader(&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o640, Size: 3, ModTime: mtime})
	tw.Write([]byte("abc"))
	tw.WriteHeader(&tar.Header{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "f", ModTime: mtime})
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	src := filepath.Join(t.TempDir(), "a.tar.gz")
	os.WriteFile(src, gz.Bytes(), 0o644)
	dest := t.TempDir()
	args := map[string]any{"src": src, "dest": dest, "remote_src": true, "list_files": true}
	want(t, "check", run(t, "unarchive", args, true), true)
	if _, err := os.Stat(filepath.Join(dest, "d")); err == nil {
		t.Fatal("check mode extracted")
	}
	res := run(t, "unarchive", args, false)
	want(t, "extract", res, true)
	if len(res.Values["files"].([]any)) != 3 {
		t.Fatalf("files = %v", res.Values["files"])
	}
	fi, err := os.Stat(filepath.Join(dest, "d/f"))
	if err != nil || fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
		t.Fatalf("d/f: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "d/l")); l != "f" {
		t.Fatalf("link %q", l)
	}
	want(t, "again", run(t, "unarchive", args, false), false)
	os.WriteFile(filepath.Join(dest, "d/f"), []byte("xyz"), 0o640)
	res = run(t, "unarchive", args, true)
	want(t, "drift", res, true)
	if d := res.Resources[0].Differs; len(d) != 1 || d[0] != "d/f: contents differ" {
		t.Fatalf("differs = %v", d)
	}
	res = run(t, "unarchive", map[string]any{"src": src, "dest": filepath.Join(dest, "nope"), "remote_src": true}, false)
	if !res.Failed || !strings.Contains(res.Msg, "must be an existing dir") {
		t.Fatalf("%+v", res)
	}
	res = run(t, "unarchive", map[string]any{"src": src, "dest": dest, "remote_src": true, "creates": filepath.Join(dest, "d")}, false)
	if !res.Skipped {
		t.Fatalf("creates: %+v", res)
	}
}
