package engine

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/template"
)

// ansibleVersion is what tend reports as ansible_version, for roles that
// check it.
var ansibleVersion = map[string]any{"full": "2.14.18", "major": 2, "minor": 14, "revision": 18, "string": "2.14.18"}

// varsFor builds a task's variables in Ansible's precedence order, lowest
// first: role defaults, inventory (group then host), facts, play vars and
// vars_files, role vars, block and task vars, include_vars, set_fact and
// registered vars, role params, include params, extra vars; then the magic
// variables.
func (r *Runner) varsFor(hs *hostState, sc *scope, taskVars map[string]any) template.Vars {
	v := make(map[string]any, 64)
	roles := sc.roles()
	// every role of the play's roles: section exposes its defaults and vars
	// to the whole play (Ansible's default, private_role_vars off)
	play := sc.play
	for _, role := range play.roles {
		for k, x := range role.Defaults {
			v[k] = x
		}
	}
	for _, ref := range roles {
		if ref.Role != nil {
			for k, x := range ref.Role.Defaults {
				v[k] = x
			}
		}
	}
	for k, x := range hs.invVars {
		v[k] = x
	}
	hs.mu.Lock()
	if hs.facts != nil {
		hs.factVars(v)
	} else {
		v["ansible_facts"] = map[string]any{}
	}
	for k, x := range play.vars {
		v[k] = x
	}
	for _, role := range play.roles {
		for k, x := range role.Vars {
			v[k] = x
		}
	}
	for _, ref := range roles {
		if ref.Role != nil {
			for k, x := range ref.Role.Vars {
				v[k] = x
			}
		}
		for k, x := range ref.Vars {
			v[k] = x
		}
	}
	for _, layer := range sc.varLayers() {
		for k, x := range layer {
			v[k] = x
		}
	}
	for k, x := range hs.rescueVars {
		v[k] = x
	}
	for k, x := range taskVars {
		v[k] = x
	}
	for k, x := range hs.incVars {
		v[k] = x
	}
	for k, x := range hs.cached {
		v[k] = x
	}
	hs.mu.Unlock()
	for _, ref := range roles {
		for k, x := range ref.Params {
			if !strings.HasPrefix(k, "__kw_") {
				v[k] = x
			}
		}
	}
	for k, x := range r.opts.ExtraVars {
		v[k] = x
	}
	// magic variables
	v["inventory_hostname"] = hs.name
	short, _, _ := strings.Cut(hs.name, ".")
	v["inventory_hostname_short"] = short
	v["groups"] = r.groupsVar()
	v["group_names"] = r.opts.Inventory.GroupNames(hs.name)
	v["playbook_dir"] = play.p.Dir
	v["ansible_play_hosts"] = r.playHostNames(play, false)
	v["ansible_play_hosts_all"] = r.playHostNames(play, true)
	v["ansible_play_batch"] = v["ansible_play_hosts"]
	v["play_hosts"] = v["ansible_play_hosts"]
	v["ansible_play_name"] = play.rep.Name
	v["ansible_check_mode"] = play.check
	v["ansible_diff_mode"] = r.opts.Diff
	v["ansible_version"] = ansibleVersion
	v["ansible_run_tags"] = tagList(r.opts.Tags, "all")
	v["ansible_skip_tags"] = tagList(r.opts.SkipTags, "")
	r.unvault(v)
	v["omit"] = template.Omit
	v["hostvars"] = hostvarsView{r: r}
	if _, ok := v["ansible_managed"]; !ok {
		v["ansible_managed"] = "Ansible managed"
	}
	search := []any{}
	if len(roles) > 0 && roles[len(roles)-1].Role != nil {
		search = append(search, roles[len(roles)-1].Role.Path)
	}
	search = append(search, play.p.Dir)
	if play.pb.Dir != play.p.Dir {
		search = append(search, play.pb.Dir)
	}
	v["ansible_search_path"] = search
	// the play's roles (roles:, import_role, public include_role);
	// ansible_role_names adds their dependencies
	playRoleNames, allRoleNames := []any{}, []any{}
	for _, role := range play.roles {
		allRoleNames = append(allRoleNames, role.Name)
	}
	for _, ref := range play.p.Roles {
		if ref.Role != nil {
			playRoleNames = append(playRoleNames, ref.Role.Name)
		}
	}
	for _, role := range play.roles {
		if !slices.ContainsFunc(play.p.Roles, func(ref *playbook.RoleRef) bool { return ref.Role == role }) && !isDependency(play, role) {
			playRoleNames = append(playRoleNames, role.Name)
		}
	}
	v["role_names"] = playRoleNames
	v["ansible_play_role_names"] = playRoleNames
	v["ansible_role_names"] = uniqueNames(allRoleNames)
	if len(roles) > 0 {
		cur := roles[len(roles)-1]
		if cur.Role != nil {
			v["role_path"] = cur.Role.Path
			v["role_name"] = cur.Role.Name
			v["ansible_role_name"] = cur.Role.Name
			var names []string
			for _, rr := range roles {
				names = append(names, rr.Name)
			}
			v["ansible_parent_role_names"] = names
		}
	}
	if src, ok := hs.invVars["inventory_file"]; ok {
		v["inventory_file"] = src
		if s, ok := src.(string); ok {
			v["inventory_dir"] = filepath.Dir(s)
		}
	}
	return template.Vars(v)
}

