package test

// Faults: the git server gone, slow, stalled or cutting the pack short; a
// disk that fills; a read-only file system or an immutable file; a held run
// lock; a commit whose playbook does not parse. Each must give a clear error,
// a metric, an audit line, and leave the host at its last applied state with
// no partial file and no temp file.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/lock"
	"github.com/tend-project/tend/internal/testsupport/aptrepo"
	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

// faultProxy is a TCP proxy on 127.0.0.1 in front of a git HTTP server whose
// behaviour the test switches: pass through, delay each chunk, stall, cut the
// server's reply after a number of bytes, or refuse (gone).
type faultProxy struct {
	ln       net.Listener
	upstream string

	mode    atomic.Value // string: "pass", "slow", "stall", "cut", "gone"
	delay   time.Duration
	cutAt   int64
	mu      sync.Mutex
	conns   []net.Conn
	cutDone atomic.Int64 // connections cut short
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, upstream: upstream, delay: 20 * time.Millisecond, cutAt: 64 << 10}
	p.mode.Store("pass")
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) set(mode string) { p.mode.Store(mode) }

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

func (p *faultProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		go p.handle(c)
	}
}

func (p *faultProxy) handle(c net.Conn) {
	mode := p.mode.Load().(string)
	switch mode {
	case "gone":
		_ = c.Close()
		return
	case "stall":
		return // hold the connection open, answer nothing (closed by close)
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = c.Close()
		return
	}
	p.track(up)
	go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite() }()
	buf := make([]byte, 16<<10)
	var sent int64
	defer c.Close()
	defer up.Close()
	for {
		n, err := up.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			switch mode {
			case "slow":
				time.Sleep(p.delay)
			case "cut":
				if sent+int64(n) > p.cutAt {
					_, _ = c.Write(chunk[:p.cutAt-sent])
					p.cutDone.Add(1)
					// an abrupt close: RST rather than a clean FIN
					_ = c.(*net.TCPConn).SetLinger(0)
					return
				}
			}
			if _, werr := c.Write(chunk); werr != nil {
				return
			}
			sent += int64(n)
		}
		if err != nil {
			return
		}
	}
}

// httpAgent is an agentRig fetching over git's smart HTTP through a proxy.
func httpAgent(t *testing.T) (*agentRig, *faultProxy) {
	gitserver.NeedTool(t, "git")
	repo := gitserver.NewBare(t)
	base := gitserver.ServeHTTP(t, filepath.Dir(repo.Bare), "tend", "s3cret")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := newFaultProxy(t, u.Host)
	a := newAgentRig(t, "http://"+p.addr()+"/"+filepath.Base(repo.Bare), repo)
	auth := filepath.Join(t.TempDir(), "http-auth")
	if err := os.WriteFile(auth, []byte("tend:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.writeConfig("http://"+p.addr()+"/"+filepath.Base(repo.Bare), fmt.Sprintf("  http_auth_file: %q\n", auth), "")
	return a, p
}

// runFail runs cmd, wants a non-zero exit and returns its output.
func runFail(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("%s: want a failing exit, got %v\n%s", strings.Join(cmd.Args, " "), err, relTail(out.String(), 3000))
	}
	return out.String()
}

// metricValue finds `series value` in a Prometheus text exposition.
func metricValue(t testing.TB, expo, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(expo, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return v
		}
	}
	t.Fatalf("metric %s not exported; have:\n%s", series, relTail(expo, 4000))
	return 0
}

func (a *agentRig) metrics() string {
	a.t.Helper()
	data, err := os.ReadFile(a.textfile)
	if err != nil {
		a.t.Fatalf("textfile metrics: %v", err)
	}
	return string(data)
}

// lastAudit is the newest audit entry of kind (fatal when there is none).
func (a *agentRig) lastAudit(kind, result string) audit.Entry {
	a.t.Helper()
	es, err := audit.Read(a.audits)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Kind == kind && (result == "" || es[i].Result == result) {
			return es[i]
		}
	}
	a.t.Fatalf("no audit line of kind %q result %q in %d entries", kind, result, len(es))
	return audit.Entry{}
}

