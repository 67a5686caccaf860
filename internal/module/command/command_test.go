package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

// tcase is one task run through both tend and ansible-playbook.
type tcase struct {
	module string
	raw    string
	args   map[string]any
}

func runTend(t *testing.T, c tcase, check bool) map[string]any {
	t.Helper()
	info, ok := module.Lookup(c.module)
	if !ok {
		t.Fatalf("module %s is not registered", c.module)
	}
	raw := map[string]any{}
	for k, v := range c.args {
		raw[k] = v
	}
	if c.raw != "" {
		raw["_raw_params"] = c.raw
	}
	args, err := info.Spec.Validate(raw)
	if err != nil {
		return map[string]any{"failed": true, "msg": err.Error()}
	}
	var h host.Host = host.NewLocal()
	if check {
		h = host.ReadOnly(h)
	}
	task := &module.Task{Host: h, Args: args, Check: check,
		Find:      func(kind, rel string) (string, error) { return rel, nil },
		ReadLocal: os.ReadFile,
	}
	res, err := info.New().Run(context.Background(), task)
	if err != nil {
		t.Fatalf("%s %q: %v", c.module, c.raw, err)
	}
	out := map[string]any{"changed": res.Changed, "failed": res.Failed}
	if res.Skipped {
		out["skipped"] = true
	}
	if res.Msg != "" {
		out["msg"] = res.Msg
	}
	for k, v := range res.Values {
		out[k] = v
	}
	// normalise through JSON, as Ansible's results are
	b, _ := json.Marshal(out)
	var n map[string]any
	_ = json.Unmarshal(b, &n)
	return n
}

