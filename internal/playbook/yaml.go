package playbook

import (
	"errors"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tend-project/tend/internal/template"
	"github.com/tend-project/tend/internal/yamlx"
)

// parseYAMLFile reads and parses a YAML file into its document's root node.
func parseYAMLFile(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseYAML(data, path)
}

func parseYAML(data []byte, path string) (*yaml.Node, error) {
	n, err := yamlx.Parse(data, path)
	if err != nil {
		var ye *yamlx.Error
		if errors.As(err, &ye) {
			msg := ye.Msg
			if !strings.HasPrefix(msg, "YAML syntax error") {
				msg = "YAML syntax error: " + msg
			}
			return nil, &Error{Pos: Pos{File: path, Line: ye.Line, Col: ye.Column}, Msg: msg}
		}
		return nil, &Error{Pos: Pos{File: path}, Msg: err.Error()}
	}
	if n == nil {
		return nil, nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	return n, nil
}

func pos(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Col: n.Column} }

// Decode converts a YAML node to plain Go values the way Ansible's loader
// (PyYAML, YAML 1.1) does: yes/no/on/off are booleans, 0644 is octal,
// mappings become map[string]any, sequences []any, `!vault` values
// yamlx.Vault.
//
// A top-level mapping is a map[string]any; mappings nested inside values are
// *template.Map, which keep the YAML key order (Ansible iterates dicts in
// insertion order: with_dict, dict2items, to_json).
func Decode(n *yaml.Node) (any, error) {
	v, err := yamlx.NewDecoder("", yamlx.Options{}).Value(n)
	if err != nil {
		return nil, err
	}
	return ordered(n, v, true), nil
}

// DecodeBytes parses YAML (or JSON) data into plain Go values like Decode;
// errors carry path:line:col.
func DecodeBytes(data []byte, path string) (any, error) {
	n, err := parseYAML(data, path)
	if err != nil || n == nil {
		return nil, err
	}
	return Decode(n)
}

// Ordered is v, decoded from node n, with the mappings nested in it as
// *template.Map in n's key order (a top-level mapping stays a map): for
// values decoded elsewhere, such as inventory variables.
func Ordered(n *yaml.Node, v any) any { return ordered(n, v, false) }

// ordered rebuilds the mappings inside v in the key order of node n.
func ordered(n *yaml.Node, v any, top bool) any {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		if n.Kind != yaml.MappingNode {
			return v
		}
		var keys []string
		nodes := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Value == "<<" {
				continue
			}
			if _, ok := x[k.Value]; ok {
				if _, seen := nodes[k.Value]; !seen {
					keys = append(keys, k.Value)
				}
				nodes[k.Value] = n.Content[i+1]
			}
		}
		var rest []string
		for k := range x {
			if _, ok := nodes[k]; !ok {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		keys = append(keys, rest...)
		if top {
			for _, k := range keys {
				x[k] = ordered(nodes[k], x[k], false)
			}
			return x
		}
		m := template.NewMap()
		for _, k := range keys {
			m.Set(k, ordered(nodes[k], x[k], false))
		}
		return m
	case []any:
		if n.Kind != yaml.SequenceNode || len(n.Content) != len(x) {
			return v
		}
		for i := range x {
			x[i] = ordered(n.Content[i], x[i], false)
		}
		return x
	}
	return v
}
