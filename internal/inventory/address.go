package inventory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Host addresses and ranges, after ansible/parsing/utils/addresses.py and
// expand_hostname_range in ansible/plugins/inventory/__init__.py.

const (
	numericRange      = `\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	hexadecimalRange  = `\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
	alphanumericRange = `\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	ipv6Component     = `(?:[0-9a-f]{1,4}|` + hexadecimalRange + `)`
	ipv4Component     = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|` + numericRange + `)`
	// Python's \w is Unicode-aware; the lookbehind (?<![_-]) that stops a
	// label ending in _ or - is checked in code (validHostname).
	wordChar = `[\p{L}\p{N}_]`
	label    = `(?:` + wordChar + `|` + alphanumericRange + `)(?:[\p{L}\p{N}_-]|` + alphanumericRange + `)*`
)

var (
	bracketedHostport = regexp.MustCompile(`^\[(.+)\]:([0-9]+)$`)
	hostportRe        = regexp.MustCompile(`^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`)
	ipv4Re            = regexp.MustCompile(`(?i)^(?:` + ipv4Component + `\.){3}` + ipv4Component + `$`)
	ipv6Re            = regexp.MustCompile(strings.ReplaceAll(`(?i)^(?:`+strings.Join([]string{
		`(?:{0}:){7}{0}`,
		`(?:{0}:){1,6}:`,
		`(?:{0}:)(?::{0}){1,6}`,
		`(?:{0}:){2}(?::{0}){1,5}`,
		`(?:{0}:){3}(?::{0}){1,4}`,
		`(?:{0}:){4}(?::{0}){1,3}`,
		`(?:{0}:){5}(?::{0}){1,2}`,
		`(?:{0}:){6}(?::{0})`,
		`:(?::{0}){1,6}`,
		`{0}?::`,
		`(?:0:){6}(?:{0}\.){3}{0}`,
		`::(?:ffff:)?(?:{0}\.){3}{0}`,
		`(?:0:){5}ffff:(?:{0}\.){3}{0}`,
	}, "|")+`)$`, "{0}", ipv6Component))
	hostnameRe = regexp.MustCompile(`(?i)^` + label + `(?:\.` + label + `)*$`)
)

