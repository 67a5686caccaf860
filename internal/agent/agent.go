// Package agent is tend's GitOps loop: on its interval (plus splay), on a
// webhook or at start it syncs the host-state repo, and when a new verified
// commit arrived or the drift interval passed it runs this host's playbook
// through the engine — for real, or in check mode to find drift. It records
// state.json, audit lines and metrics, and serves /metrics, /healthz,
// /status and /hooks/sync. One run at a time per host (state_dir lock).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/apply"
	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/backup"
	"github.com/tend-project/tend/internal/config"
	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/lock"
	"github.com/tend-project/tend/internal/metrics"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/source"
	"github.com/tend-project/tend/internal/state"
)

// Agent ties the source, the engine, state, audit and metrics together.
type Agent struct {
	cfgPath string
	version string
	log     *slog.Logger

	mu      sync.Mutex // guards cfg, repo, audit
	cfg     *config.Config
	repo    *source.Repo
	audit   *audit.Log
	Metrics *metrics.Metrics

	// Root maps the host's paths under a directory and runs no commands
	// (make demo); "" = the real system.
	Root string

	syncNow   chan struct{}
	lastDrift time.Time
	consumed  []string // approvals used in this cycle
	failures  int
	alive     time.Time
	clock     clockWatch // notices wall clock jumps (clock.go)
	fast      fastDrift  // index of managed files and the drift watcher (watch.go)
}

// New loads the config (an error names the bad key) and prepares state_dir.
func New(cfgPath, version string, log *slog.Logger) (*Agent, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfgPath: cfgPath, version: version, log: log, syncNow: make(chan struct{}, 1)}
	a.Metrics = metrics.New(version)
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload re-reads the config (SIGHUP). On error the old config stays.
func (a *Agent) Reload() error {
	cfg, err := config.Load(a.cfgPath)
	if err != nil {
		return err
	}
	dir := cfg.StateDir
	note, err := state.PrepareDir(dir)
	if err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	if note != "" {
		a.log.Warn("state_dir", "fixed", note)
	}
	repo, err := source.Open(sourceConfig(cfg, a.log))
	if err != nil {
		return err
	}
	al, err := audit.Open(filepath.Join(dir, "audit.jsonl"), cfg.Audit.MaxBytes)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg, a.repo, a.audit = cfg, repo, al
	a.mu.Unlock()
	return nil
}

// Config returns the current config.
func (a *Agent) Config() *config.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

func sourceConfig(cfg *config.Config, log *slog.Logger) source.Config {
	return source.Config{
		URL: cfg.Source.URL, Ref: cfg.Source.Ref, Dir: filepath.Join(cfg.StateDir, "checkout"),
		Depth: cfg.Source.Depth, SSHKeyFile: cfg.Source.SSHKey, KnownHostsFile: cfg.Source.KnownHosts,
		BasicAuthFile: cfg.Source.HTTPAuthFile,
		Verify: source.VerifyConfig{Mode: cfg.Source.Verify.Mode, AllowedSigners: cfg.Source.Verify.AllowedSigners,
			Keyring: cfg.Source.Verify.Keyring, AllCommits: cfg.Source.Verify.AllCommits},
		AllowForcePush: cfg.Source.AllowForcePush,
		Logger:         log,
	}
}

// TriggerSync asks the loop for an immediate sync (webhook).
func (a *Agent) TriggerSync() {
	select {
	case a.syncNow <- struct{}{}:
	default:
	}
}

