package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/template"
)

// tagsAllow applies -t/--skip-tags the way Ansible's evaluate_tags does.
func (r *Runner) tagsAllow(taskTags []string) bool {
	tags := map[string]bool{}
	for _, t := range taskTags {
		tags[t] = true
	}
	if len(tags) == 0 {
		tags["untagged"] = true
	}
	only := map[string]bool{}
	for _, t := range r.opts.Tags {
		only[t] = true
	}
	if len(only) == 0 {
		only["all"] = true
	}
	skip := map[string]bool{}
	for _, t := range r.opts.SkipTags {
		skip[t] = true
	}
	intersects := func(a, b map[string]bool) bool {
		for k := range a {
			if b[k] {
				return true
			}
		}
		return false
	}
	run := false
	switch {
	case tags["always"]:
		run = true
	case only["all"] && !tags["never"]:
		run = true
	case intersects(tags, only):
		run = true
	case only["tagged"] && !tags["untagged"] && !tags["never"]:
		run = true
	}
	if run && len(skip) > 0 {
		switch {
		case skip["all"]:
			if !tags["always"] || skip["always"] {
				run = false
			}
		case intersects(tags, skip):
			run = false
		case skip["tagged"] && !tags["untagged"]:
			run = false
		}
	}
	return run
}

// roleBlock turns a role reference into blocks: its dependencies first, then
// its own tasks; a role already run in this play with the same parameters is
// skipped unless it allows duplicates.
func (r *Runner) roleBlock(pl *play, ref *playbook.RoleRef) []*playbook.Task {
	if ref.Role == nil {
		return nil
	}
	key := ref.Role.Path + "|" + fmt.Sprint(ref.Params)
	if pl.roleSeen[key] && !ref.Role.AllowDuplicates {
		return nil
	}
	pl.roleSeen[key] = true
	var out []*playbook.Task
	for _, dep := range ref.Role.Deps {
		for _, b := range r.roleBlock(pl, dep) {
			// the parent's tags and conditions apply to its dependencies
			b.Tags = append(append([]string{}, ref.Tags...), b.Tags...)
			b.When = append(append([]any{}, ref.When...), b.When...)
			roleKeywords(b, ref.Params)
			out = append(out, b)
		}
	}
	r.addRoleHandlers(pl, ref, nil)
	block := &playbook.Task{Pos: ref.Pos, Block: ref.Role.Tasks, Imported: true, RoleRef: ref, When: ref.When, Tags: ref.Tags, Vars: ref.Vars}
	roleKeywords(block, ref.Params)
	out = append(out, block)
	return out
}

// roleKeywords sets the task keywords written on a play's role entry
// (`- role: x` with `become: true`, `environment:`, ...) on the block that
// holds the role's tasks, so they apply to each task, as in Ansible. A
// keyword the block already has is kept: a dependency's own entry wins over
// the role that depends on it.
func roleKeywords(block *playbook.Task, params map[string]any) {
	kw := map[string]any{}
	for k, v := range params {
		if name, ok := strings.CutPrefix(k, "__kw_"); ok {
			kw[name] = v
		}
	}
	blockKeywords(block, kw)
}

// blockKeywords sets the keywords in kw on block where it has none of its
// own: a role entry's keywords, or an include's apply:.
func blockKeywords(block *playbook.Task, kw map[string]any) {
	for k, v := range kw {
		setAny := func(f *any) {
			if *f == nil {
				*f = v
			}
		}
		setStr := func(f *string) {
			if *f == "" {
				*f = fmt.Sprint(v)
			}
		}
		switch k {
		case "become":
			setAny(&block.Become)
		case "become_user":
			setStr(&block.BecomeUser)
		case "delegate_to":
			setStr(&block.DelegateTo)
		case "environment":
			setAny(&block.Environment)
		case "ignore_errors":
			setAny(&block.IgnoreErrors)
		case "no_log":
			setAny(&block.NoLog)
		case "check_mode":
			setAny(&block.CheckMode)
		case "diff":
			setAny(&block.Diff)
		case "any_errors_fatal":
			setAny(&block.AnyErrorsFatal)
		case "tags":
			block.Tags = append(block.Tags, tagsOf(v)...)
		case "when":
			block.When = append(block.When, asConditions(v)...)
		case "vars":
			if m, ok := template.ToGo(v).(map[string]any); ok && block.Vars == nil {
				block.Vars = m
			}
		}
	}
}

