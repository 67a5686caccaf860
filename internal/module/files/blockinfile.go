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
	module.Register(module.Info{Name: "blockinfile", Kind: "file", New: func() module.Module { return &BlockInFile{} }, Spec: commonSpec(module.Spec{
		"path":         {Type: module.TypePath, Required: true, Aliases: []string{"dest", "destfile", "name"}},
		"state":        {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "present"}},
		"marker":       {Type: module.TypeStr, Default: "# {mark} ANSIBLE MANAGED BLOCK"},
		"block":        {Type: module.TypeStr, Default: "", Aliases: []string{"content"}},
		"insertafter":  {Type: module.TypeStr},
		"insertbefore": {Type: module.TypeStr},
		"create":       {Type: module.TypeBool, Default: false},
		"backup":       {Type: module.TypeBool, Default: false},
		"validate":     {Type: module.TypeStr},
		"marker_begin": {Type: module.TypeStr, Default: "BEGIN"},
		"marker_end":   {Type: module.TypeStr, Default: "END"},
	})})
}

// BlockInFile is ansible.builtin.blockinfile: a block of lines between
// marker lines.
type BlockInFile struct{}

var _ module.Module = (*BlockInFile)(nil)

// Run implements module.Module.
func (*BlockInFile) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runBlockInFile(ctx, t))
}

func runBlockInFile(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	if err := mutex(a, [2]string{"insertbefore", "insertafter"}); err != nil {
		return module.Result{}, err
	}
	p := a.String("path")
	fi, err := host.StatFollow(ctx, t.Host, p)
	if err != nil {
		return module.Result{}, err
	}
	if fi.IsDir() {
		return module.Result{}, &failure{msg: fmt.Sprintf("Path %s is a directory !", p), values: map[string]any{"rc": 256}}
	}
	exists := fi.Exists
	var original string
	var lines []string
	if !exists {
		if !a.Bool("create") {
			return module.Result{}, &failure{msg: fmt.Sprintf("Path %s does not exist !", p), values: map[string]any{"rc": 257}}
		}
	} else {
		data, err := t.Host.ReadFile(ctx, p)
		if err != nil {
			return module.Result{}, err
		}
		original = string(data)
		lines = splitLinesKeep(original)
	}
	present := a.String("state") == "present"
	if !present && !exists {
		msg := fmt.Sprintf("File %s not present", p)
		return module.Result{Msg: msg, Values: map[string]any{"msg": msg}, Resources: resource(p, nil)}, nil
	}
	insAfter, insBefore := a["insertafter"], a["insertbefore"]
	if insAfter == nil && insBefore == nil {
		insAfter = "EOF"
	}
	after, _ := insAfter.(string)
	before, _ := insBefore.(string)
	var insertRe *pyre.Regexp
	if insAfter != nil && after != "EOF" {
		insertRe, err = pyre.Compile(after, "")
	} else if insBefore != nil && before != "BOF" {
		insertRe, err = pyre.Compile(before, "")
	}
	if err != nil {
		return module.Result{}, failf("%v", err)
	}
	marker := a.String("marker")
	marker0 := strings.ReplaceAll(marker, "{mark}", a.String("marker_begin")) + "\n"
	marker1 := strings.ReplaceAll(marker, "{mark}", a.String("marker_end")) + "\n"
	block := a.String("block")
	var blockLines []string
	if present && block != "" {
		if !strings.HasSuffix(block, "\n") {
			block += "\n"
		}
		blockLines = append(append([]string{marker0}, splitLinesKeep(block)...), marker1)
	}
	n0, n1 := -1, -1
	for i, l := range lines {
		if l == marker0 {
			n0 = i
		}
		if l == marker1 {
			n1 = i
		}
	}
	switch {
	case n0 == -1 || n1 == -1:
		n0 = -1
		if insertRe != nil {
			if strings.HasPrefix(insertRe.String(), "(?m") { // Python's re.MULTILINE
				if m := insertRe.FindStringIndex(original); m != nil {
					if insAfter != nil {
						n0 = strings.Count(original[:m[1]], "\n")
					} else {
						n0 = strings.Count(original[:m[0]], "\n")
					}
				}
			} else {
				for i, l := range lines {
					if insertRe.MatchString(chomp(l)) {
						n0 = i
					}
				}
			}
			if n0 == -1 {
				n0 = len(lines)
			} else if insAfter != nil {
				n0++
			}
		} else if insBefore != nil {
			n0 = 0
		} else {
			n0 = len(lines)
		}
	case n0 < n1:
		lines = append(lines[:n0], lines[n1+1:]...)
	default:
		lines = append(lines[:n1], lines[n0+1:]...)
		n0 = n1
	}
	if n0 > 0 && !strings.HasSuffix(lines[n0-1], "\n") {
		lines[n0-1] += "\n"
	}
	lines = append(lines[:n0], append(blockLines, lines[n0:]...)...)
	result := strings.Join(lines, "")
	var msg string
	changed := true
	switch {
	case exists && original == result:
		msg, changed = "", false
	case !exists:
		msg = "File created"
	case len(blockLines) == 0:
		msg = "Block removed"
	default:
		msg = "Block inserted"
	}
	values := map[string]any{}
	if changed && !t.Check {
		if a.Bool("backup") && exists {
			b, err := backupLocal(ctx, t.Host, p)
			if err != nil {
				return module.Result{}, err
			}
			values["backup_file"] = b
		}
		if !exists {
			if _, err := mkdirAll(ctx, t.Host, path.Dir(p), 0755); err != nil {
				return module.Result{}, failf("Error creating %s Error description: %v", path.Dir(p), err)
			}
		}
		if err := writeText(ctx, t, p, result); err != nil {
			return module.Result{}, err
		}
	}
	return textResult(ctx, t, p, exists, changed, msg, original, result, values)
}

// splitLinesKeep is Python's splitlines(True) for \n, \r\n and \r endings.
func splitLinesKeep(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			out = append(out, s[start:i+1])
			start = i + 1
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			out = append(out, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
