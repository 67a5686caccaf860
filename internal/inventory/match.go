package inventory

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Host patterns, after ansible/inventory/manager.py.

var (
	patternWithSubscript = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$`)
	patternSplit         = regexp.MustCompile(`(?:[^\s:\[\]]|\[[^\]]*\])+`)
)

// SplitPattern splits "a,b" or "a:b:&c:!d" into single patterns, as
// split_host_pattern does (a ':' is a separator only when the whole text is
// not a host, IPv6 address or range).
func SplitPattern(pattern string) []string {
	var parts []string
	if strings.Contains(pattern, ",") {
		parts = strings.Split(pattern, ",")
	} else if _, _, err := parseAddress(pattern, true); err == nil {
		parts = []string{pattern}
	} else {
		parts = patternSplit.FindAllString(pattern, -1)
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Match returns the hosts a pattern selects ("all", "web*", "a:&b:!c",
// "~re", "group[0:2]", ...), in inventory order, without duplicates. A
// pattern that matches nothing is not an error (Ansible warns; the warning
// goes to Options.Warn).
func (inv *Inventory) Match(pattern string) ([]string, error) {
	hosts, err := inv.evaluate(SplitPattern(pattern))
	if err != nil {
		return nil, err
	}
	return hostNames(dedup(hosts)), nil
}

// Limit keeps the hosts of list that the --limit pattern selects; "@file"
// parts read one pattern per line from file.
func (inv *Inventory) Limit(list []string, limit string) ([]string, error) {
	var subset []string
	for _, p := range SplitPattern(limit) {
		if strings.HasPrefix(p, "@") {
			file := p[1:]
			st, err := os.Stat(file)
			if err != nil {
				return nil, fmt.Errorf("unable to find limit file %s", file)
			}
			if st.IsDir() {
				return nil, fmt.Errorf("limit starting with \"@\" must be a file, not a directory: %s", file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("read limit file: %w", err)
			}
			for _, l := range strings.Split(string(data), "\n") {
				subset = append(subset, strings.TrimSpace(l))
			}
			continue
		}
		subset = append(subset, p)
	}
	allowed, err := inv.evaluate(subset)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, h := range allowed {
		keep[h.name] = true
	}
	out := []string{}
	for _, name := range list {
		if keep[name] {
			out = append(out, name)
		}
	}
	return out, nil
}

func hostNames(hs []*host) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.name)
	}
	return out
}

func dedup(hs []*host) []*host {
	seen := map[*host]bool{}
	var out []*host
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// evaluate is _evaluate_patterns: plain patterns first (union), then &
// (intersection), then ! (exclusion).
func (inv *Inventory) evaluate(patterns []string) ([]*host, error) {
	var regular, inter, excl []string
	for _, p := range patterns {
		switch {
		case p == "":
		case p[0] == '!':
			excl = append(excl, p)
		case p[0] == '&':
			inter = append(inter, p)
		default:
			regular = append(regular, p)
		}
	}
	if len(regular) == 0 {
		regular = []string{"all"}
	}
	var hosts []*host
	for _, p := range append(append(regular, inter...), excl...) {
		if h, ok := inv.hostIndex[p]; ok {
			hosts = append(hosts, h)
			continue
		}
		that, err := inv.matchOne(p)
		if err != nil {
			return nil, err
		}
		set := map[*host]bool{}
		for _, h := range that {
			set[h] = true
		}
		switch p[0] {
		case '!':
			hosts = filterHosts(hosts, func(h *host) bool { return !set[h] })
		case '&':
			hosts = filterHosts(hosts, func(h *host) bool { return set[h] })
		default:
			existing := map[string]bool{}
			for _, h := range hosts {
				existing[h.name] = true
			}
			for _, h := range that {
				if !existing[h.name] {
					hosts = append(hosts, h)
				}
			}
		}
	}
	return hosts, nil
}

func filterHosts(hs []*host, keep func(*host) bool) []*host {
	var out []*host
	for _, h := range hs {
		if keep(h) {
			out = append(out, h)
		}
	}
	return out
}

// matchOne is _match_one_pattern: one pattern without its &/! prefix,
// with an optional [i] or [i:j] subscript.
func (inv *Inventory) matchOne(pattern string) ([]*host, error) {
	if pattern[0] == '&' || pattern[0] == '!' {
		pattern = pattern[1:]
	}
	expr := pattern
	var start, end int
	hasSub, single := false, false
	if pattern != "" && pattern[0] != '~' {
		if m := patternWithSubscript.FindStringSubmatch(pattern); m != nil {
			expr, hasSub = m[1], true
			if m[2] != "" {
				start, _ = strconv.Atoi(m[2])
				single = true
			} else {
				start, _ = strconv.Atoi(m[3])
				end = -1
				if m[5] != "" {
					end, _ = strconv.Atoi(m[5])
				}
				if m[4] == "-" {
					inv.warn("Use [x:y] inclusive subscripts instead of [x-y] which has been removed")
				}
			}
		}
	}
	hosts, err := inv.enumerate(expr)
	if err != nil {
		return nil, err
	}
	if !hasSub || len(hosts) == 0 {
		return hosts, nil
	}
	if single || end == 0 {
		i := start
		if i < 0 {
			i += len(hosts)
		}
		if i < 0 || i >= len(hosts) {
			return nil, fmt.Errorf("no hosts matched the subscripted pattern '%s'", pattern)
		}
		return []*host{hosts[i]}, nil
	}
	if end == -1 {
		end = len(hosts) - 1
	}
	return pySlice(hosts, start, end+1), nil
}

func pySlice(hs []*host, a, b int) []*host {
	n := len(hs)
	clamp := func(i int) int {
		if i < 0 {
			i += n
			if i < 0 {
				i = 0
			}
		}
		if i > n {
			i = n
		}
		return i
	}
	a, b = clamp(a), clamp(b)
	if a >= b {
		return nil
	}
	return hs[a:b]
}

// enumerate is _enumerate_matches: groups whose name matches contribute
// all their hosts; hosts are matched by name when no group matched or the
// pattern is a glob or regex.
func (inv *Inventory) enumerate(pattern string) ([]*host, error) {
	re, err := compilePattern(pattern)
	if err != nil {
		return nil, err
	}
	var results []*host
	matchedGroup := false
	for _, g := range inv.groups {
		if re.MatchString(g.name) {
			matchedGroup = true
			results = append(results, g.allHosts(g.name == "all")...)
		}
	}
	if !matchedGroup || pattern[0] == '~' || strings.ContainsAny(pattern, ".?*[") {
		for _, h := range inv.hosts {
			if re.MatchString(h.name) {
				results = append(results, h)
			}
		}
	}
	if len(results) == 0 && isLocalhost(pattern) {
		results = append(results, inv.lookup(pattern))
	}
	if len(results) == 0 && !matchedGroup && pattern != "all" {
		inv.warn("Could not match supplied host pattern, ignoring: %s", pattern)
	}
	return results, nil
}

// compilePattern turns a host pattern into a regexp anchored like Python's
// re.match: a ~regex as written, otherwise a shell glob (fnmatch).
func compilePattern(p string) (*regexp.Regexp, error) {
	var src string
	if strings.HasPrefix(p, "~") {
		src = `^(?:` + p[1:] + `)`
	} else {
		src = `^(?s:` + fnmatchTranslate(p) + `)$`
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("invalid host list pattern %s: %v", p, err)
	}
	return re, nil
}

// fnmatchTranslate is Python's fnmatch.translate without the anchors.
func fnmatchTranslate(pat string) string {
	var b strings.Builder
	rs := []rune(pat)
	n := len(rs)
	for i := 0; i < n; {
		c := rs[i]
		i++
		switch c {
		case '*':
			for i < n && rs[i] == '*' {
				i++
			}
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i
			if j < n && rs[j] == '!' {
				j++
			}
			if j < n && rs[j] == ']' {
				j++
			}
			for j < n && rs[j] != ']' {
				j++
			}
			if j >= n {
				b.WriteString(`\[`)
				continue
			}
			stuff := rs[i:j]
			i = j + 1
			var cls strings.Builder
			for k, r := range stuff {
				switch {
				case k == 0 && r == '!':
					cls.WriteRune('^')
				case k == 0 && r == '^':
					cls.WriteString(`\^`)
				case r == '\\' || r == '[' || r == ']' || r == '&' || r == '~' || r == '|':
					cls.WriteRune('\\')
					cls.WriteRune(r)
				default:
					cls.WriteRune(r)
				}
			}
			if string(stuff) == "!" {
				b.WriteString(".")
				continue
			}
			b.WriteString("[" + cls.String() + "]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}
