package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// promServer is a real Prometheus started by a test.
type promServer struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	logs syncBuffer
}

// shortRules copies the shipped rules with every `for:` cut to d, so the
// alerts fire within a test.
func shortRules(t *testing.T, d string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "packaging", "prometheus", "tend.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s+for:\s*)\S+`)
	if len(re.FindAll(src, -1)) == 0 {
		t.Fatal("tend.rules.yml has no `for:` to shorten; update this test")
	}
	out := re.ReplaceAll(src, []byte("${1}"+d))
	p := filepath.Join(t.TempDir(), "tend.rules.yml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startPrometheus runs Debian's prometheus on 127.0.0.1 scraping targets
// every second with the given rule file; it is killed when the test ends.
func startPrometheus(t *testing.T, rules string, targets ...string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/prometheus"); serr != nil {
			t.Skip("prometheus is not installed (apt-get install prometheus); skipping the Prometheus end-to-end test")
		}
		bin = "/usr/bin/prometheus"
	}
	dir := t.TempDir()
	quoted := ""
	for i, tg := range targets {
		if i > 0 {
			quoted += ", "
		}
		quoted += strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: tend
    static_configs:
      - targets: [%s]
        labels: {group: e2e}
`, rules, quoted)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &promServer{t: t, addr: freeAddr(t)}
	p.cmd = exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.logs.String())
		}
	})
	p.waitFor("prometheus ready", 30*time.Second, func() bool {
		resp, err := metricsClient.Get("http://" + p.addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

func (p *promServer) waitFor(what string, limit time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for: %s", limit, what)
		}
		if p.cmd.ProcessState != nil {
			p.t.Fatalf("prometheus exited while waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get calls the HTTP API and decodes its data field into out.
func (p *promServer) get(path string, q url.Values, out any) error {
	u := "http://" + p.addr + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := metricsClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %v: %s", path, err, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

// query runs an instant query and returns value by instance label.
func (p *promServer) query(expr string) map[string]float64 {
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		p.t.Logf("query %s: %v", expr, err)
		return nil
	}
	out := map[string]float64{}
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		out[r.Metric["instance"]] = v
	}
	return out
}

// alertStates returns the state (pending, firing) of an alert by instance.
func (p *promServer) alertStates(name string) map[string]string {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := p.get("/api/v1/alerts", nil, &data); err != nil {
		p.t.Logf("alerts: %v", err)
		return nil
	}
	out := map[string]string{}
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == name {
			out[a.Labels["instance"]] = a.State
		}
	}
	return out
}

// TestPrometheusDriftAlert: a real Prometheus scrapes two agents with the
// shipped rules (short `for:`). A managed file edited on one host shows as
// tend_drift_resources > 0 for that instance only and TendDriftDetected
// fires for it; once remediation is on, tend repairs the file and both the
// gauge and the alert clear.
func TestPrometheusDriftAlert(t *testing.T) {
	rules := shortRules(t, "2s")
	bin := tendBinary(t)
	a := newDriftAgent(t, bin, false)
	b := newDriftAgent(t, bin, false)
	a.start()
	b.start()
	p := startPrometheus(t, rules, a.addr, b.addr)

	const driftExpr = `sum without (kind) (tend_drift_resources{job="tend"})`
	p.waitFor("both agents scraped", 30*time.Second, func() bool {
		up := p.query(`up{job="tend"}`)
		d := p.query(driftExpr)
		return up[a.addr] == 1 && up[b.addr] == 1 && len(d) == 2
	})
	if d := p.query(driftExpr); d[a.addr] != 0 || d[b.addr] != 0 {
		t.Fatalf("drift before any edit: %v", d)
	}

	conf := a.path("app.conf")
	if err := os.WriteFile(conf, []byte("listen = 6666\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.waitFor("tend_drift_resources > 0 for the edited host", 20*time.Second, func() bool {
		return p.query(driftExpr)[a.addr] > 0
	})
	t.Logf("edit to drift visible in Prometheus: %s", time.Since(start).Round(time.Millisecond))
	if d := p.query(driftExpr); d[b.addr] != 0 {
		t.Errorf("the untouched host reports drift: %v", d)
	}
	if v := p.query(`tend_drift_since_timestamp_seconds{job="tend"}`)[a.addr]; v < float64(start.Add(-time.Minute).Unix()) {
		t.Errorf("tend_drift_since_timestamp_seconds = %v for the drifted host", v)
	}
	p.waitFor("TendDriftDetected firing for the edited host", 30*time.Second, func() bool {
		return p.alertStates("TendDriftDetected")[a.addr] == "firing"
	})
	t.Logf("edit to TendDriftDetected firing: %s", time.Since(start).Round(time.Millisecond))
	if s, ok := p.alertStates("TendDriftDetected")[b.addr]; ok {
		t.Errorf("TendDriftDetected is %s for the untouched host", s)
	}
	if b, _ := os.ReadFile(conf); string(b) != "listen = 6666\n" {
		t.Fatalf("remediate false, yet the file changed: %q", b)
	}

	// remediation on: the next event on the file repairs it
	a.setRemediate(true)
	fixStart := time.Now()
	if err := os.Chtimes(conf, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	a.waitFor("the file repaired", 10*time.Second, func() bool {
		b, _ := os.ReadFile(conf)
		return string(b) == "listen = 8080\n"
	})
	p.waitFor("tend_drift_resources back to 0", 20*time.Second, func() bool {
		return p.query(driftExpr)[a.addr] == 0
	})
	p.waitFor("TendDriftDetected cleared", 20*time.Second, func() bool {
		_, active := p.alertStates("TendDriftDetected")[a.addr]
		return !active
	})
	t.Logf("remediation to alert cleared: %s", time.Since(fixStart).Round(time.Millisecond))
	if v := p.query(`tend_changes_total{job="tend",reason="corrective"}`)[a.addr]; v < 1 {
		t.Errorf("tend_changes_total{reason=corrective} = %v after the repair, want >= 1", v)
	}
}
