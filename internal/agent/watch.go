package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/config"
	"github.com/tend-project/tend/internal/drift"
	"github.com/tend-project/tend/internal/lock"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/state"
)

// fastDrift is the agent's fast drift path: the index of managed files
// (rebuilt after every run), and, with drift.watch, the watcher whose
// signals make Run check the index at once. The zero value is ready.
type fastDrift struct {
	mu       sync.Mutex
	index    *drift.Index
	loaded   bool
	watcher  *drift.Watcher
	stop     context.CancelFunc
	done     chan struct{}
	sig      chan struct{}
	failures string // the last check's failures, to audit each set once

	// lastRepair and streak pace corrective applies (repairDelay);
	// waiting is set while a paced repair is scheduled
	lastRepair time.Time
	streak     int
	waiting    bool
}

// Repairs that follow each other closer than repairQuiet make a streak;
// after the first freeRepairs of a streak, each waits twice as long as the
// one before, up to maxRepairDelay: another tool fighting tend over a
// file, or a playbook that changes its own files with a command, must not
// make the agent apply in a tight loop.
const (
	repairQuiet    = 30 * time.Second
	freeRepairs    = 3
	maxRepairDelay = 5 * time.Minute
)

// pause is how long the next repair waits after the last one, when the
// streak holds n+1 repairs.
func pause(n int) time.Duration {
	if n+1 < freeRepairs {
		return 0
	}
	return min(time.Second<<min(n+1-freeRepairs, 16), maxRepairDelay)
}

// repairDelay is how long a corrective apply must still wait (0 = now),
// and whether that wait is news (no repair is scheduled yet): the caller
// then schedules one and says so, once.
func (f *fastDrift) repairDelay() (wait time.Duration, news bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastRepair.IsZero() {
		return 0, false
	}
	wait = max(pause(f.streak)-time.Since(f.lastRepair), 0)
	if wait > 0 && !f.waiting {
		f.waiting, news = true, true
	}
	return wait, news
}

// pacedRetry ends a pause: the check runs again and may repair.
func (f *fastDrift) pacedRetry() {
	f.mu.Lock()
	f.waiting = false
	f.mu.Unlock()
	f.poke()
}

// repaired records a corrective apply; it returns the streak's length. A
// repair continues the streak when it comes within repairQuiet of the
// moment the pause allowed it.
func (f *fastDrift) repaired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.lastRepair.IsZero() && time.Since(f.lastRepair) < pause(f.streak)+repairQuiet {
		f.streak++
	} else {
		f.streak = 0
	}
	f.lastRepair = time.Now()
	f.waiting = false
	return f.streak
}

// signal is the channel Run selects on: a debounced file event, or a retry.
func (f *fastDrift) signal() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sig == nil {
		f.sig = make(chan struct{}, 1)
	}
	return f.sig
}

func (f *fastDrift) poke() {
	select {
	case f.signal() <- struct{}{}:
	default:
	}
}

// loadIndex returns the index, reading state_dir/drift-index.json the first
// time. A corrupt index is logged and replaced by an empty one (the next run
// rebuilds it).
func (a *Agent) loadIndex(cfg *config.Config) *drift.Index {
	a.fast.mu.Lock()
	defer a.fast.mu.Unlock()
	if !a.fast.loaded {
		x, err := drift.Load(cfg.StateDir)
		if err != nil {
			a.log.Warn("drift index", "err", err)
			x, _ = drift.Build(a.Root, nil, nil, time.Now())
		}
		x.Root = a.Root
		a.fast.index, a.fast.loaded = x, true
	}
	return a.fast.index
}

// indexRun records the files a run managed, so the fast check and the
// watcher follow them. After an apply every managed file is recorded as it
// is now — or, for a file whose content tend wrote (wrote: path → sha256)
// and someone changed before the run ended, as tend wrote it, and the fast
// check looks at once. After a check-mode run, a file the check says would
// change keeps its old entry (it has drifted), and the others are recorded
// as they are.
func (a *Agent) indexRun(cfg *config.Config, rep *report.Report, wrote map[string]string) {
	if rep == nil {
		return
	}
	prev := a.loadIndex(cfg)
	targets := drift.Targets(rep)
	for i := range targets {
		targets[i].Wrote = wrote[targets[i].Path]
	}
	x, fails := drift.Build(a.Root, targets, prev, time.Now())
	for _, f := range fails {
		a.log.Warn("drift index: path not indexed", "path", f.Path, "reason", f.Reason)
	}
	if len(x.Unsettled) > 0 {
		a.log.Info("changed during the run after tend wrote them", "paths", x.Unsettled)
		a.fast.poke()
	}
	if err := x.Save(cfg.StateDir); err != nil {
		a.log.Warn("drift index", "err", err)
	}
	a.fast.mu.Lock()
	a.fast.index, a.fast.loaded = x, true
	w := a.fast.watcher
	a.fast.mu.Unlock()
	if w != nil {
		w.Set(x.Paths())
	}
}

