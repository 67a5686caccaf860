package metrics

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape returns what GET /metrics serves, in the text format.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// promtoolCheck runs the real `promtool check metrics` on an exposition and
// fails on any problem it prints.
func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// exercised returns metrics with every method called at least once.
func exercised() *Metrics {
	m := New("1.2.3")
	at := time.Unix(1764100000, 0)
	m.SetSourceRevision("main", "aaaa")
	m.SetAppliedRevision("aaaa")
	m.FetchResult(true)
	m.FetchResult(false)
	m.VerifyFailure()
	m.Reconcile(ModeApply, true, 1500*time.Millisecond, at)
	m.Reconcile(ModeCheck, false, 200*time.Millisecond, at.Add(time.Minute))
	m.SetResources(10, 2, 1, 3)
	m.AddChanges(ReasonIntentional, 2)
	m.AddChanges(ReasonCorrective, 1)
	m.SetDrift(map[string]int{KindFile: 2, "template": 1}, at, at.Add(2*time.Minute))
	m.SetPaused(true)
	m.SetWindowOpen(false)
	m.GuardrailBlock(BlockMaxChanges)
	m.ClockJump("backward")
	return m
}

func TestPromtoolFresh(t *testing.T) { promtoolCheck(t, scrape(t, New("dev"))) }

func TestPromtoolExercised(t *testing.T) { promtoolCheck(t, scrape(t, exercised())) }

