// Package pyre compiles the Python regular expressions Ansible's modules and
// filters take (lineinfile's regexp, replace, regex_replace, ...) and expands
// Python's replacement templates.
//
// A pattern runs on Go's regexp (RE2: linear time) when RE2 can run it. The
// Python features RE2 lacks (lookahead and lookbehind, backreferences such
// as \1 and (?P=name) inside the pattern, atomic groups, verbose mode) run on
// github.com/dlclark/regexp2, a backtracking engine, in its RE2 mode with
// Python's group numbering. Like Python's re, that engine has no time limit:
// a pattern that backtracks catastrophically is slow in both.
package pyre

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	regexp2 "github.com/dlclark/regexp2/v2"
	"github.com/dlclark/regexp2/v2/compat"
)

// Regexp is a compiled pattern. Its Find and Match methods are those of
// Go's regexp.Regexp, with byte offsets.
type Regexp struct {
	compat.Matcher
	source string   // the pattern as compiled, flags included
	names  []string // names[i] is group i's name, "" when unnamed
}

// Compile compiles a Python re pattern; flags are Python's inline flags
// ("i", "m", "s", "x") applied to the whole pattern.
func Compile(pattern, flags string) (*Regexp, error) {
	// Python's \Z is the very end of the text; RE2's and .NET's \Z also
	// match before a final newline, so it becomes \z (which Python lacks)
	p := strings.ReplaceAll(pattern, `\Z`, `\z`)
	if flags != "" {
		p = "(?" + flags + ")" + p
	}
	if re, err := regexp.Compile(p); err == nil {
		return &Regexp{Matcher: re, source: p, names: re.SubexpNames()}, nil
	}
	bt, err := regexp2.Compile(p, regexp2.RE2, regexp2.OptionMaintainCaptureOrder(),
		regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", pattern, err)
	}
	nums := bt.GetGroupNumbers()
	top := 0
	for _, n := range nums {
		top = max(top, n)
	}
	names := make([]string, top+1)
	for _, n := range nums {
		if name := bt.GroupNameFromNumber(n); name != strconv.Itoa(n) {
			names[n] = name
		}
	}
	return &Regexp{Matcher: compat.Wrap(bt), source: p, names: names}, nil
}

// MustCompile is Compile for patterns known to be valid.
func MustCompile(pattern, flags string) *Regexp {
	re, err := Compile(pattern, flags)
	if err != nil {
		panic(err)
	}
	return re
}

// String is the pattern as compiled, with the flags as an inline group.
func (re *Regexp) String() string { return re.source }

// NumSubexp is the number of capturing groups.
func (re *Regexp) NumSubexp() int { return len(re.names) - 1 }

// SubexpNames are the names of the groups, by number ("" for group 0 and
// unnamed groups), as regexp.Regexp's.
func (re *Regexp) SubexpNames() []string { return re.names }

// SubexpIndex is the number of the group called name, -1 when none is.
func (re *Regexp) SubexpIndex(name string) int {
	if name == "" {
		return -1
	}
	for i, n := range re.names {
		if n == name {
			return i
		}
	}
	return -1
}

// Expand is Python's Match.expand: tmpl with \1, \g<1>, \g<name> replaced
// by the groups of match m (from a Find...SubmatchIndex call on src) and
// the escapes \n, \t, ... replaced by their characters.
func (re *Regexp) Expand(tmpl, src string, m []int) (string, error) {
	var b strings.Builder
	group := func(ref string) error {
		idx, err := strconv.Atoi(ref)
		if err != nil {
			if idx = re.SubexpIndex(ref); idx < 0 {
				return fmt.Errorf("unknown group name %q in replacement %q", ref, tmpl)
			}
		}
		if idx < 0 || idx > re.NumSubexp() {
			return fmt.Errorf("invalid group reference %s in replacement %q", ref, tmpl)
		}
		if m[2*idx] >= 0 { // a group that did not take part is empty
			b.WriteString(src[m[2*idx]:m[2*idx+1]])
		}
		return nil
	}
	isOct := func(c byte) bool { return c >= '0' && c <= '7' }
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '\\' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		switch d := tmpl[i]; {
		case d == '0' || d <= '7' && d >= '1' && i+2 < len(tmpl) && isOct(tmpl[i+1]) && isOct(tmpl[i+2]):
			// an octal escape: \0, \01, \012, or three octal digits
			j := i + 1
			for j < len(tmpl) && j < i+3 && isOct(tmpl[j]) {
				j++
			}
			n, _ := strconv.ParseUint(tmpl[i:j], 8, 8)
			b.WriteByte(byte(n))
			i = j - 1
		case d >= '1' && d <= '9':
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
		case strings.IndexByte(`abfnrtv\`, d) >= 0:
			b.WriteByte(map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}[d])
		case d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z':
			return "", fmt.Errorf(`bad escape \%c in replacement %q`, d, tmpl)
		default:
			b.WriteByte('\\')
			b.WriteByte(d)
		}
	}
	return b.String(), nil
}

// Sub is Python's re.subn: the first count non-overlapping matches in src
// (all when count <= 0) replaced by tmpl expanded for each, and how many.
func (re *Regexp) Sub(tmpl, src string, count int) (string, int, error) {
	n := -1
	if count > 0 {
		n = count
	}
	matches := re.FindAllStringSubmatchIndex(src, n)
	if len(matches) == 0 {
		return src, 0, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		r, err := re.Expand(tmpl, src, m)
		if err != nil {
			return "", 0, err
		}
		b.WriteString(src[last:m[0]])
		b.WriteString(r)
		last = m[1]
	}
	b.WriteString(src[last:])
	return b.String(), len(matches), nil
}
