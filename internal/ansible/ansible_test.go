package ansible

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
)

// recorder is a sink that remembers every call.
type recorder struct {
	calls   []string
	results []report.TaskResult
	warns   []string
	end     *report.Report
}

func (r *recorder) PlayStart(name string, hosts []string) {
	r.calls = append(r.calls, "play "+name+" "+strings.Join(hosts, ","))
}
func (r *recorder) TaskStart(name string, handler bool) {
	p := "task "
	if handler {
		p = "handler "
	}
	r.calls = append(r.calls, p+name)
}
func (r *recorder) TaskResult(t report.TaskResult) {
	r.calls = append(r.calls, "result "+t.Task+" "+t.Status)
	r.results = append(r.results, t)
}
func (r *recorder) Warn(msg string)        { r.warns = append(r.warns, msg) }
func (r *recorder) End(rep *report.Report) { r.end = rep; r.calls = append(r.calls, "end") }

const events = `{"event": "play_start", "name": "web", "hosts": ["all"]}
{"event": "task_start", "name": "conf", "handler": false}
{"event": "result", "result": {"host": "h1", "play": "web", "task": "conf", "action": "ansible.builtin.template", "status": "changed", "changed": true, "warnings": ["mind the gap"], "diff": [{"before": "a\n", "after": "b\n", "before_header": "/etc/x.conf"}], "values": {"changed": true, "dest": "/etc/x.conf", "invocation": {"module_args": {"dest": "/etc/x.conf"}}}}}
{"event": "task_start", "name": "pkgs", "handler": false}
{"event": "result", "result": {"host": "h1", "play": "web", "task": "pkgs", "action": "apt", "status": "changed", "changed": true, "msg": "All items completed", "items": [{"host": "h1", "task": "pkgs", "action": "apt", "status": "changed", "changed": true, "item": 1, "diff": [{"before": "", "after": "nginx\n"}], "values": {"invocation": {"module_args": {"name": ["nginx", "curl"]}}}}, {"host": "h1", "task": "pkgs", "action": "apt", "status": "ok", "changed": false, "item": 2.5}]}}
{"event": "task_start", "name": "secret", "handler": false}
{"event": "result", "result": {"host": "h1", "play": "web", "task": "secret", "action": "community.general.ini_file", "status": "changed", "changed": true, "no_log": true, "args": {"path": "/etc/app.ini"}, "values": {"censored": "hidden", "changed": true}}}
{"event": "task_start", "name": "restart", "handler": true}
{"event": "result", "result": {"host": "h1", "play": "web", "task": "restart", "action": "systemd", "status": "changed", "changed": true, "handler": true, "values": {"name": "nginx", "changed": true}}}
{"event": "task_start", "name": "say", "handler": false}
{"event": "result", "result": {"host": "h1", "play": "web", "task": "say", "action": "debug", "status": "ok", "changed": false, "msg": "hi", "values": {"msg": "hi", "changed": false}}}
{"event": "result", "result": {"host": "h1", "play": "web", "task": "run it", "action": "command", "status": "changed", "changed": true, "values": {"rc": 0}}}
{"event": "stats", "report": {"stats": {"h1": {"ok": 6, "changed": 5, "unreachable": 0, "failed": 0, "skipped": 0, "rescued": 0, "ignored": 0}}, "check_mode": true}}
`

