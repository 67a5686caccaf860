package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

// driftAgent is one `tend agent` process with drift.watch on, applying a
// playbook from a local git repo that manages files under host/.
type driftAgent struct {
	t        *testing.T
	bin      string
	dir      string
	cfg      string
	host     string // where the playbook writes
	addr     string
	textfile string
	cmd      *exec.Cmd
	logs     syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// driftPlaybook manages two files with content, and a directory.
func driftPlaybook(host string) string {
	return fmt.Sprintf(`- hosts: all
  gather_facts: false
  tasks:
    - name: managed file
      copy:
        dest: %[1]s/etc/app/app.conf
        content: "listen = 8080\n"
        mode: "0644"
    - name: second file
      copy:
        dest: %[1]s/etc/app/second.conf
        content: "workers = 4\n"
        mode: "0640"
`, host)
}

// newDriftAgent commits the playbook to a fresh repo and writes the config.
func newDriftAgent(t *testing.T, bin string, remediate bool) *driftAgent {
	t.Helper()
	return newDriftAgentWith(t, bin, remediate, driftPlaybook)
}

// newDriftAgentWith is newDriftAgent with the playbook made by play.
func newDriftAgentWith(t *testing.T, bin string, remediate bool, play func(host string) string) *driftAgent {
	t.Helper()
	gitserver.NeedTool(t, "git")
	d := &driftAgent{t: t, bin: bin, dir: t.TempDir(), addr: freeAddr(t)}
	d.host = filepath.Join(d.dir, "host")
	if err := os.MkdirAll(filepath.Join(d.host, "etc", "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := gitserver.NewBare(t)
	repo.Commit(map[string]string{"local.yml": play(d.host)})
	d.textfile = filepath.Join(d.dir, "tend.prom")
	d.cfg = filepath.Join(d.dir, "tend.yaml")
	d.writeConfig(repo.URL(), remediate)
	return d
}

func (d *driftAgent) writeConfig(url string, remediate bool) {
	d.t.Helper()
	cfg := fmt.Sprintf(`source:
  url: %s
  ref: main
  interval: 1h
  splay: 0s
playbook: local.yml
host: localhost
backend: native
drift:
  interval: 1h
  full_hash_interval: 1h
  watch: true
  remediate: %v
listen: %s
textfile: %s
state_dir: %s
`, url, remediate, d.addr, d.textfile, filepath.Join(d.dir, "state"))
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// setRemediate rewrites drift.remediate and reloads the agent (SIGHUP).
func (d *driftAgent) setRemediate(on bool) {
	d.t.Helper()
	b, err := os.ReadFile(d.cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), fmt.Sprintf("remediate: %v", !on), fmt.Sprintf("remediate: %v", on), 1))
	if err := os.WriteFile(d.cfg, b, 0o600); err != nil {
		d.t.Fatal(err)
	}
	before := strings.Count(d.logs.String(), "config reloaded")
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
	d.waitFor("config reloaded", 10*time.Second, func() bool {
		return strings.Count(d.logs.String(), "config reloaded") > before
	})
}

func (d *driftAgent) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, "agent", "--config", d.cfg)
	d.cmd.Stdout, d.cmd.Stderr = &d.logs, &d.logs
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(d.stop)
	d.waitFor("first apply", 30*time.Second, func() bool {
		b, err := os.ReadFile(d.path("app.conf"))
		return err == nil && string(b) == "listen = 8080\n" && d.metric(`tend_reconcile_total{result="success"}`) >= 1
	})
	d.waitFor("drift watch started", 10*time.Second, func() bool {
		return strings.Contains(d.logs.String(), "drift watch started")
	})
}

func (d *driftAgent) stop() {
	if d.cmd == nil || d.cmd.Process == nil || d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	logs := d.logs.String()
	if strings.Contains(logs, "WARNING: DATA RACE") || strings.Contains(logs, "panic:") {
		d.t.Errorf("the agent raced or panicked (log below)")
	}
	if d.t.Failed() {
		d.t.Logf("agent log:\n%s", logs)
	}
}

