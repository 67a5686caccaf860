package source_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/source"
	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

func open(t testing.TB, cfg source.Config) *source.Repo {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "checkout")
	}
	r, err := source.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func sync(t testing.TB, r *source.Repo, applied string) source.Revision {
	t.Helper()
	rev, err := r.Sync(context.Background(), applied)
	if err != nil {
		t.Fatalf("Sync(%q): %v", applied, err)
	}
	return rev
}

// tree lists every path under dir (except .git) with its content.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantTree(t testing.TB, dir string, want map[string]string) {
	t.Helper()
	got := tree(t, dir)
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, k+": got "+quoteOrMissing(got, k)+", want "+v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, k+": unexpected file")
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("work tree %s differs:\n%s", dir, strings.Join(diffs, "\n"))
	}
}

func quoteOrMissing(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return "\"" + v + "\""
	}
	return "(missing)"
}

func TestSyncFileURLAndPlainPath(t *testing.T) {
	for name, url := range map[string]func(*gitserver.Repo) string{
		"file": func(b *gitserver.Repo) string { return b.URL() },
		"path": func(b *gitserver.Repo) string { return b.Bare },
	} {
		t.Run(name, func(t *testing.T) {
			b := gitserver.NewBare(t)
			c1 := b.Commit(map[string]string{"site.yml": "v1\n", "roles/a/tasks/main.yml": "a\n"}, gitserver.Message("first"))
			r := open(t, source.Config{URL: url(b), Ref: "main"})
			head, err := r.RemoteHead(context.Background())
			if err != nil || head != c1 {
				t.Fatalf("RemoteHead = %q, %v; want %s", head, err, c1)
			}
			rev := sync(t, r, "")
			if rev.Hash != c1 || rev.Message != "first" || rev.Author != "Alice Admin <alice@example.com>" {
				t.Fatalf("Sync revision = %+v", rev)
			}
			wantTree(t, r.Dir(), map[string]string{"site.yml": "v1\n", "roles/a/tasks/main.yml": "a\n"})

			c2 := b.Commit(map[string]string{"site.yml": "v2\n"}, gitserver.Remove("roles"))
			if head, _ := r.RemoteHead(context.Background()); head != c2 {
				t.Fatalf("RemoteHead after push = %s, want %s", head, c2)
			}
			if rev := sync(t, r, c1); rev.Hash != c2 {
				t.Fatalf("Sync = %s, want %s", rev.Hash, c2)
			}
			wantTree(t, r.Dir(), map[string]string{"site.yml": "v2\n"})
			// Rollback to c1 and back.
			if err := r.Checkout(context.Background(), c1); err != nil {
				t.Fatal(err)
			}
			wantTree(t, r.Dir(), map[string]string{"site.yml": "v1\n", "roles/a/tasks/main.yml": "a\n"})
			d, err := r.Describe(c1[:10])
			if err != nil || d.Hash != c1 {
				t.Fatalf("Describe(short) = %+v, %v", d, err)
			}
			if err := r.Checkout(context.Background(), strings.Repeat("ab", 20)); err == nil {
				t.Fatal("Checkout of an unknown commit succeeded")
			}
		})
	}
}

