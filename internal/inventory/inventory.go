// Package inventory owns tend's reading of Ansible inventories: YAML and INI
// inventory files, directories of them, comma-separated host lists, and the
// group_vars/ and host_vars/ next to them. It follows ansible-core 2.14's
// inventory plugins (yaml, ini, host_list) and InventoryManager: host ranges,
// host:port, group nesting and depth, ansible_group_priority, host patterns
// ("web*:&prod:!web3", "~regex", "group[0:2]") and the variable precedence of
// VariableManager. It is a pure parser: it reads only the paths it is given.
package inventory

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Options tunes Load.
type Options struct {
	// Decrypt decrypts an ansible-vault file (any file whose content starts
	// with $ANSIBLE_VAULT). nil means vault files are an error.
	Decrypt func(data []byte, path string) ([]byte, error)
	// Warn receives what Ansible prints as warnings (skipped keys, duplicate
	// YAML keys, unknown patterns in Match). nil drops them.
	Warn func(msg string)
}

// Host is one inventory host as the inventory source declares it.
type Host struct {
	Name string
	// Vars are the host's variables from the inventory source itself
	// (including ansible_port from "host:port", inventory_file and
	// inventory_dir), not group_vars/host_vars files.
	Vars map[string]any
	// Groups are the groups that list the host directly.
	Groups []string
}

// Group is one inventory group.
type Group struct {
	Name     string
	Vars     map[string]any
	Children []string
	Hosts    []string // direct members
}

// Inventory is a parsed inventory.
type Inventory struct {
	hosts     []*host
	hostIndex map[string]*host
	groups    []*group
	groupIdx  map[string]*group
	localhost *host
	implicit  *host
	// varDirs are the directories whose group_vars/ and host_vars/ belong to
	// the inventory, in source order.
	varDirs []string
	opts    Options
	// cache of loaded group_vars/host_vars files
	mu    sync.Mutex
	files map[string]map[string]any
}

type host struct {
	name     string
	vars     map[string]any
	direct   []*group // groups listing the host directly
	groups   []*group // direct groups and all their ancestors
	implicit bool
}

type group struct {
	name     string
	vars     map[string]any
	children []*group
	parents  []*group
	hosts    []*host
	depth    int
	priority int
}

// localhostNames are the names Ansible treats as the local machine.
var localhostNames = []string{"127.0.0.1", "localhost", "::1"}

func isLocalhost(name string) bool { return slices.Contains(localhostNames, name) }

func newInventory(opts Options) *Inventory {
	inv := &Inventory{
		hostIndex: map[string]*host{},
		groupIdx:  map[string]*group{},
		opts:      opts,
		files:     map[string]map[string]any{},
	}
	inv.addGroup("all")
	inv.addGroup("ungrouped")
	_ = inv.addChild("all", "ungrouped")
	// made up front (its name is fixed when first asked for) so lookups never
	// write and an Inventory can be read from many goroutines
	inv.implicit = &host{name: "localhost", implicit: true, vars: map[string]any{
		"ansible_connection": "local",
	}}
	return inv
}

// Empty returns an inventory with no hosts: only the implicit localhost
// answers, as with Ansible when no inventory is given.
func Empty() *Inventory {
	inv := newInventory(Options{})
	inv.reconcile()
	return inv
}

func (inv *Inventory) warn(format string, args ...any) {
	if inv.opts.Warn != nil {
		inv.opts.Warn(fmt.Sprintf(format, args...))
	}
}

func (inv *Inventory) addGroup(name string) *group {
	if g, ok := inv.groupIdx[name]; ok {
		return g
	}
	g := &group{name: name, vars: map[string]any{}, priority: 1}
	inv.groups = append(inv.groups, g)
	inv.groupIdx[name] = g
	return g
}

// addHost adds a host (if new) and puts it in groupName (if not "").
func (inv *Inventory) addHost(name, groupName string, port int, source string) (*host, error) {
	if name == "" {
		return nil, fmt.Errorf("invalid empty host name")
	}
	var g *group
	if groupName != "" {
		var ok bool
		if g, ok = inv.groupIdx[groupName]; !ok {
			return nil, fmt.Errorf("could not find group %s in inventory", groupName)
		}
	}
	h, ok := inv.hostIndex[name]
	if !ok {
		h = &host{name: name, vars: map[string]any{}}
		if port != 0 {
			h.vars["ansible_port"] = port
		}
		if source != "" {
			h.vars["inventory_file"] = source
			h.vars["inventory_dir"] = filepath.Dir(source)
		} else {
			h.vars["inventory_file"] = nil
			h.vars["inventory_dir"] = nil
		}
		inv.hosts = append(inv.hosts, h)
		inv.hostIndex[name] = h
		if isLocalhost(name) {
			if inv.localhost == nil {
				inv.localhost = h
			} else {
				inv.warn("A duplicate localhost-like entry was found (%s). First found localhost was %s", name, inv.localhost.name)
			}
		}
	}
	if g != nil {
		g.addHost(h)
	}
	return h, nil
}

