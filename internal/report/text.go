package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aymanbagabas/go-udiff"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/template"
)

// Text prints a run the way ansible-playbook's default callback does.
type Text struct {
	W         io.Writer
	Diff      bool // print diffs (--diff)
	Verbosity int
	mu        sync.Mutex
}

var _ Sink = (*Text)(nil)

func banner(s string) string {
	n := 79 - len(s)
	if n < 3 {
		n = 3
	}
	return s + " " + strings.Repeat("*", n)
}

// PlayStart prints PLAY [name].
func (t *Text) PlayStart(name string, hosts []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, "\n%s\n", banner("PLAY ["+name+"]"))
	if len(hosts) == 0 {
		fmt.Fprintln(t.W, "skipping: no hosts matched")
	}
}

// TaskStart prints TASK [name] or RUNNING HANDLER [name].
func (t *Text) TaskStart(name string, handler bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	kind := "TASK"
	if handler {
		kind = "RUNNING HANDLER"
	}
	fmt.Fprintf(t.W, "\n%s\n", banner(kind+" ["+name+"]"))
}

// Warn prints a warning.
func (t *Text) Warn(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, "[WARNING]: %s\n", msg)
}

// TaskResult prints one result line (and its items and diffs).
func (t *Text) TaskResult(r TaskResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// a module's warnings (find's skipped paths, ...) come first, as
	// Ansible's callback prints them
	for _, res := range append([]TaskResult{r}, r.Items...) {
		if ws, ok := res.Values["warnings"].([]any); ok && !res.NoLog {
			for _, w := range ws {
				fmt.Fprintf(t.W, "[WARNING]: %s\n", strings.TrimRight(fmt.Sprint(w), "\n"))
			}
		}
	}
	if len(r.Items) > 0 {
		for _, it := range r.Items {
			t.printDiffs(it)
			t.line(it, true)
		}
		if r.Status == StatusFailed {
			fmt.Fprintf(t.W, "fatal: [%s]: FAILED! => %s\n", r.Host, jsonLine(failDetail(r)))
			if r.Ignored {
				fmt.Fprintln(t.W, "...ignoring")
			}
		}
		return
	}
	t.printDiffs(r)
	t.line(r, r.Item != nil)
}

func (t *Text) printDiffs(r TaskResult) {
	if !t.Diff || r.NoLog {
		return
	}
	for _, d := range r.Diffs {
		fmt.Fprint(t.W, FormatDiff(d))
	}
}

// FormatDiff renders a before/after pair as a unified diff with Ansible's
// headers.
func FormatDiff(d module.Diff) string {
	if d.Before == d.After {
		return ""
	}
	bh, ah := d.BeforeHeader, d.AfterHeader
	if bh == "" {
		bh = "before"
	} else {
		bh = "before: " + bh
	}
	if ah == "" {
		ah = "after"
	} else {
		ah = "after: " + ah
	}
	edits := udiff.Strings(d.Before, d.After)
	u, err := udiff.ToUnifiedDiff(bh, ah, d.Before, edits, 3)
	if err != nil {
		return ""
	}
	return u.String() + "\n"
}

func (t *Text) line(r TaskResult, item bool) {
	if r.Delegate != "" {
		r.Host += " -> " + r.Delegate
	}
	suffix := ""
	if item {
		label := r.Item
		if r.NoLog {
			label = "None"
		}
		suffix = fmt.Sprintf(" => (item=%s)", itemLabel(label))
	}
	switch r.Status {
	case StatusSkipped:
		fmt.Fprintf(t.W, "skipping: [%s]%s\n", r.Host, suffix)
	case StatusUnreachable:
		fmt.Fprintf(t.W, "fatal: [%s]: UNREACHABLE! => %s\n", r.Host, jsonLine(map[string]any{"changed": false, "msg": r.Msg, "unreachable": true}))
	case StatusFailed:
		if item {
			fmt.Fprintf(t.W, "failed: [%s]%s\n", r.Host, suffix)
			return
		}
		fmt.Fprintf(t.W, "fatal: [%s]: FAILED! => %s\n", r.Host, jsonLine(failDetail(r)))
		if r.Ignored {
			fmt.Fprintln(t.W, "...ignoring")
		}
	default:
		if inc, ok := r.Values["_tend_included"].(string); ok {
			fmt.Fprintf(t.W, "included: %s for %s%s\n", inc, r.Host, suffix)
			return
		}
		word := "ok"
		if r.Changed {
			word = "changed"
		}
		if msg, ok := r.Values["_tend_debug"]; ok && !r.NoLog {
			fmt.Fprintf(t.W, "%s: [%s]%s => %s\n", word, r.Host, suffix, plainJSON(msg, "    "))
			return
		}
		fmt.Fprintf(t.W, "%s: [%s]%s\n", word, r.Host, suffix)
	}
}

