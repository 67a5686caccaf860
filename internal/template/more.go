package template

import (
	"crypto/sha1"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// lookupFn is a lookup plugin: raw (untemplated) terms in, a list out.
type lookupFn func(sc *scope, terms []any, kw map[string]any) []any

// Lookups beyond file/env/template/pipe/vars/items/list; with_<name>
// loops are lookup('<name>', terms, wantlist=True).
var lookups map[string]lookupFn

func registerMore() {
	lookups = map[string]lookupFn{
		"dict": func(_ *scope, terms []any, _ map[string]any) []any {
			var out []any
			for _, t := range terms {
				out = append(out, filters["dict2items"](nil, norm(t), nil, nil).([]any)...)
			}
			return out
		},
		"indexed_items": func(_ *scope, terms []any, _ map[string]any) []any {
			var out []any
			for i, it := range flatten(terms, 1, false) {
				out = append(out, tuple{i, it})
			}
			return out
		},
		"together": func(_ *scope, terms []any, _ map[string]any) []any {
			lists := lookupLists(terms)
			n := 0
			for _, l := range lists {
				n = max(n, len(l))
			}
			out := make([]any, n)
			for i := range out {
				t := make([]any, len(lists))
				for j, l := range lists {
					if i < len(l) {
						t[j] = l[i]
					}
				}
				out[i] = t
			}
			return out
		},
		"nested": func(_ *scope, terms []any, _ map[string]any) []any {
			lists := lookupLists(terms)
			if len(lists) == 0 {
				fail("with_nested requires at least one element in the nested list")
			}
			out := []any{[]any{}}
			for _, l := range lists {
				var next []any
				for _, prefix := range out {
					for _, e := range l {
						next = append(next, append(append([]any{}, prefix.([]any)...), e))
					}
				}
				out = next
			}
			return out
		},
		"subelements": func(sc *scope, terms []any, kw map[string]any) []any {
			if len(terms) < 2 {
				fail("subelements lookup expects a list of two or three items")
			}
			flags := kw
			if len(terms) > 2 {
				if m := asOrdered(norm(terms[2])); m != nil {
					flags = map[string]any{}
					for _, k := range m.Keys() {
						flags[k] = m.m[k]
					}
				}
			}
			return subelementsLookup(terms[0], toStr(terms[1]), truth(flags["skip_missing"]))
		},
		"sequence": func(_ *scope, terms []any, kw map[string]any) []any {
			var out []any
			if len(terms) == 0 {
				terms = []any{""}
			}
			for _, t := range terms {
				out = append(out, sequence(toStr(t), kw)...)
			}
			return out
		},
		"fileglob": func(sc *scope, terms []any, _ map[string]any) []any {
			out := []any{}
			for _, t := range terms {
				pat := toStr(t)
				dirs := []string{""}
				if !filepath.IsAbs(pat) {
					dirs = nil
					for _, p := range append(append([]string(nil), sc.st.e.searchPaths...), sc.st.varSearchPaths()...) {
						dirs = append(dirs, filepath.Join(p, "files"), p)
					}
				}
				for _, d := range dirs {
					matches, _ := filepath.Glob(filepath.Join(d, pat))
					sort.Strings(matches)
					found := false
					for _, m := range matches {
						if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
							out = append(out, m)
							found = true
						}
					}
					if found {
						break
					}
				}
			}
			return out
		},
		"first_found": func(sc *scope, terms []any, kw map[string]any) []any {
			var files, paths []string
			skip := kw["skip"] == true
			addFiles := func(v any) {
				for _, f := range flatten([]any{v}, -1, true) {
					for _, part := range strings.FieldsFunc(toStr(f), func(r rune) bool { return r == ',' || r == ';' }) {
						files = append(files, strings.TrimSpace(part))
					}
				}
			}
			for _, t := range terms {
				if m := asOrdered(norm(t)); m != nil {
					if f, ok := m.Get("files"); ok {
						addFiles(f)
					}
					if p, ok := m.Get("paths"); ok {
						for _, pp := range flatten([]any{p}, -1, true) {
							paths = append(paths, strings.Split(toStr(pp), ",")...)
						}
					}
					if s, ok := m.Get("skip"); ok {
						skip = truth(s)
					}
					continue
				}
				addFiles(t)
			}
			if v, ok := kw["files"]; ok {
				addFiles(v)
			}
			if v, ok := kw["paths"]; ok {
				for _, pp := range flatten([]any{v}, -1, true) {
					paths = append(paths, strings.Split(toStr(pp), ",")...)
				}
			}
			for _, f := range files {
				cands := []string{f}
				if len(paths) > 0 && !filepath.IsAbs(f) {
					cands = nil
					for _, p := range paths {
						cands = append(cands, filepath.Join(p, f))
					}
				}
				for _, c := range cands {
					if p, err := sc.st.e.findFile(c, "", sc.st.varSearchPaths()...); err == nil {
						abs, _ := filepath.Abs(p)
						return []any{abs}
					}
				}
			}
			if skip {
				return []any{}
			}
			fail("No file was found when using first_found.")
			return nil
		},
		"lines": func(_ *scope, terms []any, _ map[string]any) []any {
			var out []any
			for _, t := range terms {
				o, err := exec.Command("/bin/sh", "-c", toStr(t)).Output()
				if err != nil {
					fail("lookup_plugin.lines(%s) returned %v", toStr(t), err)
				}
				for _, l := range strings.Split(strings.TrimRight(string(o), "\n"), "\n") {
					out = append(out, l)
				}
			}
			return out
		},
	}
	registerLookups()
	filters["json_query"] = fJSONQuery
	filters["community.general.json_query"] = fJSONQuery
	for name, f := range map[string]filterFn{
		"path_join": func(_ *scope, in any, _ []any, _ map[string]any) any {
			parts := []string{}
			if l, ok := in.([]any); ok {
				for _, p := range l {
					parts = append(parts, toStr(p))
				}
			} else {
				parts = append(parts, toStr(in))
			}
			out := ""
			for _, p := range parts {
				switch {
				case strings.HasPrefix(p, "/"), out == "":
					out = p
				case strings.HasSuffix(out, "/"):
					out += p
				default:
					out += "/" + p
				}
			}
			return out
		},
		"extract": func(_ *scope, in any, args []any, kw map[string]any) any {
			container := arg(args, kw, 0, "container", nil)
			v := getItem(container, in)
			if more := arg(args, kw, 1, "morekeys", nil); more != nil {
				keys, ok := more.([]any)
				if !ok {
					keys = []any{more}
				}
				for _, k := range keys {
					v = getItem(v, k)
				}
			}
			return v
		},
		"subelements": func(_ *scope, in any, args []any, kw map[string]any) any {
			return subelements(in, toStr(arg(args, kw, 0, "subelements", "")), arg(args, kw, 1, "skip_missing", false) == true)
		},
		"human_to_bytes": func(_ *scope, in any, args []any, kw map[string]any) any {
			return humanToBytes(toStr(in), toStr(arg(args, kw, 0, "default_unit", "")), arg(args, kw, 1, "isbits", false) == true)
		},
		"human_readable": func(_ *scope, in any, args []any, kw map[string]any) any {
			f, ok := toFloat(in)
			if !ok {
				if v, err := strconv.ParseFloat(toStr(in), 64); err == nil {
					f = v
				} else {
					fail("human_readable() failed on bad input: %s", toStr(in))
				}
			}
			isbits := arg(args, kw, 0, "isbits", false) == true
			unit := toStr(arg(args, kw, 1, "unit", ""))
			suffix := "B"
			if isbits {
				suffix = "b"
			}
			prefixes := []string{"", "K", "M", "G", "T", "P", "E", "Z", "Y"}
			i := 0
			if unit != "" {
				for j, p := range prefixes {
					if p == strings.ToUpper(unit[:1]) {
						i = j
					}
				}
			} else {
				for i < len(prefixes)-1 && f >= pow1024(i+1) {
					i++
				}
			}
			v := f / pow1024(i)
			if i == 0 {
				if isbits {
					return fmt.Sprintf("%.2f bits", v)
				}
				return fmt.Sprintf("%.2f Bytes", v)
			}
			return fmt.Sprintf("%.2f %s%s", v, prefixes[i], suffix)
		},
		"urlsplit": func(_ *scope, in any, args []any, kw map[string]any) any {
			u, err := url.Parse(toStr(in))
			if err != nil {
				fail("urlsplit: %v", err)
			}
			m := NewMap()
			m.Set("fragment", u.Fragment)
			var host any
			if h := u.Hostname(); h != "" {
				host = strings.ToLower(h)
			}
			m.Set("hostname", host)
			m.Set("netloc", u.Host)
			if u.User != nil {
				m.Set("netloc", u.User.String()+"@"+u.Host)
			}
			var pass, user any
			if u.User != nil {
				user = u.User.Username()
				if p, ok := u.User.Password(); ok {
					pass = p
				}
			}
			m.Set("password", pass)
			m.Set("path", u.EscapedPath())
			var port any
			if p := u.Port(); p != "" {
				port, _ = strconv.Atoi(p)
			}
			m.Set("port", port)
			m.Set("query", u.RawQuery)
			m.Set("scheme", u.Scheme)
			m.Set("username", user)
			if q := arg(args, kw, 0, "query", nil); q != nil {
				v, ok := m.Get(toStr(q))
				if !ok {
					fail("urlsplit: unknown URL component: %s", toStr(q))
				}
				return v
			}
			return m
		},
		"to_uuid": func(_ *scope, in any, args []any, kw map[string]any) any {
			ns := toStr(arg(args, kw, 0, "namespace", "361E6D51-FAEC-444A-9079-341386DA8E2E"))
			return uuid5(ns, toStr(in))
		},
		"strftime": func(_ *scope, in any, args []any, kw map[string]any) any {
			t := time.Now()
			if sec := arg(args, kw, 0, "second", nil); sec != nil {
				f, ok := toFloat(sec)
				if !ok {
					if v, err := strconv.ParseFloat(toStr(sec), 64); err == nil {
						f = v
					} else {
						fail("Invalid value for epoch value (%s)", toStr(sec))
					}
				}
				t = time.Unix(int64(f), 0)
			}
			if arg(args, kw, 1, "utc", false) == true {
				t = t.UTC()
			}
			return pyStrftime(toStr(in), t)
		},
		"from_yaml_all": func(sc *scope, in any, _ []any, _ map[string]any) any {
			var out []any
			for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(toStr(in), -1) {
				if strings.TrimSpace(doc) == "" {
					continue
				}
				out = append(out, filters["from_yaml"](sc, doc, nil, nil))
			}
			if out == nil {
				return []any{}
			}
			return out
		},
	} {
		filters[name] = f
	}
}

