package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/template"
)

// runList runs tasks in order over the play's active hosts (Ansible's linear
// strategy: each task on every host before the next task).
func (r *Runner) runList(ctx context.Context, pl *play, sc *scope, tasks []*playbook.Task) {
	for _, t := range tasks {
		if pl.stopped() || ctx.Err() != nil {
			return
		}
		hosts := active(pl.hosts)
		if len(hosts) == 0 {
			return
		}
		r.runTask(ctx, pl, sc, t, hosts)
	}
}

// runListOn runs tasks only on the given hosts (blocks, rescue, includes).
func (r *Runner) runListOn(ctx context.Context, pl *play, sc *scope, tasks []*playbook.Task, hosts []*hostState) {
	for _, t := range tasks {
		if pl.stopped() || ctx.Err() != nil {
			return
		}
		act := active(hosts)
		if len(act) == 0 {
			return
		}
		r.runTask(ctx, pl, sc, t, act)
	}
}

func (r *Runner) runTask(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hosts []*hostState) {
	if t.IsBlock() || t.Imported {
		r.runBlock(ctx, pl, sc, t, hosts)
		return
	}
	tags := append(append([]string{}, sc.tags...), t.Tags...)
	if !r.tagsAllow(tags) {
		return
	}
	if !r.startReached(pl, sc, t) {
		return
	}
	action := playbook.ShortName(t.Action)
	switch action {
	case "include_tasks", "include", "include_role":
		r.runInclude(ctx, pl, sc, t, hosts, action)
		return
	case "meta":
		r.runMeta(ctx, pl, sc, t, hosts)
		return
	}
	name := r.taskName(pl, sc, t, hosts[0])
	r.opts.Sink.TaskStart(name, sc.handler)
	runOnce, _ := boolish(t.RunOnce)
	if action == "add_host" {
		runOnce = true // it runs once per task, not per host (BYPASS_HOST_LOOP)
	}
	targets := hosts
	if runOnce {
		targets = hosts[:1]
	}
	throttle, _ := r.intValue(t.Throttle, template.Vars(merge(pl.vars, r.opts.ExtraVars)))
	results := r.parallelN(ctx, throttle, targets, func(hs *hostState) report.TaskResult {
		return r.runOnHost(ctx, pl, sc, t, hs, name)
	})
	if action == "group_by" || action == "add_host" {
		r.inventoryChanges(pl, t, targets, results)
	}
	if t.DelegateFacts {
		r.delegatedFacts(ctx, pl, results)
	}
	if runOnce && len(results) == 1 {
		// the result (and register/set_fact) applies to every host
		for _, hs := range hosts[1:] {
			res := results[0]
			res.Host = hs.name
			r.applyEffects(pl, sc, t, hs, res)
		}
	}
	fatal := false
	ignoreUnreachable, _ := boolish(firstNonNil(t.IgnoreUnreachable, pl.p.Unknown["ignore_unreachable"]))
	for i, res := range results {
		hs := targets[i]
		if res.Status == report.StatusUnreachable && ignoreUnreachable {
			res.Ignored = true // the host stays in the play,
			hs.connErr = nil   // and the next task tries to connect again
		}
		r.record(pl, res)
		if res.Status == report.StatusFailed && !res.Ignored {
			hs.failed = true
			hs.mu.Lock()
			hs.lastFailedTask = map[string]any{"name": t.Name, "action": t.Action, "role": res.Role}
			hs.lastFailedResult = registered(res)
			hs.mu.Unlock()
			if b, _ := boolish(firstNonNil(t.AnyErrorsFatal, sc.anyErrorsFatal)); b || pl.p.AnyErrorsFatal {
				fatal = true
			}
		}
	}
	if fatal {
		for _, hs := range pl.hosts {
			hs.failed = true
		}
	}
	r.checkMaxFail(pl)
}

