package template

import (
	"html"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tend-project/tend/internal/pyre"
)

// rawInput are the filters that see their input as it is, before norm
// turns tuples into lists and markup into plain strings: type_debug names
// the type, escape leaves markup alone, attr finds .grouper and .list,
// and string, safe, forceescape and pprint print a tuple as one.
var rawInput = map[string]bool{
	"type_debug": true, "e": true, "escape": true, "attr": true,
	"string": true, "safe": true, "forceescape": true, "pprint": true,
}

// maxBuilt bounds the lists batch and slice build from their arguments, so
// a typo like batch(999999999, 'x') fails instead of exhausting memory.
const maxBuilt = 1 << 20

// addFilters registers filters; a name that is already taken panics, so two
// files cannot define the same filter.
func addFilters(fs map[string]filterFn) {
	for name, f := range fs {
		if _, dup := filters[name]; dup {
			panic("template: filter " + name + " is defined twice")
		}
		filters[name] = f
	}
}

// registerJinja adds the Jinja2 3.1 built-in filters the other files do
// not define.
func registerJinja() {
	escape := func(_ *scope, in any, _ []any, _ map[string]any) any {
		if m, ok := in.(markup); ok {
			return m // already safe: not escaped twice
		}
		return markup(htmlEscape(toStr(in)))
	}
	addFilters(map[string]filterFn{
		"format":  fFormat,
		"groupby": fGroupBy,
		"batch":   fBatch,
		"slice":   fSlice,
		"safe":    func(_ *scope, in any, _ []any, _ map[string]any) any { return markup(toStr(in)) },
		"e":       escape,
		"escape":  escape,
		"forceescape": func(_ *scope, in any, _ []any, _ map[string]any) any {
			return markup(htmlEscape(toStr(in)))
		},
		"tojson": func(_ *scope, in any, args []any, kw map[string]any) any {
			var s string
			switch x := arg(args, kw, 0, "indent", nil).(type) {
			case int:
				s = toIndentedJSON(in, x, true)
			case string:
				s = toJSON(in, x, true)
			default:
				s = toJSON(in, "", true)
			}
			return markup(htmlSafeJSON.Replace(s))
		},
		"filesizeformat": fFileSizeFormat,
		"attr": func(_ *scope, in any, args []any, kw map[string]any) any {
			name := toStr(arg(args, kw, 0, "name", ""))
			switch norm(in).(type) {
			case *Map, map[string]any, Getter:
				if !dictMethods[name] { // attr never falls back to an item
					return &undef{name: name, msg: "'dict object' has no attribute '" + name + "'"}
				}
			}
			return getAttr(in, name)
		},
		"wordwrap":  fWordWrap,
		"striptags": fStripTags,
		"pprint":    func(_ *scope, in any, _ []any, _ map[string]any) any { return pformat(in) },
		"xmlattr":   fXMLAttr,
	})
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

// htmlEscape is markupsafe's escape.
func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// htmlSafeJSON makes JSON safe inside HTML, as Jinja2's tojson does.
var htmlSafeJSON = strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "'", `\u0027`)

// fFormat is value % args: positional arguments fill %s in order, keyword
// arguments fill %(name)s.
func fFormat(_ *scope, in any, args []any, kw map[string]any) any {
	names := kwKeys(kw)
	if len(args) > 0 && len(names) > 0 {
		fail("can't handle positional and keyword arguments at the same time")
	}
	if len(names) > 0 {
		m := NewMap()
		for _, k := range names {
			m.Set(k, kw[k])
		}
		return pyFormat(toStr(in), m, false)
	}
	return pyFormat(toStr(in), tuple(args), true)
}

// attrParts splits a dotted attribute path as Jinja2 does: all-digit parts
// are list indexes.
func attrParts(attr any) []any {
	s, ok := attr.(string)
	if !ok {
		if attr == nil {
			return nil
		}
		return []any{attr}
	}
	var parts []any
	for _, p := range strings.Split(s, ".") {
		if n, err := strconv.Atoi(p); err == nil && p != "" && strings.Trim(p, "0123456789") == "" {
			parts = append(parts, n)
		} else {
			parts = append(parts, p)
		}
	}
	return parts
}

