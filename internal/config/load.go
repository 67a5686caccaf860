package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the config file at path over Defaults(), resolves relative
// paths against the file's directory and validates the result. Every problem
// found is reported at once (errors.Join of *Error values), each naming the
// key and the file:line:col of its value.
func Load(path string) (*Config, error) {
	c, err := Read(path)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Read is Load without Validate, for callers that lay flags over the file
// before validating: c, err := Read(p); c.Source.Ref = flagRef; err = c.Validate().
func Read(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	return c, nil
}

// Parse decodes config bytes over Defaults() without validating them or
// touching the filesystem. name is used in error positions.
func Parse(name string, data []byte) (*Config, error) {
	c := Defaults()
	c.path = name
	c.pos = map[string]string{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return c, nil // empty file: defaults
	}
	d := decoder{name: name, pos: c.pos}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return c, nil
}

// decoder walks a yaml.Node tree into a struct by its yaml tags. It replaces
// yaml's KnownFields mode to give every error a key path, a position and a
// did-you-mean hint, and to parse durations, byte sizes and windows.
type decoder struct {
	name string
	pos  map[string]string
	errs []error
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	windowType   = reflect.TypeFor[Window]()
)

func (d *decoder) at(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", d.name, n.Line, n.Column)
}

func (d *decoder) fail(n *yaml.Node, key, format string, a ...any) {
	d.errs = append(d.errs, &Error{Pos: d.at(n), Key: key, Msg: fmt.Sprintf(format, a...)})
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// decode stores node n into v (a settable struct value) under key path prefix.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, prefix string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := "the top level"
		if prefix != "" {
			what = prefix
		}
		d.fail(n, prefix, "%s must be a mapping of keys, got %s", what, kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if tag := yamlName(t.Field(i)); tag != "" {
			fields[tag] = i
			names = append(names, tag)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(prefix, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if prefix != "" {
				msg += " in " + prefix
			}
			if s := suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs = append(d.errs, &Error{Pos: d.at(k), Msg: msg})
			continue
		}
		if seen[k.Value] {
			d.fail(k, key, "key given twice")
			continue
		}
		seen[k.Value] = true
		d.pos[key] = d.at(val)
		d.field(val, v.Field(idx), t.Field(idx), key)
	}
}

func (d *decoder) field(n *yaml.Node, v reflect.Value, f reflect.StructField, key string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // keep the default, as yaml does
	}
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "want a duration like \"5m\", got %s", kindName(n))
			return
		}
		dur, err := ParseDuration(n.Value)
		if err != nil {
			d.fail(n, key, "%v", err)
			return
		}
		v.SetInt(int64(dur))
	case f.Tag.Get("tend") == "bytes":
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "want a size like \"64MiB\", got %s", kindName(n))
			return
		}
		b, err := ParseBytes(n.Value)
		if err != nil {
			d.fail(n, key, "%v", err)
			return
		}
		v.SetInt(b)
	case v.Kind() == reflect.Struct:
		d.decode(n, v, key)
	case v.Kind() == reflect.Slice && v.Type().Elem() == windowType:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, key, "want a list of windows like [\"Mon-Fri 09:00-17:00 UTC\"], got %s", kindName(n))
			return
		}
		ws := make([]Window, 0, len(n.Content))
		for i, item := range n.Content {
			ikey := fmt.Sprintf("%s[%d]", key, i)
			if item.Kind != yaml.ScalarNode {
				d.fail(item, ikey, "want a window string, got %s", kindName(item))
				continue
			}
			w, err := ParseWindow(item.Value)
			if err != nil {
				d.fail(item, ikey, "%v", err)
				continue
			}
			ws = append(ws, w)
		}
		v.Set(reflect.ValueOf(ws))
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "want a %s, got %s", typeName(v.Kind()), kindName(n))
			return
		}
		if err := setScalar(n, v); err != nil {
			d.fail(n, key, "%v", err)
		}
	}
}

func setScalar(n *yaml.Node, v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			// booleans and the like are almost always a mistake for a string key
			return fmt.Errorf("want a string, got %s %q (quote it if you mean the text)", strings.TrimPrefix(n.Tag, "!!"), n.Value)
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if err := n.Decode(&b); err != nil || n.Tag != "!!bool" {
			return fmt.Errorf("want true or false, got %q", n.Value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || n.Tag != "!!int" {
			return fmt.Errorf("want a whole number, got %q", n.Value)
		}
		v.SetInt(i)
	default:
		return fmt.Errorf("internal: unsupported field kind %s", v.Kind())
	}
	return nil
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "" || tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	return name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func typeName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "whole number"
	default:
		return "string"
	}
}

// suggest returns the candidate closest to s, if it is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(s), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(2, len(s)/3)
	if bestD >= 0 && bestD <= limit {
		return best
	}
	// "sshkey" vs "ssh_key", "allowforcepush": compare without separators
	flat := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	for _, c := range candidates {
		if strings.ReplaceAll(c, "_", "") == flat {
			return c
		}
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// resolvePaths makes the file paths tagged tend:"file" absolute against base.
func (c *Config) resolvePaths(base string) {
	abs, err := filepath.Abs(base)
	if err == nil {
		base = abs
	}
	resolve(reflect.ValueOf(c).Elem(), base)
}

func resolve(v reflect.Value, base string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.Struct:
			resolve(fv, base)
		case f.Tag.Get("tend") == "file" && fv.Kind() == reflect.String:
			if p := fv.String(); p != "" && !filepath.IsAbs(p) {
				fv.SetString(filepath.Join(base, p))
			}
		}
	}
}

// ParseDuration reads a duration as Go and Ansible users write them: "30s",
// "5m", "1h30m", "7d" (days), "2d12h", or a plain integer meaning seconds.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	var days time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		n, err := strconv.ParseInt(t[:i], 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		t = t[i+1:]
		if t == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return days + d, nil
}

// FormatDuration writes d the short way: "5m", "1h30m", "0s", "720h".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"tb", 1000 * 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
}

// ParseBytes reads a size: a plain number of bytes, or with a unit as in
// "64MiB", "10MB", "1G" (single letters are binary, as in ls -h).
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n < 0 || n > (1<<63-1)/u.mult {
				break
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB, GiB, KB, MB, GB)", s)
}

// FormatBytes writes n with the largest binary unit that divides it exactly.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
