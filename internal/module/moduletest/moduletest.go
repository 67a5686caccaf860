// Package moduletest runs a registered module the way the engine does —
// validated args, a read-only host in check mode, diffs on — for the
// modules' own tests.
package moduletest

import (
	"context"
	"os"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

// Run runs module name with raw args on h (check mode: through
// host.ReadOnly) and fails the test when the args do not validate or the
// module returns an error. Relative src paths resolve as given.
func Run(t testing.TB, h host.Host, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	info, ok := module.Lookup(name)
	if !ok {
		t.Fatalf("module %s not registered", name)
	}
	args, err := info.Spec.Validate(raw)
	if err != nil {
		t.Fatalf("%s %v: %v", name, raw, err)
	}
	if check {
		h = host.ReadOnly(h)
	}
	res, err := info.New().Run(context.Background(), &module.Task{Host: h, Args: args, Check: check, Diff: true,
		Vars: map[string]any{}, ReadLocal: os.ReadFile, Find: func(kind, rel string) (string, error) { return rel, nil }})
	if err != nil {
		t.Fatalf("%s %v: %v", name, raw, err)
	}
	return res
}

// Want fails the test unless res succeeded with the given changed.
func Want(t testing.TB, what string, res module.Result, changed bool) {
	t.Helper()
	if res.Failed || res.Changed != changed {
		t.Fatalf("%s: changed=%v failed=%v %q, want changed=%v (resources %+v, stderr %v)",
			what, res.Changed, res.Failed, res.Msg, changed, res.Resources, res.Values["stderr"])
	}
}
