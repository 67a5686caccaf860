// Package account holds the modules that manage local accounts — user,
// group and authorized_key — with ansible-core 2.14's arguments and
// results. State is read from /etc/passwd, /etc/group and /etc/shadow
// through host.Host; changes go through useradd/usermod/userdel and
// groupadd/groupmod/groupdel, built the way Ansible builds them, so check
// mode computes the same command and runs nothing.
package account

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tend-project/tend/internal/host"
)

// validName is what shadow-utils accepts by default (plus a trailing $
// for machine accounts), checked before any command runs.
var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]{0,31}\$?$`)

func checkName(kind, n string) error {
	if !validName.MatchString(n) {
		return fmt.Errorf("invalid %s name %q: must start with a letter or _, hold only letters, digits, '.', '_' or '-', and be at most 32 characters", kind, n)
	}
	return nil
}

type passwdEnt struct {
	Name    string
	UID     int
	GID     int
	Comment string
	Home    string
	Shell   string
}

type groupEnt struct {
	Name    string
	GID     int
	Members []string
}

// db is the host's local account databases.
type db struct {
	users  map[string]passwdEnt
	groups []groupEnt
	shadow map[string]string // name -> password hash field
}

func readDB(ctx context.Context, h host.Host, withShadow bool) (*db, error) {
	d := &db{users: map[string]passwdEnt{}, shadow: map[string]string{}}
	pw, err := h.ReadFile(ctx, "/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("read /etc/passwd: %w", err)
	}
	for _, l := range strings.Split(string(pw), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 7 {
			continue
		}
		uid, _ := strconv.Atoi(f[2])
		gid, _ := strconv.Atoi(f[3])
		d.users[f[0]] = passwdEnt{Name: f[0], UID: uid, GID: gid, Comment: f[4], Home: f[5], Shell: f[6]}
	}
	gr, err := h.ReadFile(ctx, "/etc/group")
	if err != nil {
		return nil, fmt.Errorf("read /etc/group: %w", err)
	}
	for _, l := range strings.Split(string(gr), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 4 {
			continue
		}
		gid, _ := strconv.Atoi(f[2])
		g := groupEnt{Name: f[0], GID: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m != "" {
				g.Members = append(g.Members, m)
			}
		}
		d.groups = append(d.groups, g)
	}
	if withShadow {
		sh, err := h.ReadFile(ctx, "/etc/shadow")
		if err == nil {
			for _, l := range strings.Split(string(sh), "\n") {
				f := strings.Split(l, ":")
				if len(f) >= 2 {
					d.shadow[f[0]] = f[1]
				}
			}
		}
	}
	return d, nil
}

// group finds a group by name, or by gid when name is numeric, as grp does.
func (d *db) group(name string) (groupEnt, bool) {
	for _, g := range d.groups {
		if g.Name == name {
			return g, true
		}
	}
	if n, err := strconv.Atoi(name); err == nil {
		for _, g := range d.groups {
			if g.GID == n {
				return g, true
			}
		}
	}
	return groupEnt{}, false
}

// memberOf lists the groups that name the user as a member.
func (d *db) memberOf(user string) []string {
	var out []string
	for _, g := range d.groups {
		for _, m := range g.Members {
			if m == user {
				out = append(out, g.Name)
			}
		}
	}
	return out
}

func runCmd(ctx context.Context, h host.Host, argv []string) (host.CommandResult, error) {
	res, err := h.Run(ctx, host.Command{Argv: argv, Env: map[string]string{"LC_ALL": "C"}})
	if err != nil {
		return res, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return res, nil
}
