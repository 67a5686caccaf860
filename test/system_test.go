package test

// The system differential tests: the playbooks in test/system manage real
// packages (a local apt repository the test builds), users, cron, keys,
// sysctl, ini files, downloads, archives, git checkouts and an init-script
// service. System state is global, so each playbook runs one tool at a
// time: reset, first run, capture state, second run — then reset and the
// same with the other tool — and the per-task statuses, recaps and the
// captured state must match, with changed=0 on every second run. A check
// run after a reset must match too, and leave the state as the reset did.
//
// Playbook headers (comment lines at the top):
//   # reset: SHELL   run (as root) before every run; $ROOT, $FIXTURES set
//   # state: SHELL   its stdout is the state compared between the tools
//   # cleanup: SHELL run once at the end (default: the reset lines)
//   # nocheck        skip the check-mode phase

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/testsupport/aptrepo"
)

var systemBook = regexp.MustCompile(`^\d\d-[a-z0-9-]+\.yml$`)

type systemHeader struct {
	reset, state, cleanup []string
	noCheck               bool
}

func parseSystemHeader(path string) (systemHeader, error) {
	var h systemHeader
	b, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "---" || l == "" {
			continue
		}
		if !strings.HasPrefix(l, "#") {
			break
		}
		l = strings.TrimSpace(strings.TrimPrefix(l, "#"))
		switch {
		case strings.HasPrefix(l, "reset:"):
			h.reset = append(h.reset, strings.TrimSpace(strings.TrimPrefix(l, "reset:")))
		case strings.HasPrefix(l, "state:"):
			h.state = append(h.state, strings.TrimSpace(strings.TrimPrefix(l, "state:")))
		case strings.HasPrefix(l, "cleanup:"):
			h.cleanup = append(h.cleanup, strings.TrimSpace(strings.TrimPrefix(l, "cleanup:")))
		case l == "nocheck":
			h.noCheck = true
		}
	}
	return h, nil
}

// systemFixtures serves and holds what the playbooks download and unpack:
// a text file, tar.gz/tar.xz/zip archives with fixed mtimes, and a git
// repository with two commits and a tag.
func systemFixtures(t *testing.T) (dir, url string) {
	dir = t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from the fixture server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	files := []struct{ name, body string }{{"app/", ""}, {"app/bin/", ""}, {"app/bin/run.sh", "#!/bin/sh\necho run\n"}, {"app/README", "the app\n"}}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, f := range files {
		hd := &tar.Header{Name: f.name, ModTime: mtime, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.body)), Uname: "root", Gname: "root"}
		if strings.HasSuffix(f.name, "/") {
			hd.Typeflag, hd.Mode, hd.Size = tar.TypeDir, 0o755, 0
		}
		if strings.HasSuffix(f.name, ".sh") {
			hd.Mode = 0o755
		}
		tw.WriteHeader(hd)
		tw.Write([]byte(f.body))
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	os.WriteFile(filepath.Join(dir, "app.tar.gz"), gz.Bytes(), 0o644)
	if _, err := exec.LookPath("xz"); err == nil {
		cmd := exec.Command("xz", "-c")
		cmd.Stdin = bytes.NewReader(tarBuf.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "app.tar.xz"), out, 0o644)
	} else {
		t.Skip("xz not found (xz-utils)")
	}
	var zb bytes.Buffer
	zwr := zip.NewWriter(&zb)
	for _, f := range files {
		fh := &zip.FileHeader{Name: f.name, Modified: mtime, Method: zip.Deflate}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f.name, "/") {
			mode = os.ModeDir | 0o755
		} else if strings.HasSuffix(f.name, ".sh") {
			mode = 0o755
		}
		fh.SetMode(mode)
		w, _ := zwr.CreateHeader(fh)
		w.Write([]byte(f.body))
	}
	zwr.Close()
	os.WriteFile(filepath.Join(dir, "app.zip"), zb.Bytes(), 0o644)
	// git repository: two commits on main, tag v1 on the first
	repo := filepath.Join(dir, "repo")
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
			"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.MkdirAll(repo, 0o755)
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("one\n"), 0o644)
	git("add", "a.txt")
	git("commit", "-q", "-m", "one")
	git("tag", "v1")
	os.WriteFile(filepath.Join(repo, "b.sh"), []byte("#!/bin/sh\n"), 0o755)
	git("add", "b.sh")
	git("commit", "-q", "-m", "two")
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return dir, srv.URL
}

