package engine

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/template"
)

type actionFunc func(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult

// engineActions are the actions that need the engine (variables, flow)
// rather than a host.
var engineActions map[string]actionFunc

// controlActions are handled by runTask itself.
var controlActions = map[string]bool{"include_tasks": true, "include": true, "include_role": true,
	"import_tasks": true, "import_role": true, "meta": true, "import_playbook": true}

func init() {
	engineActions = map[string]actionFunc{
		"debug":        actDebug,
		"set_fact":     actSetFact,
		"assert":       actAssert,
		"fail":         actFail,
		"include_vars": actIncludeVars,
		"ping":         actPing,
		"group_by":     actGroupBy,
		"add_host":     actAddHost,
	}
}

// IsAction reports whether name is a module or an engine action (short or
// ansible.builtin.* name).
func IsAction(name string) bool {
	s := playbook.ShortName(name)
	if _, ok := engineActions[s]; ok {
		return true
	}
	if controlActions[s] {
		return true
	}
	return module.IsModule(name)
}

var actionSpecs = map[string]module.Spec{
	"debug":         {"msg": {Type: module.TypeRaw}, "var": {Type: module.TypeRaw}, "verbosity": {Type: module.TypeInt}},
	"assert":        {"that": {Type: module.TypeRaw, Required: true}, "msg": {Type: module.TypeRaw}, "fail_msg": {Type: module.TypeRaw}, "success_msg": {Type: module.TypeRaw}, "quiet": {Type: module.TypeBool}},
	"fail":          {"msg": {Type: module.TypeRaw}},
	"include_vars":  {"file": {Type: module.TypeStr}, "dir": {Type: module.TypeStr}, "name": {Type: module.TypeStr}, "files_matching": {Type: module.TypeStr}, "depth": {Type: module.TypeInt}, "extensions": {Type: module.TypeList}, "ignore_unknown_extensions": {Type: module.TypeBool}, "ignore_files": {Type: module.TypeList}, "hash_behaviour": {Type: module.TypeStr}},
	"ping":          {"data": {Type: module.TypeStr}},
	"group_by":      {"key": {Type: module.TypeRaw, Required: true}, "parents": {Type: module.TypeRaw}},
	"meta":          {},
	"include_tasks": {"file": {Type: module.TypeStr}, "apply": {Type: module.TypeDict}},
	"include_role":  {"name": {Type: module.TypeStr, Required: true}, "tasks_from": {Type: module.TypeStr}, "vars_from": {Type: module.TypeStr}, "defaults_from": {Type: module.TypeStr}, "handlers_from": {Type: module.TypeStr}, "public": {Type: module.TypeBool}, "allow_duplicates": {Type: module.TypeBool}, "apply": {Type: module.TypeDict}, "rolespec_validate": {Type: module.TypeBool}},
}

func actDebug(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	res := report.TaskResult{Status: report.StatusOK, Values: map[string]any{}}
	if v, ok := t.Args["verbosity"]; ok {
		if n, err := r.intValue(v, vars); err == nil && n > r.opts.Verbosity {
			return report.TaskResult{Status: report.StatusSkipped, Values: map[string]any{"skipped_reason": "Verbosity threshold not met."}}
		}
	}
	if v, ok := t.Args["var"]; ok {
		name := strings.TrimSpace(fmt.Sprint(v))
		val, err := r.tmpl.Render("{{ "+name+" }}", vars)
		var shown any = template.ToGo(val)
		if err != nil {
			shown = "VARIABLE IS NOT DEFINED!"
		}
		res.Values[name] = shown
		res.Values["_tend_debug"] = map[string]any{name: shown}
		return res
	}
	msg := any("Hello world!")
	if m, ok := t.Args["msg"]; ok {
		v, err := r.tmpl.RenderData(m, vars)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: undefinedMsg(t, err)}
		}
		msg = template.ToGo(v)
	} else if raw, ok := t.Args["_raw_params"]; ok {
		msg = raw
	}
	res.Values["msg"] = msg
	res.Values["_tend_debug"] = map[string]any{"msg": msg}
	return res
}

