package files

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/pyre"
)

func init() {
	module.Register(module.Info{Name: "lineinfile", Kind: "file", New: func() module.Module { return &LineInFile{} }, Spec: commonSpec(module.Spec{
		"path":          {Type: module.TypePath, Required: true, Aliases: []string{"dest", "destfile", "name"}},
		"state":         {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "present"}},
		"regexp":        {Type: module.TypeStr, Aliases: []string{"regex"}},
		"search_string": {Type: module.TypeStr},
		"line":          {Type: module.TypeStr, Aliases: []string{"value"}},
		"insertafter":   {Type: module.TypeStr},
		"insertbefore":  {Type: module.TypeStr},
		"backrefs":      {Type: module.TypeBool, Default: false},
		"create":        {Type: module.TypeBool, Default: false},
		"backup":        {Type: module.TypeBool, Default: false},
		"firstmatch":    {Type: module.TypeBool, Default: false},
		"validate":      {Type: module.TypeStr},
	})})
}

// LineInFile is ansible.builtin.lineinfile: one line present or absent.
type LineInFile struct{}

var _ module.Module = (*LineInFile)(nil)

// Run implements module.Module.
func (*LineInFile) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runLineInFile(ctx, t))
}

func mutex(a module.Args, pairs ...[2]string) error {
	for _, p := range pairs {
		if a.Has(p[0]) && a.Has(p[1]) {
			return failf("parameters are mutually exclusive: %s|%s", p[0], p[1])
		}
	}
	return nil
}

// splitLines splits as Python's readlines(): each line keeps its "\n".
func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func runLineInFile(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	if err := mutex(a, [2]string{"insertbefore", "insertafter"}, [2]string{"regexp", "search_string"}); err != nil {
		return module.Result{}, err
	}
	if a.Bool("backrefs") && a.Has("search_string") {
		return module.Result{}, failf("parameters are mutually exclusive: backrefs|search_string")
	}
	p := a.String("path")
	fi, err := host.StatFollow(ctx, t.Host, p)
	if err != nil {
		return module.Result{}, err
	}
	if fi.IsDir() {
		return module.Result{}, &failure{msg: fmt.Sprintf("Path %s is a directory !", p), values: map[string]any{"rc": 256}}
	}
	if a.String("state") == "present" {
		if a.Bool("backrefs") && !a.Has("regexp") {
			return module.Result{}, failf("regexp is required with backrefs=true")
		}
		if !a.Has("line") {
			return module.Result{}, failf("line is required with state=present")
		}
		after, before := a["insertafter"], a["insertbefore"]
		if after == nil && before == nil {
			after = "EOF"
		}
		return lifPresent(ctx, t, p, fi.Exists, after, before)
	}
	if !a.Has("regexp") && !a.Has("search_string") && !a.Has("line") {
		return module.Result{}, failf("one of line, search_string, or regexp is required with state=absent")
	}
	return lifAbsent(ctx, t, p, fi.Exists)
}

