package inventory

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tend-project/tend/internal/template"
	"github.com/tend-project/tend/internal/yamlx"
)

// literalEval reads s the way Python's ast.literal_eval does for the values
// an INI inventory holds: numbers, strings, True/False/None, lists, tuples,
// dicts and sets. ok is false when Python would raise (the INI parser then
// keeps the raw text).
func literalEval(s string) (v any, ok bool) {
	p := &pyParser{src: strings.TrimLeft(s, " \t")}
	if err := p.tokenize(); err != nil {
		return nil, false
	}
	if len(p.toks) == 0 {
		return nil, false
	}
	v, err := p.expr()
	if err != nil || p.pos != len(p.toks) {
		return nil, false
	}
	return v, true
}

type pyTok struct {
	kind byte // 'n' number, 's' string, 'i' identifier, 'p' punctuation
	text string
	val  any
}

type pyParser struct {
	src  string
	toks []pyTok
	pos  int
}

func (p *pyParser) tokenize() error {
	s := p.src
	depth := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\f':
			i++
		case c == '\n' || c == '\r':
			if depth == 0 {
				// a second logical line: literal_eval's "eval" mode rejects it
				rest := strings.TrimSpace(s[i:])
				if rest != "" && rest[0] != '#' {
					return fmt.Errorf("multiple lines")
				}
			}
			i++
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\n'):
			i += 2
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '(' || c == '[' || c == '{':
			depth++
			p.toks = append(p.toks, pyTok{kind: 'p', text: string(c)})
			i++
		case c == ')' || c == ']' || c == '}':
			depth--
			p.toks = append(p.toks, pyTok{kind: 'p', text: string(c)})
			i++
		case c == ',' || c == ':' || c == '-' || c == '+':
			p.toks = append(p.toks, pyTok{kind: 'p', text: string(c)})
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_' || s[j] == '.' ||
				(s[j] == '+' || s[j] == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.HasPrefix(strings.ToLower(s[i:]), "0x")) {
				j++
			}
			v, err := pyNumber(s[i:j])
			if err != nil {
				return err
			}
			p.toks = append(p.toks, pyTok{kind: 'n', text: s[i:j], val: v})
			i = j
		case isAlpha(c) || c >= 0x80:
			j := i
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_' || s[j] >= 0x80) {
				j++
			}
			word := s[i:j]
			if j < len(s) && (s[j] == '\'' || s[j] == '"') && isStrPrefix(word) {
				str, n, err := pyString(s[j:], strings.ToLower(word))
				if err != nil {
					return err
				}
				p.toks = append(p.toks, pyTok{kind: 's', val: str})
				i = j + n
				continue
			}
			p.toks = append(p.toks, pyTok{kind: 'i', text: word})
			i = j
		case c == '\'' || c == '"':
			str, n, err := pyString(s[i:], "")
			if err != nil {
				return err
			}
			p.toks = append(p.toks, pyTok{kind: 's', val: str})
			i += n
		default:
			// any other operator makes an expression literal_eval refuses
			return fmt.Errorf("unexpected %q", c)
		}
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }

func isStrPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "br", "rb":
		return true
	}
	return false // f-strings are not literals
}

// pyNumber parses a Python 3 numeric literal.
func pyNumber(t string) (any, error) {
	if strings.HasSuffix(t, "j") || strings.HasSuffix(t, "J") {
		return nil, fmt.Errorf("complex numbers are not supported")
	}
	if strings.HasPrefix(t, "_") || strings.HasSuffix(t, "_") || strings.Contains(t, "__") {
		return nil, fmt.Errorf("bad number")
	}
	clean := strings.ReplaceAll(strings.ToLower(t), "_", "")
	base := 0
	digits := clean
	switch {
	case strings.HasPrefix(clean, "0x"):
		base, digits = 16, clean[2:]
	case strings.HasPrefix(clean, "0o"):
		base, digits = 8, clean[2:]
	case strings.HasPrefix(clean, "0b"):
		base, digits = 2, clean[2:]
	}
	if base != 0 {
		n, ok := new(big.Int).SetString(digits, base)
		if !ok || digits == "" {
			return nil, fmt.Errorf("bad number")
		}
		return bigToValue(n), nil
	}
	if strings.ContainsAny(clean, ".e") {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return f, nil
			}
			return nil, err
		}
		return f, nil
	}
	for _, c := range clean {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("bad number")
		}
	}
	if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
		return nil, fmt.Errorf("leading zeros in decimal integer literals are not permitted")
	}
	n, _ := new(big.Int).SetString(clean, 10)
	return bigToValue(n), nil
}

func bigToValue(n *big.Int) any {
	if n.IsInt64() {
		return int(n.Int64())
	}
	return n.String()
}

// pyString reads a quoted Python string literal at the start of s (the quote
// is s[0]) and returns its value and length.
func pyString(s, prefix string) (string, int, error) {
	q := s[0]
	raw := strings.Contains(prefix, "r")
	triple := strings.HasPrefix(s, strings.Repeat(string(q), 3))
	start := 1
	if triple {
		start = 3
	}
	var b strings.Builder
	for i := start; i < len(s); {
		c := s[i]
		if triple && strings.HasPrefix(s[i:], strings.Repeat(string(q), 3)) {
			return b.String(), i + 3, nil
		}
		if !triple && c == q {
			return b.String(), i + 1, nil
		}
		if !triple && c == '\n' {
			return "", 0, fmt.Errorf("EOL while scanning string literal")
		}
		if c == '\\' && i+1 < len(s) {
			if raw {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
				i += 2
				continue
			}
			n, adv, err := pyEscape(s[i+1:], prefix)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(n)
			i += 1 + adv
			continue
		}
		b.WriteByte(c)
		i++
	}
	return "", 0, fmt.Errorf("unterminated string literal")
}

