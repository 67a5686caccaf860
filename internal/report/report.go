// Package report holds the results of a run — per task, per host, the recap —
// and prints them: as Ansible-like text while the run goes, or as one JSON
// document at the end for machines. The agent turns the same Report into
// state, audit lines and metrics.
package report

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/module"
)

// Status of one task on one host.
const (
	StatusOK          = "ok"
	StatusChanged     = "changed"
	StatusFailed      = "failed"
	StatusSkipped     = "skipped"
	StatusUnreachable = "unreachable"
)

// TaskResult is one task's outcome on one host (loops: one result with Items).
type TaskResult struct {
	Host      string            `json:"host"`
	Play      string            `json:"play"`
	Task      string            `json:"task"`
	Role      string            `json:"role,omitempty"`
	Action    string            `json:"action"`
	Position  string            `json:"position,omitempty"` // file:line
	Handler   bool              `json:"handler,omitempty"`
	Delegate  string            `json:"delegated_to,omitempty"`
	Status    string            `json:"status"`
	Changed   bool              `json:"changed"`
	Msg       string            `json:"msg,omitempty"`
	Ignored   bool              `json:"ignored,omitempty"` // failed with ignore_errors
	Rescued   bool              `json:"rescued,omitempty"`
	NoLog     bool              `json:"no_log,omitempty"`
	Item      any               `json:"item,omitempty"`
	Items     []TaskResult      `json:"items,omitempty"`
	Diffs     []module.Diff     `json:"diff,omitempty"`
	Resources []module.Resource `json:"resources,omitempty"`
	Values    map[string]any    `json:"values,omitempty"`
	Start     time.Time         `json:"start"`
	Duration  float64           `json:"duration_seconds"`
}

// MarshalJSON leaves out the values whose names start with _tend_: they
// carry what a task tells the engine and the text output (set_fact's facts,
// debug's message), not results a reader of -o json should depend on.
func (r TaskResult) MarshalJSON() ([]byte, error) {
	type plain TaskResult
	p := plain(r)
	for k := range r.Values {
		if strings.HasPrefix(k, "_tend_") {
			p.Values = make(map[string]any, len(r.Values))
			for k, v := range r.Values {
				if !strings.HasPrefix(k, "_tend_") {
					p.Values[k] = v
				}
			}
			break
		}
	}
	return json.Marshal(p)
}

// Recap is the PLAY RECAP line of one host.
type Recap struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Unreachable int `json:"unreachable"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Rescued     int `json:"rescued"`
	Ignored     int `json:"ignored"`
}

// Play is one play's results.
type Play struct {
	Name  string       `json:"name"`
	Hosts []string     `json:"hosts"`
	Tasks []TaskResult `json:"tasks"`
}

// Report is a whole run.
type Report struct {
	Plays []*Play           `json:"plays"`
	Stats map[string]*Recap `json:"stats"`
	Check bool              `json:"check_mode"`
	Start time.Time         `json:"start"`
	End   time.Time         `json:"end"`
}

// Sink receives a run's events as they happen. The text printer prints them;
// the collector builds a Report.
type Sink interface {
	PlayStart(name string, hosts []string)
	TaskStart(name string, handler bool)
	TaskResult(r TaskResult)
	Warn(msg string)
	End(r *Report)
}

// Totals sums the recap over hosts.
func (r *Report) Totals() Recap {
	var t Recap
	for _, s := range r.Stats {
		t.OK += s.OK
		t.Changed += s.Changed
		t.Unreachable += s.Unreachable
		t.Failed += s.Failed
		t.Skipped += s.Skipped
		t.Rescued += s.Rescued
		t.Ignored += s.Ignored
	}
	return t
}