func TestBuilder(t *testing.T) {
	rec := &recorder{}
	b := newBuilder(rec, false)
	if err := b.read(strings.NewReader(events)); err != nil {
		t.Fatal(err)
	}
	rep := b.finish()
	if rep == nil {
		t.Fatal("no report after stats")
	}
	wantCalls := []string{"play web all", "task conf", "result conf changed", "task pkgs", "result pkgs changed",
		"task secret", "result secret changed", "handler restart", "result restart changed", "task say", "result say ok",
		"result run it changed", "end"}
	if !reflect.DeepEqual(rec.calls, wantCalls) {
		t.Errorf("sink calls:\n%q\nwant\n%q", rec.calls, wantCalls)
	}
	if !reflect.DeepEqual(rec.warns, []string{"mind the gap"}) {
		t.Errorf("warnings: %q", rec.warns)
	}
	if !rep.Check || rep.Stats["h1"].Changed != 5 || len(rep.Plays) != 1 || len(rep.Plays[0].Tasks) != 6 {
		t.Fatalf("report: check %v stats %+v plays %d", rep.Check, rep.Stats["h1"], len(rep.Plays))
	}
	byTask := map[string]report.TaskResult{}
	for _, r := range rep.Plays[0].Tasks {
		byTask[r.Task] = r
	}
	res := func(task string) []module.Resource { return byTask[task].Resources }
	if got := res("conf"); !reflect.DeepEqual(got, []module.Resource{{Kind: "file", ID: "/etc/x.conf"}}) {
		t.Errorf("template resources: %+v", got)
	}
	if _, ok := byTask["conf"].Values["invocation"]; ok {
		t.Error("invocation left in values")
	}
	if d := byTask["conf"].Diffs; len(d) != 1 || d[0].BeforeHeader != "/etc/x.conf" || d[0].After != "b\n" {
		t.Errorf("diffs: %+v", d)
	}
	pk := byTask["pkgs"]
	if got := pk.Resources; !reflect.DeepEqual(got, []module.Resource{{Kind: "package", ID: "nginx"}, {Kind: "package", ID: "curl"}}) {
		t.Errorf("loop resources: %+v", got)
	}
	if pk.Msg != "" || len(pk.Diffs) != 1 || len(pk.Items) != 2 || pk.Items[0].Item != 1 || pk.Items[1].Item != 2.5 {
		t.Errorf("loop: msg %q diffs %d items %+v", pk.Msg, len(pk.Diffs), pk.Items)
	}
	if got := res("secret"); !reflect.DeepEqual(got, []module.Resource{{Kind: "file", ID: "/etc/app.ini"}}) {
		t.Errorf("no_log resources from literal args: %+v", got)
	}
	if got := res("restart"); !reflect.DeepEqual(got, []module.Resource{{Kind: "service", ID: "nginx"}}) {
		t.Errorf("service resources: %+v", got)
	}
	if got := res("run it"); got != nil {
		t.Errorf("command resources: %+v, want none (drift lists the task)", got)
	}
	say := byTask["say"]
	if say.Msg != "" || !reflect.DeepEqual(say.Values["_tend_debug"], map[string]any{"msg": "hi"}) {
		t.Errorf("debug: msg %q values %v", say.Msg, say.Values)
	}
}