// writeJournal collects, during an apply, the sha256 of what tend last
// wrote to each path (apply.Request.Wrote).
type writeJournal struct {
	mu   sync.Mutex
	sums map[string]string
}

func (j *writeJournal) wrote(path string, data []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.sums == nil {
		j.sums = map[string]string{}
	}
	if data == nil {
		delete(j.sums, filepath.Clean(path))
		return
	}
	sum := sha256.Sum256(data)
	j.sums[filepath.Clean(path)] = hex.EncodeToString(sum[:])
}

func (j *writeJournal) snapshot() map[string]string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return maps.Clone(j.sums)
}

// syncWatch starts or stops the watcher to match drift.watch (the config
// may change on SIGHUP). Called by Run before each wait.
func (a *Agent) syncWatch(ctx context.Context, cfg *config.Config) {
	a.fast.mu.Lock()
	running := a.fast.watcher != nil
	a.fast.mu.Unlock()
	switch {
	case cfg.Drift.Watch && !running:
		w, err := drift.NewWatcher(drift.DefaultDebounce, a.log.With("component", "drift-watch"))
		if err != nil {
			a.log.Warn("drift.watch is on but file events are unavailable; drift is found on drift.interval only", "err", err)
			return
		}
		x := a.loadIndex(cfg)
		w.Set(x.Paths())
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			stopped := make(chan struct{})
			go func() { w.Run(wctx); close(stopped) }()
			for {
				select {
				case <-stopped:
					return
				case <-w.C():
					a.fast.poke()
				}
			}
		}()
		a.fast.mu.Lock()
		a.fast.watcher, a.fast.stop, a.fast.done = w, cancel, done
		a.fast.mu.Unlock()
		a.log.Info("drift watch started", "paths", x.Len())
		// anything that changed while no one watched
		a.fast.poke()
	case !cfg.Drift.Watch && running:
		a.stopWatch()
	}
}

// fullHashTimer fires when the periodic full hash
// (drift.full_hash_interval) is due, so content changed behind forged
// stat data is found even when no event comes; nil when the watcher is off
// or every check hashes everything anyway (interval 0).
func (a *Agent) fullHashTimer(cfg *config.Config) <-chan time.Time {
	every := cfg.Drift.FullHashInterval
	a.fast.mu.Lock()
	x, running := a.fast.index, a.fast.watcher != nil
	a.fast.mu.Unlock()
	if every <= 0 || !running || x.Len() == 0 {
		return nil
	}
	return time.After(max(time.Until(x.NextFullHash(every)), 0))
}