func TestAllDesignMetricsExported(t *testing.T) {
	body := scrape(t, exercised())
	for _, name := range []string{
		"tend_build_info", "tend_source_revision_info", "tend_applied_revision_info",
		"tend_source_fetch_total", "tend_source_verify_failures_total", "tend_reconcile_total",
		"tend_reconcile_duration_seconds", "tend_last_reconcile_timestamp_seconds",
		"tend_last_success_timestamp_seconds", "tend_resources", "tend_changes_total",
		"tend_drift_resources", "tend_drift_since_timestamp_seconds",
		"tend_last_drift_check_timestamp_seconds", "tend_paused", "tend_window_open",
		"tend_guardrail_blocks_total", "tend_clock_jumps_total",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(body, "\n# TYPE "+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestPreinitialised: label values alerts rely on exist at 0 before anything happened.
func TestPreinitialised(t *testing.T) {
	m := New("dev")
	want := `
# HELP tend_source_fetch_total Fetches of the source repository, by result.
# TYPE tend_source_fetch_total counter
tend_source_fetch_total{result="failure"} 0
tend_source_fetch_total{result="success"} 0
# HELP tend_reconcile_total Runs of the playbooks, by result.
# TYPE tend_reconcile_total counter
tend_reconcile_total{result="failure"} 0
tend_reconcile_total{result="success"} 0
# HELP tend_resources Task results of the last run, by status.
# TYPE tend_resources gauge
tend_resources{status="changed"} 0
tend_resources{status="failed"} 0
tend_resources{status="ok"} 0
tend_resources{status="skipped"} 0
# HELP tend_changes_total Changes made to this host: intentional (a new commit) or corrective (repairing drift).
# TYPE tend_changes_total counter
tend_changes_total{reason="corrective"} 0
tend_changes_total{reason="intentional"} 0
# HELP tend_drift_resources Resources that differ from the applied revision at the last drift check, by kind.
# TYPE tend_drift_resources gauge
tend_drift_resources{kind="file"} 0
tend_drift_resources{kind="other"} 0
tend_drift_resources{kind="package"} 0
tend_drift_resources{kind="service"} 0
tend_drift_resources{kind="user"} 0
# HELP tend_guardrail_blocks_total Runs or revisions refused by a guardrail, by reason.
# TYPE tend_guardrail_blocks_total counter
tend_guardrail_blocks_total{reason="force_push"} 0
tend_guardrail_blocks_total{reason="max_changes"} 0
tend_guardrail_blocks_total{reason="rollout_delay"} 0
tend_guardrail_blocks_total{reason="window"} 0
# HELP tend_clock_jumps_total Times the wall clock moved apart from the monotonic clock by more than 2 s (plus 0.1% of the time between two looks), by direction.
# TYPE tend_clock_jumps_total counter
tend_clock_jumps_total{direction="backward"} 0
tend_clock_jumps_total{direction="forward"} 0
# HELP tend_window_open 1 while a change window is open (or none is configured), else 0.
# TYPE tend_window_open gauge
tend_window_open 1
# HELP tend_paused 1 while the agent is paused (tend pause), else 0.
# TYPE tend_paused gauge
tend_paused 0
`
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"tend_source_fetch_total", "tend_reconcile_total", "tend_resources", "tend_changes_total",
		"tend_drift_resources", "tend_guardrail_blocks_total", "tend_clock_jumps_total", "tend_window_open", "tend_paused")
	if err != nil {
		t.Error(err)
	}
	body := scrape(t, m)
	for _, mode := range []string{"apply", "check"} {
		if !strings.Contains(body, `tend_reconcile_duration_seconds_count{mode="`+mode+`"} 0`) {
			t.Errorf("histogram for mode %s not pre-initialised", mode)
		}
	}
	if n := testutil.CollectAndCount(m.sourceRevision); n != 0 {
		t.Errorf("source revision has %d series before any fetch", n)
	}
}

func TestInfoKeepsOneSeries(t *testing.T) {
	m := New("1.2.3")
	m.SetSourceRevision("main", "aaaa")
	m.SetSourceRevision("main", "bbbb")
	m.SetAppliedRevision("aaaa")
	m.SetAppliedRevision("bbbb")
	want := `
# HELP tend_source_revision_info Always 1; labels carry the newest fetched commit of the configured ref.
# TYPE tend_source_revision_info gauge
tend_source_revision_info{ref="main",revision="bbbb"} 1
# HELP tend_applied_revision_info Always 1; the revision label is the commit last applied on this host.
# TYPE tend_applied_revision_info gauge
tend_applied_revision_info{revision="bbbb"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "tend_source_revision_info", "tend_applied_revision_info"); err != nil {
		t.Error(err)
	}
	body := scrape(t, m)
	if !strings.Contains(body, `tend_build_info{goversion="go`) || !strings.Contains(body, `version="1.2.3"} 1`) {
		t.Errorf("build info missing:\n%s", body)
	}
}

func TestValues(t *testing.T) {
	m := exercised()
	at := float64(1764100000)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"fetch success", testutil.ToFloat64(m.fetches.WithLabelValues("success")), 1},
		{"fetch failure", testutil.ToFloat64(m.fetches.WithLabelValues("failure")), 1},
		{"verify failures", testutil.ToFloat64(m.verifyFailures), 1},
		{"reconcile success", testutil.ToFloat64(m.reconciles.WithLabelValues("success")), 1},
		{"reconcile failure", testutil.ToFloat64(m.reconciles.WithLabelValues("failure")), 1},
		{"last reconcile = the failed one", testutil.ToFloat64(m.lastReconcile), at + 60},
		{"last success = the successful one", testutil.ToFloat64(m.lastSuccess), at},
		{"resources ok", testutil.ToFloat64(m.resources.WithLabelValues("ok")), 10},
		{"resources skipped", testutil.ToFloat64(m.resources.WithLabelValues("skipped")), 3},
		{"changes intentional", testutil.ToFloat64(m.changes.WithLabelValues("intentional")), 2},
		{"changes corrective", testutil.ToFloat64(m.changes.WithLabelValues("corrective")), 1},
		{"drift file", testutil.ToFloat64(m.drift.WithLabelValues("file")), 2},
		{"drift unknown kind counts as other", testutil.ToFloat64(m.drift.WithLabelValues("other")), 1},
		{"drift package", testutil.ToFloat64(m.drift.WithLabelValues("package")), 0},
		{"drift since", testutil.ToFloat64(m.driftSince), at},
		{"drift checked", testutil.ToFloat64(m.lastDriftCheck), at + 120},
		{"paused", testutil.ToFloat64(m.paused), 1},
		{"window open", testutil.ToFloat64(m.windowOpen), 0},
		{"guardrail max_changes", testutil.ToFloat64(m.guardrailBlocks.WithLabelValues("max_changes")), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	body := scrape(t, m)
	for _, want := range []string{
		`tend_reconcile_duration_seconds_count{mode="apply"} 1`,
		`tend_reconcile_duration_seconds_sum{mode="apply"} 1.5`,
		`tend_reconcile_duration_seconds_bucket{mode="check",le="0.25"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// drift repaired: gauges go back to 0
	m.SetDrift(nil, time.Time{}, time.Unix(1764200000, 0))
	if v := testutil.ToFloat64(m.driftSince); v != 0 {
		t.Errorf("drift since after repair = %v", v)
	}
	if v := testutil.ToFloat64(m.drift.WithLabelValues("file")); v != 0 {
		t.Errorf("drift file after repair = %v", v)
	}
	m.AddChanges(ReasonCorrective, 0)
	if v := testutil.ToFloat64(m.changes.WithLabelValues("corrective")); v != 1 {
		t.Errorf("AddChanges(0) changed the counter to %v", v)
	}
}

func TestWriteTextfile(t *testing.T) {
	m := exercised()
	dir := t.TempDir()
	p := filepath.Join(dir, "tend.prom")
	if err := m.WriteTextfile(p); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Contains(text, "go_") || strings.Contains(text, "process_") {
		t.Errorf("textfile has go_/process_ metrics:\n%s", text)
	}
	// the same tend_ lines as /metrics
	var served []string
	for _, line := range strings.Split(scrape(t, m), "\n") {
		if strings.HasPrefix(line, "tend_") || strings.HasPrefix(line, "# HELP tend_") || strings.HasPrefix(line, "# TYPE tend_") {
			served = append(served, line)
		}
	}
	if got := strings.TrimSuffix(text, "\n"); got != strings.Join(served, "\n") {
		t.Errorf("textfile differs from /metrics:\n%s\n---\n%s", got, strings.Join(served, "\n"))
	}
	promtoolCheck(t, text)
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode %04o, want 0644 (node_exporter reads it)", fi.Mode().Perm())
	}
	// rewrite: new values replace old ones, no temp files left
	m.SetPaused(false)
	if err := m.WriteTextfile(p); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(p)
	if !strings.Contains(string(data), "\ntend_paused 0\n") {
		t.Error("rewritten textfile lacks tend_paused 0")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if err := m.WriteTextfile(filepath.Join(dir, "missing", "tend.prom")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestHandlerServesOpenMetricsToo(t *testing.T) {
	m := exercised()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "# EOF") {
		t.Errorf("OpenMetrics not served: %s", rec.Header().Get("Content-Type"))
	}
}
