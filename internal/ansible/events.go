package ansible

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
)

// event is one line the callback writes to the events pipe.
type event struct {
	Event  string   `json:"event"`
	Name   string   `json:"name"`
	Hosts  []string `json:"hosts"`
	Handle bool     `json:"handler"`
	Result *result  `json:"result"`
	Report *struct {
		Stats map[string]*report.Recap `json:"stats"`
		Check bool                     `json:"check_mode"`
		Start time.Time                `json:"start"`
		End   time.Time                `json:"end"`
	} `json:"report"`
}

// result is a task result as the callback sends it: report.TaskResult's
// fields plus what tend derives its own fields from.
type result struct {
	report.TaskResult
	Items    []result          `json:"items"`
	Args     map[string]string `json:"args"`
	Warnings []string          `json:"warnings"`
}

// builder turns the callback's events into a report, calling the sink as
// a native run does.
type builder struct {
	sink  report.Sink
	rep   *report.Report
	play  *report.Play
	ended bool
}

func newBuilder(sink report.Sink, check bool) *builder {
	return &builder{sink: sink, rep: &report.Report{Stats: map[string]*report.Recap{}, Check: check, Start: time.Now()}}
}

func (b *builder) read(r io.Reader) error {
	return readLines(r, func(line []byte) error {
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("callback sent a line that is not JSON: %w", err)
		}
		b.handle(&e)
		return nil
	})
}

func (b *builder) handle(e *event) {
	switch e.Event {
	case "play_start":
		b.play = &report.Play{Name: e.Name, Hosts: e.Hosts, Tasks: []report.TaskResult{}}
		b.rep.Plays = append(b.rep.Plays, b.play)
		b.sink.PlayStart(e.Name, e.Hosts)
	case "task_start":
		b.sink.TaskStart(e.Name, e.Handle)
	case "result":
		if e.Result == nil {
			return
		}
		for _, w := range e.Result.Warnings {
			b.sink.Warn(w)
		}
		tr := convert(e.Result)
		if b.play == nil {
			b.play = &report.Play{Tasks: []report.TaskResult{}}
			b.rep.Plays = append(b.rep.Plays, b.play)
		}
		b.play.Tasks = append(b.play.Tasks, tr)
		b.sink.TaskResult(tr)
	case "stats":
		if e.Report == nil {
			return
		}
		for h, s := range e.Report.Stats {
			if s != nil {
				b.rep.Stats[h] = s
			}
		}
		b.rep.Check = e.Report.Check
		if !e.Report.Start.IsZero() {
			b.rep.Start = e.Report.Start
		}
		b.rep.End = e.Report.End
		b.ended = true
	}
}

// finish returns the report and ends the sink's run, or nil when Ansible
// never reached its recap.
func (b *builder) finish() *report.Report {
	if !b.ended {
		return nil
	}
	if b.rep.End.IsZero() {
		b.rep.End = time.Now()
	}
	b.sink.End(b.rep)
	return b.rep
}

// partial is what arrived before a run broke off, or nil.
func (b *builder) partial() *report.Report {
	if len(b.rep.Plays) == 0 {
		return nil
	}
	b.rep.End = time.Now()
	return b.rep
}

