package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/apply"
	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/backup"
	"github.com/tend-project/tend/internal/config"
	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/inventory"
	"github.com/tend-project/tend/internal/metrics"
	"github.com/tend-project/tend/internal/state"
	"github.com/tend-project/tend/internal/vault"
)

// RolloutDelayVar is the inventory variable that overrides
// guardrails.rollout_delay for a host or group ("10m", or seconds), so
// canary hosts can take a commit before the rest of the fleet.
const RolloutDelayVar = "tend_rollout_delay"

// guardPrefix starts every Blocked message written by a guardrail, so a
// later successful run knows it may clear it.
const guardPrefix = "guardrail "

// block records that a guardrail refused rev: Blocked, and once per
// distinct refusal a metric and an audit line.
func (a *Agent) block(st *state.State, rev, reason, msg string) {
	text := fmt.Sprintf("%s%s: revision %s not applied: %s", guardPrefix, reason, short(rev), msg)
	if st.Blocked == text {
		return
	}
	st.Blocked = text
	a.Metrics.GuardrailBlock(reason)
	a.auditWrite(audit.Entry{Kind: audit.KindGuardrail, Revision: rev, Result: "blocked", Msg: reason + ": " + msg})
	a.log.Warn("guardrail", "reason", reason, "revision", short(rev), "msg", msg)
}

// gate decides whether rev may be applied now. It returns "" when it may,
// else the guardrail that refused it (after recording the block). A pinned
// revision (an operator's rollback) passes every gate.
func (a *Agent) gate(ctx context.Context, cfg *config.Config, st *state.State, rev string, now time.Time) (string, error) {
	if rev == st.PinnedRevision {
		return "", nil
	}
	if !config.WindowOpen(cfg.Guardrails.Windows, now) {
		ws := make([]string, len(cfg.Guardrails.Windows))
		for i, w := range cfg.Guardrails.Windows {
			ws[i] = w.String()
		}
		a.block(st, rev, metrics.BlockWindow, "outside the maintenance windows ("+strings.Join(ws, ", ")+")")
		return metrics.BlockWindow, nil
	}
	delay, err := a.rolloutDelay(cfg)
	if err != nil {
		return "", err
	}
	if delay > 0 {
		desc, err := a.repoNow().Describe(rev)
		if err != nil {
			return "", fmt.Errorf("rollout_delay: %w", err)
		}
		if why := rolloutWait(desc.When, now, a.clock.heldSince(rev), delay); why != "" {
			a.block(st, rev, metrics.BlockRolloutDelay, why)
			return metrics.BlockRolloutDelay, nil
		}
	}
	if max := cfg.Guardrails.MaxChanges; max > 0 && !st.IsApproved(rev) {
		if err := a.repoNow().Checkout(ctx, rev); err != nil {
			return "", fmt.Errorf("checkout %s: %w", short(rev), err)
		}
		req, err := a.runRequest(cfg, true)
		if err != nil {
			return "", err
		}
		rep, err := apply.Run(ctx, req)
		if err != nil {
			return "", fmt.Errorf("max_changes check of %s: %w", short(rev), err)
		}
		if n := len(DriftOf(rep)); n > max {
			a.requestApproval(st, rev, n, max)
			return metrics.BlockMaxChanges, nil
		}
	}
	return "", nil
}

// requestApproval blocks rev for max_changes and records the pending approval.
func (a *Agent) requestApproval(st *state.State, rev string, n, max int) {
	if st.Pending == nil || st.Pending.Revision != rev || st.Pending.WouldChange != n {
		st.Pending = &state.Approval{Revision: rev, WouldChange: n, Since: time.Now()}
	}
	a.block(st, rev, metrics.BlockMaxChanges, fmt.Sprintf("it would change %d resources, guardrails.max_changes is %d; run `tend approve %s` to apply it once", n, max, short(rev)))
}

// consumeApproval forgets the approval of rev once it was used.
func consumeApproval(st *state.State, rev string) {
	st.Approved = slices.DeleteFunc(st.Approved, func(r string) bool { return r == rev })
	if st.Pending != nil && st.Pending.Revision == rev {
		st.Pending = nil
	}
}

// rolloutWait says why a commit made at committed is still held back by
// rollout_delay at now, "" when it may go. Its age is by the wall clock,
// so that every host counts from the same moment; but never less than
// held, how long this agent has been holding it back by its monotonic
// clock, so a wall clock set back (or a committer's clock ahead) delays a
// rollout by at most delay once the commit is here.
func rolloutWait(committed, now time.Time, held, delay time.Duration) string {
	age := max(now.Sub(committed), held)
	if age >= delay {
		return ""
	}
	why := fmt.Sprintf("commit is %s old, rollout_delay is %s (applies after %s)",
		age.Round(time.Second), delay, now.Add(delay-age).Format(time.RFC3339))
	if committed.After(now.Add(time.Minute)) {
		why += fmt.Sprintf("; its commit time %s is ahead of this host's clock", committed.Format(time.RFC3339))
	}
	return why
}

// rolloutDelay is guardrails.rollout_delay, or this host's tend_rollout_delay
// inventory variable when it has one.
func (a *Agent) rolloutDelay(cfg *config.Config) (time.Duration, error) {
	delay := cfg.Guardrails.RolloutDelay
	if cfg.Inventory == "" {
		return delay, nil
	}
	dir := filepath.Join(cfg.StateDir, "checkout")
	opts := inventory.Options{}
	if cfg.VaultPasswordFile != "" {
		secrets, err := vault.LoadSecrets(context.Background(), []string{cfg.VaultPasswordFile}, nil)
		if err != nil {
			return 0, fmt.Errorf("vault_password_file: %w", err)
		}
		opts.Decrypt = func(data []byte, path string) ([]byte, error) {
			p, _, err := vault.Decrypt(data, secrets)
			return p, err
		}
	}
	inv, err := inventory.Load([]string{filepath.Join(dir, cfg.Inventory)}, opts)
	if err != nil {
		return 0, fmt.Errorf("inventory: %w", err)
	}
	pbDir := dir
	if pb, err := resolvePlaybook(dir, cfg.Playbook); err == nil {
		pbDir = filepath.Dir(pb)
	}
	vars, err := inv.HostVars(hostName(cfg), pbDir)
	if err != nil {
		return delay, nil // a host missing from the inventory runs nothing anyway
	}
	v, ok := vars[RolloutDelayVar]
	if !ok {
		return delay, nil
	}
	return parseDelay(v)
}

func parseDelay(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int:
		return time.Duration(x) * time.Second, nil
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil || d < 0 {
			return 0, fmt.Errorf("inventory variable %s: %q is not a duration like 10m or a number of seconds", RolloutDelayVar, x)
		}
		return d, nil
	}
	return 0, fmt.Errorf("inventory variable %s: want a duration like 10m, got %v", RolloutDelayVar, v)
}

func hostName(cfg *config.Config) string {
	if cfg.Host != "" {
		return cfg.Host
	}
	hn, _ := os.Hostname()
	return hn
}

// localHost is the machine the agent manages (under Root for demos).
func (a *Agent) localHost() host.Host {
	h := host.Host(host.NewLocal())
	if a.Root != "" {
		h = host.Rooted(h, a.Root)
	}
	return h
}

// backups opens the backup store of state_dir.
func backups(cfg *config.Config) (*backup.Store, error) {
	return backup.Open(filepath.Join(cfg.StateDir, "backups"), cfg.Backups.MaxBytes, cfg.Backups.MaxAge)
}
