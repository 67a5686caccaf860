package playbook

import (
	"errors"
	"os"

	"go.yaml.in/yaml/v3"

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
			return nil, &Error{Pos: Pos{File: path, Line: ye.Line, Col: ye.Column}, Msg: "YAML syntax error: " + ye.Msg}
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
func Decode(n *yaml.Node) (any, error) {
	return yamlx.NewDecoder("", yamlx.Options{}).Value(n)
}

// DecodeBytes parses YAML (or JSON) data into plain Go values; errors carry
// path:line:col.
func DecodeBytes(data []byte, path string) (any, error) {
	return yamlx.Decode(data, path)
}
