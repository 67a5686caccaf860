// Package template is tend's Jinja2: it renders Ansible-style templates and
// evaluates bare expressions (when:, that:) with Ansible 2.14's semantics —
// StrictUndefined, lazily templated variables, Ansible's filters, tests and
// lookups, Python printing of values, and insertion-ordered dicts (*Map).
//
// Templates are lexed with gonja's lexer; parsing and evaluation are done
// here, because gonja's evaluator differs from Jinja2 where Ansible playbooks
// notice (sorted dicts, test keyword arguments, None, **, '%' formatting).
//
// Values. Vars and results use nil, bool, int, float64, string, []any and
// dicts. Dicts are *Map (insertion-ordered); map[string]any is accepted
// anywhere and iterates in sorted key order. Hand YAML mappings over as
// *Map (FromYAMLNode does it) so items(), to_json, combine and loops keep
// YAML order as Ansible does. Results may contain *Map: ToGo converts to
// map[string]any for code that wants plain Go maps. Large or per-host
// lazy mappings (hostvars) can be a Getter/KeyedGetter.
//
// Rendering follows Ansible's templar, not bare Jinja2: Render("{{ x }}")
// gives x itself when it is a number or bool, results that look like a
// list/dict/bool ("[...]", "{...}", "True") become that value, other
// results are strings ("{{ n + 1 }}" is "43"); string literals inside
// {{ }} keep backslashes raw in task strings but not in template files;
// trim_blocks is on and trailing newlines are kept. Template files take
// the template module's options (TextOptions, Engine.WithOptions, the
// "#jinja2:" first line) and may use {% extends %} and {% block %}.
package template

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Vars are a task's variables. String values may themselves hold templates;
// they are rendered when an expression reads them.
type Vars map[string]any

// Options configure an Engine.
type Options struct {
	// SearchPaths for lookup('file'), lookup('template') and {% include %}:
	// relative paths are tried in each, in order.
	SearchPaths []string
}

// Omit is the value of the magic `omit` variable; the engine drops module
// arguments equal to it.
const Omit = "__omit_place_holder__tend"

// Engine renders templates. It is cheap to copy and safe for concurrent use.
type Engine struct {
	searchPaths []string
	cache       *cache
	opts        *TextOptions // for template files; nil: DefaultTextOptions
}

type cache struct {
	mu sync.Mutex
	m  map[string]*parsed
	x  map[string]expr
}

const cacheMax = 4096

// template parses src; file templates (the template module, include,
// lookup('template')) use Jinja2's own string escapes, strings in task
// arguments and vars use Ansible's raw backslashes.
// opts (nil: the defaults) set the delimiters and block whitespace.
func (c *cache) template(src string, file bool, opts *TextOptions) (*parsed, error) {
	key := src
	cfg := lexConfig
	if opts != nil && *opts != DefaultTextOptions() {
		cfg = opts.lexConfig()
		key = "\x00opts\x00" + opts.key() + "\x00" + key
	}
	if file {
		key = "\x00file\x00" + key
	}
	c.mu.Lock()
	p, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := parseTemplateWith(src, !file, cfg)
	if err != nil || len(src) > streamLexAbove {
		// a big template is not kept: the cache key and the tree would
		// hold its source for the engine's whole life
		return p, err
	}
	c.mu.Lock()
	if len(c.m) >= cacheMax {
		c.m = map[string]*parsed{}
	}
	c.m[key] = p
	c.mu.Unlock()
	return p, nil
}

func (c *cache) expr(src string) (expr, error) {
	c.mu.Lock()
	x, ok := c.x[src]
	c.mu.Unlock()
	if ok {
		return x, nil
	}
	x, err := parseExprString(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.x) >= cacheMax {
		c.x = map[string]expr{}
	}
	c.x[src] = x
	c.mu.Unlock()
	return x, nil
}

// New returns an Engine.
func New(opts Options) *Engine {
	return &Engine{
		searchPaths: append([]string(nil), opts.SearchPaths...),
		cache:       &cache{m: map[string]*parsed{}, x: map[string]expr{}},
	}
}

// WithSearchPaths returns a copy of e that looks up files in p; the parse
// cache is shared.
func (e *Engine) WithSearchPaths(p []string) *Engine {
	return &Engine{searchPaths: append([]string(nil), p...), cache: e.cache, opts: e.opts}
}

