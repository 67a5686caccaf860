package files

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "slurp", Kind: "file", New: func() module.Module { return &Slurp{} }, Spec: module.Spec{
		"src": {Type: module.TypePath, Required: true, Aliases: []string{"path"}},
	}})
}

// Slurp is ansible.builtin.slurp: a file's content, base64-encoded. It only
// reads.
type Slurp struct{}

var _ module.Module = (*Slurp)(nil)

// Run implements module.Module.
func (*Slurp) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	src := t.Args.String("src")
	fi, err := host.StatFollow(ctx, t.Host, src)
	switch {
	case err != nil:
		return module.Failf("unable to slurp file: %v", err), nil
	case !fi.Exists:
		return module.Failf("file not found: %s", src), nil
	case fi.IsDir():
		return module.Failf("source is a directory and must be a file: %s", src), nil
	}
	data, err := t.Host.ReadFile(ctx, src)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return module.Failf("file is not readable: %s", src), nil
		}
		return module.Failf("unable to slurp file: %v", err), nil
	}
	return module.Result{Values: map[string]any{
		"content":  base64.StdEncoding.EncodeToString(data),
		"source":   src,
		"encoding": "base64",
	}}, nil
}
