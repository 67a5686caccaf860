package template

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/tend-project/tend/internal/pyre"
)

type filterFn func(sc *scope, in any, args []any, kw map[string]any) any

// arg returns positional argument i or keyword name, else def.
func arg(args []any, kw map[string]any, i int, name string, def any) any {
	if i >= 0 && i < len(args) {
		return norm(args[i])
	}
	if v, ok := kw[name]; ok {
		return norm(v)
	}
	return def
}

func undefOK(name string) bool {
	switch name {
	case "default", "d", "mandatory":
		return true
	}
	return false
}

func (sc *scope) applyFilter(f *filterExpr, in any) any {
	if f.x != nil {
		in = sc.eval(f.x)
	}
	raw := in
	in = norm(in)
	args, kw := sc.evalArgs(f.args, f.kwargs)
	if u, ok := in.(*undef); ok && !undefOK(f.name) {
		panic(u.err())
	}
	for _, a := range args {
		if u, ok := a.(*undef); ok {
			panic(u.err())
		}
	}
	ff, ok := filters[f.name]
	if !ok {
		fail("template error: no filter named '%s'", f.name)
	}
	if rawInput[f.name] {
		in = raw
	}
	return ff(sc, in, args, kw)
}

func callFilter(sc *scope, name string, in any, args []any, kw map[string]any) any {
	ff, ok := filters[name]
	if !ok {
		fail("no filter named '%s'", name)
	}
	if !rawInput[name] {
		in = norm(in)
	}
	return ff(sc, in, args, kw)
}

var filters map[string]filterFn

