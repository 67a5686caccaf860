package template

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testVars() Vars {
	d := NewMap()
	d.Set("zeta", 1)
	d.Set("alpha", 2)
	u1 := NewMap()
	u1.Set("name", "bob")
	u1.Set("admin", false)
	u2 := NewMap()
	u2.Set("name", "alice")
	u2.Set("admin", true)
	return Vars{
		"s": "Hello World", "n": 42, "f": 3.5, "b": true, "none": nil,
		"l": []any{3, 1, 2}, "d": d, "users": []any{u1, u2},
		"lazy": "{{ n + 1 }}", "lazy_list": []any{"{{ s }}", "x"},
		"loop_a": "{{ loop_b }}", "loop_b": "{{ loop_a }}",
		"plain":     map[string]any{"b": 1, "a": 2},
		"undef_tpl": "{{ nope }}",
		"ver":       "1.2.10",
		"res":       map[string]any{"changed": true, "failed": false},
	}
}

// TestEval checks expressions, filters and tests; want is the value's JSON.
func TestEval(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"n", `42`}, {"f", `3.5`}, {"none", `null`}, {"d", `{"zeta": 1, "alpha": 2}`}, {"plain", `{"a": 2, "b": 1}`},
		{"lazy", `"43"`}, {"lazy_list", `["Hello World", "x"]`},
		{"x | default('dflt')", `"dflt"`}, {"x | d(1)", `1`}, {"'' | default('e', true)", `"e"`}, {"d.nope.deeper | default('z')", `"z"`},
		{"'yes' | bool", `true`}, {"'off' | bool", `false`}, {"'12' | int + 1", `13`}, {"'3.7' | float", `3.7`}, {"n | string", `"42"`},
		{"s | lower", `"hello world"`}, {"s | upper", `"HELLO WORLD"`}, {"'ab cd' | capitalize", `"Ab cd"`}, {"'ab cd' | title", `"Ab Cd"`},
		{"' x ' | trim", `"x"`}, {"s | replace('l', 'L')", `"HeLLo WorLd"`}, {"l | join(',')", `"3,1,2"`},
		{"s.split(' ')", `["Hello", "World"]`}, {"'a,b' | split(',')", `["a", "b"]`},
		{"'a1b22' | regex_replace('[0-9]+', '#')", `"a#b#"`}, {`'k=v' | regex_replace('(\\w)=(\\w)', '\\2=\\1')`, `"v=k"`},
		{`'k=v' | regex_replace('(?P<a>\\w)=(?P<b>\\w)', '\\g<b>\\g<a>')`, `"vk"`},
		{"'ab12' | regex_search('[0-9]+')", `"12"`}, {`'ab12' | regex_search('([a-z]+)([0-9]+)', '\\2')`, `["12"]`}, {"'ab' | regex_search('[0-9]')", `null`},
		{"'a1b2' | regex_findall('[0-9]')", `["1", "2"]`}, {"'a.b' | regex_escape", `"a\\.b"`},
		{"d | to_json", `"{\"zeta\": 1, \"alpha\": 2}"`}, {"l | to_nice_json", `"[\n    3,\n    1,\n    2\n]"`},
		{`'{"b": 1, "a": 2}' | from_json`, `{"b": 1, "a": 2}`}, {"'b: 1\na: [x]' | from_yaml", `{"b": 1, "a": ["x"]}`},
		{"d | to_yaml", `"{alpha: 2, zeta: 1}\n"`}, {"d | to_nice_yaml", `"alpha: 2\nzeta: 1\n"`},
		{"'hi' | b64encode", `"aGk="`}, {"'aGk=' | b64decode", `"hi"`},
		{"'hi' | hash('sha1')", `"c22b5f9178342609428d6f51b2c5af4c0bde6a42"`}, {"'hi' | hash('md5')", `"49f68a5c8493ec2c0bf489821c21fc3b"`},
		{"'hi' | checksum", `"c22b5f9178342609428d6f51b2c5af4c0bde6a42"`},
		{"'/a/b.c' | basename", `"b.c"`}, {"'/a/b.c' | dirname", `"/a"`}, {"'/a/b.c' | splitext", `["/a/b", ".c"]`},
		{"d | combine({'alpha': 9, 'new': 1})", `{"zeta": 1, "alpha": 9, "new": 1}`},
		{"{'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=True)", `{"a": {"x": 1, "y": 2}}`},
		{"d | dict2items", `[{"key": "zeta", "value": 1}, {"key": "alpha", "value": 2}]`},
		{"[{'key': 'a', 'value': 1}] | items2dict", `{"a": 1}`},
		{"users | selectattr('admin') | map(attribute='name') | list", `["alice"]`},
		{"users | rejectattr('admin') | map(attribute='name') | list", `["bob"]`},
		{"users | selectattr('name', 'equalto', 'bob') | list | length", `1`},
		{"l | select('odd') | list", `[3, 1]`}, {"l | reject('odd') | list", `[2]`}, {"['a'] | map('upper') | list", `["A"]`},
		{"[1, 1, 2] | unique", `[1, 2]`}, {"[1] | union([2])", `[1, 2]`}, {"[1, 2] | intersect([2])", `[2]`},
		{"[1, 2] | difference([2])", `[1]`}, {"[1, 2] | symmetric_difference([2, 3])", `[1, 3]`},
		{"l | length", `3`}, {"d | count", `2`}, {"l | first", `3`}, {"l | last", `2`}, {"l | min", `1`}, {"l | max", `3`}, {"l | sum", `6`},
		{"l | sort", `[1, 2, 3]`}, {"l | sort(reverse=True)", `[3, 2, 1]`}, {"users | sort(attribute='name') | map(attribute='name') | list", `["alice", "bob"]`},
		{"l | reverse | list", `[2, 1, 3]`}, {"d | list", `["zeta", "alpha"]`}, {"[['a', 1]] | dict", `{"a": 1}`},
		{"b | ternary('y', 'n')", `"y"`}, {"'a b' | quote", `"'a b'"`}, {"x | mandatory", `ERR:Mandatory variable 'x' not defined.`},
		{"[1, 2] | zip(['a', 'b']) | list", `[[1, "a"], [2, "b"]]`}, {"[1, [2, [3]]] | flatten", `[1, 2, 3]`}, {"[1, [2, [3]]] | flatten(1)", `[1, 2, [3]]`},
		{"[1, 2] | product(['a']) | list", `[[1, "a"], [2, "a"]]`}, {"range(3) | list", `[0, 1, 2]`},
		{"'a\nb' | indent(2)", `"a\n  b"`}, {"'ab' | center(6)", `"  ab  "`}, {"'a b c' | wordcount", `3`},
		{"-3 | abs", `3`}, {"2.5 | round", `2.0`}, {"3.14159 | round(2)", `3.14`}, {"l | random in l", `true`},
		{"'x' | comment", `"#\n# x\n#"`}, {"n | type_debug", `"int"`}, {"{'b': 1, 'a': 2} | dictsort", `[["a", 2], ["b", 1]]`},
		{"['etc', 'x'] | path_join", `"etc/x"`}, {"'1K' | human_to_bytes", `1024`}, {"1048576 | human_readable", `"1.00 MB"`},
		{"'http://h:81/p' | urlsplit('port')", `81`}, {"['zeta'] | map('extract', d) | list", `[1]`},
		// value from glibc crypt(3) (python3 crypt.crypt)
		{"'secret' | password_hash('sha512', 'mysalt', rounds=5000)", `"$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1"`},
		{"none is none", `true`}, {"x is defined", `false`}, {"none is defined", `true`}, {"x is undefined", `true`},
		{"s is string", `true`}, {"n is number", `true`}, {"d is mapping", `true`}, {"l is sequence", `true`}, {"d is iterable", `true`},
		{"res is succeeded", `true`}, {"res is success", `true`}, {"res is failed", `false`}, {"res is failure", `false`},
		{"res is changed", `true`}, {"res is change", `true`}, {"res is skipped", `false`}, {"res is skip", `false`},
		{"s is match('Hel')", `true`}, {"s is match('World')", `false`}, {"s is search('World')", `true`}, {"s is regex('W.r')", `true`},
		{"ver is version('1.2.9', '>')", `true`}, {"ver is version('1.3', operator='lt')", `true`}, {"ver is version_compare('1.2.10', '==')", `true`},
		{"1 is in(l)", `true`}, {"n is equalto(42)", `true`}, {"n is sameas(42)", `true`}, {"9 is divisibleby(3)", `true`},
		{"n is even", `true`}, {"n is odd", `false`}, {"s is truthy", `true`}, {"'' is falsy", `true`},
		{"[1] is subset(l)", `true`}, {"l is superset([1])", `true`}, {"l is contains(3)", `true`},
		{"'/etc' is abs", `true`}, {"'/' is directory", `true`}, {"'/nonexistent-x' is exists", `false`},
		{"'a' ~ n", `"a42"`}, {"2 ** 10", `1024`}, {"7 // 2", `3`}, {"-7 // 2", `-4`}, {"7 / 2", `3.5`}, {"-7 % 3", `2`},
		{"'%s-%d' % (s, n)", `"Hello World-42"`}, {"'%s' % s", `"Hello World"`}, {"'%(a)s' % {'a': 1}", `"1"`},
		{"'y' if b else 'n'", `"y"`}, {"[n, none]", `[42, null]`}, {"s[0:5]", `"Hello"`}, {"l[-1]", `2`}, {"s[::-1]", `"dlroW olleH"`},
		{"2 in l", `true`}, {"9 not in l", `true`}, {"'alpha' in d", `true`},
		{"s.startswith('He')", `true`}, {"s.endswith('x')", `false`}, {"s.replace('o', '0')", `"Hell0 W0rld"`}, {"s.replace('o', '0', 1)", `"Hell0 World"`},
		{"' x '.strip()", `"x"`}, {"s.lower()", `"hello world"`}, {"'{}-{}'.format(1, 2)", `"1-2"`},
		{"d.items() | list", `[["zeta", 1], ["alpha", 2]]`}, {"d.keys() | list", `["zeta", "alpha"]`}, {"d.values() | list", `[1, 2]`},
		{"d.get('alpha')", `2`}, {"d.get('x', 'dflt')", `"dflt"`},
		{"lookup('vars', 'n')", `42`}, {"query('vars', 'n')", `[42]`}, {"omit", fmt.Sprintf("%q", Omit)},
		{"undef_tpl is defined", `false`}, {"undef_tpl | default('d')", `"d"`}, {"undef_tpl", `ERR:'nope' is undefined`},
		{"x", `ERR:'x' is undefined`}, {"x.y", `ERR:'x' is undefined`}, {"d.nope", `ERR:'dict object' has no attribute 'nope'`},
		{"loop_a", `ERR:recursive loop detected in template string: {{ loop_a }}`}, {"1 / 0", `ERR:division by zero`},
		{"'%d' % 'x'", `ERR:%d format: a number is required, not str`},
	}
	e := New(Options{})
	for _, c := range cases {
		v, err := e.Eval(c.expr, testVars())
		var got string
		if err != nil {
			got = "ERR:" + err.Error()
		} else {
			got = toJSON(v, "", false)
		}
		if got != c.want {
			t.Errorf("Eval(%q) = %s, want %s", c.expr, got, c.want)
		}
	}
}

