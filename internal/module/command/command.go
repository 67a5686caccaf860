// Package command owns the modules that run processes on a host: command,
// shell, raw and script, with Ansible 2.14's arguments, results and check
// mode. Every process runs through host.Host.Run.
package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{
		Name: "command", Spec: commandSpec(), FreeForm: "_raw_params", Kind: "other",
		New: func() module.Module { return &Command{} },
	})
	module.Register(module.Info{
		Name: "shell", Spec: commandSpec(), FreeForm: "_raw_params", Kind: "other",
		New: func() module.Module { return &Command{Shell: true} },
	})
	module.Register(module.Info{
		Name: "raw", Spec: module.Spec{"executable": {Type: module.TypeStr}}, FreeForm: "_raw_params", Kind: "other",
		New: func() module.Module { return &Raw{} },
	})
	module.Register(module.Info{
		Name: "script", Spec: scriptSpec(), FreeForm: "_raw_params", Kind: "other",
		New: func() module.Module { return &Script{} },
	})
}

// commandSpec is ansible.builtin.command's argument spec (shell's too). cmd
// is accepted as Ansible's task parser does: it becomes _raw_params. warn was
// removed in 2.14 and is rejected as unsupported, as there.
func commandSpec() module.Spec {
	return module.Spec{
		"cmd":               {Type: module.TypeStr},
		"argv":              {Type: module.TypeList, Elements: module.TypeStr},
		"chdir":             {Type: module.TypePath},
		"executable":        {Type: module.TypeStr},
		"creates":           {Type: module.TypePath},
		"removes":           {Type: module.TypePath},
		"stdin":             {Type: module.TypeStr},
		"stdin_add_newline": {Type: module.TypeBool, Default: true},
		"strip_empty_ends":  {Type: module.TypeBool, Default: true},
	}
}

// Command is the command module, or the shell module when Shell is set.
type Command struct {
	Shell bool
}

var (
	_ module.Module = (*Command)(nil)
	_ module.Module = (*Raw)(nil)
	_ module.Module = (*Script)(nil)
)

// rawParams returns the free-form command, merging cmd into it as
// Ansible's task parser does.
func rawParams(a module.Args) (string, error) {
	raw, _ := a["_raw_params"].(string)
	if a.Has("cmd") {
		if strings.TrimSpace(raw) != "" {
			return "", errors.New("The 'cmd' argument cannot be used when other raw parameters are specified. Please put everything on one line.")
		}
		raw = a.String("cmd")
	}
	return raw, nil
}

// Run implements module.Module.
func (c *Command) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	h := t.Host
	shell := c.Shell || a.Bool("_uses_shell")
	raw, err := rawParams(a)
	if err != nil {
		return module.Failf("%s", err), nil
	}
	argv := a.Strings("argv")
	v := map[string]any{
		"stdout": "", "stderr": "", "rc": nil, "cmd": nil,
		"start": nil, "end": nil, "delta": nil,
	}
	fail := func(rc any, msg string) (module.Result, error) {
		v["rc"] = rc
		addLines(v)
		return module.Result{Failed: true, Msg: msg, Values: v}, nil
	}
	if strings.TrimSpace(raw) == "" && len(argv) == 0 {
		return fail(256, "no command given")
	}
	if raw != "" && len(argv) > 0 {
		return fail(256, "only command or argv can be given, not both")
	}
	var words []string
	switch {
	case shell && raw != "":
		v["cmd"] = raw
	case raw != "":
		if words, err = Split(raw); err != nil {
			return module.Failf("cannot split command %q: %v", raw, err), nil
		}
		v["cmd"] = anyList(words)
	default:
		words = argv
		v["cmd"] = anyList(words)
	}

	var env map[string]string
	getEnv := func() map[string]string {
		if env == nil {
			env = hostEnv(ctx, h)
		}
		return env
	}
	chdir := a.String("chdir")
	if chdir != "" {
		chdir = expandUser(ctx, h, chdir, getEnv())
		fi, err := host.StatFollow(ctx, h, chdir)
		if err != nil || !fi.Exists || !fi.IsDir() {
			if err == nil && !fi.Exists {
				err = fs.ErrNotExist
			}
			return fail(nil, "Unable to change directory before execution: "+errnoMsg(err, chdir))
		}
	}

	would := "Did"
	if t.Check {
		would = "Would"
	}
	for _, cond := range []struct {
		name   string
		exists bool // skip when the glob matches (creates) or not (removes)
		msg    string
	}{{"creates", true, "exists"}, {"removes", false, "does not exist"}} {
		p := a.String(cond.name)
		if p == "" {
			continue
		}
		matches, err := glob(ctx, h, chdir, expandUser(ctx, h, p, getEnv()))
		if err != nil {
			return module.Result{}, fmt.Errorf("%s: check %s: %w", cond.name, p, err)
		}
		if (len(matches) > 0) == cond.exists {
			v["rc"] = 0
			v["stdout"] = fmt.Sprintf("skipped, since %s %s", p, cond.msg)
			addLines(v)
			return module.Result{Msg: fmt.Sprintf("%s not run command since '%s' %s", would, p, cond.msg), Values: v}, nil
		}
	}

	if t.Check {
		v["rc"] = 0
		addLines(v)
		res := module.Result{Changed: true, Msg: "Command would have run if not in check mode", Values: v}
		if !a.Has("creates") && !a.Has("removes") {
			res.Changed, res.Skipped = false, true
		}
		return res, nil
	}

	hc := host.Command{Dir: chdir}
	if shell {
		if raw == "" {
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = Quote(w)
			}
			raw = strings.Join(quoted, " ")
		}
		hc.Shell, hc.Executable = raw, a.String("executable")
	} else {
		hc.Argv = make([]string, len(words))
		for i, w := range words {
			if strings.Contains(w, "$") || strings.HasPrefix(w, "~") {
				w = expandUser(ctx, h, expandVars(w, getEnv()), getEnv())
			}
			hc.Argv[i] = w
		}
	}
	if a.Has("stdin") {
		in := a.String("stdin")
		if in != "" && a.Bool("stdin_add_newline") {
			in += "\n"
		}
		hc.Stdin = []byte(in)
	}
	res, err := h.Run(ctx, hc)
	if err != nil {
		if ctx.Err() != nil || !notFound(err) {
			return module.Result{}, fmt.Errorf("run %v: %w", v["cmd"], err)
		}
		v["cmd"] = cleanArgs(hc)
		delete(v, "start")
		delete(v, "end")
		delete(v, "delta")
		return fail(2, fmt.Sprintf("[Errno 2] No such file or directory: b'%s'", firstWord(hc)))
	}
	v["rc"] = res.RC
	v["start"] = pyTime(res.Start)
	v["end"] = pyTime(res.End)
	v["delta"] = pyDelta(res.End.Sub(res.Start))
	v["stdout"], v["stderr"] = string(res.Stdout), string(res.Stderr)
	if a.Bool("strip_empty_ends") {
		v["stdout"] = strings.TrimRight(string(res.Stdout), "\r\n")
		v["stderr"] = strings.TrimRight(string(res.Stderr), "\r\n")
	}
	addLines(v)
	v["msg"] = "" // Ansible's command module returns an empty msg on success
	out := module.Result{Changed: true, Values: v}
	if res.RC != 0 {
		out.Failed, out.Msg = true, "non-zero return code"
		v["msg"] = out.Msg
	}
	return out, nil
}