func init() {
	filters = map[string]filterFn{
		"default": fDefault, "d": fDefault,
		"mandatory": func(_ *scope, in any, args []any, kw map[string]any) any {
			if u, ok := in.(*undef); ok {
				if msg := arg(args, kw, 0, "msg", nil); msg != nil {
					fail("%s", toStr(msg))
				}
				fail("Mandatory variable '%s' not defined.", u.name)
			}
			return in
		},
		"bool": func(_ *scope, in any, _ []any, _ map[string]any) any {
			switch x := in.(type) {
			case bool:
				return x
			case nil:
				return false
			case string:
				switch strings.ToLower(strings.TrimSpace(x)) {
				case "yes", "on", "1", "true", "y", "t":
					return true
				}
				return false
			case int:
				return x == 1
			case float64:
				return x == 1
			}
			return false
		},
		"int": func(_ *scope, in any, args []any, kw map[string]any) any {
			def := arg(args, kw, 0, "default", 0)
			base, _ := arg(args, kw, 1, "base", 10).(int)
			switch x := in.(type) {
			case int:
				return x
			case float64:
				return int(x)
			case bool:
				return b2i(x)
			case string:
				s := strings.TrimSpace(strings.ReplaceAll(x, "_", ""))
				if i, err := strconv.ParseInt(s, base, 64); err == nil {
					return int(i)
				}
				if base == 10 {
					if f, err := strconv.ParseFloat(s, 64); err == nil {
						return int(f)
					}
				}
			}
			return def
		},
		"float": func(_ *scope, in any, args []any, kw map[string]any) any {
			def := arg(args, kw, 0, "default", 0.0)
			switch x := in.(type) {
			case int:
				return float64(x)
			case float64:
				return x
			case bool:
				return float64(b2i(x))
			case string:
				if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
					return f
				}
			}
			return def
		},
		"string": func(_ *scope, in any, _ []any, _ map[string]any) any { return toStr(in) },
		"lower":  strFilter(strings.ToLower),
		"upper":  strFilter(strings.ToUpper),
		"capitalize": strFilter(func(s string) string {
			if s == "" {
				return s
			}
			r := []rune(strings.ToLower(s))
			r[0] = unicode.ToUpper(r[0])
			return string(r)
		}),
		"title": strFilter(pyTitle),
		"trim": func(_ *scope, in any, args []any, kw map[string]any) any {
			if c := arg(args, kw, 0, "chars", nil); c != nil {
				return strings.Trim(toStr(in), toStr(c))
			}
			return strings.TrimSpace(toStr(in))
		},
		"replace": func(_ *scope, in any, args []any, kw map[string]any) any {
			n := -1
			if c, ok := arg(args, kw, 2, "count", nil).(int); ok {
				n = c
			}
			return strings.Replace(toStr(in), toStr(arg(args, kw, 0, "old", "")), toStr(arg(args, kw, 1, "new", "")), n)
		},
		"join": func(sc *scope, in any, args []any, kw map[string]any) any {
			sep := toStr(arg(args, kw, 0, "d", ""))
			items := iterate(in)
			if attr := arg(args, kw, 1, "attribute", nil); attr != nil {
				items = mapAttr(items, toStr(attr))
			}
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = outStrTilde(it)
			}
			return strings.Join(parts, sep)
		},
		"split": func(_ *scope, in any, args []any, kw map[string]any) any {
			return callMethod(toStr(in), "split", args, kw)
		},
		"regex_replace": func(_ *scope, in any, args []any, kw map[string]any) any {
			re := compileRe(toStr(arg(args, kw, 0, "pattern", "")), arg(args, kw, 2, "ignorecase", false), arg(args, kw, 3, "multiline", false))
			n, _ := arg(args, kw, 4, "count", 0).(int)
			out, _, err := re.Sub(toStr(arg(args, kw, 1, "replacement", "")), toStr(in), n)
			if err != nil {
				fail("regex_replace: %v", err)
			}
			return out
		},
		"regex_search": func(_ *scope, in any, args []any, kw map[string]any) any {
			if len(args) == 0 {
				fail("regex_search requires a pattern")
			}
			re := compileRe(toStr(args[0]), kw["ignorecase"], kw["multiline"])
			s := toStr(in)
			m := re.FindStringSubmatchIndex(s)
			if m == nil {
				return nil
			}
			if len(args) == 1 {
				return s[m[0]:m[1]]
			}
			var out []any
			for _, g := range args[1:] {
				gs := toStr(g)
				idx := -1
				if strings.HasPrefix(gs, `\g<`) && strings.HasSuffix(gs, ">") {
					idx = re.SubexpIndex(gs[3 : len(gs)-1])
				} else if strings.HasPrefix(gs, `\`) {
					if n, err := strconv.Atoi(gs[1:]); err == nil {
						idx = n
					}
				}
				if idx < 0 || 2*idx+1 >= len(m) {
					fail("invalid group %s", gs)
				}
				if m[2*idx] < 0 {
					out = append(out, nil)
				} else {
					out = append(out, s[m[2*idx]:m[2*idx+1]])
				}
			}
			return out
		},
		"regex_findall": func(_ *scope, in any, args []any, kw map[string]any) any {
			re := compileRe(toStr(arg(args, kw, 0, "regex", "")), arg(args, kw, 2, "ignorecase", false), arg(args, kw, 1, "multiline", false))
			out := []any{}
			for _, m := range re.FindAllStringSubmatch(toStr(in), -1) {
				switch {
				case len(m) == 1:
					out = append(out, m[0])
				case len(m) == 2:
					out = append(out, m[1])
				default:
					g := make([]any, len(m)-1)
					for i := range g {
						g[i] = m[i+1]
					}
					out = append(out, g)
				}
			}
			return out
		},
		"regex_escape": func(_ *scope, in any, _ []any, _ map[string]any) any { return pyReEscape(toStr(in)) },
		"to_json": func(_ *scope, in any, args []any, kw map[string]any) any {
			return toJSON(in, "", arg(args, kw, -1, "sort_keys", false) == true)
		},
		"to_nice_json": func(_ *scope, in any, args []any, kw map[string]any) any {
			ind, _ := arg(args, kw, -1, "indent", 4).(int)
			return toIndentedJSON(in, ind, arg(args, kw, -1, "sort_keys", true) == true)
		},
		"from_json": func(_ *scope, in any, _ []any, _ map[string]any) any {
			v, err := DecodeJSON([]byte(toStr(in)))
			if err != nil {
				fail("from_json: %v", err)
			}
			return v
		},
		"to_yaml": func(_ *scope, in any, _ []any, _ map[string]any) any {
			var b strings.Builder
			writeYAML(&b, in, 0, false, true)
			return b.String()
		},
		"to_nice_yaml": func(_ *scope, in any, args []any, kw map[string]any) any {
			ind, _ := arg(args, kw, -1, "indent", 4).(int)
			var b strings.Builder
			writeNiceYAML(&b, in, 0, ind)
			return b.String()
		},
		"from_yaml": func(_ *scope, in any, _ []any, _ map[string]any) any {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(toStr(in)), &n); err != nil {
				fail("from_yaml: %v", err)
			}
			return FromYAMLNode(&n)
		},
		"b64encode": func(_ *scope, in any, _ []any, _ map[string]any) any {
			return base64.StdEncoding.EncodeToString([]byte(toStr(in)))
		},
		"b64decode": func(_ *scope, in any, _ []any, _ map[string]any) any {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(toStr(in)))
			if err != nil {
				b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(toStr(in)), "="))
				if err != nil {
					fail("b64decode: %v", err)
				}
			}
			return string(b)
		},
		"hash": func(_ *scope, in any, args []any, kw map[string]any) any {
			return hashHex(toStr(arg(args, kw, 0, "hashtype", "sha1")), toStr(in))
		},
		"checksum": func(_ *scope, in any, _ []any, _ map[string]any) any { return hashHex("sha1", toStr(in)) },
		"md5":      func(_ *scope, in any, _ []any, _ map[string]any) any { return hashHex("md5", toStr(in)) },
		"sha1":     func(_ *scope, in any, _ []any, _ map[string]any) any { return hashHex("sha1", toStr(in)) },
		"basename": strFilter(func(s string) string { return s[strings.LastIndex(s, "/")+1:] }),
		"dirname": strFilter(func(s string) string {
			i := strings.LastIndex(s, "/")
			if i < 0 {
				return ""
			}
			head := s[:i+1]
			if strings.Trim(head, "/") != "" {
				head = strings.TrimRight(head, "/")
			}
			return head
		}),
		"expanduser": strFilter(func(s string) string {
			if s == "~" || strings.HasPrefix(s, "~/") {
				if h, err := os.UserHomeDir(); err == nil {
					return h + s[1:]
				}
			}
			return s
		}),
		"realpath": strFilter(func(s string) string {
			if r, err := filepath.EvalSymlinks(s); err == nil {
				if a, err := filepath.Abs(r); err == nil {
					return a
				}
			}
			a, _ := filepath.Abs(s)
			return a
		}),
		"splitext": func(_ *scope, in any, _ []any, _ map[string]any) any {
			s := toStr(in)
			base := s[strings.LastIndex(s, "/")+1:]
			i := strings.LastIndex(base, ".")
			if i <= 0 || strings.Trim(base[:i], ".") == "" {
				return []any{s, ""}
			}
			cut := len(s) - len(base) + i
			return []any{s[:cut], s[cut:]}
		},
		"combine": func(_ *scope, in any, args []any, kw map[string]any) any {
			rec := kw["recursive"] == true
			listMerge := toStr(arg(nil, kw, 0, "list_merge", "replace"))
			var dicts []any
			if isList(in) {
				dicts = append(dicts, in.([]any)...)
			} else {
				dicts = append(dicts, in)
			}
			for _, a := range args {
				if l, ok := a.([]any); ok {
					dicts = append(dicts, l...)
				} else {
					dicts = append(dicts, a)
				}
			}
			out := NewMap()
			for _, d := range dicts {
				if !isMap(norm(d)) {
					fail("failed to combine variables, expected dicts but got '%s'", typeName(d))
				}
				out = combine(out, asOrdered(norm(d)), rec, listMerge)
			}
			return out
		},
		"dict2items": func(_ *scope, in any, args []any, kw map[string]any) any {
			if !isMap(in) {
				fail("dict2items requires a dictionary, got %s instead.", typeName(in))
			}
			kn := toStr(arg(args, kw, 0, "key_name", "key"))
			vn := toStr(arg(args, kw, 1, "value_name", "value"))
			keys, _ := mapKeys(in)
			out := make([]any, 0, len(keys))
			for _, k := range keys {
				v, _ := mapGet(in, k)
				m := NewMap()
				m.Set(kn, k)
				m.Set(vn, v)
				out = append(out, m)
			}
			return out
		},
		"items2dict": func(_ *scope, in any, args []any, kw map[string]any) any {
			kn := toStr(arg(args, kw, 0, "key_name", "key"))
			vn := toStr(arg(args, kw, 1, "value_name", "value"))
			out := NewMap()
			for _, it := range iterate(in) {
				k, ok1 := mapGet(norm(it), kn)
				v, ok2 := mapGet(norm(it), vn)
				if !ok1 || !ok2 {
					fail("items2dict requires each item to have '%s' and '%s' keys", kn, vn)
				}
				out.Set(toStr(k), v)
			}
			return out
		},
		"selectattr": func(sc *scope, in any, args []any, kw map[string]any) any { return selectAttr(sc, in, args, true) },
		"rejectattr": func(sc *scope, in any, args []any, kw map[string]any) any { return selectAttr(sc, in, args, false) },
		"select":     func(sc *scope, in any, args []any, kw map[string]any) any { return selectItems(sc, in, args, true) },
		"reject":     func(sc *scope, in any, args []any, kw map[string]any) any { return selectItems(sc, in, args, false) },
		"map": func(sc *scope, in any, args []any, kw map[string]any) any {
			items := iterate(in)
			if a, ok := kw["attribute"]; ok {
				out := make([]any, len(items))
				for i, it := range items {
					v := lookupAttr(it, toStr(a))
					if _, isU := v.(*undef); isU {
						if d, ok := kw["default"]; ok {
							v = d
						} else {
							panic(v.(*undef).err())
						}
					}
					out[i] = v
				}
				return out
			}
			if len(args) == 0 {
				return items
			}
			name := toStr(args[0])
			out := make([]any, len(items))
			for i, it := range items {
				out[i] = callFilter(sc, name, it, args[1:], kw)
			}
			return out
		},
		"unique": func(_ *scope, in any, _ []any, _ map[string]any) any {
			out := []any{}
			for _, it := range iterate(in) {
				if !contains(out, it) {
					out = append(out, it)
				}
			}
			return out
		},
		"union": func(_ *scope, in any, args []any, _ map[string]any) any {
			out := []any{}
			for _, it := range append(append([]any{}, iterate(in)...), iterate(arg(args, nil, 0, "", []any{}))...) {
				if !contains(out, it) {
					out = append(out, it)
				}
			}
			return out
		},
		"intersect": func(_ *scope, in any, args []any, _ map[string]any) any {
			other := iterate(arg(args, nil, 0, "", []any{}))
			out := []any{}
			for _, it := range iterate(in) {
				if contains(other, it) && !contains(out, it) {
					out = append(out, it)
				}
			}
			return out
		},
		"difference": func(_ *scope, in any, args []any, _ map[string]any) any {
			other := iterate(arg(args, nil, 0, "", []any{}))
			out := []any{}
			for _, it := range iterate(in) {
				if !contains(other, it) && !contains(out, it) {
					out = append(out, it)
				}
			}
			return out
		},
		"symmetric_difference": func(_ *scope, in any, args []any, _ map[string]any) any {
			a, b := iterate(in), iterate(arg(args, nil, 0, "", []any{}))
			out := []any{}
			for _, it := range a {
				if !contains(b, it) && !contains(out, it) {
					out = append(out, it)
				}
			}
			for _, it := range b {
				if !contains(a, it) && !contains(out, it) {
					out = append(out, it)
				}
			}
			return out
		},
		"length": fLength, "count": fLength,
		"first": func(_ *scope, in any, _ []any, _ map[string]any) any {
			l := iterate(in)
			if len(l) == 0 {
				return &undef{name: "first", msg: "No first item, sequence was empty."}
			}
			return l[0]
		},
		"last": func(_ *scope, in any, _ []any, _ map[string]any) any {
			l := iterate(in)
			if len(l) == 0 {
				return &undef{name: "last", msg: "No last item, sequence was empty."}
			}
			return l[len(l)-1]
		},
		"min": func(_ *scope, in any, args []any, kw map[string]any) any { return minMax(in, kw, -1) },
		"max": func(_ *scope, in any, args []any, kw map[string]any) any { return minMax(in, kw, 1) },
		"sum": func(_ *scope, in any, args []any, kw map[string]any) any {
			var total any = arg(args, kw, 1, "start", 0)
			items := iterate(in)
			if a := arg(args, kw, 0, "attribute", nil); a != nil {
				items = mapAttr(items, toStr(a))
			}
			for _, it := range items {
				if l, ok := total.([]any); ok {
					total = append(append([]any{}, l...), iterate(it)...)
					continue
				}
				total = arith("+", total, norm(it))
			}
			return total
		},
		"sort": func(_ *scope, in any, args []any, kw map[string]any) any {
			items := append([]any{}, iterate(in)...)
			rev := arg(args, kw, 0, "reverse", false) == true
			cs := arg(args, kw, 1, "case_sensitive", false) == true
			attr := arg(args, kw, 2, "attribute", nil)
			key := func(v any) any {
				if attr != nil {
					for _, a := range strings.Split(toStr(attr), ",") {
						v = lookupAttr(v, strings.TrimSpace(a))
					}
				}
				if s, ok := v.(string); ok && !cs {
					return strings.ToLower(s)
				}
				return v
			}
			sort.SliceStable(items, func(i, j int) bool {
				c := compare(key(items[i]), key(items[j]))
				if rev {
					return c > 0
				}
				return c < 0
			})
			return items
		},
		"reverse": func(_ *scope, in any, _ []any, _ map[string]any) any {
			if s, ok := in.(string); ok {
				r := []rune(s)
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				return string(r)
			}
			l := iterate(in)
			out := make([]any, len(l))
			for i, v := range l {
				out[len(l)-1-i] = v
			}
			return out
		},
		"list": func(_ *scope, in any, _ []any, _ map[string]any) any { return append([]any{}, iterate(in)...) },
		"dict": func(_ *scope, in any, _ []any, _ map[string]any) any {
			out := NewMap()
			for _, it := range iterate(in) {
				p := iterate(it)
				if len(p) != 2 {
					fail("dictionary update sequence element has length %d; 2 is required", len(p))
				}
				out.Set(toStr(p[0]), p[1])
			}
			return out
		},
		"items": func(_ *scope, in any, _ []any, _ map[string]any) any { return callMethod(in, "items", nil, nil) },
		"ternary": func(_ *scope, in any, args []any, kw map[string]any) any {
			t, f := arg(args, kw, 0, "true_val", nil), arg(args, kw, 1, "false_val", nil)
			if in == nil {
				if len(args) > 2 {
					return norm(args[2])
				}
			}
			if truth(in) {
				return t
			}
			return f
		},
		"quote": func(_ *scope, in any, _ []any, _ map[string]any) any { return shellQuote(toStr(in)) },
		"zip": func(_ *scope, in any, args []any, _ map[string]any) any {
			lists := [][]any{iterate(in)}
			for _, a := range args {
				lists = append(lists, iterate(a))
			}
			n := len(lists[0])
			for _, l := range lists {
				n = min(n, len(l))
			}
			out := make([]any, n)
			for i := 0; i < n; i++ {
				t := make(tuple, len(lists))
				for j, l := range lists {
					t[j] = l[i]
				}
				out[i] = t
			}
			return out
		},
		"flatten": func(_ *scope, in any, args []any, kw map[string]any) any {
			levels, _ := arg(args, kw, 0, "levels", -1).(int)
			skipNulls := arg(args, kw, 1, "skip_nulls", true) != false
			return flatten(iterate(in), levels, skipNulls)
		},
		"product": func(_ *scope, in any, args []any, _ map[string]any) any {
			lists := [][]any{iterate(in)}
			for _, a := range args {
				lists = append(lists, iterate(a))
			}
			out := []any{tuple{}}
			for _, l := range lists {
				var next []any
				for _, prefix := range out {
					for _, e := range l {
						next = append(next, append(append(tuple{}, norm(prefix).([]any)...), e))
					}
				}
				out = next
			}
			if out == nil {
				return []any{}
			}
			return out
		},
		"indent": func(_ *scope, in any, args []any, kw map[string]any) any {
			w := arg(args, kw, 0, "width", 4)
			ind := ""
			if n, ok := w.(int); ok {
				ind = strings.Repeat(" ", n)
			} else {
				ind = toStr(w)
			}
			first := arg(args, kw, 1, "first", false) == true
			blank := arg(args, kw, 2, "blank", false) == true
			s := toStr(in)
			lines := strings.Split(s, "\n")
			for i, l := range lines {
				if i == 0 && !first {
					continue
				}
				if l == "" && !blank {
					continue
				}
				lines[i] = ind + l
			}
			return strings.Join(lines, "\n")
		},
		"center": func(_ *scope, in any, args []any, kw map[string]any) any {
			return callMethod(toStr(in), "center", []any{arg(args, kw, 0, "width", 80)}, nil)
		},
		"wordcount": func(_ *scope, in any, _ []any, _ map[string]any) any { return len(strings.Fields(toStr(in))) },
		"abs": func(_ *scope, in any, _ []any, _ map[string]any) any {
			switch x := in.(type) {
			case int:
				if x < 0 {
					return -x
				}
				return x
			case float64:
				return math.Abs(x)
			}
			fail("bad operand type for abs(): '%s'", typeName(in))
			return nil
		},
		"round": func(_ *scope, in any, args []any, kw map[string]any) any {
			prec, _ := arg(args, kw, 0, "precision", 0).(int)
			method := toStr(arg(args, kw, 1, "method", "common"))
			f, ok := toFloat(in)
			if !ok {
				fail("round: not a number")
			}
			p := math.Pow(10, float64(prec))
			switch method {
			case "ceil":
				return math.Ceil(f*p) / p
			case "floor":
				return math.Floor(f*p) / p
			}
			return math.RoundToEven(f*p) / p
		},
		"random": func(_ *scope, in any, args []any, kw map[string]any) any {
			if n, ok := in.(int); ok {
				start, _ := arg(args, kw, 0, "start", 0).(int)
				step, _ := arg(args, kw, 1, "step", 1).(int)
				if step <= 0 {
					step = 1
				}
				cnt := (n - start + step - 1) / step
				if cnt <= 0 {
					fail("empty range for randrange")
				}
				return start + rand.IntN(cnt)*step
			}
			l := iterate(in)
			if len(l) == 0 {
				fail("cannot choose from an empty sequence")
			}
			return l[rand.IntN(len(l))]
		},
		"shuffle": func(_ *scope, in any, _ []any, _ map[string]any) any {
			l := append([]any{}, iterate(in)...)
			rand.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
			return l
		},
		"comment":    fComment,
		"type_debug": func(_ *scope, in any, _ []any, _ map[string]any) any { return typeName(in) },
		"dictsort": func(_ *scope, in any, args []any, kw map[string]any) any {
			cs := arg(args, kw, 0, "case_sensitive", false) == true
			by := toStr(arg(args, kw, 1, "by", "key"))
			rev := arg(args, kw, 2, "reverse", false) == true
			items := callMethod(in, "items", nil, nil).([]any)
			idx := 0
			if by == "value" {
				idx = 1
			}
			sort.SliceStable(items, func(i, j int) bool {
				a, b := norm(items[i]).([]any)[idx], norm(items[j]).([]any)[idx]
				if !cs {
					if s, ok := a.(string); ok {
						a = strings.ToLower(s)
					}
					if s, ok := b.(string); ok {
						b = strings.ToLower(s)
					}
				}
				c := compare(a, b)
				if rev {
					return c > 0
				}
				return c < 0
			})
			return items
		},
		"version_compare": func(_ *scope, in any, args []any, kw map[string]any) any {
			return versionTest(in, args, kw)
		},
		"regex": nil,
		"urlencode": func(_ *scope, in any, _ []any, _ map[string]any) any {
			// Jinja2's do_urlencode: a string (or non-iterable) is quoted
			// keeping "/"; a dict or a list of pairs becomes k=v&k=v.
			in = norm(in)
			var pairs [][2]any
			switch x := in.(type) {
			case string, markup, nil, bool, int, float64:
				return urlQuote(toStr(x), false)
			case []any:
				for _, p := range x {
					kv := iterate(p)
					if len(kv) != 2 {
						fail("urlencode: expected (key, value) pairs, got %s", repr(p))
					}
					pairs = append(pairs, [2]any{kv[0], kv[1]})
				}
			default:
				if m := asOrdered(x); m != nil {
					for _, k := range m.Keys() {
						pairs = append(pairs, [2]any{k, m.m[k]})
					}
				} else {
					return urlQuote(toStr(x), false)
				}
			}
			parts := make([]string, len(pairs))
			for i, p := range pairs {
				parts[i] = urlQuote(toStr(p[0]), true) + "=" + urlQuote(toStr(p[1]), true)
			}
			return strings.Join(parts, "&")
		},
		"truncate": func(_ *scope, in any, args []any, kw map[string]any) any {
			// Jinja2's do_truncate(s, length=255, killwords=False, end='...', leeway=5)
			n := toInt(arg(args, kw, 0, "length", 255))
			killwords := truth(arg(args, kw, 1, "killwords", false))
			end := []rune(toStr(arg(args, kw, 2, "end", "...")))
			leeway := toInt(arg(args, kw, 3, "leeway", 5))
			if n < len(end) {
				fail("expected length >= %d, got %d", len(end), n)
			}
			if leeway < 0 {
				fail("expected leeway >= 0, got %d", leeway)
			}
			r := []rune(toStr(in))
			if len(r) <= n+leeway {
				return string(r)
			}
			head := string(r[:n-len(end)])
			if !killwords {
				if k := strings.LastIndexByte(head, ' '); k >= 0 {
					head = head[:k]
				}
			}
			return head + string(end)
		},
		"pipe": func(_ *scope, in any, _ []any, _ map[string]any) any {
			out, _ := exec.Command("/bin/sh", "-c", toStr(in)).Output()
			return strings.TrimRight(string(out), "\n")
		},
	}
	delete(filters, "regex")
	delete(filters, "pipe")
	registerMore()    // more.go: lookups and less common filters
	registerCrypt()   // crypt.go: password_hash
	registerJinja()   // filters_jinja.go: the rest of Jinja2's built-in filters
	registerAnsible() // filters_ansible.go: the rest of ansible-core's filters
}

func fDefault(_ *scope, in any, args []any, kw map[string]any) any {
	def := arg(args, kw, 0, "default_value", "")
	boolean := arg(args, kw, 1, "boolean", false) == true
	if _, ok := in.(*undef); ok {
		return def
	}
	if boolean && !truth(in) {
		return def
	}
	return in
}

func fLength(_ *scope, in any, _ []any, _ map[string]any) any {
	switch x := in.(type) {
	case string:
		return len([]rune(x))
	case []any:
		return len(x)
	case *Map:
		return x.Len()
	case map[string]any:
		return len(x)
	case KeyedGetter:
		return len(x.TemplateKeys())
	}
	fail("object of type '%s' has no len()", typeName(in))
	return nil
}

func strFilter(f func(string) string) filterFn {
	return func(_ *scope, in any, _ []any, _ map[string]any) any { return f(toStr(in)) }
}

func pyTitle(s string) string {
	r := []rune(s)
	prevLetter := false
	for i, c := range r {
		if unicode.IsLetter(c) {
			if prevLetter {
				r[i] = unicode.ToLower(c)
			} else {
				r[i] = unicode.ToUpper(c)
			}
			prevLetter = true
		} else {
			prevLetter = false
		}
	}
	return string(r)
}

// compileRe compiles a Python pattern for the regex filters and tests.
func compileRe(pat string, icase, multi any) *pyre.Regexp {
	flags := ""
	if icase == true {
		flags += "i"
	}
	if multi == true {
		flags += "m"
	}
	re, err := pyre.Compile(pat, flags)
	if err != nil {
		fail("%v", err)
	}
	return re
}

func pyReEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 128 && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			if strings.ContainsRune("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", c) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(c)
	}
	return b.String()
}

func hashHex(kind, s string) string {
	var h hash.Hash
	switch kind {
	case "md5":
		h = md5.New()
	case "sha1":
		h = sha1.New()
	case "sha224":
		h = sha256.New224()
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		fail("unsupported hash type %s", kind)
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@%+=:,./-_", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// lookupAttr resolves a dotted attribute path ("a.b", "0.name").
func lookupAttr(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		if i, err := strconv.Atoi(part); err == nil && isList(norm(v)) {
			v = getItem(v, i)
		} else {
			v = getItem(v, part)
		}
	}
	return v
}

func mapAttr(items []any, attr string) []any {
	out := make([]any, len(items))
	for i, it := range items {
		v := lookupAttr(it, attr)
		if u, ok := v.(*undef); ok {
			panic(u.err())
		}
		out[i] = v
	}
	return out
}

func selectAttr(sc *scope, in any, args []any, want bool) any {
	if len(args) == 0 {
		fail("selectattr needs an attribute name")
	}
	attr := toStr(args[0])
	out := []any{}
	for _, it := range iterate(in) {
		v := lookupAttr(it, attr)
		var ok bool
		if len(args) == 1 {
			if _, isU := v.(*undef); isU {
				ok = false
			} else {
				ok = truth(v)
			}
		} else {
			ok = callTest(sc, toStr(args[1]), v, args[2:], nil)
		}
		if ok == want {
			out = append(out, it)
		}
	}
	return out
}

func selectItems(sc *scope, in any, args []any, want bool) any {
	out := []any{}
	for _, it := range iterate(in) {
		var ok bool
		if len(args) == 0 {
			ok = truth(it)
		} else {
			ok = callTest(sc, toStr(args[0]), it, args[1:], nil)
		}
		if ok == want {
			out = append(out, it)
		}
	}
	return out
}

func minMax(in any, kw map[string]any, sign int) any {
	items := iterate(in)
	if len(items) == 0 {
		return &undef{name: "min", msg: "No aggregated item, sequence was empty."}
	}
	attr, hasAttr := kw["attribute"]
	key := func(v any) any {
		if hasAttr {
			v = lookupAttr(v, toStr(attr))
		}
		if s, ok := v.(string); ok && kw["case_sensitive"] != true {
			return strings.ToLower(s)
		}
		return v
	}
	best := items[0]
	for _, it := range items[1:] {
		if compare(key(it), key(best))*sign > 0 {
			best = it
		}
	}
	return best
}

func flatten(l []any, levels int, skipNulls bool) []any {
	out := []any{}
	for _, e := range l {
		e = norm(e)
		if e == nil && skipNulls {
			continue
		}
		if s, ok := e.(string); ok && (s == "None" || s == "") && skipNulls {
			if s == "None" {
				continue
			}
		}
		if sub, ok := e.([]any); ok && levels != 0 {
			out = append(out, flatten(sub, levels-1, skipNulls)...)
			continue
		}
		out = append(out, e)
	}
	return out
}

func combine(a, b *Map, rec bool, listMerge string) *Map {
	out := a.Copy()
	for _, k := range b.Keys() {
		bv := norm(b.m[k])
		av, exists := out.Get(k)
		av = norm(av)
		if exists && rec && isMap(av) && isMap(bv) {
			out.Set(k, combine(asOrdered(av), asOrdered(bv), rec, listMerge))
			continue
		}
		if exists && isList(av) && isList(bv) {
			al, bl := av.([]any), bv.([]any)
			switch listMerge {
			case "append":
				out.Set(k, append(append([]any{}, al...), bl...))
				continue
			case "prepend":
				out.Set(k, append(append([]any{}, bl...), al...))
				continue
			case "append_rp":
				var r []any
				for _, e := range al {
					if !contains(bl, e) {
						r = append(r, e)
					}
				}
				out.Set(k, append(r, bl...))
				continue
			case "prepend_rp":
				r := append([]any{}, bl...)
				for _, e := range al {
					if !contains(bl, e) {
						r = append(r, e)
					}
				}
				out.Set(k, r)
				continue
			}
		}
		out.Set(k, bv)
	}
	return out
}

// toJSON encodes like Python's json.dumps (", " and ": " separators when
// compact, as Ansible's to_json does).
// JSON is v as Python's json.dumps writes it by default: ", " and ": ",
// dict keys in their order.
func JSON(v any) string { return toJSON(v, "", false) }

func toJSON(v any, indent string, sortKeys bool) string {
	var b strings.Builder
	writeJSON(&b, v, indent, "", sortKeys)
	return b.String()
}

// toIndentedJSON is json.dumps with an int indent: an item a line, even
// when indent is 0 or less (then without indentation).
func toIndentedJSON(v any, indent int, sortKeys bool) string {
	if indent > 0 {
		return toJSON(v, strings.Repeat(" ", indent), sortKeys)
	}
	// strings are escaped, so every newline is one toJSON put between items
	return jsonLineIndent.ReplaceAllString(toJSON(v, " ", sortKeys), "\n")
}

var jsonLineIndent = regexp.MustCompile(`\n +`)

func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(buf.String(), "\n")
	// Python escapes non-ASCII by default (ensure_ascii=True).
	var b strings.Builder
	for _, r := range out {
		if r > 127 {
			if r > 0xffff {
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

func writeJSON(b *strings.Builder, v any, indent, cur string, sortKeys bool) {
	switch x := norm(v).(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			b.WriteString(map[bool]string{true: "Infinity", false: "NaN"}[math.IsInf(x, 1)])
			return
		}
		b.WriteString(formatFloat(x))
	case string:
		b.WriteString(jsonString(x))
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
				if indent == "" {
					b.WriteByte(' ')
				}
			}
			if indent != "" {
				b.WriteString("\n" + cur + indent)
			}
			writeJSON(b, e, indent, cur+indent, sortKeys)
		}
		if indent != "" {
			b.WriteString("\n" + cur)
		}
		b.WriteByte(']')
	case *Map, map[string]any:
		keys, _ := mapKeys(x)
		if sortKeys {
			keys = append([]string{}, keys...)
			sort.Strings(keys)
		}
		if len(keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
				if indent == "" {
					b.WriteByte(' ')
				}
			}
			if indent != "" {
				b.WriteString("\n" + cur + indent)
			}
			b.WriteString(jsonString(k))
			b.WriteString(": ")
			e, _ := mapGet(x, k)
			writeJSON(b, e, indent, cur+indent, sortKeys)
		}
		if indent != "" {
			b.WriteString("\n" + cur)
		}
		b.WriteByte('}')
	case *undef:
		panic(x.err())
	case jsoner:
		writeJSON(b, x.jsonValue(), indent, cur, sortKeys)
	case object:
		fail("Object of type %s is not JSON serializable", x.typeName())
	default:
		b.WriteString(jsonString(toStr(x)))
	}
}

// DecodeJSON decodes one JSON document as Python's json.loads does: objects
// become *Map in the document's key order (a repeated key keeps its first
// place and its last value), whole numbers int, and anything after the
// value but white space is an error ("Extra data").
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSONValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("extra data after the JSON value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func decodeJSONValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			m := NewMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeJSONValue(dec)
				if err != nil {
					return nil, err
				}
				m.Set(kt.(string), v)
			}
			_, err := dec.Token()
			return m, err
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeJSONValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i), nil
		}
		f, err := x.Float64()
		return f, err
	}
	return t, nil
}

// FromYAMLNode converts a decoded YAML node into template values, keeping
// mapping order as *Map. The engine can use it for vars files and play vars.
func FromYAMLNode(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return FromYAMLNode(n.Content[0])
	case yaml.AliasNode:
		return FromYAMLNode(n.Alias)
	case yaml.MappingNode:
		m := NewMap()
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				src := FromYAMLNode(v)
				var maps []any
				if l, ok := src.([]any); ok {
					maps = l
				} else {
					maps = []any{src}
				}
				for _, mm := range maps {
					if om, ok := mm.(*Map); ok {
						for _, kk := range om.Keys() {
							if _, exists := m.Get(kk); !exists {
								m.Set(kk, om.m[kk])
							}
						}
					}
				}
				continue
			}
			m.Set(k.Value, FromYAMLNode(v))
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = FromYAMLNode(c)
		}
		return l
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		return norm(v)
	}
	return nil
}

// yamlPlain reports whether s can be written as a plain YAML scalar
// without changing its type (as PyYAML decides, approximately).
func yamlPlain(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return false
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return false
	}
	if vs, ok := v.(string); !ok || vs != s {
		return false
	}
	switch strings.ToLower(s) {
	case "yes", "no", "on", "off", "true", "false", "null", "~":
		return false // PyYAML quotes its YAML 1.1 booleans, but not y/n
	}
	if strings.ContainsAny(s, "\n#:") || strings.ContainsAny(s[:1], "!&*-?{}[],|>'\"%@`") {
		return strings.Contains(s, ":") && !strings.Contains(s, ": ") && !strings.HasSuffix(s, ":") && !strings.ContainsAny(s[:1], "!&*-?{}[],|>'\"%@`#") && !strings.ContainsAny(s, "\n#")
	}
	return true
}

func yamlScalar(v any) string {
	switch x := norm(v).(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int:
		return strconv.Itoa(x)
	case float64:
		return formatFloat(x)
	case string:
		if yamlPlain(x) {
			return x
		}
		if strings.ContainsAny(x, "\n\t") || strings.ContainsFunc(x, func(r rune) bool { return r < 0x20 }) {
			return jsonString(x)
		}
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	}
	return toStr(v)
}

func isEmptyColl(v any) bool {
	switch x := norm(v).(type) {
	case []any:
		return len(x) == 0
	case *Map, map[string]any:
		k, _ := mapKeys(x)
		return len(k) == 0
	}
	return false
}

func hasNested(v any) bool {
	switch x := norm(v).(type) {
	case []any:
		for _, e := range x {
			if isList(norm(e)) || isMap(norm(e)) {
				return true
			}
		}
	case *Map, map[string]any:
		keys, _ := mapKeys(x)
		for _, k := range keys {
			e, _ := mapGet(x, k)
			if isList(e) || isMap(e) {
				return true
			}
		}
	}
	return false
}

func writeFlow(b *strings.Builder, v any) {
	switch x := norm(v).(type) {
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, e)
		}
		b.WriteByte(']')
	case *Map, map[string]any:
		keys := sortedMapKeys(x)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			e, _ := mapGet(x, k)
			b.WriteString(yamlScalar(k) + ": ")
			writeFlow(b, e)
		}
		b.WriteByte('}')
	default:
		b.WriteString(yamlScalar(x))
	}
}

