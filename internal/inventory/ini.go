package inventory

import (
	"fmt"
	"regexp"
	"strings"
)

// INI inventories, after ansible/plugins/inventory/ini.py.

var (
	iniSection   = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`)
	iniGroupName = regexp.MustCompile(`^([^:\]\s]+)\s*(?:#.*)?$`)
	iniLineSplit = regexp.MustCompile(`\r\n|\n|\r|\v|\f|\x1c|\x1d|\x1e|\x{85}|\x{2028}|\x{2029}`)
)

// iniError is a problem at a line of an INI inventory.
type iniError struct {
	path string
	line int
	msg  string
}

func (e *iniError) Error() string { return fmt.Sprintf("%s:%d: %s", e.path, e.line, e.msg) }

type pendingDecl struct {
	line    int
	state   string
	name    string
	parents []string
}

func (inv *Inventory) parseINI(path string, data []byte) error {
	text := string(data)
	lines := iniLineSplit.Split(text, -1)
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	pending := map[string]*pendingDecl{}
	var pendingOrder []string
	addPending := func(d *pendingDecl) {
		pending[d.name] = d
		pendingOrder = append(pendingOrder, d.name)
	}
	groupName, state := "ungrouped", "hosts"
	for i, raw := range lines {
		lineno := i + 1
		fail := func(format string, args ...any) error {
			return &iniError{path: path, line: lineno, msg: fmt.Sprintf(format, args...)}
		}
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if m := iniSection.FindStringSubmatch(line); m != nil {
			groupName, state = m[1], m[2]
			if state == "" {
				state = "hosts"
			}
			if state != "hosts" && state != "children" && state != "vars" {
				return fail("section [%s:%s] has unknown type %q (use hosts, children or vars)", m[1], m[2], state)
			}
			if _, ok := inv.groupIdx[groupName]; !ok {
				if _, isPending := pending[groupName]; state == "vars" && !isPending {
					addPending(&pendingDecl{line: lineno, state: state, name: groupName})
				}
				inv.addGroup(groupName)
			}
			if d, ok := pending[groupName]; ok && state != "vars" {
				switch d.state {
				case "children":
					if err := inv.addPendingChildren(groupName, pending); err != nil {
						return fail("%v", err)
					}
				case "vars":
					delete(pending, groupName)
				}
			}
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			return fail("invalid section entry %q: make sure there are no spaces in the section entry and no other invalid characters", line)
		}
		switch state {
		case "hosts":
			hosts, port, vars, err := parseINIHostLine(line)
			if err != nil {
				return fail("%v", err)
			}
			for _, name := range hosts {
				h, err := inv.addHost(name, groupName, port, path)
				if err != nil {
					return fail("%v", err)
				}
				for _, kv := range vars {
					h.vars[kv.key] = kv.value
				}
			}
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return fail("expected key=value, got: %s", line)
			}
			if err := inv.groupIdx[groupName].setVar(strings.TrimSpace(k), iniValue(strings.TrimSpace(v))); err != nil {
				return fail("%v", err)
			}
		case "children":
			m := iniGroupName.FindStringSubmatch(line)
			if m == nil {
				return fail("expected group name, got: %s", line)
			}
			child := m[1]
			if _, ok := inv.groupIdx[child]; !ok {
				if d, ok := pending[child]; ok {
					d.parents = append(d.parents, groupName)
				} else {
					addPending(&pendingDecl{line: lineno, state: state, name: child, parents: []string{groupName}})
				}
			} else if err := inv.addChild(groupName, child); err != nil {
				return fail("%v", err)
			}
		}
	}
	for _, name := range pendingOrder {
		d, ok := pending[name]
		if !ok {
			continue
		}
		switch d.state {
		case "vars":
			return &iniError{path: path, line: d.line, msg: fmt.Sprintf("section [%s:vars] not valid for undefined group: %s", d.name, d.name)}
		case "children":
			return &iniError{path: path, line: d.line, msg: fmt.Sprintf("section [%s:children] includes undefined group: %s", d.parents[len(d.parents)-1], d.name)}
		}
	}
	return nil
}

func (inv *Inventory) addPendingChildren(name string, pending map[string]*pendingDecl) error {
	d := pending[name]
	for _, parent := range d.parents {
		if err := inv.addChild(parent, name); err != nil {
			return err
		}
		if pd, ok := pending[parent]; ok && pd.state == "children" {
			if err := inv.addPendingChildren(parent, pending); err != nil {
				return err
			}
		}
	}
	delete(pending, name)
	return nil
}

type iniVar struct {
	key   string
	value any
}

// parseINIHostLine reads "name[:port] k=v k2='v 2' # comment".
func parseINIHostLine(line string) ([]string, int, []iniVar, error) {
	tokens, err := shlexSplit(line)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("error parsing host definition %q: %v", line, err)
	}
	if len(tokens) == 0 {
		return nil, 0, nil, fmt.Errorf("expected a host definition, got: %s", line)
	}
	pattern := tokens[0]
	hosts, port, err := expandHostPattern(pattern)
	if err != nil {
		return nil, 0, nil, err
	}
	if strings.HasSuffix(strings.TrimSpace(pattern), ":") && port == 0 {
		return nil, 0, nil, fmt.Errorf("invalid host pattern %q: ending in ':' is not allowed, this character is reserved to provide a port", pattern)
	}
	for _, h := range hosts {
		if strings.TrimSpace(h) == "---" {
			return nil, 0, nil, fmt.Errorf("invalid host pattern %q: '---' is normally a sign this is a YAML file", pattern)
		}
	}
	var vars []iniVar
	for _, t := range tokens[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, 0, nil, fmt.Errorf("expected key=value host variable assignment, got: %s", t)
		}
		vars = append(vars, iniVar{key: k, value: iniValue(v)})
	}
	return hosts, port, vars, nil
}

// iniValue is InventoryModule._parse_value: a Python literal when the text is
// one, the text itself otherwise.
func iniValue(v string) any {
	if x, ok := literalEval(v); ok {
		return x
	}
	return v
}
