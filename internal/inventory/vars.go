package inventory

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/template"
	"github.com/tend-project/tend/internal/yamlx"
)

// HostVars returns the variables of a host from the inventory, merged in
// Ansible's order (VARIABLE_PRECEDENCE of ansible-core 2.14), later winning:
//
//  1. the inventory's "all" group vars
//  2. the inventory's vars of the host's other groups, sorted by depth,
//     ansible_group_priority, name
//  3. group_vars/all next to each inventory source
//  4. group_vars/all next to the playbook (playbookDir; "" for none)
//  5. group_vars/<group> next to each inventory source (groups sorted as in 2)
//  6. group_vars/<group> next to the playbook
//  7. the host's own vars in the inventory source (with ansible_port,
//     inventory_file, inventory_dir)
//  8. host_vars/<host> next to each inventory source
//  9. host_vars/<host> next to the playbook
//
// Merging replaces top-level keys (hash_behaviour=replace). Magic variables
// (inventory_hostname, group_names, groups, ...) are the engine's job.
func (inv *Inventory) HostVars(hostName, playbookDir string) (map[string]any, error) {
	h := inv.lookup(hostName)
	if h == nil {
		return nil, fmt.Errorf("host %q is not in the inventory", hostName)
	}
	all := inv.groupIdx["all"]
	var hostGroups []*group
	for _, g := range h.groups {
		if g != all {
			hostGroups = append(hostGroups, g)
		}
	}
	hostGroups = sortGroups(hostGroups)

	out := map[string]any{}
	maps.Copy(out, all.vars)
	for _, g := range hostGroups {
		maps.Copy(out, g.vars)
	}
	var playDirs []string
	if playbookDir != "" {
		abs, err := filepath.Abs(playbookDir)
		if err != nil {
			return nil, fmt.Errorf("playbook directory %s: %w", playbookDir, err)
		}
		playDirs = []string{abs}
	}
	groupNames := func(gs []*group) []string {
		out := make([]string, len(gs))
		for i, g := range gs {
			out[i] = g.name
		}
		return out
	}
	steps := []struct {
		dirs   []string
		subdir string
		names  []string
	}{
		{inv.varDirs, "group_vars", []string{"all"}},
		{playDirs, "group_vars", []string{"all"}},
		{inv.varDirs, "group_vars", groupNames(hostGroups)},
		{playDirs, "group_vars", groupNames(hostGroups)},
		{nil, "", nil}, // the host's inventory vars
		{inv.varDirs, "host_vars", []string{h.name}},
		{playDirs, "host_vars", []string{h.name}},
	}
	for _, st := range steps {
		if st.subdir == "" {
			maps.Copy(out, h.vars)
			continue
		}
		for _, dir := range st.dirs {
			for _, name := range st.names {
				vars, err := inv.varsFor(dir, st.subdir, name)
				if err != nil {
					return nil, err
				}
				maps.Copy(out, vars)
			}
		}
	}
	// callers own the result: nested maps and lists are copies too
	return deepCopy(out).(map[string]any), nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case *template.Map:
		m := template.NewMap()
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			m.Set(k, deepCopy(e))
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// varsFor loads DIR/SUBDIR/NAME like Ansible's host_group_vars plugin: the
// first of NAME, NAME.yml, NAME.yaml, NAME.json that exists; a directory
// contributes all its files (recursively, sorted, hidden and ~ backups
// skipped, only files with no or a YAML/JSON extension).
func (inv *Inventory) varsFor(dir, subdir, name string) (map[string]any, error) {
	if strings.HasPrefix(name, "/") {
		return nil, nil
	}
	base := filepath.Join(dir, subdir)
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		if err == nil {
			inv.warn("Found %s that is not a directory, skipping: %s", subdir, base)
		}
		return nil, nil
	}
	var files []string
	for _, ext := range []string{"", ".yml", ".yaml", ".json"} {
		p := filepath.Join(base, name) + ext
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			more, err := varsDirFiles(p)
			if err != nil {
				return nil, err
			}
			files = append(files, more...)
		} else {
			files = append(files, p)
		}
		break
	}
	out := map[string]any{}
	for _, f := range files {
		vars, err := inv.loadVarsFile(f)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, vars)
	}
	return out, nil
}

func varsDirFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read vars directory: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
			continue
		}
		p := filepath.Join(dir, n)
		ext := filepath.Ext(n)
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			if ext == "" {
				more, err := varsDirFiles(p)
				if err != nil {
					return nil, err
				}
				out = append(out, more...)
			}
			continue
		}
		if ext == "" || ext == ".yml" || ext == ".yaml" || ext == ".json" {
			out = append(out, p)
		}
	}
	return out, nil
}

// loadVarsFile reads one group_vars/host_vars file: a YAML (or JSON)
// mapping, possibly vault-encrypted. An empty file is no variables.
func (inv *Inventory) loadVarsFile(path string) (map[string]any, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if v, ok := inv.files[path]; ok {
		return v, nil
	}
	data, err := inv.readFile(path)
	if err != nil {
		return nil, err
	}
	v, err := inv.decodeVars(path, data)
	if err != nil {
		return nil, err
	}
	inv.files[path] = v
	return v, nil
}

func (inv *Inventory) decodeVars(path string, data []byte) (map[string]any, error) {
	// Ansible's DataLoader tries JSON before YAML
	if v, ok := decodeJSON(data); ok {
		if m, isMap := v.(map[string]any); isMap {
			return m, nil
		}
	}
	root, err := yamlx.Parse(data, path)
	if err != nil {
		return nil, err
	}
	d := inv.yamlDecoder(path)
	v, err := d.Value(root)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		for k, e := range x { // nested dicts keep the file's key order, as in Ansible
			x[k] = playbook.Ordered(valueNode(root, k), e)
		}
		return x, nil
	case string:
		if x == "" {
			return nil, nil
		}
	case []any:
		if len(x) == 0 {
			return nil, nil
		}
	}
	return nil, d.Errorf(root, "variables file must hold a mapping of variable names to values, found %s", describe(d, root))
}

// decodeJSON reads a JSON document the way Python's json module does
// (integers as int, objects in the document's key order); ok is false when
// data is not JSON. A top-level object is a map[string]any, the objects
// inside it *template.Map, like the YAML decoder gives.
func decodeJSON(data []byte) (any, bool) {
	v, err := template.DecodeJSON(data)
	if err != nil {
		return nil, false
	}
	if m, ok := v.(*template.Map); ok {
		return m.Shallow(), true
	}
	return v, true
}

// valueNode is the value node of key in the mapping root (a document or a
// mapping node), nil when there is none.
func valueNode(root *yaml.Node, key string) *yaml.Node {
	n := yamlx.Resolve(root)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = yamlx.Resolve(n.Content[0])
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v = n.Content[i+1] // the last one wins, as in the decoded map
		}
	}
	return v
}