func (d *driftAgent) path(name string) string { return filepath.Join(d.host, "etc", "app", name) }

func (d *driftAgent) waitFor(what string, limit time.Duration, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out after %s waiting for: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// metrics returns the exposition of /metrics, "" when it does not answer.
func (d *driftAgent) metrics() string {
	resp, err := metricsClient.Get("http://" + d.addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric is the value of one series (name with labels, as exposed), -1 when absent.
func (d *driftAgent) metric(series string) float64 {
	return seriesValue(d.metrics(), series)
}

func seriesValue(exposition, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

const fileDrift = `tend_drift_resources{kind="file"}`

// status is `GET /status` decoded.
func (d *driftAgent) status() map[string]any {
	d.t.Helper()
	resp, err := metricsClient.Get("http://" + d.addr + "/status")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		d.t.Fatal(err)
	}
	return st
}

// driftedDiffers returns what /status says differs on a drifted path.
func (d *driftAgent) driftedDiffers(path string) []string {
	st := d.status()
	dr, _ := st["drift"].(map[string]any)
	res, _ := dr["resources"].([]any)
	for _, r := range res {
		m, _ := r.(map[string]any)
		if m["id"] == path {
			var out []string
			ds, _ := m["differs"].([]any)
			for _, x := range ds {
				out = append(out, fmt.Sprint(x))
			}
			return out
		}
	}
	return nil
}

func (d *driftAgent) audit() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "state", "audit.jsonl"))
	return string(b)
}

// TestDriftWatchReportOnly: with remediate false every kind of tampering
// with a managed file is reported within a second — /metrics, the textfile,
// /status with what differs, audit.jsonl — and nothing is changed back; the
// agent survives a file replaced by a directory or a symlink and its
// directory removed and made again.
func TestDriftWatchReportOnly(t *testing.T) {
	d := newDriftAgent(t, tendBinary(t), false)
	d.start()
	conf := d.path("app.conf")
	if v := d.metric(fileDrift); v != 0 {
		t.Fatalf("drift after the first apply = %v, want 0", v)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "state", "drift-index.json")); err != nil {
		t.Fatalf("no drift index after the first apply: %v", err)
	}

	cases := []struct {
		name    string
		tamper  func() error
		differs string
		restore func() error
	}{
		{"edit", func() error { return os.WriteFile(conf, []byte("listen = 9090\n"), 0o644) }, "content",
			func() error { return os.WriteFile(conf, []byte("listen = 8080\n"), 0o644) }},
		{"chmod", func() error { return os.Chmod(conf, 0o666) }, "mode",
			func() error { return os.Chmod(conf, 0o644) }},
		{"delete", func() error { return os.Remove(conf) }, "missing",
			func() error { return os.WriteFile(conf, []byte("listen = 8080\n"), 0o644) }},
		{"replaced by a directory", func() error { return errors2(os.Remove(conf), os.Mkdir(conf, 0o755)) }, "type",
			func() error { return errors2(os.Remove(conf), os.WriteFile(conf, []byte("listen = 8080\n"), 0o644)) }},
		{"replaced by a symlink", func() error { return errors2(os.Remove(conf), os.Symlink(d.path("second.conf"), conf)) }, "type",
			func() error { return errors2(os.Remove(conf), os.WriteFile(conf, []byte("listen = 8080\n"), 0o644)) }},
		{"directory removed and made again", func() error {
			return errors2(os.RemoveAll(filepath.Dir(conf)), os.MkdirAll(filepath.Dir(conf), 0o755))
		}, "missing", func() error {
			return errors2(os.WriteFile(conf, []byte("listen = 8080\n"), 0o644),
				os.WriteFile(d.path("second.conf"), []byte("workers = 4\n"), 0o640))
		}},
	}
	for _, c := range cases {
		start := time.Now()
		if err := c.tamper(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		d.waitFor(c.name+": drift in /metrics", 5*time.Second, func() bool { return d.metric(fileDrift) > 0 })
		took := time.Since(start)
		t.Logf("%-32s detected in %s", c.name, took.Round(time.Millisecond))
		if took > time.Second {
			t.Logf("%s: detected after %s, over the 1 s target (a loaded machine?)", c.name, took)
		}
		if got := d.driftedDiffers(conf); !slices.Contains(got, c.differs) {
			t.Errorf("%s: /status says %v differs on %s, want %q", c.name, got, conf, c.differs)
		}
		// the textfile is written right after /metrics moves
		d.waitFor(c.name+": drift in the textfile", time.Second, func() bool {
			tf, _ := os.ReadFile(d.textfile)
			return seriesValue(string(tf), fileDrift) >= 1
		})
		if err := c.restore(); err != nil {
			t.Fatalf("%s: restore: %v", c.name, err)
		}
		d.waitFor(c.name+": drift cleared after the restore", 5*time.Second, func() bool { return d.metric(fileDrift) == 0 })
	}
	if v := d.metric(`tend_changes_total{reason="corrective"}`); v != 0 {
		t.Errorf("remediate false, yet %v corrective changes", v)
	}
	if n := strings.Count(d.audit(), `"kind":"drift"`); n < len(cases) {
		t.Errorf("audit.jsonl has %d drift lines, want at least %d:\n%s", n, len(cases), d.audit())
	}
	if v := d.metric("tend_last_drift_check_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("tend_last_drift_check_timestamp_seconds = %v, not recent", v)
	}
}