func lifPresent(ctx context.Context, t *module.Task, p string, exists bool, insAfter, insBefore any) (module.Result, error) {
	a := t.Args
	var lines []string
	if !exists {
		if !a.Bool("create") {
			return module.Result{}, &failure{msg: fmt.Sprintf("Destination %s does not exist !", p), values: map[string]any{"rc": 257}}
		}
	} else {
		data, err := t.Host.ReadFile(ctx, p)
		if err != nil {
			return module.Result{}, err
		}
		lines = splitLines(string(data))
	}
	before := strings.Join(lines, "")
	after, _ := insAfter.(string)
	beforeS, _ := insBefore.(string)
	var reM, reIns = (*pyre.Regexp)(nil), (*pyre.Regexp)(nil)
	var err error
	if a.Has("regexp") {
		if reM, err = pyre.Compile(a.String("regexp"), ""); err != nil {
			return module.Result{}, failf("%v", err)
		}
	}
	if insAfter != nil && after != "BOF" && after != "EOF" {
		reIns, err = pyre.Compile(after, "")
	} else if insBefore != nil && beforeS != "BOF" {
		reIns, err = pyre.Compile(beforeS, "")
	}
	if err != nil {
		return module.Result{}, failf("%v", err)
	}
	line := a.String("line")
	firstmatch := a.Bool("firstmatch")
	index := [2]int{-1, -1}
	var match []int
	matched := false
	exact := false
	if reM != nil {
		for i, l := range lines {
			if m := reM.FindStringSubmatchIndex(chomp(l)); m != nil {
				index[0], match, matched = i, m, true
				if firstmatch {
					break
				}
			}
		}
	}
	if a.Has("search_string") {
		for i, l := range lines {
			if strings.Contains(l, a.String("search_string")) {
				index[0], matched = i, true
				if firstmatch {
					break
				}
			}
		}
	}
	if !matched {
	scan:
		for i, l := range lines {
			if line == strings.TrimRight(l, "\r\n") {
				index[0], exact = i, true
			} else if reIns != nil && reIns.MatchString(chomp(l)) {
				if insAfter != nil {
					index[1] = i + 1
					if firstmatch {
						break scan
					}
				}
				if insBefore != nil {
					index[1] = i
					if firstmatch {
						break scan
					}
				}
			}
		}
	}
	msg, changed := "", false
	add := func(at int) {
		lines = append(lines[:at], append([]string{line + "\n"}, lines[at:]...)...)
		msg, changed = "line added", true
	}
	noRegexp := !a.Has("regexp") && !a.Has("search_string") && !matched
	switch {
	case index[0] != -1:
		newLine := line
		if a.Bool("backrefs") && match != nil {
			if newLine, err = reM.Expand(line, chomp(lines[index[0]]), match); err != nil {
				return module.Result{}, failf("%v", err)
			}
		}
		if !strings.HasSuffix(newLine, "\n") {
			newLine += "\n"
		}
		if noRegexp && !exact {
			if insAfter != nil && after != "EOF" {
				if len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") && !strings.HasSuffix(lines[len(lines)-1], "\r") {
					lines[len(lines)-1] += "\n"
				}
				if len(lines) == index[1] {
					if strings.TrimRight(lines[index[1]-1], "\r\n") != line {
						add(len(lines))
					}
				} else if strings.TrimRight(lines[index[1]], "\r\n") != line {
					add(index[1])
				}
			} else if insBefore != nil && beforeS != "BOF" {
				if index[1] <= 0 {
					at := index[1]
					if at < 0 {
						at += len(lines)
					}
					if strings.TrimRight(lines[at], "\r\n") != line {
						add(at)
					}
				} else if strings.TrimRight(lines[index[1]-1], "\r\n") != line {
					add(index[1])
				}
			}
		} else if lines[index[0]] != newLine {
			lines[index[0]] = newLine
			msg, changed = "line replaced", true
		}
	case a.Bool("backrefs"):
		// Nothing: the line cannot be built without a match.
	case beforeS == "BOF" || after == "BOF":
		add(0)
	case after == "EOF" || index[1] == -1:
		if len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") && !strings.HasSuffix(lines[len(lines)-1], "\r") {
			lines = append(lines, "\n")
		}
		add(len(lines))
	case insAfter != nil && index[1] != -1:
		if len(lines) == index[1] {
			if strings.TrimRight(lines[index[1]-1], "\r\n") != line {
				add(len(lines))
			}
		} else if line != strings.TrimRight(lines[index[1]], "\n\r") {
			add(index[1])
		}
	default:
		add(index[1])
	}
	afterText := strings.Join(lines, "")
	values := map[string]any{"backup": ""}
	if changed && !t.Check {
		if a.Bool("backup") && exists {
			b, err := backupLocal(ctx, t.Host, p)
			if err != nil {
				return module.Result{}, err
			}
			values["backup"] = b
		}
		if !exists {
			if _, err := mkdirAll(ctx, t.Host, path.Dir(p), 0755); err != nil {
				return module.Result{}, failf("Error creating %s (%v)", path.Dir(p), err)
			}
		}
		if err := writeText(ctx, t, p, afterText); err != nil {
			return module.Result{}, err
		}
	}
	return textResult(ctx, t, p, exists, changed, msg, before, afterText, values)
}

