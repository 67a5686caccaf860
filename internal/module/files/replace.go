package files

import (
	"context"
	"fmt"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/pyre"
)

func init() {
	module.Register(module.Info{Name: "replace", Kind: "file", New: func() module.Module { return &Replace{} }, Spec: commonSpec(module.Spec{
		"path":     {Type: module.TypePath, Required: true, Aliases: []string{"dest", "destfile", "name"}},
		"regexp":   {Type: module.TypeStr, Required: true},
		"replace":  {Type: module.TypeStr, Default: ""},
		"after":    {Type: module.TypeStr},
		"before":   {Type: module.TypeStr},
		"backup":   {Type: module.TypeBool, Default: false},
		"validate": {Type: module.TypeStr},
		"encoding": {Type: module.TypeStr, Default: "utf-8"},
	})})
}

// Replace is ansible.builtin.replace: every match of a regular expression
// replaced, optionally only between after and before.
type Replace struct{}

var _ module.Module = (*Replace)(nil)

// Run implements module.Module.
func (*Replace) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runReplace(ctx, t))
}

func runReplace(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	p := a.String("path")
	fi, err := host.StatFollow(ctx, t.Host, p)
	if err != nil {
		return module.Result{}, err
	}
	if fi.IsDir() {
		return module.Result{}, &failure{msg: fmt.Sprintf("Path %s is a directory !", p), values: map[string]any{"rc": 256}}
	}
	if !fi.Exists {
		return module.Result{}, &failure{msg: fmt.Sprintf("Path %s does not exist !", p), values: map[string]any{"rc": 257}}
	}
	data, err := t.Host.ReadFile(ctx, p)
	if err != nil {
		return module.Result{}, failf("Unable to read the contents of %s: %v", p, err)
	}
	contents := string(data)
	values := map[string]any{"rc": 0}
	pattern := ""
	switch af, bf := a.String("after"), a.String("before"); {
	case af != "" && bf != "":
		pattern = af + "(?P<subsection>.*?)" + bf
	case af != "":
		pattern = af + "(?P<subsection>.*)"
	case bf != "":
		pattern = "(?P<subsection>.*)" + bf
	}
	section, start, end := contents, 0, len(contents)
	if pattern != "" {
		re, err := pyre.Compile(pattern, "s")
		if err != nil {
			return module.Result{}, failf("%v", err)
		}
		m := re.FindStringSubmatchIndex(contents)
		if m == nil {
			msg := "Pattern for before/after params did not match the given file: " + pattern
			values["msg"] = msg
			return module.Result{Msg: msg, Values: values, Resources: resource(p, nil)}, nil
		}
		i := re.SubexpIndex("subsection")
		start, end = m[2*i], m[2*i+1]
		section = contents[start:end]
	}
	re, err := pyre.Compile(a.String("regexp"), "m")
	if err != nil {
		return module.Result{}, failf("%v", err)
	}
	replaced, n, err := re.Sub(a.String("replace"), section, 0)
	if err != nil {
		return module.Result{}, failf("%v", err)
	}
	msg, changed := "", false
	result := contents
	if n > 0 && section != replaced {
		result = contents[:start] + replaced + contents[end:]
		msg, changed = fmt.Sprintf("%d replacements made", n), true
	}
	res := module.Result{Values: values}
	var differs []string
	if changed {
		differs = []string{"content"}
		if t.Diff {
			res.Diffs = []module.Diff{{BeforeHeader: p, AfterHeader: p, Before: contents, After: result}}
		}
		if !t.Check {
			if a.Bool("backup") {
				b, err := backupLocal(ctx, t.Host, p)
				if err != nil {
					return module.Result{}, err
				}
				values["backup_file"] = b
			}
			if err := writeText(ctx, t, p, result); err != nil {
				return module.Result{}, err
			}
		}
	}
	c, ad, err := fileAttrs(a).apply(ctx, t, p, nil)
	if err != nil {
		return module.Result{}, err
	}
	if c {
		if changed {
			msg += " and "
		}
		changed = true
		msg += "ownership, perms or SE linux context changed"
		differs = append(differs, ad...)
	}
	res.Changed, res.Msg = changed, msg
	values["msg"] = msg
	res.Resources = resource(p, differs)
	return res, nil
}
