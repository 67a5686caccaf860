package agent

import (
	"fmt"
	"time"

	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/backup"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/source"
	"github.com/tend-project/tend/internal/state"
)

func summarize(rep *report.Report, rev, mode string, start time.Time, d time.Duration) state.Run {
	run := state.Run{Time: start, Revision: rev, Mode: mode, Duration: d}
	if rep == nil {
		return run
	}
	t := rep.Totals()
	run.OK, run.Changed, run.Failed, run.Skipped = t.OK-t.Changed, t.Changed, t.Failed+t.Unreachable, t.Skipped
	return run
}

// DriftOf lists what a check-mode run would change: each changed task's
// resources, or the task itself (kind "other") when its module names none.
func DriftOf(rep *report.Report) []module.Resource {
	var out []module.Resource
	if rep == nil {
		return out
	}
	seen := map[string]bool{}
	for _, p := range rep.Plays {
		for _, t := range p.Tasks {
			if t.Status != report.StatusChanged {
				continue
			}
			res := t.Resources
			if len(res) == 0 {
				kind := "other"
				if info, ok := module.Lookup(t.Action); ok && info.Kind != "" {
					kind = info.Kind
				}
				res = []module.Resource{{Kind: kind, ID: t.Task}}
			}
			for _, r := range res {
				if r.Kind == "" {
					r.Kind = "other"
				}
				key := r.Kind + "\x00" + r.ID
				if !seen[key] {
					seen[key] = true
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// auditRun writes one line for the run and one per changed or failed task.
// Files saved in the run's backup manifest carry their sha256 before and after.
func (a *Agent) auditRun(rep *report.Report, rev string, desc source.Revision, ok bool, run state.Run, m backup.Manifest) {
	files := map[string]backup.Entry{}
	for _, e := range m.Entries {
		files[e.Path] = e
	}
	result := "success"
	if !ok {
		result = "failure"
	}
	a.auditWrite(audit.Entry{Kind: audit.KindRun, Revision: rev, Author: desc.Author, Committer: desc.Committer,
		Signer: desc.Signer, Result: result, Msg: run.Error})
	if rep == nil {
		return
	}
	for _, p := range rep.Plays {
		for _, t := range p.Tasks {
			if t.Status != report.StatusChanged && t.Status != report.StatusFailed {
				continue
			}
			msg := t.Msg
			if t.NoLog {
				msg = ""
			}
			res := t.Resources
			if len(res) == 0 {
				res = []module.Resource{{Kind: "other", ID: t.Action}}
			}
			for _, r := range res {
				e := audit.Entry{Kind: audit.KindChange, Revision: rev, Author: desc.Author, Committer: desc.Committer,
					Signer: desc.Signer, Task: t.Task, Resource: r.Kind + ":" + r.ID, Result: t.Status, Msg: msg}
				if be, ok := files[r.ID]; ok && r.Kind == "file" {
					e.Before, e.After = be.SHA256, be.After
				}
				if t.NoLog {
					e.Resource = r.Kind + ":(no_log)"
					e.Before, e.After = "", ""
				}
				a.auditWrite(e)
			}
		}
	}
}

// firstFailure describes the first failed or unreachable task of a run
// ("task [host]: message"), for state and status.
func firstFailure(rep *report.Report) string {
	if rep == nil {
		return ""
	}
	for _, p := range rep.Plays {
		for _, t := range p.Tasks {
			if (t.Status == report.StatusFailed && !t.Ignored) || t.Status == report.StatusUnreachable {
				msg := t.Msg
				if t.NoLog {
					msg = "(output hidden by no_log)"
				}
				return fmt.Sprintf("%s [%s]: %s", t.Task, t.Host, msg)
			}
		}
	}
	return ""
}