func TestBuilderWithoutStats(t *testing.T) {
	b := newBuilder(&recorder{}, false)
	if err := b.read(strings.NewReader(`{"event": "play_start", "name": "p", "hosts": []}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if b.finish() != nil {
		t.Error("a run that never reached its recap gave a report")
	}
	if err := newBuilder(&recorder{}, false).read(strings.NewReader("not json\n")); err == nil {
		t.Error("a line that is not JSON was accepted")
	}
}

func TestOutputLines(t *testing.T) {
	rec := &recorder{}
	o := &outputLines{sink: rec}
	_, _ = o.Write([]byte("[WARNING]: provided hosts list is empty, only localhost is\navailable\n[DEPRECATION WARNING]: old thing\nERROR! the playbook: x.yml could not be found\n"))
	_, _ = o.Write([]byte("tail without newline"))
	o.flush()
	want := []string{"provided hosts list is empty, only localhost is available", "[DEPRECATION WARNING]: old thing"}
	if !reflect.DeepEqual(rec.warns, want) {
		t.Errorf("warnings %q, want %q", rec.warns, want)
	}
	if got := o.tail(); got != "ERROR! the playbook: x.yml could not be found\ntail without newline" {
		t.Errorf("kept output %q", got)
	}
}

func TestArgs(t *testing.T) {
	o := Options{Playbooks: []string{"site.yml"}, Inventories: []string{"inv/hosts.yml", "h1,"}, Limit: "web",
		ExtraVars: []string{"a=1", "@vars.yml"}, Check: true, Diff: true, Tags: []string{"a", "b"}, SkipTags: []string{"c"},
		Forks: 3, Connection: "local", RemoteUser: "ops", PrivateKey: "k", Become: true, BecomeUser: "app", VaultPasswordFile: "vp"}
	want := "-i inv/hosts.yml -i h1, -l web -e a=1 -e @vars.yml --check --diff --tags a,b --skip-tags c --forks 3 " +
		"-c local -u ops --private-key k --become --become-user app --vault-password-file vp site.yml"
	if got := strings.Join(o.Args(), " "); got != want {
		t.Errorf("args:\n%s\nwant\n%s", got, want)
	}
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("site.yml", `- name: web
  hosts: web
  roles: [r]
  tasks:
    - block:
        - community.general.ini_file: {path: /x, section: a}
      rescue:
        - copy: {dest: /y, content: ""}
    - include_tasks: more.yml
    - include_tasks: "{{ which }}.yml"
- hosts: db
  tasks:
    - copy: {dest: /z, content: ""}
`)
	write("more.yml", "- name: archive it\n  community.general.archive: {path: /x}\n")
	write("roles/r/tasks/main.yml", "- name: r task\n  apt_key: {url: x}\n")
	native := func(a string) bool { return a == "copy" || a == "include_tasks" }
	needs, err := Scan([]string{filepath.Join(dir, "site.yml")}, nil, native)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range needs {
		got = append(got, n.Play+" "+n.Action+" "+filepath.Base(n.Pos.File))
	}
	want := []string{"web apt_key main.yml", "web community.general.ini_file site.yml", "web community.general.archive more.yml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("needs %q, want %q", got, want)
	}
	if names := NeedNames(needs); !reflect.DeepEqual(names, []string{"apt_key", "community.general.archive", "community.general.ini_file"}) {
		t.Errorf("names %q", names)
	}
	write("bad.yml", "- hosts: all\n  tasks:\n    - copy: {dest: /a}\n      debug: {msg: x}\n")
	if _, err := Scan([]string{filepath.Join(dir, "bad.yml")}, nil, native); err == nil {
		t.Error("a task with two actions scanned without error")
	}
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Run(context.Background(), Options{Playbooks: []string{"x.yml"},
		Needs: []Need{{Action: "community.general.archive", Pos: posOf("x.yml", 3)}}})
	var ni *NotInstalledError
	if !errors.As(err, &ni) || !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want NotInstalledError", err)
	}
	for _, want := range []string{"community.general.archive", "x.yml:3", "apt-get install ansible-core", "dnf install ansible-core"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRunReal(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook (Debian package ansible-core) is not installed")
	}
	dir := t.TempDir()
	pb := filepath.Join(dir, "pb.yml")
	if err := os.WriteFile(pb, []byte(`- hosts: localhost
  gather_facts: false
  tasks:
    - copy: {dest: "`+dir+`/f", content: "x"}
    - fail: {msg: stop}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	rep, err := Run(context.Background(), Options{Playbooks: []string{pb}, Inventories: []string{"localhost,"}, Connection: "local", Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats["localhost"] == nil || rep.Stats["localhost"].Failed != 1 || rep.Stats["localhost"].Changed != 1 {
		t.Fatalf("stats %+v", rep.Stats)
	}
	if rec.end != rep || len(rec.results) != 2 || rec.results[1].Msg != "stop" {
		t.Errorf("sink saw %q", rec.calls)
	}

	if err := os.WriteFile(pb, []byte("- hosts: localhost\n  tasks:\n    - no_such_module_here: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(context.Background(), Options{Playbooks: []string{pb}, Inventories: []string{"localhost,"}, Connection: "local", Sink: rec})
	var ee *ExitError
	if rep != nil || !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(ee.Stderr, "no_such_module_here") {
		t.Fatalf("unknown module: rep %v err %v", rep, err)
	}
	if err := SyntaxCheck(context.Background(), Options{Playbooks: []string{pb}, Inventories: []string{"localhost,"}}); !errors.As(err, &ee) || ee.Code != 4 {
		t.Errorf("syntax check of an unknown module: %v", err)
	}
}

func posOf(file string, line int) playbook.Pos { return playbook.Pos{File: file, Line: line, Col: 1} }