// writeText writes new content to p (through symlinks), keeping its mode
// and owner, after the validate command accepts it.
func writeText(ctx context.Context, t *module.Task, p, text string) error {
	real := realPath(ctx, t.Host, p)
	if err := stateBackup(ctx, t, real); err != nil {
		return err
	}
	v := t.Args.String("validate")
	if v != "" && !strings.Contains(v, "%s") {
		return failf("validate must contain %%s: %s", v)
	}
	err := t.Host.WriteFile(ctx, real, []byte(text), host.WriteOptions{UID: -1, GID: -1, Validate: v})
	if ve, ok := err.(*host.ValidateError); ok {
		return failf("failed to validate: rc:%d error:%s", ve.RC, ve.Stderr)
	}
	return err
}

// textResult finishes lineinfile and blockinfile: file attributes, msg,
// the content diff and the resources.
func textResult(ctx context.Context, t *module.Task, p string, exists, changed bool, msg, before, after string, values map[string]any) (module.Result, error) {
	var differs []string
	if changed {
		differs = append(differs, "content")
		if !exists {
			differs = []string{"state"}
		}
	}
	res := module.Result{Values: values}
	if t.Diff {
		res.Diffs = []module.Diff{textDiff(before, after, p+" (content)")}
	}
	if !(t.Check && !exists) {
		d := &dictDiff{before: map[string]any{}, after: map[string]any{}}
		c, ad, err := fileAttrs(t.Args).apply(ctx, t, p, d)
		if err != nil {
			return module.Result{}, err
		}
		if c && t.Diff && len(d.before) > 0 {
			ad := d.diff()
			ad.BeforeHeader, ad.AfterHeader = p+" (file attributes)", p+" (file attributes)"
			res.Diffs = append(res.Diffs, ad)
		}
		if c {
			if changed {
				msg += " and "
			}
			changed = true
			msg += "ownership, perms or SE linux context changed"
			differs = append(differs, ad...)
		}
	}
	res.Changed, res.Msg = changed, msg
	res.Values["msg"] = msg
	res.Resources = resource(p, differs)
	return res, nil
}

func lifAbsent(ctx context.Context, t *module.Task, p string, exists bool) (module.Result, error) {
	a := t.Args
	if !exists {
		return module.Result{Msg: "file not present", Values: map[string]any{"msg": "file not present"}, Resources: resource(p, nil)}, nil
	}
	data, err := t.Host.ReadFile(ctx, p)
	if err != nil {
		return module.Result{}, err
	}
	lines := splitLines(string(data))
	var re *pyre.Regexp
	if a.Has("regexp") {
		if re, err = pyre.Compile(a.String("regexp"), ""); err != nil {
			return module.Result{}, failf("%v", err)
		}
	}
	var kept []string
	found := 0
	for _, l := range lines {
		var m bool
		switch {
		case re != nil:
			m = re.MatchString(chomp(l))
		case a.Has("search_string"):
			m = strings.Contains(l, a.String("search_string"))
		default:
			m = a.String("line") == strings.TrimRight(l, "\r\n")
		}
		if m {
			found++
		} else {
			kept = append(kept, l)
		}
	}
	changed := found > 0
	after := strings.Join(kept, "")
	values := map[string]any{"backup": "", "found": found}
	if changed && !t.Check {
		if a.Bool("backup") {
			b, err := backupLocal(ctx, t.Host, p)
			if err != nil {
				return module.Result{}, err
			}
			values["backup"] = b
		}
		if err := writeText(ctx, t, p, after); err != nil {
			return module.Result{}, err
		}
	}
	msg := ""
	if changed {
		msg = fmt.Sprintf("%d line(s) removed", found)
	}
	return textResult(ctx, t, p, true, changed, msg, string(data), after, values)
}

// chomp drops one trailing newline, so that a line matches as in Python,
// whose $ also matches just before a final newline.
func chomp(l string) string { return strings.TrimSuffix(l, "\n") }