// wantSyncFailure checks what a failed fetch must leave behind: the files and
// applied revision of the last run, a failure in state, the metric and audit.
func (a *agentRig) wantSyncFailure(out, applied string, v int, words ...string) {
	a.t.Helper()
	low := strings.ToLower(out)
	ok := false
	for _, w := range words {
		ok = ok || strings.Contains(low, w)
	}
	if !ok {
		a.t.Errorf("the error does not say what happened (want one of %q):\n%s", words, relTail(out, 2000))
	}
	a.checkFiles("after the failed fetch", v, false)
	st := loadState(a.t, a.stateDir)
	if st.AppliedRevision != applied {
		a.t.Errorf("applied revision moved to %q, want %q", st.AppliedRevision, applied)
	}
	if st.Sync.Result != "failure" || st.Sync.Error == "" {
		a.t.Errorf("state last_sync = %+v, want a failure with its error", st.Sync)
	}
	if got := metricValue(a.t, a.metrics(), `tend_source_fetch_total{result="failure"}`); got < 1 {
		a.t.Errorf(`tend_source_fetch_total{result="failure"} = %v, want >= 1`, got)
	}
	e := a.lastAudit(audit.KindSync, "failure")
	if e.Msg == "" {
		a.t.Errorf("the sync failure's audit line has no message: %+v", e)
	}
	a.t.Logf("error: %s", firstLineWith(out, "err"))
}

func firstLineWith(out, word string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(l), word) {
			return l
		}
	}
	return relTail(out, 300)
}

// TestFaultGitServer: over git's smart HTTP through a proxy, the server
// goes away, gets slow, cuts the pack short, and stalls.
func TestFaultGitServer(t *testing.T) {
	a, p := httpAgent(t)
	rev0 := a.commit(0)
	mustRun(t, a.once())
	a.checkFiles("first run", 0, false)

	t.Run("gone", func(t *testing.T) { a.serverGone(t, p, rev0) })
	t.Run("truncated pack", func(t *testing.T) { a.serverCut(t, p, rev0) })
	t.Run("slow", func(t *testing.T) {
		a.t = t
		p.set("slow")
		start := time.Now()
		rev := a.commit(1) // still version 1, as a new commit
		mustRun(t, a.once())
		t.Logf("a fetch through a proxy delaying each 16 KiB by %v took %v", p.delay, time.Since(start))
		a.checkFiles("after a slow fetch", 1, false)
		if st := loadState(t, a.stateDir); st.AppliedRevision != rev || st.Sync.Result != "success" {
			t.Fatalf("after a slow fetch: applied %q sync %+v, want %q", st.AppliedRevision, st.Sync, rev)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		a.t = t
		applied := loadState(t, a.stateDir).AppliedRevision
		a.commit(0)
		p.set("stall")
		cmd := a.once()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		wait := 2 * time.Second
		if soak() {
			wait = 3 * time.Minute // the source's own 2-minute network timeout fires first
		}
		select {
		case err := <-done:
			if !soak() {
				t.Fatalf("the agent ended against a stalled server in %v: %v\n%s", wait, err, out.String())
			}
			t.Logf("stalled server: the agent gave up by itself: %v: %s", err, firstLineWith(out.String(), "err"))
		case <-time.After(wait):
			// SIGTERM (systemctl stop) must end a run stuck on the network quickly.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("the agent did not stop within 15s of SIGTERM while the git server stalled\n%s", out.String())
			}
		}
		a.checkFiles("after the stall", 1, false)
		st := loadState(t, a.stateDir)
		if st.AppliedRevision != applied {
			t.Fatalf("applied revision moved to %q during a stalled fetch", st.AppliedRevision)
		}
		a.afterKill("after the stall")
	})
	t.Run("recovered", func(t *testing.T) {
		a.t = t
		p.set("pass")
		rev := a.commit(0)
		mustRun(t, a.once())
		a.checkFiles("after the server came back", 0, false)
		if st := loadState(t, a.stateDir); st.AppliedRevision != rev || st.Sync.Result != "success" {
			t.Fatalf("after recovery: applied %q sync %+v, want %q", st.AppliedRevision, st.Sync, rev)
		}
	})
}