func errors2(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestDriftWatchRemediates: with remediate true an edit is repaired at once,
// counted as a corrective change, audited, and the drift gauge ends at 0.
func TestDriftWatchRemediates(t *testing.T) {
	d := newDriftAgent(t, tendBinary(t), true)
	d.start()
	conf := d.path("app.conf")
	start := time.Now()
	if err := os.WriteFile(conf, []byte("listen = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitFor("the edit repaired", 5*time.Second, func() bool {
		b, _ := os.ReadFile(conf)
		return string(b) == "listen = 8080\n"
	})
	t.Logf("edit to repaired file: %s", time.Since(start).Round(time.Millisecond))
	d.waitFor("a corrective change counted", 5*time.Second, func() bool {
		return d.metric(`tend_changes_total{reason="corrective"}`) >= 1 && d.metric(fileDrift) == 0
	})
	if v := d.metric("tend_drift_since_timestamp_seconds"); v != 0 {
		t.Errorf("tend_drift_since_timestamp_seconds = %v after the repair, want 0", v)
	}
	au := d.audit()
	if !strings.Contains(au, `"kind":"drift"`) || !strings.Contains(au, "file:"+conf) {
		t.Errorf("audit.jsonl lacks the drift line for %s:\n%s", conf, au)
	}
	// a pause stops remediation: the drift stays reported
	out, err := exec.Command(d.bin, "pause", "--config", d.cfg, "--reason", "incident").CombinedOutput()
	if err != nil {
		t.Skipf("tend pause not available yet: %v\n%s", err, out)
	}
	if err := os.WriteFile(conf, []byte("listen = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitFor("drift reported while paused", 5*time.Second, func() bool { return d.metric(fileDrift) > 0 })
	// the check that saw it decided not to remediate, and said why
	d.waitFor("remediation refused while paused", 5*time.Second, func() bool {
		return strings.Contains(d.logs.String(), `msg="drift not remediated" why="paused: incident"`)
	})
	if b, _ := os.ReadFile(conf); string(b) != "listen = 2\n" {
		t.Errorf("paused host was remediated: %q", b)
	}
}

// TestDriftEditDuringApply: a managed file edited while the run that wrote
// it is still going (here: a later task sleeps) is not taken for the new
// baseline: the index records what tend wrote, and the edit is repaired as
// soon as the run ends.
func TestDriftEditDuringApply(t *testing.T) {
	d := newDriftAgentWith(t, tendBinary(t), true, func(host string) string {
		return driftPlaybook(host) + "    - name: a slow task after the writes\n      command: sleep 3\n      changed_when: false\n"
	})
	d.cmd = exec.Command(d.bin, "agent", "--config", d.cfg)
	d.cmd.Stdout, d.cmd.Stderr = &d.logs, &d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	conf := d.path("app.conf")
	d.waitFor("app.conf written by the first run", 30*time.Second, func() bool {
		b, err := os.ReadFile(conf)
		return err == nil && string(b) == "listen = 8080\n"
	})
	if d.metric(`tend_reconcile_total{result="success"}`) > 0 {
		t.Fatal("the run ended before the edit: the sleep task did not hold it")
	}
	if err := os.WriteFile(conf, []byte("listen = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitFor("the first run's end", 30*time.Second, func() bool {
		return d.metric(`tend_reconcile_total{result="success"}`) >= 1
	})
	end := time.Now()
	d.waitFor("the edit made during the run repaired", 10*time.Second, func() bool {
		b, _ := os.ReadFile(conf)
		return string(b) == "listen = 8080\n"
	})
	t.Logf("end of run to repaired file: %s", time.Since(end).Round(time.Millisecond))
	if !strings.Contains(d.audit(), "file:"+conf) {
		t.Errorf("audit.jsonl lacks the drift line for %s:\n%s", conf, d.audit())
	}
}

// TestDriftRepairsPaced: a file something else keeps rewriting right after
// each repair (another config tool) is repaired a few times at once, then
// with growing pauses, not in a tight loop.
func TestDriftRepairsPaced(t *testing.T) {
	d := newDriftAgent(t, tendBinary(t), true)
	d.start()
	conf := d.path("app.conf")
	stop := make(chan struct{})
	var fights atomic.Int64
	go func() { // the other tool: puts its version back whenever tend repairs
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if b, _ := os.ReadFile(conf); string(b) != "listen = 1\n" {
				_ = os.WriteFile(conf, []byte("listen = 1\n"), 0o644)
				fights.Add(1)
			}
		}
	}()
	time.Sleep(8 * time.Second)
	close(stop)
	repairs := d.metric(`tend_changes_total{reason="corrective"}`)
	t.Logf("in 8 s against a tool rewriting the file within 20 ms: %v corrective changes, %d rewrites by the other tool", repairs, fights.Load())
	// unpaced, every ~100 ms cycle would repair: ~80; paced: 3 free, then
	// after 1, 2, 4 s: about 6 (17 were measured unpaced)
	if repairs < 1 || repairs > 10 {
		t.Errorf("%v corrective changes in 8 s, want a few (paced), at least 1", repairs)
	}
	if !strings.Contains(d.logs.String(), "repairs are now paced") {
		t.Errorf("the agent did not say it paces repairs")
	}
}

// TestDriftDetectionLatency measures the time from an edit of a managed
// file to the drift gauge changing on /metrics (the target is a p50 under
// 200 ms). It reports the figures and asserts only that each edit was seen.
func TestDriftDetectionLatency(t *testing.T) {
	d := newDriftAgent(t, tendBinary(t), false)
	d.start()
	conf := d.path("app.conf")
	var lat []time.Duration
	for i := range 20 {
		want := 1.0
		content := fmt.Sprintf("listen = %d\n", 9000+i)
		if i%2 == 1 {
			want, content = 0, "listen = 8080\n"
		}
		start := time.Now()
		if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		for d.metric(fileDrift) != want {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("edit %d: %s never became %v", i, fileDrift, want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("edit -> /metrics latency over %d edits: p50 %s, p90 %s, max %s (target p50 < 200ms)",
		len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}