// notFound reports whether a Run error means the program does not exist.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "executable file not found")
}

func firstWord(c host.Command) string {
	if len(c.Argv) > 0 {
		return c.Argv[0]
	}
	if c.Executable != "" {
		return c.Executable
	}
	return "/bin/sh"
}

// cleanArgs is the command as one quoted string (Ansible's _clean_args).
func cleanArgs(c host.Command) string {
	if len(c.Argv) == 0 {
		return c.Shell
	}
	q := make([]string, len(c.Argv))
	for i, w := range c.Argv {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

func anyList(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// addLines adds stdout_lines and stderr_lines, as Ansible's action plugins do.
func addLines(v map[string]any) {
	for _, k := range []string{"stdout", "stderr"} {
		if s, ok := v[k].(string); ok {
			v[k+"_lines"] = anyList(splitLines(s))
		}
	}
}

// splitLines splits s as Python's str.splitlines() does.
func splitLines(s string) []string {
	lines := []string{}
	start := 0
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\n', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
		case '\r':
			lines = append(lines, string(rs[start:i]))
			if i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
			start = i + 1
			continue
		default:
			continue
		}
		lines = append(lines, string(rs[start:i]))
		start = i + 1
	}
	if start < len(rs) {
		lines = append(lines, string(rs[start:]))
	}
	return lines
}

// pyTime formats t as Python's str(datetime): "2026-11-25 20:24:19.868973",
// without the fraction when it is zero.
func pyTime(t time.Time) string {
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// pyDelta formats d as Python's str(timedelta): "0:00:00.003285",
// "1 day, 2:03:04", without the fraction when it is zero.
func pyDelta(d time.Duration) string {
	us := d.Microseconds()
	neg := us < 0
	if neg {
		us = -us
	}
	days := us / (86400 * 1e6)
	rest := us % (86400 * 1e6)
	if neg && rest != 0 { // Python normalises to -N days + positive time
		days++
		rest = 86400*1e6 - rest
	}
	s := fmt.Sprintf("%d:%02d:%02d", rest/3600e6, rest/60e6%60, rest/1e6%60)
	if f := rest % 1e6; f != 0 {
		s += fmt.Sprintf(".%06d", f)
	}
	if days != 0 {
		if neg {
			days = -days
		}
		unit := "days"
		if days == 1 || days == -1 {
			unit = "day"
		}
		s = fmt.Sprintf("%d %s, %s", days, unit, s)
	}
	return s
}

// shellCommand runs text with the host's shell (or executable), as raw and
// script do through Ansible's connection.
func shellCommand(text, executable, dir string) host.Command {
	return host.Command{Shell: text, Executable: executable, Dir: dir}
}