// Run is the daemon: a cycle at start, then one per interval with splay,
// on webhooks, and when the drift interval passes. With drift.watch, file
// events on managed files run the fast drift check (watch.go) between
// cycles. It returns when ctx ends, after the current task finished and
// state was saved.
func (a *Agent) Run(ctx context.Context) error {
	a.Metrics.SetPaused(false)
	defer a.stopWatch()
	for {
		err := a.Cycle(ctx)
		a.alive = time.Now()
		if ctx.Err() != nil {
			return nil
		}
		cfg := a.Config()
		wait := cfg.Source.Interval
		if cfg.Source.Splay > 0 {
			wait += time.Duration(rand.Int64N(int64(cfg.Source.Splay)))
		}
		if err != nil {
			a.failures++
			back := time.Second << min(a.failures, 16)
			if back < wait {
				wait = back
			}
			a.log.Warn("cycle failed", "err", err, "retry_in", wait)
		} else {
			a.failures = 0
		}
		if d := cfg.Drift.Interval; d > 0 {
			if next := time.Until(a.lastDrift.Add(d)); next < wait {
				wait = max(next, 0)
			}
		}
		a.syncWatch(ctx, cfg)
		deadline := time.Now().Add(wait)
	waiting:
		for {
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-a.syncNow:
				t.Stop()
				break waiting
			case <-t.C:
				break waiting
			case <-a.fast.signal():
				t.Stop()
				a.fastCheck(ctx)
			case <-a.fullHashTimer(cfg):
				t.Stop()
				a.fastCheck(ctx)
			}
		}
	}
}

// Cycle is one full pass: sync, then apply or check. It holds the run lock.
// Guardrails decide whether a new revision is applied now (see gate); a
// paused host, or one outside its windows, is still checked for drift.
func (a *Agent) Cycle(ctx context.Context) error {
	a.checkClock()
	cfg := a.Config()
	lk, err := lock.Acquire(cfg.StateDir, 5*time.Minute)
	if err != nil {
		return err
	}
	defer lk.Release()

	st, err := state.Load(cfg.StateDir)
	if err != nil {
		var ce *state.CorruptError
		if !errors.As(err, &ce) {
			return err
		}
		a.log.Error("state.json was corrupt; starting fresh", "err", err)
	}
	now := time.Now()
	windowOpen := config.WindowOpen(cfg.Guardrails.Windows, now)
	a.Metrics.SetPaused(st.Pause.Paused)
	a.Metrics.SetWindowOpen(windowOpen)
	if st.AppliedRevision != "" {
		a.Metrics.SetAppliedRevision(st.AppliedRevision)
	}
	a.consumed = nil

	prevTip := st.Sync.Revision
	rev, syncErr := a.sync(ctx, cfg, st)
	if syncErr != nil && !a.haveCheckout(cfg) {
		a.saveState(cfg, st)
		a.writeTextfile(cfg)
		return syncErr
	}
	if st.PinnedRevision != "" && syncErr == nil && rev.Hash != "" && prevTip != "" && rev.Hash != prevTip && rev.Hash != st.PinnedRevision {
		a.auditWrite(audit.Entry{Kind: audit.KindRollback, Revision: rev.Hash, Result: "unpinned",
			Msg: fmt.Sprintf("a newer commit arrived; the pin to %s is lifted", short(st.PinnedRevision))})
		st.PinnedRevision = ""
	}
	target := st.AppliedRevision
	if rev.Hash != "" && syncErr == nil {
		target = rev.Hash
	}
	if st.PinnedRevision != "" {
		target = st.PinnedRevision
	}
	driftDue := a.lastDrift.IsZero() || cfg.Drift.Interval > 0 && time.Since(a.lastDrift) >= cfg.Drift.Interval

	var runErr error
	switch {
	case target == "":
		runErr = syncErr
	case st.Pause.Paused:
		// report drift of what is applied; change nothing
		runErr = a.checkApplied(ctx, cfg, st, target)
	case target != st.AppliedRevision || interruptedApply(st, target):
		why, err := a.gate(ctx, cfg, st, target, now)
		switch {
		case err != nil:
			runErr = err
		case why != "":
			if st.AppliedRevision != "" && driftDue {
				runErr = a.checkApplied(ctx, cfg, st, st.AppliedRevision)
			}
		default:
			runErr = a.apply(ctx, cfg, st, target, "intentional")
		}
	case driftDue:
		runErr = a.drift(ctx, cfg, st, target, cfg.Drift.Remediate && windowOpen)
	}
	if err := a.saveState(cfg, st); err != nil {
		return err
	}
	a.writeTextfile(cfg)
	if syncErr != nil {
		return syncErr
	}
	return runErr
}