// runAnsible runs every case as one task of a playbook and returns the
// registered results.
func runAnsible(t *testing.T, cases []tcase, check bool) []map[string]any {
	t.Helper()
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook (ansible-core) is not installed")
	}
	dir := t.TempDir()
	var pb strings.Builder
	pb.WriteString("- hosts: localhost\n  gather_facts: false\n  tasks:\n")
	var names []string
	for i, c := range cases {
		task := map[string]any{c.module: c.raw, "register": fmt.Sprintf("r%d", i), "ignore_errors": true}
		if c.raw == "" {
			task[c.module] = c.args
		} else if len(c.args) > 0 {
			task["args"] = c.args
		}
		b, _ := json.Marshal(task)
		pb.WriteString("    - " + string(b) + "\n")
		names = append(names, fmt.Sprintf("r%d", i))
	}
	fmt.Fprintf(&pb, "    - copy: {dest: %s/out.json, content: \"{{ [%s] | to_json }}\"}\n      check_mode: false\n", dir, strings.Join(names, ","))
	if err := os.WriteFile(filepath.Join(dir, "p.yml"), []byte(pb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := []string{"-i", "localhost,", "-c", "local", filepath.Join(dir, "p.yml")}
	if check {
		argv = append(argv, "--check")
	}
	cmd := exec.Command("ansible-playbook", argv...)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "out.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res []map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func compareCases(t *testing.T, cases []tcase, check bool) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "exists"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"args: $# $1 [$2]\"; [ -n \"$3\" ] && pwd; echo oops >&2; exit ${3:-0}\n"
	if err := os.WriteFile(filepath.Join(dir, "s.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		cases[i].raw = strings.ReplaceAll(cases[i].raw, "DIR", dir)
		for k, v := range cases[i].args {
			if s, ok := v.(string); ok {
				cases[i].args[k] = strings.ReplaceAll(s, "DIR", dir)
			}
		}
	}
	want := runAnsible(t, cases, check)
	if len(want) != len(cases) {
		t.Fatalf("ansible returned %d results for %d cases", len(want), len(cases))
	}
	for i, c := range cases {
		got := runTend(t, c, check)
		w := want[i]
		for _, k := range []string{"ansible_facts", "invocation", "exception", "warnings", "deprecations"} {
			delete(w, k)
		}
		for _, k := range []string{"start", "end", "delta"} { // times differ; check their shape
			if (w[k] == nil) != (got[k] == nil) {
				t.Errorf("case %d %s %q: %s: got %v, ansible %v", i, c.module, c.raw, k, got[k], w[k])
			}
			delete(w, k)
			delete(got, k)
		}
		if m, _ := w["msg"].(string); strings.HasPrefix(m, "Unsupported parameters") {
			// the message is the engine's argument validation's, not the module's
			if got["failed"] != true || !strings.Contains(got["msg"].(string), "warn") {
				t.Errorf("case %d: got %v, want a failure naming the bad parameter", i, got)
			}
			continue
		}
		// Ansible's result has msg "" on success; its JSON here drops it
		if w["msg"] == "" || w["msg"] == nil {
			delete(w, "msg")
		}
		if got["msg"] == "" {
			delete(got, "msg")
		}
		if !reflect.DeepEqual(got, w) {
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(w)
			t.Errorf("case %d %s %q %v (check=%v):\n tend:    %s\n ansible: %s", i, c.module, c.raw, c.args, check, gb, wb)
		}
	}
}

func TestAgainstAnsible(t *testing.T) {
	cases := []tcase{
		{module: "command", raw: `echo "a b" 'c d' $HOME ~ x\ y ${NOPE_UNSET} "q\$r"`},
		{module: "command", raw: "printf 'a\\n\\nb\\n\\n'"},
		{module: "command", raw: "printf 'a\\n\\nb\\n\\n'", args: map[string]any{"strip_empty_ends": false}},
		{module: "command", raw: "false"},
		{module: "command", raw: "nonexistent-cmd-tend arg"},
		{module: "command", raw: "cat", args: map[string]any{"stdin": "hello"}},
		{module: "command", raw: "cat", args: map[string]any{"stdin": "hello", "stdin_add_newline": false}},
		{module: "command", raw: "pwd", args: map[string]any{"chdir": "DIR"}},
		{module: "command", raw: "pwd", args: map[string]any{"chdir": "/nonexistent-dir"}},
		{module: "command", raw: "pwd", args: map[string]any{"chdir": "DIR/exists"}},
		{module: "command", raw: "true", args: map[string]any{"creates": "DIR/exists"}},
		{module: "command", raw: "true", args: map[string]any{"creates": "DIR/ex*"}},
		{module: "command", raw: "true", args: map[string]any{"creates": "exists", "chdir": "DIR"}},
		{module: "command", raw: "true", args: map[string]any{"creates": "DIR/nope"}},
		{module: "command", raw: "true", args: map[string]any{"removes": "DIR/nope*"}},
		{module: "command", raw: "true", args: map[string]any{"removes": "DIR/exists"}},
		{module: "command", args: map[string]any{"argv": []any{"echo", "a b", "$HOME"}}},
		{module: "command", args: map[string]any{"cmd": "echo via cmd"}},
		{module: "command", raw: "true", args: map[string]any{"warn": false}},
		{module: "shell", raw: "echo hi; echo err >&2; exit 3"},
		{module: "shell", raw: "echo $0", args: map[string]any{"executable": "/bin/bash"}},
		{module: "shell", raw: "echo *", args: map[string]any{"chdir": "DIR"}},
		{module: "shell", args: map[string]any{"argv": []any{"echo", "a b;c"}}},
		{module: "raw", raw: "echo raw; echo err >&2"},
		{module: "raw", raw: "exit 4"},
		{module: "script", raw: "DIR/s.sh one 'two words'"},
		{module: "script", raw: "DIR/s.sh one two 5", args: map[string]any{"chdir": "DIR"}},
		{module: "script", raw: "DIR/s.sh", args: map[string]any{"creates": "DIR/exists"}},
		{module: "script", raw: "DIR/s.sh", args: map[string]any{"removes": "DIR/nope"}},
		{module: "script", raw: "DIR/s.sh", args: map[string]any{"executable": "/bin/bash"}},
	}
	compareCases(t, cases, false)
}

func TestAgainstAnsibleCheckMode(t *testing.T) {
	cases := []tcase{
		{module: "command", raw: "false"},
		{module: "shell", raw: "false", args: map[string]any{"creates": "DIR/nope"}},
		{module: "command", raw: "false", args: map[string]any{"creates": "DIR/exists"}},
		{module: "command", raw: "false", args: map[string]any{"removes": "DIR/nope"}},
		{module: "raw", raw: "false"},
		{module: "script", raw: "DIR/s.sh"},
		{module: "script", raw: "DIR/s.sh", args: map[string]any{"creates": "DIR/nope"}},
		{module: "script", raw: "DIR/s.sh", args: map[string]any{"creates": "DIR/exists"}},
	}
	compareCases(t, cases, true)
}

func TestSplitMatchesPython(t *testing.T) {
	inputs := []string{
		`a b  c`, `"a b" 'c d'`, `a"b c"d`, `x\ y`, `"q\$r" "s\"t" "u\\v"`, `'it''s'`,
		`'' ""`, `a\'b`, "tab\tsep\nnl", `echo $HOME ~`, `"a'b" 'c"d'`, `\\`, `é "ü ö"`,
	}
	want := map[string][]string{
		`a b  c`:               {"a", "b", "c"},
		`"a b" 'c d'`:          {"a b", "c d"},
		`a"b c"d`:              {"ab cd"},
		`x\ y`:                 {"x y"},
		`"q\$r" "s\"t" "u\\v"`: {`q\$r`, `s"t`, `u\v`},
		`'it''s'`:              {"its"},
		`'' ""`:                {"", ""},
		`a\'b`:                 {"a'b"},
		"tab\tsep\nnl":         {"tab", "sep", "nl"},
		`echo $HOME ~`:         {"echo", "$HOME", "~"},
		`"a'b" 'c"d'`:          {"a'b", `c"d`},
		`\\`:                   {`\`},
		`é "ü ö"`:              {"é", "ü ö"},
	}
	py, pyErr := exec.LookPath("python3")
	for _, in := range inputs {
		got, err := Split(in)
		if err != nil {
			t.Errorf("Split(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want[in]) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want[in])
		}
		if pyErr == nil {
			out, err := exec.Command(py, "-c", "import json,shlex,sys; print(json.dumps(shlex.split(sys.argv[1])))", in).Output()
			if err != nil {
				t.Fatal(err)
			}
			var p []string
			_ = json.Unmarshal(out, &p)
			if !reflect.DeepEqual(got, p) {
				t.Errorf("Split(%q) = %q, Python's shlex.split = %q", in, got, p)
			}
		}
	}
	for _, bad := range []string{`"open`, `'open`, `trail\`, `"esc\`} {
		if _, err := Split(bad); err == nil {
			t.Errorf("Split(%q) succeeded, want an error", bad)
		}
	}
}

func TestPyFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3285 * time.Microsecond:         "0:00:00.003285",
		0:                               "0:00:00",
		90*time.Minute + 5*time.Second:  "1:30:05",
		26*time.Hour + time.Microsecond: "1 day, 2:00:00.000001",
		50*time.Hour + 3*time.Minute + time.Second: "2 days, 2:03:01",
		-time.Second: "-1 day, 23:59:59",
	} {
		if got := pyDelta(d); got != want {
			t.Errorf("pyDelta(%v) = %q, want %q", d, got, want)
		}
	}
	ts := time.Date(2026, 11, 25, 20, 24, 19, 868973000, time.UTC)
	if got := pyTime(ts); got != "2026-11-25 20:24:19.868973" {
		t.Errorf("pyTime = %q", got)
	}
	if got := pyTime(ts.Truncate(time.Second)); got != "2026-11-25 20:24:19" {
		t.Errorf("pyTime whole second = %q", got)
	}
	if got := splitLines("a\r\nb\rc\n\nd\n"); !reflect.DeepEqual(got, []string{"a", "b", "c", "", "d"}) {
		t.Errorf("splitLines = %q", got)
	}
	env := map[string]string{"A": "1", "B_2": "two"}
	if got := expandVars("$A-${B_2}-$C-${C}-$", env); got != "1-two-$C-${C}-$" {
		t.Errorf("expandVars = %q", got)
	}
}

func TestArgErrors(t *testing.T) {
	for _, c := range []struct {
		raw  string
		args map[string]any
		msg  string
	}{
		{raw: "   ", msg: "no command given"},
		{raw: "echo", args: map[string]any{"argv": []any{"echo"}}, msg: "only command or argv can be given, not both"},
		{raw: "echo", args: map[string]any{"cmd": "echo"}, msg: "The 'cmd' argument cannot be used"},
		{raw: `echo "open`, msg: "No closing quotation"},
	} {
		got := runTend(t, tcase{module: "command", raw: c.raw, args: c.args}, false)
		if got["failed"] != true || !strings.Contains(fmt.Sprint(got["msg"]), c.msg) {
			t.Errorf("command %q %v: got %v, want a failure with %q", c.raw, c.args, got, c.msg)
		}
	}
}