// TestFaultGitServerSSH: the same faults over git's SSH transport, OpenSSH's
// sshd behind the proxy: the connection refused, and dropped in the middle
// of the pack; then the server comes back.
func TestFaultGitServerSSH(t *testing.T) {
	gitserver.NeedTool(t, "git")
	repo := gitserver.NewBare(t)
	srv := gitserver.StartSSH(t)
	p := newFaultProxy(t, srv.Addr)
	url := "ssh://" + srv.User + "@" + p.addr() + repo.Bare
	known := filepath.Join(t.TempDir(), "known_hosts")
	_, port, _ := net.SplitHostPort(p.addr())
	if err := os.WriteFile(known, []byte(fmt.Sprintf("[127.0.0.1]:%s %s\n", port, srv.HostPublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAgentRig(t, url, repo)
	a.writeConfig(url, fmt.Sprintf("  ssh_key: %q\n  known_hosts: %q\n", srv.ClientKey, known), "")
	rev0 := a.commit(0)
	mustRun(t, a.once())
	a.checkFiles("first run", 0, false)

	t.Run("refused", func(t *testing.T) { a.serverGone(t, p, rev0) })
	t.Run("dropped mid-pack", func(t *testing.T) { a.serverCut(t, p, rev0) })
	t.Run("recovered", func(t *testing.T) {
		a.t = t
		p.set("pass")
		rev := a.commit(1)
		mustRun(t, a.once())
		a.checkFiles("after the server came back", 1, false)
		if st := loadState(t, a.stateDir); st.AppliedRevision != rev || st.Sync.Result != "success" {
			t.Fatalf("after recovery: applied %q sync %+v, want %q", st.AppliedRevision, st.Sync, rev)
		}
	})
}

// serverGone: the proxy refuses connections; the fetch fails, the host
// stays at applied.
func (a *agentRig) serverGone(t *testing.T, p *faultProxy, applied string) {
	a.t = t
	a.commit(1)
	p.set("gone")
	out := runFail(t, a.once())
	a.wantSyncFailure(out, applied, 0, "connection", "eof", "refused", "reset", "handshake")
}

// serverCut: the proxy drops the connection in the middle of the reply
// (the pack); the fetch fails, the host stays at applied.
func (a *agentRig) serverCut(t *testing.T, p *faultProxy, applied string) {
	a.t = t
	p.set("cut")
	before := p.cutDone.Load()
	out := runFail(t, a.once())
	if p.cutDone.Load() == before {
		t.Fatalf("the proxy never cut a reply (less than %d bytes sent?)", p.cutAt)
	}
	a.wantSyncFailure(out, applied, 0, "eof", "unexpected", "reset", "pack", "connection")
}

// TestFaultLocalRepoRemoved: the repo (a local path) disappears. The agent
// refuses to start with an error naming source.url and the path; the host
// and state stay as they were.
func TestFaultLocalRepoRemoved(t *testing.T) {
	gitserver.NeedTool(t, "git")
	a := newAgentRig(t, "", gitserver.NewBare(t))
	rev0 := a.commit(0)
	mustRun(t, a.once())
	a.commit(1)
	if err := os.RemoveAll(a.repo.Bare); err != nil {
		t.Fatal(err)
	}
	out := runFail(t, a.once())
	if !strings.Contains(out, a.repo.Bare) || !strings.Contains(out, "source.url") {
		t.Errorf("the error does not name source.url and the missing path:\n%s", out)
	}
	a.checkFiles("after the repo vanished", 0, false)
	if st := loadState(t, a.stateDir); st.AppliedRevision != rev0 {
		t.Errorf("applied revision moved to %q", st.AppliedRevision)
	}
	a.afterKill("after the repo vanished")
}

// mountTmpfs mounts a tmpfs of size at a new dir (skipping without root or
// mount) and unmounts it at the end.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs failed (no privilege in this container?): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// oneFileRig is an agent whose playbook copies files/blob to one file.
type oneFileRig struct {
	*agentRig
	dest string
}

func newOneFileRig(t *testing.T, dest string) *oneFileRig {
	gitserver.NeedTool(t, "git")
	return &oneFileRig{agentRig: newAgentRig(t, "", gitserver.NewBare(t)), dest: dest}
}

func (o *oneFileRig) commit(content string) string {
	play := fmt.Sprintf(`- hosts: all
  gather_facts: false
  tasks:
    - name: the file
      copy:
        src: files/blob
        dest: %q
`, o.dest)
	return o.repo.Commit(map[string]string{"local.yml": play, "files/blob": content})
}

// wantRunFailure checks a failed apply: the old content in full, no temp file
// next to it, the failure in state.json, the metrics and the audit trail.
func (o *oneFileRig) wantRunFailure(out, old, applied string, words ...string) {
	t := o.t
	t.Helper()
	got, err := os.ReadFile(o.dest)
	if err != nil || string(got) != old {
		t.Errorf("the managed file changed (err %v, %d bytes, want the old %d bytes)", err, len(got), len(old))
	}
	entries, _ := os.ReadDir(filepath.Dir(o.dest))
	for _, e := range entries {
		if e.Name() != filepath.Base(o.dest) {
			t.Errorf("left behind next to the managed file: %s", e.Name())
		}
	}
	// The reason must reach the operator: the failed task's audit line
	// carries the module's error.
	st := loadState(t, o.stateDir)
	failed := o.lastAudit(audit.KindChange, "failed")
	msg := strings.ToLower(failed.Msg)
	found := false
	for _, w := range words {
		found = found || strings.Contains(msg, w)
	}
	if !found {
		t.Errorf("the failed task's audit line %+v does not say %q (run error %q, output %s)", failed, words, st.Run.Error, relTail(out, 1000))
	}
	if st.LastGoodRevision != applied {
		t.Errorf("last good revision %q, want the old %q", st.LastGoodRevision, applied)
	}
	expo := o.metrics()
	if v := metricValue(t, expo, `tend_reconcile_total{result="failure"}`); v < 1 {
		t.Errorf(`tend_reconcile_total{result="failure"} = %v`, v)
	}
	if v := metricValue(t, expo, `tend_resources{status="failed"}`); v != 1 {
		t.Errorf(`tend_resources{status="failed"} = %v, want 1`, v)
	}
	e := o.lastAudit(audit.KindRun, "")
	if e.Result == "success" {
		t.Errorf("the run's audit line says success: %+v", e)
	}
	t.Logf("state.json run error: %q; audit: %s: %s", st.Run.Error, failed.Resource, failed.Msg)
}

// TestFaultDiskFull: a 1 MiB tmpfs holds a small managed file; the new commit
// makes it 2 MiB. The write fails with ENOSPC: the old file stays whole and
// no temp file is left to keep the disk full.
func TestFaultDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	o := newOneFileRig(t, filepath.Join(dir, "app.conf"))
	old := strings.Repeat("small\n", 1000)
	rev0 := o.commit(old)
	mustRun(t, o.once())
	o.commit(strings.Repeat("x", 2<<20))
	out := runFail(t, o.once())
	o.wantRunFailure(out, old, rev0, "no space left")
}

// TestFaultPermissionDenied: the managed file cannot be replaced, on a
// read-only file system (a tmpfs remounted ro) and as an immutable file
// (chattr +i), even for root.
func TestFaultPermissionDenied(t *testing.T) {
	old := "old content\n"
	t.Run("read-only file system", func(t *testing.T) {
		dir := mountTmpfs(t, "1m")
		o := newOneFileRig(t, filepath.Join(dir, "app.conf"))
		rev0 := o.commit(old)
		mustRun(t, o.once())
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Skipf("remount ro: %v: %s", err, out)
		}
		defer exec.Command("mount", "-o", "remount,rw", dir).Run()
		o.commit("new content\n")
		out := runFail(t, o.once())
		o.wantRunFailure(out, old, rev0, "read-only file system")
	})
	t.Run("immutable file", func(t *testing.T) {
		if _, err := exec.LookPath("chattr"); err != nil {
			t.Skip("chattr (e2fsprogs) is not installed")
		}
		o := newOneFileRig(t, filepath.Join(t.TempDir(), "app.conf"))
		rev0 := o.commit(old)
		mustRun(t, o.once())
		if out, err := exec.Command("chattr", "+i", o.dest).CombinedOutput(); err != nil {
			t.Skipf("chattr +i (file system without attributes?): %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", o.dest).Run() })
		o.commit("new content\n")
		out := runFail(t, o.once())
		o.wantRunFailure(out, old, rev0, "operation not permitted", "permission denied")
	})
}