// checkApplied checks the applied revision for drift without changing anything.
func (a *Agent) checkApplied(ctx context.Context, cfg *config.Config, st *state.State, rev string) error {
	if st.AppliedRevision == "" {
		return nil
	}
	if err := a.repoNow().Checkout(ctx, st.AppliedRevision); err != nil {
		return fmt.Errorf("checkout %s: %w", short(st.AppliedRevision), err)
	}
	return a.drift(ctx, cfg, st, st.AppliedRevision, false)
}

// saveState writes st, keeping what operators changed meanwhile (pause,
// approvals) through `tend pause` and `tend approve`.
func (a *Agent) saveState(cfg *config.Config, st *state.State) error {
	err := state.Update(cfg.StateDir, func(disk *state.State) error {
		pause, approved := disk.Pause, disk.Approved
		pending := st.Pending
		if pending != nil && slices.Contains(approved, pending.Revision) {
			pending = nil
		}
		*disk = *st
		disk.Pause = pause
		disk.Pending = pending
		disk.Approved = slices.DeleteFunc(slices.Clone(approved), func(r string) bool { return slices.Contains(a.consumed, r) })
		return nil
	})
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

func (a *Agent) repoNow() *source.Repo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repo
}

func (a *Agent) haveCheckout(cfg *config.Config) bool {
	_, err := os.Stat(filepath.Join(cfg.StateDir, "checkout", ".git"))
	return err == nil
}

func (a *Agent) writeTextfile(cfg *config.Config) {
	if cfg.Textfile == "" {
		return
	}
	if err := a.Metrics.WriteTextfile(cfg.Textfile); err != nil {
		a.log.Warn("textfile", "err", err)
	}
}

// sync fetches and verifies the newest commit of the ref and checks it out.
func (a *Agent) sync(ctx context.Context, cfg *config.Config, st *state.State) (source.Revision, error) {
	a.mu.Lock()
	repo := a.repo
	a.mu.Unlock()
	now := time.Now()
	rev, err := repo.Sync(ctx, st.AppliedRevision)
	st.Sync.Time = now
	if err != nil {
		st.Sync.Result, st.Sync.Error = "failure", err.Error()
		a.Metrics.FetchResult(false)
		var ve *source.VerifyError
		var nf *source.NotFastForwardError
		switch {
		case errors.As(err, &ve):
			a.Metrics.VerifyFailure()
			st.Blocked = fmt.Sprintf("commit %s failed verification: %s", short(ve.Commit), ve.Reason)
			a.auditWrite(audit.Entry{Kind: audit.KindVerifyFailure, Revision: ve.Commit, Result: "refused", Msg: ve.Reason})
		case errors.As(err, &nf):
			if st.Blocked != err.Error() {
				a.Metrics.GuardrailBlock(metrics.BlockForcePush)
			}
			st.Blocked = err.Error()
			a.auditWrite(audit.Entry{Kind: audit.KindSync, Revision: nf.Tip, Result: "refused", Msg: err.Error()})
		default:
			a.auditWrite(audit.Entry{Kind: audit.KindSync, Result: "failure", Msg: err.Error()})
		}
		return rev, err
	}
	a.Metrics.FetchResult(true)
	a.Metrics.SetSourceRevision(cfg.Source.Ref, rev.Hash)
	if st.Sync.Revision != rev.Hash {
		a.auditWrite(audit.Entry{Kind: audit.KindSync, Revision: rev.Hash, Author: rev.Author, Committer: rev.Committer, Signer: rev.Signer, Result: "success"})
	}
	st.Sync.Result, st.Sync.Error, st.Sync.Revision = "success", "", rev.Hash
	if strings.HasPrefix(st.Blocked, "commit ") || strings.Contains(st.Blocked, "fast-forward") {
		st.Blocked = ""
	}
	return rev, nil
}