// attrGetter is Jinja2's make_attrgetter: def replaces a missing part.
func attrGetter(attr, def any) func(any) any {
	parts := attrParts(attr)
	return func(v any) any {
		for _, p := range parts {
			v = getItem(v, p)
			if _, missing := v.(*undef); missing && def != nil {
				v = def
			}
		}
		return v
	}
}

// fGroupBy sorts the items by an attribute and groups equal values:
// [(grouper, [items...]), ...]. Strings compare without case unless
// case_sensitive is set; the grouper keeps the case of its first item.
func fGroupBy(_ *scope, in any, args []any, kw map[string]any) any {
	if len(args) == 0 && !hasKey(kw, "attribute") {
		fail("groupby() missing 1 required positional argument: 'attribute'")
	}
	get := attrGetter(arg(args, kw, 0, "attribute", nil), arg(args, kw, 1, "default", nil))
	caseSensitive := truth(arg(args, kw, 2, "case_sensitive", false))
	items := append([]any{}, iterate(in)...)
	keys := make([]any, len(items))
	for i, it := range items {
		k := get(it)
		if u, missing := k.(*undef); missing {
			panic(u.err())
		}
		if s, ok := norm(k).(string); ok && !caseSensitive {
			k = strings.ToLower(s)
		}
		keys[i] = k
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return compare(keys[order[i]], keys[order[j]]) < 0 })
	out := []any{}
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && equal(keys[order[i]], keys[order[j]]) {
			j++
		}
		group := make([]any, 0, j-i)
		for _, o := range order[i:j] {
			group = append(group, items[o])
		}
		grouper := keys[order[i]]
		if !caseSensitive {
			grouper = get(group[0])
		}
		out = append(out, groupTuple{grouper, group})
		i = j
	}
	return out
}

// intArg is an argument Python would use as an int (bools and whole floats
// are fine).
func intArg(v any, what string) int {
	switch x := norm(v).(type) {
	case int:
		return x
	case bool:
		return b2i(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
	}
	fail("%s: '%s' object cannot be interpreted as an integer", what, typeName(v))
	return 0
}

// fBatch cuts the items into lists of linecount items; fill_with pads the
// last one.
func fBatch(_ *scope, in any, args []any, kw map[string]any) any {
	n := intArg(arg(args, kw, 0, "linecount", nil), "batch")
	fill := arg(args, kw, 1, "fill_with", nil)
	out := []any{}
	cur := []any{}
	for _, it := range iterate(in) {
		if len(cur) == n {
			out = append(out, cur)
			cur = []any{}
		}
		cur = append(cur, it)
	}
	if len(cur) > 0 {
		if fill != nil && len(cur) < n {
			if n > maxBuilt {
				fail("batch: %d items per batch is too many to fill", n)
			}
			for len(cur) < n {
				cur = append(cur, fill)
			}
		}
		out = append(out, cur)
	}
	return out
}

// fSlice cuts the items into slices lists of about equal length (the first
// ones one longer); fill_with pads the shorter ones.
func fSlice(_ *scope, in any, args []any, kw map[string]any) any {
	slices := intArg(arg(args, kw, 0, "slices", nil), "slice")
	fill := arg(args, kw, 1, "fill_with", nil)
	seq := iterate(in)
	if slices == 0 {
		fail("integer division or modulo by zero")
	}
	if slices > maxBuilt {
		fail("slice: %d slices is too many", slices)
	}
	out := []any{}
	if slices < 0 {
		return out // Python's range(slices) is empty
	}
	per, extra := len(seq)/slices, len(seq)%slices
	offset := 0
	for i := 0; i < slices; i++ {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		part := append([]any{}, seq[min(start, end, len(seq)):min(end, len(seq))]...)
		if fill != nil && i >= extra {
			part = append(part, fill)
		}
		out = append(out, part)
	}
	return out
}

// pyFloat is Python's float() of a filter argument.
func pyFloat(v any) float64 {
	if f, ok := toFloat(v); ok {
		return f
	}
	if s, ok := v.(string); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(strings.ReplaceAll(s, "_", "")), 64); err == nil || isRangeErr(err) {
			return f
		}
		fail("could not convert string to float: %s", pyQuote(s))
	}
	fail("float() argument must be a string or a real number, not '%s'", typeName(v))
	return 0
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pyFixed is Python's format(f, ".Nf").
func pyFixed(f float64, prec int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', prec, 64)
}