// writeYAML emits PyYAML's default_flow_style=None style (Ansible's
// to_yaml): collections of scalars in flow style, others in block style.
func writeYAML(b *strings.Builder, v any, ind int, _ bool, top bool) {
	v = norm(v)
	if !hasNested(v) || isEmptyColl(v) || (!isList(v) && !isMap(v)) {
		if !isList(v) && !isMap(v) && top {
			b.WriteString(yamlScalar(v) + "\n")
			return
		}
		writeFlow(b, v)
		b.WriteByte('\n')
		return
	}
	writeBlock(b, v, ind, 2, true)
}

func writeNiceYAML(b *strings.Builder, v any, ind, step int) {
	v = norm(v)
	if (!isList(v) && !isMap(v)) || isEmptyColl(v) {
		writeFlow(b, v)
		b.WriteByte('\n')
		return
	}
	writeBlock(b, v, ind, step, false)
}

// writeBlock writes block-style YAML; flowLeaves puts scalar-only
// collections in flow style.
func writeBlock(b *strings.Builder, v any, ind, step int, flowLeaves bool) {
	pad := strings.Repeat(" ", ind)
	switch x := norm(v).(type) {
	case []any:
		for _, e := range x {
			e = norm(e)
			if (isList(e) || isMap(e)) && !isEmptyColl(e) && !(flowLeaves && !hasNested(e)) {
				b.WriteString(pad + "-" + strings.Repeat(" ", step-1))
				var sub strings.Builder
				writeBlock(&sub, e, ind+step, step, flowLeaves)
				b.WriteString(strings.TrimLeft(sub.String(), " "))
				continue
			}
			b.WriteString(pad + "- ")
			writeFlow(b, e)
			b.WriteByte('\n')
		}
	case *Map, map[string]any:
		keys := sortedMapKeys(x)
		for _, k := range keys {
			e, _ := mapGet(x, k)
			b.WriteString(pad + yamlScalar(k) + ":")
			if (isList(e) || isMap(e)) && !isEmptyColl(e) && !(flowLeaves && !hasNested(e)) {
				b.WriteByte('\n')
				if isList(e) {
					writeBlock(b, e, ind, step, flowLeaves)
				} else {
					writeBlock(b, e, ind+step, step, flowLeaves)
				}
				continue
			}
			b.WriteByte(' ')
			writeFlow(b, e)
			b.WriteByte('\n')
		}
	}
}

