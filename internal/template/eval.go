package template

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxIncludeDepth bounds nested {% include %}, so a template that includes
// itself fails instead of exhausting the stack.
const maxIncludeDepth = 64

// state is shared by every scope of one top-level Render/Eval call.
type state struct {
	e         *Engine
	vars      Vars
	resolved  map[string]any
	resolving map[string]bool
	dir       string // directory of the template file being rendered, for include
	depth     int
	tc        *tplCtx // the blocks of the template being rendered
}

// scope is a variable scope: template locals over task vars.
type scope struct {
	st     *state
	locals map[string]any
	parent *scope
}

// macro is a callable defined by {% macro %}.
type macro struct {
	name string
	n    *macroNode
	sc   *scope
}

// Getter is a mapping whose items are computed when a template reads them,
// for values too large or too lazy to build up front (hostvars, vars). The
// returned values are used as they are (not templated again).
type Getter interface {
	TemplateGet(key string) (any, bool)
}

// KeyedGetter is a Getter that can also list its keys, so templates can
// loop over it and take its length ({% for h in hostvars %}).
type KeyedGetter interface {
	Getter
	TemplateKeys() []string
}

// varsView is the magic `vars` variable: every variable, templated on read.
type varsView struct{ sc *scope }

// TemplateGet returns the variable as written, not templated: that is
// what Ansible 2.14's `vars` gives.
func (v *varsView) TemplateGet(key string) (any, bool) {
	r, ok := v.sc.st.vars[key]
	return norm(r), ok
}

// fn is a global function (range, lookup, ...).
type fn func(sc *scope, args []any, kw map[string]any) any

// method is a bound Python method (s.split, d.items, ...).
type method struct {
	recv any
	name string
}

type tplError struct{ err error }

func fail(format string, args ...any) {
	panic(tplError{fmt.Errorf(format, args...)})
}

func (sc *scope) child() *scope { return &scope{st: sc.st, locals: map[string]any{}, parent: sc} }

func (sc *scope) set(k string, v any) { sc.locals[k] = v }

func (sc *scope) lookup(name string) any {
	for s := sc; s != nil; s = s.parent {
		if v, ok := s.locals[name]; ok {
			return v
		}
	}
	st := sc.st
	if v, ok := st.resolved[name]; ok {
		return v
	}
	raw, ok := st.vars[name]
	if !ok {
		if g, ok := globals[name]; ok {
			return g
		}
		if name == "vars" {
			return &varsView{sc: &scope{st: st, locals: map[string]any{}}}
		}
		if name == "self" && st.tc != nil {
			return &selfRef{tc: st.tc}
		}
		return &undef{name: name}
	}
	if st.resolving[name] {
		panic(tplError{fmt.Errorf("recursive loop detected in template string: {{ %s }}", name)})
	}
	st.resolving[name] = true
	v := sc.resolveVar(raw)
	delete(st.resolving, name)
	st.resolved[name] = v
	return v
}

// resolveVar templates a variable's value; a value whose templates hit an
// undefined variable makes the variable itself undefined (so
// `x is defined` is false and `x | default()` works), as in Ansible.
func (sc *scope) resolveVar(raw any) (v any) {
	if hasTemplate(raw) {
		defer func() {
			if r := recover(); r != nil {
				err := errOf(r)
				var ue *UndefinedError
				if errors.As(err, &ue) {
					v = &undef{name: ue.Name, msg: ue.Msg}
					return
				}
				panic(tplError{err})
			}
		}()
	}
	return sc.resolveLazy(raw)
}

