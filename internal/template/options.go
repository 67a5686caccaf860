package template

import (
	"fmt"
	"strings"

	"github.com/nikolalohinski/gonja/v2/config"
)

// TextOptions are the Jinja2 environment settings the template module
// takes (trim_blocks, lstrip_blocks and the delimiter strings) and a
// template file's "#jinja2:" first line may override. The zero value is
// not usable: start from DefaultTextOptions.
type TextOptions struct {
	TrimBlocks    bool // remove the first newline after a block tag (Ansible's default: true)
	LstripBlocks  bool // strip spaces and tabs before a block tag on its line
	VariableStart string
	VariableEnd   string
	BlockStart    string
	BlockEnd      string
	CommentStart  string
	CommentEnd    string
}

// DefaultTextOptions are Ansible's: trim_blocks on, lstrip_blocks off,
// {{ }}, {% %} and {# #}.
func DefaultTextOptions() TextOptions {
	return TextOptions{TrimBlocks: true, VariableStart: "{{", VariableEnd: "}}",
		BlockStart: "{%", BlockEnd: "%}", CommentStart: "{#", CommentEnd: "#}"}
}

// key identifies the options in the parse cache.
func (o TextOptions) key() string {
	return fmt.Sprintf("%t\x00%t\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s",
		o.TrimBlocks, o.LstripBlocks, o.VariableStart, o.VariableEnd, o.BlockStart, o.BlockEnd, o.CommentStart, o.CommentEnd)
}

func (o TextOptions) lexConfig() *config.Config {
	c := config.New()
	c.TrimBlocks = o.TrimBlocks
	c.LeftStripBlocks = o.LstripBlocks
	c.VariableStartString, c.VariableEndString = o.VariableStart, o.VariableEnd
	c.BlockStartString, c.BlockEndString = o.BlockStart, o.BlockEnd
	c.CommentStartString, c.CommentEndString = o.CommentStart, o.CommentEnd
	c.KeepTrailingNewline = false
	return c
}

// Validate reports an empty delimiter.
func (o TextOptions) Validate() error {
	for name, v := range map[string]string{"variable_start_string": o.VariableStart, "variable_end_string": o.VariableEnd,
		"block_start_string": o.BlockStart, "block_end_string": o.BlockEnd, "comment_start_string": o.CommentStart, "comment_end_string": o.CommentEnd} {
		if v == "" {
			return fmt.Errorf("%s must not be empty", name)
		}
	}
	return nil
}

const jinjaHeader = "#jinja2:"

// ParseJinjaHeader applies a template's "#jinja2: key: value, ..." first
// line to base, as Ansible's templar does: values are Python literals
// (True, False, 'quoted strings'), keys are Jinja2 environment attributes
// (trim_blocks, lstrip_blocks, variable_start_string, ...; others are
// ignored). It returns the options and the text without the header line;
// text without a header comes back unchanged with base.
func ParseJinjaHeader(text string, base TextOptions) (TextOptions, string, error) {
	if !strings.HasPrefix(text, jinjaHeader) {
		return base, text, nil
	}
	o := base
	eol := strings.IndexByte(text, '\n')
	var line string
	if eol < 0 {
		// Python's data[len(prefix):-1] (clamped: "#jinja2:" alone gives
		// ""), and data[0:] stays the whole text
		line = text[len(jinjaHeader):max(len(text)-1, len(jinjaHeader))]
	} else {
		line, text = text[len(jinjaHeader):eol], text[eol+1:]
	}
	for _, pair := range strings.Split(line, ",") {
		k, v, ok := strings.Cut(pair, ":")
		if !ok {
			return base, text, fmt.Errorf("failed to parse jinja2 override '%s'. Did you use something different from colon as key-value separator?", strings.TrimSpace(pair))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		val, err := pyLiteral(v)
		if err != nil {
			return base, text, fmt.Errorf("jinja2 override %s: %w", k, err)
		}
		str := func() (string, error) {
			s, ok := val.(string)
			if !ok {
				return "", fmt.Errorf("jinja2 override %s: want a string, got %s", k, v)
			}
			return s, nil
		}
		var serr error
		switch k {
		case "trim_blocks":
			o.TrimBlocks = truth(val)
		case "lstrip_blocks":
			o.LstripBlocks = truth(val)
		case "variable_start_string":
			o.VariableStart, serr = str()
		case "variable_end_string":
			o.VariableEnd, serr = str()
		case "block_start_string":
			o.BlockStart, serr = str()
		case "block_end_string":
			o.BlockEnd, serr = str()
		case "comment_start_string":
			o.CommentStart, serr = str()
		case "comment_end_string":
			o.CommentEnd, serr = str()
		}
		if serr != nil {
			return base, text, serr
		}
	}
	return o, text, o.Validate()
}

// pyLiteral evaluates what ast.literal_eval accepts in a header value:
// True, False, None, numbers and quoted strings.
func pyLiteral(s string) (v any, err error) {
	switch s {
	case "True":
		return true, nil
	case "False":
		return false, nil
	case "None":
		return nil, nil
	case "true", "false", "none", "null":
		return nil, fmt.Errorf("malformed node or string: %s", s)
	}
	x, err := parseExprString(s)
	if err != nil || !isLiteral(x) {
		return nil, fmt.Errorf("malformed node or string: %s", s)
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed node or string: %s", s)
		}
	}()
	return norm((&scope{st: &state{vars: Vars{}}}).eval(x)), nil
}

// WithOptions returns a copy of e that renders template files (RenderFile,
// RenderTemplate, {% include %}, {% import %}, lookup('template')) with o;
// task strings and expressions keep Ansible's defaults. The parse cache is
// shared and keyed on the options.
func (e *Engine) WithOptions(o TextOptions) *Engine {
	c := *e
	c.opts = &o
	return &c
}

// textOptions are e's options for template files.
func (e *Engine) textOptions() TextOptions {
	if e.opts != nil {
		return *e.opts
	}
	return DefaultTextOptions()
}

// RenderTemplate renders the text of a template file as Ansible's
// template module does: a "#jinja2:" first line overrides e's options
// (see WithOptions and ParseJinjaHeader), string literals keep Jinja2's
// escapes, trailing newlines are kept, and {% include %} is found
// through the search paths. Unlike RenderString, text without {{ is
// still rendered (the delimiters may differ).
func (e *Engine) RenderTemplate(text string, vars Vars) (string, error) {
	return e.renderTemplateIn(text, "", vars)
}

func (e *Engine) renderTemplateIn(text, dir string, vars Vars) (string, error) {
	o, body, err := ParseJinjaHeader(text, e.textOptions())
	if err != nil {
		return "", err
	}
	if err := o.Validate(); err != nil {
		return "", err
	}
	if o != e.textOptions() {
		e = e.WithOptions(o)
	}
	p, err := e.cache.template(body, true, e.opts)
	if err != nil {
		return "", err
	}
	return e.execString(p, e.newState(vars, dir).child())
}
