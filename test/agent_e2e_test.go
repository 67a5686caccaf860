package test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

// agentEnv is one agent under test: a config, its state dir and the
// directory its playbook writes into.
type agentEnv struct {
	t      *testing.T
	bin    string
	dir    string
	cfg    string
	out    string // where the playbook writes
	addr   string // listen address
	secret string
	cmd    *exec.Cmd
	logs   bytes.Buffer
}

// handedOut are the addresses freeAddr gave in this test process: the
// kernel may give a port it just freed again, and two agents started one
// after the other then got the same one (seen in CI).
var handedOut sync.Map

// freeAddr returns a 127.0.0.1 address nothing listens on now and that no
// other freeAddr call in this process returned.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, taken := handedOut.LoadOrStore(addr, true); !taken {
			return addr
		}
	}
	t.Fatal("no free port on 127.0.0.1 after 100 tries")
	return ""
}

// playbook writes content into out/managed.txt.
func playbook(out, content string) string {
	return fmt.Sprintf(`- hosts: all
  gather_facts: false
  tasks:
    - name: managed file
      copy:
        dest: %s/managed.txt
        content: %q
`, out, content)
}

func newAgentEnv(t *testing.T, url, extra string) *agentEnv {
	t.Helper()
	e := &agentEnv{t: t, bin: tendBinary(t), dir: t.TempDir(), addr: freeAddr(t), secret: "s3cret-webhook"}
	e.out = filepath.Join(e.dir, "host")
	if err := os.MkdirAll(e.out, 0o755); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(e.dir, "webhook-secret")
	if err := os.WriteFile(secretFile, []byte(e.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cfg = filepath.Join(e.dir, "tend.yaml")
	cfg := fmt.Sprintf(`source:
  url: %s
  ref: main
  interval: 1s
  splay: 0s
playbook: local.yml
host: localhost
backend: native
drift:
  interval: 1h
  watch: false
listen: %s
webhook_secret_file: %s
state_dir: %s
%s`, url, e.addr, secretFile, filepath.Join(e.dir, "state"), extra)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *agentEnv) start() {
	e.t.Helper()
	e.cmd = exec.Command(e.bin, "agent", "--config", e.cfg)
	e.cmd.Stdout, e.cmd.Stderr = &e.logs, &e.logs
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if e.cmd.ProcessState == nil {
			_ = e.cmd.Process.Kill()
			_ = e.cmd.Wait()
		}
		if e.t.Failed() {
			e.t.Logf("agent log:\n%s", e.logs.String())
		}
	})
	e.waitFor("/healthz answers", 10*time.Second, func() bool {
		_, err := e.get("/healthz")
		return err == nil
	})
}

func (e *agentEnv) get(path string) (string, error) {
	resp, err := http.Get("http://" + e.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("%s: %s", path, resp.Status)
	}
	return string(b), err
}

func (e *agentEnv) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("timed out after %s waiting for: %s", d, what)
}

func (e *agentEnv) managed() string {
	b, _ := os.ReadFile(filepath.Join(e.out, "managed.txt"))
	return string(b)
}

func (e *agentEnv) metricHas(line string) bool {
	m, err := e.get("/metrics")
	return err == nil && strings.Contains(m, line)
}