func actSetFact(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	facts := map[string]any{}
	cacheable := false
	for k, v := range t.Args {
		if k == "cacheable" {
			rv, err := r.tmpl.RenderData(v, vars)
			if err != nil {
				return report.TaskResult{Status: report.StatusFailed, Msg: undefinedMsg(t, err)}
			}
			if cacheable, err = module.ToBool(rv); err != nil {
				return report.TaskResult{Status: report.StatusFailed, Msg: "cacheable: " + err.Error()}
			}
			continue
		}
		rv, err := r.tmpl.RenderData(v, vars)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: undefinedMsg(t, err)}
		}
		rv = template.ToGo(rv)
		// k=v form gives strings; Ansible converts "yes"/"true" to booleans there
		if s, ok := rv.(string); ok {
			if _, isStr := v.(string); isStr && !template.IsTemplated(v.(string)) && isKVBool(s) {
				rv, _ = module.ToBool(s)
			}
		}
		facts[k] = rv
	}
	if len(facts) == 0 {
		return report.TaskResult{Status: report.StatusFailed, Msg: "No key/value pairs provided, at least one is required for this action to succeed"}
	}
	values := map[string]any{"ansible_facts": facts, "_tend_set_fact": facts}
	if cacheable { // the facts also become ansible_facts.*, as Ansible caches them
		values["_tend_cacheable"] = true
	}
	return report.TaskResult{Status: report.StatusOK, Values: values}
}

func isKVBool(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "no", "true", "false":
		return true
	}
	return false
}

func actAssert(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	that := t.Args["that"]
	conds, ok := that.([]any)
	if !ok {
		conds = []any{that}
	}
	for _, c := range conds {
		ok, err := r.evalConds([]any{c}, vars)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
		}
		if !ok {
			msg := any("Assertion failed")
			for _, k := range []string{"fail_msg", "msg"} {
				if m, ok := t.Args[k]; ok {
					v, err := r.tmpl.RenderData(m, vars)
					if err == nil {
						msg = template.ToGo(v)
					}
					break
				}
			}
			return report.TaskResult{Status: report.StatusFailed, Msg: fmt.Sprint(msg),
				Values: map[string]any{"assertion": fmt.Sprint(c), "evaluated_to": false, "msg": msg}}
		}
	}
	msg := any("All assertions passed")
	if m, ok := t.Args["success_msg"]; ok {
		if v, err := r.tmpl.RenderData(m, vars); err == nil {
			msg = template.ToGo(v)
		}
	}
	res := report.TaskResult{Status: report.StatusOK, Values: map[string]any{"msg": msg}}
	if q, _ := boolish(t.Args["quiet"]); !q {
		res.Values["_tend_debug"] = map[string]any{"changed": false, "msg": msg}
	}
	return res
}

func actFail(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	msg := "Failed as requested from task"
	if m, ok := t.Args["msg"]; ok {
		v, err := r.tmpl.RenderData(m, vars)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
		}
		msg = fmt.Sprint(template.ToGo(v))
	}
	return report.TaskResult{Status: report.StatusFailed, Msg: msg, Values: map[string]any{"msg": msg}}
}

func actPing(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	data := "pong"
	if d, ok := t.Args["data"]; ok {
		data = fmt.Sprint(d)
	}
	return report.TaskResult{Status: report.StatusOK, Values: map[string]any{"ping": data}}
}

