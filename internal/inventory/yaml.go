package inventory

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/yamlx"
)

// YAML inventories, after ansible/plugins/inventory/yaml.py.

func (inv *Inventory) yamlDecoder(path string) *yamlx.Decoder {
	return yamlx.NewDecoder(path, yamlx.Options{Warn: func(e *yamlx.Error) { inv.warn("%v", e) }})
}

func (inv *Inventory) parseYAML(path string, data []byte) error {
	root, err := yamlx.Parse(data, path)
	if err != nil {
		return err
	}
	d := inv.yamlDecoder(path)
	root = yamlx.Resolve(root)
	if root == nil || isFalsyNode(root) {
		return fmt.Errorf("%s: parsed empty YAML file", path)
	}
	if root.Kind != yaml.MappingNode {
		return d.Errorf(root, "YAML inventory has invalid structure, it should be a mapping of groups, got %s", yamlx.KindName(root))
	}
	pairs, err := d.Pairs(root)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if p.Name == "plugin" && !isFalsyNode(yamlx.Resolve(p.Value)) {
			return &pluginConfigError{path: path}
		}
	}
	for _, p := range pairs {
		if _, err := inv.yamlGroup(d, p.Key, p.Value, path); err != nil {
			return err
		}
	}
	return nil
}

// isFalsyNode tells whether a node's value is false in Python (None, "",
// 0, false, empty list or mapping).
func isFalsyNode(n *yaml.Node) bool {
	n = yamlx.Resolve(n)
	if n == nil {
		return true
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		v, err := yamlx.NewDecoder("", yamlx.Options{}).Value(n)
		if err != nil {
			return false
		}
		switch x := v.(type) {
		case nil:
			return true
		case string:
			return x == ""
		case bool:
			return !x
		case int:
			return x == 0
		case float64:
			return x == 0
		}
	}
	return false
}

// groupName reads a mapping key that must name a group.
func groupName(d *yamlx.Decoder, key *yaml.Node) (string, error) {
	v, err := d.Value(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", d.Errorf(key, "invalid group name %v: a group name must be a non-empty string", v)
	}
	return s, nil
}

func (inv *Inventory) yamlGroup(d *yamlx.Decoder, key, value *yaml.Node, path string) (string, error) {
	name, err := groupName(d, key)
	if err != nil {
		return "", err
	}
	value = yamlx.Resolve(value)
	isNull := value == nil || value.Kind == yaml.ScalarNode && isNullNode(d, value)
	if !isNull && value.Kind != yaml.MappingNode {
		inv.warn("%v", d.Errorf(value, "skipping %q as this is not a valid group definition (expected a mapping with hosts, vars and children)", name))
		return name, nil
	}
	g := inv.addGroup(name)
	if isNull {
		return name, nil
	}
	pairs, err := d.Pairs(value)
	if err != nil {
		return "", err
	}
	// sections: a string stands for a one-key mapping; else a mapping or null
	sections := map[string]*yaml.Node{}
	for _, p := range pairs {
		switch p.Name {
		case "vars", "children", "hosts":
			v := yamlx.Resolve(p.Value)
			if v != nil && v.Kind == yaml.ScalarNode && !isNullNode(d, v) {
				if s, err := d.Value(v); err == nil {
					if _, ok := s.(string); ok {
						sections[p.Name] = &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column,
							Content: []*yaml.Node{v, {Kind: yaml.ScalarNode, Tag: "!!null", Value: "", Line: v.Line, Column: v.Column}}}
						continue
					}
				}
			}
			if v != nil && v.Kind != yaml.MappingNode && !(v.Kind == yaml.ScalarNode && isNullNode(d, v)) {
				return "", d.Errorf(v, "invalid %q entry for %q group: it requires a mapping, found %s", p.Name, name, describe(d, v))
			}
			sections[p.Name] = v
		}
	}
	for _, p := range pairs {
		v := yamlx.Resolve(p.Value)
		if s, ok := sections[p.Name]; ok {
			v = s
		}
		if v != nil && v.Kind != yaml.MappingNode && !(v.Kind == yaml.ScalarNode && isNullNode(d, v)) {
			inv.warn("%v", d.Errorf(v, "skipping key (%s) in group (%s) as it is not a mapping", p.Name, name))
			continue
		}
		if v == nil || v.Kind != yaml.MappingNode {
			continue // empty key
		}
		switch p.Name {
		case "vars":
			vars, err := d.Pairs(v)
			if err != nil {
				return "", err
			}
			for _, vp := range vars {
				val, err := d.Value(vp.Value)
				if err != nil {
					return "", err
				}
				if err := g.setVar(vp.Name, playbook.Ordered(vp.Value, val)); err != nil {
					return "", d.Errorf(vp.Value, "%v", err)
				}
			}
		case "children":
			kids, err := d.Pairs(v)
			if err != nil {
				return "", err
			}
			for _, kp := range kids {
				child, err := inv.yamlGroup(d, kp.Key, kp.Value, path)
				if err != nil {
					return "", err
				}
				if err := inv.addChild(name, child); err != nil {
					return "", d.Errorf(kp.Key, "%v", err)
				}
			}
		case "hosts":
			hosts, err := d.Pairs(v)
			if err != nil {
				return "", err
			}
			for _, hp := range hosts {
				if err := inv.yamlHost(d, hp, name, path); err != nil {
					return "", err
				}
			}
		default:
			inv.warn("%v", d.Errorf(p.Key, "skipping unexpected key (%s) in group (%s), only \"vars\", \"children\" and \"hosts\" are valid", p.Name, name))
		}
	}
	return name, nil
}

func (inv *Inventory) yamlHost(d *yamlx.Decoder, hp yamlx.Pair, groupName, path string) error {
	k, err := d.Value(hp.Key)
	if err != nil {
		return err
	}
	pattern, ok := k.(string)
	if !ok {
		return d.Errorf(hp.Key, "host pattern %v must be a string; enclose integers/floats in quotation marks", yamlx.KeyString(k))
	}
	names, port, err := expandHostPattern(pattern)
	if err != nil {
		return d.Errorf(hp.Key, "%v", err)
	}
	var vars []yamlx.Pair
	if v := yamlx.Resolve(hp.Value); !isFalsyNode(v) {
		if v.Kind != yaml.MappingNode {
			return d.Errorf(v, "host %q: expected a mapping of host variables, got %s", pattern, describe(d, v))
		}
		if vars, err = d.Pairs(v); err != nil {
			return err
		}
	}
	for _, n := range names {
		h, err := inv.addHost(n, groupName, port, path)
		if err != nil {
			return d.Errorf(hp.Key, "%v", err)
		}
		for _, vp := range vars {
			val, err := d.Value(vp.Value)
			if err != nil {
				return err
			}
			h.vars[vp.Name] = playbook.Ordered(vp.Value, val)
		}
	}
	return nil
}

func isNullNode(d *yamlx.Decoder, n *yaml.Node) bool {
	v, err := d.Value(n)
	return err == nil && v == nil
}

func describe(d *yamlx.Decoder, n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		v, err := d.Value(n)
		if err == nil {
			return fmt.Sprintf("%T %v", v, v)
		}
	}
	return yamlx.KindName(n)
}