// TestFaultRunLockHeld: while another process holds the run lock, the agent
// waits and changes nothing; once the lock is free it runs. At most one run.
func TestFaultRunLockHeld(t *testing.T) {
	gitserver.NeedTool(t, "git")
	a := newAgentRig(t, "", gitserver.NewBare(t))
	a.commit(0)
	mustRun(t, a.once())
	rev := a.commit(1)

	lk, err := lock.Acquire(a.stateDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := a.once()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("the agent ran while the lock was held: %v\n%s", err, out.String())
	case <-time.After(1500 * time.Millisecond):
	}
	a.checkFiles("while the lock is held", 0, false)
	if st := loadState(t, a.stateDir); st.AppliedRevision == rev {
		t.Fatal("the agent applied while another process held the lock")
	}
	if err := lk.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the lock was freed: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the agent did not run within 60s of the lock being freed")
	}
	a.checkFiles("after the lock was freed", 1, false)
}

// TestFaultBadCommit: a commit whose playbook does not parse is refused before
// anything changes: the host stays at the last good revision, state.json says
// why, the failure is counted and audited.
func TestFaultBadCommit(t *testing.T) {
	gitserver.NeedTool(t, "git")
	a := newAgentRig(t, "", gitserver.NewBare(t))
	rev0 := a.commit(0)
	mustRun(t, a.once())
	bad := a.repo.Commit(map[string]string{"local.yml": "- hosts: all\n  tasks:\n    - copy: {src: files/blob, dest: /nowhere\n"})
	out := runFail(t, a.once())
	a.checkFiles("after the bad commit", 0, false)
	st := loadState(t, a.stateDir)
	if st.LastGoodRevision != rev0 || !strings.Contains(st.Blocked, bad[:12]) {
		t.Errorf("state after a bad commit: last good %q blocked %q, want %q and the bad commit named", st.LastGoodRevision, st.Blocked, rev0)
	}
	if !strings.Contains(out, "local.yml") {
		t.Errorf("the error does not name the broken file:\n%s", out)
	}
	if v := metricValue(t, a.metrics(), `tend_reconcile_total{result="failure"}`); v < 1 {
		t.Errorf(`tend_reconcile_total{result="failure"} = %v`, v)
	}
	if e := a.lastAudit(audit.KindRun, "refused"); e.Revision != bad {
		t.Errorf("refusal audited for %q, want %q", e.Revision, bad)
	}
	t.Logf("blocked: %s", st.Blocked)
}