// resolveLazy renders template strings inside a variable's value.
func (sc *scope) resolveLazy(raw any) any {
	switch x := norm(raw).(type) {
	case string:
		if !IsTemplated(x) {
			return x
		}
		v, err := sc.st.e.render(x, &scope{st: sc.st, locals: map[string]any{}})
		if err != nil {
			panic(tplError{err})
		}
		return v
	case []any:
		var out []any
		for i, e := range x {
			r := sc.resolveLazy(e)
			if out == nil && !sameValue(r, e) {
				out = make([]any, len(x))
				copy(out, x[:i])
			}
			if out != nil {
				out[i] = r
			}
		}
		if out == nil {
			return x
		}
		return out
	case *Map, map[string]any:
		if !hasTemplate(x) {
			return x
		}
		keys, _ := mapKeys(x)
		m := NewMap()
		for _, k := range keys {
			e, _ := mapGet(x, k)
			rk := k
			if IsTemplated(k) {
				rk = toStr(sc.resolveLazy(k))
			}
			m.Set(rk, sc.resolveLazy(e))
		}
		return m
	}
	return norm(raw)
}

// hasTemplate reports whether any string in v (keys included) is templated.
func hasTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		return IsTemplated(x)
	case []any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	case *Map:
		for _, k := range x.keys {
			if IsTemplated(k) || hasTemplate(x.m[k]) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if IsTemplated(k) || hasTemplate(e) {
				return true
			}
		}
	}
	return false
}

func sameValue(a, b any) bool {
	switch a.(type) {
	case string, int, bool, float64, nil:
		return a == b
	}
	return false
}

func (sc *scope) execNodes(nodes []node, out *strings.Builder) {
	for _, n := range nodes {
		sc.exec(n, out)
	}
}

func outStr(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case markup:
		return string(x)
	}
	return toStr(v)
}

func (sc *scope) exec(n node, out *strings.Builder) {
	switch n := n.(type) {
	case *textNode:
		out.WriteString(n.s)
	case *outNode:
		out.WriteString(outStr(sc.eval(n.x)))
	case *ifNode:
		for i, c := range n.conds {
			if truth(sc.eval(c)) {
				sc.execNodes(n.bodies[i], out)
				return
			}
		}
		sc.execNodes(n.els, out)
	case *forNode:
		sc.execFor(n, sc.eval(n.iter), out, 0)
	case *setNode:
		var v any
		if n.body != nil {
			var b strings.Builder
			sc.execNodes(n.body, &b)
			v = b.String()
		} else {
			v = sc.eval(n.x)
		}
		if n.attr != "" {
			obj := sc.lookup(n.targets[0])
			m, ok := obj.(*Map)
			if !ok || !m.tmp {
				fail("cannot assign attribute on non-namespace object")
			}
			m.Set(n.attr, v)
			return
		}
		if len(n.targets) == 1 {
			sc.set(n.targets[0], v)
		} else {
			l := toList(v)
			if len(l) != len(n.targets) {
				fail("cannot unpack %d values into %d names", len(l), len(n.targets))
			}
			for i, t := range n.targets {
				sc.set(t, l[i])
			}
		}
	case *includeNode:
		name := toStr(sc.eval(n.x))
		p, path := sc.loadTemplate(name, !n.ignoreMissing)
		if p == nil {
			return
		}
		if sc.st.depth >= maxIncludeDepth {
			panic(tplError{fmt.Errorf("maximum recursion depth exceeded: %s includes itself (%d levels)", name, maxIncludeDepth)})
		}
		sc.st.depth++
		sub := sc.child()
		old := sc.st.dir
		sc.st.dir = filepath.Dir(path)
		sub.runTemplate(p, out)
		sc.st.dir = old
		sc.st.depth--
	case *importNode:
		name := toStr(sc.eval(n.x))
		p, path := sc.loadTemplate(name, true)
		mod := sc.child()
		old := sc.st.dir
		sc.st.dir = filepath.Dir(path)
		var discard strings.Builder
		mod.runTemplate(p, &discard)
		sc.st.dir = old
		if n.as != "" {
			m := NewMap()
			keys, _ := mapKeys(mod.locals)
			for _, k := range keys {
				m.Set(k, mod.locals[k])
			}
			sc.set(n.as, m)
			return
		}
		for i, nm := range n.names {
			v, ok := mod.locals[nm]
			if !ok {
				fail("the template %s does not export the requested name %s", name, nm)
			}
			sc.set(n.aliases[i], v)
		}
	case *macroNode:
		sc.set(n.name, &macro{name: n.name, n: n, sc: sc})
	case *withNode:
		sub := sc.child()
		for i, name := range n.names {
			sub.set(name, sc.eval(n.vals[i]))
		}
		sub.execNodes(n.body, out)
	case *blockNode:
		sc.execBlock(n, out)
	case *extendsNode:
		sc.execExtends(n)
	case *filterBlockNode:
		var b strings.Builder
		sc.execNodes(n.body, &b)
		out.WriteString(outStr(sc.applyFilter(n.f, b.String())))
	default:
		fail("unknown node %T", n)
	}
}

