package template

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

type testFn func(sc *scope, in any, args []any, kw map[string]any) bool

func (sc *scope) applyTest(t *testExpr) bool {
	raw := sc.eval(t.x)
	in := norm(raw)
	args, kw := sc.evalArgs(t.args, t.kwargs)
	switch t.name {
	case "defined":
		_, u := in.(*undef)
		return !u
	case "undefined":
		_, u := in.(*undef)
		return u
	}
	if u, ok := in.(*undef); ok {
		panic(u.err())
	}
	return callTest(sc, t.name, raw, args, kw)
}

func callTest(sc *scope, name string, in any, args []any, kw map[string]any) bool {
	raw := in
	in = norm(in)
	switch name {
	case "defined":
		_, u := in.(*undef)
		return !u
	case "undefined":
		_, u := in.(*undef)
		return u
	}
	if u, ok := in.(*undef); ok {
		panic(u.err())
	}
	t, ok := tests[name]
	if !ok {
		fail("no test named '%s'", name)
	}
	if name == "escaped" {
		in = raw // a markup string, before norm makes it a plain one
	}
	return t(sc, in, args, kw)
}

func resultFlag(in any, key string) bool {
	if !isMap(in) {
		fail("The '%s' test expects a dictionary", key)
	}
	v, _ := mapGet(in, key)
	return truth(v)
}

var tests map[string]testFn

func init() {
	failed := func(_ *scope, in any, _ []any, _ map[string]any) bool { return resultFlag(in, "failed") }
	succeeded := func(_ *scope, in any, _ []any, _ map[string]any) bool { return !resultFlag(in, "failed") }
	changed := func(_ *scope, in any, _ []any, _ map[string]any) bool { return resultFlag(in, "changed") }
	skipped := func(_ *scope, in any, _ []any, _ map[string]any) bool { return resultFlag(in, "skipped") }
	re := func(mode string) testFn {
		return func(_ *scope, in any, args []any, kw map[string]any) bool {
			r := compileRe(toStr(arg(args, kw, 0, "pattern", "")), arg(args, kw, 1, "ignorecase", false), arg(args, kw, 2, "multiline", false))
			s := toStr(in)
			loc := r.FindStringIndex(s)
			switch mode {
			case "match":
				// re.match: the leftmost match starts at 0 when any match does
				return loc != nil && loc[0] == 0
			}
			return loc != nil
		}
	}
	eq := func(_ *scope, in any, args []any, _ map[string]any) bool {
		return equal(in, arg(args, nil, 0, "", nil))
	}
	tests = map[string]testFn{
		"none":    func(_ *scope, in any, _ []any, _ map[string]any) bool { return in == nil },
		"boolean": func(_ *scope, in any, _ []any, _ map[string]any) bool { _, ok := in.(bool); return ok },
		"true":    func(_ *scope, in any, _ []any, _ map[string]any) bool { return in == true },
		"false":   func(_ *scope, in any, _ []any, _ map[string]any) bool { return in == false },
		"string":  func(_ *scope, in any, _ []any, _ map[string]any) bool { _, ok := in.(string); return ok },
		"number":  func(_ *scope, in any, _ []any, _ map[string]any) bool { return isNumber(in) },
		"integer": func(_ *scope, in any, _ []any, _ map[string]any) bool { _, ok := in.(int); return ok },
		"float":   func(_ *scope, in any, _ []any, _ map[string]any) bool { _, ok := in.(float64); return ok },
		"mapping": func(_ *scope, in any, _ []any, _ map[string]any) bool { return isMap(in) },
		"sequence": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, s := in.(string)
			return s || isList(in) || isMap(in)
		},
		"iterable": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, s := in.(string)
			return s || isList(in) || isMap(in)
		},
		"callable": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			switch in.(type) {
			case fn, *method, *macro:
				return true
			}
			return false
		},
		"lower":     func(_ *scope, in any, _ []any, _ map[string]any) bool { s := toStr(in); return strings.ToLower(s) == s },
		"upper":     func(_ *scope, in any, _ []any, _ map[string]any) bool { s := toStr(in); return strings.ToUpper(s) == s },
		"succeeded": succeeded, "success": succeeded,
		"failed": failed, "failure": failed,
		"changed": changed, "change": changed,
		"skipped": skipped, "skip": skipped,
		"finished": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			v, ok := mapGet(in, "finished")
			return !ok || truth(v)
		},
		"match":  re("match"),
		"search": re("search"),
		"regex": func(sc *scope, in any, args []any, kw map[string]any) bool {
			if kw["match_type"] == "match" {
				return re("match")(sc, in, args, kw)
			}
			return re("search")(sc, in, args, kw)
		},
		"version":         func(_ *scope, in any, args []any, kw map[string]any) bool { return versionTest(in, args, kw) },
		"version_compare": func(_ *scope, in any, args []any, kw map[string]any) bool { return versionTest(in, args, kw) },
		"in": func(_ *scope, in any, args []any, _ map[string]any) bool {
			return contains(arg(args, nil, 0, "", []any{}), in)
		},
		"contains": func(_ *scope, in any, args []any, _ map[string]any) bool {
			return contains(in, arg(args, nil, 0, "", nil))
		},
		"equalto": eq, "eq": eq, "==": eq, "equal": eq,
		"!=": func(sc *scope, in any, args []any, kw map[string]any) bool { return !eq(sc, in, args, kw) },
		"<":  func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) < 0 },
		"<=": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) <= 0 },
		">":  func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) > 0 },
		">=": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) >= 0 },
		"ne": func(sc *scope, in any, args []any, kw map[string]any) bool { return !eq(sc, in, args, kw) },
		"lt": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) < 0 },
		"le": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) <= 0 },
		"gt": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) > 0 },
		"ge": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) >= 0 },
		// Jinja2's long names of the comparison tests
		"lessthan":    func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) < 0 },
		"greaterthan": func(_ *scope, in any, args []any, _ map[string]any) bool { return compare(in, args[0]) > 0 },
		"sameas": func(_ *scope, in any, args []any, _ map[string]any) bool {
			return sameValue(in, norm(args[0])) && typeName(in) == typeName(args[0])
		},
		"divisibleby": func(_ *scope, in any, args []any, _ map[string]any) bool {
			a, b := in.(int), norm(args[0]).(int)
			return b != 0 && a%b == 0
		},
		"even":   func(_ *scope, in any, _ []any, _ map[string]any) bool { i, _ := in.(int); return i%2 == 0 },
		"odd":    func(_ *scope, in any, _ []any, _ map[string]any) bool { i, _ := in.(int); return i%2 != 0 },
		"truthy": func(_ *scope, in any, _ []any, _ map[string]any) bool { return truth(in) },
		"falsy":  func(_ *scope, in any, _ []any, _ map[string]any) bool { return !truth(in) },
		"subset": func(_ *scope, in any, args []any, _ map[string]any) bool {
			big := setItems(args[0])
			for _, e := range setItems(in) {
				if !contains(big, e) {
					return false
				}
			}
			return true
		},
		"superset": func(_ *scope, in any, args []any, _ map[string]any) bool {
			big := setItems(in)
			small := setItems(args[0])
			for _, e := range small {
				if !contains(big, e) {
					return false
				}
			}
			return true
		},
		"abs": func(_ *scope, in any, _ []any, _ map[string]any) bool { return filepath.IsAbs(toStr(in)) },
		"file": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			st, err := os.Stat(toStr(in))
			return err == nil && st.Mode().IsRegular()
		},
		"directory": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			st, err := os.Stat(toStr(in))
			return err == nil && st.IsDir()
		},
		"exists": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, err := os.Stat(toStr(in))
			return err == nil
		},
		"link": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			st, err := os.Lstat(toStr(in))
			return err == nil && st.Mode()&os.ModeSymlink != 0
		},
	}
	registerMoreTests() // tests_more.go: the rest of Jinja2's and ansible-core's tests
}

