package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/playbook"
)

// Validate checks a parsed playbook before anything runs: every action is
// known and every module argument name is accepted, and required arguments
// are present. Values that are templated are checked at run time.
func Validate(pb *playbook.Playbook) playbook.Errors {
	var errs playbook.Errors
	seen := map[*playbook.Task]bool{}
	walk := func(ts []*playbook.Task) {
		eachTask(seen, ts, func(t *playbook.Task) {
			if t.Action == "" {
				return
			}
			if err := validateTask(t); err != nil {
				errs = append(errs, &playbook.Error{Pos: t.Pos, Msg: err.Error()})
			}
		})
	}
	var walkRole func(ref *playbook.RoleRef)
	walkRole = func(ref *playbook.RoleRef) {
		if ref == nil || ref.Role == nil {
			return
		}
		for _, d := range ref.Role.Deps {
			walkRole(d)
		}
		walk(ref.Role.Tasks)
		walk(ref.Role.Handlers)
	}
	for _, p := range pb.Plays {
		if _, err := playOrder(nil, p.Unknown["order"]); err != nil {
			errs = append(errs, &playbook.Error{Pos: p.Pos, Msg: err.Error()})
		}
		walk(p.PreTasks)
		walk(p.Tasks)
		walk(p.PostTasks)
		walk(p.Handlers)
		for _, ref := range p.Roles {
			walkRole(ref)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return errs
}

// eachTask calls fn once for every task in ts and in the blocks, rescues
// and always sections inside them; seen carries what was visited over
// several calls (a task file imported twice is the same tasks).
func eachTask(seen map[*playbook.Task]bool, ts []*playbook.Task, fn func(*playbook.Task)) {
	for _, t := range ts {
		if seen[t] {
			continue
		}
		seen[t] = true
		eachTask(seen, t.Block, fn)
		eachTask(seen, t.Rescue, fn)
		eachTask(seen, t.Always, fn)
		fn(t)
	}
}

func validateTask(t *playbook.Task) error {
	short := playbook.ShortName(t.Action)
	spec, ok := actionSpecs[short]
	if !ok {
		if _, isEngine := engineActions[short]; isEngine {
			return nil // free-form actions (set_fact) take any key
		}
		info, found := module.Lookup(t.Action)
		if !found {
			if controlActions[short] {
				return nil
			}
			return fmt.Errorf("task %q: couldn't resolve module/action '%s'", label(t), t.Action)
		}
		if info.Spec == nil {
			return nil
		}
		spec = info.Spec
		if _, raw := t.Args["_raw_params"]; raw && info.FreeForm == "" {
			return fmt.Errorf("task %q: module %s does not take free-form arguments (got %q)", label(t), short, t.Args["_raw_params"])
		}
	}
	var keys []string
	for k := range t.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	problems = append(problems, spec.UnknownKeys(keys)...)
	if _, raw := t.Args["_raw_params"]; !raw || short != "include_tasks" {
		if miss := spec.MissingKeys(keys); len(miss) > 0 && !(short == "include_tasks") {
			problems = append(problems, "missing required arguments: "+strings.Join(miss, ", "))
		}
	}
	// literal (untemplated) values must convert to their declared types
	for _, k := range keys {
		name, ok := spec.Canonical(k)
		if !ok {
			continue
		}
		v := t.Args[k]
		if s, isStr := v.(string); isStr && strings.Contains(s, "{{") {
			continue
		}
		if containsTemplate(v) || hasVault(v) {
			continue // decrypted and checked when the task runs
		}
		p := spec[name]
		cv, err := module.Convert(v, p.Type, p.Elements)
		if err != nil {
			problems = append(problems, fmt.Sprintf("argument %q: %v (got %v)", k, err, v))
			continue
		}
		if len(p.Choices) > 0 {
			if _, err := (module.Spec{name: p}).Validate(map[string]any{name: cv}); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("task %q (%s): %s", label(t), t.Action, strings.Join(problems, "; "))
	}
	return nil
}

func containsTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "{{") || strings.Contains(x, "{%")
	case []any:
		for _, e := range x {
			if containsTemplate(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if containsTemplate(e) {
				return true
			}
		}
	}
	return false
}

func label(t *playbook.Task) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Action
}
