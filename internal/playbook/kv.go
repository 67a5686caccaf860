package playbook

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// commandKeys are the k=v words command-like modules take out of their
// free-form text; any other k=v stays part of the command, as in Ansible.
var commandKeys = map[string]bool{"creates": true, "removes": true, "chdir": true, "executable": true,
	"warn": true, "stdin": true, "stdin_add_newline": true, "strip_empty_ends": true}

// freeFormKeys returns, for a command-like action, the keys it takes from
// k=v text (nil means every k=v word is an argument).
func freeFormKeys(action string) map[string]bool {
	short := action[strings.LastIndex(action, ".")+1:]
	switch short {
	case "command", "shell", "raw", "script", "win_command", "win_shell":
		return commandKeys
	}
	return nil
}

var kvKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseKV parses Ansible's `k=v k2="v 2"` argument strings. Words that are
// not k=v (and, for command-like actions, k=v words with other keys) are
// joined into "_raw_params".
func ParseKV(s string, onlyKeys map[string]bool) (map[string]any, error) {
	out := map[string]any{}
	spans, err := splitSpans(s)
	if err != nil {
		return nil, err
	}
	// The raw text keeps its original spacing and newlines (a multi-line
	// shell script must reach the shell intact); k=v words are cut out.
	var raw strings.Builder
	last := -1
	for _, sp := range spans {
		w := s[sp[0]:sp[1]]
		k, v, ok := strings.Cut(decodeEscapes(w), "=")
		if ok && kvKeyRe.MatchString(k) && (onlyKeys == nil || onlyKeys[k]) {
			out[k] = unquote(v)
			continue
		}
		if last >= 0 {
			gap := s[last:sp[0]]
			if strings.TrimSpace(gap) == "" && gap != "" && raw.Len() > 0 {
				raw.WriteString(gap)
			} else if raw.Len() > 0 {
				raw.WriteString(" ")
			}
		}
		raw.WriteString(w)
		last = sp[1]
	}
	if raw.Len() > 0 {
		out["_raw_params"] = raw.String()
	}
	return out, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		inner := s[1 : len(s)-1]
		if s[0] == '"' {
			inner = strings.ReplaceAll(inner, `\"`, `"`)
		} else {
			inner = strings.ReplaceAll(inner, `\'`, `'`)
		}
		return inner
	}
	return s
}

// SplitArgs splits on whitespace, keeping quoted strings and Jinja2
// {{ }}, {% %} and {# #} blocks together, as Ansible's split_args does.
func SplitArgs(s string) ([]string, error) {
	spans, err := splitSpans(s)
	if err != nil {
		return nil, err
	}
	words := make([]string, len(spans))
	for i, sp := range spans {
		words[i] = s[sp[0]:sp[1]]
	}
	return words, nil
}

// splitSpans returns the [start, end) offsets of SplitArgs' words.
func splitSpans(s string) ([][2]int, error) {
	var words [][2]int
	var quote byte
	depth := 0 // inside jinja blocks
	started := false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote == 0 && depth == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if started {
				words = append(words, [2]int{start, i})
				started = false
			}
			continue
		}
		if !started {
			start = i
		}
		started = true
		if depth == 0 && quote == 0 && (c == '"' || c == '\'') {
			quote = c
		} else if quote == c && (i == 0 || s[i-1] != '\\') {
			quote = 0
		} else if i+1 < len(s) && c == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			depth++
			i++
			continue
		} else if depth > 0 && i+1 < len(s) && (c == '}' || c == '%' || c == '#') && s[i+1] == '}' {
			depth--
			i++
			continue
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unbalanced quotes in %q", s)
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced jinja2 block in %q", s)
	}
	if started {
		words = append(words, [2]int{start, len(s)})
	}
	return words, nil
}

var escapeRe = regexp.MustCompile(`\\U[0-9a-fA-F]{8}|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\\[0-7]{1,3}|\\[\\'"abfnrtv]`)

// decodeEscapes decodes Python escape sequences (\n, \t, \x41, \u00e9, ...)
// in a k=v word, as Ansible's parse_kv does before splitting at "=".
func decodeEscapes(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	return escapeRe.ReplaceAllStringFunc(s, func(m string) string {
		switch m[1] {
		case 'U', 'u', 'x':
			n, err := strconv.ParseUint(m[2:], 16, 32)
			if err != nil {
				return m
			}
			return string(rune(n))
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, err := strconv.ParseUint(m[1:], 8, 32)
			if err != nil {
				return m
			}
			return string(rune(n))
		}
		return map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'a': "\a", 'b': "\b", 'f': "\f",
			'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}[m[1]]
	})
}
