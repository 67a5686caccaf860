package test

// Crash safety: kill -9 tend at random points while it rewrites ~50 files of
// 1 MiB each, then check that nothing is half-written and the next run
// converges. TEND_SOAK=1 (test/soak.sh) raises the number of kills to 200;
// TEND_CRASH_KILLS=N sets it explicitly.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/lock"
	"github.com/tend-project/tend/internal/state"
	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

const (
	crashFiles = 50
	crashSize  = 1 << 20
)

var (
	relBinOnce sync.Once
	relBinPath string
	relBinErr  error
)

// relBinary returns $TEND_BIN, or builds ./cmd/tend once per test process
// into a fixed place under the temp dir (reused, so runs do not pile up).
func relBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("TEND_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("TEND_BIN: %v", err)
		}
		return abs
	}
	relBinOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "tend-reliability-bin")
		if relBinErr = os.MkdirAll(dir, 0o755); relBinErr != nil {
			return
		}
		relBinPath = filepath.Join(dir, "tend")
		cmd := exec.Command("go", "build", "-o", relBinPath, "./cmd/tend")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			relBinErr = fmt.Errorf("go build ./cmd/tend: %v\n%s", err, out)
		}
	})
	if relBinErr != nil {
		t.Fatal(relBinErr)
	}
	return relBinPath
}

func soak() bool { return os.Getenv("TEND_SOAK") != "" }

// crashKills is how many times a crash test kills tend.
func crashKills(t *testing.T, normal int) int {
	if s := os.Getenv("TEND_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("TEND_CRASH_KILLS=%q: %v", s, err)
		}
		return n
	}
	if soak() {
		return 200
	}
	return normal
}

// crashBlobs are the two versions of the managed content.
func crashBlobs() [2][]byte {
	var out [2][]byte
	for v := range out {
		r := rand.New(rand.NewPCG(uint64(v)+1, 42))
		b := make([]byte, crashSize)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		out[v] = b
	}
	return out
}

// crashRig is a directory of managed files and what the kill loop learned.
type crashRig struct {
	t       *testing.T
	bin     string
	managed string
	blobs   [2][]byte

	killed, finished int // runs killed, runs that ended before their kill
	maxStray         int // most .tend-tmp-* files seen at once
	lastStray        int // .tend-tmp-* files at the last check
	strayNames       map[string]bool
}

func newCrashRig(t *testing.T) *crashRig {
	r := &crashRig{t: t, bin: relBinary(t), managed: filepath.Join(t.TempDir(), "managed"), blobs: crashBlobs(),
		strayNames: map[string]bool{}}
	if err := os.MkdirAll(r.managed, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// crashPlay is the playbook: copy files/blob (or blob<version>) to 50 files.
func (r *crashRig) crashPlay(src string) string {
	return fmt.Sprintf(`- hosts: all
  gather_facts: false
  tasks:
    - name: big files
      copy:
        src: %s
        dest: "%s/f{{ item }}"
        mode: "0644"
      loop: "{{ range(%d) | list }}"
`, src, r.managed, crashFiles)
}

// checkFiles asserts that every managed file holds version A or B in full
// (want >= 0: exactly version want), that nothing else is visible under a
// managed name, and counts leftover temp files.
func (r *crashRig) checkFiles(when string, want int, allowMissing bool) {
	r.t.Helper()
	entries, err := os.ReadDir(r.managed)
	if err != nil {
		r.t.Fatal(err)
	}
	found, stray := 0, 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".tend-tmp-") {
			stray++
			r.strayNames[name] = true
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(name, "f"))
		if !strings.HasPrefix(name, "f") || err != nil || n < 0 || n >= crashFiles {
			r.t.Fatalf("%s: unexpected file %q in the managed directory", when, name)
		}
		data, err := os.ReadFile(filepath.Join(r.managed, name))
		if err != nil {
			r.t.Fatal(err)
		}
		v := -1
		for i, b := range r.blobs {
			if bytes.Equal(data, b) {
				v = i
			}
		}
		switch {
		case v < 0:
			r.t.Fatalf("%s: %s holds %d bytes that are neither the old nor the new version (torn write)", when, name, len(data))
		case want >= 0 && v != want:
			r.t.Fatalf("%s: %s holds version %d, want %d", when, name, v, want)
		}
		found++
	}
	if found != crashFiles && !allowMissing {
		r.t.Fatalf("%s: %d of %d managed files exist", when, found, crashFiles)
	}
	r.maxStray = max(r.maxStray, stray)
	r.lastStray = stray
}