// convert fills the fields tend derives: resources, the debug value the
// text printer shows, and native's no_log conventions.
func convert(r *result) report.TaskResult {
	t := r.TaskResult
	t.Item = ints(t.Item)
	own := resources(r)
	if t.Values != nil {
		// module arguments as Ansible echoes them back: native has no such
		// value, and the resources above took what they need
		delete(t.Values, "invocation")
		if rs, ok := t.Values["results"].([]any); ok {
			for _, x := range rs {
				if m, ok := x.(map[string]any); ok {
					delete(m, "invocation")
				}
			}
		}
	}
	for i := range r.Items {
		it := convert(&r.Items[i])
		if it.Action == "" {
			it.Action = t.Action
		}
		t.Resources = append(t.Resources, it.Resources...)
		t.Items = append(t.Items, it)
	}
	if len(t.Resources) == 0 {
		t.Resources = own
	}
	if len(r.Items) > 0 {
		// as native: a loop's diffs are also on the task, and its message
		// is in values only
		if len(t.Diffs) == 0 {
			for _, it := range t.Items {
				t.Diffs = append(t.Diffs, it.Diffs...)
			}
		}
		if t.Msg == "All items completed" {
			t.Msg = ""
		}
	}
	if t.NoLog {
		t.Diffs = nil
		t.Item = nil
		for i := range t.Items {
			t.Items[i].Values = nil
			t.Items[i].Diffs = nil
			t.Items[i].Item = nil
		}
	}
	if playbook.ShortName(t.Action) == "debug" && t.Status != report.StatusFailed {
		t.Msg = "" // shown from values, as native
	}
	if playbook.ShortName(t.Action) == "debug" && !t.NoLog && t.Values != nil {
		shown := map[string]any{}
		for k, v := range t.Values {
			switch k {
			case "changed", "failed", "skipped", "item", "ansible_loop_var":
			default:
				shown[k] = v
			}
		}
		t.Values["_tend_debug"] = shown
	}
	return t
}

// resources names what a task manages, for drift metrics and `tend plan`:
// the kind by its action, the id from its return values (tempfile's path is
// the file it made, not the directory it was given), else its arguments as
// Ansible echoed them, else the task's literal arguments.
//
// As native modules do, tasks that ran (ok or changed) name their
// resources; actions of kind other name none (drift then lists the task
// itself, as for native commands).
func resources(r *result) []module.Resource {
	if r.Status != report.StatusChanged && r.Status != report.StatusOK {
		return nil
	}
	kind := kindOf(r.Action)
	if kind == "other" {
		return nil
	}
	keys := []string{"name"}
	switch kind {
	case "file":
		keys = []string{"path", "dest", "name"}
	case "service":
		keys = []string{"name", "unit", "service"}
	case "package":
		keys = []string{"name", "pkg"}
	}
	var margs map[string]any
	if inv, ok := r.Values["invocation"].(map[string]any); ok {
		margs, _ = inv["module_args"].(map[string]any)
	}
	var ids []string
	for _, src := range []map[string]any{r.Values, margs, stringsToAny(r.Args)} {
		for _, k := range keys {
			ids = idsOf(src[k])
			if len(ids) > 0 {
				break
			}
		}
		if len(ids) > 0 {
			break
		}
	}
	if len(ids) == 0 {
		if !r.Changed {
			return nil
		}
		ids = []string{r.Task}
	}
	out := make([]module.Resource, 0, len(ids))
	for _, id := range ids {
		out = append(out, module.Resource{Kind: kind, ID: id})
	}
	return out
}

func stringsToAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func idsOf(v any) []string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// kinds maps an action's short name to a drift resource kind.
var kinds = map[string]string{
	"file": "file", "copy": "file", "template": "file", "lineinfile": "file",
	"blockinfile": "file", "replace": "file", "unarchive": "file", "get_url": "file",
	"ini_file": "file", "archive": "file", "tempfile": "file",
	"apt": "package", "dnf": "package", "yum": "package", "package": "package", "pip": "package",
	"service": "service", "systemd": "service", "systemd_service": "service", "sysvinit": "service",
	"user": "user", "group": "user",
}

func kindOf(action string) string {
	s := playbook.ShortName(action)
	if k, ok := kinds[s]; ok {
		return k
	}
	// collection modules: community.general.ini_file -> ini_file
	if k, ok := kinds[s[strings.LastIndex(s, ".")+1:]]; ok {
		return k
	}
	return "other"
}

// ints turns JSON's whole float64 numbers back into ints (loop items are
// shown as Python would: 1, not 1.0).
func ints(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
	case []any:
		for i := range x {
			x[i] = ints(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = ints(x[k])
		}
	}
	return v
}
