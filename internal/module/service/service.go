// Package service holds the service-manager modules — service and systemd
// (ansible.builtin.systemd_service) — with ansible-core 2.14's arguments and
// results. Like Ansible's, service uses systemd when systemd is PID 1 and
// otherwise the /etc/init.d scripts through `service` and update-rc.d. State
// is read with read-only commands (systemctl show, the init script's status)
// so check mode and drift checks see it without changing anything.
package service

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "service", Kind: "service", New: func() module.Module { return &Service{} }, Spec: module.Spec{
		"name":      {Type: module.TypeStr, Required: true},
		"state":     {Type: module.TypeStr, Choices: []string{"reloaded", "restarted", "started", "stopped"}},
		"enabled":   {Type: module.TypeBool},
		"sleep":     {Type: module.TypeInt},
		"pattern":   {Type: module.TypeStr},
		"runlevel":  {Type: module.TypeStr, Default: "default"},
		"arguments": {Type: module.TypeStr, Default: "", Aliases: []string{"args"}},
		"use":       {Type: module.TypeStr, Default: "auto"},
	}})
	module.Register(module.Info{Name: "systemd", Aliases: []string{"systemd_service", "ansible.builtin.systemd_service", "ansible.legacy.systemd_service"}, Kind: "service",
		New: func() module.Module { return &Systemd{} }, Spec: systemdSpec()})
}

func systemdSpec() module.Spec {
	return module.Spec{
		"name":          {Type: module.TypeStr, Aliases: []string{"service", "unit"}},
		"state":         {Type: module.TypeStr, Choices: []string{"reloaded", "restarted", "started", "stopped"}},
		"enabled":       {Type: module.TypeBool},
		"force":         {Type: module.TypeBool},
		"masked":        {Type: module.TypeBool},
		"daemon_reload": {Type: module.TypeBool, Default: false, Aliases: []string{"daemon-reload"}},
		"daemon_reexec": {Type: module.TypeBool, Default: false, Aliases: []string{"daemon-reexec"}},
		"scope":         {Type: module.TypeStr, Default: "system", Choices: []string{"system", "user", "global"}},
		"no_block":      {Type: module.TypeBool, Default: false},
	}
}

var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+$`)

// systemdRunning reports whether systemd is the host's init (PID 1), as
// Ansible's is_systemd_managed checks.
func systemdRunning(ctx context.Context, h host.Host) (bool, string) {
	comm, _ := h.ReadFile(ctx, "/proc/1/comm")
	c := strings.TrimSpace(string(comm))
	if c == "systemd" {
		return true, c
	}
	if fi, err := h.Stat(ctx, "/run/systemd/system"); err == nil && fi.IsDir() {
		return true, c
	}
	return false, c
}

// Service is ansible.builtin.service.
type Service struct{}

var _ module.Module = (*Service)(nil)

// Run implements module.Module.
func (*Service) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	name := a.String("name")
	if !unitName.MatchString(name) {
		return module.Failf("invalid service name %q", name), nil
	}
	if !a.Has("state") && !a.Has("enabled") {
		return module.Failf("Neither argument state nor enabled was specified for service %s", name), nil
	}
	use := a.String("use")
	if use == "auto" {
		use = "sysvinit"
		if ok, _ := systemdRunning(ctx, t.Host); ok {
			use = "systemd"
		}
	}
	if use == "systemd" {
		sub := module.Args{"name": name, "daemon_reload": false, "daemon_reexec": false, "scope": "system", "no_block": false}
		if a.Has("state") {
			sub["state"] = a.String("state")
		}
		if a.Has("enabled") {
			sub["enabled"] = a.Bool("enabled")
		}
		st := *t
		st.Args = sub
		return (&Systemd{}).Run(ctx, &st)
	}
	return (&sysv{t: t, name: name}).run(ctx)
}

// sysv manages a service through its /etc/init.d script.
type sysv struct {
	t    *module.Task
	name string
}

func (s *sysv) cmd(ctx context.Context, ro bool, argv ...string) (host.CommandResult, error) {
	res, err := s.t.Host.Run(ctx, host.Command{Argv: argv, ReadOnly: ro, Env: map[string]string{"LC_ALL": "C"}})
	if err != nil {
		return res, fmt.Errorf("run %s: %w", strings.Join(argv, " "), err)
	}
	return res, nil
}

func (s *sysv) run(ctx context.Context) (module.Result, error) {
	a, h := s.t.Args, s.t.Host
	script := "/etc/init.d/" + s.name
	if fi, err := h.Stat(ctx, script); err != nil || !fi.Exists {
		return module.Failf("Could not find the requested service %s: no %s and systemd is not running (PID 1 is not systemd)", s.name, script), nil
	}
	res := module.Result{Values: map[string]any{"name": s.name}}
	rs := module.Resource{Kind: "service", ID: s.name}
	var todo [][]string
	if a.Has("state") {
		// An init script's status action only reads.
		st, err := s.cmd(ctx, true, "service", s.name, "status")
		if err != nil {
			return module.Failf("%v", err), nil
		}
		running := st.RC == 0
		want := a.String("state")
		switch want {
		case "started":
			if !running {
				todo = append(todo, []string{"service", s.name, "start"})
				rs.Differs = append(rs.Differs, "state: stopped -> started")
			}
		case "stopped":
			if running {
				todo = append(todo, []string{"service", s.name, "stop"})
				rs.Differs = append(rs.Differs, "state: started -> stopped")
			}
		case "restarted", "reloaded":
			verb := map[string]string{"restarted": "restart", "reloaded": "reload"}[want]
			if !running {
				verb = "start"
			}
			todo = append(todo, []string{"service", s.name, verb})
		}
		res.Values["state"] = want
	}
	if a.Has("enabled") {
		enabled, anyLink := s.enabled(ctx)
		want := a.Bool("enabled")
		if want != enabled {
			if want {
				if !anyLink {
					todo = append(todo, []string{"update-rc.d", s.name, "defaults"})
				}
				todo = append(todo, []string{"update-rc.d", s.name, "enable"})
			} else {
				todo = append(todo, []string{"update-rc.d", s.name, "disable"})
			}
			rs.Differs = append(rs.Differs, fmt.Sprintf("enabled: %v -> %v", enabled, want))
		}
		res.Values["enabled"] = want
	}
	res.Resources = []module.Resource{rs}
	res.Changed = len(todo) > 0
	if s.t.Check || !res.Changed {
		return res, nil
	}
	for _, argv := range todo {
		r, err := s.cmd(ctx, false, argv...)
		if err != nil {
			return module.Failf("%v", err), nil
		}
		if r.RC != 0 {
			res.Failed, res.Changed = true, false
			res.Msg = fmt.Sprintf("Unable to %s service %s: %s%s", argv[len(argv)-1], s.name, r.Stdout, r.Stderr)
			return res, nil
		}
	}
	return res, nil
}

// enabled reports whether a start link exists in a multi-user runlevel
// (rc2..rc5), and whether any rc link exists at all.
func (s *sysv) enabled(ctx context.Context) (enabled, anyLink bool) {
	for _, rl := range []string{"0", "1", "2", "3", "4", "5", "6", "S"} {
		ents, err := s.t.Host.ReadDir(ctx, "/etc/rc"+rl+".d")
		if err != nil {
			continue
		}
		for _, e := range ents {
			b := path.Base(e.Path)
			if len(b) > 3 && (b[0] == 'S' || b[0] == 'K') && b[3:] == s.name {
				anyLink = true
				if b[0] == 'S' && rl >= "2" && rl <= "5" {
					enabled = true
				}
			}
		}
	}
	return enabled, anyLink
}
