package playbook

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tend-project/tend/internal/module"
)

// ModuleKnown reports whether an action name is a module or an engine action;
// set by the engine so the parser can tell a module key from a typo.
type ModuleKnown func(name string) bool

// Loader parses playbooks, task files and roles, caching roles and
// collecting every error it meets.
type Loader struct {
	IsModule  ModuleKnown
	RolesPath []string // extra role search dirs (ANSIBLE_ROLES_PATH)
	Errs      Errors
	roles     map[string]*Role
	loading   map[string]bool
}

// NewLoader returns a loader that recognises actions with isModule.
func NewLoader(isModule ModuleKnown) *Loader {
	return &Loader{IsModule: isModule, roles: map[string]*Role{}, loading: map[string]bool{}}
}

func (l *Loader) errf(p Pos, format string, a ...any) {
	l.Errs = append(l.Errs, &Error{Pos: p, Msg: fmt.Sprintf(format, a...)})
}

func (l *Loader) addErr(err error, file string) {
	if e, ok := err.(*Error); ok {
		l.Errs = append(l.Errs, e)
		return
	}
	l.Errs = append(l.Errs, &Error{Pos: Pos{File: file}, Msg: err.Error()})
}

// Load parses a playbook and everything it statically imports. All problems
// are returned at once as Errors.
func Load(path string, isModule ModuleKnown) (*Playbook, error) {
	l := NewLoader(isModule)
	pb := l.LoadPlaybook(path)
	return pb, l.Errs.Err()
}

// LoadPlaybook parses one playbook file (recording errors in l.Errs).
func (l *Loader) LoadPlaybook(path string) *Playbook {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	pb := &Playbook{Path: abs, Dir: filepath.Dir(abs)}
	if l.loading[abs] {
		l.errf(Pos{File: path}, "import_playbook loop: %s imports itself", path)
		return pb
	}
	l.loading[abs] = true
	defer delete(l.loading, abs)
	root, err := parseYAMLFile(abs)
	if err != nil {
		l.addErr(err, path)
		return pb
	}
	if root == nil {
		l.errf(Pos{File: path}, "playbook is empty")
		return pb
	}
	if root.Kind != yaml.SequenceNode {
		l.errf(pos(abs, root), "a playbook must be a list of plays, got a %s", kindName(root))
		return pb
	}
	for _, n := range root.Content {
		if n.Kind != yaml.MappingNode {
			l.errf(pos(abs, n), "a play must be a mapping, got a %s", kindName(n))
			continue
		}
		if v := mapGet(n, "import_playbook", "ansible.builtin.import_playbook", "include"); v != nil {
			var target string
			if v.Kind == yaml.ScalarNode {
				target = v.Value
			}
			if target == "" {
				l.errf(pos(abs, v), "import_playbook needs a file name")
				continue
			}
			sub := l.LoadPlaybook(filepath.Join(pb.Dir, target))
			// vars/when/tags on import_playbook apply to all its plays.
			extraVars, _ := decodeMap(mapGet(n, "vars"))
			tags := l.stringList(abs, mapGet(n, "tags"))
			for _, p := range sub.Plays {
				for k, v := range extraVars {
					if p.Vars == nil {
						p.Vars = map[string]any{}
					}
					if _, ok := p.Vars[k]; !ok {
						p.Vars[k] = v
					}
				}
				p.Tags = append(p.Tags, tags...)
			}
			pb.Plays = append(pb.Plays, sub.Plays...)
			continue
		}
		if p := l.parsePlay(abs, pb.Dir, n); p != nil {
			pb.Plays = append(pb.Plays, p)
		}
	}
	return pb
}

