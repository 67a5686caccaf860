package pkg

import (
	"context"
	"fmt"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "dnf", Kind: "package", Spec: dnfSpec(), New: func() module.Module { return &DNF{Tool: "dnf"} }})
	module.Register(module.Info{Name: "yum", Kind: "package", Spec: dnfSpec(), New: func() module.Module { return &DNF{Tool: "yum"} }})
}

func dnfSpec() module.Spec {
	return module.Spec{
		"name":              {Type: module.TypeList, Elements: module.TypeStr, Aliases: []string{"pkg"}, Default: []any{}},
		"state":             {Type: module.TypeStr, Choices: []string{"absent", "present", "installed", "removed", "latest"}},
		"update_cache":      {Type: module.TypeBool, Default: false, Aliases: []string{"expire-cache"}},
		"enablerepo":        {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"disablerepo":       {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"conf_file":         {Type: module.TypeStr},
		"disable_gpg_check": {Type: module.TypeBool, Default: false},
		"installroot":       {Type: module.TypeStr, Default: "/"},
		"releasever":        {Type: module.TypeStr},
		"autoremove":        {Type: module.TypeBool, Default: false},
		"exclude":           {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"install_weak_deps": {Type: module.TypeBool, Default: true},
		"allow_downgrade":   {Type: module.TypeBool, Default: false},
		"lock_timeout":      {Type: module.TypeInt, Default: 30},
		"security":          {Type: module.TypeBool, Default: false},
		"bugfix":            {Type: module.TypeBool, Default: false},
		"update_only":       {Type: module.TypeBool, Default: false},
		"skip_broken":       {Type: module.TypeBool, Default: false},
		"disable_plugin":    {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"enable_plugin":     {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"download_only":     {Type: module.TypeBool, Default: false},
		"validate_certs":    {Type: module.TypeBool, Default: true},
		"sslverify":         {Type: module.TypeBool, Default: true},
		"list":              {Type: module.TypeStr},
		"cacheonly":         {Type: module.TypeBool, Default: false},
		"nobest":            {Type: module.TypeBool, Default: false},
		"allowerasing":      {Type: module.TypeBool, Default: false},
		"use_backend":       {Type: module.TypeStr, Default: "auto", Choices: []string{"auto", "yum", "yum4", "dnf"}},
		"disable_excludes":  {Type: module.TypeStr},
		"download_dir":      {Type: module.TypeStr},
	}
}

// DNF is ansible.builtin.dnf (and yum, which on every supported system is
// dnf underneath). Installed versions come from a read-only rpm query;
// available ones from a read-only `dnf repoquery`; changes from one dnf
// call per task.
type DNF struct {
	Tool string // "dnf" or "yum": the binary run
}

var _ module.Module = (*DNF)(nil)

// Run implements module.Module.
func (d *DNF) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	h := t.Host
	tool := d.Tool
	if fi, err := h.Stat(ctx, "/usr/bin/"+tool); tool == "yum" && (err != nil || !fi.Exists) {
		tool = "dnf" // yum is dnf on every release Ansible 2.14 still supports
	}
	d = &DNF{Tool: tool}
	names := a.Strings("name")
	if len(names) == 0 && !a.Bool("update_cache") && !a.Bool("autoremove") {
		return module.Failf("one of the following is required: name, list, update_cache"), nil
	}
	state := a.String("state")
	switch state {
	case "", "installed":
		state = "present"
		if a.Bool("autoremove") {
			state = "absent"
		}
	case "removed":
		state = "absent"
	}
	for _, n := range names {
		if !validPkgName(strings.TrimSuffix(strings.Split(n, "-")[0], "")) || strings.HasPrefix(n, "-") {
			return module.Failf("invalid package name %q", n), nil
		}
	}
	root := a.String("installroot")
	opts := []string{"-y"}
	if root != "" && root != "/" {
		opts = append(opts, "--installroot="+root)
	}
	if a.Has("conf_file") {
		opts = append(opts, "--config="+a.String("conf_file"))
	}
	if a.Has("releasever") {
		opts = append(opts, "--releasever="+a.String("releasever"))
	}
	if a.Bool("disable_gpg_check") {
		opts = append(opts, "--nogpgcheck")
	}
	for _, r := range a.Strings("disablerepo") {
		opts = append(opts, "--disablerepo="+r)
	}
	for _, r := range a.Strings("enablerepo") {
		opts = append(opts, "--enablerepo="+r)
	}
	if a.Bool("update_cache") {
		opts = append(opts, "--refresh")
	}
	if !a.Bool("install_weak_deps") {
		opts = append(opts, "--setopt=install_weak_deps=False")
	}
	res := module.Result{Values: map[string]any{"results": []any{}, "rc": 0}}
	installed, err := rpmInstalled(ctx, h, root, names)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	var todo []string
	action := "install"
	switch state {
	case "absent":
		action = "remove"
		for _, n := range names {
			if installed[n] != "" {
				todo = append(todo, n)
				res.Resources = append(res.Resources, module.Resource{Kind: "package", ID: n, Differs: []string{"installed: " + installed[n] + " -> absent"}})
			} else {
				res.Resources = append(res.Resources, module.Resource{Kind: "package", ID: n})
			}
		}
	case "present", "latest":
		avail, err := d.available(ctx, h, opts, names)
		if err != nil {
			return module.Failf("%v", err), nil
		}
		for _, n := range names {
			rs := module.Resource{Kind: "package", ID: n}
			switch {
			case installed[n] == "" && avail[n] == "":
				return module.Failf("Failed to install some of the specified packages: No package %s available.", n), nil
			case installed[n] == "":
				todo = append(todo, n)
				rs.Differs = []string{"version: absent -> " + avail[n]}
			case state == "latest" && avail[n] != "" && avail[n] != installed[n]:
				todo = append(todo, n)
				rs.Differs = []string{"version: " + installed[n] + " -> " + avail[n]}
			}
			res.Resources = append(res.Resources, rs)
		}
		if state == "latest" {
			action = "upgrade"
			for _, n := range todo {
				if installed[n] == "" {
					action = "install"
				}
			}
		}
	}
	if len(todo) == 0 {
		res.Msg = "Nothing to do"
		return res, nil
	}
	res.Changed = true
	var lines []any
	for _, n := range todo {
		lines = append(lines, map[string]string{"install": "Installed: ", "upgrade": "Installed: ", "remove": "Removed: "}[action]+n)
	}
	res.Values["results"] = lines
	if t.Check {
		return res, nil
	}
	argv := append(append([]string{d.Tool}, opts...), action)
	argv = append(argv, todo...)
	run, err := h.Run(ctx, host.Command{Argv: argv, Env: map[string]string{"LC_ALL": "C"}})
	if err != nil {
		return module.Failf("run %s: %v", d.Tool, err), nil
	}
	res.Values["rc"] = run.RC
	res.Values["stdout"], res.Values["stderr"] = string(run.Stdout), string(run.Stderr)
	if run.RC != 0 {
		res.Failed, res.Changed = true, false
		res.Msg = fmt.Sprintf("'%s' failed: %s", strings.Join(argv, " "), strings.TrimSpace(string(run.Stderr)))
	}
	return res, nil
}

// rpmInstalled returns name -> version-release of the installed packages
// among names (read-only rpm query).
func rpmInstalled(ctx context.Context, h host.Host, root string, names []string) (map[string]string, error) {
	out := map[string]string{}
	if len(names) == 0 {
		return out, nil
	}
	argv := []string{"rpm", "-q", "--qf", `%{NAME}\t%{VERSION}-%{RELEASE}\n`}
	if root != "" && root != "/" {
		argv = append(argv, "--root", root)
	}
	res, err := h.Run(ctx, host.Command{Argv: append(argv, names...), Env: map[string]string{"LC_ALL": "C"}, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("run rpm: %w", err)
	}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if n, v, ok := strings.Cut(l, "\t"); ok {
			out[n] = v
		}
	}
	return out, nil
}

// available returns name -> newest available version-release (read-only).
func (d *DNF) available(ctx context.Context, h host.Host, opts []string, names []string) (map[string]string, error) {
	argv := append([]string{d.Tool}, opts...)
	argv = append(argv, "-q", "repoquery", "--latest-limit=1", "--qf", `%{name}\t%{version}-%{release}`)
	res, err := h.Run(ctx, host.Command{Argv: append(argv, names...), Env: map[string]string{"LC_ALL": "C"}, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("run %s repoquery: %w", d.Tool, err)
	}
	if res.RC != 0 {
		return nil, fmt.Errorf("%s repoquery failed: %s", d.Tool, strings.TrimSpace(string(res.Stderr)))
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if n, v, ok := strings.Cut(strings.TrimSpace(l), "\t"); ok {
			out[n] = v
		}
	}
	return out, nil
}