func (a *Agent) auditWrite(e audit.Entry) {
	a.mu.Lock()
	al := a.audit
	a.mu.Unlock()
	if err := al.Write(e); err != nil {
		a.log.Error("audit", "err", err)
	}
}

// runRequest builds the engine request for this host on the checkout.
func (a *Agent) runRequest(cfg *config.Config, check bool) (apply.Request, error) {
	dir := filepath.Join(cfg.StateDir, "checkout")
	pb, err := resolvePlaybook(dir, cfg.Playbook)
	if err != nil {
		return apply.Request{}, err
	}
	hostName := cfg.Host
	if hostName == "" {
		hostName, _ = os.Hostname()
	}
	req := apply.Request{Playbooks: []string{pb}, Check: check, Connection: "local", Root: a.Root,
		Sink: report.Multi{}, Log: a.log, Backend: cfg.Backend}
	if cfg.Inventory != "" {
		req.Inventories = []string{filepath.Join(dir, cfg.Inventory)}
		req.Limit = hostName
	} else {
		req.Inventories = []string{hostName + ","}
	}
	if cfg.VaultPasswordFile != "" {
		req.VaultPasswordFile = cfg.VaultPasswordFile
	}
	req.Confine = dir
	// the repo's ansible.cfg (roles_path, gathering, ...) counts, as it
	// does for ansible-pull, which runs ansible-playbook in the checkout
	req.AnsibleCfgDir = dir
	return req, nil
}

// resolvePlaybook finds the playbook as ansible-pull does: the configured
// one, else <fqdn>.yml, <hostname>.yml, local.yml.
func resolvePlaybook(dir, configured string) (string, error) {
	if configured != "" {
		p := filepath.Join(dir, configured)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("playbook %s not found in the repo", configured)
		}
		return p, nil
	}
	hn, _ := os.Hostname()
	short, _, _ := strings.Cut(hn, ".")
	for _, c := range []string{hn + ".yml", short + ".yml", "local.yml"} {
		p := filepath.Join(dir, c)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no playbook: set playbook in the config, or add %s.yml, %s.yml or local.yml to the repo", hn, short)
}

