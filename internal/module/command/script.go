package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func scriptSpec() module.Spec {
	return module.Spec{
		"cmd":        {Type: module.TypeStr},
		"creates":    {Type: module.TypeStr},
		"removes":    {Type: module.TypeStr},
		"chdir":      {Type: module.TypeStr},
		"executable": {Type: module.TypeStr},
		"decrypt":    {Type: module.TypeBool, Default: true},
	}
}

// Script is the script module: a script from the controller (found like
// Ansible's files/ lookup) is copied to a temporary file on the host, run
// there with the rest of the free-form text as its arguments, and removed.
type Script struct{}

// Run implements module.Module.
func (*Script) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	skip := func(msg string) (module.Result, error) {
		return module.Result{Skipped: true, Msg: msg}, nil
	}
	if p := a.String("creates"); p != "" {
		m, err := glob(ctx, h, "", p)
		if err != nil {
			return module.Result{}, fmt.Errorf("creates: check %s: %w", p, err)
		}
		if len(m) > 0 {
			return skip(p + " exists, matching creates option")
		}
	}
	if p := a.String("removes"); p != "" {
		m, err := glob(ctx, h, "", p)
		if err != nil {
			return module.Result{}, fmt.Errorf("removes: check %s: %w", p, err)
		}
		if len(m) == 0 {
			return skip(p + " does not exist, matching removes option")
		}
	}
	chdir := a.String("chdir")
	if chdir != "" && !path.IsAbs(chdir) {
		return module.Failf("chdir %s must be an absolute path for a Unix-aware remote node", chdir), nil
	}
	raw, err := rawParams(a)
	if err != nil {
		return module.Failf("%s", err), nil
	}
	raw = strings.TrimSpace(raw)
	parts, err := Split(raw)
	if err != nil || len(parts) == 0 {
		return module.Failf("script: no script given in %q", raw), nil
	}
	if t.Find == nil || t.ReadLocal == nil {
		return module.Result{}, fmt.Errorf("script: the engine gave no way to find controller files")
	}
	src, err := t.Find("files", parts[0])
	if err != nil {
		return module.Failf("Could not find or access '%s': %v", parts[0], err), nil
	}
	if t.Check {
		if a.Has("creates") || a.Has("removes") {
			return module.Result{Changed: true}, nil
		}
		return skip("Check mode is not supported for this task.")
	}
	data, err := t.ReadLocal(src)
	if err != nil {
		return module.Failf("read script %s: %v", src, err), nil
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := "/tmp/.tend-script-" + hex.EncodeToString(rnd[:]) + "-" + path.Base(src)
	if err := h.WriteFile(ctx, tmp, data, host.WriteOptions{Mode: 0o700, UID: -1, GID: -1}); err != nil {
		return module.Result{}, fmt.Errorf("script: copy %s to %s: %w", src, tmp, err)
	}
	defer h.Remove(context.WithoutCancel(ctx), tmp) //nolint:errcheck // best effort cleanup
	// Replace the script's word in the original text, as Ansible does, so the
	// arguments keep their quoting.
	text := strings.Replace(raw, parts[0], Quote(tmp), 1)
	if e := a.String("executable"); e != "" {
		text = e + " " + text
	}
	return runShell(ctx, h, shellCommand(text, "", chdir))
}