func pyEscape(s, prefix string) (string, int, error) {
	c := s[0]
	switch c {
	case '\n':
		return "", 1, nil
	case '\\', '\'', '"':
		return string(c), 1, nil
	case 'a':
		return "\a", 1, nil
	case 'b':
		return "\b", 1, nil
	case 'f':
		return "\f", 1, nil
	case 'n':
		return "\n", 1, nil
	case 'r':
		return "\r", 1, nil
	case 't':
		return "\t", 1, nil
	case 'v':
		return "\v", 1, nil
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if (c == 'u' || c == 'U') && strings.Contains(prefix, "b") {
			return "\\" + string(c), 1, nil
		}
		if len(s) < 1+n {
			return "", 0, fmt.Errorf("truncated \\%c escape", c)
		}
		v, err := strconv.ParseUint(s[1:1+n], 16, 32)
		if err != nil || v > utf8.MaxRune {
			return "", 0, fmt.Errorf("bad \\%c escape", c)
		}
		return string(rune(v)), 1 + n, nil
	}
	if c >= '0' && c <= '7' {
		j := 0
		for j < 3 && j < len(s) && s[j] >= '0' && s[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseUint(s[:j], 8, 32)
		return string(rune(v)), j, nil
	}
	return "\\" + string(c), 1, nil
}

func (p *pyParser) peek() *pyTok {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *pyParser) isPunct(s string) bool {
	t := p.peek()
	return t != nil && t.kind == 'p' && t.text == s
}

func (p *pyParser) expect(s string) error {
	if !p.isPunct(s) {
		return fmt.Errorf("expected %q", s)
	}
	p.pos++
	return nil
}

// expr parses one literal; a bare top-level "a, b" is a tuple in Python.
func (p *pyParser) expr() (any, error) {
	v, err := p.atom()
	if err != nil {
		return nil, err
	}
	if !p.isPunct(",") {
		return v, nil
	}
	items := []any{v}
	for p.isPunct(",") {
		p.pos++
		if p.peek() == nil {
			break
		}
		v, err := p.atom()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

func (p *pyParser) atom() (any, error) {
	t := p.peek()
	if t == nil {
		return nil, fmt.Errorf("unexpected end")
	}
	switch t.kind {
	case 'n':
		p.pos++
		return t.val, nil
	case 's':
		p.pos++
		s := t.val.(string)
		for q := p.peek(); q != nil && q.kind == 's'; q = p.peek() {
			s += q.val.(string)
			p.pos++
		}
		return s, nil
	case 'i':
		p.pos++
		switch t.text {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
		return nil, fmt.Errorf("malformed node %s", t.text)
	}
	switch t.text {
	case "-", "+":
		p.pos++
		n := p.peek()
		if n == nil || n.kind != 'n' {
			return nil, fmt.Errorf("malformed node")
		}
		p.pos++
		if t.text == "+" {
			return n.val, nil
		}
		switch v := n.val.(type) {
		case int:
			return -v, nil
		case float64:
			return -v, nil
		case string:
			b, _ := new(big.Int).SetString(v, 10)
			return bigToValue(b.Neg(b)), nil
		}
		return nil, fmt.Errorf("malformed node")
	case "(":
		p.pos++
		if p.isPunct(")") {
			p.pos++
			return []any{}, nil
		}
		v, err := p.atom()
		if err != nil {
			return nil, err
		}
		if p.isPunct(")") {
			p.pos++
			return v, nil
		}
		items := []any{v}
		for p.isPunct(",") {
			p.pos++
			if p.isPunct(")") {
				break
			}
			v, err := p.atom()
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, p.expect(")")
	case "[":
		p.pos++
		items := []any{}
		for !p.isPunct("]") {
			v, err := p.atom()
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			if !p.isPunct(",") {
				break
			}
			p.pos++
		}
		return items, p.expect("]")
	case "{":
		p.pos++
		if p.isPunct("}") {
			p.pos++
			return template.NewMap(), nil
		}
		first, err := p.atom()
		if err != nil {
			return nil, err
		}
		if !p.isPunct(":") { // a set
			items := []any{first}
			for p.isPunct(",") {
				p.pos++
				if p.isPunct("}") {
					break
				}
				v, err := p.atom()
				if err != nil {
					return nil, err
				}
				items = append(items, v)
			}
			return items, p.expect("}")
		}
		m := template.NewMap() // a dict keeps its insertion order, as in Python 3.7+
		key := first
		for {
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			switch key.(type) {
			case []any, *template.Map:
				return nil, fmt.Errorf("unhashable key")
			}
			v, err := p.atom()
			if err != nil {
				return nil, err
			}
			m.Set(yamlx.KeyString(key), v)
			if !p.isPunct(",") {
				break
			}
			p.pos++
			if p.isPunct("}") {
				break
			}
			if key, err = p.atom(); err != nil {
				return nil, err
			}
		}
		return m, p.expect("}")
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}
