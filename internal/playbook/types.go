// Package playbook turns Ansible playbooks, task files and roles into typed
// values with positions (file:line:col). It is pure parsing: it reads only the
// files it is asked for (and the static imports they name) and never touches
// a host. Dynamic includes (include_tasks, include_role) are resolved by the
// engine at run time through the same loaders.
package playbook

import (
	"fmt"
	"strings"
)

// Pos is a position in a source file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	if p.Col == 0 { // YAML syntax errors carry a line only
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is a parse or validation error at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors collects every problem found, so `tend validate` reports them all.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns nil for an empty list (and the list otherwise).
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Playbook is a parsed playbook file with its imported playbooks flattened.
type Playbook struct {
	Path  string
	Dir   string
	Plays []*Play
}

// Play is one play.
type Play struct {
	Pos            Pos
	Name           string
	Hosts          string
	Dir            string // directory of the playbook file that holds the play
	Vars           map[string]any
	VarsOrder      []string
	VarsFiles      []any
	GatherFacts    *bool
	Tags           []string
	PreTasks       []*Task
	Roles          []*RoleRef
	Tasks          []*Task
	PostTasks      []*Task
	Handlers       []*Task
	Become         any
	BecomeUser     string
	RemoteUser     string
	Connection     string
	Serial         any
	MaxFailPct     any
	AnyErrorsFatal bool
	IgnoreErrors   any
	CheckMode      any
	Diff           any
	Environment    any
	Strategy       string
	Unknown        map[string]any // accepted keys tend ignores (vars_prompt, collections, ...)
}

// RoleRef is a role named in a play's roles: or by import_role/include_role.
type RoleRef struct {
	Pos    Pos
	Name   string
	Params map[string]any
	When   []any
	Tags   []string
	Vars   map[string]any
	Role   *Role // resolved
	// TasksFrom etc. come from import_role/include_role arguments.
	TasksFrom, VarsFrom, DefaultsFrom, HandlersFrom string
	Public                                          bool
	AllowDuplicates                                 bool
}

// Role is a loaded role directory.
type Role struct {
	Name            string
	Path            string
	Tasks           []*Task
	Handlers        []*Task
	Defaults        map[string]any
	Vars            map[string]any
	Deps            []*RoleRef
	AllowDuplicates bool
}

// LoopKind says how a task's loop is written.
type LoopKind string

// Task is one task, block or handler.
type Task struct {
	Pos     Pos
	Name    string
	Action  string         // module name as written (may be FQCN); "" for a block
	Args    map[string]any // module arguments; free-form text is in "_raw_params"
	ArgsPos map[string]Pos

	Block, Rescue, Always []*Task

	When              []any
	Loop              any
	LoopKind          string // "loop", "with_items", "with_dict", ... ("" = none)
	LoopControl       map[string]any
	Register          string
	Notify            []string
	Listen            []string
	ChangedWhen       []any
	FailedWhen        []any
	IgnoreErrors      any
	IgnoreUnreachable any
	Tags              []string
	CheckMode         any
	Diff              any
	NoLog             any
	Vars              map[string]any
	Until             any
	Retries           any
	Delay             any
	DelegateTo        string
	DelegateFacts     bool
	RunOnce           any
	Become            any
	BecomeUser        string
	Environment       any
	Throttle          any
	AnyErrorsFatal    any

	// Role is set on tasks that come from a role.
	Role *Role
	// RoleRef is the reference that brought the role in (params).
	RoleRef *RoleRef
	// Dir is the directory relative paths of includes resolve against.
	Dir string
	// Static import children (import_tasks, import_role) are expanded into
	// Block with Imported set, so tags and when apply to every child.
	Imported bool
}

// IsBlock reports whether the task is a block.
func (t *Task) IsBlock() bool {
	return t.Action == "" && (t.Block != nil || t.Rescue != nil || t.Always != nil)
}

// DisplayName is the name Ansible prints in TASK [...].
func (t *Task) DisplayName() string {
	n := t.Name
	if n == "" {
		n = t.Action
	}
	if t.Role != nil {
		return t.Role.Name + " : " + n
	}
	return n
}
