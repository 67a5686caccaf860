// Package module defines what a tend module is: a typed argument spec that the
// engine validates before any change, and one Run that compares the desired
// state with the host's and, unless in check mode, applies only the
// difference. The same Run is check mode, --diff and drift detection.
package module

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/host"
)

// Module is one built-in module instance. Run is called once per task (and
// per loop item) with validated args.
type Module interface {
	Run(ctx context.Context, t *Task) (Result, error)
}

// Info describes a built-in module.
type Info struct {
	// Name is the short name ("copy"); the FQCN "ansible.builtin.copy" and
	// Aliases resolve to it too.
	Name    string
	Aliases []string
	// Spec is the argument spec; nil means the module takes free-form args
	// (command/shell: "_raw_params").
	Spec Spec
	// FreeForm names the parameter a `k=v` free-form string's bare words go to
	// ("_raw_params" for command/shell), empty when not allowed.
	FreeForm string
	// New returns a fresh module.
	New func() Module
	// Kind is the drift kind of the resources it manages: file, package,
	// service, user or other.
	Kind string
}

// Task is what a module sees of the task it runs for.
type Task struct {
	Host  host.Host // read-only in check mode
	Args  Args
	Check bool // check mode: report, change nothing
	Diff  bool // produce Result.Diff
	// Render templates a string with the task's variables (template module).
	Render func(text string) (string, error)
	// Find resolves a relative src for copy/template/script the way Ansible
	// does (role files/ or templates/, then playbook dir); kind is "files" or
	// "templates". It returns an absolute path on the controller.
	Find func(kind, rel string) (string, error)
	// ReadLocal reads a file on the controller (where the playbook is).
	ReadLocal func(path string) ([]byte, error)
	// Vars gives read access to the task's variables (set_fact and debug use
	// the engine directly; modules rarely need this).
	Vars map[string]any
	Log  *slog.Logger
	// Backup stores a copy of a file before a change (state_dir backups); nil
	// when not configured.
	Backup func(ctx context.Context, path string) error
}

// Result is the outcome of one module run.
type Result struct {
	Changed bool
	Failed  bool
	Skipped bool
	Msg     string
	// Diffs, one per changed resource, shown under --diff.
	Diffs []Diff
	// Values are the module's return values (path, mode, stat, rc, stdout,
	// ...), available through register.
	Values map[string]any
	// Resources are what this run looked at, for drift reports.
	Resources []Resource
}

// Diff is a before/after pair, as Ansible's diff dicts.
type Diff struct {
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
	Before       string `json:"before"`
	After        string `json:"after"`
}

// Resource names one managed thing and what differs on it.
type Resource struct {
	Kind    string   `json:"kind"` // file, package, service, user, other
	ID      string   `json:"id"`   // path, package name, unit, user
	Differs []string `json:"differs,omitempty"`
}

// Failf returns a failed Result with a message, as modules' fail_json.
func Failf(format string, a ...any) Result {
	return Result{Failed: true, Msg: fmt.Sprintf(format, a...)}
}

// ---- argument specs ----

// Type is an argument's type, as Ansible's argument_spec types.
type Type int

const (
	TypeStr Type = iota
	TypeBool
	TypeInt
	TypeFloat
	TypeList
	TypeDict
	TypePath // str, with ~ expanded
	TypeRaw  // anything, passed as is
	TypeMode // octal string, int, or symbolic (u+x)
)

func (t Type) String() string {
	return [...]string{"str", "bool", "int", "float", "list", "dict", "path", "raw", "mode"}[t]
}

// Param is one argument of a module.
type Param struct {
	Type     Type
	Required bool
	Default  any
	Choices  []string
	Aliases  []string
	Elements Type // for lists
	NoLog    bool
}

// Spec maps argument names to their definitions.
type Spec map[string]Param

// Canonical returns the parameter name that key (a name or alias) refers to.
func (s Spec) Canonical(key string) (string, bool) {
	if _, ok := s[key]; ok {
		return key, true
	}
	for name, p := range s {
		for _, a := range p.Aliases {
			if a == key {
				return name, true
			}
		}
	}
	return "", false
}

// Names lists the accepted names, sorted, for error messages.
func (s Spec) Names() []string {
	var n []string
	for k, p := range s {
		n = append(n, k)
		n = append(n, p.Aliases...)
	}
	sort.Strings(n)
	return n
}

// ---- registry ----

var registry = map[string]*Info{}

// Register adds a built-in module. A duplicate name panics: it is a
// programming error that must show at start.
func Register(info Info) {
	names := append([]string{info.Name, "ansible.builtin." + info.Name, "ansible.legacy." + info.Name}, info.Aliases...)
	for _, n := range names {
		if _, dup := registry[n]; dup {
			panic("module registered twice: " + n)
		}
		i := info
		registry[n] = &i
	}
}

// Lookup finds a module by short name, FQCN or alias.
func Lookup(name string) (*Info, bool) {
	i, ok := registry[name]
	return i, ok
}

// Names lists every registered short name, sorted.
func Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, i := range registry {
		if !seen[i.Name] {
			seen[i.Name] = true
			out = append(out, i.Name)
		}
	}
	sort.Strings(out)
	return out
}

// IsModule reports whether name is a known module (used when parsing a task
// to find which key is the action).
func IsModule(name string) bool {
	_, ok := registry[name]
	return ok
}

// ParseMode turns a mode argument (0644, "0644", "644", "u+rwx,g-w") into a
// permission, given the current mode for symbolic forms.
func ParseMode(v any, current fs.FileMode, isDir bool) (fs.FileMode, error) {
	switch m := v.(type) {
	case int:
		// YAML 0644 is already octal-decoded to 420; Ansible treats an int
		// as the decimal value of an octal literal.
		return fs.FileMode(m) & 07777, nil
	case string:
		s := strings.TrimSpace(m)
		if s == "" {
			return 0, fmt.Errorf("empty mode")
		}
		if s[0] >= '0' && s[0] <= '7' {
			var n uint64
			for _, c := range s {
				if c < '0' || c > '7' {
					return 0, fmt.Errorf("mode %q must be octal or symbolic", s)
				}
				n = n*8 + uint64(c-'0')
			}
			if n > 07777 {
				return 0, fmt.Errorf("mode %q is out of range", s)
			}
			return fs.FileMode(n), nil
		}
		return symbolicMode(s, current, isDir)
	}
	return 0, fmt.Errorf("mode must be a string or an integer, got %T", v)
}
