package system

import (
	"context"
	"path"
	"regexp"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "ini_file", Aliases: []string{"community.general.ini_file"}, Kind: "file", New: func() module.Module { return &IniFile{} }, Spec: module.Spec{
		"path":            {Type: module.TypePath, Required: true, Aliases: []string{"dest"}},
		"section":         {Type: module.TypeStr},
		"option":          {Type: module.TypeStr},
		"value":           {Type: module.TypeStr},
		"values":          {Type: module.TypeList, Elements: module.TypeStr},
		"backup":          {Type: module.TypeBool, Default: false},
		"state":           {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "present"}},
		"exclusive":       {Type: module.TypeBool, Default: true},
		"no_extra_spaces": {Type: module.TypeBool, Default: false},
		"allow_no_value":  {Type: module.TypeBool, Default: false},
		"create":          {Type: module.TypeBool, Default: true},
		"mode":            {Type: module.TypeMode},
		"owner":           {Type: module.TypeStr},
		"group":           {Type: module.TypeStr},
		"attributes":      {Type: module.TypeStr, Aliases: []string{"attr"}},
		"seuser":          {Type: module.TypeStr},
		"serole":          {Type: module.TypeStr},
		"setype":          {Type: module.TypeStr},
		"selevel":         {Type: module.TypeStr},
		"unsafe_writes":   {Type: module.TypeBool, Default: false},
	}})
}

// IniFile is community.general.ini_file (the version shipped with
// Ansible 7 / ansible-core 2.14), a line-for-line port of its do_ini so
// that both tools write the same bytes.
type IniFile struct{}

var _ module.Module = (*IniFile)(nil)

func matchOpt(option, line string, active bool) []string {
	prefix := `^[#;]?`
	if active {
		prefix = `^`
	}
	re := regexp.MustCompile(prefix + `( |\t)*(` + regexp.QuoteMeta(option) + `)( |\t)*(=|$)( |\t)*(.*)`)
	return re.FindStringSubmatch(strings.TrimRight(line, "\n"))
}

var blankOrComment = regexp.MustCompile(`^[ \t]*([#;].*)?$`)

// doIni returns the new lines, whether they changed, and the message.
func doIni(lines []string, section, option string, values []string, state string, exclusive, noExtraSpaces, allowNoValue bool) ([]string, bool, string) {
	changed := false
	if len(lines) == 0 {
		lines = append(lines, "\n")
	}
	if last := lines[len(lines)-1]; last == "" || !strings.HasSuffix(last, "\n") {
		lines[len(lines)-1] += "\n"
		changed = true
	}
	const fake = "ad01e11446efb704fcdbdb21f2c43757423d91c5"
	lines = append([]string{"[" + fake + "]"}, lines...)
	lines = append(lines, "[")
	if section == "" {
		section = fake
	}
	within := false
	start, end := 0, 0
	msg := "OK"
	format := func(o, v string) string {
		if noExtraSpaces {
			return o + "=" + v + "\n"
		}
		return o + " = " + v + "\n"
	}
	noValuePresent := false
	for i, l := range lines {
		if strings.HasPrefix(l, "["+section+"]") {
			within = true
			start = i
		} else if strings.HasPrefix(l, "[") && within {
			end = i
			break
		}
	}
	before := append([]string(nil), lines[:start]...)
	sec := append([]string(nil), lines[start:end]...)
	after := append([]string(nil), lines[end:]...)
	changedLines := make([]bool, len(sec))
	update := func(i int, nl string) {
		if sec[i] != nl {
			changed = true
			msg = "option changed"
		}
		sec[i] = nl
		changedLines[i] = true
	}
	contains := func(vs []string, v string) int {
		for i, x := range vs {
			if x == v {
				return i
			}
		}
		return -1
	}
	if state == "present" && option != "" {
		for i, l := range sec {
			m := matchOpt(option, l, false)
			if m == nil {
				continue
			}
			if len(values) > 0 && contains(values, m[6]) >= 0 {
				mv := m[6]
				if mv == "" && allowNoValue {
					update(i, option+"\n")
					noValuePresent = true
				} else {
					update(i, format(option, mv))
				}
				j := contains(values, mv)
				values = append(values[:j], values[j+1:]...)
			} else if len(values) == 0 && allowNoValue {
				update(i, option+"\n")
				noValuePresent = true
				break
			}
		}
	}
	if state == "present" && exclusive && !allowNoValue {
		if len(values) > 0 {
			for i, l := range sec {
				if !changedLines[i] && matchOpt(option, l, false) != nil {
					update(i, format(option, values[0]))
					values = values[1:]
					if len(values) == 0 {
						break
					}
				}
			}
		}
		for i := len(sec) - 1; i > 0; i-- {
			if !changedLines[i] && matchOpt(option, sec[i], false) != nil {
				sec = append(sec[:i], sec[i+1:]...)
				changedLines = append(changedLines[:i], changedLines[i+1:]...)
				changed = true
				msg = "option changed"
			}
		}
	}
	if state == "present" {
		for i := len(sec); i > 0; i-- {
			if blankOrComment.MatchString(strings.TrimRight(sec[i-1], "\n")) {
				continue
			}
			if option != "" && len(values) > 0 {
				var ins []string
				for _, v := range values {
					ins = append(ins, format(option, v))
				}
				sec = append(sec[:i], append(ins, sec[i:]...)...)
				msg = "option added"
				changed = true
			} else if option != "" && len(values) == 0 && allowNoValue && !noValuePresent {
				sec = append(sec[:i], append([]string{option + "\n"}, sec[i:]...)...)
				msg = "option added"
				changed = true
			}
			break
		}
	}
	if state == "absent" {
		if option != "" {
			var keep []string
			for _, l := range sec {
				m := matchOpt(option, l, true)
				if m != nil && (exclusive || contains(values, m[6]) >= 0) {
					continue
				}
				keep = append(keep, l)
			}
			if (exclusive || len(values) > 0) && len(keep) != len(sec) {
				changed = true
				msg = "option changed"
				sec = keep
			}
		} else if len(sec) > 0 {
			sec = nil
			msg = "section removed"
			changed = true
		}
	}
	out := append(append(before, sec...), after...)
	out = out[1 : len(out)-1]
	if !within && state == "present" {
		out = append(out, "["+section+"]\n")
		msg = "section and option added"
		switch {
		case option != "" && len(values) > 0:
			for _, v := range values {
				out = append(out, format(option, v))
			}
		case option != "" && allowNoValue:
			out = append(out, option+"\n")
		default:
			msg = "only section added"
		}
		changed = true
	}
	return out, changed, msg
}