// runKilled starts cmd and sends it SIGKILL after delay, unless it ends first.
func (r *crashRig) runKilled(cmd *exec.Cmd, delay time.Duration) {
	r.t.Helper()
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		r.finished++
	case <-time.After(delay):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		r.killed++
	}
}

// mustRun runs cmd to its end and fails the test on a non-zero exit.
func mustRun(t testing.TB, cmd *exec.Cmd) time.Duration {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, relTail(out.String(), 3000))
	}
	return time.Since(start)
}

// enoughAttempts stops a kill loop whose runs keep finishing before their
// kill: the loops count kills that landed mid-run, not attempts.
func (r *crashRig) enoughAttempts(i, kills int) {
	r.t.Helper()
	if i >= 3*kills {
		r.t.Fatalf("%d attempts killed only %d run(s) mid-way (want %d): the kill window is too short", i, r.killed, kills)
	}
}

// report logs what the kill loop did. A killed writer cannot remove its
// temp file, but the next write of that file does: none may be left after
// the last clean run.
func (r *crashRig) report() {
	r.t.Logf("killed %d run(s) mid-way, %d finished before their kill; at most %d .tend-tmp-* file(s) at once, %d distinct over the test, %d still there after the last clean run",
		r.killed, r.finished, r.maxStray, len(r.strayNames), r.lastStray)
	if r.lastStray > 0 {
		r.t.Errorf("%d .tend-tmp-* file(s) left after the last clean run: the next write did not sweep them", r.lastStray)
	}
}

// agentRig is an agent config on a local git repo whose playbook rewrites
// the managed files.
type agentRig struct {
	*crashRig
	repo             *gitserver.Repo
	cfg, stateDir    string
	textfile, audits string
}

func newAgentRig(t *testing.T, url string, repo *gitserver.Repo) *agentRig {
	cr := newCrashRig(t)
	dir := t.TempDir()
	a := &agentRig{crashRig: cr, repo: repo, cfg: filepath.Join(dir, "tend.yaml"), stateDir: filepath.Join(dir, "state"),
		textfile: filepath.Join(dir, "tend.prom")}
	a.audits = filepath.Join(a.stateDir, "audit.jsonl")
	if url == "" {
		url = repo.Bare
	}
	a.writeConfig(url, "", "")
	return a
}

// writeConfig writes the agent config; source and extra are more YAML lines
// under source: and at the top level.
func (a *agentRig) writeConfig(url, source, extra string) {
	cfg := fmt.Sprintf(`source:
  url: %q
  ref: main
  interval: 1h
  splay: 0s
%shost: localhost
backend: native
playbook: local.yml
listen: ""
textfile: %q
state_dir: %q
%s`, url, source, a.textfile, a.stateDir, extra)
	if err := os.WriteFile(a.cfg, []byte(cfg), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

func (a *agentRig) commit(v int) string {
	return a.repo.Commit(map[string]string{"local.yml": a.crashPlay("files/blob"), "files/blob": string(a.blobs[v])},
		gitserver.Message(fmt.Sprintf("version %d", v)))
}

func (a *agentRig) once() *exec.Cmd {
	return exec.Command(a.bin, "agent", "--once", "--config", a.cfg)
}

// loadState parses state.json strictly (state.Load would move a corrupt file
// aside and carry on; a crash test must see the corruption).
func loadState(t testing.TB, dir string) *state.State {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, state.FileName))
	if os.IsNotExist(err) {
		return &state.State{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var st state.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state.json does not parse after a crash: %v\n%s", err, relTail(string(data), 500))
	}
	return &st
}

// auditLines counts the audit lines and the ones that do not parse.
func auditLines(t testing.TB, path string) (n, torn int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		n++
		if !json.Valid(line) {
			torn++
		}
	}
	return n, torn
}

