package account

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "user", Kind: "user", New: func() module.Module { return &User{} }, Spec: module.Spec{
		"name":             {Type: module.TypeStr, Required: true, Aliases: []string{"user"}},
		"state":            {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "present"}},
		"uid":              {Type: module.TypeInt},
		"non_unique":       {Type: module.TypeBool, Default: false},
		"group":            {Type: module.TypeStr},
		"groups":           {Type: module.TypeList, Elements: module.TypeStr},
		"comment":          {Type: module.TypeStr},
		"home":             {Type: module.TypePath},
		"shell":            {Type: module.TypeStr},
		"password":         {Type: module.TypeStr, NoLog: true},
		"force":            {Type: module.TypeBool, Default: false},
		"remove":           {Type: module.TypeBool, Default: false},
		"create_home":      {Type: module.TypeBool, Default: true, Aliases: []string{"createhome"}},
		"skeleton":         {Type: module.TypeStr},
		"system":           {Type: module.TypeBool, Default: false},
		"move_home":        {Type: module.TypeBool, Default: false},
		"append":           {Type: module.TypeBool, Default: false},
		"update_password":  {Type: module.TypeStr, Default: "always", Choices: []string{"always", "on_create"}},
		"password_lock":    {Type: module.TypeBool},
		"expires":          {Type: module.TypeFloat},
		"umask":            {Type: module.TypeStr},
		"seuser":           {Type: module.TypeStr},
		"local":            {Type: module.TypeBool},
		"generate_ssh_key": {Type: module.TypeBool},
	}})
}

// User is ansible.builtin.user for Linux hosts with shadow-utils.
type User struct{}

var _ module.Module = (*User)(nil)

// Run implements module.Module.
func (*User) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	name := a.String("name")
	if err := checkName("user", name); err != nil {
		return module.Failf("%v", err), nil
	}
	for _, unsupported := range []string{"expires", "generate_ssh_key", "local", "seuser"} {
		if a.Has(unsupported) && !(a[unsupported] == false) {
			return module.Failf("user: %s is not supported by tend's native user module; use backend ansible for this task", unsupported), nil
		}
	}
	if p := a.String("password"); p != "" && !strings.HasPrefix(p, "$") && p != "*" && p != "!" && !strings.HasPrefix(p, "!") {
		// Ansible only warns; an unhashed password is almost always a mistake.
		if t.Log != nil {
			t.Log.Warn("user: password does not look like a crypt hash; it is stored as given", "user", name)
		}
	}
	d, err := readDB(ctx, h, true)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	cur, exists := d.users[name]
	// Groups must exist — except for a user that check mode would create:
	// Ansible reports that as a change without looking further (an earlier
	// task of the same run may create the groups).
	groups, err := wantGroups(a, d, !exists && t.Check)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	if a.Has("group") && (exists || !t.Check) {
		if _, ok := d.group(a.String("group")); !ok {
			return module.Failf("Group %s does not exist", a.String("group")), nil
		}
	}
	vals := map[string]any{"name": name, "state": a.String("state")}
	rs := module.Resource{Kind: "user", ID: name}
	var argv []string
	var before, after string
	switch {
	case a.String("state") == "absent":
		if exists {
			argv = []string{"userdel"}
			if a.Bool("force") {
				argv = append(argv, "-f")
			}
			if a.Bool("remove") {
				argv = append(argv, "-r")
			}
			argv = append(argv, name)
			rs.Differs = []string{"present -> absent"}
			before, after = "present\n", "absent\n"
			vals["force"], vals["remove"] = a.Bool("force"), a.Bool("remove")
		}
	case !exists:
		argv = createArgv(a, d, name, groups)
		rs.Differs = []string{"absent -> present"}
		before, after = "absent\n", "present\n"
		vals["system"], vals["create_home"] = a.Bool("system"), a.Bool("create_home")
	default:
		var diffs []string
		argv, diffs = modifyArgv(a, d, cur, groups)
		rs.Differs = diffs
		before, after = describe(cur, d), ""
		vals["append"], vals["move_home"] = a.Bool("append"), a.Bool("move_home")
	}
	res := module.Result{Values: vals, Resources: []module.Resource{rs}}
	if a.Has("password") {
		vals["password"] = "NOT_LOGGING_PASSWORD"
	}
	// a missing home directory is created, as Ansible does
	home := a.String("home")
	if home == "" && exists {
		home = cur.Home
	}
	needHome := a.String("state") == "present" && exists && a.Bool("create_home") && home != ""
	if needHome {
		if fi, err := h.Stat(ctx, home); err == nil && fi.Exists {
			needHome = false
		} else {
			rs.Differs = append(rs.Differs, "home "+home+": absent -> directory")
			res.Resources[0] = rs
		}
	}
	res.Changed = argv != nil || needHome
	if t.Diff && argv != nil && after == "" {
		after = strings.Join(rs.Differs, "\n") + "\n"
	}
	if t.Diff && res.Changed {
		res.Diffs = []module.Diff{{BeforeHeader: "user " + name, AfterHeader: "user " + name, Before: before, After: after}}
	}
	if !t.Check && argv != nil {
		r, err := runCmd(ctx, h, argv)
		if err != nil {
			return module.Failf("%v", err), nil
		}
		if r.RC != 0 {
			f := module.Failf("%s", strings.TrimSpace(string(r.Stderr)))
			f.Values = map[string]any{"name": name, "rc": r.RC}
			return f, nil
		}
		if len(r.Stdout) > 0 {
			vals["stdout"] = string(r.Stdout)
		}
		if len(r.Stderr) > 0 {
			vals["stderr"] = string(r.Stderr)
		}
	}
	if !t.Check && needHome {
		if err := makeHome(ctx, t, name, home); err != nil {
			return module.Failf("create home %s: %v", home, err), nil
		}
	}
	if a.String("state") == "present" {
		if d2, err := readDB(ctx, h, false); err == nil {
			if u, ok := d2.users[name]; ok {
				vals["uid"], vals["group"], vals["comment"], vals["home"], vals["shell"] = u.UID, u.GID, u.Comment, u.Home, u.Shell
			}
		}
		if a.Has("groups") {
			vals["groups"] = strings.Join(a.Strings("groups"), ",")
		}
	}
	return res, nil
}