func (e *agentEnv) status() map[string]any {
	e.t.Helper()
	out, err := exec.Command(e.bin, "status", "--config", e.cfg, "-o", "json").CombinedOutput()
	if err != nil {
		e.t.Fatalf("tend status: %v\n%s", err, out)
	}
	var st map[string]any
	if err := json.Unmarshal(out, &st); err != nil {
		e.t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return st
}

func (e *agentEnv) hook(body []byte, secret string) int {
	e.t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", "http://"+e.addr+"/hooks/sync", bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAgentConvergesOnNewCommits: the agent applies each new commit within
// a few seconds and /metrics names the applied revision.
func TestAgentConvergesOnNewCommits(t *testing.T) {
	gitserver.NeedTool(t, "git")
	repo := gitserver.NewBare(t)
	e := newAgentEnv(t, repo.URL(), "")
	rev1 := repo.Commit(map[string]string{"local.yml": playbook(e.out, "v1\n")})
	e.start()
	e.waitFor("v1 applied", 15*time.Second, func() bool { return e.managed() == "v1\n" })
	e.waitFor("revision 1 in /metrics", 5*time.Second, func() bool {
		return e.metricHas(fmt.Sprintf(`tend_applied_revision_info{revision="%s"} 1`, rev1))
	})

	rev2 := repo.Commit(map[string]string{"local.yml": playbook(e.out, "v2\n")})
	start := time.Now()
	e.waitFor("v2 applied", 15*time.Second, func() bool { return e.managed() == "v2\n" })
	e.waitFor("revision 2 in /metrics", 5*time.Second, func() bool {
		return e.metricHas(fmt.Sprintf(`tend_applied_revision_info{revision="%s"} 1`, rev2)) &&
			e.metricHas(fmt.Sprintf(`tend_source_revision_info{ref="main",revision="%s"} 1`, rev2))
	})
	t.Logf("commit to applied (1 s poll interval): %s", time.Since(start).Round(time.Millisecond))
	if !e.metricHas(`tend_reconcile_total{result="success"}`) {
		t.Error("no tend_reconcile_total success series")
	}
	st := e.status()
	if st["applied_revision"] != rev2 || st["last_good_revision"] != rev2 {
		t.Errorf("status: applied %v good %v, want %s", st["applied_revision"], st["last_good_revision"], rev2)
	}

	// SIGTERM: the agent exits cleanly and leaves a parseable state.
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not exit after SIGTERM")
	}
	e.status()
}

// TestAgentWebhook: a signed webhook triggers a sync at once; a bad
// signature gets 401 and changes nothing.
func TestAgentWebhook(t *testing.T) {
	gitserver.NeedTool(t, "git")
	repo := gitserver.NewBare(t)
	e := newAgentEnv(t, repo.URL(), "")
	// a long poll interval: only the webhook can bring v2 quickly
	cfg, _ := os.ReadFile(e.cfg)
	_ = os.WriteFile(e.cfg, bytes.Replace(cfg, []byte("interval: 1s"), []byte("interval: 1h"), 1), 0o600)
	repo.Commit(map[string]string{"local.yml": playbook(e.out, "v1\n")})
	e.start()
	e.waitFor("v1 applied", 15*time.Second, func() bool { return e.managed() == "v1\n" })

	repo.Commit(map[string]string{"local.yml": playbook(e.out, "v2\n")})
	if code := e.hook([]byte(`{"ref":"refs/heads/main"}`), "wrong-secret"); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: got HTTP %d, want 401", code)
	}
	time.Sleep(500 * time.Millisecond)
	if e.managed() != "v1\n" {
		t.Fatal("a webhook with a bad signature triggered a sync")
	}
	start := time.Now()
	if code := e.hook([]byte(`{"ref":"refs/heads/main"}`), e.secret); code != http.StatusAccepted {
		t.Fatalf("good signature: got HTTP %d, want 202", code)
	}
	e.waitFor("v2 applied after the webhook", 10*time.Second, func() bool { return e.managed() == "v2\n" })
	t.Logf("webhook to applied change: %s", time.Since(start).Round(time.Millisecond))
	resp, err := http.Get("http://" + e.addr + "/hooks/sync")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /hooks/sync: %d, want 405", resp.StatusCode)
	}
}