func validHostname(s string) bool {
	if !hostnameRe.MatchString(s) {
		return false
	}
	// no label may end with '_' or '-' (ranges hold no '.', so split is safe)
	for _, l := range strings.Split(s, ".") {
		if strings.HasSuffix(l, "_") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}

// parseAddress splits "host[:port]" like Ansible's parse_address; port is 0
// when none is given.
func parseAddress(address string, allowRanges bool) (string, int, error) {
	port := 0
	for _, re := range []*regexp.Regexp{bracketedHostport, hostportRe} {
		if m := re.FindStringSubmatch(address); m != nil {
			address = m[1]
			p, err := strconv.Atoi(m[2])
			if err != nil {
				return "", 0, fmt.Errorf("bad port in %q", address)
			}
			port = p
		}
	}
	if !ipv4Re.MatchString(address) && !ipv6Re.MatchString(address) && !validHostname(address) {
		return "", 0, fmt.Errorf("not a valid network hostname: %s", address)
	}
	if !allowRanges && strings.Contains(address, "[") {
		return "", 0, fmt.Errorf("detected range in host but was asked to ignore ranges")
	}
	return address, port, nil
}

// expandHostPattern is BaseInventoryPlugin._expand_hostpattern: it returns
// the host names a pattern like "web[01:03].example.com:2222" stands for and
// the port (0 for none).
func expandHostPattern(pattern string) ([]string, int, error) {
	host, port, err := parseAddress(pattern, true)
	if err != nil {
		host, port = pattern, 0
	}
	if !strings.Contains(host, "[") {
		return []string{host}, port, nil
	}
	hosts, err := expandHostnameRange(host)
	return hosts, port, err
}

const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func expandHostnameRange(line string) ([]string, error) {
	if line == "" {
		return nil, nil
	}
	// head[nrange]tail, replacing the first '[' and the first ']'.
	r := strings.Replace(strings.Replace(line, "[", "|", 1), "]", "|", 1)
	parts := strings.Split(r, "|")
	if len(parts) != 3 {
		return nil, fmt.Errorf("host range in %q must be written [begin:end] or [begin:end:step]", line)
	}
	head, nrange, tail := parts[0], parts[1], parts[2]
	bounds := strings.Split(nrange, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return nil, fmt.Errorf("host range must be begin:end or begin:end:step (in %q)", line)
	}
	beg, end := bounds[0], bounds[1]
	step := "1"
	if len(bounds) == 3 {
		step = bounds[2]
	}
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return nil, fmt.Errorf("host range must specify end value (in %q)", line)
	}
	fill := func(s string) string { return s }
	if beg[0] == '0' && len(beg) > 1 {
		rlen := len(beg)
		if rlen != len(end) {
			return nil, fmt.Errorf("host range must specify equal-length begin and end formats (in %q)", line)
		}
		fill = func(s string) string {
			if len(s) < rlen {
				s = strings.Repeat("0", rlen-len(s)) + s
			}
			return s
		}
	}
	st, err := strconv.Atoi(step)
	if err != nil || st == 0 {
		return nil, fmt.Errorf("invalid step %q in host range %q", step, line)
	}
	var seq []string
	ib, ie := -1, -1
	if len(beg) == 1 && len(end) == 1 {
		ib, ie = strings.IndexByte(asciiLetters, beg[0]), strings.IndexByte(asciiLetters, end[0])
	}
	if ib >= 0 && ie >= 0 {
		if ib > ie {
			return nil, fmt.Errorf("host range must have begin <= end (in %q)", line)
		}
		if st < 0 {
			return nil, fmt.Errorf("invalid step %q in host range %q", step, line)
		}
		for i := ib; i <= ie; i += st {
			seq = append(seq, string(asciiLetters[i]))
		}
	} else {
		b, err1 := strconv.Atoi(beg)
		e, err2 := strconv.Atoi(end)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("invalid host range %q", line)
		}
		if st > 0 {
			for i := b; i < e+1; i += st {
				seq = append(seq, strconv.Itoa(i))
			}
		} else {
			for i := b; i > e+1; i += st {
				seq = append(seq, strconv.Itoa(i))
			}
		}
	}
	out := []string{}
	for _, s := range seq {
		name := head + fill(s) + tail
		if strings.Contains(name, "[") {
			more, err := expandHostnameRange(name)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		} else {
			out = append(out, name)
		}
	}
	return out, nil
}

// shlexSplit is Python's shlex.split(line, comments=True) in POSIX mode.
func shlexSplit(line string) ([]string, error) {
	const (
		stWhite = iota
		stWord
		stQuote
		stEscape
	)
	var out []string
	var tok strings.Builder
	state := stWhite
	var quote rune
	escaped := stWhite // state to return to after an escape
	quoted := false
	emit := func() {
		if tok.Len() > 0 || quoted {
			out = append(out, tok.String())
		}
		tok.Reset()
		quoted = false
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch state {
		case stWhite, stWord:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
				if state == stWord {
					emit()
				}
				state = stWhite
			case c == '#':
				// a comment runs to the end of the line
				for i < len(rs) && rs[i] != '\n' {
					i++
				}
				if state == stWord {
					emit()
				}
				state = stWhite
			case c == '\\':
				escaped = stWord
				state = stEscape
			case c == '\'' || c == '"':
				quote = c
				quoted = true
				state = stQuote
			default:
				tok.WriteRune(c)
				state = stWord
			}
		case stQuote:
			switch {
			case c == quote:
				state = stWord
			case c == '\\' && quote == '"':
				escaped = stQuote
				state = stEscape
			default:
				tok.WriteRune(c)
			}
		case stEscape:
			if escaped == stQuote && c != quote && c != '\\' {
				tok.WriteRune('\\')
			}
			tok.WriteRune(c)
			state = escaped
		}
	}
	switch state {
	case stQuote:
		return nil, fmt.Errorf("no closing quotation")
	case stEscape:
		return nil, fmt.Errorf("no escaped character")
	case stWord:
		emit()
	}
	return out, nil
}
