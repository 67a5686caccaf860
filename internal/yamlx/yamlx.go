// Package yamlx owns tend's YAML reading rules: it decodes YAML the way
// Ansible's loader (PyYAML SafeLoader, YAML 1.1, plus Ansible's tags) does,
// into plain Go values — map[string]any, []any, string, int, float64, bool,
// nil — and reports every problem as "path:line:col: message".
//
// The rules, checked against ansible-core 2.14:
//   - plain scalars resolve as YAML 1.1: yes/no/on/off/true/false (any of the
//     PyYAML spellings) are bools, 0644 is the octal int 420, 0x1f and 0b101
//     are ints, 1_000 is 1000, 190:20:30 is sexagesimal, 1e3 is a string
//     (YAML 1.1 floats need a dot), ~/null/empty are nil;
//   - timestamps stay strings (PyYAML would make datetime objects);
//   - !unsafe yields the value itself (tend does not template-mark values);
//   - !vault and !vault-encrypted yield a Vault holding the ciphertext;
//   - << merge keys are flattened like PyYAML's flatten_mapping;
//   - a duplicate mapping key keeps the last value (Ansible warns; the
//     warning goes to Options.Warn);
//   - mapping keys that are not strings are turned into the text Python's
//     str() would print (1 → "1", true → "True", null → "None");
//   - a stream with more than one document is an error, as in Ansible.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Vault is a value tagged !vault in YAML: an inline ansible-vault ciphertext
// that is decrypted later, by whoever holds the vault password.
type Vault struct {
	Ciphertext string
}

// Error is a YAML problem at a position in a file. Column is 0 when the YAML
// parser reports only the line (syntax errors).
type Error struct {
	Path   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, "%d:", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Options tunes decoding.
type Options struct {
	// Warn receives what Ansible prints as a warning (duplicate keys).
	// nil drops warnings.
	Warn func(*Error)
}

// Decode parses one YAML document and returns its value (nil for an empty
// document).
func Decode(data []byte, path string) (any, error) {
	return DecodeWith(data, path, Options{})
}

// DecodeWith is Decode with options.
func DecodeWith(data []byte, path string, opts Options) (any, error) {
	n, err := Parse(data, path)
	if err != nil || n == nil {
		return nil, err
	}
	return NewDecoder(path, opts).Value(n)
}

// Parse parses one YAML document and returns its root node with positions
// (nil for an empty stream). Use a Decoder to turn nodes into values.
func Parse(data []byte, path string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if extra.Kind == yaml.DocumentNode && len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return nil, &Error{Path: path, Line: line, Msg: "expected a single document in the stream, but found another document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(path, err)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

var lineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(path string, err error) error {
	msg := err.Error()
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Path: path, Line: line, Msg: "YAML syntax error: " + m[2]}
	}
	return &Error{Path: path, Msg: "YAML syntax error: " + strings.TrimPrefix(msg, "yaml: ")}
}

// Decoder turns yaml.Nodes of one file into values, with errors naming the
// file and position.
type Decoder struct {
	Path   string
	opts   Options
	budget int
	// expanding holds the alias targets being expanded, so an anchor that
	// contains an alias to itself is an error, not endless recursion.
	expanding map[*yaml.Node]bool
}

// NewDecoder returns a Decoder for nodes parsed from path.
func NewDecoder(path string, opts Options) *Decoder {
	return &Decoder{Path: path, opts: opts, budget: 10_000_000}
}

// Errorf returns an *Error at the position of n.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) error {
	e := &Error{Path: d.Path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

func (d *Decoder) warnf(n *yaml.Node, format string, args ...any) {
	if d.opts.Warn != nil {
		d.opts.Warn(d.Errorf(n, format, args...).(*Error))
	}
}

// Resolve follows aliases and returns the node they point to.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return Resolve(n.Content[0])
	}
	return n
}

// Tag returns the explicit tag of n ("" when the node carries none).
func Tag(n *yaml.Node) string {
	if n.Style&yaml.TaggedStyle != 0 {
		return n.Tag
	}
	return ""
}

// Pair is one key/value of a mapping node.
type Pair struct {
	Key   *yaml.Node
	Value *yaml.Node
	// Name is the key as map[string]any would hold it.
	Name string
}