func makeHome(ctx context.Context, t *module.Task, name, home string) error {
	// Through useradd's own skeleton copy is not possible for an existing
	// user; Ansible copies /etc/skel by hand. tend makes the directory.
	if err := t.Host.Mkdir(ctx, home, 0o755); err != nil {
		return err
	}
	uid, err := t.Host.LookupUser(ctx, name)
	if err != nil {
		return err
	}
	d, err := readDB(ctx, t.Host, false)
	if err != nil {
		return err
	}
	return t.Host.Lchown(ctx, home, uid, d.users[name].GID)
}

// wantGroups resolves the groups argument: nil when not given, the set of
// names otherwise (every one must exist).
func wantGroups(a module.Args, d *db, lenient bool) ([]string, error) {
	if !a.Has("groups") {
		return nil, nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, g := range a.Strings("groups") {
		for _, x := range strings.Split(g, ",") {
			x = strings.TrimSpace(x)
			if x == "" || seen[x] {
				continue
			}
			if _, ok := d.group(x); !ok && !lenient {
				return nil, fmt.Errorf("Group %s does not exist", x)
			}
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out, nil
}

func createArgv(a module.Args, d *db, name string, groups []string) []string {
	argv := []string{"useradd"}
	if a.Has("uid") {
		argv = append(argv, "-u", strconv.Itoa(a.Int("uid")))
		if a.Bool("non_unique") {
			argv = append(argv, "-o")
		}
	}
	if a.Has("group") {
		argv = append(argv, "-g", a.String("group"))
	} else if _, ok := d.group(name); ok {
		argv = append(argv, "-N")
	}
	if len(groups) > 0 {
		argv = append(argv, "-G", strings.Join(groups, ","))
	}
	if a.Has("comment") {
		argv = append(argv, "-c", a.String("comment"))
	}
	if a.Has("home") {
		argv = append(argv, "-d", a.String("home"))
	}
	if a.Has("shell") {
		argv = append(argv, "-s", a.String("shell"))
	}
	if a.Has("password") {
		p := a.String("password")
		if a.Has("password_lock") && a.Bool("password_lock") {
			p = "!" + p
		}
		argv = append(argv, "-p", p)
	}
	if a.Bool("create_home") {
		argv = append(argv, "-m")
		if a.Has("skeleton") {
			argv = append(argv, "-k", a.String("skeleton"))
		}
		if a.Has("umask") {
			argv = append(argv, "-K", "UMASK="+a.String("umask"))
		}
	} else {
		argv = append(argv, "-M")
	}
	if a.Bool("system") {
		argv = append(argv, "-r")
	}
	return append(argv, name)
}

// modifyArgv is Ansible's modify_user_usermod: usermod with only the
// options whose value differs, or nil when nothing differs.
func modifyArgv(a module.Args, d *db, cur passwdEnt, groups []string) ([]string, []string) {
	argv := []string{"usermod"}
	var diffs []string
	if a.Has("uid") && cur.UID != a.Int("uid") {
		argv = append(argv, "-u", strconv.Itoa(a.Int("uid")))
		if a.Bool("non_unique") {
			argv = append(argv, "-o")
		}
		diffs = append(diffs, fmt.Sprintf("uid: %d -> %d", cur.UID, a.Int("uid")))
	}
	if a.Has("group") {
		g, _ := d.group(a.String("group"))
		if g.GID != cur.GID {
			argv = append(argv, "-g", strconv.Itoa(g.GID))
			diffs = append(diffs, fmt.Sprintf("group: %d -> %d", cur.GID, g.GID))
		}
	}
	if groups != nil {
		current := d.memberOf(cur.Name)
		have := map[string]bool{}
		for _, g := range current {
			have[g] = true
		}
		want := map[string]bool{}
		for _, g := range groups {
			want[g] = true
		}
		need := false
		if len(groups) == 0 {
			need = len(current) > 0 && !a.Bool("append")
		} else if a.Bool("append") {
			for _, g := range groups {
				if !have[g] {
					need = true
				}
			}
			if need {
				argv = append(argv, "-a")
			}
		} else {
			for _, g := range groups {
				if !have[g] {
					need = true
				}
			}
			for _, g := range current {
				if !want[g] {
					need = true
				}
			}
		}
		if need {
			argv = append(argv, "-G", strings.Join(groups, ","))
			diffs = append(diffs, fmt.Sprintf("groups: %s -> %s", strings.Join(current, ","), strings.Join(groups, ",")))
		}
	}
	if a.Has("comment") && cur.Comment != a.String("comment") {
		argv = append(argv, "-c", a.String("comment"))
		diffs = append(diffs, fmt.Sprintf("comment: %q -> %q", cur.Comment, a.String("comment")))
	}
	if a.Has("home") && cur.Home != a.String("home") {
		argv = append(argv, "-d", a.String("home"))
		if a.Bool("move_home") {
			argv = append(argv, "-m")
		}
		diffs = append(diffs, fmt.Sprintf("home: %s -> %s", cur.Home, a.String("home")))
	}
	if a.Has("shell") && cur.Shell != a.String("shell") {
		argv = append(argv, "-s", a.String("shell"))
		diffs = append(diffs, fmt.Sprintf("shell: %s -> %s", cur.Shell, a.String("shell")))
	}
	hash := d.shadow[cur.Name]
	lock := a.Has("password_lock")
	if lock && a.Bool("password_lock") && !strings.HasPrefix(hash, "!") {
		argv = append(argv, "-L")
		diffs = append(diffs, "password: unlocked -> locked")
	} else if lock && !a.Bool("password_lock") && strings.HasPrefix(hash, "!") {
		argv = append(argv, "-U")
		diffs = append(diffs, "password: locked -> unlocked")
	}
	if a.String("update_password") == "always" && a.Has("password") && strings.TrimLeft(hash, "!") != strings.TrimLeft(a.String("password"), "!") {
		var kept []string
		for _, x := range argv {
			if x != "-L" && x != "-U" {
				kept = append(kept, x)
			}
		}
		argv = kept
		p := a.String("password")
		if lock && a.Bool("password_lock") {
			p = "!" + p
		}
		argv = append(argv, "-p", p)
		diffs = append(diffs, "password: (hash differs)")
	}
	if len(argv) == 1 {
		return nil, nil
	}
	return append(argv, cur.Name), diffs
}

func describe(u passwdEnt, d *db) string {
	return fmt.Sprintf("uid: %d\ngroup: %d\ngroups: %s\ncomment: %s\nhome: %s\nshell: %s\n", u.UID, u.GID, strings.Join(d.memberOf(u.Name), ","), u.Comment, u.Home, path.Clean(u.Shell))
}