var playKeys = map[string]bool{
	"name": true, "hosts": true, "vars": true, "vars_files": true, "gather_facts": true, "tags": true,
	"pre_tasks": true, "roles": true, "tasks": true, "post_tasks": true, "handlers": true,
	"become": true, "become_user": true, "become_method": true, "remote_user": true, "connection": true,
	"serial": true, "max_fail_percentage": true, "any_errors_fatal": true, "ignore_errors": true,
	"check_mode": true, "diff": true, "environment": true, "strategy": true, "vars_prompt": true,
	"collections": true, "gather_subset": true, "gather_timeout": true, "order": true, "force_handlers": true,
	"module_defaults": true, "no_log": true, "run_once": true, "throttle": true, "port": true,
	"ignore_unreachable": true, "become_flags": true, "fact_path": true, "debugger": true, "timeout": true,
}

func (l *Loader) parsePlay(file, dir string, n *yaml.Node) *Play {
	p := &Play{Pos: pos(file, n), Dir: dir, Unknown: map[string]any{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if !playKeys[key] {
			msg := fmt.Sprintf("unknown key %q in play", key)
			if near := nearestKey(key, playKeys); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			l.errf(pos(file, k), "%s", msg)
			continue
		}
		switch key {
		case "name":
			p.Name = v.Value
		case "hosts":
			if v.Kind == yaml.SequenceNode {
				var hs []string
				for _, h := range v.Content {
					hs = append(hs, h.Value)
				}
				p.Hosts = strings.Join(hs, ":")
			} else {
				p.Hosts = v.Value
			}
		case "vars":
			m, err := decodeMap(v)
			if err != nil {
				l.errf(pos(file, v), "vars: %v", err)
			}
			p.Vars = m
		case "vars_files":
			vv, _ := Decode(v)
			if s, ok := vv.(string); ok {
				p.VarsFiles = []any{s}
			} else if list, ok := vv.([]any); ok {
				p.VarsFiles = list
			} else {
				l.errf(pos(file, v), "vars_files must be a list")
			}
		case "gather_facts":
			vv, _ := Decode(v)
			b, ok := vv.(bool)
			if !ok {
				l.errf(pos(file, v), "gather_facts must be a boolean")
			}
			p.GatherFacts = &b
		case "tags":
			p.Tags = l.stringList(file, v)
		case "pre_tasks":
			p.PreTasks = l.parseTaskList(file, dir, v, nil, nil)
		case "tasks":
			p.Tasks = l.parseTaskList(file, dir, v, nil, nil)
		case "post_tasks":
			p.PostTasks = l.parseTaskList(file, dir, v, nil, nil)
		case "handlers":
			p.Handlers = l.parseTaskList(file, dir, v, nil, nil)
		case "roles":
			if v.Kind != yaml.SequenceNode {
				l.errf(pos(file, v), "roles must be a list")
				continue
			}
			for _, r := range v.Content {
				if ref := l.parseRoleRef(file, dir, r); ref != nil {
					p.Roles = append(p.Roles, ref)
				}
			}
		default:
			val, _ := Decode(v)
			switch key {
			case "become":
				p.Become = val
			case "become_user":
				p.BecomeUser = fmt.Sprint(val)
			case "remote_user":
				p.RemoteUser = fmt.Sprint(val)
			case "connection":
				p.Connection = fmt.Sprint(val)
			case "serial":
				p.Serial = val
			case "max_fail_percentage":
				p.MaxFailPct = val
			case "any_errors_fatal":
				p.AnyErrorsFatal, _ = val.(bool)
			case "ignore_errors":
				p.IgnoreErrors = val
			case "check_mode":
				p.CheckMode = val
			case "diff":
				p.Diff = val
			case "environment":
				p.Environment = val
			case "strategy":
				p.Strategy = fmt.Sprint(val)
			default:
				p.Unknown[key] = val
			}
		}
	}
	if p.Hosts == "" {
		l.errf(p.Pos, "the field 'hosts' is required but was not set")
	}
	return p
}

// parseRoleRef parses one entry of a play's roles: list or a meta dependency.
func (l *Loader) parseRoleRef(file, dir string, n *yaml.Node) *RoleRef {
	ref := &RoleRef{Pos: pos(file, n), Params: map[string]any{}}
	switch n.Kind {
	case yaml.ScalarNode:
		ref.Name = n.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			val, _ := Decode(v)
			switch k {
			case "role", "name":
				ref.Name = fmt.Sprint(val)
			case "when":
				ref.When = asList(val)
			case "tags":
				ref.Tags = l.stringList(file, v)
			case "vars":
				ref.Vars, _ = val.(map[string]any)
			case "become", "become_user", "delegate_to", "environment", "ignore_errors", "no_log", "check_mode", "diff", "become_method":
				// accepted, applies to tasks like in Ansible; kept as params-free
				ref.Params["__kw_"+k] = val
			default:
				ref.Params[k] = val
			}
		}
	default:
		l.errf(pos(file, n), "a role entry must be a name or a mapping")
		return nil
	}
	if ref.Name == "" {
		l.errf(ref.Pos, "role entry without a role name")
		return nil
	}
	ref.Role = l.LoadRole(ref.Name, dir, ref.Pos, "", "", "", "")
	return ref
}

