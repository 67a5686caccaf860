package template

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bigPiece uses what the parser looks around for: trim markers on both
// sides, comments, blocks with trim_blocks, loops, raw and set.
const bigPiece = `line {{ greeting }} {{ n + 1 }}
{#- a comment {{ not rendered }} -#}
  {% for i in range(2) %}
item {{ i }}{% if i %} odd{% else %} even{% endif %}
{% endfor %}
{%- set x = greeting | upper -%}
 {{ x }}
{% raw %}{{ kept }}{% endraw %}
end
`

// TestBigTemplateStreamed checks that a template above streamLexAbove,
// which is lexed while it is parsed, renders exactly like the same text
// rendered in small pieces, which are lexed all at once.
func TestBigTemplateStreamed(t *testing.T) {
	vars := Vars{"greeting": "hello", "n": 41}
	e := New(Options{})
	dir := t.TempDir()
	small := filepath.Join(dir, "small.j2")
	if err := os.WriteFile(small, []byte(bigPiece), 0o644); err != nil {
		t.Fatal(err)
	}
	one, err := e.RenderFile(small, vars)
	if err != nil {
		t.Fatal(err)
	}
	n := streamLexAbove/len(bigPiece) + 100
	big := filepath.Join(dir, "big.j2")
	if err := os.WriteFile(big, []byte(strings.Repeat(bigPiece, n)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	got, err := e.RenderFile(big, vars)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat(one, n); got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("streamed render differs at byte %d of %d: got %q, want %q", i, len(want),
			got[max(i-40, 0):min(i+40, len(got))], want[max(i-40, 0):min(i+40, len(want))])
	}
	waitGoroutines(t, before)
}

// TestBigTemplateErrors checks that errors in a streamed template keep
// their line numbers and that the lexer goroutine ends either way.
func TestBigTemplateErrors(t *testing.T) {
	e := New(Options{})
	dir := t.TempDir()
	n := streamLexAbove/len(bigPiece) + 10
	lines := strings.Count(bigPiece, "\n") * n
	for name, tail := range map[string]string{
		"parse error":  "{% if %}\n",               // the parser stops early
		"lexer error":  "{{ 'unterminated }}\n",    // gonja's lexer stops
		"unclosed tag": "{% for x in y %}\nmore\n", // found at EOF
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".j2")
			if err := os.WriteFile(p, []byte(strings.Repeat(bigPiece, n)+tail), 0o644); err != nil {
				t.Fatal(err)
			}
			before := runtime.NumGoroutine()
			_, err := e.RenderFile(p, Vars{"greeting": "x", "n": 1})
			if err == nil {
				t.Fatal("no error")
			}
			if name != "unclosed tag" && !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q names no line", err)
			}
			var se *SyntaxError
			if errors.As(err, &se) && se.Line > 0 && se.Line < lines {
				t.Errorf("error %q is on line %d, before the bad tail at line %d", err, se.Line, lines+1)
			}
			waitGoroutines(t, before)
		})
	}
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before: the lexer goroutine did not end", runtime.NumGoroutine(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzTemplateStreamed parses each input twice, lexed all at once and
// streamed through the token window (streamLexAbove forced to 0): both
// must fail, or both give the same tree.
func FuzzTemplateStreamed(f *testing.F) {
	f.Add(bigPiece)
	for _, s := range []string{
		"{{ a }}{#- c -#} {{ b }}", "{% if x -%}\n a \n{%- endif %}", "{# unterminated", "{{ 'x }}",
		"{% for i in xs %}{{ loop.index }}{% else %}none{% endfor %}", "{%- raw -%} {{ x }} {%- endraw -%}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		whole, errWhole := parseTemplate(s, false)
		saved := streamLexAbove
		streamLexAbove = 0
		streamed, errStreamed := parseTemplate(s, false)
		streamLexAbove = saved
		if (errWhole == nil) != (errStreamed == nil) {
			t.Fatalf("lexed whole: %v; streamed: %v", errWhole, errStreamed)
		}
		if errWhole == nil && !reflect.DeepEqual(whole, streamed) {
			t.Fatalf("the trees differ:\nwhole    %#v\nstreamed %#v", whole.nodes, streamed.nodes)
		}
	})
}
