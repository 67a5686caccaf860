package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

// Raw is the raw module: the free-form text runs with the host's shell
// (/bin/sh -c, or executable -c), nothing stripped; check mode skips it.
type Raw struct{}

// Run implements module.Module.
func (*Raw) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	if t.Check {
		return module.Result{Skipped: true}, nil
	}
	raw, _ := t.Args["_raw_params"].(string)
	if strings.TrimSpace(raw) == "" {
		return module.Failf("no command given"), nil
	}
	return runShell(ctx, t.Host, shellCommand(raw, t.Args.String("executable"), ""))
}

// runShell runs c and returns raw/script's result: changed, rc, stdout,
// stderr and their lines; a non-zero rc fails.
func runShell(ctx context.Context, h host.Host, c host.Command) (module.Result, error) {
	res, err := h.Run(ctx, c)
	if err != nil {
		if ctx.Err() != nil || !notFound(err) {
			return module.Result{}, fmt.Errorf("run %q: %w", c.Shell, err)
		}
		return module.Result{Failed: true, Msg: fmt.Sprintf("[Errno 2] No such file or directory: b'%s'", firstWord(c))}, nil
	}
	v := map[string]any{"rc": res.RC, "stdout": string(res.Stdout), "stderr": string(res.Stderr)}
	addLines(v)
	out := module.Result{Changed: true, Values: v}
	if res.RC != 0 {
		out.Failed, out.Msg = true, "non-zero return code"
	}
	return out, nil
}
