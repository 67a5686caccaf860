// Package gitserver owns the real git servers and repositories that tests of
// tend build: bare repositories made with the git CLI (NewBare), commits
// signed by real ssh-keygen and gpg keys (NewSSHSigner, NewGPGSigner), and the
// same repositories served over OpenSSH's sshd (ServeSSH) and over git's smart
// HTTP protocol behind basic auth (ServeHTTP). Everything lives in
// t.TempDir() and is stopped by t.Cleanup. Helpers skip the test, naming the
// tool, when git, ssh-keygen, sshd or gpg is missing.
package gitserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Repo is a bare repository plus a work clone that commits are made in and
// pushed from, like a developer would.
type Repo struct {
	t      testing.TB
	Bare   string // the bare repository (what tend clones)
	Work   string // a work clone whose commits are pushed to Bare
	Branch string // the branch commits go to ("main")
	home   string
	clock  int // seconds added to a fixed start, so commit times increase
}

// NeedTool skips t when the named program is not on PATH (or not at the
// absolute path given).
func NeedTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("test needs %s, which is not installed: %v", name, err)
	}
}

// NewBare makes an empty bare repository (branch main) and a work clone of it.
func NewBare(t testing.TB) *Repo {
	t.Helper()
	NeedTool(t, "git")
	dir := t.TempDir()
	r := &Repo{t: t, Bare: filepath.Join(dir, "repo.git"), Work: filepath.Join(dir, "work"), Branch: "main", home: filepath.Join(dir, "home")}
	if err := os.MkdirAll(r.home, 0o700); err != nil {
		t.Fatal(err)
	}
	r.run("", "init", "--quiet", "--bare", "-b", "main", r.Bare)
	r.run("", "init", "--quiet", "-b", "main", r.Work)
	r.run(r.Work, "remote", "add", "origin", r.Bare)
	return r
}

// URL is the file:// URL of the bare repository.
func (r *Repo) URL() string { return "file://" + r.Bare }

// Env is the environment git runs with: an isolated HOME and no system config.
func (r *Repo) Env() []string {
	return append(os.Environ(),
		"HOME="+r.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Alice Admin", "GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=Alice Admin", "GIT_COMMITTER_EMAIL=alice@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

func (r *Repo) run(dir string, args ...string) string {
	r.t.Helper()
	return r.runEnv(dir, nil, args...)
}

func (r *Repo) runEnv(dir string, env []string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(r.Env(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("git %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

// Git runs git with args in the work clone and returns its trimmed stdout.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return r.run(r.Work, args...)
}

// CommitOption changes how Commit commits.
type CommitOption func(*commitOpts)

type commitOpts struct {
	message string
	remove  []string
	sign    []string // extra "git -c" settings and the -S flag
	env     []string
	noPush  bool
}

// Message sets the commit message.
func Message(m string) CommitOption { return func(o *commitOpts) { o.message = m } }

// Remove deletes paths in the commit.
func Remove(paths ...string) CommitOption {
	return func(o *commitOpts) { o.remove = append(o.remove, paths...) }
}

// NoPush leaves the commit in the work clone only.
func NoPush() CommitOption { return func(o *commitOpts) { o.noPush = true } }

// SignSSH signs the commit with an SSH key (git's gpg.format=ssh).
func SignSSH(s *SSHSigner) CommitOption {
	return func(o *commitOpts) {
		o.sign = []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + s.KeyFile}
	}
}

// SignGPG signs the commit with an OpenPGP key from the signer's GNUPGHOME.
func SignGPG(g *GPGSigner) CommitOption {
	return func(o *commitOpts) {
		o.sign = []string{"-c", "gpg.format=openpgp", "-c", "user.signingkey=" + g.Fingerprint}
		o.env = append(o.env, "GNUPGHOME="+g.Home)
	}
}

// Commit writes files (path → content) in the work clone, commits them and
// pushes the branch to the bare repository. It returns the commit's hash.
func (r *Repo) Commit(files map[string]string, opts ...CommitOption) string {
	r.t.Helper()
	o := commitOpts{}
	for _, opt := range opts {
		opt(&o)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(r.Work, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	for _, p := range o.remove {
		r.run(r.Work, "rm", "-q", "-r", "--", p)
	}
	r.run(r.Work, "add", "-A")
	if o.message == "" {
		o.message = fmt.Sprintf("change %s", strings.Join(paths, ", "))
	}
	r.clock++
	date := fmt.Sprintf("GIT_COMMITTER_DATE=%d +0000", 1767225600+r.clock*60) // 2026-01-01 onwards
	adate := fmt.Sprintf("GIT_AUTHOR_DATE=%d +0000", 1767225600+r.clock*60)
	args := append(append([]string{}, o.sign...), "commit", "-q", "--allow-empty", "-m", o.message)
	if len(o.sign) > 0 {
		args = append(args, "-S")
	}
	r.runEnv(r.Work, append(o.env, date, adate), args...)
	h := r.run(r.Work, "rev-parse", "HEAD")
	if !o.noPush {
		r.run(r.Work, "push", "-q", "origin", "HEAD:refs/heads/"+r.Branch)
	}
	return h
}

// Tag creates a tag at rev (annotated when message is not empty) and pushes it.
func (r *Repo) Tag(name, rev, message string) {
	r.t.Helper()
	if message != "" {
		r.run(r.Work, "tag", "-a", "-m", message, name, rev)
	} else {
		r.run(r.Work, "tag", name, rev)
	}
	r.run(r.Work, "push", "-q", "origin", "refs/tags/"+name)
}

// ForcePush moves the branch to rev (rewriting history) and force-pushes it.
func (r *Repo) ForcePush(rev string) {
	r.t.Helper()
	r.run(r.Work, "reset", "-q", "--hard", rev)
	r.run(r.Work, "push", "-q", "--force", "origin", "HEAD:refs/heads/"+r.Branch)
}

// Tamper writes a copy of commit rev whose message has suffix appended but
// which keeps the original signature header (so the signature no longer
// matches), force-pushes it as the branch tip and returns its hash.
func (r *Repo) Tamper(rev, suffix string) string {
	r.t.Helper()
	raw := r.run(r.Work, "cat-file", "commit", rev)
	f, err := os.CreateTemp(r.t.TempDir(), "commit")
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := f.WriteString(raw + suffix + "\n"); err != nil {
		r.t.Fatal(err)
	}
	f.Close()
	h := r.run(r.Work, "hash-object", "-t", "commit", "-w", f.Name())
	r.ForcePush(h)
	return h
}