// apply runs the playbook for real at rev. Every file a module changes is
// saved in the backup store first; the run's manifest gives the audit's
// before/after checksums and what `tend rollback` restores.
func (a *Agent) apply(ctx context.Context, cfg *config.Config, st *state.State, rev, reason string) error {
	repo := a.repoNow()
	if err := repo.Checkout(ctx, rev); err != nil {
		return fmt.Errorf("checkout %s: %w", short(rev), err)
	}
	req, err := a.runRequest(cfg, false)
	if err == nil {
		// validate before anything changes
		var pbs []*playbook.Playbook
		if pbs, err = apply.Preflight(ctx, req); err == nil {
			for _, pb := range pbs {
				if err = engine.CheckConfined(pb, req.Confine); err != nil {
					break
				}
			}
		}
	}
	desc, _ := repo.Describe(rev)
	if err == nil && cfg.Source.Verify.Mode != "" && cfg.Source.Verify.Mode != config.VerifyNone {
		// verify again what is about to run (also a pinned or retried
		// revision), and learn its signer for the audit
		var vs []source.Revision
		if vs, err = repo.Verify(ctx, "", rev); err == nil && len(vs) > 0 {
			desc = vs[len(vs)-1]
		}
	}
	if err != nil {
		st.Blocked = fmt.Sprintf("revision %s refused: %v", short(rev), err)
		st.Run = state.Run{Time: time.Now(), Revision: rev, Mode: "apply", Error: err.Error()}
		a.Metrics.Reconcile("apply", false, 0, time.Now())
		a.auditWrite(audit.Entry{Kind: audit.KindRun, Revision: rev, Author: desc.Author, Committer: desc.Committer, Result: "refused", Msg: err.Error()})
		return err
	}
	store, err := backups(cfg)
	if err != nil {
		return err
	}
	brun := store.Begin(rev)
	var bhost host.Host
	var bmu sync.Mutex
	req.Backup = func(ctx context.Context, h host.Host, path string) error {
		bmu.Lock()
		bhost = h
		bmu.Unlock()
		return brun.Save(ctx, h, path)
	}
	var journal writeJournal
	req.Wrote = journal.wrote
	start := time.Now()
	rep, runErr := apply.Run(ctx, req)
	d := time.Since(start)
	a.indexRun(cfg, rep, journal.snapshot()) // drift index of the managed files (watch.go)
	manifest, berr := brun.Finish(ctx, bhost)
	if berr != nil {
		a.log.Warn("backup store", "err", berr)
	}
	run := summarize(rep, rev, "apply", start, d)
	ok := runErr == nil && run.Failed == 0 && (rep == nil || rep.Totals().Unreachable == 0)
	if runErr != nil {
		run.Error = runErr.Error()
	} else if !ok {
		run.Error = fmt.Sprintf("%d task(s) failed", run.Failed)
		if first := firstFailure(rep); first != "" {
			run.Error += "; first: " + first
		}
	}
	st.Run = run
	st.AppliedRevision = rev
	if st.IsApproved(rev) || st.Pending != nil && st.Pending.Revision == rev {
		consumeApproval(st, rev)
		a.consumed = append(a.consumed, rev)
	}
	if ok {
		st.MarkGood(rev)
		if strings.HasPrefix(st.Blocked, "revision ") || strings.HasPrefix(st.Blocked, guardPrefix) {
			st.Blocked = ""
		}
		st.Drift = state.Drift{Time: time.Now()}
		a.Metrics.SetDrift(map[string]int{}, time.Time{}, time.Now())
	}
	a.lastDrift = time.Now()
	a.Metrics.SetAppliedRevision(rev)
	a.Metrics.Reconcile("apply", ok, d, start)
	a.Metrics.SetResources(run.OK, run.Changed, run.Failed, run.Skipped)
	if run.Changed > 0 {
		a.Metrics.AddChanges(reason, run.Changed)
	}
	a.auditRun(rep, rev, desc, ok, run, manifest)
	if !ok {
		err := fmt.Errorf("run of %s failed: %s", short(rev), run.Error)
		if cfg.Guardrails.RollbackOnFailure && reason == "intentional" && st.LastGoodRevision != "" && st.LastGoodRevision != rev {
			if rbErr := a.rollbackAfterFailure(ctx, cfg, st, store, &manifest); rbErr != nil {
				return errors.Join(err, rbErr)
			}
		}
		return err
	}
	return nil
}

// rollbackAfterFailure (guardrails.rollback_on_failure) restores what the
// failed run changed, pins the host to the last good revision and applies it.
func (a *Agent) rollbackAfterFailure(ctx context.Context, cfg *config.Config, st *state.State, store *backup.Store, m *backup.Manifest) error {
	good := st.LastGoodRevision
	if len(m.Entries) > 0 {
		if _, err := store.Restore(ctx, a.localHost(), m); err != nil {
			a.auditWrite(audit.Entry{Kind: audit.KindRollback, Revision: good, Result: "failure", Msg: err.Error()})
			return fmt.Errorf("rollback_on_failure: %w", err)
		}
	}
	st.PinnedRevision = good
	a.auditWrite(audit.Entry{Kind: audit.KindRollback, Revision: good, Result: "success",
		Msg: fmt.Sprintf("rollback_on_failure: restored %d file(s) changed by %s and pinned to %s", len(m.Entries), short(m.Revision), short(good))})
	return a.apply(ctx, cfg, st, good, "corrective")
}

