package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/host"
)

// hostEnv reads the environment a command gets on h, for Ansible's
// expandvars/expanduser of command arguments. It reads /proc/self/environ
// through the host (the reading process's environment: tend's own locally,
// the SFTP server's over SSH) and falls back to running env.
func hostEnv(ctx context.Context, h host.Host) map[string]string {
	env := map[string]string{}
	if data, err := h.ReadFile(ctx, "/proc/self/environ"); err == nil && len(data) > 0 {
		for _, kv := range bytes.Split(data, []byte{0}) {
			if k, v, ok := strings.Cut(string(kv), "="); ok && k != "" {
				env[k] = v
			}
		}
		return env
	}
	res, err := h.Run(ctx, host.Command{Argv: []string{"env"}})
	if err != nil || res.RC != 0 {
		return env
	}
	last := ""
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && validName.MatchString(k) {
			env[k], last = v, k
		} else if last != "" {
			env[last] += "\n" + line
		}
	}
	return env
}

var (
	validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	varRef    = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)
)

// expandVars replaces $NAME and ${NAME} with values from env, leaving
// unknown references as they are (Python's os.path.expandvars).
func expandVars(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := strings.TrimPrefix(ref, "$")
		if strings.HasPrefix(name, "{") && strings.HasSuffix(name, "}") {
			name = name[1 : len(name)-1]
		}
		if v, ok := env[name]; ok {
			return v
		}
		return ref
	})
}

// expandUser replaces a leading ~ or ~user with that home directory
// (Python's os.path.expanduser); unknown users are left as they are.
func expandUser(ctx context.Context, h host.Host, s string, env map[string]string) string {
	if !strings.HasPrefix(s, "~") {
		return s
	}
	i := strings.Index(s[1:], "/") + 1
	if i == 0 {
		i = len(s)
	}
	var home string
	if i == 1 {
		home = env["HOME"]
		if home == "" {
			return s
		}
	} else {
		home = passwdHome(ctx, h, s[1:i])
		if home == "" {
			return s
		}
	}
	home = strings.TrimRight(home, "/")
	if out := home + s[i:]; out != "" {
		return out
	}
	return "/"
}

func passwdHome(ctx context.Context, h host.Host, user string) string {
	data, err := h.ReadFile(ctx, "/etc/passwd")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 6 && f[0] == user {
			return f[5]
		}
	}
	return ""
}

// glob returns the paths on h matching pattern, as Python's glob.glob:
// a pattern without magic characters matches when the path exists (lstat);
// '*' and '?' do not match a leading dot unless the pattern has one.
// Relative patterns are relative to dir.
func glob(ctx context.Context, h host.Host, dir, pattern string) ([]string, error) {
	abs := pattern
	if !path.IsAbs(abs) && dir != "" {
		abs = path.Join(dir, abs)
	}
	if !hasMagic(abs) {
		fi, err := h.Stat(ctx, abs)
		if err != nil || !fi.Exists {
			return nil, err
		}
		return []string{pattern}, nil
	}
	parts := strings.Split(abs, "/")
	cur := []string{"/"}
	if !path.IsAbs(abs) {
		cur = []string{"."}
	}
	for i, part := range parts {
		if part == "" {
			continue
		}
		last := i == len(parts)-1
		var next []string
		for _, base := range cur {
			if !hasMagic(part) {
				p := path.Join(base, part)
				fi, err := h.Stat(ctx, p)
				if err != nil {
					return nil, err
				}
				if fi.Exists {
					next = append(next, p)
				}
				continue
			}
			fi, err := host.StatFollow(ctx, h, base)
			if err != nil || !fi.IsDir() {
				continue
			}
			entries, err := h.ReadDir(ctx, base)
			if err != nil {
				continue // unreadable directories match nothing, as in Python
			}
			for _, e := range entries {
				name := path.Base(e.Path)
				if strings.HasPrefix(name, ".") && !strings.HasPrefix(part, ".") {
					continue
				}
				if ok, err := path.Match(fnmatchToGo(part), name); err == nil && ok {
					next = append(next, path.Join(base, name))
				}
			}
		}
		if !last {
			sort.Strings(next)
		}
		cur = next
	}
	return cur, nil
}

func hasMagic(s string) bool { return strings.ContainsAny(s, "*?[") }

// fnmatchToGo turns fnmatch's [!...] into path.Match's [^...].
func fnmatchToGo(p string) string { return strings.ReplaceAll(p, "[!", "[^") }

// errnoMsg words a filesystem error as Python's OSError does for path p.
func errnoMsg(err error, p string) string {
	switch {
	case err == nil:
		return fmt.Sprintf("[Errno 20] Not a directory: b'%s'", p)
	case isNotExist(err):
		return fmt.Sprintf("[Errno 2] No such file or directory: b'%s'", p)
	}
	return err.Error()
}

func isNotExist(err error) bool { return err != nil && errors.Is(err, fs.ErrNotExist) }