// fFileSizeFormat writes a byte count as "13 kB" or, with binary, "13 KiB".
func fFileSizeFormat(_ *scope, in any, args []any, kw map[string]any) any {
	size := pyFloat(in)
	binary := truth(arg(args, kw, 0, "binary", false))
	base := 1000.0
	prefixes := []string{"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	if binary {
		base = 1024
		prefixes = []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	}
	// unit(i) is base**i as Python's int-to-float conversion rounds it
	unit := func(i int) float64 {
		if binary {
			return math.Ldexp(1, 10*i)
		}
		f, _ := strconv.ParseFloat("1e"+strconv.Itoa(3*i), 64)
		return f
	}
	switch {
	case size == 1:
		return "1 Byte"
	case size < base:
		if math.IsInf(size, 0) {
			fail("cannot convert float infinity to integer")
		}
		return strconv.FormatFloat(math.Trunc(size)+0, 'f', 0, 64) + " Bytes" // +0: no "-0"
	}
	for i, p := range prefixes {
		if u := unit(i + 2); size < u || i == len(prefixes)-1 {
			return pyFixed(base*size/u, 1) + " " + p
		}
	}
	return ""
}

// wordSep splits text into textwrap's chunks, breaking after hyphens
// (Python's TextWrapper.wordsep_re, with Python's Unicode \w spelled out:
// letters, numbers and _; a "letter" is that without decimal digits).
var wordSep = pyre.MustCompile(strings.NewReplacer(
	"WORD", `\p{L}\p{Nd}\p{Nl}\p{No}_`, "LETTER", `[\p{L}\p{Nl}\p{No}_]`, "SPACE", `\t\n\x0b\x0c\r `,
).Replace(`([SPACE]+|(?<=[WORD!"'&.,?])-{2,}(?=[WORD])|[^SPACE]+?(?:-(?:(?<=LETTER{2}-)|(?<=LETTER-LETTER-))(?=LETTER-?LETTER)|(?=[SPACE]|\Z)|(?<=[WORD!"'&.,?])(?=-{2,}[WORD])))`), "")

var spaceSep = regexp.MustCompile(`[\t\n\x0b\x0c\r ]+`)

// fWordWrap wraps each line of the text at width, as Jinja2's wordwrap
// (Python's textwrap) does.
func fWordWrap(_ *scope, in any, args []any, kw map[string]any) any {
	width := intArg(arg(args, kw, 0, "width", 79), "wordwrap")
	breakLong := truth(arg(args, kw, 1, "break_long_words", true))
	wrapString := "\n"
	if w := arg(args, kw, 2, "wrapstring", nil); w != nil {
		wrapString = toStr(w)
	}
	breakHyphens := truth(arg(args, kw, 3, "break_on_hyphens", true))
	s, ok := in.(string)
	if !ok {
		fail("'%s' object has no attribute 'splitlines'", typeName(in))
	}
	lines, _ := callMethod(s, "splitlines", nil, nil).([]any)
	out := make([]string, len(lines))
	for i, l := range lines {
		if width <= 0 {
			fail("invalid width %d (must be > 0)", width)
		}
		out[i] = strings.Join(textWrap(l.(string), width, breakLong, breakHyphens), wrapString)
	}
	return strings.Join(out, wrapString)
}