// drift checks the applied revision in check mode; with remediate it then
// applies to repair what drifted.
func (a *Agent) drift(ctx context.Context, cfg *config.Config, st *state.State, rev string, remediate bool) error {
	req, err := a.runRequest(cfg, true)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, runErr := apply.Run(ctx, req)
	d := time.Since(start)
	a.lastDrift = time.Now()
	a.Metrics.Reconcile("check", runErr == nil, d, start)
	if runErr != nil {
		return runErr
	}
	res := DriftOf(rep)
	a.indexRun(cfg, rep, nil) // drift index: re-baseline what did not drift (watch.go)
	counts := map[string]int{}
	for _, r := range res {
		counts[r.Kind]++
	}
	now := time.Now()
	if len(res) == 0 {
		st.Drift = state.Drift{Time: now}
	} else {
		since := st.Drift.Since
		if since.IsZero() {
			since = now
		}
		st.Drift = state.Drift{Time: now, Counts: counts, Since: since, Resources: res}
		for _, r := range res {
			a.auditWrite(audit.Entry{Kind: "drift", Revision: rev, Resource: r.Kind + ":" + r.ID, Result: "drifted", Msg: strings.Join(r.Differs, ",")})
		}
	}
	a.Metrics.SetDrift(counts, st.Drift.Since, now)
	if max := cfg.Guardrails.MaxChanges; len(res) > 0 && remediate && max > 0 && len(res) > max && !st.IsApproved(rev) {
		a.requestApproval(st, rev, len(res), max)
		remediate = false
	}
	if len(res) > 0 && remediate && !st.Pause.Paused {
		if err := a.apply(ctx, cfg, st, rev, "corrective"); err != nil {
			return err
		}
	}
	return nil
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// Plan is what a reconcile would change now.
type Plan struct {
	Applied string            `json:"applied_revision"`
	Target  string            `json:"target_revision"`
	Changes []module.Resource `json:"changes"`
	Failed  []string          `json:"failed,omitempty"`
}

// Plan fetches the newest commit (without applying it) and runs this host's
// playbook at it in check mode.
func (a *Agent) Plan(ctx context.Context) (*Plan, error) {
	cfg := a.Config()
	lk, err := lock.Acquire(cfg.StateDir, time.Minute)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	st, _ := state.Load(cfg.StateDir)
	if st == nil {
		st = &state.State{}
	}
	p := &Plan{Applied: st.AppliedRevision}
	rev, err := a.sync(ctx, cfg, st)
	if err != nil && !a.haveCheckout(cfg) {
		return nil, err
	}
	p.Target = rev.Hash
	if p.Target == "" {
		p.Target = st.AppliedRevision
	}
	if st.PinnedRevision != "" {
		p.Target = st.PinnedRevision
	}
	a.mu.Lock()
	repo := a.repo
	a.mu.Unlock()
	if err := repo.Checkout(ctx, p.Target); err != nil {
		return nil, err
	}
	req, err := a.runRequest(cfg, true)
	if err != nil {
		return nil, err
	}
	rep, err := apply.Run(ctx, req)
	if err != nil {
		return nil, err
	}
	p.Changes = DriftOf(rep)
	for _, pl := range rep.Plays {
		for _, t := range pl.Tasks {
			if t.Status == report.StatusFailed && !t.Ignored {
				p.Failed = append(p.Failed, t.Task+": "+t.Msg)
			}
		}
	}
	// put the checkout back where the applied revision is
	if st.AppliedRevision != "" && st.AppliedRevision != p.Target {
		_ = repo.Checkout(ctx, st.AppliedRevision)
	}
	return p, nil
}

// interruptedApply reports whether the last apply of target ended with an
// error but no failed task (cancelled, or an error before any task ran), so
// the next cycle applies it again rather than only checking drift.
func interruptedApply(st *state.State, target string) bool {
	return st.Run.Error != "" && st.Run.Revision == target && st.Run.Mode == "apply" && st.Run.Failed == 0
}