// IsTemplated reports whether s contains Jinja2 markers.
func IsTemplated(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%") || strings.Contains(s, "{#")
}

func (e *Engine) newState(vars Vars, dir string) *scope {
	st := &state{e: e, vars: vars, resolved: map[string]any{}, resolving: map[string]bool{}, dir: dir}
	return &scope{st: st, locals: map[string]any{}}
}

var singleVar = regexp.MustCompile(`^\{\{\s*(\w*)\s*\}\}\n?$`) // Python $ also matches before a final newline

// Render renders text as Ansible's templar does: text without template
// markers comes back unchanged; "{{ x }}" where x is a number or bool gives
// that value; a result that looks like a list or dict ("[...]", "{...}") or
// is "True"/"False" is turned back into that value, as Ansible 2.14 does
// (so "{{ mylist }}" is a list); everything else is a string.
func (e *Engine) Render(text string, vars Vars) (any, error) {
	if !IsTemplated(text) {
		return text, nil
	}
	return e.render(text, e.newState(vars, "").child())
}

func (e *Engine) render(text string, sc *scope) (out any, err error) {
	if m := singleVar.FindStringSubmatch(text); m != nil {
		if raw, ok := sc.st.vars[m[1]]; ok {
			switch v := norm(raw).(type) {
			case bool, int, float64:
				return v, nil
			case nil:
				return nil, nil
			}
		}
	}
	p, err := e.cache.template(text, false, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errOf(r)
		}
	}()
	if len(p.nodes) == 1 {
		if o, ok := p.nodes[0].(*outNode); ok {
			raw := sc.eval(o.x)
			if _, isTuple := asTuple(raw); isTuple {
				return p.restoreNewlines(repr(raw)), nil
			}
			v := norm(raw)
			switch x := v.(type) {
			case []any, *Map, map[string]any:
				if !literalOnly(x) {
					// Ansible's literal_eval of "[datetime.datetime(...)]"
					// fails, so the template gives the text
					return p.restoreNewlines(repr(x)), nil
				}
				return x, nil
			case bool:
				return x, nil
			case string:
				x = p.restoreNewlines(x)
				if f, isFilter := o.x.(*filterExpr); isFilter && stringTypeFilters[f.name] {
					// Ansible wraps these filters' results as
					// NativeJinjaText, which is never literal_eval'd.
					return x, nil
				}
				return literalish(x), nil
			case *undef:
				return nil, x.err()
			}
			return p.restoreNewlines(outStr(v)), nil
		}
	}
	var b strings.Builder
	sc.runTemplate(p, &b)
	return literalish(p.restoreNewlines(b.String())), nil
}

// stringTypeFilters are Ansible's STRING_TYPE_FILTERS: a template that is
// one of them keeps its string even when it looks like a list or dict.
var stringTypeFilters = map[string]bool{
	"string": true, "to_json": true, "to_nice_json": true, "to_yaml": true, "to_nice_yaml": true, "ppretty": true, "json": true,
}

// literalish mirrors ansible_concat: results that look like a list, dict
// or bool are evaluated as Python literals.
func literalish(s string) any {
	if s == "True" {
		return true
	}
	if s == "False" {
		return false
	}
	if !strings.HasPrefix(s, "[") && !strings.HasPrefix(s, "{") {
		return s
	}
	x, err := parseExprString(s)
	if err != nil || !isLiteral(x) {
		return s
	}
	var v any
	func() {
		defer func() {
			if recover() != nil {
				v = nil
			}
		}()
		v = (&scope{st: &state{vars: Vars{}}}).eval(x)
	}()
	if v == nil {
		return s
	}
	return v
}

func isLiteral(x expr) bool {
	switch x := x.(type) {
	case *litExpr:
		return true
	case *listExpr:
		for _, e := range x.items {
			if !isLiteral(e) {
				return false
			}
		}
		return true
	case *tupleExpr:
		for _, e := range x.items {
			if !isLiteral(e) {
				return false
			}
		}
		return true
	case *dictExpr:
		for i := range x.keys {
			if !isLiteral(x.keys[i]) || !isLiteral(x.vals[i]) {
				return false
			}
		}
		return true
	case *unaryExpr:
		return x.op == "-" && isLiteral(x.x)
	}
	return false
}

// RenderString renders text to a string (Python str() of a native result).
func (e *Engine) RenderString(text string, vars Vars) (string, error) {
	if !IsTemplated(text) {
		return text, nil
	}
	sc := e.newState(vars, "").child()
	p, err := e.cache.template(text, false, nil)
	if err != nil {
		return "", err
	}
	return e.execString(p, sc)
}

