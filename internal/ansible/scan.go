package ansible

import (
	"path/filepath"
	"strings"

	"github.com/tend-project/tend/internal/playbook"
)

// Need is one task whose action tend does not implement natively.
type Need struct {
	Playbook string
	Play     string
	Action   string
	Task     string
	Pos      playbook.Pos
}

// Reason says why the task needs Ansible, for `tend validate`.
func (n Need) Reason() string {
	return "module " + n.Action + " is not native (task " + quote(n.Task) + " at " + n.Pos.String() + ")"
}

func quote(s string) string { return `"` + s + `"` }

// anyModule accepts every action name: the loader then parses tasks of
// modules tend lacks instead of rejecting them. A misspelled task keyword
// parses as a module too; Ansible reports it when the play runs.
func anyModule(string) bool { return true }

// Scan parses the playbooks with a loader that accepts any module name and
// lists, per play, the tasks whose action native(action) rejects. Static
// includes are followed; include_tasks and include_role with a literal file
// or role name are loaded and scanned as well (a templated one cannot be
// known before the run). The error is the parse errors of the playbooks
// (playbook.Errors), for problems that are not about module names.
func Scan(paths, rolesPath []string, native func(string) bool) ([]Need, error) {
	var needs []Need
	var errs playbook.Errors
	for _, path := range paths {
		l := playbook.NewLoader(anyModule)
		l.RolesPath = rolesPath
		pb := l.LoadPlaybook(path)
		if pb != nil {
			s := scanner{l: l, native: native, pb: pb, seen: map[*playbook.Task]bool{}, files: map[string]bool{}, roles: map[*playbook.Role]bool{}}
			for _, p := range pb.Plays {
				s.play = p
				s.tasks(p.PreTasks, nil)
				for _, r := range p.Roles {
					s.role(r)
				}
				s.tasks(p.Tasks, nil)
				s.tasks(p.PostTasks, nil)
				s.tasks(p.Handlers, nil)
			}
			needs = append(needs, s.needs...)
		}
		errs = append(errs, l.Errs...)
	}
	return needs, errs.Err()
}

type scanner struct {
	l      *playbook.Loader
	native func(string) bool
	pb     *playbook.Playbook
	play   *playbook.Play
	seen   map[*playbook.Task]bool
	files  map[string]bool
	roles  map[*playbook.Role]bool
	needs  []Need
}

func (s *scanner) role(ref *playbook.RoleRef) {
	if ref == nil || ref.Role == nil || s.roles[ref.Role] {
		return
	}
	s.roles[ref.Role] = true
	for _, d := range ref.Role.Deps {
		s.role(d)
	}
	s.tasks(ref.Role.Tasks, ref.Role)
	s.tasks(ref.Role.Handlers, ref.Role)
}

func (s *scanner) tasks(ts []*playbook.Task, role *playbook.Role) {
	for _, t := range ts {
		if t == nil || s.seen[t] {
			continue
		}
		s.seen[t] = true
		r := role
		if t.Role != nil {
			r = t.Role
		}
		s.tasks(t.Block, r)
		s.tasks(t.Rescue, r)
		s.tasks(t.Always, r)
		if t.Action == "" {
			continue
		}
		switch playbook.ShortName(t.Action) {
		case "include_tasks":
			s.include(t, r)
		case "include_role":
			s.includeRole(t, r)
		}
		if !s.native(t.Action) {
			s.needs = append(s.needs, Need{Playbook: s.pb.Path, Play: playName(s.play), Action: t.Action, Task: t.DisplayName(), Pos: t.Pos})
		}
	}
}

func literal(v any) (string, bool) {
	str, ok := v.(string)
	if !ok || str == "" || strings.Contains(str, "{{") || strings.Contains(str, "{%") {
		return "", false
	}
	return str, true
}

func (s *scanner) include(t *playbook.Task, role *playbook.Role) {
	file, ok := literal(t.Args["file"])
	if !ok {
		if file, ok = literal(t.Args["_raw_params"]); !ok {
			return
		}
	}
	path := playbook.ResolveTaskFile(t.Dir, role, file)
	if s.files[path] {
		return
	}
	s.files[path] = true
	nerr := len(s.l.Errs)
	ts := s.l.LoadTaskFile(path, role)
	// a missing include is the run's error to report, not the scan's
	s.l.Errs = s.l.Errs[:nerr]
	s.tasks(ts, role)
}

func (s *scanner) includeRole(t *playbook.Task, role *playbook.Role) {
	name, ok := literal(t.Args["name"])
	if !ok {
		return
	}
	str := func(k string) string { v, _ := literal(t.Args[k]); return v }
	base := s.pb.Dir
	if role != nil {
		base = filepath.Dir(role.Path)
	}
	nerr := len(s.l.Errs)
	r := s.l.LoadRole(name, base, t.Pos, str("tasks_from"), str("handlers_from"), str("vars_from"), str("defaults_from"))
	s.l.Errs = s.l.Errs[:nerr]
	if r != nil {
		s.role(&playbook.RoleRef{Name: name, Role: r})
	}
}

func playName(p *playbook.Play) string {
	if p.Name != "" {
		return p.Name
	}
	return p.Hosts
}

// Parse parses one playbook (and its static imports and roles) with a
// loader that accepts any module name.
func Parse(path string, rolesPath []string) (*playbook.Playbook, error) {
	l := playbook.NewLoader(anyModule)
	l.RolesPath = rolesPath
	pb := l.LoadPlaybook(path)
	return pb, l.Errs.Err()
}