// TestAgentRefusesBadCommit: a commit whose playbook does not parse is
// refused before any change and status says why; a later good commit is
// applied.
func TestAgentRefusesBadCommitAndSurvivesGitOutage(t *testing.T) {
	gitserver.NeedTool(t, "git")
	repo := gitserver.NewBare(t)
	e := newAgentEnv(t, repo.URL(), "")
	repo.Commit(map[string]string{"local.yml": playbook(e.out, "v1\n")})
	e.start()
	e.waitFor("v1 applied", 15*time.Second, func() bool { return e.managed() == "v1\n" })

	bad := repo.Commit(map[string]string{"local.yml": "- hosts: all\n  tasks:\n    - copy: {dest: " + e.out + "/managed.txt, content: bad}\n      bogus_keyword: 1\n"})
	e.waitFor("the bad commit refused in status", 15*time.Second, func() bool {
		st := e.status()
		blocked, _ := st["blocked_reason"].(string)
		return strings.Contains(blocked, bad[:12]) && strings.Contains(blocked, "bogus_keyword")
	})
	if e.managed() != "v1\n" {
		t.Fatalf("the bad commit changed the host: %q", e.managed())
	}
	if !e.metricHas(`tend_reconcile_total{result="failure"}`) {
		t.Error("no failure counted")
	}

	// the git server goes away: fetch failures are counted, the host keeps
	// its state, the agent keeps running
	moved := repo.Bare + ".gone"
	if err := os.Rename(repo.Bare, moved); err != nil {
		t.Fatal(err)
	}
	e.waitFor("a fetch failure in /metrics", 15*time.Second, func() bool {
		m, err := e.get("/metrics")
		return err == nil && strings.Contains(m, `tend_source_fetch_total{result="failure"}`) &&
			!strings.Contains(m, `tend_source_fetch_total{result="failure"} 0`)
	})
	if _, err := e.get("/healthz"); err != nil {
		t.Fatalf("agent unhealthy during the outage: %v", err)
	}
	if err := os.Rename(moved, repo.Bare); err != nil {
		t.Fatal(err)
	}
	repo.Commit(map[string]string{"local.yml": playbook(e.out, "v3\n")})
	e.waitFor("v3 applied after the outage", 40*time.Second, func() bool { return e.managed() == "v3\n" })
}

// TestAgentOverSSHAndHTTP: the same agent cycle over git's SSH (OpenSSH
// sshd on 127.0.0.1) and smart HTTP (git http-backend).
func TestAgentOverSSHAndHTTP(t *testing.T) {
	gitserver.NeedTool(t, "git")
	t.Run("ssh", func(t *testing.T) {
		gitserver.NeedTool(t, "sshd")
		repo := gitserver.NewBare(t)
		url, key, known := gitserver.ServeSSH(t, repo.Bare)
		e := newAgentEnv(t, url, "")
		cfg, _ := os.ReadFile(e.cfg)
		cfg = bytes.Replace(cfg, []byte("  ref: main\n"), []byte(fmt.Sprintf("  ref: main\n  ssh_key: %s\n  known_hosts: %s\n", key, known)), 1)
		_ = os.WriteFile(e.cfg, cfg, 0o600)
		repo.Commit(map[string]string{"local.yml": playbook(e.out, "over ssh\n")})
		out, err := exec.Command(e.bin, "agent", "--once", "--config", e.cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("agent --once over ssh: %v\n%s", err, out)
		}
		if e.managed() != "over ssh\n" {
			t.Fatalf("not applied over ssh: %q", e.managed())
		}
	})
	t.Run("http", func(t *testing.T) {
		repo := gitserver.NewBare(t)
		base := gitserver.ServeHTTP(t, filepath.Dir(repo.Bare), "deploy", "hunter2")
		url := base + "/" + filepath.Base(repo.Bare)
		e := newAgentEnv(t, url, "")
		auth := filepath.Join(e.dir, "http-auth")
		_ = os.WriteFile(auth, []byte("deploy:hunter2\n"), 0o600)
		cfg, _ := os.ReadFile(e.cfg)
		cfg = bytes.Replace(cfg, []byte("  ref: main\n"), []byte(fmt.Sprintf("  ref: main\n  http_auth_file: %s\n", auth)), 1)
		_ = os.WriteFile(e.cfg, cfg, 0o600)
		repo.Commit(map[string]string{"local.yml": playbook(e.out, "over http\n")})
		out, err := exec.Command(e.bin, "agent", "--once", "--config", e.cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("agent --once over http: %v\n%s", err, out)
		}
		if e.managed() != "over http\n" {
			t.Fatalf("not applied over http: %q", e.managed())
		}
	})
}

// TestAgentConfigErrorNamesKey: a bad config fails at start, exit 1,
// naming the key.
func TestAgentConfigErrorNamesKey(t *testing.T) {
	bin := tendBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tend.yaml")
	_ = os.WriteFile(cfg, []byte("source:\n  url: /nonexistent\n  intervall: 5m\nstate_dir: "+dir+"/state\n"), 0o600)
	out, err := exec.Command(bin, "agent", "--once", "--config", cfg).CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errorAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `intervall`) || !strings.Contains(string(out), `did you mean "interval"`) {
		t.Fatalf("error does not name the key:\n%s", out)
	}
}

func errorAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
