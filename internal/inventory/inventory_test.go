package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/template"
	"github.com/tend-project/tend/internal/yamlx"
)

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

func TestLiteralEval(t *testing.T) {
	cases := []struct {
		in   string
		want any
		ok   bool
	}{
		{"1", 1, true}, {"-5", -5, true}, {"0x1F", 31, true}, {"0o17", 15, true}, {"1_000", 1000, true},
		{"1.5", 1.5, true}, {"1e3", 1000.0, true}, {"True", true, true}, {"None", nil, true},
		{"'a b'", "a b", true}, {`"x\ty"`, "x\ty", true}, {"'a' 'b'", "ab", true},
		{"[1, 'two', [3]]", []any{1, "two", []any{3}}, true}, {"(1,)", []any{1}, true},
		{"{'a': 1, 2: None}", ordMap("a", 1, "2", nil), true},
		{"{'z': {'y': 1, 'b': 2}, 'a': {}}", ordMap("z", ordMap("y", 1, "b", 2), "a", ordMap()), true},
		{"1 # comment", 1, true},
		{"0644", nil, false}, {"yes", nil, false}, {"true", nil, false}, {"1+2", nil, false},
		{"{a:1}", nil, false}, {"", nil, false}, {"hello world", nil, false}, {"'open", nil, false},
	}
	for _, c := range cases {
		got, ok := literalEval(c.in)
		if ok != c.ok || ok && !reflect.DeepEqual(got, c.want) {
			t.Errorf("literalEval(%q) = %#v, %v; want %#v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// ordMap is a *template.Map of the key, value pairs kv, in that order.
func ordMap(kv ...any) *template.Map {
	m := template.NewMap()
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i].(string), kv[i+1])
	}
	return m
}

func TestShlexSplit(t *testing.T) {
	got, err := shlexSplit(`h1 a="x y" b='q' c=d#comment e=f`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"h1", "a=x y", "b=q", "c=d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shlexSplit = %q, want %q", got, want)
	}
	if _, err := shlexSplit(`h1 a="open`); err == nil {
		t.Error("unclosed quote: want error")
	}
}

func TestExpandHostPattern(t *testing.T) {
	cases := map[string][]string{
		"web[01:03]":         {"web01", "web02", "web03"},
		"db-[a:c].x":         {"db-a.x", "db-b.x", "db-c.x"},
		"n[1:5:2]":           {"n1", "n3", "n5"},
		"r[1:2]-[a:b]":       {"r1-a", "r1-b", "r2-a", "r2-b"},
		"10.0.0.[1:2]":       {"10.0.0.1", "10.0.0.2"},
		"plain.example.com":  {"plain.example.com"},
		"[2001:db8::1]:2222": {"2001:db8::1"},
	}
	for in, want := range cases {
		got, _, err := expandHostPattern(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("expandHostPattern(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, port, _ := expandHostPattern("web1:2222"); port != 2222 {
		t.Errorf("port = %d, want 2222", port)
	}
	if _, _, err := expandHostPattern("web[01:3]"); err == nil {
		t.Error("unequal-width range: want error")
	}
}

func TestErrorsCarryPositions(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, file, content, want string
	}{
		{"yaml syntax", "bad.yml", "all:\n  hosts:\n    a: [1, 2\n", "bad.yml:"},
		{"cycle yaml", "cycle.yml", "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n", "cycle.yml:5:9: adding group \"b\" as child to \"a\" creates a recursive dependency loop"},
		{"self child", "self.yml", "a:\n  children:\n    a:\n", "self.yml:3:5: group \"a\" cannot be a child of itself"},
		{"hosts list", "list.yml", "all:\n  hosts:\n    - a\n    - b\n", "list.yml:3:5: invalid \"hosts\" entry for \"all\" group: it requires a mapping"},
		{"host vars list", "hv.yml", "all:\n  hosts:\n    a: [1]\n", "hv.yml:3:8: host \"a\": expected a mapping of host variables"},
		{"int host", "int.yml", "all:\n  hosts:\n    1:\n", "int.yml:3:5: host pattern 1 must be a string"},
		{"ini cycle", "cycle.ini", "[a:children]\nb\n[b:children]\na\n", "cycle.ini:4: adding group \"a\" as child to \"b\""},
		{"ini undefined child", "undef.ini", "[a:children]\nnope\n", "undef.ini:2: section [a:children] includes undefined group: nope"},
		{"ini bad var", "badvar.ini", "[a]\nh1 novalue\n", "badvar.ini:2: expected key=value host variable assignment, got: novalue"},
		{"ini vars undefined", "vars.ini", "[x:vars]\na=1\n", "vars.ini:1: section [x:vars] not valid for undefined group: x"},
		{"plugin config", "aws.yml", "plugin: amazon.aws.aws_ec2\n", "inventory plugin configuration files"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, dir, c.file, c.content)
			_, err := Load([]string{p}, Options{})
			if err == nil {
				t.Fatalf("Load: no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, c.want)
			}
		})
	}
	var ce *CycleError
	_, err := Load([]string{filepath.Join(dir, "cycle.yml")}, Options{})
	if !errors.As(err, &ce) && !strings.Contains(err.Error(), "recursive") {
		t.Errorf("cycle error = %v", err)
	}
}