// sortedMapKeys: PyYAML's dump sorts mapping keys (sort_keys=True).
func sortedMapKeys(m any) []string {
	keys, _ := mapKeys(m)
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	return keys
}

// urlQuote is Jinja2's url_quote: UTF-8 percent-encoding; "/" is kept
// unless forQS, which also turns spaces into "+".
func urlQuote(s string, forQS bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~", c) >= 0 || c == '/' && !forQS {
			b.WriteByte(c)
		} else if c == ' ' && forQS {
			b.WriteByte('+')
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fComment is ansible's comment filter: beginning, prefix lines, the text
// with each line decorated, postfix lines and end, all overridable by
// keyword.
func fComment(_ *scope, in any, args []any, kw map[string]any) any {
	style := toStr(arg(args, kw, 0, "style", "plain"))
	styles := map[string]map[string]any{
		"plain":  {"decoration": "# "},
		"erlang": {"decoration": "% "},
		"c":      {"decoration": "// "},
		"cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
		"xml":    {"beginning": "<!--", "decoration": " - ", "end": "-->"},
	}
	sp, ok := styles[style]
	if !ok {
		fail("KeyError: %s", repr(style))
	}
	deco := sp["decoration"]
	if d, ok := kw["decoration"]; ok {
		deco = d
	}
	pre := strings.TrimRight(toStr(deco), " \t\n\r\v\f")
	p := map[string]any{"newline": "\n", "beginning": "", "prefix": pre, "prefix_count": 1,
		"decoration": "", "postfix": pre, "postfix_count": 1, "end": ""}
	for k, v := range sp {
		p[k] = v
	}
	for k, v := range kw {
		if k != "style" && k != kwOrderKey {
			p[k] = norm(v)
		}
	}
	nl, d := toStr(p["newline"]), toStr(p["decoration"])
	var b strings.Builder
	if truth(p["beginning"]) {
		b.WriteString(toStr(p["beginning"]) + nl)
	}
	if truth(p["prefix"]) {
		line := toStr(p["prefix"]) + nl
		if toStr(p["prefix"]) == nl {
			line = nl
		}
		b.WriteString(strings.Repeat(line, max(toInt(p["prefix_count"]), 0)))
	}
	text := d + strings.ReplaceAll(toStr(in), nl, nl+d)
	text = strings.ReplaceAll(text, d+nl, strings.TrimRight(d, " \t\n\r\v\f")+nl)
	b.WriteString(text)
	for range max(toInt(p["postfix_count"]), 0) {
		b.WriteString(nl + toStr(p["postfix"]))
	}
	if truth(p["end"]) {
		b.WriteString(nl + toStr(p["end"]))
	}
	return b.String()
}

// toInt is Python's int() of a filter argument (bool and float included);
// anything else fails as int() would.
func toInt(v any) int {
	switch x := norm(v).(type) {
	case int:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	case float64:
		return int(x)
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n
		}
	}
	fail("invalid literal for int(): %s", repr(v))
	return 0
}