func TestWorkTreeIsExactlyTheCommit(t *testing.T) {
	b := gitserver.NewBare(t)
	c1 := b.Commit(map[string]string{"site.yml": "v1\n", ".gitignore": "*.log\n", "bin/run": "#!/bin/sh\n"})
	must(t, os.Chmod(filepath.Join(b.Work, "bin/run"), 0o755))
	c2 := b.Commit(nil, gitserver.Message("exec bit"))
	_ = c1
	r := open(t, source.Config{URL: b.Bare})
	if rev := sync(t, r, ""); rev.Hash != c2 {
		t.Fatalf("Sync with ref HEAD = %s, want %s", rev.Hash, c2)
	}
	dir := r.Dir()
	fi, err := os.Stat(filepath.Join(dir, "bin/run"))
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("bin/run not executable: %v %v", fi.Mode(), err)
	}
	// Local edits, untracked and ignored files, a deleted file, a dir where a file was.
	must(t, os.WriteFile(filepath.Join(dir, "site.yml"), []byte("v9\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "debug.log"), []byte("x"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "extra/deep"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "extra/deep/f"), []byte("x"), 0o644))
	must(t, os.Remove(filepath.Join(dir, ".gitignore")))
	must(t, os.Chmod(filepath.Join(dir, "bin/run"), 0o644))
	if rev := sync(t, r, c2); rev.Hash != c2 {
		t.Fatalf("Sync = %s", rev.Hash)
	}
	wantTree(t, dir, map[string]string{"site.yml": "v1\n", ".gitignore": "*.log\n", "bin/run": "#!/bin/sh\n"})
	if _, err := os.Stat(filepath.Join(dir, "extra")); !os.IsNotExist(err) {
		t.Fatalf("untracked dir extra survived: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "bin/run")); fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("exec bit not restored: %v", fi.Mode())
	}
	// git itself agrees the checkout is clean and at c2.
	if out := gitIn(t, dir, "status", "--porcelain"); out != "" {
		t.Fatalf("git status in checkout:\n%s", out)
	}
	if out := gitIn(t, dir, "rev-parse", "HEAD"); out != c2 {
		t.Fatalf("HEAD = %s, want %s", out, c2)
	}
}

func TestForcePush(t *testing.T) {
	b := gitserver.NewBare(t)
	c1 := b.Commit(map[string]string{"f": "1"})
	c2 := b.Commit(map[string]string{"f": "2"})
	r := open(t, source.Config{URL: b.URL(), Ref: "main"})
	sync(t, r, "")
	b.ForcePush(c1)
	c3 := b.Commit(map[string]string{"f": "3"})

	_, err := r.Sync(context.Background(), c2)
	var nff *source.NotFastForwardError
	if !errors.As(err, &nff) || nff.Applied != c2 || nff.Tip != c3 {
		t.Fatalf("Sync after force push: err = %v, want NotFastForwardError{%s, %s}", err, c2, c3)
	}
	if !strings.Contains(err.Error(), c2) || !strings.Contains(err.Error(), c3) {
		t.Fatalf("error does not name both revisions: %v", err)
	}
	wantTree(t, r.Dir(), map[string]string{"f": "2"}) // untouched

	// Going back to an older commit is not a fast-forward either.
	b.ForcePush(c1)
	if _, err := r.Sync(context.Background(), c2); !errors.As(err, &nff) {
		t.Fatalf("Sync to an ancestor: err = %v, want NotFastForwardError", err)
	}

	b.ForcePush(c3)
	r2 := open(t, source.Config{URL: b.URL(), Ref: "main", AllowForcePush: true, Dir: r.Dir()})
	if rev := sync(t, r2, c2); rev.Hash != c3 {
		t.Fatalf("Sync with AllowForcePush = %s, want %s", rev.Hash, c3)
	}
	wantTree(t, r.Dir(), map[string]string{"f": "3"})
}

func TestRefTagAndCommit(t *testing.T) {
	b := gitserver.NewBare(t)
	c1 := b.Commit(map[string]string{"f": "1"})
	b.Tag("v1", c1, "release 1") // annotated
	b.Tag("light", c1, "")
	c2 := b.Commit(map[string]string{"f": "2"})
	b.Git("checkout", "-q", "-b", "side")
	b.Branch = "side"
	c3 := b.Commit(map[string]string{"f": "3"})

	for _, tc := range []struct{ ref, want, content string }{
		{"v1", c1, "1"},
		{"light", c1, "1"},
		{"refs/tags/v1", c1, "1"},
		{"main", c2, "2"},
		{"refs/heads/side", c3, "3"},
		{c1, c1, "1"},
		{strings.ToUpper(c3), c3, "3"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r := open(t, source.Config{URL: b.URL(), Ref: tc.ref})
			head, err := r.RemoteHead(context.Background())
			if err != nil || head != tc.want {
				t.Fatalf("RemoteHead = %s, %v; want %s", head, err, tc.want)
			}
			if rev := sync(t, r, ""); rev.Hash != tc.want {
				t.Fatalf("Sync = %s, want %s", rev.Hash, tc.want)
			}
			wantTree(t, r.Dir(), map[string]string{"f": tc.content})
		})
	}
	unknown := strings.Repeat("ab", 20)
	r := open(t, source.Config{URL: b.URL(), Ref: unknown})
	if _, err := r.Sync(context.Background(), ""); err == nil || !strings.Contains(err.Error(), unknown) {
		t.Fatalf("unknown commit: err = %v, want one naming %s", err, unknown)
	}
	r = open(t, source.Config{URL: b.URL(), Ref: "nope"})
	if _, err := r.Sync(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "source.ref") {
		t.Fatalf("unknown ref: err = %v, want one naming source.ref", err)
	}
}

func TestCorruptCheckoutIsReCloned(t *testing.T) {
	for name, corrupt := range map[string]func(t *testing.T, dir string){
		"deleted .git": func(t *testing.T, dir string) { must(t, os.RemoveAll(filepath.Join(dir, ".git"))) },
		"broken HEAD": func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, ".git/HEAD"), []byte("garbage\n"), 0o644))
		},
		"HEAD to missing commit": func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, ".git/HEAD"), []byte(strings.Repeat("1", 40)+"\n"), 0o644))
		},
		"missing objects": func(t *testing.T, dir string) {
			objs := filepath.Join(dir, ".git/objects")
			entries, err := os.ReadDir(objs)
			must(t, err)
			for _, e := range entries {
				if e.Name() != "info" {
					must(t, os.RemoveAll(filepath.Join(objs, e.Name())))
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := gitserver.NewBare(t)
			c1 := b.Commit(map[string]string{"a/f": "1", "g": "1"})
			r := open(t, source.Config{URL: b.URL(), Ref: "main"})
			sync(t, r, "")
			corrupt(t, r.Dir())
			if rev := sync(t, r, c1); rev.Hash != c1 {
				t.Fatalf("Sync = %s", rev.Hash)
			}
			wantTree(t, r.Dir(), map[string]string{"a/f": "1", "g": "1"})
			c2 := b.Commit(map[string]string{"g": "2"})
			if rev := sync(t, r, c1); rev.Hash != c2 {
				t.Fatalf("Sync after recovery = %s, want %s", rev.Hash, c2)
			}
			if out := gitIn(t, r.Dir(), "fsck", "--no-dangling"); strings.Contains(out, "missing") {
				t.Fatalf("git fsck after re-clone: %s", out)
			}
		})
	}
}

