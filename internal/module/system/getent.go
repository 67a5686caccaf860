package system

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "getent", Kind: "other", New: func() module.Module { return &Getent{} }, Spec: module.Spec{
		"database": {Type: module.TypeStr, Required: true},
		"key":      {Type: module.TypeStr},
		"service":  {Type: module.TypeStr},
		"split":    {Type: module.TypeStr},
		"fail_key": {Type: module.TypeBool, Default: true},
	}})
}

// Getent is ansible.builtin.getent: the entries of a name service database
// (passwd, group, hosts, ...) as ansible_facts.getent_<database>, read by
// running getent(1) on the host. It only reads, so it runs in check mode
// too.
type Getent struct{}

var _ module.Module = (*Getent)(nil)

// colonDatabases are split on ':' when split is not given; others on
// whitespace.
var colonDatabases = map[string]bool{"passwd": true, "shadow": true, "group": true, "gshadow": true}

// Run implements module.Module.
func (*Getent) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	db := a.String("database")
	argv := []string{"getent", db}
	if a.Has("key") {
		argv = append(argv, a.String("key"))
	}
	if a.Has("service") {
		argv = append(argv, "-s", a.String("service"))
	}
	split, splitGiven := a["split"].(string)
	if !splitGiven && colonDatabases[db] {
		split, splitGiven = ":", true
	}
	if splitGiven && split == "" {
		return module.Failf("split must not be empty"), nil
	}
	res, err := t.Host.Run(ctx, host.Command{Argv: argv, Env: langC, ReadOnly: true})
	if err == nil && res.RC == 127 {
		err = fs.ErrNotExist // a shell (SSH) could not find it
	}
	if err != nil {
		if ctx.Err() != nil {
			return module.Result{}, ctx.Err()
		}
		if errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "executable file not found") {
			return module.Failf(`Failed to find required executable "getent" in the host's PATH`), nil
		}
		return module.Failf("%v", err), nil
	}
	tree := "getent_" + db
	entries := map[string]any{}
	facts := map[string]any{tree: entries}
	switch res.RC {
	case 0:
		seen := map[string]int{}
		for _, line := range splitLines(string(res.Stdout)) {
			var record []string
			if splitGiven {
				record = strings.Split(line, split)
			} else {
				record = strings.Fields(line)
			}
			if len(record) == 0 {
				continue // an empty line: no entry (getent.py would fail on it)
			}
			k, rest := record[0], toAny(record[1:])
			switch seen[k] {
			case 0:
				entries[k] = rest
			case 1:
				entries[k] = []any{entries[k], rest}
			default:
				entries[k] = append(entries[k].([]any), rest)
			}
			seen[k]++
		}
		return module.Result{Values: map[string]any{"ansible_facts": facts}}, nil
	case 1:
		return module.Failf("Missing arguments, or database unknown."), nil
	case 2:
		msg := "One or more supplied key could not be found in the database."
		if !a.Bool("fail_key") {
			key := a.String("key")
			if !a.Has("key") {
				key = "null" // Python's None as a JSON key
			}
			entries[key] = nil
			return module.Result{Msg: msg, Values: map[string]any{"ansible_facts": facts, "msg": msg}}, nil
		}
		return module.Failf("%s", msg), nil
	case 3:
		return module.Failf("Enumeration not supported on this database."), nil
	}
	return module.Failf("Unexpected failure!"), nil
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}
