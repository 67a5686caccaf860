package files

import (
	"context"
	"path"
	"strings"

	"github.com/tend-project/tend/internal/module"
)

func init() {
	spec := copySpec()
	delete(spec, "content")
	delete(spec, "remote_src")
	delete(spec, "local_follow")
	delete(spec, "directory_mode")
	delete(spec, "checksum")
	delete(spec, "decrypt")
	spec["src"] = module.Param{Type: module.TypePath}
	spec["newline_sequence"] = module.Param{Type: module.TypeStr, Default: "\n"}
	spec["dest"] = module.Param{Type: module.TypePath} // the action checks it
	spec["trim_blocks"] = module.Param{Type: module.TypeBool, Default: true}
	spec["lstrip_blocks"] = module.Param{Type: module.TypeBool, Default: false}
	spec["block_start_string"] = module.Param{Type: module.TypeStr, Default: "{%"}
	spec["block_end_string"] = module.Param{Type: module.TypeStr, Default: "%}"}
	spec["variable_start_string"] = module.Param{Type: module.TypeStr, Default: "{{"}
	spec["variable_end_string"] = module.Param{Type: module.TypeStr, Default: "}}"}
	spec["comment_start_string"] = module.Param{Type: module.TypeStr}
	spec["comment_end_string"] = module.Param{Type: module.TypeStr}
	spec["output_encoding"] = module.Param{Type: module.TypeStr, Default: "utf-8"}
	module.Register(module.Info{Name: "template", Kind: "file", Spec: spec, New: func() module.Module { return &Template{} }})
}

// Template is ansible.builtin.template: a controller-side template,
// rendered with the task's variables, written as copy writes a file.
type Template struct{}

var _ module.Module = (*Template)(nil)

// Run implements module.Module.
func (*Template) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runTemplate(ctx, t))
}

func runTemplate(ctx context.Context, t *module.Task) (module.Result, error) {
	src := t.Args.String("src")
	if src == "" || t.Args.String("dest") == "" {
		return module.Result{}, failf("src and dest are required")
	}
	switch t.Args.String("newline_sequence") {
	case "\n", "\r", "\r\n":
	default:
		return module.Result{}, failf("newline_sequence needs to be one of: \n, \r or \r\n")
	}
	if t.Find != nil {
		found, err := t.Find("templates", src)
		if err != nil {
			return module.Result{}, failf("Could not find or access '%s': %v", src, err)
		}
		src = found
	}
	text, err := readLocal(t, src)
	if err != nil {
		return module.Result{}, failf("Could not find or access '%s' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option", src)
	}
	out := string(text)
	if t.Render != nil {
		if out, err = t.Render(out); err != nil {
			return module.Result{}, failf("AnsibleError: template error while templating string: %v", err)
		}
	}
	if nl := t.Args.String("newline_sequence"); nl != "\n" {
		out = strings.ReplaceAll(out, "\r\n", "\n")
		out = strings.ReplaceAll(out, "\n", nl)
	}
	return copyFile(ctx, t, fileSource{data: []byte(out), label: src, base: path.Base(src)}, t.Args.String("dest"))
}