func TestShallowDeepensForFastForwardCheck(t *testing.T) {
	b := gitserver.NewBare(t)
	b.Commit(map[string]string{"f": "1"})
	b.Commit(map[string]string{"f": "2"})
	c3 := b.Commit(map[string]string{"f": "3"})
	r := open(t, source.Config{URL: b.URL(), Ref: "main", Depth: 1})
	sync(t, r, "")
	if n := gitIn(t, r.Dir(), "rev-list", "--count", "HEAD"); n != "1" {
		t.Fatalf("shallow clone has %s commits, want 1", n)
	}
	b.Commit(map[string]string{"f": "4"})
	b.Commit(map[string]string{"f": "5"})
	c6 := b.Commit(map[string]string{"f": "6"})
	if rev := sync(t, r, c3); rev.Hash != c6 {
		t.Fatalf("Sync = %s, want %s", rev.Hash, c6)
	}
	wantTree(t, r.Dir(), map[string]string{"f": "6"})

	// A rewrite is still caught in a shallow checkout.
	b.ForcePush(c3)
	c7 := b.Commit(map[string]string{"f": "7"})
	var nff *source.NotFastForwardError
	if _, err := r.Sync(context.Background(), c6); !errors.As(err, &nff) || nff.Tip != c7 {
		t.Fatalf("shallow force push: err = %v", err)
	}
}

// A missing local repository is not a start error: the agent must keep
// running and count fetch failures, so Sync reports it, naming source.url.
func TestMissingLocalRepoFailsAtSync(t *testing.T) {
	dir := t.TempDir()
	r, err := source.Open(source.Config{URL: filepath.Join(dir, "nope.git"), Dir: filepath.Join(dir, "co")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := r.Sync(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "source.url") || !strings.Contains(err.Error(), "nope.git") {
		t.Fatalf("Sync of a missing repo: %v, want an error naming source.url and the path", err)
	}
}

func TestOpenValidates(t *testing.T) {
	b := gitserver.NewBare(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		cfg  source.Config
		want string
	}{
		{source.Config{}, "source.url"},
		{source.Config{URL: b.URL(), Verify: source.VerifyConfig{Mode: "gpg"}}, "source.verify.mode"},
		{source.Config{URL: b.URL(), Verify: source.VerifyConfig{Mode: "ssh"}}, "source.verify.allowed_signers"},
		{source.Config{URL: b.URL(), Verify: source.VerifyConfig{Mode: "ssh", AllowedSigners: missing}}, "source.verify.allowed_signers: open " + missing},
		{source.Config{URL: b.URL(), Verify: source.VerifyConfig{Mode: "openpgp", Keyring: missing}}, "source.verify.keyring: open " + missing},
		{source.Config{URL: "ssh://git@127.0.0.1/x.git", SSHKeyFile: missing, KnownHostsFile: missing}, "source.ssh_key: open " + missing},
		{source.Config{URL: "git@example.com:x.git"}, "source.ssh_key: missing"},
		{source.Config{URL: "https://example.com/x.git", HTTPTokenFile: missing}, "source.http_token_file: open " + missing},
		{source.Config{URL: "https://example.com/x.git", BasicAuthFile: write(t, "nocolon\n")}, "source.http_basic_auth_file"},
		{source.Config{URL: b.URL(), Ref: "a..b"}, "source.ref"},
	} {
		if tc.cfg.URL != "" || tc.want != "source.url" {
			tc.cfg.Dir = filepath.Join(dir, "co")
		}
		_, err := source.Open(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func write(t testing.TB, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "file")
	must(t, err)
	_, err = f.WriteString(content)
	must(t, err)
	must(t, f.Close())
	return f.Name()
}

func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPollNoNewCommit is the agent's poll when nothing changed: ask the
// remote tip of a local repository and compare it with the applied one.
func BenchmarkPollNoNewCommit(b *testing.B) {
	repo := gitserver.NewBare(b)
	for i := 0; i < 20; i++ {
		repo.Commit(map[string]string{"f": strings.Repeat("x", i)})
	}
	applied := repo.Git("rev-parse", "HEAD")
	r := open(b, source.Config{URL: repo.URL(), Ref: "main"})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		head, err := r.RemoteHead(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if head != applied {
			b.Fatalf("head %s != applied %s", head, applied)
		}
	}
}