// Pairs returns the entries of a mapping node with merge keys flattened and
// duplicate keys collapsed (a later value replaces an earlier one but keeps
// its place, like a Python dict). n must be a mapping (after aliases).
func (d *Decoder) Pairs(n *yaml.Node) ([]Pair, error) {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, d.Errorf(n, "expected a mapping, found %s", KindName(n))
	}
	flat, err := d.flatten(n, 0)
	if err != nil {
		return nil, err
	}
	var out []Pair
	index := map[string]int{}
	for _, kv := range flat {
		key, err := d.Value(kv.k)
		if err != nil {
			return nil, err
		}
		switch key.(type) {
		case map[string]any, []any:
			return nil, d.Errorf(kv.k, "found unacceptable key (unhashable type: %s)", pyType(key))
		}
		name := KeyString(key)
		p := Pair{Key: Resolve(kv.k), Value: kv.v, Name: name}
		if i, ok := index[name]; ok {
			if !kv.merged {
				d.warnf(kv.k, "found a duplicate dict key (%s). Using last defined value only.", name)
			}
			out[i].Value = kv.v
			continue
		}
		index[name] = len(out)
		out = append(out, p)
	}
	return out, nil
}

// flatten returns [key, value, merged?] triples with << merges expanded
// first, as PyYAML's flatten_mapping does.
func (d *Decoder) flatten(n *yaml.Node, depth int) ([]entry, error) {
	if depth > 100 {
		return nil, d.Errorf(n, "merge keys nested too deeply")
	}
	var merge, own []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		rk := Resolve(k)
		if rk.Kind == yaml.ScalarNode && rk.Value == "<<" && isPlain(rk) {
			rv := Resolve(v)
			switch rv.Kind {
			case yaml.MappingNode:
				sub, err := d.flatten(rv, depth+1)
				if err != nil {
					return nil, err
				}
				merge = append(merge, markMerged(sub)...)
			case yaml.SequenceNode:
				var subs [][]entry
				for _, s := range rv.Content {
					rs := Resolve(s)
					if rs.Kind != yaml.MappingNode {
						return nil, d.Errorf(rs, "while constructing a mapping: expected a mapping for merging, but found %s", KindName(rs))
					}
					sub, err := d.flatten(rs, depth+1)
					if err != nil {
						return nil, err
					}
					subs = append(subs, sub)
				}
				for i := len(subs) - 1; i >= 0; i-- {
					merge = append(merge, markMerged(subs[i])...)
				}
			default:
				return nil, d.Errorf(rv, "while constructing a mapping: expected a mapping or list of mappings for merging, but found %s", KindName(rv))
			}
			continue
		}
		own = append(own, entry{k, v, false})
	}
	return append(merge, own...), nil
}

type entry struct {
	k, v   *yaml.Node
	merged bool
}

func markMerged(in []entry) []entry {
	out := make([]entry, len(in))
	for i, t := range in {
		out[i] = entry{t.k, t.v, true}
	}
	return out
}

func isPlain(n *yaml.Node) bool {
	return n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// KindName names a node's kind the way error messages should.
func KindName(n *yaml.Node) string {
	n = Resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "an unknown node"
}

// Value converts a node (and everything under it) to a Go value.
func (d *Decoder) Value(n *yaml.Node) (any, error) {
	d.budget--
	if d.budget < 0 {
		return nil, d.Errorf(n, "document is too large after expanding aliases")
	}
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.Value(n.Content[0])
	case yaml.AliasNode:
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		if d.expanding[n.Alias] {
			return nil, d.Errorf(n, "alias *%s refers to itself (recursive YAML anchor)", n.Value)
		}
		d.expanding[n.Alias] = true
		v, err := d.Value(n.Alias)
		delete(d.expanding, n.Alias)
		return v, err
	}
	switch tag := Tag(n); tag {
	case "!vault", "!vault-encrypted":
		if n.Kind != yaml.ScalarNode {
			return nil, d.Errorf(n, "%s must tag a string holding the vault ciphertext", tag)
		}
		return Vault{Ciphertext: n.Value}, nil
	case "!unsafe":
		c := *n
		c.Style &^= yaml.TaggedStyle
		c.Tag = ""
		if n.Kind == yaml.ScalarNode {
			return n.Value, nil
		}
		return d.Value(&c)
	}
	switch n.Kind {
	case yaml.MappingNode:
		if t := Tag(n); t != "" && t != "!!map" && t != "!!set" && t != "!!omap" {
			return nil, d.Errorf(n, "could not determine a constructor for the tag %s", t)
		}
		pairs, err := d.Pairs(n)
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(pairs))
		for _, p := range pairs {
			v, err := d.Value(p.Value)
			if err != nil {
				return nil, err
			}
			m[p.Name] = v
		}
		return m, nil
	case yaml.SequenceNode:
		if t := Tag(n); t != "" && t != "!!seq" && t != "!!omap" && t != "!!pairs" {
			return nil, d.Errorf(n, "could not determine a constructor for the tag %s", t)
		}
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.Value(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		return d.scalar(n)
	}
	return nil, d.Errorf(n, "unsupported YAML node")
}

