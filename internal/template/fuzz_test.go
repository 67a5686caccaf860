package template

import (
	"strings"
	"testing"
)

// FuzzRender checks that no input makes the engine panic: every problem
// must come back as an error.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"{{ x }}", "{{", "{%", "{% for %}", "{{ a[ }}", "{{ 'unterminated }}", "{{ 1 +* 2 }}",
		"{% if a %}{% elif %}", "{{ d | combine }}", "{{ l[::0] }}", "{{ '%' % 1 }}", "{{ (1,) * -1 }}", "{%- raw -%}", "{{ x.0.1 }}",
		"{{ lookup() }}", "{{ range(1, 2, 0) }}", "{{ l | sort(attribute='x') }}", "{{ {'a': 1} | dict2items | items2dict(key_name='x') }}"} {
		f.Add(s)
	}
	e := New(Options{})
	f.Fuzz(func(t *testing.T, s string) {
		// lookups can run commands (pipe) or read files: never from fuzz input
		if strings.Contains(s, "lookup") || strings.Contains(s, "query") || strings.Contains(s, "q(") {
			t.Skip()
		}
		_, _ = e.Render(s, testVars())
		_, _ = e.Eval(s, testVars())
		_ = Check(s)
	})
}
