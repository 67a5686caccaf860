package host

import (
	"context"
	"maps"
)

// WithEnv wraps h so that every command run through it gets env (a task's
// `environment:` keyword) in its environment. What the command sets itself
// wins, as a module's own variables (LANG=C for parsing, DEBIAN_FRONTEND)
// do in Ansible.
func WithEnv(h Host, env map[string]string) Host {
	if len(env) == 0 {
		return h
	}
	return &withEnv{Host: h, env: env}
}

type withEnv struct {
	Host
	env map[string]string
}

func (w *withEnv) Run(ctx context.Context, cmd Command) (CommandResult, error) {
	merged := maps.Clone(w.env)
	maps.Copy(merged, cmd.Env)
	cmd.Env = merged
	return w.Host.Run(ctx, cmd)
}
