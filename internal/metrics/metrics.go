// Package metrics owns tend's Prometheus metrics (DESIGN.md "Metrics"): their
// names, labels and help, one private Registry (never the global one) with
// the Go and process collectors, the /metrics handler, and the same values
// written for node_exporter's textfile collector.
//
// Gauges describe the last run or check, counters end in _total, timestamps
// are _timestamp_seconds, and revisions live in _info labels with exactly one
// series at a time. Every known label value starts at 0, so alerts and
// rate() work from the first scrape.
package metrics

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/atomicfile"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Label values.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"

	ModeApply = "apply"
	ModeCheck = "check"

	StatusOK      = "ok"
	StatusChanged = "changed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"

	ReasonIntentional = "intentional" // a change brought by a new commit
	ReasonCorrective  = "corrective"  // a change that repaired drift

	KindFile    = "file"
	KindPackage = "package"
	KindService = "service"
	KindUser    = "user"
	KindOther   = "other"

	BlockMaxChanges   = "max_changes"   // would change more than guardrails.max_changes
	BlockWindow       = "window"        // outside guardrails.windows
	BlockRolloutDelay = "rollout_delay" // commit younger than guardrails.rollout_delay
	BlockForcePush    = "force_push"    // history not a fast-forward, allow_force_push false
)

// DriftKinds are the kinds tend_drift_resources always exports.
var DriftKinds = []string{KindFile, KindPackage, KindService, KindUser, KindOther}

// Metrics holds every tend metric and the registry they are served from.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	sourceRevision  *info
	appliedRevision *info

	fetches          *prometheus.CounterVec
	verifyFailures   prometheus.Counter
	reconciles       *prometheus.CounterVec
	reconcileSeconds *prometheus.HistogramVec
	lastReconcile    prometheus.Gauge
	lastSuccess      prometheus.Gauge
	resources        *prometheus.GaugeVec
	changes          *prometheus.CounterVec
	drift            *prometheus.GaugeVec
	driftSince       prometheus.Gauge
	lastDriftCheck   prometheus.Gauge
	paused           prometheus.Gauge
	windowOpen       prometheus.Gauge
	guardrailBlocks  *prometheus.CounterVec
	clockJumps       *prometheus.CounterVec
}

// New makes the metrics, registered on a fresh registry together with the
// Go and process collectors. version is tend's version for tend_build_info.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}

	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tend_build_info", Help: "Always 1; labels carry the tend version and the Go version it was built with.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)

	m.sourceRevision = newInfo("tend_source_revision_info",
		"Always 1; labels carry the newest fetched commit of the configured ref.", "ref", "revision")
	m.appliedRevision = newInfo("tend_applied_revision_info",
		"Always 1; the revision label is the commit last applied on this host.", "revision")

	m.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tend_source_fetch_total", Help: "Fetches of the source repository, by result.",
	}, []string{"result"})
	m.verifyFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tend_source_verify_failures_total", Help: "Fetched commits refused because their signature did not verify.",
	})
	m.reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tend_reconcile_total", Help: "Runs of the playbooks, by result.",
	}, []string{"result"})
	m.reconcileSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tend_reconcile_duration_seconds",
		Help:    "How long runs of the playbooks took, by mode (apply or check).",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"mode"})
	m.lastReconcile = gauge("tend_last_reconcile_timestamp_seconds", "When the last run of the playbooks ended, in Unix seconds.")
	m.lastSuccess = gauge("tend_last_success_timestamp_seconds", "When the last successful run of the playbooks ended, in Unix seconds.")
	m.resources = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tend_resources", Help: "Task results of the last run, by status.",
	}, []string{"status"})
	m.changes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tend_changes_total", Help: "Changes made to this host: intentional (a new commit) or corrective (repairing drift).",
	}, []string{"reason"})
	m.drift = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tend_drift_resources", Help: "Resources that differ from the applied revision at the last drift check, by kind.",
	}, []string{"kind"})
	m.driftSince = gauge("tend_drift_since_timestamp_seconds", "Since when the host has drifted, in Unix seconds; 0 when it has not.")
	m.lastDriftCheck = gauge("tend_last_drift_check_timestamp_seconds", "When drift was last checked, in Unix seconds.")
	m.paused = gauge("tend_paused", "1 while the agent is paused (tend pause), else 0.")
	m.windowOpen = gauge("tend_window_open", "1 while a change window is open (or none is configured), else 0.")
	m.guardrailBlocks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tend_guardrail_blocks_total", Help: "Runs or revisions refused by a guardrail, by reason.",
	}, []string{"reason"})
	m.clockJumps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tend_clock_jumps_total", Help: "Times the wall clock moved apart from the monotonic clock by more than 2 s (plus 0.1% of the time between two looks), by direction.",
	}, []string{"direction"})

	// Known label values start at 0.
	m.clockJumps.WithLabelValues("forward")
	m.clockJumps.WithLabelValues("backward")
	for _, r := range []string{ResultSuccess, ResultFailure} {
		m.fetches.WithLabelValues(r)
		m.reconciles.WithLabelValues(r)
	}
	for _, mode := range []string{ModeApply, ModeCheck} {
		m.reconcileSeconds.WithLabelValues(mode)
	}
	for _, s := range []string{StatusOK, StatusChanged, StatusFailed, StatusSkipped} {
		m.resources.WithLabelValues(s)
	}
	for _, r := range []string{ReasonIntentional, ReasonCorrective} {
		m.changes.WithLabelValues(r)
	}
	for _, k := range DriftKinds {
		m.drift.WithLabelValues(k)
	}
	for _, r := range []string{BlockMaxChanges, BlockWindow, BlockRolloutDelay, BlockForcePush} {
		m.guardrailBlocks.WithLabelValues(r)
	}
	m.windowOpen.Set(1) // no windows configured = always open

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo, m.sourceRevision, m.appliedRevision,
		m.fetches, m.verifyFailures, m.reconciles, m.reconcileSeconds,
		m.lastReconcile, m.lastSuccess, m.resources, m.changes,
		m.drift, m.driftSince, m.lastDriftCheck, m.paused, m.windowOpen, m.guardrailBlocks, m.clockJumps,
	)
	return m
}