func TestSystemDifferential(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook not found: install Debian's ansible-core")
	}
	if os.Geteuid() != 0 {
		t.Skip("the system differential tests install packages and users: run as root")
	}
	for _, tool := range []string{"crontab", "useradd", "update-rc.d", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (packages cron, passwd, init-system-helpers, git)", tool)
		}
	}
	aptrepo.New(t, aptrepo.Default)
	fixtures, url := systemFixtures(t)
	dir, err := filepath.Abs("system")
	if err != nil {
		t.Fatal(err)
	}
	callbacks, _ := filepath.Abs(filepath.Join("..", "internal", "ansible", "callback"))
	ref := &Ansible{CallbackDir: callbacks, Config: filepath.Join(dir, "ansible.cfg")}
	cand := &Tend{Bin: tendBinary(t)}
	hostname, _ := os.ReadFile("/etc/hostname")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !systemBook.MatchString(e.Name()) {
			continue
		}
		n++
		name := strings.TrimSuffix(e.Name(), ".yml")
		t.Run(name, func(t *testing.T) {
			pb := filepath.Join(dir, e.Name())
			hdr, err := parseSystemHeader(pb)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			os.Chmod(root, 0o755)
			env := []string{"ROOT=" + root, "FIXTURES=" + fixtures, "DEBIAN_FRONTEND=noninteractive"}
			inv := Invocation{Playbook: pb, Inventory: filepath.Join(dir, "inventory.ini"), Root: root, Dir: dir,
				Args: []string{"-e", "fixtures=" + fixtures, "-e", "http=" + url, "-e", "current_hostname=" + strings.TrimSpace(string(hostname))}}
			reset := func() {
				if err := emptyDir(root); err != nil {
					t.Fatal(err)
				}
				for _, sh := range hdr.reset {
					if out, err := shell(sh, env); err != nil {
						t.Fatalf("reset %q: %v\n%s", sh, err, out)
					}
				}
			}
			state := func() string {
				var b strings.Builder
				for _, sh := range hdr.state {
					out, _ := shell(sh, env)
					b.WriteString("$ " + sh + "\n" + strings.ReplaceAll(out, root, "$ROOT"))
				}
				return b.String()
			}
			t.Cleanup(func() {
				cleanup := hdr.cleanup
				if cleanup == nil {
					cleanup = hdr.reset
				}
				for _, sh := range cleanup {
					shell(sh, env)
				}
			})
			type result struct {
				first, second *Outcome
				state         string
			}
			runTool := func(tool Tool) result {
				reset()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				var r result
				if r.first, err = tool.Run(ctx, inv); err != nil {
					t.Fatalf("%s first run: %v\nstdout:\n%s\nstderr:\n%s", tool.Name(), err, tail(r.first.Stdout, 20), tail(r.first.Stderr, 20))
				}
				r.state = state()
				if r.second, err = tool.Run(ctx, inv); err != nil {
					t.Fatalf("%s second run: %v", tool.Name(), err)
				}
				if ch := r.second.Report.Totals().Changed; ch != 0 {
					t.Errorf("%s: changed=%d on the second run, want 0:\n%s", tool.Name(), ch, strings.Join(changedLines(r.second), "\n"))
				}
				return r
			}
			a := runTool(ref)
			b := runTool(cand)
			compareOutcomes(t, "first run", a.first, b.first)
			compareOutcomes(t, "second run", a.second, b.second)
			if a.state != b.state {
				t.Errorf("state after the first run differs:\n%s", SideBySide(strings.Split(a.state, "\n"), strings.Split(b.state, "\n"), "ansible", "tend"))
			}
			if hdr.noCheck {
				return
			}
			for _, tool := range []Tool{ref, cand} {
				reset()
				before := state()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				inv.Check = true
				out, err := tool.Run(ctx, inv)
				inv.Check = false
				cancel()
				if err != nil {
					t.Fatalf("%s check run: %v", tool.Name(), err)
				}
				if after := state(); after != before {
					t.Errorf("%s check mode changed the system:\n%s", tool.Name(), SideBySide(strings.Split(before, "\n"), strings.Split(after, "\n"), "before", "after"))
				}
				if tool == ref {
					a.first = out
				} else {
					compareOutcomes(t, "check run", a.first, out)
				}
			}
		})
	}
	if n < 8 {
		t.Errorf("test/system holds %d playbooks, want at least 8", n)
	}
}

func compareOutcomes(t *testing.T, phase string, a, b *Outcome) {
	t.Helper()
	if a.ExitCode != b.ExitCode {
		t.Errorf("%s: exit code ansible %d, tend %d\nansible stderr:\n%s\ntend stderr:\n%s", phase, a.ExitCode, b.ExitCode, tail(a.Stderr, 10), tail(b.Stderr, 10))
	}
	la, lb := TaskLines(a.Report), TaskLines(b.Report)
	for h := range la {
		if sbs := SideBySide(la[h], lb[h], "ansible", "tend"); sbs != "" {
			t.Errorf("%s: tasks on %s differ, %s\n%s%s", phase, h, FirstDifference(la[h], lb[h]), sbs, failMessages(a, b, "ansible", "tend"))
		}
	}
	if ra, rb := RecapLines(a.Report), RecapLines(b.Report); !equalLines(ra, rb) {
		t.Errorf("%s: recap differs:\n%s", phase, SideBySide(ra, rb, "ansible", "tend"))
	}
}

// shell runs sh in test/system, so playbook headers can name files/.
func shell(sh string, env []string) (string, error) {
	cmd := exec.Command("/bin/sh", "-c", sh)
	cmd.Dir = "system"
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