// stopWatch ends the watcher, if one runs.
func (a *Agent) stopWatch() {
	a.fast.mu.Lock()
	stop, done := a.fast.stop, a.fast.done
	a.fast.watcher, a.fast.stop, a.fast.done = nil, nil, nil
	a.fast.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// fastCheck is the watcher's drift check: stat every managed file, hash
// what changed, and report the drift at once — state.json, metrics, audit,
// the textfile — then, with drift.remediate, apply the applied revision to
// repair it. It holds the run lock; when another run holds it, it retries
// shortly.
func (a *Agent) fastCheck(ctx context.Context) {
	a.checkClock()
	cfg := a.Config()
	lk, err := lock.Acquire(cfg.StateDir, 0)
	if err != nil {
		var held *lock.HeldError
		if errors.As(err, &held) {
			time.AfterFunc(500*time.Millisecond, a.fast.poke)
			return
		}
		a.log.Warn("drift check", "err", err)
		return
	}
	defer lk.Release()
	x := a.loadIndex(cfg)
	if x.Len() == 0 {
		return
	}
	st, err := state.Load(cfg.StateDir)
	if err != nil {
		var ce *state.CorruptError
		if !errors.As(err, &ce) {
			a.log.Warn("drift check", "err", err)
			return
		}
	}
	now := time.Now()
	full := x.FullHashDue(cfg.Drift.FullHashInterval, now)
	res := x.Check(ctx, full)
	if ctx.Err() != nil {
		return // shutting down: report nothing half-checked
	}
	if res.Refreshed > 0 || full {
		if err := x.Save(cfg.StateDir); err != nil {
			a.log.Warn("drift index", "err", err)
		}
	}
	a.auditFailures(st, res.Failures)

	prev := st.Drift.Resources
	cur := mergeFileDrift(prev, x, res)
	counts := map[string]int{}
	for _, r := range cur {
		counts[r.Kind]++
	}
	if len(cur) == 0 {
		st.Drift = state.Drift{Time: now}
	} else {
		since := st.Drift.Since
		if since.IsZero() {
			since = now
		}
		st.Drift = state.Drift{Time: now, Counts: counts, Since: since, Resources: cur}
	}
	seen := map[string]string{}
	for _, r := range prev {
		seen[r.Kind+":"+r.ID] = strings.Join(r.Differs, ",")
	}
	for _, d := range res.Drifted {
		key, differs := "file:"+d.Path, strings.Join(d.Differs, ",")
		if seen[key] == differs {
			continue // already reported
		}
		a.auditWrite(audit.Entry{Kind: "drift", Revision: st.AppliedRevision, Resource: key, Result: "drifted",
			Msg: differs + ": " + d.Detail})
	}
	a.log.Debug("drift check", "paths", res.Checked, "hashed", res.Hashed, "full", res.Full,
		"drifted", len(res.Drifted), "took", res.Duration)
	// state.json first, then /metrics and the textfile: whoever sees the
	// gauge move finds the details in /status
	if err := a.saveState(cfg, st); err != nil {
		a.log.Warn("drift check", "err", err)
	}
	a.Metrics.SetDrift(counts, st.Drift.Since, now)
	a.writeTextfile(cfg)
	if len(res.Drifted) == 0 {
		return
	}
	a.log.Info("drift detected", "files", len(res.Drifted), "remediate", cfg.Drift.Remediate)
	if why := a.remediationBlocked(cfg, st, len(cur), now); why != "" {
		if cfg.Drift.Remediate {
			a.log.Info("drift not remediated", "why", why)
		}
		return
	}
	if wait, news := a.fast.repairDelay(); wait > 0 {
		if news {
			a.log.Warn("drift keeps coming back right after each repair; repairs are now paced",
				"next_repair_in", wait.Round(time.Millisecond),
				"hint", "another tool managing the same files, or a task changing a file tend writes?")
			time.AfterFunc(wait, a.fast.pacedRetry)
		}
		return
	}
	a.fast.repaired()
	if err := a.apply(ctx, cfg, st, st.AppliedRevision, "corrective"); err != nil {
		a.log.Warn("corrective apply failed", "err", err)
	}
	if err := a.saveState(cfg, st); err != nil {
		a.log.Warn("drift check", "err", err)
	}
	a.writeTextfile(cfg)
}

// remediationBlocked says why drift found by the watcher is not repaired
// now ("" = repair it): remediation off, a paused host, a closed window, too
// many changes for guardrails.max_changes (the drift-interval check asks for
// an approval), or a last apply of this revision that failed (the next cycle
// retries; the watcher does not loop on it).
func (a *Agent) remediationBlocked(cfg *config.Config, st *state.State, n int, now time.Time) string {
	switch {
	case !cfg.Drift.Remediate:
		return "drift.remediate is false"
	case st.AppliedRevision == "":
		return "nothing applied yet"
	case st.Pause.Paused:
		return "paused: " + st.Pause.Reason
	case !config.WindowOpen(cfg.Guardrails.Windows, now):
		return "outside guardrails.windows"
	case cfg.Guardrails.MaxChanges > 0 && n > cfg.Guardrails.MaxChanges && !st.IsApproved(st.AppliedRevision):
		return fmt.Sprintf("%d drifted resources exceed guardrails.max_changes %d", n, cfg.Guardrails.MaxChanges)
	case st.Run.Mode == "apply" && st.Run.Error != "" && st.Run.Revision == st.AppliedRevision:
		return "the last apply of this revision failed: " + st.Run.Error
	}
	return ""
}

// mergeFileDrift replaces the indexed files' part of the last drift report
// by the fast check's findings; other kinds (packages, services, ...) and
// files the index does not hold, or could not check now, keep what the
// last check-mode run said.
func mergeFileDrift(prev []module.Resource, x *drift.Index, res *drift.Result) []module.Resource {
	unknown := map[string]bool{}
	for _, f := range res.Failures {
		unknown[f.Path] = true
	}
	found := map[string]bool{}
	for _, d := range res.Drifted {
		found[d.Path] = true
	}
	var out []module.Resource
	for _, r := range prev {
		if r.Kind == "file" && x.Lookup(r.ID) != nil && !unknown[r.ID] || r.Kind == "file" && found[r.ID] {
			continue
		}
		out = append(out, r)
	}
	out = append(out, res.Resources()...)
	return out
}

// auditFailures writes one audit line per path the check could not look
// at, once per distinct set, and logs them.
func (a *Agent) auditFailures(st *state.State, fails []drift.Failure) {
	var keys []string
	for _, f := range fails {
		keys = append(keys, f.Path+"\x00"+f.Reason)
	}
	slices.Sort(keys)
	key := strings.Join(keys, "\x01")
	a.fast.mu.Lock()
	same := key == a.fast.failures
	a.fast.failures = key
	a.fast.mu.Unlock()
	if same {
		return
	}
	for _, f := range fails {
		a.log.Warn("drift check failed for a path", "path", f.Path, "reason", f.Reason)
		a.auditWrite(audit.Entry{Kind: "drift", Revision: st.AppliedRevision, Resource: "file:" + f.Path, Result: "failed", Msg: f.Reason})
	}
}
