package report

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLeavesOutInternalValues(t *testing.T) {
	r := TaskResult{Host: "h", Status: StatusOK, Values: map[string]any{
		"msg": "hi", "_tend_debug": map[string]any{"msg": "hi"}, "ansible_facts": map[string]any{"x": 1}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "_tend_") || !strings.Contains(string(b), `"msg":"hi"`) || !strings.Contains(string(b), `"ansible_facts"`) {
		t.Errorf("json %s: want msg and ansible_facts, no _tend_ keys", b)
	}
	if _, still := r.Values["_tend_debug"]; !still {
		t.Error("marshalling changed the result it was given")
	}
	only := TaskResult{Values: map[string]any{"_tend_set_fact": 1}}
	if b, _ := json.Marshal(only); strings.Contains(string(b), `"values"`) {
		t.Errorf("json %s: no public values, want no values key", b)
	}
}

func TestTextWarningsAndPlainJSON(t *testing.T) {
	var b strings.Builder
	tx := &Text{W: &b}
	tx.TaskResult(TaskResult{Host: "h", Status: StatusOK, Values: map[string]any{
		"warnings":    []any{"Skipped '/x' path due to this access issue: denied\n"},
		"_tend_debug": map[string]any{"msg": "a <b> & c"}}})
	out := b.String()
	if !strings.Contains(out, "[WARNING]: Skipped '/x' path due to this access issue: denied\nok: [h]") {
		t.Errorf("warning not printed before the result:\n%s", out)
	}
	if !strings.Contains(out, `"msg": "a <b> & c"`) {
		t.Errorf("debug output escaped for HTML:\n%s", out)
	}
}