// RoleDirs lists where a role named name is looked for from dir.
func (l *Loader) RoleDirs(name, dir string) []string {
	if filepath.IsAbs(name) {
		return []string{name}
	}
	cands := []string{filepath.Join(dir, "roles", name)}
	for _, p := range l.RolesPath {
		cands = append(cands, filepath.Join(p, name))
	}
	cands = append(cands, filepath.Join(dir, name))
	// a role of a role (meta deps) also finds siblings
	cands = append(cands, filepath.Join(filepath.Dir(dir), name))
	if strings.Contains(name, ".") {
		// FQCN-ish "ns.coll.role": use the last part as a local role name
		parts := strings.Split(name, ".")
		cands = append(cands, filepath.Join(dir, "roles", parts[len(parts)-1]))
	}
	return cands
}

// LoadRole finds and parses a role; tasksFrom etc. pick other main files.
func (l *Loader) LoadRole(name, dir string, at Pos, tasksFrom, handlersFrom, varsFrom, defaultsFrom string) *Role {
	var path string
	for _, c := range l.RoleDirs(name, dir) {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			path = c
			break
		}
	}
	if path == "" {
		l.errf(at, "the role '%s' was not found in %s", name, strings.Join(l.RoleDirs(name, dir), ":"))
		return nil
	}
	key := strings.Join([]string{path, tasksFrom, handlersFrom, varsFrom, defaultsFrom}, "|")
	if r, ok := l.roles[key]; ok {
		return r
	}
	if l.loading[key] {
		l.errf(at, "role dependency loop through %s", name)
		return nil
	}
	l.loading[key] = true
	defer delete(l.loading, key)
	r := &Role{Name: filepath.Base(path), Path: path}
	if !strings.Contains(name, "/") && !filepath.IsAbs(name) {
		r.Name = name
	}
	l.roles[key] = r
	if f := findMain(filepath.Join(path, "defaults"), defaultsFrom); f != "" {
		r.Defaults = l.loadVarsFile(f)
	}
	if f := findMain(filepath.Join(path, "vars"), varsFrom); f != "" {
		r.Vars = l.loadVarsFile(f)
	}
	if f := findMain(filepath.Join(path, "meta"), ""); f != "" {
		if root, err := parseYAMLFile(f); err != nil {
			l.addErr(err, f)
		} else if root != nil && root.Kind == yaml.MappingNode {
			if deps := mapGet(root, "dependencies"); deps != nil && deps.Kind == yaml.SequenceNode {
				for _, d := range deps.Content {
					if ref := l.parseRoleRef(f, filepath.Dir(path), d); ref != nil {
						r.Deps = append(r.Deps, ref)
					}
				}
			}
			if ad := mapGet(root, "allow_duplicates"); ad != nil {
				v, _ := Decode(ad)
				r.AllowDuplicates, _ = v.(bool)
			}
		}
	}
	if f := findMain(filepath.Join(path, "tasks"), tasksFrom); f != "" {
		r.Tasks = l.LoadTaskFile(f, r)
	} else if tasksFrom != "" {
		l.errf(at, "role %s: tasks file %q not found", name, tasksFrom)
	}
	if f := findMain(filepath.Join(path, "handlers"), handlersFrom); f != "" {
		r.Handlers = l.LoadTaskFile(f, r)
	}
	return r
}

