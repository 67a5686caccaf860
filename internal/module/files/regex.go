package files

import (
	"fmt"
	"regexp"
	"strings"
)

// compilePy compiles a Python re pattern with Go's regexp, translating what
// differs in syntax: (?P<name>) is shared, \Z becomes \z. Lookarounds and
// backreferences in patterns have no RE2 equivalent and are reported.
func compilePy(pattern, flags string) (*regexp.Regexp, error) {
	p := strings.ReplaceAll(pattern, `\Z`, `\z`)
	if flags != "" {
		p = "(?" + flags + ")" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q is not supported (Go RE2 has no lookarounds or backreferences): %v", pattern, err)
	}
	return re, nil
}

// expandPy expands a Python re replacement template (\1, \g<1>, \g<name>,
// \n, \t, \\) for one match.
func expandPy(re *regexp.Regexp, tmpl string, src string, m []int) (string, error) {
	var b strings.Builder
	group := func(name string) error {
		idx := -1
		if n, err := parseInt(name); err == nil {
			idx = n
		} else {
			idx = re.SubexpIndex(name)
		}
		if idx < 0 || idx > re.NumSubexp() {
			return fmt.Errorf("invalid group reference %s", name)
		}
		if m[2*idx] >= 0 {
			b.WriteString(src[m[2*idx]:m[2*idx+1]])
		}
		return nil
	}
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '\\' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		switch d := tmpl[i]; {
		case d >= '0' && d <= '9':
			j := i + 1
			if j < len(tmpl) && tmpl[j] >= '0' && tmpl[j] <= '9' {
				j++
			}
			if err := group(tmpl[i:j]); err != nil {
				return "", err
			}
			i = j - 1
		case d == 'g':
			end := strings.IndexByte(tmpl[i:], '>')
			if i+1 >= len(tmpl) || tmpl[i+1] != '<' || end < 0 {
				return "", fmt.Errorf("missing group name in replacement %q", tmpl)
			}
			if err := group(tmpl[i+2 : i+end]); err != nil {
				return "", err
			}
			i += end
		case d == 'n':
			b.WriteByte('\n')
		case d == 't':
			b.WriteByte('\t')
		case d == 'r':
			b.WriteByte('\r')
		case d == '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(d)
		}
	}
	return b.String(), nil
}

func parseInt(s string) (int, error) {
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	if err == nil && fmt.Sprint(n) != s {
		return 0, fmt.Errorf("not a number")
	}
	return n, err
}

// subPy is Python's re.subn: every non-overlapping match replaced.
func subPy(re *regexp.Regexp, tmpl, src string) (string, int, error) {
	var b strings.Builder
	last, n := 0, 0
	for _, m := range re.FindAllStringSubmatchIndex(src, -1) {
		r, err := expandPy(re, tmpl, src, m)
		if err != nil {
			return "", 0, err
		}
		b.WriteString(src[last:m[0]])
		b.WriteString(r)
		last = m[1]
		n++
	}
	b.WriteString(src[last:])
	return b.String(), n, nil
}

type regexpAlias = regexp.Regexp