func pow1024(i int) float64 {
	f := 1.0
	for ; i > 0; i-- {
		f *= 1024
	}
	return f
}

func lookupLists(terms []any) [][]any {
	var lists [][]any
	for _, t := range terms {
		lists = append(lists, iterate(t))
	}
	return lists
}

func subelements(in any, key string, skipMissing bool) []any {
	out := []any{}
	for _, it := range iterate(in) {
		v := lookupAttr(it, key)
		if u, ok := v.(*undef); ok {
			if skipMissing {
				continue
			}
			fail("could not find '%s' key in iterated item '%s' (%v)", key, toStr(it), u.err())
		}
		l, ok := norm(v).([]any)
		if !ok {
			fail("the key %s should point to a list, got '%s'", key, toStr(v))
		}
		for _, e := range l {
			out = append(out, tuple{it, e})
		}
	}
	return out
}

// subelementsLookup is the subelements lookup (with_subelements): unlike
// the filter it follows a dotted key path and takes the list out of (a
// copy of) each parent, so item.0 lacks the subkey, and it skips items
// and results marked skipped.
func subelementsLookup(in any, key string, skipMissing bool) []any {
	in = norm(in)
	var elems []any
	if m := asOrdered(in); m != nil {
		if sk, ok := m.Get("skipped"); ok && sk != false {
			return []any{}
		}
		for _, k := range m.Keys() {
			elems = append(elems, m.m[k])
		}
	} else if l, ok := in.([]any); ok {
		elems = l
	} else {
		fail("subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey")
	}
	path := strings.Split(key, ".")
	out := []any{}
	for _, it := range elems {
		top := asOrdered(norm(it))
		if top == nil {
			fail("subelements lookup expects a dictionary, got '%s'", toStr(it))
		}
		if sk, ok := top.Get("skipped"); ok && sk != false {
			continue
		}
		top = top.Copy()
		cur := top
		var sub []any
	walk:
		for i, k := range path {
			v, ok := cur.Get(k)
			if !ok {
				if skipMissing {
					continue
				}
				fail("could not find '%s' key in iterated item '%s'", k, toStr(cur))
			}
			if i < len(path)-1 {
				next := asOrdered(norm(v))
				if next == nil {
					if skipMissing {
						continue
					}
					fail("the key %s should point to a dictionary, got '%s'", k, toStr(v))
				}
				next = next.Copy()
				cur.Set(k, next)
				cur = next
				continue
			}
			l, isList := norm(v).([]any)
			if !isList {
				fail("the key %s should point to a list, got '%s'", k, toStr(v))
			}
			cur.Delete(k)
			sub = l
			break walk
		}
		for _, e := range sub {
			out = append(out, tuple{top, e})
		}
	}
	return out
}

