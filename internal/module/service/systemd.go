package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

// Systemd is ansible.builtin.systemd_service (systemd): units through
// systemctl. Without a running systemd it fails at once with a clear
// message instead of waiting on a bus that is not there.
type Systemd struct{}

var _ module.Module = (*Systemd)(nil)

type systemctl struct {
	t     *module.Task
	scope []string
}

func (s systemctl) run(ctx context.Context, ro bool, args ...string) (host.CommandResult, error) {
	argv := append(append([]string{"systemctl"}, s.scope...), args...)
	res, err := s.t.Host.Run(ctx, host.Command{Argv: argv, ReadOnly: ro, Env: map[string]string{"LC_ALL": "C", "SYSTEMD_PAGER": ""}})
	if err != nil {
		return res, fmt.Errorf("run %s: %w", strings.Join(argv, " "), err)
	}
	return res, nil
}

// Run implements module.Module.
func (*Systemd) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	name := a.String("name")
	if name != "" && !unitName.MatchString(name) {
		return module.Failf("invalid unit name %q", name), nil
	}
	if name == "" && (a.Has("state") || a.Has("enabled") || a.Has("masked")) {
		return module.Failf("state, enabled, or masked require 'name'"), nil
	}
	if name == "" && !a.Bool("daemon_reload") && !a.Bool("daemon_reexec") {
		return module.Failf("one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec"), nil
	}
	if ok, comm := systemdRunning(ctx, t.Host); !ok {
		return module.Failf("System has not been booted with systemd as init system (PID 1 is %q), so the systemd module cannot manage %q; use the service module, which falls back to init scripts", comm, name), nil
	}
	sc := systemctl{t: t}
	switch a.String("scope") {
	case "user":
		sc.scope = []string{"--user"}
	case "global":
		sc.scope = []string{"--global"}
	}
	res := module.Result{Values: map[string]any{"name": name, "changed": false}}
	var todo [][]string
	if a.Bool("daemon_reload") {
		todo = append(todo, []string{"daemon-reload"})
	}
	if a.Bool("daemon_reexec") {
		todo = append(todo, []string{"daemon-reexec"})
	}
	if name == "" {
		// daemon-reload alone is not a change in Ansible's report.
		if !t.Check {
			for _, c := range todo {
				if r, err := sc.run(ctx, false, c...); err != nil || r.RC != 0 {
					return module.Failf("failure %v running systemctl %s: %s", err, c[0], r.Stderr), nil
				}
			}
		}
		return res, nil
	}
	plan, status, err := planUnit(ctx, sc, a, name)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	res.Values["status"] = status
	rs := module.Resource{Kind: "service", ID: name}
	for _, p := range plan {
		rs.Differs = append(rs.Differs, p.differs)
	}
	res.Resources = []module.Resource{rs}
	if a.Has("state") {
		res.Values["state"] = a.String("state")
	}
	if a.Has("enabled") {
		res.Values["enabled"] = a.Bool("enabled")
	}
	res.Changed = len(plan) > 0
	if t.Check {
		return res, nil
	}
	for _, c := range todo {
		if r, err := sc.run(ctx, false, c...); err != nil || r.RC != 0 {
			return module.Failf("failure %v running systemctl %s: %s", err, c[0], r.Stderr), nil
		}
	}
	for _, p := range plan {
		r, err := sc.run(ctx, false, p.argv...)
		if err != nil {
			return module.Failf("%v", err), nil
		}
		if r.RC != 0 {
			res.Failed, res.Changed = true, false
			res.Msg = fmt.Sprintf("Unable to %s service %s: %s", p.argv[0], name, strings.TrimSpace(string(r.Stderr)))
			return res, nil
		}
	}
	return res, nil
}

// action is one systemctl call and what it changes.
type action struct {
	argv    []string
	differs string
}

// planUnit compares the unit's state (systemctl show, read-only) with the
// args and returns the systemctl calls that would reconcile it, in
// Ansible's order: mask, enable, state.
func planUnit(ctx context.Context, sc systemctl, a module.Args, name string) ([]action, map[string]any, error) {
	r, err := sc.run(ctx, true, "show", name, "--no-pager")
	if err != nil {
		return nil, nil, err
	}
	if r.RC != 0 {
		return nil, nil, fmt.Errorf("failure %d running systemctl show for %q: %s", r.RC, name, strings.TrimSpace(string(r.Stderr)))
	}
	status := parseShow(string(r.Stdout))
	return plan(a, name, status)
}

func parseShow(out string) map[string]any {
	st := map[string]any{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			st[k] = v
		}
	}
	return st
}

// plan is the pure part of planUnit (unit-tested with canned status).
func plan(a module.Args, name string, status map[string]any) ([]action, map[string]any, error) {
	str := func(k string) string { s, _ := status[k].(string); return s }
	load, active, file := str("LoadState"), str("ActiveState"), str("UnitFileState")
	found := load != "not-found"
	if !found && (a.Has("state") || a.Has("enabled")) && !(a.Has("masked") && a.Bool("masked")) {
		return nil, status, fmt.Errorf("Could not find the requested service %s: host", name)
	}
	var out []action
	if a.Has("masked") {
		masked := load == "masked" || file == "masked"
		if a.Bool("masked") != masked {
			verb := map[bool]string{true: "mask", false: "unmask"}[a.Bool("masked")]
			out = append(out, action{[]string{verb, name}, fmt.Sprintf("masked: %v -> %v", masked, !masked)})
		}
	}
	if a.Has("enabled") {
		enabled := file == "enabled" || file == "enabled-runtime" || file == "alias" || file == "static" || file == "indirect" || file == "generated"
		if a.Bool("enabled") != enabled && file != "static" {
			verb := map[bool]string{true: "enable", false: "disable"}[a.Bool("enabled")]
			argv := []string{verb, name}
			if a.Bool("force") {
				argv = append(argv, "--force")
			}
			out = append(out, action{argv, fmt.Sprintf("enabled: %v -> %v", enabled, a.Bool("enabled"))})
		}
	}
	if a.Has("state") {
		running := active == "active" || active == "activating" || active == "reloading"
		var verb string
		switch a.String("state") {
		case "started":
			if !running {
				verb = "start"
			}
		case "stopped":
			if running {
				verb = "stop"
			}
		case "restarted":
			verb = "restart"
		case "reloaded":
			verb = "reload"
			if !running {
				verb = "start"
			}
		}
		if verb != "" {
			argv := []string{verb, name}
			if a.Bool("no_block") {
				argv = append(argv, "--no-block")
			}
			out = append(out, action{argv, fmt.Sprintf("state: %s -> %s", active, a.String("state"))})
		}
	}
	return out, status, nil
}