// findMain returns dir/main.yml (or the named file, with or without an
// extension) if present.
func findMain(dir, name string) string {
	if name == "" {
		name = "main"
	}
	for _, c := range []string{name, name + ".yml", name + ".yaml", name + ".json"} {
		p := filepath.Join(dir, c)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func (l *Loader) loadVarsFile(path string) map[string]any {
	root, err := parseYAMLFile(path)
	if err != nil {
		l.addErr(err, path)
		return nil
	}
	if root == nil {
		return nil
	}
	m, err := decodeMap(root)
	if err != nil {
		l.errf(pos(path, root), "%v", err)
	}
	return m
}

// LoadTaskFile parses a file that holds a list of tasks.
func (l *Loader) LoadTaskFile(path string, role *Role) []*Task {
	root, err := parseYAMLFile(path)
	if err != nil {
		l.addErr(err, path)
		return nil
	}
	if root == nil {
		return nil
	}
	dir := filepath.Dir(path)
	if role != nil {
		dir = filepath.Join(role.Path, "tasks")
	}
	return l.parseTaskList(path, dir, root, role, nil)
}

func (l *Loader) parseTaskList(file, dir string, n *yaml.Node, role *Role, ref *RoleRef) []*Task {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(pos(file, n), "a task list must be a list, got a %s", kindName(n))
		return nil
	}
	var out []*Task
	for _, tn := range n.Content {
		if t := l.parseTask(file, dir, tn, role, ref); t != nil {
			out = append(out, t)
		}
	}
	return out
}

var taskKeys = map[string]bool{
	"name": true, "when": true, "loop": true, "loop_control": true, "register": true, "notify": true,
	"listen": true, "changed_when": true, "failed_when": true, "ignore_errors": true, "tags": true,
	"check_mode": true, "diff": true, "no_log": true, "vars": true, "until": true, "retries": true,
	"delay": true, "delegate_to": true, "delegate_facts": true, "run_once": true, "become": true,
	"become_user": true, "become_method": true, "become_flags": true, "environment": true, "args": true,
	"block": true, "rescue": true, "always": true, "action": true, "local_action": true, "async": true,
	"poll": true, "throttle": true, "any_errors_fatal": true, "ignore_unreachable": true, "collections": true,
	"connection": true, "remote_user": true, "module_defaults": true, "debugger": true, "timeout": true,
	"port": true,
}

func (l *Loader) parseTask(file, dir string, n *yaml.Node, role *Role, ref *RoleRef) *Task {
	if n.Kind != yaml.MappingNode {
		l.errf(pos(file, n), "a task must be a mapping, got a %s", kindName(n))
		return nil
	}
	t := &Task{Pos: pos(file, n), Role: role, RoleRef: ref, Dir: dir, ArgsPos: map[string]Pos{}}
	var actionNodes []*yaml.Node
	var argsNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if strings.HasPrefix(key, "with_") {
			t.LoopKind = key
			t.Loop, _ = Decode(v)
			continue
		}
		if !taskKeys[key] {
			actionNodes = append(actionNodes, k, v)
			continue
		}
		val, err := Decode(v)
		if err != nil {
			l.errf(pos(file, v), "%v", err)
		}
		switch key {
		case "name":
			t.Name = fmt.Sprint(val)
			if val == nil {
				t.Name = ""
			}
		case "when":
			t.When = asList(val)
		case "loop":
			t.Loop, t.LoopKind = val, "loop"
		case "loop_control":
			t.LoopControl, _ = val.(map[string]any)
		case "register":
			t.Register = fmt.Sprint(val)
		case "notify":
			t.Notify = toStrings(val)
		case "listen":
			t.Listen = toStrings(val)
		case "changed_when":
			t.ChangedWhen = asList(val)
		case "failed_when":
			t.FailedWhen = asList(val)
		case "ignore_errors":
			t.IgnoreErrors = val
		case "ignore_unreachable":
			t.IgnoreUnreachable = val
		case "tags":
			t.Tags = l.stringList(file, v)
		case "check_mode":
			t.CheckMode = val
		case "diff":
			t.Diff = val
		case "no_log":
			t.NoLog = val
		case "vars":
			m, ok := val.(map[string]any)
			if !ok && val != nil {
				l.errf(pos(file, v), "task vars must be a mapping")
			}
			t.Vars = m
		case "until":
			t.Until = val
		case "retries":
			t.Retries = val
		case "delay":
			t.Delay = val
		case "delegate_to":
			t.DelegateTo = fmt.Sprint(val)
		case "delegate_facts":
			t.DelegateFacts, _ = val.(bool)
		case "run_once":
			t.RunOnce = val
		case "become":
			t.Become = val
		case "become_user":
			t.BecomeUser = fmt.Sprint(val)
		case "environment":
			t.Environment = val
		case "throttle":
			t.Throttle = val
		case "any_errors_fatal":
			t.AnyErrorsFatal = val
		case "args":
			argsNode = v
		case "block":
			t.Block = l.parseTaskList(file, dir, v, role, ref)
			if t.Block == nil {
				t.Block = []*Task{}
			}
		case "rescue":
			t.Rescue = l.parseTaskList(file, dir, v, role, ref)
		case "always":
			t.Always = l.parseTaskList(file, dir, v, role, ref)
		case "action", "local_action":
			if key == "local_action" {
				t.DelegateTo = "localhost"
			}
			s, ok := val.(string)
			if !ok {
				if m, isMap := val.(map[string]any); isMap {
					if mod, ok := m["module"].(string); ok {
						t.Action = mod
						delete(m, "module")
						t.Args = m
						continue
					}
				}
				l.errf(pos(file, v), "%s must be a string like 'copy src=a dest=b'", key)
				continue
			}
			mod, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
			t.Action = mod
			args, err := ParseKV(rest, freeFormKeys(mod))
			if err != nil {
				l.errf(pos(file, v), "%v", err)
			}
			t.Args = args
		default:
			// accepted keywords tend does not act on (async, poll, collections...)
		}
	}
	if t.Block != nil || t.Rescue != nil || t.Always != nil {
		if len(actionNodes) > 0 {
			l.errf(pos(file, actionNodes[0]), "%q is not a valid attribute for a Block", actionNodes[0].Value)
		}
		return t
	}
	if t.Action == "" {
		if len(actionNodes) == 0 {
			l.errf(t.Pos, "no module/action detected in task")
			return nil
		}
		var mods []*yaml.Node
		for i := 0; i < len(actionNodes); i += 2 {
			name := actionNodes[i].Value
			if l.IsModule == nil || l.IsModule(name) {
				mods = append(mods, actionNodes[i], actionNodes[i+1])
			} else {
				msg := fmt.Sprintf("couldn't resolve module/action '%s'", name)
				if near := nearestKey(name, taskKeys); near != "" {
					msg = fmt.Sprintf("unknown key %q in task (did you mean %q?)", name, near)
				} else if len(actionNodes) > 2 {
					msg += " (or it is a misspelled task keyword)"
				}
				l.errf(pos(file, actionNodes[i]), "task %q: %s", t.label(), msg)
			}
		}
		if len(mods) > 2 {
			l.errf(pos(file, mods[2]), "task %q: conflicting action statements: %s, %s", t.label(), mods[0].Value, mods[2].Value)
			return nil
		}
		if len(mods) == 0 {
			return nil
		}
		t.Action = mods[0].Value
		av := mods[1]
		switch {
		case av.Kind == yaml.MappingNode:
			m, err := decodeMap(av)
			if err != nil {
				l.errf(pos(file, av), "%v", err)
			}
			t.Args = m
			for i := 0; i+1 < len(av.Content); i += 2 {
				t.ArgsPos[av.Content[i].Value] = pos(file, av.Content[i])
			}
		case av.Kind == yaml.ScalarNode:
			val, _ := Decode(av)
			if val == nil {
				t.Args = map[string]any{}
				break
			}
			args, err := ParseKV(fmt.Sprint(val), freeFormKeys(t.Action))
			if err != nil {
				l.errf(pos(file, av), "task %q: %v", t.label(), err)
			}
			t.Args = args
		default:
			l.errf(pos(file, av), "task %q: module arguments must be a mapping or a k=v string", t.label())
		}
	}
	if t.Args == nil {
		t.Args = map[string]any{}
	}
	if argsNode != nil {
		m, err := decodeMap(argsNode)
		if err != nil {
			l.errf(pos(file, argsNode), "args: %v", err)
		}
		for k, v := range m {
			if _, ok := t.Args[k]; !ok {
				t.Args[k] = v
			}
		}
	}
	l.expandImport(t, role)
	return t
}