var seqShort = regexp.MustCompile(`^(0x[0-9a-fA-F]+|0[0-7]*|[0-9]+)?(?:-(0x[0-9a-fA-F]+|0[0-7]*|[0-9]+))?(?:/(0x[0-9a-fA-F]+|0[0-7]*|[0-9]+))?(?::(.+))?$`)

// sequence implements with_sequence: "start=1 end=5 stride=1 format=%d"
// or the short form "1-5/1:%d".
func sequence(term string, kw map[string]any) []any {
	start, end, stride, count := 1, 0, 1, -1
	format := "%d"
	hasEnd := false
	parseInt := func(s string) int {
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			fail("can't parse %q as an integer in sequence", s)
		}
		return int(n)
	}
	set := func(k, v string) {
		switch k {
		case "start":
			start = parseInt(v)
		case "end":
			end, hasEnd = parseInt(v), true
		case "stride":
			stride = parseInt(v)
		case "count":
			count = parseInt(v)
		case "format":
			format = v
		default:
			fail("unrecognized arguments to with_sequence: %s", k)
		}
	}
	term = strings.TrimSpace(term)
	if strings.Contains(term, "=") {
		for _, f := range strings.Fields(term) {
			k, v, _ := strings.Cut(f, "=")
			set(k, v)
		}
	} else if term != "" {
		m := seqShort.FindStringSubmatch(term)
		if m == nil {
			fail("can't parse arg %s as a sequence", term)
		}
		if m[1] != "" {
			start = parseInt(m[1])
		}
		if m[2] != "" {
			end, hasEnd = parseInt(m[2]), true
		} else if m[1] != "" {
			end, hasEnd, start = start, true, 1
		}
		if m[3] != "" {
			stride = parseInt(m[3])
		}
		if m[4] != "" {
			format = m[4]
		}
	}
	for k, v := range kw {
		if k != kwOrderKey && k != "wantlist" && k != "errors" {
			set(k, toStr(v))
		}
	}
	if count >= 0 {
		if hasEnd {
			fail("can't specify both count and end in with_sequence")
		}
		if count == 0 {
			return []any{}
		}
		end, hasEnd = start+(count-1)*stride, true
	}
	if !hasEnd {
		fail("must specify count or end in with_sequence")
	}
	var out []any
	if stride == 0 {
		return []any{}
	}
	if stride > 0 {
		for i := start; i <= end; i += stride {
			out = append(out, pyFormat(format, i, false))
		}
	} else {
		for i := start; i >= end; i += stride {
			out = append(out, pyFormat(format, i, false))
		}
	}
	if out == nil {
		return []any{}
	}
	return out
}

