package files

import (
	"context"
	"crypto/rand"
	"fmt"
	"path"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "tempfile", Kind: "file", New: func() module.Module { return &Tempfile{} }, Spec: module.Spec{
		"state":  {Type: module.TypeStr, Default: "file", Choices: []string{"file", "directory"}},
		"path":   {Type: module.TypePath},
		"prefix": {Type: module.TypeStr, Default: "ansible."},
		"suffix": {Type: module.TypeStr, Default: ""},
	}})
}

// Tempfile is ansible.builtin.tempfile: a new, uniquely named file (mode
// 0600) or directory (0700), as Python's mkstemp and mkdtemp make them.
// Like Ansible's module it does not support check mode: the task is
// skipped.
type Tempfile struct{}

var _ module.Module = (*Tempfile)(nil)

// tempDirs are where a temporary file goes when path is not given, as
// Python's tempfile.gettempdir looks (tend does not read TMPDIR).
var tempDirs = []string{"/tmp", "/var/tmp", "/usr/tmp"}

// tempChars are the characters of mkstemp's random names.
const tempChars = "abcdefghijklmnopqrstuvwxyz0123456789_"

// Run implements module.Module.
func (*Tempfile) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	if t.Check {
		return skipCheckMode("tempfile"), nil
	}
	return result(ctx, t)(runTempfile(ctx, t))
}

// skipCheckMode is the result of a module that does not support check
// mode, as AnsibleModule gives it.
func skipCheckMode(name string) module.Result {
	msg := fmt.Sprintf("remote module (%s) does not support check mode", name)
	return module.Result{Skipped: true, Msg: msg, Values: map[string]any{"msg": msg}}
}

func runTempfile(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	dir := a.String("path")
	if dir == "" {
		for _, d := range tempDirs {
			if fi, err := host.StatFollow(ctx, h, d); err == nil && fi.IsDir() {
				dir = d
				break
			}
		}
		if dir == "" {
			return module.Result{}, failf("[Errno 2] No usable temporary directory found in %v", tempDirs)
		}
	}
	for range 100 {
		p := path.Join(dir, a.String("prefix")+randomName(8)+a.String("suffix"))
		if fi, err := h.Stat(ctx, p); err != nil {
			return module.Result{}, failf("%v", err)
		} else if fi.Exists {
			continue
		}
		if parent, err := host.StatFollow(ctx, h, path.Dir(p)); err == nil && !parent.Exists {
			return module.Result{}, failf("[Errno 2] No such file or directory: '%s'", p)
		} else if err == nil && !parent.IsDir() {
			return module.Result{}, failf("[Errno 20] Not a directory: '%s'", p)
		}
		var err error
		if a.String("state") == "directory" {
			err = h.Mkdir(ctx, p, 0700)
		} else {
			err = h.WriteFile(ctx, p, nil, host.WriteOptions{Mode: 0600, UID: -1, GID: -1})
		}
		if err != nil {
			return module.Result{}, failf("%s", pyError(err, p))
		}
		v := pathInfo(ctx, h, p, map[string]any{"path": p})
		return module.Result{Changed: true, Values: v, Resources: resource(p, []string{"state"})}, nil
	}
	return module.Result{}, failf("[Errno 17] No usable temporary file name found in %s", dir)
}

// randomName is n characters of tempChars, from a cryptographic source:
// nobody can guess the name before it exists.
func randomName(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	for len(out) < n {
		_, _ = rand.Read(buf)
		if int(buf[0]) < 256-256%len(tempChars) { // no modulo bias
			out = append(out, tempChars[int(buf[0])%len(tempChars)])
		}
	}
	return string(out)
}