// textWrap is textwrap.wrap without tab expansion or whitespace replacement.
func textWrap(text string, width int, breakLong, breakHyphens bool) []string {
	var chunks []string // a stack: the next chunk is last
	split := func(seps [][]int) {
		prev := 0
		for _, m := range seps {
			if m[0] > prev {
				chunks = append(chunks, text[prev:m[0]])
			}
			chunks = append(chunks, text[m[0]:m[1]])
			prev = m[1]
		}
		if prev < len(text) {
			chunks = append(chunks, text[prev:])
		}
	}
	if breakHyphens {
		split(wordSep.FindAllStringIndex(text, -1))
	} else {
		split(spaceSep.FindAllStringIndex(text, -1))
	}
	for i, j := 0, len(chunks)-1; i < j; i, j = i+1, j-1 {
		chunks[i], chunks[j] = chunks[j], chunks[i]
	}
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	size := utf8.RuneCountInString
	var lines []string
	for len(chunks) > 0 {
		var line []string
		n := 0
		if blank(chunks[len(chunks)-1]) && len(lines) > 0 {
			chunks = chunks[:len(chunks)-1]
		}
		for len(chunks) > 0 && n+size(chunks[len(chunks)-1]) <= width {
			line = append(line, chunks[len(chunks)-1])
			n += size(chunks[len(chunks)-1])
			chunks = chunks[:len(chunks)-1]
		}
		if len(chunks) > 0 && size(chunks[len(chunks)-1]) > width {
			// a chunk too long for any line
			last := []rune(chunks[len(chunks)-1])
			left := width - n // may be 0: Python then appends an empty piece
			switch {
			case breakLong:
				end := left
				if breakHyphens && len(last) > left {
					if h := lastIndexRune(last[:left], '-'); h > 0 && strings.Trim(string(last[:h]), "-") != "" {
						end = h + 1
					}
				}
				line = append(line, string(last[:end]))
				chunks[len(chunks)-1] = string(last[end:])
			case len(line) == 0:
				line = append(line, string(last))
				chunks = chunks[:len(chunks)-1]
			}
		}
		if len(line) > 0 && blank(line[len(line)-1]) {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			lines = append(lines, strings.Join(line, ""))
		}
	}
	return lines
}

func lastIndexRune(r []rune, c rune) int {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == c {
			return i
		}
	}
	return -1
}

var (
	htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)
	htmlTag     = regexp.MustCompile(`(?s)<.*?>`)
)

// fStripTags removes SGML/XML tags and comments, collapses white space and
// unescapes entities (markupsafe's Markup.striptags).
func fStripTags(_ *scope, in any, _ []any, _ map[string]any) any {
	s := htmlTag.ReplaceAllString(htmlComment.ReplaceAllString(toStr(in), ""), "")
	return html.UnescapeString(strings.Join(strings.Fields(s), " "))
}

var xmlAttrBadKey = regexp.MustCompile(`[\t\n\v\f\r />=]`)

// fXMLAttr writes a dict as XML attributes (` k="v" ...`), leaving out
// None and undefined values.
func fXMLAttr(_ *scope, in any, args []any, kw map[string]any) any {
	keys, ok := mapKeys(in)
	if !ok {
		fail("'%s' object has no attribute 'items'", typeName(in))
	}
	var items []string
	for _, k := range keys {
		var v any
		switch m := in.(type) {
		case *Map:
			v = m.m[k] // markup stays markup: not escaped twice
		case map[string]any:
			v = m[k]
		}
		if v == nil {
			continue
		}
		if _, missing := v.(*undef); missing {
			continue
		}
		if xmlAttrBadKey.MatchString(k) {
			fail("Invalid character in attribute name: %s", pyQuote(k))
		}
		val, isMarkup := v.(markup)
		if !isMarkup {
			val = markup(htmlEscape(toStr(v)))
		}
		items = append(items, htmlEscape(k)+`="`+string(val)+`"`)
	}
	s := strings.Join(items, " ")
	if s != "" && truth(arg(args, kw, 0, "autospace", true)) {
		s = " " + s
	}
	return s
}