func TestRender(t *testing.T) {
	cases := []struct {
		text string
		want any
	}{
		{"no markers {", "no markers {"},
		{"{{ n }}", 42}, {"{{ b }}", true}, {"{{ n + 1 }}", "43"}, {"{{ l }}", []any{3, 1, 2}}, {"{{ 1 == 1 }}", true},
		{"x {{ l }} {{ d }} {{ none }} {{ b }} {{ 2 ** 10 }} {{ 1.0 }}", "x [3, 1, 2] {'zeta': 1, 'alpha': 2}  True 1024 1.0"},
		{"{{ '[1, 2]' }}", []any{1, 2}}, {"{{ s | to_json }}", `"Hello World"`}, {"{{ s }}\n", "Hello World\n"},
		{"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "zeta=1;alpha=2;"},
		{"{% for u in users %}{{ loop.index }}{{ u.name }}{% if not loop.last %},{% endif %}{% endfor %}", "1bob,2alice"},
		{"{% set t = l | sum %}{{ t }}", "6"}, {"{%- if b -%}\n  yes\n{%- endif %}!", "yes!"},
		{"{% macro m(a, b='x') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(2, b='y') }}", "1x2y"},
		{"{% raw %}{{ x }}{% endraw %}", "{{ x }}"}, {"{# c #}a", "a"}, {`{{ 'a\d' }}`, `a\d`},
	}
	e := New(Options{})
	for _, c := range cases {
		got, err := e.Render(c.text, testVars())
		if err != nil {
			t.Errorf("Render(%q): %v", c.text, err)
			continue
		}
		if !equal(got, c.want) || typeName(got) != typeName(c.want) {
			t.Errorf("Render(%q) = %#v, want %#v", c.text, got, c.want)
		}
	}
}

func TestUndefinedError(t *testing.T) {
	e := New(Options{})
	_, err := e.Render("a {{ missing }} b", testVars())
	var ue *UndefinedError
	if !errors.As(err, &ue) || ue.Name != "missing" || err.Error() != "'missing' is undefined" {
		t.Fatalf("got %v, want UndefinedError for missing", err)
	}
	if !IsUndefined(err) {
		t.Error("IsUndefined = false")
	}
	if _, err := e.Render("{{ 'x' | nosuchfilter }}", nil); err == nil || !strings.Contains(err.Error(), "nosuchfilter") {
		t.Errorf("unknown filter: %v", err)
	}
	if _, err := e.Render("{{ x ", nil); err == nil {
		t.Error("syntax error not reported")
	}
	if _, err := e.Render("{% if %}", nil); err == nil {
		t.Error("syntax error not reported")
	}
	if err := Check("{% for x in y %}"); err == nil {
		t.Error("Check: unclosed for not reported")
	}
	if err := CheckExpr("a and"); err == nil {
		t.Error("CheckExpr: bad expression not reported")
	}
}

func TestEvalBool(t *testing.T) {
	e := New(Options{})
	vars := testVars()
	vars["str_false"] = "false"
	for expr, want := range map[string]bool{
		"b": true, "not b": false, "n > 40": true, "str_false": true, "none": false, "x is defined": false,
		"'{{ b }}'": true, "res is changed": true, "l | length == 3": true, "lazy == 43": false, "lazy == '43'": true, "0": false, "[]": false,
	} {
		got, err := e.EvalBool(expr, vars)
		if err != nil || got != want {
			t.Errorf("EvalBool(%q) = %v, %v; want %v", expr, got, err, want)
		}
	}
	if _, err := e.EvalBool("x", vars); !IsUndefined(err) {
		t.Errorf("EvalBool(undefined) err = %v", err)
	}
}

func TestRenderData(t *testing.T) {
	e := New(Options{})
	in := map[string]any{"{{ 'k' ~ n }}": []any{"{{ s }}", "{{ n }}", 1}, "plain": "x"}
	got, err := e.RenderData(in, testVars())
	if err != nil {
		t.Fatal(err)
	}
	// map[string]any input is read in sorted key order ("plain" < "{{ ...").
	if js := toJSON(got, "", false); js != `{"plain": "x", "k42": ["Hello World", 42, 1]}` {
		t.Errorf("RenderData = %s", js)
	}
}

func TestFilesLookupsInclude(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "templates")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "data.txt"), "file content\n\n")
	write(filepath.Join(sub, "part.j2"), "part {{ n }}\n")
	write(filepath.Join(sub, "main.j2"), "{% include 'part.j2' %}\n{{ lookup('file', 'data.txt') }}\n\n")
	t.Setenv("TEND_TPL_TEST", "envval")
	e := New(Options{SearchPaths: []string{dir}})
	got, err := e.RenderFile(filepath.Join(sub, "main.j2"), testVars())
	if err != nil {
		t.Fatal(err)
	}
	// Jinja2 drops part.j2's final newline; trim_blocks eats the one after the tag.
	if want := "part 42file content\n\n"; got != want {
		t.Errorf("RenderFile = %q, want %q", got, want)
	}
	for expr, want := range map[string]string{
		"lookup('env', 'TEND_TPL_TEST')":                `"envval"`,
		"query('env', 'TEND_TPL_TEST')":                 `["envval"]`,
		"lookup('env', 'TEND_TPL_TEST', wantlist=True)": `["envval"]`,
		"lookup('template', 'templates/part.j2')":       `"part 42\n"`,
		"lookup('file', 'data.txt')":                    `"file content"`,
		"q('file', 'data.txt')":                         `["file content"]`,
		"lookup('file', 'nope', errors='ignore')":       `null`,
	} {
		v, err := e.Eval(expr, testVars())
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if js := toJSON(v, "", false); js != want {
			t.Errorf("%s = %s, want %s", expr, js, want)
		}
	}
	if _, err := e.Eval("lookup('file', 'nope.txt')", nil); err == nil {
		t.Error("missing file lookup did not fail")
	}
	if _, err := e.WithSearchPaths(nil).Eval("lookup('file', 'data.txt')", nil); err == nil {
		t.Error("WithSearchPaths(nil) still found the file")
	}
}

