package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The parse cache keys on the options: one text rendered with different
// delimiters or block whitespace gives different results.
func TestRenderTemplateOptionsAreCacheKeys(t *testing.T) {
	e := New(Options{})
	text := "  {% if true %}\n[[ 1 + 1 ]] {{ 2 }}\n  {% endif %}\n"
	vars := Vars{}
	def, err := e.RenderTemplate(text, vars)
	if err != nil || def != "  [[ 1 + 1 ]] 2\n  \n" {
		t.Errorf("defaults: %q %v", def, err)
	}
	o := DefaultTextOptions()
	o.VariableStart, o.VariableEnd, o.LstripBlocks = "[[", "]]", true
	got, err := e.WithOptions(o).RenderTemplate(text, vars)
	if err != nil || got != "2 {{ 2 }}\n" {
		t.Errorf("[[ ]] and lstrip_blocks: %q %v", got, err)
	}
	again, _ := e.RenderTemplate(text, vars)
	if again != def {
		t.Errorf("defaults after other options: %q, want %q", again, def)
	}
	hdr, err := e.RenderTemplate("#jinja2: variable_start_string: '[[', variable_end_string: ']]'\n"+text, vars)
	if err != nil || hdr != "  2 {{ 2 }}\n  \n" {
		t.Errorf("header: %q %v", hdr, err)
	}
}

func TestParseJinjaHeader(t *testing.T) {
	base := DefaultTextOptions()
	o, rest, err := ParseJinjaHeader("#jinja2: trim_blocks: False, lstrip_blocks: True, block_start_string: \"<%\"\nbody\n", base)
	if err != nil || o.TrimBlocks || !o.LstripBlocks || o.BlockStart != "<%" || rest != "body\n" {
		t.Errorf("got %+v %q %v", o, rest, err)
	}
	if _, _, err := ParseJinjaHeader("#jinja2: trim_blocks=False\nx", base); err == nil || !strings.Contains(err.Error(), "colon") {
		t.Errorf("want a key-value separator error, got %v", err)
	}
	if _, _, err := ParseJinjaHeader("#jinja2: trim_blocks: false\nx", base); err == nil {
		t.Error("false is not a Python literal; want an error")
	}
	if _, _, err := ParseJinjaHeader("#jinja2: variable_start_string: ''\nx", base); err == nil {
		t.Error("want an error for an empty delimiter")
	}
	// a header and nothing else (found by FuzzTemplateFile: it panicked)
	for _, h := range []string{"#jinja2:", "#jinja2:x", "#jinja2: trim_blocks: False"} {
		if _, _, err := ParseJinjaHeader(h, base); err == nil && h == "#jinja2:" {
			t.Errorf("%q: an empty override list parsed", h)
		}
	}
	if o, _, err := ParseJinjaHeader("#jinja2: trim_blocks: False!", base); err != nil || o.TrimBlocks {
		t.Errorf("a header without a newline drops its last character, as Python's data[8:-1]: %+v %v", o, err)
	}
	if o, rest, _ := ParseJinjaHeader("no header", base); o != base || rest != "no header" {
		t.Errorf("no header: %+v %q", o, rest)
	}
}

func TestExtendsErrors(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"self.j2":     `{% extends "self.j2" %}`,
		"nosuper.j2":  `{% block a %}{{ super() }}{% endblock %}`,
		"twice.j2":    `{% extends "base.j2" %}{% extends "base.j2" %}`,
		"base.j2":     `{% block a %}A{% endblock %}`,
		"dup.j2":      `{% block a %}{% endblock %}{% block a %}{% endblock %}`,
		"mismatch.j2": `{% block a %}{% endblock b %}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := New(Options{SearchPaths: []string{dir}})
	for name, want := range map[string]string{
		"self.j2": "maximum recursion depth", "nosuper.j2": "no parent block called 'a'", "twice.j2": "extended multiple times",
		"dup.j2": "defined twice", "mismatch.j2": "mismatching name",
	} {
		_, err := e.RenderFile(filepath.Join(dir, name), Vars{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, want)
		}
	}
}