// actGroupBy is group_by: it names the group; runTask puts the host in it
// once every host has run the task (inventoryChanges).
func actGroupBy(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	args, err := r.renderArgs(t.Args, vars)
	if err != nil {
		return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
	}
	key, ok := args["key"]
	if !ok {
		return report.TaskResult{Status: report.StatusFailed, Msg: "the 'key' param is required when using group_by"}
	}
	var parents []any
	switch p := args["parents"].(type) {
	case nil:
		parents = []any{"all"}
	case []any:
		parents = p
	default:
		parents = []any{p}
	}
	names := make([]any, len(parents))
	for i, p := range parents {
		names[i] = strings.ReplaceAll(template.String(p), " ", "-")
	}
	return report.TaskResult{Status: report.StatusOK, Values: map[string]any{
		"add_group": strings.ReplaceAll(template.String(key), " ", "-"), "parent_groups": names}}
}

// actAddHost is add_host: it describes the host; runTask adds it once the
// task is done. Every argument but the name and groups is a host variable.
func actAddHost(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	args, err := r.renderArgs(t.Args, vars)
	if err != nil {
		return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
	}
	if raw, ok := args["_raw_params"]; ok {
		return report.TaskResult{Status: report.StatusFailed, Msg: fmt.Sprintf("add_host: invalid raw parameters %q: give name=... and variables as key=value", raw)}
	}
	name := firstNonNil(args["name"], args["hostname"], args["host"])
	if name == nil {
		return report.TaskResult{Status: report.StatusFailed, Msg: "name, host or hostname needs to be provided"}
	}
	var groups []any
	switch g := firstNonNil(args["groupname"], args["groups"], args["group"]).(type) {
	case nil:
	case []any:
		groups = g
	case string:
		for _, s := range strings.Split(g, ",") {
			groups = append(groups, strings.TrimSpace(s))
		}
	default:
		return report.TaskResult{Status: report.StatusFailed, Msg: "Groups must be specified as a list."}
	}
	hostVars := map[string]any{}
	for k, v := range args {
		switch k {
		case "name", "hostname", "host", "groupname", "groups", "group":
		default:
			hostVars[k] = v
		}
	}
	return report.TaskResult{Status: report.StatusOK, Values: map[string]any{
		"add_host": map[string]any{"host_name": template.String(name), "groups": groups, "host_vars": hostVars}}}
}

func actIncludeVars(r *Runner, ctx context.Context, pl *play, sc *scope, t *playbook.Task, hs *hostState, vars template.Vars, check bool) report.TaskResult {
	args, err := r.renderArgs(t.Args, vars)
	if err != nil {
		return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
	}
	file, _ := args["file"].(string)
	if file == "" {
		file, _ = args["_raw_params"].(string)
	}
	var files []string
	if dir, ok := args["dir"].(string); ok && dir != "" {
		d := r.findPath(pl, sc, t, "vars", dir)
		entries, err := os.ReadDir(d)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
		}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if !e.IsDir() && (ext == ".yml" || ext == ".yaml" || ext == ".json") {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	} else if file != "" {
		files = []string{r.findPath(pl, sc, t, "vars", file)}
	} else {
		return report.TaskResult{Status: report.StatusFailed, Msg: "include_vars needs file or dir"}
	}
	all := map[string]any{}
	for _, f := range files {
		m, err := r.readVarsFile(f)
		if err != nil {
			return report.TaskResult{Status: report.StatusFailed, Msg: err.Error()}
		}
		for k, v := range m {
			all[k] = v
		}
	}
	if name, ok := args["name"].(string); ok && name != "" {
		all = map[string]any{name: all}
	}
	return report.TaskResult{Status: report.StatusOK, Values: map[string]any{"ansible_facts": all, "_tend_include_vars": all, "ansible_included_var_files": files}}
}

