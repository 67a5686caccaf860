package module

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Args are a task's arguments after templating and validation against the
// module's Spec: every known parameter is present with its declared type (or
// absent when it has no default and was not given).
type Args map[string]any

// Has reports whether the argument was given or has a default.
func (a Args) Has(name string) bool { _, ok := a[name]; return ok && a[name] != nil }

// String returns a str/path argument ("" when absent).
func (a Args) String(name string) string { s, _ := a[name].(string); return s }

// Bool returns a bool argument (false when absent).
func (a Args) Bool(name string) bool { b, _ := a[name].(bool); return b }

// Int returns an int argument (0 when absent).
func (a Args) Int(name string) int { i, _ := a[name].(int); return i }

// List returns a list argument (nil when absent).
func (a Args) List(name string) []any { l, _ := a[name].([]any); return l }

// Strings returns a list argument as strings.
func (a Args) Strings(name string) []string {
	var out []string
	for _, v := range a.List(name) {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// Dict returns a dict argument (nil when absent).
func (a Args) Dict(name string) map[string]any { d, _ := a[name].(map[string]any); return d }

// UnknownKeys returns the keys not in spec (checked statically, before any
// task runs), each with a did-you-mean hint when one is close.
func (s Spec) UnknownKeys(keys []string) []string {
	var bad []string
	for _, k := range keys {
		if strings.HasPrefix(k, "_") {
			continue // _raw_params and friends
		}
		if _, ok := s.Canonical(k); !ok {
			msg := fmt.Sprintf("unsupported parameter %q", k)
			if near := Nearest(k, s.Names()); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			bad = append(bad, msg)
		}
	}
	sort.Strings(bad)
	return bad
}

// MissingKeys returns required parameters not among keys.
func (s Spec) MissingKeys(keys []string) []string {
	have := map[string]bool{}
	for _, k := range keys {
		if c, ok := s.Canonical(k); ok {
			have[c] = true
		}
	}
	var miss []string
	for name, p := range s {
		if p.Required && !have[name] {
			miss = append(miss, name)
		}
	}
	sort.Strings(miss)
	return miss
}

// Validate converts raw (templated) arguments to Args: aliases are resolved,
// values converted to their declared types as Ansible does ("yes" is a bool,
// "8" an int), choices checked and defaults filled in. The error names the
// argument.
func (s Spec) Validate(raw map[string]any) (Args, error) {
	out := Args{}
	if bad := s.UnknownKeys(keys(raw)); len(bad) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	for k, v := range raw {
		if strings.HasPrefix(k, "_") {
			out[k] = v
			continue
		}
		name, _ := s.Canonical(k)
		if _, dup := out[name]; dup && name != k {
			return nil, fmt.Errorf("parameters are mutually exclusive: %s and its alias %s", name, k)
		}
		p := s[name]
		if v == nil {
			continue
		}
		cv, err := Convert(v, p.Type, p.Elements)
		if err != nil {
			return nil, fmt.Errorf("argument %q is of type %T and we were unable to convert to %s: %v", name, v, p.Type, err)
		}
		if len(p.Choices) > 0 {
			if err := checkChoice(name, cv, p.Choices); err != nil {
				return nil, err
			}
		}
		out[name] = cv
	}
	if miss := s.MissingKeys(keys(out)); len(miss) > 0 {
		return nil, fmt.Errorf("missing required arguments: %s", strings.Join(miss, ", "))
	}
	for name, p := range s {
		if _, ok := out[name]; !ok && p.Default != nil {
			out[name] = p.Default
		}
	}
	return out, nil
}

func checkChoice(name string, v any, choices []string) error {
	vals := []any{v}
	if l, ok := v.([]any); ok {
		vals = l
	}
	for _, x := range vals {
		s := fmt.Sprint(x)
		if b, ok := x.(bool); ok {
			s = map[bool]string{true: "yes", false: "no"}[b]
		}
		found := false
		for _, c := range choices {
			if c == s || (c == "true" && s == "yes") || (c == "false" && s == "no") {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("value of %s must be one of: %s, got: %v", name, strings.Join(choices, ", "), x)
		}
	}
	return nil
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// Convert converts v to t the way Ansible's argument spec does.
func Convert(v any, t Type, elem Type) (any, error) {
	switch t {
	case TypeRaw:
		return v, nil
	case TypeStr, TypePath:
		switch x := v.(type) {
		case string:
			return x, nil
		case bool:
			return map[bool]string{true: "True", false: "False"}[x], nil
		case int, int64, float64:
			return fmt.Sprint(x), nil
		}
		return nil, fmt.Errorf("not a string")
	case TypeMode:
		switch x := v.(type) {
		case string:
			return x, nil
		case int:
			return x, nil
		}
		return nil, fmt.Errorf("not a mode")
	case TypeBool:
		return ToBool(v)
	case TypeInt:
		switch x := v.(type) {
		case int:
			return x, nil
		case int64:
			return int(x), nil
		case float64:
			if x == math.Trunc(x) {
				return int(x), nil
			}
		case string:
			return strconv.Atoi(strings.TrimSpace(x))
		}
		return nil, fmt.Errorf("not an int")
	case TypeFloat:
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			return strconv.ParseFloat(strings.TrimSpace(x), 64)
		}
		return nil, fmt.Errorf("not a float")
	case TypeList:
		var l []any
		switch x := v.(type) {
		case []any:
			l = x
		case []string:
			for _, s := range x {
				l = append(l, s)
			}
		case string:
			if x == "" {
				return []any{}, nil
			}
			for _, s := range strings.Split(x, ",") {
				l = append(l, strings.TrimSpace(s))
			}
		case int, float64, bool:
			l = []any{fmt.Sprint(x)}
		default:
			return nil, fmt.Errorf("not a list")
		}
		if elem == TypeRaw || elem == TypeList && false {
			return l, nil
		}
		out := make([]any, 0, len(l))
		for _, e := range l {
			c, err := Convert(e, elem, TypeRaw)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	case TypeDict:
		switch x := v.(type) {
		case map[string]any:
			return x, nil
		case interface{ ToGo() map[string]any }: // an ordered dict from YAML, not yet templated
			return x.ToGo(), nil
		case string:
			// k=v,k2=v2 form
			d := map[string]any{}
			for _, kv := range strings.Split(x, ",") {
				k, val, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("not a dict")
				}
				d[strings.TrimSpace(k)] = strings.TrimSpace(val)
			}
			return d, nil
		}
		return nil, fmt.Errorf("not a dict")
	}
	return nil, fmt.Errorf("unknown type")
}

// ToBool converts the way Ansible's boolean() does: yes/no, on/off, true/false,
// 1/0, y/n, t/f (any case).
func ToBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "yes", "on", "1", "true", "y", "t", "1.0":
			return true, nil
		case "no", "off", "0", "false", "n", "f", "0.0", "":
			return false, nil
		}
	}
	return false, fmt.Errorf("%v is not a valid boolean", v)
}

// Nearest returns the candidate closest to s by edit distance, if close.
func Nearest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
