package agent

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/lock"
	"github.com/tend-project/tend/internal/state"
)

// Operator is who runs an operator command, for state and audit.
func Operator() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// Pause stops the agent from changing the host (drift is still checked and
// reported) until Resume.
func (a *Agent) Pause(reason, by string) error {
	cfg := a.Config()
	err := state.Update(cfg.StateDir, func(st *state.State) error {
		st.Pause = state.Pause{Paused: true, Reason: reason, Since: time.Now().UTC(), By: by}
		return nil
	})
	if err != nil {
		return err
	}
	a.auditWrite(audit.Entry{Kind: audit.KindPause, Result: "paused", Msg: strings.TrimSpace(by + ": " + reason)})
	a.Metrics.SetPaused(true)
	return nil
}

// Resume lifts a pause.
func (a *Agent) Resume(by string) error {
	cfg := a.Config()
	was := false
	err := state.Update(cfg.StateDir, func(st *state.State) error {
		was = st.Pause.Paused
		st.Pause = state.Pause{}
		return nil
	})
	if err != nil {
		return err
	}
	msg := by + ": resumed"
	if !was {
		msg = by + ": was not paused"
	}
	a.auditWrite(audit.Entry{Kind: audit.KindResume, Result: "resumed", Msg: msg})
	a.Metrics.SetPaused(false)
	return nil
}

// ErrUnknownRevision is an approval or rollback naming a revision the host
// does not know.
var ErrUnknownRevision = errors.New("unknown revision")

// Approve lets rev (full or abbreviated hash) be applied once although it
// would change more than guardrails.max_changes. rev must be the pending
// approval or a commit in the checkout; otherwise nothing changes. It
// returns the full hash.
func (a *Agent) Approve(rev, by string) (string, error) {
	cfg := a.Config()
	rev = strings.TrimSpace(rev)
	if len(rev) < 4 {
		return "", fmt.Errorf("%w %q: give at least 4 hex digits of the commit", ErrUnknownRevision, rev)
	}
	var full string
	err := state.Update(cfg.StateDir, func(st *state.State) error {
		if st.Pending != nil && strings.HasPrefix(st.Pending.Revision, rev) {
			full = st.Pending.Revision
		} else if d, err := a.repoNow().Describe(rev); err == nil && d.Hash != "" {
			full = d.Hash
		} else {
			pending := "nothing is waiting for approval"
			if st.Pending != nil {
				pending = "the pending revision is " + st.Pending.Revision
			}
			return fmt.Errorf("%w %q: it is not a commit of the checkout (%s)", ErrUnknownRevision, rev, pending)
		}
		st.Approve(full)
		return nil
	})
	if err != nil {
		return "", err
	}
	a.auditWrite(audit.Entry{Kind: audit.KindApprove, Revision: full, Result: "approved", Msg: by + ": approved once"})
	return full, nil
}

// RollbackResult says what Rollback did.
type RollbackResult struct {
	Revision string   // the revision the host is pinned to
	Restored []string // files restored from the backup store
}

// Rollback restores the files the last run changed (from the backup store)
// and pins the host to the previous good revision until a newer commit
// arrives; with to it pins to that revision (any commit of the checkout)
// without restoring files. Then it runs a cycle, which applies the pin.
func (a *Agent) Rollback(ctx context.Context, to, by string) (RollbackResult, error) {
	cfg := a.Config()
	var res RollbackResult
	lk, err := lock.Acquire(cfg.StateDir, time.Minute)
	if err != nil {
		return res, err
	}
	st, err := state.Load(cfg.StateDir)
	if err != nil {
		lk.Release()
		return res, err
	}
	if to != "" {
		d, err := a.repoNow().Describe(to)
		if err != nil || d.Hash == "" {
			lk.Release()
			return res, fmt.Errorf("rollback --to: %w %q: not a commit of the checkout", ErrUnknownRevision, to)
		}
		res.Revision = d.Hash
	} else {
		res.Revision = st.RollbackTarget()
		if res.Revision == "" {
			lk.Release()
			return res, errors.New("rollback: no earlier good revision is known on this host; use --to REV")
		}
		store, err := backups(cfg)
		if err != nil {
			lk.Release()
			return res, err
		}
		m, err := store.Last()
		if err != nil {
			lk.Release()
			return res, err
		}
		if m != nil {
			res.Restored, err = store.Restore(ctx, a.localHost(), m)
			if err != nil {
				lk.Release()
				a.auditWrite(audit.Entry{Kind: audit.KindRollback, Revision: res.Revision, Result: "failure", Msg: err.Error()})
				return res, fmt.Errorf("rollback: %w", err)
			}
		}
	}
	err = state.Update(cfg.StateDir, func(st *state.State) error {
		st.PinnedRevision = res.Revision
		return nil
	})
	lk.Release()
	if err != nil {
		return res, err
	}
	a.auditWrite(audit.Entry{Kind: audit.KindRollback, Revision: res.Revision, Result: "success",
		Msg: fmt.Sprintf("%s: pinned to %s, restored %d file(s)", by, short(res.Revision), len(res.Restored))})
	return res, a.Cycle(ctx)
}