var humanRe = regexp.MustCompile(`^\s*(\d*\.?\d+)\s*([A-Za-z]+)?\s*$`)

func humanToBytes(s, defUnit string, isbits bool) int {
	m := humanRe.FindStringSubmatch(s)
	if m == nil {
		fail("human_to_bytes() can't interpret following string: %s", s)
	}
	num, _ := strconv.ParseFloat(m[1], 64)
	unit := m[2]
	if unit == "" {
		unit = defUnit
	}
	if unit == "" {
		return int(num)
	}
	prefixes := "BKMGTPEZY"
	i := strings.IndexByte(prefixes, strings.ToUpper(unit)[0])
	if i < 0 {
		fail("human_to_bytes() failed to convert %s. Value is not a valid string (expect one of %s)", s, prefixes)
	}
	return int(num * pow1024(i))
}

// uuid5 is Python's uuid.uuid5(uuid.UUID(ns), name).
func uuid5(ns, name string) string {
	hexs := strings.ReplaceAll(ns, "-", "")
	var nsb [16]byte
	if len(hexs) != 32 {
		fail("invalid namespace UUID %s", ns)
	}
	for i := 0; i < 16; i++ {
		v, err := strconv.ParseUint(hexs[2*i:2*i+2], 16, 8)
		if err != nil {
			fail("invalid namespace UUID %s", ns)
		}
		nsb[i] = byte(v)
	}
	h := sha1.New()
	h.Write(nsb[:])
	h.Write([]byte(name))
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// pyStrftime formats t with Python/C strftime directives.
func pyStrftime(f string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%02d", h)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'u':
			w := int(t.Weekday())
			if w == 0 {
				w = 7
			}
			fmt.Fprintf(&b, "%d", w)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'c':
			b.WriteString(t.Format("Mon Jan  2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
