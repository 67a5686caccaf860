package template

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// pformat is Python's pprint.pformat with its defaults (width 80, indent
// 1, dict keys sorted), which Jinja2's pprint filter uses: a value whose
// repr fits stays on one line, a longer one is broken an item per line.
func pformat(v any) string {
	var b strings.Builder
	ppFormat(&b, v, 0, 0, 0)
	return b.String()
}

const ppWidth = 80

// ppRepr is repr with dict keys sorted, as pprint writes it.
func ppRepr(v any) string {
	if t, ok := v.(tuple); ok {
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = ppRepr(e)
		}
		if len(t) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	switch x := norm(v).(type) {
	case []any:
		if _, isGroup := v.(groupTuple); isGroup {
			return repr(v)
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = ppRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *Map, map[string]any:
		keys := sortedMapKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			e, _ := mapGet(x, k)
			parts[i] = pyQuote(k) + ": " + ppRepr(e)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return repr(v)
}

func ppFormat(b *strings.Builder, v any, indent, allowance, level int) {
	rep := ppRepr(v)
	if utf8.RuneCountInString(rep) <= ppWidth-indent-allowance {
		b.WriteString(rep)
		return
	}
	// groupby pairs, markup and datetimes have their own repr: one line
	switch x := v.(type) {
	case tuple:
		end := ")"
		if len(x) == 1 {
			end = ",)"
		}
		b.WriteByte('(')
		ppItems(b, x, indent, allowance+len(end), level+1)
		b.WriteString(end)
		return
	case groupTuple, markup, object:
		b.WriteString(rep)
		return
	}
	switch x := norm(v).(type) {
	case []any:
		b.WriteByte('[')
		ppItems(b, x, indent, allowance+1, level+1)
		b.WriteByte(']')
	case *Map, map[string]any:
		b.WriteByte('{')
		keys := sortedMapKeys(x)
		indent++
		for i, k := range keys {
			last := i == len(keys)-1
			krep := pyQuote(k)
			b.WriteString(krep + ": ")
			e, _ := mapGet(x, k)
			ppFormat(b, e, indent+utf8.RuneCountInString(krep)+2, ppAllowance(last, allowance+1), level+1)
			if !last {
				b.WriteString(",\n" + strings.Repeat(" ", indent))
			}
		}
		b.WriteByte('}')
	case string:
		ppString(b, x, indent, allowance, level+1)
	default:
		b.WriteString(rep)
	}
}

func ppAllowance(last bool, allowance int) int {
	if last {
		return allowance
	}
	return 1
}

func ppItems(b *strings.Builder, items []any, indent, allowance, level int) {
	indent++
	for i, e := range items {
		if i > 0 {
			b.WriteString(",\n" + strings.Repeat(" ", indent))
		}
		ppFormat(b, e, indent, ppAllowance(i == len(items)-1, allowance), level)
	}
}

// ppString splits a long string into adjacent literals, at line ends and
// then between words.
func ppString(b *strings.Builder, s string, indent, allowance, level int) {
	if s == "" {
		b.WriteString(repr(s))
		return
	}
	if level == 1 {
		indent++
		allowance++
	}
	width := func(x string) int { return utf8.RuneCountInString(pyQuote(x)) }
	var chunks []string
	lines := splitLinesKeep(s)
	maxWidth := ppWidth - indent
	maxWidth1 := maxWidth
	rep := ""
	for i, line := range lines {
		rep = pyQuote(line)
		if i == len(lines)-1 {
			maxWidth1 -= allowance
		}
		if width(line) <= maxWidth1 {
			chunks = append(chunks, rep)
			continue
		}
		parts := wordsAndSpaces(line)
		maxWidth2 := maxWidth
		cur := ""
		for j, part := range parts {
			cand := cur + part
			if j == len(parts)-1 && i == len(lines)-1 {
				maxWidth2 -= allowance
			}
			if width(cand) > maxWidth2 {
				if cur != "" {
					chunks = append(chunks, pyQuote(cur))
				}
				cur = part
			} else {
				cur = cand
			}
		}
		if cur != "" {
			chunks = append(chunks, pyQuote(cur))
		}
	}
	if len(chunks) == 1 {
		b.WriteString(rep)
		return
	}
	if level == 1 {
		b.WriteByte('(')
	}
	b.WriteString(strings.Join(chunks, "\n"+strings.Repeat(" ", indent)))
	if level == 1 {
		b.WriteByte(')')
	}
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// wordsAndSpaces is re.findall(r'\S*\s*', s) without its final empty match.
func wordsAndSpaces(s string) []string {
	var parts []string
	r := []rune(s)
	for i := 0; i < len(r); {
		j := i
		for j < len(r) && !pyIsSpace(r[j]) {
			j++
		}
		for j < len(r) && pyIsSpace(r[j]) {
			j++
		}
		parts = append(parts, string(r[i:j]))
		i = j
	}
	return parts
}

// splitLinesKeep is Python's str.splitlines(keepends=True).
func splitLinesKeep(s string) []string {
	var lines []string
	r := []rune(s)
	start := 0
	for i := 0; i < len(r); i++ {
		switch r[i] {
		case '\r':
			if i+1 < len(r) && r[i+1] == '\n' {
				i++
			}
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		default:
			continue
		}
		lines = append(lines, string(r[start:i+1]))
		start = i + 1
	}
	if start < len(r) {
		lines = append(lines, string(r[start:]))
	}
	return lines
}