// inventoryChanges makes the changes group_by and add_host described, now
// that no host is running the task (the inventory is read concurrently
// while one runs), and marks each result changed when its change was new,
// as Ansible's strategy does. A host whose groups changed sees the new
// groups' variables from the next task on.
func (r *Runner) inventoryChanges(pl *play, t *playbook.Task, targets []*hostState, results []report.TaskResult) {
	inv := r.opts.Inventory
	regroup := map[*hostState]bool{}
	apply := func(hs *hostState, res *report.TaskResult) {
		if res.Status != report.StatusOK {
			return
		}
		var changed bool
		var err error
		if g, ok := res.Values["add_group"].(string); ok {
			var parents []string
			for _, p := range res.Values["parent_groups"].([]any) {
				parents = append(parents, p.(string))
			}
			changed, err = inv.AddToGroup(hs.name, g, parents)
			regroup[hs] = regroup[hs] || changed
		} else if h, ok := res.Values["add_host"].(map[string]any); ok {
			var groups []string
			for _, g := range h["groups"].([]any) {
				groups = append(groups, template.String(g))
			}
			name := h["host_name"].(string)
			changed, err = inv.AddHost(name, groups, h["host_vars"].(map[string]any))
			if known, ok := r.hosts[name]; ok && changed {
				regroup[known] = true
			}
		}
		switch {
		case err != nil:
			res.Status, res.Msg = report.StatusFailed, err.Error()
		case changed:
			res.Status, res.Changed = report.StatusChanged, true
		}
	}
	for i := range results {
		res := &results[i]
		if len(res.Items) == 0 {
			apply(targets[i], res)
			continue
		}
		for j := range res.Items {
			apply(targets[i], &res.Items[j])
			if res.Items[j].Changed && res.Status == report.StatusOK {
				res.Status, res.Changed = report.StatusChanged, true
			}
			if res.Items[j].Status == report.StatusFailed {
				res.Status = report.StatusFailed
			}
		}
	}
	r.groupsMu.Lock()
	r.groups = nil
	r.groupsMu.Unlock()
	for hs := range regroup {
		if iv, err := inv.HostVars(hs.name, pl.p.Dir); err == nil {
			hs.mu.Lock()
			hs.invVars = iv
			hs.mu.Unlock()
		}
	}
	if t.Register != "" {
		for i, hs := range targets {
			hs.mu.Lock()
			hs.cached[t.Register] = registered(results[i])
			hs.mu.Unlock()
		}
	}
}

// checkMaxFail ends the play when more than max_fail_percentage of the
// batch has failed.
func (r *Runner) checkMaxFail(pl *play) {
	if pl.p.MaxFailPct == nil || len(pl.hosts) == 0 {
		return
	}
	pct, err := strconv.ParseFloat(strings.TrimSuffix(fmt.Sprint(pl.p.MaxFailPct), "%"), 64)
	if err != nil {
		return
	}
	failed := 0
	for _, hs := range pl.hosts {
		if hs.failed || hs.unreach {
			failed++
		}
	}
	if float64(failed)*100/float64(len(pl.hosts)) > pct {
		for _, hs := range pl.hosts {
			hs.failed = true
		}
		pl.ended = true
	}
}