// tagsOf reads a tags value: a list, or a comma-separated string.
func tagsOf(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	default:
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// asConditions reads a when value: a list of conditions or one.
func asConditions(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// addRoleHandlers adds a role's handlers to the play once.
func (r *Runner) addRoleHandlers(pl *play, ref *playbook.RoleRef, sc *scope) {
	if ref.Role == nil || len(ref.Role.Handlers) == 0 {
		return
	}
	found := false
	for _, h := range pl.handlers {
		// the same role (by directory: include_role loads it again at run
		// time) is in the play again: its handlers are not added twice and
		// see the latest parameters, as in Ansible
		if h.task.Role != nil && h.task.Role.Path == ref.Role.Path {
			c := *h.scope
			c.roleRef = ref
			h.scope = &c
			found = true
		}
	}
	if found {
		return
	}
	hs := playScope(pl, true)
	hs.role, hs.roleRef, hs.dir = ref.Role, ref, ref.Role.Path
	if sc != nil {
		c := *sc
		c.role, c.roleRef, c.handler, c.dir = ref.Role, ref, true, ref.Role.Path
		hs = &c
	}
	var role []*handler
	for _, t := range ref.Role.Handlers {
		role = append(role, &handler{task: t, scope: hs})
	}
	// role handlers go before the play's own handlers
	n := 0
	for n < len(pl.handlers) && pl.handlers[n].task.Role != nil {
		n++
	}
	pl.handlers = append(pl.handlers[:n], append(role, pl.handlers[n:]...)...)
}

// handlerNames lists the names a handler answers to.
func (r *Runner) handlerNames(pl *play, h *handler) []string {
	t := h.task
	var names []string
	if t.Name != "" {
		n := t.Name
		if template.IsTemplated(n) {
			if s, err := r.tmpl.RenderString(n, template.Vars(merge(pl.vars, r.opts.ExtraVars))); err == nil {
				n = s
			}
		}
		names = append(names, n)
		if t.Role != nil {
			names = append(names, t.Role.Name+" : "+n)
		}
	}
	names = append(names, t.Listen...)
	return names
}

// flushHandlers runs every notified handler, in the order they are defined,
// on the hosts that notified it. A name or listen topic notifies every
// handler that answers to it; a handler notified by another handler during
// the flush runs if it comes later in the list.
func (r *Runner) flushHandlers(ctx context.Context, pl *play) {
	consumed := map[*hostState]map[string]bool{}
	for _, h := range pl.handlers {
		if pl.stopped() {
			break
		}
		names := r.handlerNames(pl, h)
		var hosts []*hostState
		for _, hs := range r.handlerHosts(pl) {
			hs.mu.Lock()
			hit := false
			for _, n := range names {
				if hs.notified[n] {
					hit = true
				}
			}
			hs.mu.Unlock()
			if hit {
				hosts = append(hosts, hs)
				if consumed[hs] == nil {
					consumed[hs] = map[string]bool{}
				}
				for _, n := range names {
					consumed[hs][n] = true
				}
			}
		}
		if len(hosts) == 0 {
			continue
		}
		r.runTask(ctx, pl, h.scope, h.task, hosts)
	}
	for hs, names := range consumed {
		hs.mu.Lock()
		for n := range names {
			delete(hs.notified, n)
		}
		hs.mu.Unlock()
	}
}

// handlerHosts are the hosts a flush runs notified handlers on: those still
// in the play, and with force_handlers (the play keyword or
// --force-handlers) those that failed too, as Ansible does.
func (r *Runner) handlerHosts(pl *play) []*hostState {
	force, _ := boolish(pl.p.Unknown["force_handlers"])
	if !force && !r.opts.ForceHandlers {
		return active(pl.hosts)
	}
	var out []*hostState
	for _, hs := range pl.hosts {
		if !hs.unreach && !hs.ended {
			out = append(out, hs)
		}
	}
	return out
}

// runMeta handles meta: tasks.
func (r *Runner) runMeta(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hosts []*hostState) {
	what, _ := t.Args["_raw_params"].(string)
	what = strings.TrimSpace(what)
	r.opts.Sink.TaskStart(r.taskName(pl, sc, t, hosts[0]), sc.handler)
	var applies []*hostState
	for _, hs := range hosts {
		ok, err := r.when(sc, t, r.varsFor(hs, sc, t.Vars))
		if err != nil {
			r.record(pl, report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: "meta", Action: "meta", Status: report.StatusFailed, Msg: err.Error()})
			hs.failed = true
			continue
		}
		if ok {
			applies = append(applies, hs)
		}
	}
	switch what {
	case "flush_handlers":
		r.flushHandlers(ctx, pl)
	case "end_play":
		if len(applies) > 0 {
			pl.ended = true
		}
	case "end_host":
		for _, hs := range applies {
			hs.ended = true
		}
	case "end_batch":
		if len(applies) > 0 {
			pl.batchEnded = true
		}
	case "clear_facts":
		// the gathered and cached facts go; set_fact variables and
		// registered results stay, as in Ansible
		for _, hs := range applies {
			hs.mu.Lock()
			hs.facts, hs.plainFacts = nil, nil
			hs.mu.Unlock()
		}
	case "clear_host_errors":
		// in ansible-core 2.14 a host that failed has left the play's
		// host list before this runs, so it stays out: nothing to do
	case "noop", "refresh_inventory", "reset_connection", "":
	default:
		for _, hs := range applies {
			r.record(pl, report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: "meta", Action: "meta", Status: report.StatusFailed, Msg: fmt.Sprintf("invalid meta action requested: %s", what)})
			hs.failed = true
		}
	}
}

