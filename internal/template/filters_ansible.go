package template

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// registerAnsible adds the ansible-core 2.14 filters the other files do not
// define. vault and unvault are not here: they need the vault secrets.
func registerAnsible() {
	addFilters(map[string]filterFn{
		"log": func(_ *scope, in any, args []any, kw map[string]any) any {
			x := number(in, "log")
			base := arg(args, kw, 0, "base", math.E)
			if equal(base, 10) {
				return pyLog10(x)
			}
			d := pyLog(number(base, "log"))
			if d == 0 {
				fail("float division by zero")
			}
			return pyLog(x) / d
		},
		"pow": func(_ *scope, in any, args []any, kw map[string]any) any {
			return pyPow(number(in, "pow"), number(arg(args, kw, 0, "y", nil), "pow"))
		},
		"root": func(_ *scope, in any, args []any, kw map[string]any) any {
			x := number(in, "root")
			base := arg(args, kw, 0, "base", 2)
			if equal(base, 2) {
				if x < 0 {
					fail("root() can only be used on numbers: math domain error")
				}
				return math.Sqrt(x)
			}
			b := pyFloat(base)
			if b == 0 {
				fail("float division by zero")
			}
			return pyPow(x, 1/b)
		},
		"combinations": func(_ *scope, in any, args []any, kw map[string]any) any {
			if len(args) == 0 && !hasKey(kw, "r") {
				fail("combinations() missing required argument 'r' (pos 2)")
			}
			return combinations(iterate(in), intArg(arg(args, kw, 0, "r", nil), "combinations"))
		},
		"permutations": func(_ *scope, in any, args []any, kw map[string]any) any {
			pool := iterate(in)
			r := len(pool)
			if v := arg(args, kw, 0, "r", nil); v != nil {
				r = intArg(v, "permutations")
			}
			return permutations(pool, r)
		},
		"zip_longest": func(_ *scope, in any, args []any, kw map[string]any) any {
			for _, k := range kwKeys(kw) {
				if k != "fillvalue" {
					fail("zip_longest() got an unexpected keyword argument '%s'", k)
				}
			}
			lists := [][]any{iterate(in)}
			n := len(lists[0])
			for _, a := range args {
				lists = append(lists, iterate(a))
				n = max(n, len(lists[len(lists)-1]))
			}
			fill := norm(kw["fillvalue"])
			out := make([]any, n)
			for i := range out {
				t := make(tuple, len(lists))
				for j, l := range lists {
					t[j] = fill
					if i < len(l) {
						t[j] = l[i]
					}
				}
				out[i] = t
			}
			return out
		},
		"rekey_on_member": fRekeyOnMember,
		"urldecode": func(_ *scope, in any, _ []any, _ map[string]any) any {
			return unquotePlus(pathArg(in, "urldecode"))
		},
		"relpath": func(_ *scope, in any, args []any, kw map[string]any) any {
			p := pathArg(in, "relpath")
			if p == "" {
				fail("no path specified")
			}
			start, err := filepath.Abs(pathArg(arg(args, kw, 0, "start", "."), "relpath"))
			if err != nil {
				fail("relpath: %v", err)
			}
			abs, err := filepath.Abs(p)
			if err != nil {
				fail("relpath: %v", err)
			}
			rel, err := filepath.Rel(start, abs)
			if err != nil {
				fail("relpath: %v", err)
			}
			return rel
		},
		"expandvars": func(_ *scope, in any, _ []any, _ map[string]any) any {
			return expandVars(pathArg(in, "expandvars"))
		},
		"fileglob": func(_ *scope, in any, _ []any, _ map[string]any) any {
			out := []any{}
			for _, m := range pyGlob(pathArg(in, "fileglob"), false) {
				if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
					out = append(out, m)
				}
			}
			return out
		},
		"win_basename": func(_ *scope, in any, _ []any, _ map[string]any) any {
			_, tail := ntSplit(pathArg(in, "win_basename"))
			return tail
		},
		"win_dirname": func(_ *scope, in any, _ []any, _ map[string]any) any {
			head, _ := ntSplit(pathArg(in, "win_dirname"))
			return head
		},
		"win_splitdrive": func(_ *scope, in any, _ []any, _ map[string]any) any {
			d, p := ntSplitDrive(pathArg(in, "win_splitdrive"))
			return tuple{d, p}
		},
		"to_datetime": func(_ *scope, in any, args []any, kw map[string]any) any {
			s, ok := in.(string)
			if !ok {
				fail("strptime() argument 1 must be str, not %s", typeName(in))
			}
			format, ok := arg(args, kw, 0, "format", "%Y-%m-%d %H:%M:%S").(string)
			if !ok {
				fail("strptime() argument 2 must be str")
			}
			return strptime(s, format)
		},
	})
}

// number is a filter's numeric argument (bools count, as in Python).
func number(v any, filter string) float64 {
	f, ok := toFloat(norm(v))
	if !ok {
		fail("%s() can only be used on numbers: must be real number, not %s", filter, typeName(v))
	}
	return f
}

