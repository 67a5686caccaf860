package template

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"unicode"
)

var globals map[string]any

func init() {
	globals = map[string]any{
		"omit": Omit,
		"range": fn(func(_ *scope, args []any, _ map[string]any) any {
			ints := make([]int, len(args))
			for i, a := range args {
				n, ok := norm(a).(int)
				if !ok {
					fail("range() integer argument expected, got %s", typeName(a))
				}
				ints[i] = n
			}
			start, stop, step := 0, 0, 1
			switch len(ints) {
			case 1:
				stop = ints[0]
			case 2:
				start, stop = ints[0], ints[1]
			case 3:
				start, stop, step = ints[0], ints[1], ints[2]
			default:
				fail("range expected 1 to 3 arguments")
			}
			if step == 0 {
				fail("range() arg 3 must not be zero")
			}
			out := []any{}
			for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
				out = append(out, i)
			}
			return out
		}),
		"dict": fn(func(_ *scope, args []any, kw map[string]any) any {
			m := newTmpMap()
			if len(args) > 0 {
				if src := asOrdered(norm(args[0])); src != nil {
					m = src.Copy()
					m.tmp = true
				} else {
					for _, it := range iterate(args[0]) {
						p := iterate(it)
						m.Set(toStr(p[0]), p[1])
					}
				}
			}
			for _, k := range kwKeys(kw) {
				m.Set(k, kw[k])
			}
			return m
		}),
		"namespace": fn(func(_ *scope, _ []any, kw map[string]any) any {
			m := newTmpMap()
			for _, k := range kwKeys(kw) {
				m.Set(k, kw[k])
			}
			return m
		}),
		"lookup": fn(func(sc *scope, args []any, kw map[string]any) any { return lookup(sc, args, kw, false) }),
		"query":  fn(func(sc *scope, args []any, kw map[string]any) any { return lookup(sc, args, kw, true) }),
		"q":      fn(func(sc *scope, args []any, kw map[string]any) any { return lookup(sc, args, kw, true) }),
	}
}

// kwOrderKey holds the order keyword arguments were written in (Python
// keeps it: dict(b=1, a=2) is {'b': 1, 'a': 2}).
const kwOrderKey = "\x00order"

// kwKeys returns keyword argument names in the order they were written.
func kwKeys(kw map[string]any) []string {
	if o, ok := kw[kwOrderKey].([]string); ok {
		return o
	}
	return nil
}