func (g *group) addHost(h *host) {
	if slices.Contains(g.hosts, h) {
		return
	}
	g.hosts = append(g.hosts, h)
	h.direct = append(h.direct, g)
	for _, a := range g.ancestors() {
		if !slices.Contains(h.groups, a) {
			h.groups = append(h.groups, a)
		}
	}
	if !slices.Contains(h.groups, g) {
		h.groups = append(h.groups, g)
	}
}

func (g *group) removeHost(h *host) {
	if i := slices.Index(g.hosts, h); i >= 0 {
		g.hosts = slices.Delete(g.hosts, i, i+1)
	}
	if i := slices.Index(h.direct, g); i >= 0 {
		h.direct = slices.Delete(h.direct, i, i+1)
	}
	if i := slices.Index(h.groups, g); i >= 0 {
		h.groups = slices.Delete(h.groups, i, i+1)
	}
}

// ancestors returns every group above g.
func (g *group) ancestors() []*group {
	var out []*group
	seen := map[*group]bool{}
	var walk func(*group)
	walk = func(x *group) {
		for _, p := range x.parents {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
				walk(p)
			}
		}
	}
	walk(g)
	return out
}

// addChild makes child (a group or, failing that, a host) a member of parent.
func (inv *Inventory) addChild(parent, child string) error {
	p, ok := inv.groupIdx[parent]
	if !ok {
		return fmt.Errorf("%s is not a known group", parent)
	}
	if c, ok := inv.groupIdx[child]; ok {
		return p.addChildGroup(c)
	}
	if h, ok := inv.hostIndex[child]; ok {
		p.addHost(h)
		return nil
	}
	return fmt.Errorf("%s is not a known host nor group", child)
}

// CycleError reports a group made (directly or not) its own child.
type CycleError struct {
	Parent, Child string
}

func (e *CycleError) Error() string {
	if e.Parent == e.Child {
		return fmt.Sprintf("group %q cannot be a child of itself", e.Child)
	}
	return fmt.Sprintf("adding group %q as child to %q creates a recursive dependency loop", e.Child, e.Parent)
}

func (g *group) addChildGroup(c *group) error {
	if g == c {
		return &CycleError{Parent: g.name, Child: c.name}
	}
	if slices.Contains(g.children, c) {
		return nil
	}
	if slices.Contains(g.ancestors(), c) {
		return &CycleError{Parent: g.name, Child: c.name}
	}
	newAncestors := append(g.ancestors(), g)
	g.children = append(g.children, c)
	c.updateDepth(g.depth + 1)
	if !slices.ContainsFunc(c.parents, func(x *group) bool { return x.name == g.name }) {
		c.parents = append(c.parents, g)
		for _, h := range c.allHosts(false) {
			for _, a := range newAncestors {
				if !slices.Contains(h.groups, a) {
					h.groups = append(h.groups, a)
				}
			}
		}
	}
	return nil
}

func (g *group) updateDepth(d int) {
	if d <= g.depth {
		return
	}
	g.depth = d
	for _, c := range g.children {
		c.updateDepth(d + 1)
	}
}

// descendants returns g (when self) and the groups below it, level by level,
// in the order Ansible's _walk_relationship(preserve_ordering=True) yields.
func (g *group) descendants(self bool) []*group {
	var ordered []*group
	if self {
		ordered = append(ordered, g)
	}
	ordered = append(ordered, g.children...)
	seen := map[*group]bool{}
	level := slices.Clone(g.children)
	if self {
		seen[g] = true
	}
	for len(level) > 0 {
		for _, x := range level {
			seen[x] = true
		}
		var next []*group
		for _, x := range level {
			for _, c := range x.children {
				if !seen[c] && !slices.Contains(next, c) {
					next = append(next, c)
					ordered = append(ordered, c)
				}
			}
		}
		level = next
	}
	return ordered
}

// allHosts returns the hosts of g and its descendants, deduplicated, in
// Ansible's order. The implicit localhost is never part of "all".
func (g *group) allHosts(skipImplicit bool) []*host {
	var out []*host
	seen := map[*host]bool{}
	for _, k := range g.descendants(true) {
		for _, h := range k.hosts {
			if seen[h] {
				continue
			}
			seen[h] = true
			if skipImplicit && h.implicit {
				continue
			}
			out = append(out, h)
		}
	}
	return out
}