// Registry is the registry the metrics live on (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetSourceRevision records the newest fetched commit of ref; the previous
// series is replaced, not kept.
func (m *Metrics) SetSourceRevision(ref, rev string) { m.sourceRevision.set(ref, rev) }

// SetAppliedRevision records the commit applied on this host.
func (m *Metrics) SetAppliedRevision(rev string) { m.appliedRevision.set(rev) }

// FetchResult counts one fetch of the source.
func (m *Metrics) FetchResult(ok bool) { m.fetches.WithLabelValues(result(ok)).Inc() }

// VerifyFailure counts one commit refused for its signature.
func (m *Metrics) VerifyFailure() { m.verifyFailures.Inc() }

// Reconcile records one run of the playbooks in mode (ModeApply or
// ModeCheck) that took d and ended at at.
func (m *Metrics) Reconcile(mode string, success bool, d time.Duration, at time.Time) {
	m.reconciles.WithLabelValues(result(success)).Inc()
	m.reconcileSeconds.WithLabelValues(mode).Observe(d.Seconds())
	m.lastReconcile.Set(unix(at))
	if success {
		m.lastSuccess.Set(unix(at))
	}
}

// SetResources sets the last run's task counts.
func (m *Metrics) SetResources(ok, changed, failed, skipped int) {
	m.resources.WithLabelValues(StatusOK).Set(float64(ok))
	m.resources.WithLabelValues(StatusChanged).Set(float64(changed))
	m.resources.WithLabelValues(StatusFailed).Set(float64(failed))
	m.resources.WithLabelValues(StatusSkipped).Set(float64(skipped))
}

// AddChanges counts n changes made for reason (ReasonIntentional or ReasonCorrective).
func (m *Metrics) AddChanges(reason string, n int) {
	if n > 0 {
		m.changes.WithLabelValues(reason).Add(float64(n))
	}
}

// SetDrift records a drift check done at checkedAt: drifted resources per
// kind (kinds not in DriftKinds count as "other", missing kinds as 0) and
// since when the host has drifted (zero time = no drift).
func (m *Metrics) SetDrift(perKind map[string]int, since, checkedAt time.Time) {
	counts := map[string]int{}
	for k, n := range perKind {
		if !isDriftKind(k) {
			k = KindOther
		}
		counts[k] += n
	}
	for _, k := range DriftKinds {
		m.drift.WithLabelValues(k).Set(float64(counts[k]))
	}
	if since.IsZero() {
		m.driftSince.Set(0)
	} else {
		m.driftSince.Set(unix(since))
	}
	m.lastDriftCheck.Set(unix(checkedAt))
}

// SetPaused sets tend_paused.
func (m *Metrics) SetPaused(paused bool) { m.paused.Set(boolValue(paused)) }

// SetWindowOpen sets tend_window_open.
func (m *Metrics) SetWindowOpen(open bool) { m.windowOpen.Set(boolValue(open)) }

// GuardrailBlock counts one refusal by a guardrail (BlockMaxChanges, …).
func (m *Metrics) GuardrailBlock(reason string) { m.guardrailBlocks.WithLabelValues(reason).Inc() }

// ClockJump counts a jump of the wall clock, "forward" or "backward".
func (m *Metrics) ClockJump(direction string) { m.clockJumps.WithLabelValues(direction).Inc() }

// Handler serves the metrics in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// WriteTextfile writes the tend_ metrics (not the go_ and process_ ones,
// which node_exporter exports itself) in the text format to path, for
// node_exporter's textfile collector. The write is atomic: readers see the
// old file or the new one. path should end in .prom.
func (m *Metrics) WriteTextfile(path string) error {
	families, err := m.reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if !strings.HasPrefix(mf.GetName(), "tend_") {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode metrics: %w", err)
		}
	}
	return writeAtomic(path, buf.Bytes())
}

// writeAtomic writes the textfile; the temp name does not end in .prom, so
// node_exporter never reads a half-written file.
func writeAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write textfile: %w", err)
	}
	return nil
}

func result(ok bool) string {
	if ok {
		return ResultSuccess
	}
	return ResultFailure
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func isDriftKind(k string) bool {
	for _, d := range DriftKinds {
		if k == d {
			return true
		}
	}
	return false
}

// info is an _info metric with exactly one series (value 1) or none: setting
// new labels replaces the old series in one step, so no scrape sees two.
type info struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	labels []string // nil = no series
}

func newInfo(name, help string, labels ...string) *info {
	return &info{desc: prometheus.NewDesc(name, help, labels, nil)}
}

// set replaces the series; all-empty label values remove it.
func (i *info) set(values ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if strings.Join(values, "") == "" {
		i.labels = nil
		return
	}
	i.labels = values
}

func (i *info) Describe(ch chan<- *prometheus.Desc) { ch <- i.desc }

func (i *info) Collect(ch chan<- prometheus.Metric) {
	i.mu.Lock()
	labels := i.labels
	i.mu.Unlock()
	if labels != nil {
		ch <- prometheus.MustNewConstMetric(i.desc, prometheus.GaugeValue, 1, labels...)
	}
}

var _ prometheus.Collector = (*info)(nil)