// afterKill checks state_dir: state.json parses, no state temp file is left
// under the real name, the audit trail has no torn line, the lock is free.
func (a *agentRig) afterKill(when string) {
	a.t.Helper()
	loadState(a.t, a.stateDir)
	if _, torn := auditLines(a.t, a.audits); torn > 0 {
		a.t.Fatalf("%s: audit.jsonl has %d torn line(s)", when, torn)
	}
	lk, err := lock.Acquire(a.stateDir, 0)
	if err != nil {
		a.t.Fatalf("%s: the run lock was not released by the killed process: %v", when, err)
	}
	if err := lk.Release(); err != nil {
		a.t.Fatal(err)
	}
}

// TestCrashAgentKill9 kills `tend agent --once` at random points while it
// syncs a new commit and rewrites 50 files of 1 MiB from one version to the
// other; after each kill every file is whole, state.json parses, the lock is
// free, and the next run converges to the new commit.
func TestCrashAgentKill9(t *testing.T) {
	gitserver.NeedTool(t, "git")
	kills := crashKills(t, 20)
	a := newAgentRig(t, "", gitserver.NewBare(t))

	// Converge on version 0, then time a full 0 → 1 run for the kill window.
	a.commit(0)
	mustRun(t, a.once())
	a.checkFiles("first run", 0, false)
	rev := a.commit(1)
	window := mustRun(t, a.once())
	a.checkFiles("second run", 1, false)
	if st := loadState(t, a.stateDir); st.AppliedRevision != rev {
		t.Fatalf("applied revision %q, want %q", st.AppliedRevision, rev)
	}
	window = window * 13 / 10
	t.Logf("a full run takes %v; killing within [0, %v)", window*10/13, window)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := 0; a.killed < kills; i++ {
		a.enoughAttempts(i, kills)
		v := i % 2 // on disk: 1-v; the new commit brings v
		rev := a.commit(v)
		when := fmt.Sprintf("kill %d/%d", a.killed+1, kills)
		a.runKilled(a.once(), time.Duration(rng.Int64N(int64(window))))
		a.checkFiles(when, -1, false)
		a.afterKill(when)

		mustRun(t, a.once())
		a.checkFiles(when+", next run", v, false)
		st := loadState(t, a.stateDir)
		if st.AppliedRevision != rev || st.Run.Error != "" {
			t.Fatalf("%s, next run: applied %q (error %q), want %q", when, st.AppliedRevision, st.Run.Error, rev)
		}
	}
	n, _ := auditLines(t, a.audits)
	t.Logf("audit.jsonl: %d lines, none torn", n)
	a.report()
}

// TestCrashPlaybookKill9 is the same for `tend playbook` (push mode's engine,
// run locally): kill -9 mid-run, every file old or new in full, the next run
// converges.
func TestCrashPlaybookKill9(t *testing.T) {
	kills := crashKills(t, 10)
	r := newCrashRig(t)
	dir := t.TempDir()
	for v, b := range r.blobs {
		if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "files", fmt.Sprintf("blob%d", v)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pb := filepath.Join(dir, "site.yml")
	if err := os.WriteFile(pb, []byte(r.crashPlay("blob{{ version }}")), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(v int) *exec.Cmd {
		cmd := exec.Command(r.bin, "playbook", "-c", "local", "-i", "localhost,", "-e", fmt.Sprintf("version=%d", v), pb)
		cmd.Dir = dir
		return cmd
	}
	mustRun(t, run(0))
	r.checkFiles("first run", 0, false)
	window := mustRun(t, run(1))
	r.checkFiles("second run", 1, false)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := 0; r.killed < kills; i++ {
		r.enoughAttempts(i, kills)
		v := i % 2
		when := fmt.Sprintf("kill %d/%d", r.killed+1, kills)
		r.runKilled(run(v), time.Duration(rng.Int64N(int64(window))))
		r.checkFiles(when, -1, false)
		mustRun(t, run(v))
		r.checkFiles(when+", next run", v, false)
	}
	r.report()
}

// relTail is the end of s, at most n bytes.
func relTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