// setGroupVar is Group.set_variable: ansible_group_priority sets the
// priority instead of a variable.
func (g *group) setVar(key string, value any) error {
	if key == "ansible_group_priority" {
		p, err := toInt(value)
		if err != nil {
			return fmt.Errorf("ansible_group_priority of group %s: %w", g.name, err)
		}
		g.priority = p
		return nil
	}
	g.vars[key] = value
	return nil
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		return int(x), nil
	case string:
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(x), &n); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// reconcile is InventoryData.reconcile_inventory: every group hangs under
// all, and hosts without a group land in ungrouped.
func (inv *Inventory) reconcile() {
	all, ungrouped := inv.groupIdx["all"], inv.groupIdx["ungrouped"]
	for _, g := range inv.groups {
		if g != all && len(g.parents) == 0 {
			_ = all.addChildGroup(g)
		}
	}
	for _, h := range inv.hosts {
		if slices.Contains(h.groups, ungrouped) {
			for _, g := range h.groups {
				if g != all && g != ungrouped {
					ungrouped.removeHost(h)
					break
				}
			}
		} else if !h.implicit {
			if len(h.groups) == 0 || len(h.groups) == 1 && h.groups[0] == all {
				ungrouped.addHost(h)
			}
		}
	}
	for _, g := range inv.groups {
		if _, ok := inv.hostIndex[g.name]; ok {
			inv.warn("Found both group and host with same name: %s", g.name)
		}
	}
}

// Hosts returns every host name in inventory order: Ansible's order for
// the pattern "all" (ungrouped hosts first, then group by group).
func (inv *Inventory) Hosts() []string {
	return hostNames(inv.groupIdx["all"].allHosts(true))
}

// lookup is InventoryData.get_host: a defined host, or for localhost-like
// names the inventory's localhost or the implicit one.
func (inv *Inventory) lookup(name string) *host {
	if h, ok := inv.hostIndex[name]; ok {
		return h
	}
	if !isLocalhost(name) {
		return nil
	}
	if inv.localhost != nil {
		return inv.localhost
	}
	// Ansible makes one implicit host, named after the first name asked
	// for; tend always calls it "localhost".
	return inv.implicit
}

// Host returns a host by name. localhost, 127.0.0.1 and ::1 always answer:
// with the inventory's own localhost entry, or the implicit localhost
// (ansible_connection=local, in no group).
func (inv *Inventory) Host(name string) (*Host, bool) {
	h := inv.lookup(name)
	if h == nil {
		return nil, false
	}
	out := &Host{Name: h.name, Vars: deepCopy(h.vars).(map[string]any)}
	for _, g := range h.direct {
		out.Groups = append(out.Groups, g.name)
	}
	return out, true
}

// Group returns a group by name.
func (inv *Inventory) Group(name string) (*Group, bool) {
	g, ok := inv.groupIdx[name]
	if !ok {
		return nil, false
	}
	out := &Group{Name: g.name, Vars: deepCopy(g.vars).(map[string]any)}
	if g.priority != 1 {
		out.Vars["ansible_group_priority"] = g.priority
	}
	for _, c := range g.children {
		out.Children = append(out.Children, c.name)
	}
	for _, h := range g.hosts {
		out.Hosts = append(out.Hosts, h.name)
	}
	return out, true
}

// Groups is the `groups` magic variable: every group, all and ungrouped
// included, with all its hosts (children's too) in inventory order.
func (inv *Inventory) Groups() map[string][]string {
	out := make(map[string][]string, len(inv.groups))
	for _, g := range inv.groups {
		names := []string{}
		for _, h := range g.allHosts(g.name == "all") {
			names = append(names, h.name)
		}
		out[g.name] = names
	}
	return out
}

// GroupNames is the `group_names` magic variable: the host's groups (with
// their ancestors), sorted, without "all". Like Ansible, a host in no
// group reports ["ungrouped"].
func (inv *Inventory) GroupNames(hostName string) []string {
	h := inv.lookup(hostName)
	if h == nil {
		return nil
	}
	out := []string{}
	for _, g := range h.groups {
		if g.name != "all" {
			out = append(out, g.name)
		}
	}
	sort.Strings(out)
	return out
}

// sortGroups orders groups as Ansible's sort_groups: depth, then
// ansible_group_priority, then name.
func sortGroups(gs []*group) []*group {
	out := slices.Clone(gs)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.depth != b.depth {
			return a.depth < b.depth
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		return a.name < b.name
	})
	return out
}