// Run implements module.Module.
func (*IniFile) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	file := a.String("path")
	state := a.String("state")
	if a.Has("value") && a.Has("values") {
		return module.Failf("parameters are mutually exclusive: value|values"), nil
	}
	var values []string
	if a.Has("value") {
		values = []string{a.String("value")}
	} else {
		seen := map[string]bool{}
		for _, v := range a.Strings("values") {
			if !seen[v] {
				seen[v] = true
				values = append(values, v)
			}
		}
	}
	if state == "present" && !a.Bool("allow_no_value") && len(values) == 0 {
		return module.Failf("Parameter 'value(s)' must be defined if state=present and allow_no_value=False."), nil
	}
	fi, err := h.Stat(ctx, file)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	var existing string
	if !fi.Exists {
		if !a.Bool("create") {
			r := module.Failf("Destination %s does not exist!", file)
			r.Values = map[string]any{"rc": 257}
			return r, nil
		}
	} else {
		b, err := h.ReadFile(ctx, file)
		if err != nil {
			return module.Failf("read %s: %v", file, err), nil
		}
		existing = strings.TrimPrefix(string(b), "\ufeff")
	}
	lines := strings.SplitAfter(existing, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	out, changed, msg := doIni(lines, a.String("section"), a.String("option"), values, state, a.Bool("exclusive"), a.Bool("no_extra_spaces"), a.Bool("allow_no_value"))
	content := strings.Join(out, "")
	res := module.Result{Changed: changed, Msg: msg, Values: map[string]any{"path": file, "msg": msg}, Resources: []module.Resource{{Kind: "file", ID: file}}}
	if changed {
		res.Resources[0].Differs = []string{"content"}
		if t.Diff {
			res.Diffs = []module.Diff{{BeforeHeader: file + " (content)", AfterHeader: file + " (content)", Before: existing, After: content}}
		}
	}
	// owner, group and mode
	opts := host.WriteOptions{UID: -1, GID: -1}
	if a.Has("owner") {
		if opts.UID, err = h.LookupUser(ctx, a.String("owner")); err != nil {
			return module.Failf("chown failed: failed to look up user %s", a.String("owner")), nil
		}
	}
	if a.Has("group") {
		if opts.GID, err = h.LookupGroup(ctx, a.String("group")); err != nil {
			return module.Failf("chgrp failed: failed to look up group %s", a.String("group")), nil
		}
	}
	if a.Has("mode") {
		m, err := module.ParseMode(a["mode"], fi.Perm(), false)
		if err != nil {
			return module.Failf("mode must be in octal or symbolic form: %v", err), nil
		}
		opts.Mode = m
	}
	attrsDiffer := fi.Exists && (opts.Mode != 0 && fi.Perm() != opts.Mode || opts.UID >= 0 && fi.UID != opts.UID || opts.GID >= 0 && fi.GID != opts.GID)
	if attrsDiffer {
		res.Changed = true
		res.Resources[0].Differs = append(res.Resources[0].Differs, "attributes")
	}
	if t.Check || !res.Changed {
		return res, nil
	}
	if changed {
		if a.Bool("backup") && fi.Exists && t.Backup != nil {
			if err := t.Backup(ctx, file); err != nil {
				return module.Failf("backup %s: %v", file, err), nil
			}
		}
		if err := mkdirAll(ctx, h, path.Dir(file)); err != nil {
			return module.Failf("create %s: %v", path.Dir(file), err), nil
		}
		if err := h.WriteFile(ctx, file, []byte(content), opts); err != nil {
			return module.Failf("Unable to write %s: %v", file, err), nil
		}
		return res, nil
	}
	if opts.Mode != 0 && fi.Perm() != opts.Mode {
		if err := h.Chmod(ctx, file, opts.Mode); err != nil {
			return module.Failf("chmod %s: %v", file, err), nil
		}
	}
	if opts.UID >= 0 && fi.UID != opts.UID || opts.GID >= 0 && fi.GID != opts.GID {
		if err := h.Lchown(ctx, file, opts.UID, opts.GID); err != nil {
			return module.Failf("chown %s: %v", file, err), nil
		}
	}
	return res, nil
}

func mkdirAll(ctx context.Context, h host.Host, dir string) error {
	if fi, err := h.Stat(ctx, dir); err == nil && fi.Exists {
		return nil
	}
	if err := mkdirAll(ctx, h, path.Dir(dir)); err != nil {
		return err
	}
	return h.Mkdir(ctx, dir, 0o755)
}
