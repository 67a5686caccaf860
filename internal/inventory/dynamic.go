package inventory

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// The two changes a play may make to the inventory while it runs: add_host
// and group_by. They follow InventoryManager.add_dynamic_host and
// add_dynamic_group. An Inventory may be read from many goroutines, so
// these must not run while anything reads it: the engine calls them
// between tasks.

// AddHost adds a host, or updates one, as add_host does: name may carry a
// port ("db1:2222", set as ansible_ssh_port); vars are combined into the
// host's own (top-level keys replaced); the host joins groups, which are
// made when missing. changed reports whether anything was new.
func (inv *Inventory) AddHost(name string, groups []string, vars map[string]any) (changed bool, err error) {
	hostName, port, err := parseAddress(name, false)
	if err != nil {
		hostName, port = name, 0 // not parsable, but may still be usable
	}
	if hostName == "" {
		return false, fmt.Errorf("add_host: name, host or hostname needs to be provided")
	}
	h, ok := inv.hostIndex[hostName]
	if !ok {
		if h, err = inv.addHost(hostName, "all", 0, ""); err != nil {
			return false, err
		}
		changed = true
	}
	combined := maps.Clone(h.vars)
	maps.Copy(combined, deepCopy(vars).(map[string]any))
	if port != 0 {
		combined["ansible_ssh_port"] = port
	}
	if !reflect.DeepEqual(combined, h.vars) {
		h.vars = combined
		changed = true
	}
	for _, gname := range groups {
		gname = strings.TrimSpace(gname)
		if gname == "" {
			continue
		}
		g, exists := inv.groupIdx[gname]
		if !exists {
			g = inv.addGroup(gname)
			changed = true
		}
		changed = g.join(h) || changed
	}
	if changed {
		inv.reconcile()
	}
	return changed, nil
}

// AddToGroup puts a host in a group, made when missing under parents (all
// when none are given), as group_by does. changed reports whether the
// host, the group or a parent link was new.
func (inv *Inventory) AddToGroup(hostName, groupName string, parents []string) (changed bool, err error) {
	h := inv.lookup(hostName)
	if h == nil {
		return false, fmt.Errorf("group_by: %s cannot be matched in inventory", hostName)
	}
	if groupName == "" {
		return false, fmt.Errorf("group_by: the key gave an empty group name")
	}
	g := inv.addGroup(groupName)
	if len(parents) == 0 {
		parents = []string{"all"}
	}
	for _, pname := range parents {
		p, exists := inv.groupIdx[pname]
		if !exists {
			p = inv.addGroup(pname)
			changed = true
		}
		if !slices.Contains(p.children, g) {
			if err := p.addChildGroup(g); err != nil {
				return changed, fmt.Errorf("group_by: %w", err)
			}
			changed = true
		}
	}
	changed = g.join(h) || changed
	if changed {
		inv.reconcile()
	}
	return changed, nil
}

// join adds h to g and reports whether it was not there yet.
func (g *group) join(h *host) bool {
	if slices.Contains(g.hosts, h) {
		return false
	}
	g.addHost(h)
	return true
}