// TestFaultPackageLockHeld: another package manager holds dpkg's frontend
// lock (apt-get, unattended-upgrades). The agent's apt task waits for
// lock_timeout, then fails naming the lock: the run fails, is counted and
// audited, nothing is installed. Once the lock is free the next run
// installs the package.
func TestFaultPackageLockHeld(t *testing.T) {
	aptrepo.Require(t)
	gitserver.NeedTool(t, "git")
	aptrepo.New(t, aptrepo.Default)
	a := newAgentRig(t, "", gitserver.NewBare(t))
	rev := a.repo.Commit(map[string]string{"local.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: install tendtest-a
      apt: {name: tendtest-a, lock_timeout: 2}
`})

	f, err := os.OpenFile("/var/lib/dpkg/lock-frontend", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatal(err)
	}
	out := runFail(t, a.once())
	if !strings.Contains(out, "lock") || !strings.Contains(out, "lock_timeout=2s") {
		t.Errorf("the error does not name the held lock:\n%s", relTail(out, 2000))
	}
	if v := aptrepo.Installed("tendtest-a"); v != "" {
		t.Errorf("tendtest-a %s was installed while dpkg was locked", v)
	}
	st := loadState(t, a.stateDir)
	if st.LastGoodRevision == rev || st.Run.Error == "" || st.Run.Failed != 1 {
		t.Errorf("state after the locked run: last good %q, run %+v", st.LastGoodRevision, st.Run)
	}
	if v := metricValue(t, a.metrics(), `tend_reconcile_total{result="failure"}`); v != 1 {
		t.Errorf(`tend_reconcile_total{result="failure"} = %v, want 1`, v)
	}
	if e := a.lastAudit(audit.KindRun, ""); e.Result == "success" || e.Revision != rev {
		t.Errorf("the run's audit line: %+v", e)
	}
	t.Logf("error: %s", firstLineWith(out, "lock"))

	lk.Type = syscall.F_UNLCK
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	mustRun(t, a.once())
	if v := aptrepo.Installed("tendtest-a"); v == "" {
		t.Error("the run after the lock was freed did not install tendtest-a")
	}
	if st := loadState(t, a.stateDir); st.LastGoodRevision != rev {
		t.Errorf("last good revision %q after the lock was freed, want %q", st.LastGoodRevision, rev)
	}
}