func (d *Decoder) scalar(n *yaml.Node) (any, error) {
	tag := Tag(n)
	if tag == "" {
		if !isPlain(n) {
			return n.Value, nil
		}
		return ResolvePlain(n.Value), nil
	}
	switch tag {
	case "!!str", "!!binary", "!!timestamp":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		if b, ok := boolValues[n.Value]; ok {
			return b, nil
		}
	case "!!int":
		if v, ok := parseInt(n.Value); ok {
			return v, nil
		}
	case "!!float":
		if v, ok := parseFloat(n.Value); ok {
			return v, nil
		}
		if v, ok := parseInt(n.Value); ok {
			if i, isInt := v.(int); isInt {
				return float64(i), nil
			}
		}
	default:
		return nil, d.Errorf(n, "could not determine a constructor for the tag %s", tag)
	}
	return nil, d.Errorf(n, "cannot read %q as %s", n.Value, tag)
}

var (
	intRe      = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	floatRe    = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	nullValues = map[string]bool{"": true, "~": true, "null": true, "Null": true, "NULL": true}
	boolValues = map[string]bool{
		"yes": true, "Yes": true, "YES": true, "no": false, "No": false, "NO": false,
		"true": true, "True": true, "TRUE": true, "false": false, "False": false, "FALSE": false,
		"on": true, "On": true, "ON": true, "off": false, "Off": false, "OFF": false,
	}
)

// ResolvePlain gives an untagged plain scalar its YAML 1.1 value, as
// PyYAML's resolver does.
func ResolvePlain(s string) any {
	if nullValues[s] {
		return nil
	}
	if b, ok := boolValues[s]; ok {
		return b
	}
	if intRe.MatchString(s) {
		if v, ok := parseInt(s); ok {
			return v
		}
	}
	if floatRe.MatchString(s) {
		if v, ok := parseFloat(s); ok {
			return v
		}
	}
	return s
}

// parseInt follows PyYAML's construct_yaml_int. Values beyond int64 stay
// strings (Python would keep a big int).
func parseInt(s string) (any, bool) {
	v := strings.ReplaceAll(s, "_", "")
	if v == "" {
		return nil, false
	}
	sign := int64(1)
	if v[0] == '-' {
		sign = -1
	}
	if v[0] == '+' || v[0] == '-' {
		v = v[1:]
	}
	var n int64
	var err error
	switch {
	case v == "0":
		return 0, true
	case strings.HasPrefix(v, "0b"):
		n, err = strconv.ParseInt(v[2:], 2, 64)
	case strings.HasPrefix(v, "0x"):
		n, err = strconv.ParseInt(v[2:], 16, 64)
	case strings.HasPrefix(v, "0"):
		n, err = strconv.ParseInt(v, 8, 64)
	case strings.Contains(v, ":"):
		base := int64(1)
		parts := strings.Split(v, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			p, perr := strconv.ParseInt(parts[i], 10, 64)
			if perr != nil {
				return nil, false
			}
			n += p * base
			base *= 60
		}
	default:
		n, err = strconv.ParseInt(v, 10, 64)
	}
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return s, true
		}
		return nil, false
	}
	return int(sign * n), true
}

func parseFloat(s string) (float64, bool) {
	v := strings.ToLower(strings.ReplaceAll(s, "_", ""))
	if v == "" {
		return 0, false
	}
	sign := 1.0
	if v[0] == '-' {
		sign = -1
	}
	if v[0] == '+' || v[0] == '-' {
		v = v[1:]
	}
	switch {
	case v == ".inf":
		return sign * math.Inf(1), true
	case v == ".nan":
		return math.NaN(), true
	case strings.Contains(v, ":"):
		base, total := 1.0, 0.0
		parts := strings.Split(v, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			p, err := strconv.ParseFloat(parts[i], 64)
			if err != nil {
				return 0, false
			}
			total += p * base
			base *= 60
		}
		return sign * total, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return sign * f, true
}

// KeyString is how a decoded mapping key is spelled in map[string]any:
// strings as they are, other scalars as Python's str() prints them.
func KeyString(k any) string {
	switch v := k.(type) {
	case string:
		return v
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case float64:
		return PyFloat(v)
	case Vault:
		return v.Ciphertext
	}
	return fmt.Sprint(k)
}

// PyFloat formats f as Python's repr(float) does.
func PyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		s = strconv.FormatFloat(f, 'e', -1, 64)
		// Python writes 1e+16, Go 1e+16: same; Python pads exponent to 2 digits.
		if i := strings.IndexAny(s, "e"); i >= 0 {
			mant, exp := s[:i], s[i+1:]
			sign := exp[0]
			digits := exp[1:]
			if len(digits) < 2 {
				digits = "0" + digits
			}
			s = mant + "e" + string(sign) + digits
		}
		return s
	}
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func pyType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "dict"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