// pathArg is a path filter's string argument.
func pathArg(v any, filter string) string {
	s, ok := norm(v).(string)
	if !ok {
		fail("%s: expected str, bytes or os.PathLike object, not %s", filter, typeName(v))
	}
	return s
}

// combinations is itertools.combinations: r-tuples in input order.
func combinations(pool []any, r int) []any {
	if r < 0 {
		fail("r must be non-negative")
	}
	out := []any{}
	n := len(pool)
	if r > n {
		return out
	}
	idx := make([]int, r)
	for i := range idx {
		idx[i] = i
	}
	for {
		t := make(tuple, r)
		for i, j := range idx {
			t[i] = pool[j]
		}
		out = append(out, t)
		if len(out) > maxBuilt {
			fail("combinations: more than %d results", maxBuilt)
		}
		i := r - 1
		for i >= 0 && idx[i] == i+n-r {
			i--
		}
		if i < 0 {
			return out
		}
		idx[i]++
		for j := i + 1; j < r; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}

// permutations is itertools.permutations: r-tuples of distinct positions,
// in lexicographic order of the positions.
func permutations(pool []any, r int) []any {
	if r < 0 {
		fail("r must be non-negative")
	}
	out := []any{}
	if r > len(pool) {
		return out
	}
	used := make([]bool, len(pool))
	cur := make(tuple, 0, r)
	var walk func()
	walk = func() {
		if len(cur) == r {
			out = append(out, append(tuple{}, cur...))
			if len(out) > maxBuilt {
				fail("permutations: more than %d results", maxBuilt)
			}
			return
		}
		for i, e := range pool {
			if !used[i] {
				used[i] = true
				cur = append(cur, e)
				walk()
				cur = cur[:len(cur)-1]
				used[i] = false
			}
		}
	}
	walk()
	return out
}

// fRekeyOnMember turns a list (or the values of a dict) of dicts into a
// dict keyed by each one's value of key.
func fRekeyOnMember(_ *scope, in any, args []any, kw map[string]any) any {
	dup := toStr(arg(args, kw, 1, "duplicates", "error"))
	if dup != "error" && dup != "overwrite" {
		fail("duplicates parameter to rekey_on_member has unknown value: %s", dup)
	}
	if len(args) == 0 && !hasKey(kw, "key") {
		fail("rekey_on_member() missing 1 required positional argument: 'key'")
	}
	key := toStr(arg(args, kw, 0, "key", nil))
	var items []any
	switch x := in.(type) {
	case *Map, map[string]any:
		keys, _ := mapKeys(x)
		for _, k := range keys {
			v, _ := mapGet(x, k)
			items = append(items, v)
		}
	case []any:
		items = x
	default:
		fail("Type is not a valid list, set, or dict")
	}
	out := NewMap()
	for _, it := range items {
		it = norm(it)
		if !isMap(it) {
			fail("List item is not a valid dict")
		}
		k, ok := mapGet(it, key)
		if !ok {
			fail("Key %s was not found", key)
		}
		if isList(k) || isMap(k) {
			fail("unhashable type: '%s'", typeName(k))
		}
		ks := toStr(k)
		if _, exists := out.Get(ks); exists && dup == "error" {
			fail("Key %s is not unique, cannot correctly turn into dict", ks)
		}
		out.Set(ks, it)
	}
	return out
}

// unquotePlus is urllib.parse.unquote_plus: + is a space, %XX a byte, and
// the bytes are UTF-8 (a bad byte becomes U+FFFD); a stray % stays.
func unquotePlus(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return s
	}
	var raw []byte
	var b strings.Builder
	flush := func() {
		for len(raw) > 0 {
			r, n := utf8.DecodeRune(raw)
			if r == utf8.RuneError && n == 1 {
				n = invalidUTF8Len(raw) // one U+FFFD for the whole broken sequence
			}
			b.WriteRune(r)
			raw = raw[n:]
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			raw = append(raw, byte(v))
			i += 2
			continue
		}
		flush()
		b.WriteByte(s[i])
	}
	flush()
	return b.String()
}

// invalidUTF8Len is the length of the broken sequence at the start of b:
// its lead byte and the continuation bytes that could still have followed
// it (the "maximal subpart" Python's decoder replaces with one U+FFFD).
func invalidUTF8Len(b []byte) int {
	lo, hi := byte(0x80), byte(0xbf) // range of the second byte
	need := 0
	switch c := b[0]; {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		lo, need = 0xa0, 2
	case c == 0xed:
		hi, need = 0x9f, 2
	case c >= 0xe1 && c <= 0xef:
		need = 2
	case c == 0xf0:
		lo, need = 0x90, 3
	case c == 0xf4:
		hi, need = 0x8f, 3
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xbf
	}
	return n
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var envVarRef = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)