func firstString(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstNonNil(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// taskName is the name shown in TASK [...], templated with the first host's
// vars when it can be.
func (r *Runner) taskName(pl *play, sc *scope, t *playbook.Task, hs *hostState) string {
	n := t.Name
	if n == "" {
		n = t.Action
	} else if template.IsTemplated(n) {
		if s, err := r.tmpl.RenderString(n, r.varsFor(hs, sc, t.Vars)); err == nil {
			n = s
		}
	}
	if sc.role != nil {
		n = sc.role.Name + " : " + n
	} else if t.Role != nil {
		n = t.Role.Name + " : " + n
	}
	return n
}

// runBlock runs a block with rescue and always sections.
func (r *Runner) runBlock(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hosts []*hostState) {
	c := sc.child(t)
	if t.Imported && t.RoleRef != nil {
		// an import_role: its handlers join the play's.
		r.addRoleHandlers(pl, t.RoleRef, c)
	}
	entered := hosts
	r.runListOn(ctx, pl, c, t.Block, entered)
	if t.Rescue != nil {
		var failed []*hostState
		for _, hs := range entered {
			if hs.failed && !hs.unreach {
				failed = append(failed, hs)
			}
		}
		if len(failed) > 0 {
			for _, hs := range failed {
				hs.failed = false
				// entering rescue: the block's failure counts as rescued,
				// not failed (a failure in rescue counts again), as Ansible
				hs.recap.Rescued++
				if hs.recap.Failed > 0 {
					hs.recap.Failed--
				}
				hs.mu.Lock()
				hs.rescueVars = map[string]any{"ansible_failed_task": hs.lastFailedTask, "ansible_failed_result": hs.lastFailedResult}
				hs.mu.Unlock()
			}
			r.runListOn(ctx, pl, c, t.Rescue, failed)
			for _, hs := range failed {
				hs.mu.Lock()
				hs.rescueVars = nil
				hs.mu.Unlock()
			}
		}
	}
	if t.Always != nil {
		var wasFailed []*hostState
		for _, hs := range entered {
			if hs.failed && !hs.unreach {
				wasFailed = append(wasFailed, hs)
				hs.failed = false
			}
		}
		r.runListOn(ctx, pl, c, t.Always, entered)
		for _, hs := range wasFailed {
			hs.failed = true
		}
	}
}

// startReached implements --start-at-task: tasks before the first whose
// name (or "role : name") equals or fnmatch-matches the given one are left
// out silently, as ansible-playbook does; from that task on all run.
func (r *Runner) startReached(pl *play, sc *scope, t *playbook.Task) bool {
	if r.opts.StartAt == "" || r.startDone {
		return true
	}
	names := []string{t.Name}
	if sc.role != nil {
		names = append(names, sc.role.Name+" : "+t.Name)
	} else if t.Role != nil {
		names = append(names, t.Role.Name+" : "+t.Name)
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		if ok, _ := path.Match(r.opts.StartAt, n); ok || n == r.opts.StartAt {
			r.startDone = true
			return true
		}
	}
	return false
}

// runOnHost runs one task on one host: when, loop, module, register.
func (r *Runner) runOnHost(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, name string) report.TaskResult {
	start := time.Now()
	res := report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: name, Action: t.Action, Position: t.Pos.String(), Handler: sc.handler, Start: start}
	if t.Role != nil {
		res.Role = t.Role.Name
	}
	noLog, _ := boolish(firstNonNil(t.NoLog, sc.noLog))
	res.NoLog = noLog
	vars := r.varsFor(hs, sc, t.Vars)
	if err := r.connect(ctx, hs, vars); err != nil {
		res.Status, res.Msg = report.StatusUnreachable, err.Error()
		return res
	}
	defer func() { res.Duration = time.Since(start).Seconds() }()

	if t.LoopKind == "" {
		ok, err := r.when(sc, t, vars)
		if err != nil {
			res.Status, res.Msg = report.StatusFailed, err.Error()
			return r.finish(pl, sc, t, hs, res)
		}
		if !ok {
			res.Status = report.StatusSkipped
			res.Values = map[string]any{"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}
			return r.finish(pl, sc, t, hs, res)
		}
		out := r.execute(ctx, pl, sc, t, hs, vars)
		out.Delegate = r.delegateName(t, sc, vars)
		out.Host, out.Play, out.Task, out.Action, out.Position, out.Handler, out.Start, out.Role, out.NoLog = res.Host, res.Play, res.Task, res.Action, res.Position, res.Handler, res.Start, res.Role, res.NoLog
		return r.finish(pl, sc, t, hs, out)
	}

	items, err := r.loopItems(t, vars)
	if err != nil {
		// as Ansible: a loop that cannot be resolved is an error only when
		// the task's condition, without an item, does not skip it first
		// (`loop: "{{ x }}"` with `when: x is defined`)
		if ok, werr := r.when(sc, t, vars); werr == nil && !ok {
			res.Status = report.StatusSkipped
			res.Values = map[string]any{"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}
			return r.finish(pl, sc, t, hs, res)
		}
		res.Status, res.Msg = report.StatusFailed, err.Error()
		return r.finish(pl, sc, t, hs, res)
	}
	loopVar := "item"
	var indexVar, labelExpr string
	extended := false
	if lc := t.LoopControl; lc != nil {
		if s, ok := lc["loop_var"].(string); ok {
			loopVar = s
		}
		if s, ok := lc["index_var"].(string); ok {
			indexVar = s
		}
		if s, ok := lc["label"].(string); ok {
			labelExpr = s
		}
		extended, _ = boolish(lc["extended"])
	}
	var results []any
	anyChanged, anyFailed, allSkipped := false, false, true
	for i, item := range items {
		iv := map[string]any{loopVar: item, "ansible_loop_var": loopVar}
		if indexVar != "" {
			iv[indexVar] = i
		}
		if extended {
			iv["ansible_loop"] = map[string]any{"index": i + 1, "index0": i, "first": i == 0, "last": i == len(items)-1,
				"length": len(items), "revindex": len(items) - i, "revindex0": len(items) - i - 1, "allitems": items}
		}
		ivars := template.Vars(merge(vars, iv))
		ires := report.TaskResult{Host: hs.name, Item: item, NoLog: noLog}
		if labelExpr != "" {
			if l, err := r.tmpl.Render(labelExpr, ivars); err == nil {
				ires.Item = l
			}
		}
		ok, err := r.when(sc, t, ivars)
		switch {
		case err != nil:
			ires.Status, ires.Msg = report.StatusFailed, err.Error()
			ires.Values = map[string]any{"failed": true, "msg": err.Error()}
		case !ok:
			ires.Status = report.StatusSkipped
			ires.Values = map[string]any{"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}
		default:
			out := r.execute(ctx, pl, sc, t, hs, ivars)
			out.Host, out.Item, out.NoLog = hs.name, ires.Item, noLog
			out.Delegate = r.delegateName(t, sc, ivars)
			ires = out
			if hasFacts(out) && !(t.DelegateFacts && out.Delegate != "" && out.Delegate != hs.name) {
				// the next items see what this one set (set_fact
				// accumulating over a loop), as in Ansible
				hs.mu.Lock()
				hs.takeFacts(out)
				hs.mu.Unlock()
				vars = r.varsFor(hs, sc, t.Vars)
			}
		}
		if ires.Values == nil {
			ires.Values = map[string]any{}
		}
		ires.Values[loopVar] = item
		ires.Values["ansible_loop_var"] = loopVar
		if indexVar != "" {
			ires.Values[indexVar] = i
		}
		if ires.Status != report.StatusSkipped {
			allSkipped = false
		}
		if ires.Changed {
			anyChanged = true
		}
		if ires.Status == report.StatusFailed {
			anyFailed = true
		}
		res.Diffs = append(res.Diffs, ires.Diffs...)
		res.Resources = append(res.Resources, ires.Resources...)
		results = append(results, registered(ires))
		ires.Task = name
		res.Items = append(res.Items, ires)
	}
	res.Changed = anyChanged
	res.Values = map[string]any{"results": results, "changed": anyChanged, "msg": "All items completed", "skipped": false}
	switch {
	case anyFailed:
		res.Status = report.StatusFailed
		res.Msg = "One or more items failed"
		res.Values["failed"] = true
		res.Values["msg"] = res.Msg
	case len(items) == 0 || allSkipped:
		res.Status = report.StatusSkipped
		res.Values["skipped"] = true
		if len(items) == 0 {
			res.Values["skipped_reason"] = "No items in the list"
		}
	case anyChanged:
		res.Status = report.StatusChanged
	default:
		res.Status = report.StatusOK
	}
	return r.finish(pl, sc, t, hs, res)
}

// finish applies ignore_errors, register, set_fact and notify.
func (r *Runner) finish(pl *play, sc *scope, t *playbook.Task, hs *hostState, res report.TaskResult) report.TaskResult {
	if res.Status == report.StatusFailed {
		if ig, _ := boolish(firstNonNil(t.IgnoreErrors, sc.ignoreErrors)); ig {
			res.Ignored = true
		}
	}
	r.applyEffects(pl, sc, t, hs, res)
	if res.NoLog {
		res.Values = map[string]any{"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}
		res.Diffs = nil
		for i := range res.Items {
			res.Items[i].Values = nil
			res.Items[i].Diffs = nil
			res.Items[i].Item = nil
		}
		if res.Status == report.StatusFailed {
			res.Msg = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
		}
	}
	return res
}

// applyEffects registers the result and notifies handlers for one host.
func (r *Runner) applyEffects(pl *play, sc *scope, t *playbook.Task, hs *hostState, res report.TaskResult) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if t.Register != "" {
		hs.cached[t.Register] = registered(res)
	}
	for _, fr := range factResults(res) {
		if t.DelegateFacts && fr.Delegate != "" && fr.Delegate != hs.name {
			continue // runTask gives them to the host delegated to
		}
		hs.takeFacts(fr)
	}
	if res.Changed && res.Status != report.StatusFailed {
		for _, n := range t.Notify {
			if template.IsTemplated(n) {
				if s, err := r.tmpl.RenderString(n, template.Vars(merge(pl.vars, r.opts.ExtraVars))); err == nil {
					n = s
				}
			}
			hs.notified[n] = true
		}
	}
}

// hasFacts reports whether res sets variables or facts on its host.
func hasFacts(res report.TaskResult) bool {
	for _, k := range []string{"_tend_set_fact", "ansible_facts", "_tend_include_vars"} {
		if _, ok := res.Values[k]; ok {
			return true
		}
	}
	return false
}

// factResults are the results whose facts a task leaves: its loop items,
// in order, or the result itself.
func factResults(res report.TaskResult) []report.TaskResult {
	if len(res.Items) > 0 {
		return res.Items
	}
	return []report.TaskResult{res}
}

// takeFacts keeps what one result sets on the host: set_fact's variables,
// the facts a module returns (package_facts, setup), include_vars'
// variables. The caller holds hs.mu.
func (hs *hostState) takeFacts(res report.TaskResult) {
	if res.Status == report.StatusSkipped {
		return
	}
	if facts, ok := res.Values["_tend_set_fact"].(map[string]any); ok {
		for k, v := range facts {
			hs.cached[k] = v
		}
	}
	_, isSetFact := res.Values["_tend_set_fact"]
	if res.Values["_tend_cacheable"] == true {
		isSetFact = false
	}
	_, isIncludeVars := res.Values["_tend_include_vars"]
	if facts, ok := res.Values["ansible_facts"].(map[string]any); ok && !isSetFact && !isIncludeVars &&
		res.Status != report.StatusFailed {
		merged := make(map[string]any, len(hs.facts)+len(facts))
		for k, v := range hs.facts {
			merged[k] = v
		}
		plain := make(map[string]bool, len(hs.plainFacts)+len(facts))
		for k := range hs.plainFacts {
			plain[k] = true
		}
		for k, v := range facts {
			// as Ansible's namespace_facts: ansible_facts.<name> drops
			// the prefix; the top-level variable keeps the name as given
			if name, ok := strings.CutPrefix(k, "ansible_"); ok && k != "ansible_local" {
				merged[name] = v
				delete(plain, name)
				continue
			}
			merged[k] = v
			plain[k] = true
		}
		hs.facts, hs.plainFacts = merged, plain
	}
	if facts, ok := res.Values["_tend_include_vars"].(map[string]any); ok {
		for k, v := range facts {
			hs.incVars[k] = v
		}
	}
}

// delegatedFacts gives the facts of a task with delegate_facts to the hosts
// it was delegated to, once no host runs the task.
func (r *Runner) delegatedFacts(ctx context.Context, pl *play, results []report.TaskResult) {
	for _, res := range results {
		for _, fr := range factResults(res) {
			if fr.Delegate == "" || fr.Delegate == res.Host {
				continue
			}
			target, err := r.hostFor(ctx, fr.Delegate, pl.p.Dir)
			if err != nil {
				continue // not in the inventory: Ansible keeps such facts nowhere useful either
			}
			target.mu.Lock()
			target.takeFacts(fr)
			target.mu.Unlock()
		}
	}
}

// registered is the value `register:` stores for a result.
func registered(res report.TaskResult) map[string]any {
	v := map[string]any{}
	for k, x := range res.Values {
		if !strings.HasPrefix(k, "_tend_") {
			v[k] = x
		}
	}
	v["changed"] = res.Changed
	v["failed"] = res.Status == report.StatusFailed
	if res.Status == report.StatusSkipped {
		v["skipped"] = true
	}
	if res.Msg != "" {
		if _, ok := v["msg"]; !ok {
			v["msg"] = res.Msg
		}
	}
	if len(res.Diffs) > 0 {
		v["diff"] = res.Diffs
	}
	return v
}

// when evaluates the inherited and own conditions.
func (r *Runner) when(sc *scope, t *playbook.Task, vars template.Vars) (bool, error) {
	conds := append(append([]any{}, sc.when...), t.When...)
	return r.evalConds(conds, vars)
}

func (r *Runner) evalConds(conds []any, vars template.Vars) (bool, error) {
	for _, c := range conds {
		switch x := c.(type) {
		case bool:
			if !x {
				return false, nil
			}
			continue
		case nil:
			continue
		case int:
			if x == 0 {
				return false, nil
			}
			continue
		}
		expr := strings.TrimSpace(fmt.Sprint(c))
		if strings.HasPrefix(expr, "{{") && strings.HasSuffix(expr, "}}") && strings.Count(expr, "{{") == 1 {
			expr = strings.TrimSpace(expr[2 : len(expr)-2])
		}
		ok, err := r.tmpl.EvalBool(expr, vars)
		if err != nil {
			return false, fmt.Errorf("The conditional check '%s' failed. The error was: %v", fmt.Sprint(c), err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// loopItems resolves loop:, with_items:, with_dict: and friends to a list.
func (r *Runner) loopItems(t *playbook.Task, vars template.Vars) ([]any, error) {
	val := t.Loop
	var err error
	if s, ok := val.(string); ok {
		val, err = r.tmpl.Render(s, vars)
	} else {
		val, err = r.tmpl.RenderData(val, vars)
	}
	if err != nil {
		return nil, fmt.Errorf("Error while resolving loop: %v", err)
	}
	kind := t.LoopKind
	if kind != "loop" {
		// with_<lookup>: the lookup plugin turns the terms into items
		terms, ok := val.([]any)
		if !ok {
			terms = []any{val}
		}
		if kind == "with_dict" || kind == "with_sequence" {
			terms = []any{val}
		}
		items, err := r.tmpl.Query(strings.TrimPrefix(kind, "with_"), terms, nil, vars)
		if err != nil {
			return nil, fmt.Errorf("Error while resolving %s: %v", kind, err)
		}
		return items, nil
	}
	if val == nil {
		return nil, nil
	}
	l, ok := template.ToGo(val).([]any)
	if !ok {
		return nil, fmt.Errorf("Invalid data passed to 'loop', it requires a list, got this instead: %v. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.", val)
	}
	return l, nil
}

// execute runs the action of a task once (one loop item) and applies
// changed_when, failed_when and until.
func (r *Runner) execute(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars) report.TaskResult {
	retries, delay := 0, 5*time.Second
	if t.Until != nil {
		retries = 3
		if t.Retries != nil {
			if n, err := r.intValue(t.Retries, vars); err == nil {
				retries = n
			}
		}
		if t.Delay != nil {
			if n, err := r.intValue(t.Delay, vars); err == nil {
				delay = time.Duration(n) * time.Second
			}
		}
	}
	var res report.TaskResult
	for attempt := 1; ; attempt++ {
		res = r.executeOnce(ctx, pl, sc, t, hs, vars)
		if t.Until == nil {
			break
		}
		if res.Values == nil {
			res.Values = map[string]any{}
		}
		res.Values["attempts"] = attempt
		rv := template.Vars(vars)
		if t.Register != "" {
			rv = template.Vars(merge(vars, map[string]any{t.Register: registered(res)}))
		}
		ok, err := r.evalConds([]any{t.Until}, rv)
		if err != nil {
			res.Status, res.Msg = report.StatusFailed, err.Error()
			break
		}
		if ok {
			break
		}
		if attempt > retries {
			res.Status = report.StatusFailed
			res.Values["failed"] = true
			if res.Msg == "" {
				res.Msg = "Task failed after retries"
			}
			break
		}
		select {
		case <-ctx.Done():
			return res
		case <-time.After(delay):
		}
	}
	return res
}

func (r *Runner) intValue(v any, vars template.Vars) (int, error) {
	if s, ok := v.(string); ok {
		x, err := r.tmpl.Render(s, vars)
		if err != nil {
			return 0, err
		}
		v = x
	}
	c, err := module.Convert(v, module.TypeInt, module.TypeRaw)
	if err != nil {
		return 0, err
	}
	return c.(int), nil
}

func (r *Runner) executeOnce(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars) report.TaskResult {
	check := pl.check
	if b, ok := boolish(firstNonNil(t.CheckMode, sc.checkMode)); ok {
		check = b
	}
	diff := r.opts.Diff
	if b, ok := boolish(firstNonNil(t.Diff, sc.diff)); ok {
		diff = b && r.opts.Diff
	}
	res := r.action(ctx, pl, sc, t, hs, vars, check, diff)
	if res.Status == report.StatusUnreachable {
		return res
	}
	// changed_when / failed_when see the registered result.
	if len(t.ChangedWhen) > 0 || len(t.FailedWhen) > 0 {
		rv := vars
		reg := registered(res)
		if t.Register != "" {
			rv = template.Vars(merge(vars, map[string]any{t.Register: reg}))
		}
		if len(t.ChangedWhen) > 0 && res.Status != report.StatusSkipped {
			ok, err := r.evalConds(t.ChangedWhen, rv)
			if err != nil {
				res.Status, res.Msg = report.StatusFailed, err.Error()
				return res
			}
			res.Changed = ok
			if res.Status != report.StatusFailed {
				res.Status = statusOf(ok)
			}
		}
		if len(t.FailedWhen) > 0 && res.Status != report.StatusSkipped {
			// failed_when is an OR of its conditions (Ansible ANDs a list;
			// check: it ANDs, as a list of conditionals)
			ok, err := r.evalConds(t.FailedWhen, rv)
			if err != nil {
				res.Status, res.Msg = report.StatusFailed, err.Error()
				return res
			}
			if res.Values == nil {
				res.Values = map[string]any{}
			}
			res.Values["failed_when_result"] = ok
			if ok {
				res.Status = report.StatusFailed
			} else {
				res.Status = statusOf(res.Changed)
			}
		}
	}
	return res
}

func statusOf(changed bool) string {
	if changed {
		return report.StatusChanged
	}
	return report.StatusOK
}

// action dispatches to an engine action or a module.
func (r *Runner) action(ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check, diff bool) report.TaskResult {
	name := playbook.ShortName(t.Action)
	if fn, ok := engineActions[name]; ok {
		return fn(r, ctx, pl, sc, t, hs, vars, check)
	}
	info, ok := module.Lookup(t.Action)
	if !ok {
		return report.TaskResult{Status: report.StatusFailed, Msg: fmt.Sprintf("couldn't resolve module/action '%s'", t.Action)}
	}
	raw, err := r.renderArgs(t.Args, vars)
	if err != nil {
		return report.TaskResult{Status: report.StatusFailed, Msg: undefinedMsg(t, err)}
	}
	if info.Name == "copy" {
		if err := r.copyContentJSON(t, raw, vars); err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: undefinedMsg(t, err)}
		}
	}
	var args module.Args
	if info.Spec != nil {
		args, err = info.Spec.Validate(raw)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
		}
	} else {
		args = module.Args(raw)
	}
	h := hs.h
	if t.DelegateTo != "" || sc.delegateTo != "" {
		d, err := r.delegate(ctx, t, sc, vars)
		if err != nil {
			return report.TaskResult{Status: report.StatusUnreachable, Msg: err.Error()}
		}
		h = d
	}
	if b, ok := boolish(firstNonNil(t.Become, sc.become, pl.p.Become)); ok && b && r.opts.Become != nil {
		user := firstString(t.BecomeUser, sc.becomeUser, pl.p.BecomeUser)
		if template.IsTemplated(user) {
			if s, err := r.tmpl.RenderString(user, vars); err == nil {
				user = s
			}
		}
		bh, err := r.opts.Become(h, user)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
		}
		h = bh
	}
	env, err := r.taskEnv(t, sc, vars)
	if err != nil {
		return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
	}
	h = host.WithEnv(h, env)
	if check {
		h = host.ReadOnly(h)
	}
	mt := &module.Task{
		Host:  h,
		Args:  args,
		Check: check,
		Diff:  diff,
		Render: func(text string) (string, error) {
			return r.tmpl.RenderString(text, vars)
		},
		Find:      func(kind, rel string) (string, error) { return r.findFile(pl, sc, t, kind, rel) },
		ReadLocal: os.ReadFile,
		Vars:      vars,
		Log:       r.opts.Log.With("host", hs.name, "task", t.Name),
	}
	if r.opts.Backup != nil {
		mt.Backup = func(ctx context.Context, p string) error { return r.opts.Backup(ctx, hs.h, p) }
	}
	if info.Name == "template" {
		tvars := r.templateVars(pl, sc, t, args, vars)
		mt.Render = func(text string) (string, error) { return r.renderTemplateText(pl, sc, t, text, tvars, args) }
	}
	mres, err := info.New().Run(ctx, mt)
	out := report.TaskResult{Values: mres.Values, Diffs: mres.Diffs, Resources: mres.Resources, Msg: mres.Msg, Changed: mres.Changed}
	if err != nil {
		var unreachable interface{ Unreachable() bool }
		if errors.As(err, &unreachable) && unreachable.Unreachable() {
			out.Status, out.Msg = report.StatusUnreachable, err.Error()
			return out
		}
		out.Status, out.Msg = report.StatusFailed, err.Error()
		return out
	}
	switch {
	case mres.Failed:
		out.Status = report.StatusFailed
	case mres.Skipped:
		out.Status = report.StatusSkipped
	default:
		out.Status = statusOf(mres.Changed)
	}
	return out
}

// delegateName is the rendered delegate_to of a task ("" when none).
func (r *Runner) delegateName(t *playbook.Task, sc *scope, vars template.Vars) string {
	name := t.DelegateTo
	if name == "" {
		name = sc.delegateTo
	}
	if template.IsTemplated(name) {
		if s, err := r.tmpl.RenderString(name, vars); err == nil {
			name = s
		}
	}
	return name
}

// delegate opens the host a task is delegated to.
func (r *Runner) delegate(ctx context.Context, t *playbook.Task, sc *scope, vars template.Vars) (host.Host, error) {
	name := t.DelegateTo
	if name == "" {
		name = sc.delegateTo
	}
	if template.IsTemplated(name) {
		s, err := r.tmpl.RenderString(name, vars)
		if err != nil {
			return nil, fmt.Errorf("delegate_to: %w", err)
		}
		name = s
	}
	r.mu.Lock()
	hs, ok := r.hosts[name]
	r.mu.Unlock()
	if ok && hs.h != nil {
		return hs.h, nil
	}
	dv := map[string]any{}
	if _, inInv := r.opts.Inventory.Host(name); inInv {
		if iv, err := r.opts.Inventory.HostVars(name, ""); err == nil {
			dv = iv
		}
	}
	if name == "localhost" || name == "127.0.0.1" {
		if _, set := dv["ansible_connection"]; !set {
			dv["ansible_connection"] = "local"
		}
	}
	if r.opts.Connect == nil {
		return host.NewLocal(), nil
	}
	return r.opts.Connect(ctx, name, dv)
}

// taskEnv is the environment a task's commands run with: the
// `environment:` values of the play, its roles and blocks and the task,
// templated and merged in that order (the task's win). Each is a dict, a
// list of dicts, or a template that gives one; values become strings as
// Python's str() writes them.
func (r *Runner) taskEnv(t *playbook.Task, sc *scope, vars template.Vars) (map[string]string, error) {
	layers := sc.envs
	if t.Environment != nil {
		layers = append(append([]any{}, layers...), t.Environment)
	}
	var env map[string]string
	var add func(v any) error
	add = func(v any) error {
		switch x := template.ToGo(v).(type) {
		case nil:
		case map[string]any:
			if env == nil {
				env = map[string]string{}
			}
			for k, e := range x {
				env[k] = template.String(e)
			}
		case []any:
			for _, e := range x {
				if err := add(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("environment must be a dictionary, received %s (%T)", template.String(x), x)
		}
		return nil
	}
	for _, l := range layers {
		v, err := r.tmpl.RenderData(l, vars)
		if err != nil {
			return nil, fmt.Errorf("environment: %w", err)
		}
		if err := add(v); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// copyContentJSON is what Ansible's copy action does with a content that is
// a dict or a list: the file holds it as json.dumps writes it (", " and
// ": ", keys in their order), not Python's repr.
func (r *Runner) copyContentJSON(t *playbook.Task, raw map[string]any, vars template.Vars) error {
	c, ok := t.Args["content"]
	if !ok {
		return nil
	}
	switch raw["content"].(type) {
	case map[string]any, []any:
	default:
		return nil
	}
	v, err := r.unvaultValue(c)
	if err != nil {
		return err
	}
	ordered, err := r.tmpl.RenderData(v, vars) // the dict's order, before ToGo
	if err != nil {
		return err
	}
	raw["content"] = template.JSON(ordered)
	return nil
}

// undefinedMsg is Ansible's message for a task whose arguments do not
// template, with where the task is, as Ansible gives it.
func undefinedMsg(t *playbook.Task, err error) string {
	msg := "The task includes an option with an undefined variable. The error was: " + err.Error()
	if t.Pos.File != "" && t.Pos.Line > 0 {
		msg += fmt.Sprintf("\n\nThe error appears to be in '%s': line %d, column %d", t.Pos.File, t.Pos.Line, t.Pos.Col)
	}
	return msg
}

// renderArgs templates module arguments and drops those equal to omit.
func (r *Runner) renderArgs(args map[string]any, vars template.Vars) (map[string]any, error) {
	out := make(map[string]any, len(args))
	for k, v := range args {
		v, err := r.unvaultValue(v) // inline !vault arguments
		if err != nil {
			return nil, err
		}
		rv, err := r.tmpl.RenderData(v, vars)
		if err != nil {
			return nil, err
		}
		rv = template.ToGo(rv)
		if s, ok := rv.(string); ok && s == template.Omit {
			continue
		}
		out[k] = stripOmit(rv)
	}
	return out, nil
}

func stripOmit(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s == template.Omit {
				delete(x, k)
			} else {
				x[k] = stripOmit(e)
			}
		}
	case []any:
		out := x[:0]
		for _, e := range x {
			if s, ok := e.(string); ok && s == template.Omit {
				continue
			}
			out = append(out, stripOmit(e))
		}
		return out
	}
	return v
}

// boolish interprets a task keyword value as Ansible's boolean; ok is false
// when v is nil.
func boolish(v any) (bool, bool) {
	if v == nil {
		return false, false
	}
	b, err := module.ToBool(v)
	if err != nil {
		return false, false
	}
	return b, true
}
