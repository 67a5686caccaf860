package pkg

import (
	"context"
	"fmt"

	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "package", Kind: "package", New: func() module.Module { return &Package{} }, Spec: module.Spec{
		"name":  {Type: module.TypeList, Elements: module.TypeStr, Required: true},
		"state": {Type: module.TypeStr, Required: true},
		"use":   {Type: module.TypeStr, Default: "auto"},
	}})
}

// Package is ansible.builtin.package: it hands name and state to the
// host's package manager module, chosen by `use`, else the pkg_mgr fact,
// else by probing for apt-get, dnf and yum.
type Package struct{}

var _ module.Module = (*Package)(nil)

// Run implements module.Module.
func (*Package) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	mgr := t.Args.String("use")
	if mgr == "auto" {
		mgr = factPkgMgr(t.Vars)
	}
	if mgr == "" || mgr == "auto" {
		for _, c := range []struct{ bin, mgr string }{{"/usr/bin/apt-get", "apt"}, {"/usr/bin/dnf", "dnf"}, {"/usr/bin/yum", "yum"}} {
			if fi, err := t.Host.Stat(ctx, c.bin); err == nil && fi.Exists {
				mgr = c.mgr
				break
			}
		}
	}
	info, ok := module.Lookup(mgr)
	if !ok || mgr == "package" || info.Kind != "package" {
		return module.Failf("Could not detect which major revision of package manager is in use (pkg_mgr=%q); set `use`", mgr), nil
	}
	raw := map[string]any{"name": t.Args.List("name"), "state": t.Args.String("state")}
	args, err := info.Spec.Validate(raw)
	if err != nil {
		return module.Failf("%s: %v", mgr, err), nil
	}
	sub := *t
	sub.Args = args
	res, err := info.New().Run(ctx, &sub)
	if err != nil {
		return res, fmt.Errorf("package via %s: %w", mgr, err)
	}
	return res, nil
}

// factPkgMgr reads ansible_facts.pkg_mgr (or ansible_pkg_mgr) from vars.
func factPkgMgr(vars map[string]any) string {
	if f, ok := vars["ansible_facts"].(map[string]any); ok {
		if s, ok := f["pkg_mgr"].(string); ok {
			return s
		}
	}
	if s, ok := vars["ansible_pkg_mgr"].(string); ok {
		return s
	}
	return ""
}
