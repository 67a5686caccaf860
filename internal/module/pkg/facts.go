package pkg

import (
	"context"
	"fmt"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "package_facts", Kind: "package", New: func() module.Module { return &PackageFacts{} }, Spec: module.Spec{
		"manager":  {Type: module.TypeList, Elements: module.TypeStr, Default: []any{"auto"}},
		"strategy": {Type: module.TypeStr, Default: "first", Choices: []string{"first", "all"}},
	}})
}

// PackageFacts is ansible.builtin.package_facts: ansible_facts.packages,
// name -> list of {name, version, arch, category, source}, read from
// dpkg's status file directly and from `rpm -qa` where rpm is the
// manager. It never changes anything (its rpm query is read-only).
type PackageFacts struct{}

var _ module.Module = (*PackageFacts)(nil)

// Run implements module.Module.
func (*PackageFacts) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	managers := t.Args.Strings("manager")
	auto := len(managers) == 0 || len(managers) == 1 && managers[0] == "auto"
	if auto {
		managers = []string{"apt", "rpm"}
	}
	first := t.Args.String("strategy") != "all"
	pkgs := map[string]any{}
	found := false
	for _, m := range managers {
		var err error
		var ok bool
		switch m {
		case "apt":
			ok, err = dpkgFacts(ctx, t.Host, pkgs)
		case "rpm":
			ok, err = rpmFacts(ctx, t.Host, pkgs)
		default:
			return module.Failf("Could not find any of the following package managers: %s (tend supports apt and rpm)", m), nil
		}
		if err != nil {
			return module.Failf("%v", err), nil
		}
		if ok {
			found = true
			if first {
				break
			}
		}
	}
	if !found {
		return module.Failf("Could not detect a supported package manager from the following list: %s", strings.Join(managers, ", ")), nil
	}
	return module.Result{Values: map[string]any{"ansible_facts": map[string]any{"packages": pkgs}}}, nil
}

func dpkgFacts(ctx context.Context, h host.Host, out map[string]any) (bool, error) {
	if fi, err := h.Stat(ctx, dpkgStatusPath); err != nil || !fi.Exists {
		return false, nil
	}
	db, err := readDpkgStatus(ctx, h)
	if err != nil {
		return false, err
	}
	for name, ps := range db {
		for _, p := range ps {
			if !p.Installed() {
				continue
			}
			l, _ := out[name].([]any)
			out[name] = append(l, map[string]any{"name": name, "version": p.Version, "arch": p.Arch, "category": p.Section, "source": "apt"})
		}
	}
	return true, nil
}

func rpmFacts(ctx context.Context, h host.Host, out map[string]any) (bool, error) {
	if fi, err := h.Stat(ctx, "/usr/bin/rpm"); err != nil || !fi.Exists {
		return false, nil
	}
	res, err := h.Run(ctx, host.Command{Argv: []string{"rpm", "-qa", "--qf", `%{NAME}\t%{VERSION}\t%{RELEASE}\t%{EPOCHNUM}\t%{ARCH}\n`}, ReadOnly: true})
	if err != nil {
		return false, fmt.Errorf("run rpm: %w", err)
	}
	if res.RC != 0 {
		return false, fmt.Errorf("rpm -qa failed: %s", strings.TrimSpace(string(res.Stderr)))
	}
	n := 0
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			continue
		}
		var epoch any
		if f[3] != "0" {
			epoch = f[3]
		}
		l, _ := out[f[0]].([]any)
		out[f[0]] = append(l, map[string]any{"name": f[0], "version": f[1], "release": f[2], "epoch": epoch, "arch": f[4], "source": "rpm"})
		n++
	}
	// An rpm binary with an empty database (Debian's rpm package) is not
	// the host's package manager.
	return n > 0, nil
}
