package playbook

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseKV(t *testing.T) {
	cases := []struct {
		in   string
		keys map[string]bool
		want map[string]any
	}{
		{`src=a dest="/tmp/x y"`, nil, map[string]any{"src": "a", "dest": "/tmp/x y"}},
		{`msg="{{ a }} and {{ b }}"`, nil, map[string]any{"msg": "{{ a }} and {{ b }}"}},
		{`msg={{ a | default('x y') }}`, nil, map[string]any{"msg": "{{ a | default('x y') }}"}},
		{`echo foo=bar chdir=/tmp`, commandKeys, map[string]any{"_raw_params": "echo foo=bar", "chdir": "/tmp"}},
		{`echo "a b" 'c'`, commandKeys, map[string]any{"_raw_params": `echo "a b" 'c'`}},
		{``, nil, map[string]any{}},
	}
	for _, c := range cases {
		got, err := ParseKV(c.in, c.keys)
		if err != nil {
			t.Fatalf("ParseKV(%q): %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseKV(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
	if _, err := ParseKV(`a="unbalanced`, nil); err == nil {
		t.Error("unbalanced quote: want an error")
	}
}

func TestScalarsFollowYAML11(t *testing.T) {
	v, err := DecodeBytes([]byte("a: yes\nb: 'yes'\nc: 0644\nd: 1.5\ne: ~\nf: Off\ng: 0x1f\nh: 08\ni: !!str yes\n"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": true, "b": "yes", "c": 420, "d": 1.5, "e": nil, "f": false, "g": 31, "h": "08", "i": "yes"}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v\nwant %#v", v, want)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func isMod(name string) bool {
	switch ShortName(name) {
	case "copy", "debug", "command", "include_tasks", "import_tasks", "import_role", "file":
		return true
	}
	return false
}

func TestLoadReportsEveryErrorWithPosition(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "site.yml", `- hosts: all
  tasks:
    - name: typo keyword
      copy: {dest: /x, content: y}
      whne: true
    - name: unknown module
      frobnicate: {}
    - name: two modules
      copy: {dest: /x}
      file: {path: /y}
- hots: all
`)
	_, err := Load(p, isMod)
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	for _, want := range []string{
		"site.yml:5:7: task \"typo keyword\": unknown key \"whne\" in task (did you mean \"when\"?)",
		"site.yml:7:7: task \"unknown module\": couldn't resolve module/action 'frobnicate'",
		"conflicting action statements: copy, file",
		"site.yml:11:3: unknown key \"hots\" in play (did you mean \"hosts\"?)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
}

func TestYAMLSyntaxErrorHasLine(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "bad.yml", "- hosts: all\n  tasks:\n    - debug: msg=x\n   bad: [\n")
	_, err := Load(p, isMod)
	if err == nil || !strings.Contains(err.Error(), "bad.yml:") || !strings.Contains(err.Error(), "YAML syntax error") {
		t.Fatalf("want a YAML syntax error with position, got %v", err)
	}
}

func TestStaticImportsAndRoles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "roles/web/tasks/main.yml", "- debug: msg=role\n- import_tasks: extra.yml\n")
	write(t, dir, "roles/web/tasks/extra.yml", "- debug: msg=extra\n")
	write(t, dir, "roles/web/defaults/main.yml", "port: 80\n")
	write(t, dir, "roles/web/meta/main.yml", "dependencies:\n  - role: base\n    x: 1\n")
	write(t, dir, "roles/base/tasks/main.yml", "- debug: msg=base\n")
	write(t, dir, "tasks.yml", "- copy: dest=/tmp/a content=b\n")
	p := write(t, dir, "site.yml", `- hosts: all
  roles: [web]
  tasks:
    - import_tasks: tasks.yml
      when: x
      tags: [t1]
    - import_role: {name: base}
- import_playbook: other.yml
`)
	write(t, dir, "other.yml", "- hosts: db\n  tasks: []\n")
	pb, err := Load(p, isMod)
	if err != nil {
		t.Fatal(err)
	}
	if len(pb.Plays) != 2 || pb.Plays[1].Hosts != "db" {
		t.Fatalf("import_playbook not flattened: %d plays", len(pb.Plays))
	}
	play := pb.Plays[0]
	web := play.Roles[0].Role
	if web == nil || web.Defaults["port"] != 80 || len(web.Deps) != 1 || web.Deps[0].Params["x"] != 1 {
		t.Fatalf("role not loaded: %+v", web)
	}
	if len(web.Tasks) != 2 || !web.Tasks[1].Imported || len(web.Tasks[1].Block) != 1 {
		t.Fatalf("import inside role not expanded: %+v", web.Tasks)
	}
	imp := play.Tasks[0]
	if !imp.Imported || imp.Block[0].Action != "copy" || imp.Block[0].Args["dest"] != "/tmp/a" || imp.Tags[0] != "t1" {
		t.Fatalf("import_tasks not expanded: %+v", imp)
	}
	if ir := play.Tasks[1]; !ir.Imported || ir.RoleRef == nil || ir.RoleRef.Role.Name != "base" {
		t.Fatalf("import_role not expanded: %+v", ir)
	}
}

func TestMissingRoleIsAnError(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "site.yml", "- hosts: all\n  roles: [nope]\n")
	_, err := Load(p, isMod)
	if err == nil || !strings.Contains(err.Error(), "the role 'nope' was not found") {
		t.Fatalf("got %v", err)
	}
}

func TestParseKVDecodesEscapes(t *testing.T) {
	got, err := ParseKV(`dest=/x content="hello\nworld\t\x41"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got["content"] != "hello\nworld\tA" {
		t.Fatalf("content = %q", got["content"])
	}
	raw, _ := ParseKV(`printf 'a\nb' chdir=/tmp`, commandKeys)
	if raw["_raw_params"] != `printf 'a\nb'` {
		t.Fatalf("raw params must keep escapes: %q", raw["_raw_params"])
	}
}