// versionTest implements Ansible's version test (LooseVersion ordering).
func versionTest(in any, args []any, kw map[string]any) bool {
	other := toStr(arg(args, kw, 0, "version", ""))
	op := toStr(arg(args, kw, 1, "operator", "eq"))
	c := looseCompare(toStr(in), other)
	switch op {
	case "<", "lt":
		return c < 0
	case "<=", "le":
		return c <= 0
	case ">", "gt":
		return c > 0
	case ">=", "ge":
		return c >= 0
	case "==", "=", "eq":
		return c == 0
	case "!=", "<>", "ne":
		return c != 0
	}
	fail("Invalid operator type (%s)", op)
	return false
}

// looseVersion splits like distutils' LooseVersion: runs of digits become
// ints, runs of letters strings, '.' separates.
func looseVersion(s string) []any {
	var out []any
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsDigit(c):
			j := i
			for j < len(s) && unicode.IsDigit(rune(s[j])) {
				j++
			}
			n, _ := strconv.Atoi(s[i:j])
			out = append(out, n)
			i = j
		case c == '.':
			i++
		default:
			j := i
			for j < len(s) && !unicode.IsDigit(rune(s[j])) && s[j] != '.' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

func looseCompare(a, b string) int {
	va, vb := looseVersion(a), looseVersion(b)
	for i := 0; i < len(va) && i < len(vb); i++ {
		x, y := va[i], vb[i]
		xi, xInt := x.(int)
		yi, yInt := y.(int)
		switch {
		case xInt && yInt:
			if xi != yi {
				if xi < yi {
					return -1
				}
				return 1
			}
		case !xInt && !yInt:
			if c := strings.Compare(x.(string), y.(string)); c != 0 {
				return c
			}
		default:
			fail("Version comparison failed: '<' not supported between instances of 'int' and 'str'")
		}
	}
	return len(va) - len(vb)
}