// ShortName strips a collection prefix: ansible.builtin.copy -> copy.
func ShortName(action string) string {
	if strings.HasPrefix(action, "ansible.builtin.") || strings.HasPrefix(action, "ansible.legacy.") {
		return action[strings.LastIndex(action, ".")+1:]
	}
	return action
}

// expandImport turns a static import_tasks or import_role into a block of the
// imported tasks, so when, tags and vars apply to every one of them.
func (l *Loader) expandImport(t *Task, role *Role) {
	switch ShortName(t.Action) {
	case "import_tasks":
		file, _ := t.Args["_raw_params"].(string)
		if f, ok := t.Args["file"].(string); ok {
			file = f
		}
		if file == "" {
			l.errf(t.Pos, "import_tasks needs a file name")
			return
		}
		if strings.Contains(file, "{{") {
			l.errf(t.Pos, "import_tasks %q: a static import cannot use variables; use include_tasks", file)
			return
		}
		path := ResolveTaskFile(t.Dir, role, file)
		t.Block = l.LoadTaskFile(path, role)
		if t.Block == nil {
			t.Block = []*Task{}
		}
	case "import_role":
		name, _ := t.Args["name"].(string)
		if name == "" {
			l.errf(t.Pos, "import_role needs name")
			return
		}
		str := func(k string) string { s, _ := t.Args[k].(string); return s }
		ref := &RoleRef{Pos: t.Pos, Name: name, TasksFrom: str("tasks_from"), VarsFrom: str("vars_from"),
			DefaultsFrom: str("defaults_from"), HandlersFrom: str("handlers_from"), Params: map[string]any{}}
		base := t.Dir
		if role != nil {
			base = filepath.Dir(role.Path)
		}
		ref.Role = l.LoadRole(name, base, t.Pos, ref.TasksFrom, ref.HandlersFrom, ref.VarsFrom, ref.DefaultsFrom)
		if ref.Role == nil {
			return
		}
		t.RoleRef = ref
		t.Block = ref.Role.Tasks
		if t.Block == nil {
			t.Block = []*Task{}
		}
	default:
		return
	}
	t.Imported = true
	t.Action = ""
}

// ResolveTaskFile finds an included task file the way Ansible does: relative
// to the including file's dir (a role's tasks/), then as given.
func ResolveTaskFile(dir string, role *Role, file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	cands := []string{filepath.Join(dir, file)}
	if role != nil {
		cands = append(cands, filepath.Join(role.Path, "tasks", file), filepath.Join(role.Path, file))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}

func (t *Task) label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Pos.String()
}

func (l *Loader) stringList(file string, n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	v, _ := Decode(n)
	return toStrings(v)
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		var out []string
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func asList(v any) []any {
	if v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func decodeMap(n *yaml.Node) (map[string]any, error) {
	if n == nil {
		return nil, nil
	}
	v, err := Decode(n)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a mapping, got %T", v)
	}
	return m, nil
}

func mapGet(n *yaml.Node, keys ...string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		for _, k := range keys {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "string"
	}
	return "document"
}

func nearestKey(s string, set map[string]bool) string {
	var names []string
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(s) < 3 {
		return ""
	}
	return module.Nearest(s, names)
}