// expandVars is os.path.expandvars: $NAME and ${NAME} from the
// environment; unknown names stay as written.
func expandVars(p string) string {
	for i := 0; ; {
		m := envVarRef.FindStringSubmatchIndex(p[i:])
		if m == nil {
			return p
		}
		start, end := i+m[0], i+m[1]
		name := p[i+m[2] : i+m[3]]
		if strings.HasPrefix(name, "{") && strings.HasSuffix(name, "}") {
			name = name[1 : len(name)-1]
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			i = end
			continue
		}
		tail := p[end:]
		p = p[:start] + v
		i = len(p)
		p += tail
	}
}

// ntSplitDrive is ntpath.splitdrive: "C:" or "\\server\share" and the rest.
func ntSplitDrive(p string) (string, string) {
	if len(p) < 2 {
		return "", p
	}
	n := strings.ReplaceAll(p, "/", `\`)
	if n[:2] == `\\` {
		start := 2
		if len(n) >= 8 && strings.ToUpper(n[:8]) == `\\?\UNC\` {
			start = 8
		}
		i := strings.IndexByte(n[min(start, len(n)):], '\\')
		if i < 0 {
			return p, ""
		}
		i += start
		j := strings.IndexByte(n[i+1:], '\\')
		if j < 0 {
			return p, ""
		}
		j += i + 1
		return p[:j], p[j:]
	}
	if n[1] == ':' {
		return p[:2], p[2:]
	}
	return "", p
}

// ntSplit is ntpath.split: the head (drive included) and the last part.
func ntSplit(p string) (string, string) {
	d, rest := ntSplitDrive(p)
	i := len(rest)
	for i > 0 && rest[i-1] != '/' && rest[i-1] != '\\' {
		i--
	}
	head, tail := rest[:i], rest[i:]
	if h := strings.TrimRight(head, `/\`); h != "" {
		head = h
	}
	return d + head, tail
}

// pyGlob is Python's glob.glob (not recursive): * ? and [...] in any
// part; names starting with a dot match only a pattern that does too.
func pyGlob(pattern string, dirOnly bool) []string {
	dir, base := pySplit(pattern)
	if !hasGlobMagic(pattern) {
		if base != "" {
			if _, err := os.Lstat(pattern); err == nil {
				return []string{pattern}
			}
		} else if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return []string{pattern}
		}
		return nil
	}
	dirs := []string{dir}
	if dir == "" {
		dirs = []string{""}
	} else if dir != pattern && hasGlobMagic(dir) {
		dirs = pyGlob(dir, true)
	}
	var out []string
	for _, d := range dirs {
		var names []string
		if hasGlobMagic(base) {
			names = globInDir(d, base, dirOnly)
		} else if base == "" {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				names = []string{""}
			}
		} else if _, err := os.Lstat(pyJoin(d, base)); err == nil {
			names = []string{base}
		}
		for _, n := range names {
			if d == "" {
				out = append(out, n)
			} else {
				out = append(out, pyJoin(d, n))
			}
		}
	}
	return out
}

func globInDir(dir, pattern string, dirOnly bool) []string {
	list := dir
	if list == "" {
		list = "."
	}
	entries, err := os.ReadDir(list)
	if err != nil {
		return nil
	}
	goPat := fnmatchToGo(pattern)
	var out []string
	for _, e := range entries {
		name := e.Name()
		if name[0] == '.' && pattern[0] != '.' {
			continue
		}
		if dirOnly {
			if st, err := os.Stat(filepath.Join(list, name)); err != nil || !st.IsDir() {
				continue
			}
		}
		if ok, _ := filepath.Match(goPat, name); ok {
			out = append(out, name)
		}
	}
	return out
}

func hasGlobMagic(s string) bool { return strings.ContainsAny(s, "*?[") }

// pySplit is posixpath.split.
func pySplit(p string) (string, string) {
	i := strings.LastIndexByte(p, '/') + 1
	head, tail := p[:i], p[i:]
	if head != "" && strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head, tail
}

// pyJoin is posixpath.join of two parts.
func pyJoin(a, b string) string {
	switch {
	case strings.HasPrefix(b, "/"), a == "":
		return b
	case strings.HasSuffix(a, "/"):
		return a + b
	}
	return a + "/" + b
}

// fnmatchToGo rewrites an fnmatch pattern for filepath.Match: a backslash
// is an ordinary character, [!...] negates, and a [ without its ] is
// literal.
func fnmatchToGo(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '[':
			j := i + 1
			if j < len(p) && p[j] == '!' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j >= len(p) {
				b.WriteString(`\[`)
				continue
			}
			set := p[i+1 : j]
			b.WriteByte('[')
			if strings.HasPrefix(set, "!") {
				b.WriteByte('^')
				set = set[1:]
			}
			for k := 0; k < len(set); k++ {
				switch c := set[k]; {
				case c == '\\' || c == ']' || c == '^' && k == 0,
					c == '-' && (k == 0 || k == len(set)-1):
					b.WriteByte('\\') // literal in fnmatch, special to filepath.Match
					b.WriteByte(c)
				default:
					b.WriteByte(c)
				}
			}
			b.WriteByte(']')
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