func lookup(sc *scope, args []any, kw map[string]any, wantList bool) (result any) {
	if e := kw["errors"]; e == "ignore" || e == "warn" {
		// errors='ignore'|'warn': a failing lookup gives None (query: []).
		defer func() {
			if r := recover(); r != nil {
				if _, isUndef := r.(*UndefinedError); isUndef {
					panic(r)
				}
				result = nil
				if wantList || kw["wantlist"] == true {
					result = []any{}
				}
			}
		}()
	}
	if len(args) == 0 {
		fail("lookup requires a plugin name")
	}
	name := toStr(args[0])
	var terms []string
	for _, a := range args[1:] {
		if l, ok := norm(a).([]any); ok {
			for _, e := range l {
				terms = append(terms, toStr(e))
			}
		} else {
			terms = append(terms, toStr(a))
		}
	}
	if kw["wantlist"] == true {
		wantList = true
	}
	var out []any
	switch name {
	case "file", "ansible.builtin.file":
		for _, t := range terms {
			p, err := sc.st.e.findFile(t, "", sc.st.varSearchPaths()...)
			if err != nil {
				fail("The 'file' lookup had an issue accessing the file '%s'. file not found, use -vvvvv to see paths searched", t)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				fail("lookup file %s: %v", t, err)
			}
			s := string(b)
			if kw["rstrip"] != false {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			if kw["lstrip"] == true {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			out = append(out, s)
		}
	case "env", "ansible.builtin.env":
		for _, t := range terms {
			v, ok := os.LookupEnv(t)
			if !ok {
				if d, has := kw["default"]; has {
					out = append(out, d)
					continue
				}
			}
			out = append(out, v)
		}
	case "template", "ansible.builtin.template":
		for _, t := range terms {
			p, err := sc.st.e.findFile(t, "", sc.st.varSearchPaths()...)
			if err != nil {
				fail("the template file %s could not be found for the lookup", t)
			}
			src, err := os.ReadFile(p)
			if err != nil {
				fail("template %s: %v", t, err)
			}
			// the lookup's delimiter options, then the file's #jinja2: line
			e := sc.st.e
			o := e.textOptions()
			for k, dst := range map[string]*string{"variable_start_string": &o.VariableStart, "variable_end_string": &o.VariableEnd,
				"comment_start_string": &o.CommentStart, "comment_end_string": &o.CommentEnd} {
				if v, ok := kw[k]; ok {
					*dst = toStr(v)
				}
			}
			o, body, err := ParseJinjaHeader(string(src), o)
			if err == nil {
				err = o.Validate()
			}
			if err != nil {
				fail("template %s: %v", t, err)
			}
			if o != e.textOptions() {
				e = e.WithOptions(o)
			}
			parsed, err := e.cache.template(body, true, e.opts)
			if err != nil {
				fail("template %s: %v", t, err)
			}
			var b strings.Builder
			sub := sc.child()
			oldDir, oldE := sc.st.dir, sc.st.e
			sc.st.dir, sc.st.e = dirOf(p), e
			func() {
				defer func() { sc.st.dir, sc.st.e = oldDir, oldE }()
				sub.runTemplate(parsed, &b)
			}()
			out = append(out, parsed.restoreNewlines(b.String()))
		}
	case "pipe", "ansible.builtin.pipe":
		for _, t := range terms {
			o, err := exec.Command("/bin/sh", "-c", t).Output()
			if err != nil {
				fail("lookup_plugin.pipe(%s) returned %v", t, err)
			}
			out = append(out, strings.TrimRight(string(o), "\n"))
		}
	case "vars", "ansible.builtin.vars":
		for _, t := range terms {
			v := sc.lookup(t)
			if u, ok := v.(*undef); ok {
				if d, has := kw["default"]; has {
					v = d
				} else {
					fail("No variable found with this name: %s", u.name)
				}
			}
			out = append(out, v)
		}
	case "flattened", "community.general.flattened":
		out = flattenedLookup(args[1:])
	case "items", "ansible.builtin.items":
		for _, a := range args[1:] {
			out = append(out, flatten([]any{a}, 1, false)...)
		}
	case "list", "ansible.builtin.list":
		out = append(out, args[1:]...)
	default:
		lp, ok := lookups[strings.TrimPrefix(name, "ansible.builtin.")]
		if !ok {
			fail("lookup plugin (%s) not found", name)
		}
		out = lp(sc, args[1:], kw)
	}
	if out == nil {
		out = []any{}
	}
	if wantList {
		return out
	}
	if len(out) == 0 {
		return out // Ansible hands back the empty list itself
	}
	// Ansible's ",".join(ran): only when every item is a string; otherwise
	// the TypeError keeps the list (or its one item).
	parts := make([]string, len(out))
	for i, o := range out {
		s, ok := o.(string)
		if m, isMarkup := o.(markup); isMarkup {
			s, ok = string(m), true
		}
		if !ok {
			if len(out) == 1 {
				return out[0]
			}
			return out
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

func dirOf(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i]
	}
	return "."
}

// callMethod implements the Python str/list/dict methods roles use.
func callMethod(recv any, name string, args []any, kw map[string]any) any {
	recv = norm(recv)
	switch r := recv.(type) {
	case string:
		return strMethod(r, name, args, kw)
	case []any:
		switch name {
		case "index":
			for i, e := range r {
				if equal(e, args[0]) {
					return i
				}
			}
			fail("%s is not in list", repr(args[0]))
		case "count":
			n := 0
			for _, e := range r {
				if equal(e, args[0]) {
					n++
				}
			}
			return n
		case "copy":
			return append([]any{}, r...)
		}
		fail("list.%s is not supported (lists are immutable in tend templates)", name)
	case *Map, map[string]any:
		switch name {
		case "items":
			keys, _ := mapKeys(r)
			out := make([]any, len(keys))
			for i, k := range keys {
				v, _ := mapGet(r, k)
				out[i] = tuple{k, v}
			}
			return out
		case "keys":
			keys, _ := mapKeys(r)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out
		case "values":
			keys, _ := mapKeys(r)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i], _ = mapGet(r, k)
			}
			return out
		case "get":
			if v, ok := mapGet(r, toStr(args[0])); ok {
				return v
			}
			if len(args) > 1 {
				return args[1]
			}
			return nil
		case "copy":
			return asOrdered(r).Copy()
		case "update":
			m, ok := r.(*Map)
			if !ok || !m.tmp {
				fail("dict.update() works only on dicts the template created itself; a variable's dict cannot be changed in place (use combine)")
			}
			if len(args) > 0 {
				src := asOrdered(norm(args[0]))
				for _, k := range src.Keys() {
					m.Set(k, src.m[k])
				}
			}
			for _, k := range kwKeys(kw) {
				m.Set(k, kw[k])
			}
			return nil
		}
	}
	fail("'%s object' has no attribute '%s'", typeName(recv), name)
	return nil
}

func strMethod(s, name string, args []any, kw map[string]any) any {
	sarg := func(i int, def string) string {
		if i < len(args) && args[i] != nil {
			return toStr(args[i])
		}
		return def
	}
	switch name {
	case "split", "rsplit":
		maxSplit := -1
		if m, ok := arg(args, kw, 1, "maxsplit", -1).(int); ok {
			maxSplit = m
		}
		sep := arg(args, kw, 0, "sep", nil)
		var parts []string
		if sep == nil {
			parts = strings.Fields(s)
			if maxSplit >= 0 && len(parts) > maxSplit+1 {
				// approximate: rejoin the rest with single spaces
				rest := strings.TrimLeftFunc(s, unicode.IsSpace)
				parts = nil
				for i := 0; i < maxSplit; i++ {
					idx := strings.IndexFunc(rest, unicode.IsSpace)
					parts = append(parts, rest[:idx])
					rest = strings.TrimLeftFunc(rest[idx:], unicode.IsSpace)
				}
				parts = append(parts, rest)
			}
		} else if name == "rsplit" && maxSplit >= 0 {
			all := strings.Split(s, toStr(sep))
			if len(all) > maxSplit+1 {
				head := strings.Join(all[:len(all)-maxSplit], toStr(sep))
				parts = append([]string{head}, all[len(all)-maxSplit:]...)
			} else {
				parts = all
			}
		} else {
			parts = strings.SplitN(s, toStr(sep), maxSplit+map[bool]int{true: 1, false: 0}[maxSplit >= 0])
			if maxSplit < 0 {
				parts = strings.Split(s, toStr(sep))
			}
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out
	case "strip":
		if c := sarg(0, ""); c != "" {
			return strings.Trim(s, c)
		}
		return strings.TrimSpace(s)
	case "lstrip":
		if c := sarg(0, ""); c != "" {
			return strings.TrimLeft(s, c)
		}
		return strings.TrimLeftFunc(s, unicode.IsSpace)
	case "rstrip":
		if c := sarg(0, ""); c != "" {
			return strings.TrimRight(s, c)
		}
		return strings.TrimRightFunc(s, unicode.IsSpace)
	case "startswith", "endswith":
		var prefixes []any
		if l, ok := norm(args[0]).([]any); ok {
			prefixes = l
		} else {
			prefixes = []any{args[0]}
		}
		for _, p := range prefixes {
			if name == "startswith" && strings.HasPrefix(s, toStr(p)) || name == "endswith" && strings.HasSuffix(s, toStr(p)) {
				return true
			}
		}
		return false
	case "replace":
		n := -1
		if len(args) > 2 {
			n, _ = norm(args[2]).(int)
		}
		return strings.Replace(s, sarg(0, ""), sarg(1, ""), n)
	case "lower", "casefold":
		return strings.ToLower(s)
	case "upper":
		return strings.ToUpper(s)
	case "swapcase":
		r := []rune(s)
		for i, c := range r {
			if unicode.IsUpper(c) {
				r[i] = unicode.ToLower(c)
			} else {
				r[i] = unicode.ToUpper(c)
			}
		}
		return string(r)
	case "title":
		return pyTitle(s)
	case "capitalize":
		return filters["capitalize"](nil, s, nil, nil)
	case "join":
		items := iterate(args[0])
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = toStr(it)
		}
		return strings.Join(parts, s)
	case "find", "index":
		i := strings.Index(s, sarg(0, ""))
		if i < 0 && name == "index" {
			fail("substring not found")
		}
		if i > 0 {
			i = len([]rune(s[:i]))
		}
		return i
	case "rfind":
		return strings.LastIndex(s, sarg(0, ""))
	case "count":
		return strings.Count(s, sarg(0, ""))
	case "isdigit":
		return s != "" && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) }) < 0
	case "isalpha":
		return s != "" && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) < 0
	case "isalnum":
		return s != "" && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) < 0
	case "isspace":
		return s != "" && strings.TrimSpace(s) == ""
	case "islower":
		return strings.ToLower(s) == s && strings.ToUpper(s) != s
	case "isupper":
		return strings.ToUpper(s) == s && strings.ToLower(s) != s
	case "splitlines":
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		out := make([]any, 0, len(lines))
		for _, l := range lines {
			out = append(out, strings.TrimSuffix(l, "\r"))
		}
		if s == "" {
			return []any{}
		}
		return out
	case "zfill":
		w, _ := norm(args[0]).(int)
		for len(s) < w {
			s = "0" + s
		}
		return s
	case "ljust", "rjust", "center":
		w, _ := norm(args[0]).(int)
		fill := sarg(1, " ")
		n := w - len([]rune(s))
		if n <= 0 {
			return s
		}
		switch name {
		case "ljust":
			return s + strings.Repeat(fill, n)
		case "rjust":
			return strings.Repeat(fill, n) + s
		}
		left := n / 2
		if n%2 == 1 && w%2 == 1 {
			left++
		}
		return strings.Repeat(fill, left) + s + strings.Repeat(fill, n-left)
	case "partition", "rpartition":
		sep := sarg(0, "")
		var i int
		if name == "partition" {
			i = strings.Index(s, sep)
		} else {
			i = strings.LastIndex(s, sep)
		}
		if i < 0 {
			if name == "partition" {
				return []any{s, "", ""}
			}
			return []any{"", "", s}
		}
		return []any{s[:i], sep, s[i+len(sep):]}
	case "format":
		return pyStrFormat(s, args, kw)
	}
	fail("'str object' has no attribute '%s'", name)
	return nil
}