func (e *Engine) execString(p *parsed, sc *scope) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", errOf(r)
		}
	}()
	var b strings.Builder
	b.Grow(p.size) // output is usually about as long as the source
	sc.runTemplate(p, &b)
	return p.restoreNewlines(b.String()), nil
}

// RenderData renders every string inside v (maps, lists, map keys too).
// Maps come back as *Map (keeping order); map[string]any input is read in
// sorted key order.
func (e *Engine) RenderData(v any, vars Vars) (out any, err error) {
	sc := e.newState(vars, "").child()
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errOf(r)
		}
	}()
	return sc.resolveLazy(v), nil
}

// Eval evaluates a bare expression (when:, failed_when:, that:, debug var:).
func (e *Engine) Eval(expression string, vars Vars) (out any, err error) {
	x, err := e.cache.expr(strings.TrimSpace(expression))
	if err != nil {
		return nil, err
	}
	sc := e.newState(vars, "").child()
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errOf(r)
		}
	}()
	v := norm(sc.eval(x))
	if u, ok := v.(*undef); ok {
		return nil, u.err()
	}
	return v, nil
}

// EvalBool evaluates a when: condition. Like Ansible 2.14 it is Jinja2's
// truth: any non-empty string (even "false" or "no") is true. A condition
// that is already a bool literal string of the expression ("True") works
// too since it parses as an expression.
func (e *Engine) EvalBool(expression string, vars Vars) (bool, error) {
	expression = strings.TrimSpace(expression)
	if IsTemplated(expression) {
		// when: "{{ x }}" — Ansible templates it first, then evaluates.
		r, err := e.RenderString(expression, vars)
		if err != nil {
			return false, err
		}
		expression = r
	}
	v, err := e.Eval(expression, vars)
	if err != nil {
		return false, err
	}
	var b bool
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = errOf(r)
			}
		}()
		b = truth(v)
	}()
	return b, err
}

// RenderFile renders a template file (the template module) as
// RenderTemplate renders its text: the "#jinja2:" header and e's options
// apply, trailing newlines are kept and {% include %} resolves relative
// to the file's directory, then the search paths.
func (e *Engine) RenderFile(path string, vars Vars) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", path, err)
	}
	s, err := e.renderTemplateIn(string(b), filepath.Dir(path), vars)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", path, err)
	}
	return s, nil
}

// parseFile parses an included, imported or looked-up template with e's
// options.
func (e *Engine) parseFile(path string) (*parsed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return e.cache.template(string(b), true, e.opts)
}

// findFile resolves name against dir and the search paths.
func (e *Engine) findFile(name, dir string, extra ...string) (string, error) {
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err != nil {
			return "", err
		}
		return name, nil
	}
	var cands []string
	if dir != "" {
		cands = append(cands, filepath.Join(dir, name))
	}
	for _, p := range append(append([]string(nil), e.searchPaths...), extra...) {
		cands = append(cands, filepath.Join(p, name), filepath.Join(p, "files", name), filepath.Join(p, "templates", name))
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("could not find %q in search paths %v: %w", name, append([]string{dir}, e.searchPaths...), os.ErrNotExist)
}

// Query runs a lookup plugin on already-evaluated terms and returns its
// list, as a with_<plugin> loop does (with_items, with_dict, with_fileglob,
// with_first_found, with_sequence, with_subelements, with_together,
// with_nested, with_indexed_items, with_lines, with_file, with_env, ...).
// terms is the with_<plugin> value as a list (with_items: [1, [2, 3]] is
// terms [1, [2, 3]]; a single value is a one-element list). Templated
// strings inside terms are rendered first.
func (e *Engine) Query(plugin string, terms []any, kw map[string]any, vars Vars) (out []any, err error) {
	sc := e.newState(vars, "").child()
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("lookup %s: %w", plugin, errOf(r))
		}
	}()
	args := []any{plugin}
	for _, t := range terms {
		args = append(args, sc.resolveLazy(t))
	}
	kwc := map[string]any{}
	for k, v := range kw {
		kwc[k] = v
	}
	r := lookup(sc, args, kwc, true)
	l, _ := r.([]any)
	return l, nil
}

// IsUndefined reports whether err was caused by an undefined variable.
func IsUndefined(err error) bool {
	var ue *UndefinedError
	return errors.As(err, &ue)
}
