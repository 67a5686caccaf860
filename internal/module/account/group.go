package account

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "group", Kind: "user", New: func() module.Module { return &Group{} }, Spec: module.Spec{
		"name":       {Type: module.TypeStr, Required: true},
		"gid":        {Type: module.TypeInt},
		"state":      {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "present"}},
		"system":     {Type: module.TypeBool, Default: false},
		"local":      {Type: module.TypeBool, Default: false},
		"non_unique": {Type: module.TypeBool, Default: false},
	}})
}

// Group is ansible.builtin.group.
type Group struct{}

var _ module.Module = (*Group)(nil)

// Run implements module.Module.
func (*Group) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	name := a.String("name")
	if err := checkName("group", name); err != nil {
		return module.Failf("%v", err), nil
	}
	d, err := readDB(ctx, h, false)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	var cur groupEnt
	exists := false
	for _, g := range d.groups {
		if g.Name == name {
			cur, exists = g, true
		}
	}
	vals := map[string]any{"name": name, "state": a.String("state")}
	rs := module.Resource{Kind: "user", ID: "group:" + name}
	var argv []string
	switch {
	case a.String("state") == "absent":
		if exists {
			argv = []string{"groupdel", name}
			rs.Differs = []string{"present -> absent"}
		}
	case !exists:
		argv = []string{"groupadd"}
		if a.Has("gid") {
			argv = append(argv, "-g", strconv.Itoa(a.Int("gid")))
			if a.Bool("non_unique") {
				argv = append(argv, "-o")
			}
		}
		if a.Bool("system") {
			argv = append(argv, "-r")
		}
		argv = append(argv, name)
		rs.Differs = []string{"absent -> present"}
	case a.Has("gid") && a.Int("gid") != cur.GID:
		argv = []string{"groupmod", "-g", strconv.Itoa(a.Int("gid"))}
		if a.Bool("non_unique") {
			argv = append(argv, "-o")
		}
		argv = append(argv, name)
		rs.Differs = []string{fmt.Sprintf("gid: %d -> %d", cur.GID, a.Int("gid"))}
	}
	res := module.Result{Values: vals, Resources: []module.Resource{rs}, Changed: argv != nil}
	if t.Diff && res.Changed {
		res.Diffs = []module.Diff{{BeforeHeader: "group " + name, AfterHeader: "group " + name, Before: "", After: strings.Join(rs.Differs, "\n") + "\n"}}
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
	}
	if a.String("state") == "present" {
		vals["system"] = a.Bool("system")
		if t.Check && !exists {
			if a.Has("gid") {
				vals["gid"] = a.Int("gid")
			}
		} else if d2, err := readDB(ctx, h, false); err == nil {
			if g, ok := d2.group(name); ok {
				vals["gid"] = g.GID
			}
		}
	}
	return res, nil
}
