package system

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "hostname", Kind: "other", New: func() module.Module { return &Hostname{} }, Spec: module.Spec{
		"name": {Type: module.TypeStr, Required: true},
		"use":  {Type: module.TypeStr, Choices: []string{"alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc", "redhat", "sles", "solaris", "systemd"}},
	}})
}

// Hostname is ansible.builtin.hostname for Linux: hostnamectl under
// systemd, else (Debian's strategy) /etc/hostname; "generic" sets only the
// running name with hostname(1).
type Hostname struct{}

var _ module.Module = (*Hostname)(nil)

var validHostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$`)

// Run implements module.Module.
func (*Hostname) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	name := a.String("name")
	if !validHostname.MatchString(name) || len(name) > 253 {
		return module.Failf("invalid hostname %q", name), nil
	}
	use := a.String("use")
	if use == "" {
		comm, _ := h.ReadFile(ctx, "/proc/1/comm")
		if strings.TrimSpace(string(comm)) == "systemd" {
			use = "systemd"
		} else {
			use = "debian-file"
		}
	}
	var cur, perm string
	var setCur, setPerm []string // commands
	writeFile := false
	run := func(argv ...string) (string, error) {
		r, err := h.Run(ctx, host.Command{Argv: argv, ReadOnly: true})
		if err != nil {
			return "", err
		}
		if r.RC != 0 {
			return "", fmt.Errorf("Command failed rc=%d, out=%s, err=%s", r.RC, r.Stdout, r.Stderr)
		}
		return strings.TrimSpace(string(r.Stdout)), nil
	}
	var err error
	switch use {
	case "systemd", "debian":
		if len(name) > 64 {
			return module.Failf("name cannot be longer than 64 characters on systemd servers, try a shorter name"), nil
		}
		if cur, err = run("hostnamectl", "--transient", "status"); err == nil {
			perm, err = run("hostnamectl", "--static", "status")
		}
		setPerm = []string{"hostnamectl", "--pretty", "--static", "set-hostname", name}
		setCur = []string{"hostnamectl", "--transient", "set-hostname", name}
	case "debian-file":
		b, _ := h.ReadFile(ctx, "/etc/hostname")
		perm = strings.TrimSpace(string(b))
		cur = perm
		writeFile = true
	case "generic":
		cur, err = run("hostname")
		perm = name
		setCur = []string{"hostname", name}
	default:
		return module.Failf("hostname: use=%s is not supported by tend's native module; use backend ansible for this task", use), nil
	}
	if err != nil {
		return module.Failf("%v", err), nil
	}
	before := perm
	if name != cur {
		before = cur
	}
	res := module.Result{Values: map[string]any{"name": name, "ansible_facts": map[string]any{
		"ansible_hostname": strings.Split(name, ".")[0], "ansible_nodename": name, "ansible_fqdn": name,
		"ansible_domain": strings.Join(strings.Split(name, ".")[1:], "."),
	}}, Resources: []module.Resource{{Kind: "other", ID: "hostname"}}}
	if cur == name && perm == name {
		return res, nil
	}
	res.Changed = true
	res.Resources[0].Differs = []string{fmt.Sprintf("hostname: %s -> %s", before, name)}
	res.Diffs = []module.Diff{{Before: "hostname = " + before + "\n", After: "hostname = " + name + "\n"}}
	if t.Check {
		return res, nil
	}
	if writeFile {
		if err := h.WriteFile(ctx, "/etc/hostname", []byte(name+"\n"), host.WriteOptions{UID: -1, GID: -1}); err != nil {
			return module.Failf("failed to update hostname: %v", err), nil
		}
	}
	for _, c := range [][]string{setPerm, setCur} {
		if c == nil || (c[len(c)-2] == "set-hostname" && strings.Contains(strings.Join(c, " "), "--static") && perm == name) || (strings.Contains(strings.Join(c, " "), "--transient") && cur == name) {
			continue
		}
		r, err := h.Run(ctx, host.Command{Argv: c})
		if err != nil {
			return module.Failf("%v", err), nil
		}
		if r.RC != 0 {
			return module.Failf("Command failed rc=%d, out=%s, err=%s", r.RC, r.Stdout, r.Stderr), nil
		}
	}
	return res, nil
}