func failDetail(r TaskResult) map[string]any {
	if r.NoLog {
		return map[string]any{"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": r.Changed}
	}
	// every value the task returned, as Ansible prints them: an operator
	// reading a failure needs stderr, rc, start/end, a module's details
	d := map[string]any{"changed": r.Changed, "msg": r.Msg}
	for k, v := range r.Values {
		switch {
		case strings.HasPrefix(k, "_tend_"), k == "invocation", k == "failed", k == "diff":
		case k == "msg" && r.Msg != "":
		default:
			d[k] = v
		}
	}
	return d
}

func itemLabel(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return template.Repr(v)
}

func field(name string, n int) string { return fmt.Sprintf("%s=%-4d", name, n) }

// jsonLine renders v the way Python's json.dumps does by default: sorted
// keys, ", " and ": " separators.
func jsonLine(v any) string {
	var b strings.Builder
	writePyJSON(&b, v)
	return b.String()
}

func writePyJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Write(plainJSON(k, ""))
			b.WriteString(": ")
			writePyJSON(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = e
		}
		writePyJSON(b, l)
	default:
		b.Write(plainJSON(x, ""))
	}
}

// plainJSON is v as JSON the way Ansible's callbacks print it: <, > and &
// as themselves (Go escapes them for HTML by default), indented by indent
// when it is not "".
func plainJSON(v any, indent string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return []byte(strconv.Quote(fmt.Sprint(v)))
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// End prints the PLAY RECAP.
func (t *Text) End(r *Report) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, "\n%s\n", banner("PLAY RECAP"))
	hosts := make([]string, 0, len(r.Stats))
	for h := range r.Stats {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		s := r.Stats[h]
		fmt.Fprintf(t.W, "%-26s : %s %s %s %s %s %s %s\n", h,
			field("ok", s.OK), field("changed", s.Changed), field("unreachable", s.Unreachable),
			field("failed", s.Failed), field("skipped", s.Skipped), field("rescued", s.Rescued),
			field("ignored", s.Ignored))
	}
	fmt.Fprintln(t.W)
}

// JSON prints the whole Report as one JSON document at the end.
type JSON struct {
	W io.Writer
}

var _ Sink = (*JSON)(nil)

func (j *JSON) PlayStart(string, []string) {}
func (j *JSON) TaskStart(string, bool)     {}
func (j *JSON) TaskResult(TaskResult)      {}
func (j *JSON) Warn(string)                {}

// End writes the report.
func (j *JSON) End(r *Report) {
	enc := json.NewEncoder(j.W)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}

// Multi fans events out to several sinks.
type Multi []Sink

func (m Multi) PlayStart(n string, h []string) {
	for _, s := range m {
		s.PlayStart(n, h)
	}
}
func (m Multi) TaskStart(n string, h bool) {
	for _, s := range m {
		s.TaskStart(n, h)
	}
}
func (m Multi) TaskResult(r TaskResult) {
	for _, s := range m {
		s.TaskResult(r)
	}
}
func (m Multi) Warn(w string) {
	for _, s := range m {
		s.Warn(w)
	}
}
func (m Multi) End(r *Report) {
	for _, s := range m {
		s.End(r)
	}
}
