package playbook

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Vault is an inline `!vault` value, decrypted by the engine when used.
type Vault struct{ Ciphertext string }

// parseYAMLFile reads and parses a YAML file into its document node.
func parseYAMLFile(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseYAML(data, path)
}

var yamlLineRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func parseYAML(data []byte, path string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		line, col := 0, 1
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			if m[1] != "" {
				line, _ = strconv.Atoi(m[1])
			}
			msg = m[2]
		}
		return nil, &Error{Pos: Pos{File: path, Line: line, Col: col}, Msg: "YAML syntax error: " + msg}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func pos(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Col: n.Column} }

// Decode converts a YAML node to plain Go values the way Ansible's loader
// (PyYAML, YAML 1.1) does: yes/no/on/off are booleans, 0644 is octal,
// mappings become map[string]any, sequences []any. Aliases are followed.
func Decode(n *yaml.Node) (any, error) {
	return decode(n, 0)
}

func decode(n *yaml.Node, depth int) (any, error) {
	if depth > 200 {
		return nil, fmt.Errorf("line %d: YAML nested too deeply (alias loop?)", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decode(n.Content[0], depth+1)
	case yaml.AliasNode:
		return decode(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := decode(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" || (k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0) {
				merged, err := decode(v, depth+1)
				if err != nil {
					return nil, err
				}
				for _, m := range flattenMerge(merged) {
					for mk, mv := range m {
						if _, ok := out[mk]; !ok {
							out[mk] = mv
						}
					}
				}
				continue
			}
			kv, err := decode(k, depth+1)
			if err != nil {
				return nil, err
			}
			vv, err := decode(v, depth+1)
			if err != nil {
				return nil, err
			}
			out[keyString(kv)] = vv
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, nil
}

func flattenMerge(v any) []map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return []map[string]any{m}
	case []any:
		var out []map[string]any
		for _, e := range m {
			if mm, ok := e.(map[string]any); ok {
				out = append(out, mm)
			}
		}
		return out
	}
	return nil
}

func keyString(v any) string {
	switch k := v.(type) {
	case string:
		return k
	case bool:
		if k {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

var (
	intRe   = regexp.MustCompile(`^[-+]?(0|[1-9][0-9_]*)$`)
	octRe   = regexp.MustCompile(`^[-+]?0[0-7_]+$`)
	hexRe   = regexp.MustCompile(`^[-+]?0x[0-9a-fA-F_]+$`)
	binRe   = regexp.MustCompile(`^[-+]?0b[01_]+$`)
	floatRe = regexp.MustCompile(`^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$`)
)

func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!vault":
		return Vault{Ciphertext: n.Value}
	case "!unsafe":
		return n.Value
	case "!!str", "!!binary":
		if n.Style&yaml.TaggedStyle != 0 {
			return n.Value
		}
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Value // quoted or block scalar
	}
	s := n.Value
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil
	case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return true
	case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return false
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return math.Inf(1)
	case "-.inf", "-.Inf", "-.INF":
		return math.Inf(-1)
	case ".nan", ".NaN", ".NAN":
		return math.NaN()
	}
	c := s[0]
	if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' {
		clean := strings.ReplaceAll(s, "_", "")
		switch {
		case intRe.MatchString(s):
			if i, err := strconv.ParseInt(clean, 10, 64); err == nil {
				return int(i)
			}
		case octRe.MatchString(s):
			neg := strings.HasPrefix(clean, "-")
			d := strings.TrimLeft(clean, "+-")
			if i, err := strconv.ParseInt(d, 8, 64); err == nil {
				if neg {
					i = -i
				}
				return int(i)
			}
		case hexRe.MatchString(s), binRe.MatchString(s):
			if i, err := strconv.ParseInt(clean, 0, 64); err == nil {
				return int(i)
			}
		case floatRe.MatchString(s) && s != ".":
			if f, err := strconv.ParseFloat(clean, 64); err == nil {
				return f
			}
		}
	}
	return s
}

// DecodeBytes parses YAML (or JSON) data into plain Go values; errors carry
// path:line:col.
func DecodeBytes(data []byte, path string) (any, error) {
	n, err := parseYAML(data, path)
	if err != nil || n == nil {
		return nil, err
	}
	return Decode(n)
}
