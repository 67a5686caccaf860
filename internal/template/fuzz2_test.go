package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runsCommands reports whether fuzz input could reach a lookup plugin:
// lookup('pipe') and lookup('lines') run shell commands, which a fuzzer must
// never do on the machine it runs on.
func runsCommands(s string) bool {
	return strings.Contains(s, "lookup") || strings.Contains(s, "query") || strings.Contains(s, "q(")
}

// FuzzExpr covers what FuzzRender does not: bare expressions as when: sees
// them (CheckExpr, EvalBool) and every filter applied to every kind of value,
// so filter arguments from a playbook cannot panic the engine.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"n > 1 and s is search('o')", "ver is version('1.2', '>=')", "l | sort | first", "d | dict2items",
		"users | selectattr('admin') | map(attribute='name') | list", "s | regex_replace('(\\w+)', '\\1\\1')",
		"l | combine", "d | combine(plain, recursive=True)", "s | b64decode", "'%s %d' % (s, n)", "l[1:-1:0]",
		"s | truncate(-1)", "l | batch(0)", "l | slice(0)", "s | center(-5)", "s | indent(999999999)",
		"n | random(seed=s)", "s | hash('nope')", "d | to_nice_yaml(indent=0)", "s | wordwrap(0)",
		"l | zip(s) | list", "range(3) | product(l) | list", "s | regex_findall('(')", "s | format(1, 2, 3)",
		"none | default(omit)", "l | sum(start=s)", "d | items2dict", "s | from_yaml", "'{' | from_json",
		"users | groupby('admin') | first | attr('list')", "l | batch(2, s) | list", "s | format(*l)", "d | pprint | wordwrap(7)",
		"s | to_datetime('%Y-%m-%d %z') - s | to_datetime", "l | combinations(2) | list", "s | permutations(9)", "l | zip_longest(s, fillvalue=n)",
		"users | rekey_on_member('name')", "s | urldecode | e | forceescape", "d | xmlattr | striptags", "n | log(f) | pow(2) | root(b)",
		"s | filesizeformat(true)", "s is url(['http'])", "l is issubset(d)", "s | win_splitdrive", "s | tojson(n)",
	} {
		f.Add(s)
	}
	e := New(Options{})
	f.Fuzz(func(t *testing.T, s string) {
		if runsCommands(s) {
			return
		}
		_ = CheckExpr(s)
		_, _ = e.EvalBool(s, testVars())
		for _, v := range []string{"s", "n", "f", "b", "none", "l", "d", "users", "plain", "undef_tpl"} {
			_, _ = e.Eval(v+" | "+s, testVars())
		}
		_, _ = e.RenderData(map[string]any{"k": "{{ " + s + " }}", "l": []any{s}}, testVars())
	})
}

// FuzzTemplateFile renders fuzz input as a template file (the template
// module's path: {% include %} relative to the file, kept trailing newlines).
func FuzzTemplateFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/templates/*")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(string(data))
		}
	}
	for _, s := range []string{
		"{% include 'other.j2' %}\n", "{% for u in users %}{{ u.name }}\n{% endfor %}\n\n",
		"{% set x = 1 %}{% macro m(a) %}{{ a }}{% endmacro %}{{ m(x) }}", "{% raw %}{{ x }}{% endraw %}",
		"{# unterminated", "{%+ if b -%}\n y\n{%- endif +%}", "{{ '%' }}{%", "#jinja2: trim_blocks: False\n{{ s }}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if runsCommands(s) || strings.Contains(s, "/dev/") {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "other.j2"), []byte("{{ s }}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "self.j2")
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		e := New(Options{SearchPaths: []string{dir}})
		_, _ = e.RenderFile(path, testVars())
	})
}