// findPath resolves a relative path the way Ansible's action plugins do:
// the role's subdir kind, the role, the task file's dir, the playbook dir.
func (r *Runner) findPath(pl *play, sc *scope, t *playbook.Task, kind, rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	var cands []string
	role := sc.role
	if role == nil {
		role = t.Role
	}
	if role != nil {
		cands = append(cands, filepath.Join(role.Path, kind, rel), filepath.Join(role.Path, rel))
	}
	if t.Dir != "" {
		cands = append(cands, filepath.Join(t.Dir, kind, rel), filepath.Join(t.Dir, rel))
	}
	cands = append(cands, filepath.Join(pl.pb.Dir, kind, rel), filepath.Join(pl.pb.Dir, rel))
	if pl.p.Dir != pl.pb.Dir {
		cands = append(cands, filepath.Join(pl.p.Dir, kind, rel), filepath.Join(pl.p.Dir, rel))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[len(cands)-1]
}

func (r *Runner) findFile(pl *play, sc *scope, t *playbook.Task, kind, rel string) (string, error) {
	p := r.findPath(pl, sc, t, kind, rel)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("Could not find or access '%s'\nSearched in:\n\t%s", rel, strings.Join(r.searchDirs(pl, sc, t, kind), "\n\t"))
	}
	if err := r.confine(p); err != nil {
		return "", err
	}
	return p, nil
}

func (r *Runner) searchDirs(pl *play, sc *scope, t *playbook.Task, kind string) []string {
	var out []string
	role := sc.role
	if role == nil {
		role = t.Role
	}
	if role != nil {
		out = append(out, filepath.Join(role.Path, kind), role.Path)
	}
	out = append(out, filepath.Join(pl.pb.Dir, kind), pl.pb.Dir)
	return out
}

// renderTemplateText renders a template file's text with include search
// paths set to the template dirs.
// templateVars adds what Ansible's template action gives a template:
// template_path (src as written), template_fullpath, template_destpath,
// template_host (this machine's name), template_uid (the file's owner)
// and template_run_date.
func (r *Runner) templateVars(pl *play, sc *scope, t *playbook.Task, args map[string]any, vars template.Vars) template.Vars {
	src, _ := args["src"].(string)
	dest, _ := args["dest"].(string)
	extra := map[string]any{"template_path": src, "template_destpath": dest, "template_run_date": time.Now().Format("2006-01-02 15:04:05.000000")}
	if host, err := os.Hostname(); err == nil {
		extra["template_host"] = host
	}
	if full, err := r.findFile(pl, sc, t, "templates", src); err == nil {
		extra["template_fullpath"] = full
		if st, err := os.Stat(full); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				if u, err := user.LookupId(strconv.Itoa(int(sys.Uid))); err == nil {
					extra["template_uid"] = u.Username
				} else {
					extra["template_uid"] = strconv.Itoa(int(sys.Uid))
				}
			}
		}
	}
	return template.Vars(merge(vars, extra))
}

// renderTemplateText renders a template file's text for the template
// module: its arguments trim_blocks, lstrip_blocks and the *_start_string/
// *_end_string delimiters, then the file's own '#jinja2:' first line, set
// how it is read, as in Ansible.
func (r *Runner) renderTemplateText(pl *play, sc *scope, t *playbook.Task, text string, vars template.Vars, args map[string]any) (string, error) {
	o := template.DefaultTextOptions()
	if b, ok := args["trim_blocks"].(bool); ok {
		o.TrimBlocks = b
	}
	if b, ok := args["lstrip_blocks"].(bool); ok {
		o.LstripBlocks = b
	}
	for name, dst := range map[string]*string{
		"variable_start_string": &o.VariableStart, "variable_end_string": &o.VariableEnd,
		"block_start_string": &o.BlockStart, "block_end_string": &o.BlockEnd,
		"comment_start_string": &o.CommentStart, "comment_end_string": &o.CommentEnd,
	} {
		if v, ok := args[name].(string); ok && v != "" {
			*dst = v
		}
	}
	if err := o.Validate(); err != nil {
		return "", err
	}
	e := r.tmpl.WithSearchPaths(r.searchDirs(pl, sc, t, "templates")).WithOptions(o)
	return e.RenderTemplate(text, vars)
}