func TestPlaybookDirPrecedence(t *testing.T) {
	dir := t.TempDir()
	inv := write(t, dir, "inv/hosts.yml", `
all:
  vars: {v_all: inv-file, v_grp: inv-file-all, v_host: inv-file-all}
  children:
    web:
      vars: {v_grp: inv-file-web}
      hosts:
        w1: {v_host: inv-file-host}
`)
	write(t, dir, "inv/group_vars/all.yml", "v_all: inv-gv-all\nv_grp: inv-gv-all\nv_play_all: inv-gv-all\n")
	write(t, dir, "inv/group_vars/web.yml", "v_grp: inv-gv-web\nv_host: inv-gv-web\n")
	write(t, dir, "inv/host_vars/w1.yml", "v_hv: inv-hv\n")
	write(t, dir, "play/group_vars/all.yml", "v_play_all: play-gv-all\nv_grp: play-gv-all\n")
	write(t, dir, "play/group_vars/web.yml", "v_grp: play-gv-web\n")
	write(t, dir, "play/host_vars/w1.yml", "v_hv: play-hv\nv_host: play-hv\n")
	i, err := Load([]string{inv}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := i.HostVars("w1", filepath.Join(dir, "play"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"v_all": "inv-gv-all", "v_play_all": "play-gv-all", "v_grp": "play-gv-web",
		"v_host": "play-hv", "v_hv": "play-hv",
		"inventory_file": inv, "inventory_dir": filepath.Dir(inv),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HostVars:\n got %v\nwant %v", got, want)
	}
	noPlay, _ := i.HostVars("w1", "")
	if noPlay["v_host"] != "inv-file-host" || noPlay["v_grp"] != "inv-gv-web" {
		t.Errorf("without playbook dir: %v", noPlay)
	}
}

func TestVaultFiles(t *testing.T) {
	dir := t.TempDir()
	inv := write(t, dir, "hosts.ini", "h1\n")
	write(t, dir, "host_vars/h1.yml", "$ANSIBLE_VAULT;1.1;AES256\nCIPHER\n")
	i, err := Load([]string{inv}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.HostVars("h1", ""); err == nil || !strings.Contains(err.Error(), "no vault password") {
		t.Errorf("without Decrypt: err = %v", err)
	}
	var seen string
	i, _ = Load([]string{inv}, Options{Decrypt: func(data []byte, path string) ([]byte, error) {
		seen = path
		return []byte("secret: s3cr3t\nsealed: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n"), nil
	}})
	vars, err := i.HostVars("h1", "")
	if err != nil {
		t.Fatal(err)
	}
	if vars["secret"] != "s3cr3t" || !strings.HasSuffix(seen, "h1.yml") {
		t.Errorf("vars = %v, decrypted %q", vars, seen)
	}
	if v, ok := vars["sealed"].(yamlx.Vault); !ok || !strings.HasPrefix(v.Ciphertext, "$ANSIBLE_VAULT") {
		t.Errorf("sealed = %#v, want a yamlx.Vault", vars["sealed"])
	}
}

func TestEmptyAndLocalhost(t *testing.T) {
	inv := Empty()
	if got := inv.Hosts(); len(got) != 0 {
		t.Errorf("Empty().Hosts() = %v", got)
	}
	h, ok := inv.Host("localhost")
	if !ok || h.Vars["ansible_connection"] != "local" || len(h.Groups) != 0 {
		t.Errorf("implicit localhost = %+v, %v", h, ok)
	}
	if m, _ := inv.Match("all"); len(m) != 0 {
		t.Errorf("Match(all) = %v, want none (implicit localhost is not in all)", m)
	}
	if m, _ := inv.Match("localhost"); !reflect.DeepEqual(m, []string{"localhost"}) {
		t.Errorf("Match(localhost) = %v", m)
	}
	if _, ok := inv.Host("web1"); ok {
		t.Error("Host(web1) found in an empty inventory")
	}
}

func TestLimit(t *testing.T) {
	inv, err := Load([]string{"a1,a2,b1,b2"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := inv.Match("all")
	got, err := inv.Limit(all, "*1:!b*")
	if err != nil || !reflect.DeepEqual(got, []string{"a1"}) {
		t.Errorf("Limit(*1:!b*) = %v, %v", got, err)
	}
	// like Ansible, "a*" also matches the group "all"
	got, _ = inv.Limit(all, "a*:!a2")
	if !reflect.DeepEqual(got, []string{"a1", "b1", "b2"}) {
		t.Errorf("Limit(a*:!a2) = %v, want [a1 b1 b2] as ansible does", got)
	}
	f := write(t, t.TempDir(), "limit.txt", "b2\na2\n")
	got, err = inv.Limit(all, "@"+f)
	if err != nil || !reflect.DeepEqual(got, []string{"a2", "b2"}) {
		t.Errorf("Limit(@file) = %v, %v", got, err)
	}
	if _, err := inv.Limit(all, "@/nonexistent/limit"); err == nil {
		t.Error("missing limit file: want error")
	}
}

func TestMatchUnknownAndWarn(t *testing.T) {
	var warnings []string
	inv, err := Load([]string{"a1,a2"}, Options{Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inv.Match("nosuch")
	if err != nil || len(got) != 0 {
		t.Errorf("Match(nosuch) = %v, %v", got, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "nosuch") {
		t.Errorf("warnings = %v", warnings)
	}
	if _, err := inv.Match("~(unclosed"); err == nil {
		t.Error("bad regex: want error")
	}
}

func TestHostListAndInventoryFile(t *testing.T) {
	inv, err := Load([]string{"h1,h2:2201"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, ok := inv.Host("h2")
	if !ok || h.Vars["ansible_port"] != 2201 || h.Vars["inventory_file"] != "h1,h2:2201" || h.Vars["inventory_dir"] != nil {
		t.Errorf("h2 = %+v", h)
	}
	if !reflect.DeepEqual(h.Groups, []string{"ungrouped"}) || !reflect.DeepEqual(inv.GroupNames("h2"), []string{"ungrouped"}) {
		t.Errorf("groups of h2 = %v / %v", h.Groups, inv.GroupNames("h2"))
	}
	dir := t.TempDir()
	p := write(t, dir, "hosts", "[g]\nx1 a=1\n")
	inv, err = Load([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vars, _ := inv.HostVars("x1", "")
	if vars["inventory_file"] != p || vars["inventory_dir"] != dir || vars["a"] != 1 {
		t.Errorf("x1 vars = %v", vars)
	}
	// callers may change what they get without touching the inventory
	vars["a"] = 2
	again, _ := inv.HostVars("x1", "")
	if again["a"] != 1 {
		t.Errorf("HostVars result aliases inventory state")
	}
}