func (sc *scope) execFor(n *forNode, seq any, out *strings.Builder, depth int) {
	items := iterate(seq)
	if n.filter != nil {
		var kept []any
		for _, it := range items {
			s := sc.child()
			bindTargets(s, n.targets, it)
			if truth(s.eval(n.filter)) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		sc.execNodes(n.els, out)
		return
	}
	for i, it := range items {
		s := sc.child()
		bindTargets(s, n.targets, it)
		loop := NewMap()
		loop.Set("index", i+1)
		loop.Set("index0", i)
		loop.Set("revindex", len(items)-i)
		loop.Set("revindex0", len(items)-i-1)
		loop.Set("first", i == 0)
		loop.Set("last", i == len(items)-1)
		loop.Set("length", len(items))
		loop.Set("depth", depth+1)
		loop.Set("depth0", depth)
		if i > 0 {
			loop.Set("previtem", items[i-1])
		}
		if i+1 < len(items) {
			loop.Set("nextitem", items[i+1])
		}
		idx := i
		loop.Set("cycle", fn(func(_ *scope, args []any, _ map[string]any) any {
			if len(args) == 0 {
				return nil
			}
			return args[idx%len(args)]
		}))
		if n.recursive {
			loop.Set("__call__", fn(func(_ *scope, args []any, _ map[string]any) any {
				var b strings.Builder
				sc.execFor(n, args[0], &b, depth+1)
				return b.String()
			}))
		}
		s.set("loop", loop)
		s.execNodes(n.body, out)
	}
	return
}

func bindTargets(s *scope, targets []string, it any) {
	if len(targets) == 1 {
		s.set(targets[0], it)
		return
	}
	l := toList(it)
	if len(l) != len(targets) {
		fail("cannot unpack %d values into %d loop variables", len(l), len(targets))
	}
	for i, t := range targets {
		s.set(t, l[i])
	}
}

// iterate returns the items of an iterable (dict keys, string chars).
func iterate(v any) []any {
	switch x := norm(v).(type) {
	case []any:
		return x
	case *Map, map[string]any:
		keys, _ := mapKeys(x)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out
	case KeyedGetter:
		return toAnySlice(x.TemplateKeys())
	case *undef:
		panic(x.err())
	case nil:
		fail("'NoneType' object is not iterable")
	}
	fail("'%s' object is not iterable", typeName(v))
	return nil
}

func toList(v any) []any { return iterate(v) }

func (sc *scope) evalArgs(args []expr, kwargs []kwArg) ([]any, map[string]any) {
	av := make([]any, len(args))
	for i, a := range args {
		av[i] = sc.eval(a)
	}
	var kw map[string]any
	if len(kwargs) > 0 {
		kw = make(map[string]any, len(kwargs)+1)
		order := make([]string, len(kwargs))
		for i, k := range kwargs {
			kw[k.name] = sc.eval(k.v)
			order[i] = k.name
		}
		kw[kwOrderKey] = order
	}
	return av, kw
}

func (sc *scope) eval(x expr) any {
	switch x := x.(type) {
	case *litExpr:
		return x.v
	case *nameExpr:
		return sc.lookup(x.name)
	case *attrExpr:
		return getAttr(sc.eval(x.x), x.name)
	case *itemExpr:
		return getItem(sc.eval(x.x), sc.eval(x.idx))
	case *sliceExpr:
		return sc.evalSlice(x)
	case *callExpr:
		if a, ok := x.fn.(*attrExpr); ok && (a.name == "append" || a.name == "extend") {
			if l, isList := norm(sc.eval(a.x)).([]any); isList {
				args, _ := sc.evalArgs(x.args, nil)
				if len(args) != 1 {
					fail("list.%s() takes exactly one argument (%d given)", a.name, len(args))
				}
				nl := append(l[:len(l):len(l)], args[0])
				if a.name == "extend" {
					nl = append(l[:len(l):len(l)], iterate(args[0])...)
				}
				sc.assignBack(a.x, nl)
				return nil
			}
		}
		f := sc.eval(x.fn)
		args, kw := sc.evalArgs(x.args, x.kwargs)
		return sc.call(f, args, kw)
	case *filterExpr:
		return sc.applyFilter(x, nil)
	case *testExpr:
		r := sc.applyTest(x)
		if x.neg {
			return !r
		}
		return r
	case *binExpr:
		return sc.evalBin(x)
	case *unaryExpr:
		v := sc.eval(x.x)
		switch x.op {
		case "not":
			return !truth(v)
		case "-":
			switch n := norm(v).(type) {
			case int:
				return -n
			case float64:
				return -n
			case bool:
				if n {
					return -1
				}
				return 0
			}
			fail("bad operand type for unary -: '%s'", typeName(v))
		case "+":
			return v
		}
	case *listExpr:
		out := make([]any, len(x.items))
		for i, e := range x.items {
			out[i] = sc.eval(e)
		}
		return out
	case *tupleExpr:
		out := make(tuple, len(x.items))
		for i, e := range x.items {
			out[i] = sc.eval(e)
		}
		return out
	case *dictExpr:
		m := newTmpMap()
		for i, k := range x.keys {
			m.Set(toStr(sc.eval(k)), sc.eval(x.vals[i]))
		}
		return m
	case *condExpr:
		if truth(sc.eval(x.cond)) {
			return sc.eval(x.a)
		}
		if x.b == nil {
			return &undef{name: "", msg: "the inline if-expression on line 1 evaluated to false and no else section was defined."}
		}
		return sc.eval(x.b)
	}
	fail("cannot evaluate %T", x)
	return nil
}

func (sc *scope) call(f any, args []any, kw map[string]any) any {
	switch f := f.(type) {
	case fn:
		return f(sc, args, kw)
	case *method:
		return callMethod(f.recv, f.name, args, kw)
	case *macro:
		s := f.sc.child()
		for i, p := range f.n.params {
			switch {
			case i < len(args):
				s.set(p, args[i])
			case hasKey(kw, p):
				s.set(p, kw[p])
			case f.n.defaults[i] != nil:
				s.set(p, s.eval(f.n.defaults[i]))
			default:
				s.set(p, &undef{name: p})
			}
		}
		s.set("varargs", sliceFrom(args, len(f.n.params)))
		var b strings.Builder
		s.execNodes(f.n.body, &b)
		return b.String()
	case *Map:
		if c, ok := f.Get("__call__"); ok {
			return sc.call(c, args, kw)
		}
	case *undef:
		panic(f.err())
	}
	fail("'%s' object is not callable", typeName(f))
	return nil
}

// assignBack stores v where target (a template variable or an item of a
// dict the template created) lives: lists are Go slices, so l.append(x)
// rebinds l instead of changing it in place.
func (sc *scope) assignBack(target expr, v any) {
	switch t := target.(type) {
	case *nameExpr:
		for s := sc; s != nil; s = s.parent {
			if _, ok := s.locals[t.name]; ok {
				s.locals[t.name] = v
				return
			}
		}
		fail("cannot append to '%s': only lists the template created with {%% set %%} can be changed in place", t.name)
	case *attrExpr:
		if m, ok := norm(sc.eval(t.x)).(*Map); ok && m.tmp {
			m.Set(t.name, v)
			return
		}
	case *itemExpr:
		if m, ok := norm(sc.eval(t.x)).(*Map); ok && m.tmp {
			m.Set(toStr(sc.eval(t.idx)), v)
			return
		}
	}
	fail("cannot change this list in place; build a new one (e.g. with + or union)")
}

func sliceFrom(l []any, i int) []any {
	if i >= len(l) {
		return []any{}
	}
	return l[i:]
}

var dictMethods = map[string]bool{"items": true, "keys": true, "values": true, "get": true, "copy": true, "update": true, "pop": true, "setdefault": true}
var strMethods = map[string]bool{"split": true, "rsplit": true, "strip": true, "lstrip": true, "rstrip": true, "startswith": true, "endswith": true,
	"replace": true, "lower": true, "upper": true, "format": true, "join": true, "title": true, "capitalize": true, "find": true, "rfind": true,
	"count": true, "isdigit": true, "isalpha": true, "isalnum": true, "isspace": true, "islower": true, "isupper": true, "splitlines": true,
	"index": true, "zfill": true, "ljust": true, "rjust": true, "center": true, "partition": true, "rpartition": true, "swapcase": true, "casefold": true}
var listMethods = map[string]bool{"index": true, "count": true, "append": true, "extend": true, "insert": true, "pop": true, "remove": true, "copy": true, "sort": true, "reverse": true}

// getAttr is Jinja2's getattr: Python attribute first, then item.
func getAttr(obj any, name string) any {
	if g, ok := obj.(groupTuple); ok && len(g) == 2 {
		switch name {
		case "grouper":
			return g[0]
		case "list":
			return g[1]
		}
	}
	obj = norm(obj)
	switch x := obj.(type) {
	case *undef:
		return x
	case object:
		if v, ok := x.attr(name); ok {
			return v
		}
	case Getter:
		if v, ok := x.TemplateGet(name); ok {
			return norm(v)
		}
		return &undef{name: name, msg: fmt.Sprintf("'%s' has no attribute '%s'", typeName(obj), name)}
	case *Map, map[string]any:
		if dictMethods[name] {
			return &method{recv: x, name: name}
		}
		if v, ok := mapGet(x, name); ok {
			return v
		}
		return &undef{name: name, msg: fmt.Sprintf("'dict object' has no attribute '%s'", name)}
	case string:
		if strMethods[name] {
			return &method{recv: x, name: name}
		}
	case []any:
		if listMethods[name] {
			return &method{recv: x, name: name}
		}
	case nil:
		return &undef{name: name, msg: fmt.Sprintf("'None' has no attribute '%s'", name)}
	}
	return &undef{name: name, msg: fmt.Sprintf("'%s object' has no attribute '%s'", typeName(obj), name)}
}

// getItem is Jinja2's getitem: item first, then attribute.
func getItem(obj any, key any) any {
	if g, ok := obj.(groupTuple); ok {
		if name, ok := key.(string); ok && (name == "grouper" || name == "list") {
			return getAttr(g, name)
		}
	}
	obj, key = norm(obj), norm(key)
	if u, ok := key.(*undef); ok {
		panic(u.err())
	}
	switch x := obj.(type) {
	case *undef:
		return x
	case Getter:
		if v, ok := x.TemplateGet(toStr(key)); ok {
			return norm(v)
		}
		return &undef{name: toStr(key), msg: fmt.Sprintf("'%s' has no attribute %s", typeName(obj), repr(key))}
	case *Map, map[string]any:
		if ks, ok := key.(string); ok {
			if v, ok := mapGet(x, ks); ok {
				return v
			}
		} else if key != nil {
			if v, ok := mapGet(x, toStr(key)); ok {
				return v
			}
		}
		return &undef{name: toStr(key), msg: fmt.Sprintf("'dict object' has no attribute %s", repr(key))}
	case []any:
		if i, ok := key.(int); ok {
			if i < 0 {
				i += len(x)
			}
			if i < 0 || i >= len(x) {
				return &undef{name: toStr(key), msg: "list object has no element " + toStr(key)}
			}
			if g, ok := x[i].(groupTuple); ok {
				return g // keeps .grouper and .list
			}
			return norm(x[i])
		}
	case string:
		if i, ok := key.(int); ok {
			r := []rune(x)
			if i < 0 {
				i += len(r)
			}
			if i < 0 || i >= len(r) {
				return &undef{name: toStr(key), msg: "str object has no element " + toStr(key)}
			}
			return string(r[i])
		}
	}
	if ks, ok := key.(string); ok {
		return getAttr(obj, ks)
	}
	return &undef{name: toStr(key), msg: fmt.Sprintf("'%s object' has no attribute %s", typeName(obj), repr(key))}
}

func (sc *scope) evalSlice(x *sliceExpr) any {
	v := norm(sc.eval(x.x))
	bound := func(e expr) (int, bool) {
		if e == nil {
			return 0, false
		}
		r := norm(sc.eval(e))
		if r == nil {
			return 0, false
		}
		i, ok := r.(int)
		if !ok {
			fail("slice indices must be integers")
		}
		return i, true
	}
	var n int
	var items []any
	var runes []rune
	switch s := v.(type) {
	case []any:
		items, n = s, len(s)
	case string:
		runes = []rune(s)
		n = len(runes)
	case *undef:
		panic(s.err())
	default:
		fail("'%s' object is not subscriptable", typeName(v))
	}
	step, ok := bound(x.step)
	if !ok {
		step = 1
	}
	if step == 0 {
		fail("slice step cannot be zero")
	}
	norm := func(i int, def int, isSet bool) int {
		if !isSet {
			return def
		}
		if i < 0 {
			i += n
			if i < 0 {
				if step < 0 {
					return -1
				}
				return 0
			}
		}
		if i >= n {
			if step < 0 {
				return n - 1
			}
			return n
		}
		return i
	}
	lo, loSet := bound(x.lo)
	hi, hiSet := bound(x.hi)
	var idx []int
	if step > 0 {
		a, b := norm(lo, 0, loSet), norm(hi, n, hiSet)
		for i := a; i < b; i += step {
			idx = append(idx, i)
		}
	} else {
		a, b := norm(lo, n-1, loSet), norm(hi, -1, hiSet)
		for i := a; i > b; i += step {
			idx = append(idx, i)
		}
	}
	if runes != nil || items == nil {
		var sb strings.Builder
		for _, i := range idx {
			sb.WriteRune(runes[i])
		}
		return sb.String()
	}
	out := make([]any, len(idx))
	for j, i := range idx {
		out[j] = items[i]
	}
	return out
}

func (sc *scope) evalBin(x *binExpr) any {
	switch x.op {
	case "and":
		l := sc.eval(x.l)
		if !truth(l) {
			return l
		}
		return sc.eval(x.r)
	case "or":
		l := sc.eval(x.l)
		if truth(l) {
			return l
		}
		return sc.eval(x.r)
	}
	rawR := sc.eval(x.r)
	l, r := norm(sc.eval(x.l)), norm(rawR)
	if u, ok := l.(*undef); ok {
		panic(u.err())
	}
	if u, ok := r.(*undef); ok {
		panic(u.err())
	}
	switch x.op {
	case "==":
		return equal(l, r)
	case "!=":
		return !equal(l, r)
	case "<":
		return compare(l, r) < 0
	case "<=":
		return compare(l, r) <= 0
	case ">":
		return compare(l, r) > 0
	case ">=":
		return compare(l, r) >= 0
	case "in":
		return contains(r, l)
	case "not in":
		return !contains(r, l)
	case "~":
		return outStrTilde(l) + outStrTilde(r)
	case "+":
		switch a := l.(type) {
		case string:
			if b, ok := r.(string); ok {
				return a + b
			}
		case []any:
			if b, ok := r.([]any); ok {
				out := make([]any, 0, len(a)+len(b))
				return append(append(out, a...), b...)
			}
		}
		return arith(x.op, l, r)
	case "*":
		if s, ok := l.(string); ok {
			if n, ok := r.(int); ok {
				return strings.Repeat(s, max(n, 0))
			}
		}
		if a, ok := l.([]any); ok {
			if n, ok := r.(int); ok {
				var out []any
				for i := 0; i < n; i++ {
					out = append(out, a...)
				}
				if out == nil {
					out = []any{}
				}
				return out
			}
		}
		return arith(x.op, l, r)
	case "%":
		if s, ok := l.(string); ok {
			// Only a tuple spreads into several arguments: '%s' % [1, 2] is one.
			_, spread := asTuple(rawR)
			return pyFormat(s, r, spread)
		}
		return arith(x.op, l, r)
	}
	return arith(x.op, l, r)
}

func outStrTilde(v any) string {
	if v == nil {
		return "None"
	}
	return toStr(v)
}

func contains(container, item any) bool {
	switch c := norm(container).(type) {
	case string:
		s, ok := norm(item).(string)
		if !ok {
			fail("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s)
	case []any:
		for _, e := range c {
			if equal(e, item) {
				return true
			}
		}
		return false
	case *Map, map[string]any:
		s, ok := norm(item).(string)
		if !ok {
			return false
		}
		_, found := mapGet(c, s)
		return found
	case Getter:
		_, found := c.TemplateGet(toStr(item))
		return found
	case *undef:
		panic(c.err())
	}
	fail("argument of type '%s' is not iterable", typeName(container))
	return false
}

func arith(op string, l, r any) any {
	if v, ok := objectArith(op, l, r); ok {
		return v
	}
	li, lInt := l.(int)
	ri, rInt := r.(int)
	if lb, ok := l.(bool); ok {
		li, lInt = b2i(lb), true
	}
	if rb, ok := r.(bool); ok {
		ri, rInt = b2i(rb), true
	}
	if lInt && rInt {
		switch op {
		case "+":
			return li + ri
		case "-":
			return li - ri
		case "*":
			return li * ri
		case "/":
			if ri == 0 {
				fail("division by zero")
			}
			return float64(li) / float64(ri)
		case "//":
			if ri == 0 {
				fail("integer division or modulo by zero")
			}
			q := li / ri
			if (li%ri != 0) && ((li < 0) != (ri < 0)) {
				q--
			}
			return q
		case "%":
			if ri == 0 {
				fail("integer division or modulo by zero")
			}
			m := li % ri
			if m != 0 && (m < 0) != (ri < 0) {
				m += ri
			}
			return m
		case "**":
			if ri >= 0 {
				res := 1
				for i := 0; i < ri; i++ {
					res *= li
				}
				return res
			}
			return math.Pow(float64(li), float64(ri))
		}
	}
	lf, ok1 := toFloat(l)
	rf, ok2 := toFloat(r)
	if !ok1 || !ok2 {
		fail("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(l), typeName(r))
	}
	switch op {
	case "+":
		return lf + rf
	case "-":
		return lf - rf
	case "*":
		return lf * rf
	case "/":
		if rf == 0 {
			fail("float division by zero")
		}
		return lf / rf
	case "//":
		if rf == 0 {
			fail("float floor division by zero")
		}
		return math.Floor(lf / rf)
	case "%":
		if rf == 0 {
			fail("float modulo")
		}
		m := math.Mod(lf, rf)
		if m != 0 && (m < 0) != (rf < 0) {
			m += rf
		}
		return m
	case "**":
		return math.Pow(lf, rf)
	}
	fail("unknown operator %s", op)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pyFormat implements Python's "fmt % args" for the common conversions.
func pyFormat(format string, arg any, spread bool) string {
	var args []any
	var named any
	switch a := norm(arg).(type) {
	case []any:
		if spread {
			args = a
		} else {
			args = []any{a}
		}
	case *Map, map[string]any:
		named = a
		args = []any{a}
	default:
		args = []any{a}
	}
	var b strings.Builder
	ai := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			fail("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		var val any
		haveVal := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 || named == nil {
				fail("format requires a mapping")
			}
			key := format[i+1 : i+end]
			var found bool
			if val, found = mapGet(named, key); !found {
				fail("KeyError: %s", pyQuote(key))
			}
			haveVal = true
			i += end + 1
		}
		j := i
		for j < len(format) && strings.IndexByte("-+ #0123456789.", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			fail("incomplete format")
		}
		flags, verb := format[i:j], format[j]
		i = j
		if !haveVal {
			if ai >= len(args) {
				fail("not enough arguments for format string")
			}
			val = args[ai]
			ai++
		}
		switch verb {
		case 's':
			b.WriteString(fmt.Sprintf("%"+flags+"s", toStr(val)))
		case 'r':
			b.WriteString(fmt.Sprintf("%"+flags+"s", repr(val)))
		case 'd', 'i':
			f, ok := toFloat(norm(val))
			if !ok {
				fail("%%d format: a number is required, not %s", typeName(val))
			}
			b.WriteString(fmt.Sprintf("%"+flags+"d", int(f)))
		case 'f', 'F', 'e', 'E', 'g', 'G', 'x', 'X', 'o':
			f, ok := toFloat(norm(val))
			if !ok {
				fail("a number is required, not %s", typeName(val))
			}
			switch {
			case verb == 'x' || verb == 'X' || verb == 'o':
				b.WriteString(fmt.Sprintf("%"+flags+string(verb), int(f)))
			case math.IsInf(f, 0) || math.IsNaN(f):
				// Python writes inf and nan, padded with spaces, never zeros
				word := pyFixed(f, 0)
				if strings.Contains(flags, "+") && f > 0 {
					word = "+" + word
				}
				if verb == 'F' || verb == 'E' || verb == 'G' {
					word = strings.ToUpper(word)
				}
				width, _, _ := strings.Cut(strings.TrimLeft(flags, "-+ #0"), ".")
				if strings.Contains(flags, "-") {
					width = "-" + width
				}
				b.WriteString(fmt.Sprintf("%"+width+"s", word))
			case (verb == 'g' || verb == 'G') && !strings.Contains(flags, "."):
				b.WriteString(fmt.Sprintf("%"+flags+".6"+string(verb), f)) // Python's default precision
			default:
				b.WriteString(fmt.Sprintf("%"+flags+string(verb), f))
			}
		case 'c':
			switch c := norm(val).(type) {
			case int:
				b.WriteString(fmt.Sprintf("%"+flags+"s", string(rune(c))))
			case string:
				if utf8.RuneCountInString(c) != 1 {
					fail("%%c requires int or char")
				}
				b.WriteString(fmt.Sprintf("%"+flags+"s", c))
			default:
				fail("%%c requires int or char")
			}
		default:
			fail("unsupported format character '%c'", verb)
		}
	}
	if named == nil && ai < len(args) {
		fail("not all arguments converted during string formatting")
	}
	return b.String()
}

// errOf converts a recovered panic into an error.
func errOf(r any) error {
	switch x := r.(type) {
	case tplError:
		return x.err
	case *UndefinedError:
		return x
	case error:
		var ue *UndefinedError
		if errors.As(x, &ue) {
			return x
		}
		return fmt.Errorf("template error: %w", x)
	}
	return fmt.Errorf("template error: %v", r)
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// loadTemplate finds a template that {% include %}, {% import %} or
// {% extends %} names, through the search paths, and parses it. A missing
// one fails the render when must, else gives nil.
func (sc *scope) loadTemplate(name string, must bool) (*parsed, string) {
	path, err := sc.st.e.findFile(name, sc.st.dir, sc.st.varSearchPaths()...)
	if err != nil {
		if !must {
			return nil, ""
		}
		panic(tplError{fmt.Errorf("template not found: %s", name)})
	}
	p, err := sc.st.e.parseFile(path)
	if err != nil {
		panic(tplError{err})
	}
	return p, path
}