// pyStrFormat implements "{} {0} {name}".format(...) without format specs.
func pyStrFormat(s string, args []any, kw map[string]any) string {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '{' && i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		if c == '}' && i+1 < len(s) && s[i+1] == '}' {
			b.WriteByte('}')
			i++
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			fail("Single '{' encountered in format string")
		}
		field := s[i+1 : i+end]
		if j := strings.IndexByte(field, ':'); j >= 0 {
			field = field[:j]
		}
		var v any
		switch {
		case field == "":
			if auto >= len(args) {
				fail("Replacement index %d out of range", auto)
			}
			v = args[auto]
			auto++
		case field[0] >= '0' && field[0] <= '9':
			var n int
			fmt.Sscanf(field, "%d", &n)
			if n >= len(args) {
				fail("Replacement index %d out of range", n)
			}
			v = args[n]
		default:
			var ok bool
			v, ok = kw[field]
			if !ok {
				fail("KeyError: '%s'", field)
			}
		}
		b.WriteString(outStrTilde(v))
		i += end
	}
	return b.String()
}

// flattenedLookup is community.general's flattened lookup: lists are
// flattened at every depth, and a "None" or "null" string ends its list.
func flattenedLookup(terms []any) []any {
	out := []any{}
	for _, t := range terms {
		t = norm(t)
		for {
			l, ok := t.([]any)
			if !ok || len(l) != 1 {
				break
			}
			t = norm(l[0])
		}
		if t == "None" || t == "null" {
			break
		}
		if l, ok := t.([]any); ok {
			out = append(out, flattenedLookup(l)...)
		} else {
			out = append(out, t)
		}
	}
	return out
}