type includeJob struct {
	hs    *hostState
	path  string // include_tasks
	role  *playbook.RoleRef
	vars  map[string]any
	apply map[string]any // keywords for the included tasks
}

// runInclude runs include_tasks and include_role: decided per host at run time.
func (r *Runner) runInclude(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hosts []*hostState, action string) {
	r.opts.Sink.TaskStart(r.taskName(pl, sc, t, hosts[0]), sc.handler)
	var jobs []includeJob
	for _, hs := range hosts {
		vars := r.varsFor(hs, sc, t.Vars)
		if err := r.connect(ctx, hs, vars); err != nil {
			r.record(pl, report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: t.Name, Action: t.Action, Status: report.StatusUnreachable, Msg: err.Error()})
			continue
		}
		items := []any{nil}
		loopVar := "item"
		if t.LoopKind != "" {
			var err error
			items, err = r.loopItems(t, vars)
			if err != nil {
				r.includeFail(pl, t, hs, err.Error())
				continue
			}
			if lc := t.LoopControl; lc != nil {
				if s, ok := lc["loop_var"].(string); ok {
					loopVar = s
				}
			}
		}
		var loopItems []report.TaskResult
		for _, item := range items {
			ivars := vars
			extra := map[string]any{}
			for k, v := range t.Vars {
				extra[k] = v
			}
			if t.LoopKind != "" {
				extra[loopVar] = item
				ivars = template.Vars(merge(vars, extra))
			}
			ok, err := r.when(sc, t, ivars)
			if err != nil {
				r.includeFail(pl, t, hs, err.Error())
				break
			}
			if !ok {
				r.record(pl, report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: t.Name, Action: t.Action, Status: report.StatusSkipped, Item: item, Start: time.Now()})
				continue
			}
			args, err := r.renderArgs(t.Args, ivars)
			if err != nil {
				r.includeFail(pl, t, hs, err.Error())
				break
			}
			job := includeJob{hs: hs, vars: extra}
			if a, ok := args["apply"].(map[string]any); ok {
				job.apply = a
			}
			if action == "include_role" {
				name, _ := args["name"].(string)
				str := func(k string) string { s, _ := args[k].(string); return s }
				ref := &playbook.RoleRef{Pos: t.Pos, Name: name, TasksFrom: str("tasks_from"), VarsFrom: str("vars_from"),
					DefaultsFrom: str("defaults_from"), HandlersFrom: str("handlers_from"), Params: map[string]any{}}
				base := pl.pb.Dir
				if sc.role != nil {
					base = filepath.Dir(sc.role.Path)
				}
				nerr := len(r.loader.Errs)
				ref.Role = r.loader.LoadRole(name, base, t.Pos, ref.TasksFrom, ref.HandlersFrom, ref.VarsFrom, ref.DefaultsFrom)
				if len(r.loader.Errs) > nerr || ref.Role == nil {
					r.includeFail(pl, t, hs, r.loader.Errs[nerr:].Error())
					r.loader.Errs = r.loader.Errs[:nerr]
					break
				}
				if err := r.confine(ref.Role.Path); err != nil {
					r.includeFail(pl, t, hs, err.Error())
					break
				}
				if pub, _ := boolish(args["public"]); pub {
					ref.Public = true
				}
				job.role = ref
			} else {
				file, _ := args["file"].(string)
				if file == "" {
					file, _ = args["_raw_params"].(string)
				}
				role := sc.role
				if role == nil {
					role = t.Role
				}
				job.path = playbook.ResolveTaskFile(t.Dir, role, file)
				if err := r.confine(job.path); err != nil {
					r.includeFail(pl, t, hs, err.Error())
					break
				}
				for k, v := range args {
					if k != "file" && k != "_raw_params" && k != "apply" {
						job.vars[k] = v
					}
				}
			}
			res := report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: t.Name, Action: t.Action, Status: report.StatusOK, Start: time.Now(),
				Values: map[string]any{"_tend_included": job.path}}
			if t.LoopKind != "" {
				res.Item = item
			}
			if t.LoopKind != "" {
				loopItems = append(loopItems, res)
			} else {
				r.record(pl, res)
				if action == "include_role" {
					hs.recap.OK-- // Ansible does not count include_role in the recap
				}
			}
			jobs = append(jobs, job)
		}
		if t.LoopKind != "" && len(loopItems) > 0 {
			// one result with items, as Ansible reports a looped include
			agg := report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: t.Name, Action: t.Action, Status: report.StatusOK, Start: time.Now(), Items: loopItems}
			r.record(pl, agg)
			if action == "include_role" {
				hs.recap.OK--
			} else {
				hs.recap.OK += len(loopItems) - 1 // each included file counts, as in Ansible
			}
		}
	}
	for _, j := range jobs {
		if j.hs.failed || j.hs.unreach || pl.stopped() {
			continue
		}
		c := *sc
		c.parent = sc
		c.vars = j.vars
		// an include's own when and tags do not pass to its tasks
		if j.role != nil {
			c.role, c.roleRef, c.dir = j.role.Role, j.role, j.role.Role.Path
			r.addRoleHandlers(pl, j.role, &c)
			// include_role runs the role every time (no dedup), deps first
			var tasks []*playbook.Task
			for _, dep := range j.role.Role.Deps {
				tasks = append(tasks, r.roleBlock(pl, dep)...)
			}
			tasks = append(tasks, &playbook.Task{Pos: j.role.Pos, Block: j.role.Role.Tasks, Imported: true, RoleRef: j.role})
			// the role block re-sets roleRef; run with the include's vars
			r.runListOn(ctx, pl, &c, applied(j, tasks), []*hostState{j.hs})
			if j.role.Public {
				// public: its defaults and vars are the play's from now on
				pl.addRole(j.role.Role)
			}
			continue
		}
		nerr := len(r.loader.Errs)
		role := sc.role
		tasks := r.loader.LoadTaskFile(j.path, role)
		if len(r.loader.Errs) > nerr {
			r.includeFail(pl, t, j.hs, r.loader.Errs[nerr:].Error())
			r.loader.Errs = r.loader.Errs[:nerr]
			j.hs.failed = true
			continue
		}
		for _, tk := range tasks {
			if tk.Dir == "" {
				tk.Dir = filepath.Dir(j.path)
			}
		}
		r.runListOn(ctx, pl, &c, applied(j, tasks), []*hostState{j.hs})
	}
}

// applied wraps an include's tasks in a block with the keywords of its
// apply: (tags, when, become, ...), as Ansible does; without apply: they
// run as they are.
func applied(j includeJob, tasks []*playbook.Task) []*playbook.Task {
	if len(j.apply) == 0 {
		return tasks
	}
	block := &playbook.Task{Block: tasks}
	if len(tasks) > 0 {
		block.Pos, block.Dir = tasks[0].Pos, tasks[0].Dir
	}
	blockKeywords(block, j.apply)
	return []*playbook.Task{block}
}

func (r *Runner) includeFail(pl *play, t *playbook.Task, hs *hostState, msg string) {
	res := report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: t.Name, Action: t.Action, Status: report.StatusFailed, Msg: msg, Start: time.Now()}
	if ig, _ := boolish(t.IgnoreErrors); ig {
		res.Ignored = true
	} else {
		hs.failed = true
	}
	r.record(pl, res)
}