func TestIsTemplated(t *testing.T) {
	for s, want := range map[string]bool{"a": false, "{{ x }}": true, "{% if %}": true, "{# c #}": true, "{ x }": false} {
		if IsTemplated(s) != want {
			t.Errorf("IsTemplated(%q) != %v", s, want)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	e := New(Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				got, err := e.RenderString(fmt.Sprintf("{{ n + %d }}-{{ lazy }}", j%5), testVars())
				if err != nil || got != fmt.Sprintf("%d-43", 42+j%5) {
					errs <- fmt.Errorf("got %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMapOrder(t *testing.T) {
	m := NewMap()
	m.Set("b", 1)
	m.Set("a", 2)
	m.Set("c", 3)
	m.Delete("a")
	m.Set("a", 4)
	if got := strings.Join(m.Keys(), ","); got != "b,c,a" {
		t.Errorf("keys = %s", got)
	}
	if g := ToGo(m).(map[string]any); g["a"] != 4 || len(g) != 3 {
		t.Errorf("ToGo = %v", g)
	}
}

func TestQuery(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"files/a.conf", "files/b.conf", "files/c.txt", "debian.yml"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := New(Options{SearchPaths: []string{dir}})
	vars := testVars()
	vars["os"] = "debian"
	cases := []struct {
		plugin string
		terms  []any
		kw     map[string]any
		want   string
	}{
		{"fileglob", []any{"*.conf"}, nil, fmt.Sprintf(`[%q, %q]`, filepath.Join(dir, "files/a.conf"), filepath.Join(dir, "files/b.conf"))},
		{"first_found", []any{[]any{"redhat.yml", "{{ os }}.yml"}}, nil, fmt.Sprintf(`[%q]`, filepath.Join(dir, "debian.yml"))},
		{"first_found", []any{"none.yml"}, map[string]any{"skip": true}, `[]`},
		{"dict", []any{"{{ d }}"}, nil, `[{"key": "zeta", "value": 1}, {"key": "alpha", "value": 2}]`},
		{"items", []any{1, []any{2, 3}}, nil, `[1, 2, 3]`}, // with_items: [1, [2, 3]]
		{"sequence", []any{"start=1 end=3 format=n%d"}, nil, `["n1", "n2", "n3"]`},
		{"subelements", []any{[]any{map[string]any{"n": 1, "l": []any{"a", "b"}}}, "l"}, nil, `[[{"n": 1}, "a"], [{"n": 1}, "b"]]`},
		{"file", []any{"c.txt"}, nil, `["files/c.txt"]`},
	}
	for _, c := range cases {
		got, err := e.Query(c.plugin, c.terms, c.kw, vars)
		if err != nil {
			t.Errorf("Query(%s, %v): %v", c.plugin, c.terms, err)
			continue
		}
		if js := toJSON(got, "", false); js != c.want {
			t.Errorf("Query(%s, %v) = %s, want %s", c.plugin, c.terms, js, c.want)
		}
	}
	if _, err := e.Query("first_found", []any{"none.yml"}, nil, vars); err == nil {
		t.Error("first_found without a match did not fail")
	}
	if _, err := e.Query("nosuchlookup", nil, nil, vars); err == nil {
		t.Error("unknown lookup did not fail")
	}
}

func TestPythonisms(t *testing.T) {
	e := New(Options{})
	cases := []struct{ text, want string }{
		{"{{ d.items() | list }}", "[('zeta', 1), ('alpha', 2)]"},
		{"{{ (1, 2) }}|{{ (1,) }}", "(1, 2)|(1,)"},
		{"{{ '%s' % l }}|{{ '%s=%s' % ('a', 1) }}", "[3, 1, 2]|a=1"},
		{"{% set acc = [] %}{% for i in l %}{% set _ = acc.append(i) %}{% endfor %}{{ acc }}", "[3, 1, 2]"},
		{"{% set x = {'a': 1} %}{% set _ = x.update({'b': 2}) %}{{ x }}", "{'a': 1, 'b': 2}"},
		{"{{ vars['n'] }} {{ 'lazy' in vars }} {{ vars.lazy }}", "42 True {{ n + 1 }}"},
		{"{{ dict(b=1, a=2) }}", "{'b': 1, 'a': 2}"},
		{"{{ 'x' ~ none }} {{ none }} {{ [none, true, 1.0, 'it\\'s'] }}", `xNone  [None, True, 1.0, "it's"]`},
	}
	for _, c := range cases {
		got, err := e.RenderString(c.text, testVars())
		if err != nil || got != c.want {
			t.Errorf("RenderString(%q) = %q, %v; want %q", c.text, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"{% set _ = d.update({'x': 1}) %}",        // a variable's dict
		"{% set _ = l.append(1) %}",               // a variable's list
		"{% for i in l %}{% break %}{% endfor %}", // loopcontrols is not enabled in Ansible
	} {
		if _, err := e.RenderString(bad, testVars()); err == nil {
			t.Errorf("RenderString(%q) did not fail", bad)
		}
	}
}

type fakeHostvars map[string]any

func (f fakeHostvars) TemplateGet(k string) (any, bool) { v, ok := f[k]; return v, ok }
func (f fakeHostvars) TemplateKeys() []string           { return []string{"h1", "h2"} }

func TestGetter(t *testing.T) {
	e := New(Options{})
	hv := fakeHostvars{"h1": map[string]any{"ip": "10.0.0.1", "raw": "{{ not_rendered }}"}, "h2": map[string]any{"ip": "10.0.0.2"}}
	vars := Vars{"hostvars": hv, "inventory_hostname": "h1"}
	got, err := e.RenderString("{{ hostvars[inventory_hostname].ip }} {{ hostvars.h2.ip }} {{ 'h2' in hostvars }} {{ hostvars | length }} "+
		"{% for h in hostvars %}{{ h }}{% endfor %} {{ hostvars.h3 is defined }} {{ hostvars.h1.raw }}", vars)
	if want := "10.0.0.1 10.0.0.2 True 2 h1h2 False {{ not_rendered }}"; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

func BenchmarkRenderSmall(b *testing.B) {
	e := New(Options{})
	vars := testVars()
	for i := 0; i < b.N; i++ {
		if _, err := e.Render("Hello {{ s | lower }} {% for i in l %}{{ i }}{% endfor %} {{ d | to_json }}", vars); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAndRender(b *testing.B) {
	vars := testVars()
	for i := 0; i < b.N; i++ {
		e := New(Options{}) // fresh cache: parse every time
		if _, err := e.Render("Hello {{ s | lower }} {% for i in l %}{{ i }}{% endfor %} {{ d | to_json }}", vars); err != nil {
			b.Fatal(err)
		}
	}
}