// isDependency reports whether role comes into the play only as another
// role's dependency.
func isDependency(pl *play, role *playbook.Role) bool {
	for _, r := range pl.roles {
		for _, d := range r.Deps {
			if d.Role == role {
				return true
			}
		}
	}
	return false
}

func uniqueNames(names []any) []any {
	out := []any{}
	seen := map[any]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func tagList(tags []string, def string) []any {
	var out []any
	for _, t := range tags {
		out = append(out, t)
	}
	if len(out) == 0 && def != "" {
		out = append(out, def)
	}
	if out == nil {
		out = []any{}
	}
	return out
}

func (r *Runner) playHostNames(pl *play, all bool) []any {
	out := []any{}
	hosts := pl.hosts
	if all && pl.all != nil {
		hosts = pl.all
	}
	for _, hs := range hosts {
		if all || (!hs.failed && !hs.unreach) {
			out = append(out, hs.name)
		}
	}
	return out
}

// hostvarsView is the `hostvars` magic variable: every host's inventory
// vars, facts and set_facts, built when read.
type hostvarsView struct{ r *Runner }

var _ template.KeyedGetter = hostvarsView{}

// TemplateGet returns one host's variables, built when a template reads
// hostvars[name].
func (h hostvarsView) TemplateGet(name string) (any, bool) {
	if _, ok := h.r.opts.Inventory.Host(name); !ok {
		if _, known := h.r.hosts[name]; !known {
			return nil, false
		}
	}
	return hostVarsMap{h: h, name: name, vars: h.hostVars(name)}, true
}

// TemplateKeys lists the inventory's hosts.
func (h hostvarsView) TemplateKeys() []string { return h.r.opts.Inventory.Hosts() }

// hostVarsMap is one host's variables, templated in that host's own context
// when read (as Ansible's HostVarsVars does).
type hostVarsMap struct {
	h    hostvarsView
	name string
	vars map[string]any
}

var _ template.KeyedGetter = hostVarsMap{}

func (m hostVarsMap) TemplateGet(key string) (any, bool) {
	v, ok := m.vars[key]
	if !ok {
		return nil, false
	}
	if containsTemplate(v) {
		if rv, err := m.h.r.tmpl.RenderData(v, template.Vars(m.vars)); err == nil {
			return rv, true
		}
	}
	return v, true
}

func (m hostVarsMap) TemplateKeys() []string {
	keys := make([]string, 0, len(m.vars))
	for k := range m.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// factVars adds the host's facts to v: ansible_facts, and each fact as a
// top-level variable (ansible_<name>, or the name a module gave it when it
// had no prefix), as Ansible's inject_facts_as_vars. The caller holds hs.mu.
func (hs *hostState) factVars(v map[string]any) {
	for k, x := range hs.facts {
		if hs.plainFacts[k] {
			v[k] = x
		} else {
			v["ansible_"+k] = x
		}
	}
	v["ansible_facts"] = hs.facts
}

func (h hostvarsView) hostVars(name string) map[string]any {
	hs := h.r.hosts[name]
	if hs == nil {
		iv, err := h.r.opts.Inventory.HostVars(name, "")
		if err != nil {
			return map[string]any{}
		}
		return merge(iv, map[string]any{"inventory_hostname": name})
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	v := merge(hs.invVars)
	if hs.facts != nil {
		hs.factVars(v)
	}
	for k, x := range hs.incVars {
		v[k] = x
	}
	for k, x := range hs.cached {
		v[k] = x
	}
	v["inventory_hostname"] = name
	v["group_names"] = h.r.opts.Inventory.GroupNames(name)
	return v
}

// groupsVar is the `groups` magic variable as plain template values, built
// when first asked for and again after group_by or add_host changed the
// inventory. The map is never changed once built: readers may keep it.
func (r *Runner) groupsVar() map[string]any {
	r.groupsMu.Lock()
	defer r.groupsMu.Unlock()
	if r.groups == nil {
		groups := map[string]any{}
		for g, hosts := range r.opts.Inventory.Groups() {
			l := make([]any, len(hosts))
			for i, h := range hosts {
				l[i] = h
			}
			groups[g] = l
		}
		r.groups = groups
	}
	return r.groups
}
