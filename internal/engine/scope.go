package engine

import (
	"github.com/tend-project/tend/internal/playbook"
)

// scope is what a task inherits from the blocks, imports, includes and
// roles around it.
type scope struct {
	play    *play
	parent  *scope
	role    *playbook.Role
	roleRef *playbook.RoleRef
	vars    map[string]any // block vars, include params, loop item of an include
	when    []any          // conditions of enclosing blocks/imports, checked per task
	tags    []string
	dir     string
	handler bool

	ignoreErrors, checkMode, diff, noLog, become any
	becomeUser, delegateTo                       string
	anyErrorsFatal                               any
	// envs are the `environment:` values from the play down to the
	// innermost block, merged in that order when a task runs
	envs []any
}

// playScope is the scope a play's tasks (or its handlers) start in: the
// play's keywords apply to every task in it unless a task says otherwise.
func playScope(pl *play, handler bool) *scope {
	p := pl.p
	sc := &scope{play: pl, dir: p.Dir, tags: p.Tags, handler: handler,
		ignoreErrors: p.IgnoreErrors, diff: p.Diff, noLog: p.Unknown["no_log"]}
	if p.Environment != nil {
		sc.envs = []any{p.Environment}
	}
	return sc
}

// child returns the scope for the tasks inside t (a block or an import).
func (s *scope) child(t *playbook.Task) *scope {
	c := *s
	c.parent = s
	c.vars = t.Vars
	c.when = append(append([]any{}, s.when...), t.When...)
	c.tags = append(append([]string{}, s.tags...), t.Tags...)
	if t.IgnoreErrors != nil {
		c.ignoreErrors = t.IgnoreErrors
	}
	if t.CheckMode != nil {
		c.checkMode = t.CheckMode
	}
	if t.Diff != nil {
		c.diff = t.Diff
	}
	if t.NoLog != nil {
		c.noLog = t.NoLog
	}
	if t.Become != nil {
		c.become = t.Become
	}
	if t.BecomeUser != "" {
		c.becomeUser = t.BecomeUser
	}
	if t.Environment != nil {
		c.envs = append(append([]any{}, s.envs...), t.Environment)
	}
	if t.DelegateTo != "" {
		c.delegateTo = t.DelegateTo
	}
	if t.AnyErrorsFatal != nil {
		c.anyErrorsFatal = t.AnyErrorsFatal
	}
	if t.RoleRef != nil {
		c.role = t.RoleRef.Role
		c.roleRef = t.RoleRef
		c.dir = t.RoleRef.Role.Path
	}
	return &c
}

// roles lists the roles from the outermost to the current one.
func (s *scope) roles() []*playbook.RoleRef {
	var out []*playbook.RoleRef
	for c := s; c != nil; c = c.parent {
		if c.roleRef != nil && (len(out) == 0 || out[0] != c.roleRef) {
			out = append([]*playbook.RoleRef{c.roleRef}, out...)
		}
	}
	return out
}

// varLayers lists the scope vars from the outermost to the innermost.
func (s *scope) varLayers() []map[string]any {
	var out []map[string]any
	for c := s; c != nil; c = c.parent {
		if c.vars != nil {
			out = append([]map[string]any{c.vars}, out...)
		}
	}
	return out
}
