package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/pyre"
)

func init() {
	module.Register(module.Info{Name: "assemble", Kind: "file", New: func() module.Module { return &Assemble{} }, Spec: commonSpec(module.Spec{
		"src":           {Type: module.TypePath, Required: true},
		"dest":          {Type: module.TypePath, Required: true},
		"delimiter":     {Type: module.TypeStr},
		"backup":        {Type: module.TypeBool, Default: false},
		"remote_src":    {Type: module.TypeBool, Default: true},
		"regexp":        {Type: module.TypeStr},
		"ignore_hidden": {Type: module.TypeBool, Default: false},
		"validate":      {Type: module.TypeStr},
		// the action plugin's: decrypt is taken off, follow goes to copy
		"decrypt": {Type: module.TypeBool, Default: true},
		"follow":  {Type: module.TypeBool},
	})})
}

// Assemble is ansible.builtin.assemble: one file made of the files of a
// directory (fragments), in name order, with an optional delimiter between
// them. The fragments are on the host (remote_src, the default) or on the
// controller, in which case the result is copied as the copy module would.
// Ansible's assemble action does not support check mode: the task is
// skipped.
type Assemble struct{}

var _ module.Module = (*Assemble)(nil)

// Run implements module.Module.
func (*Assemble) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	if t.Check {
		msg := "check mode is not supported for this task."
		return module.Result{Skipped: true, Msg: msg, Values: map[string]any{"msg": msg}}, nil
	}
	if t.Args.Bool("remote_src") {
		return result(ctx, t)(assembleRemote(ctx, t))
	}
	return result(ctx, t)(assembleLocal(ctx, t))
}

// fragment is one file of the source directory.
type fragment struct {
	name string
	data []byte
}

// assembler joins fragments as assemble_from_fragments does.
type assembler struct {
	delimiter string
	re        *pyre.Regexp
	hidden    bool // ignore_hidden
	// alwaysNewline: the assemble action (remote_src: false) always puts a
	// newline after the delimiter, as its check for one compares a byte
	// with a bytes object and never matches; the module only adds one
	// when the delimiter lacks it.
	alwaysNewline bool
}

func newAssembler(a module.Args, alwaysNewline bool) (*assembler, error) {
	as := &assembler{delimiter: a.String("delimiter"), hidden: a.Bool("ignore_hidden"), alwaysNewline: alwaysNewline}
	if a.Has("regexp") {
		re, err := pyre.Compile(a.String("regexp"), "")
		if err != nil {
			return nil, failf("Invalid Regexp (%v) in \"%s\"", err, a.String("regexp"))
		}
		as.re = re
	}
	return as, nil
}

// wants reports whether a directory entry named name, a regular file (after
// symlinks) or not, is a fragment.
func (as *assembler) wants(name string, regular bool) bool {
	if as.re != nil && as.re.FindStringIndex(name) == nil {
		return false
	}
	return regular && !(as.hidden && strings.HasPrefix(name, "."))
}

// join concatenates the fragments: a newline after a fragment that lacks
// one, and the delimiter (backslash escapes decoded) between fragments.
func (as *assembler) join(frags []fragment) ([]byte, error) {
	var out bytes.Buffer
	delim := []byte(as.delimiter)
	addNewline := false
	for i, f := range frags {
		if addNewline {
			out.WriteByte('\n')
		}
		if i > 0 && as.delimiter != "" {
			// Ansible decodes the already decoded delimiter again for
			// every fragment after the second one
			var err error
			if delim, err = escapeDecode(delim); err != nil {
				return nil, failf("delimiter %q: %v", as.delimiter, err)
			}
			out.Write(delim)
			if as.alwaysNewline || len(delim) == 0 || delim[len(delim)-1] != '\n' {
				out.WriteByte('\n')
			}
		}
		out.Write(f.data)
		addNewline = !bytes.HasSuffix(f.data, []byte("\n"))
	}
	return out.Bytes(), nil
}

// escapeDecode decodes backslash escapes as Python's codecs.escape_decode:
// \n, \t, \\, \xhh, octal \ooo and the like; an unknown escape stays as it
// is.
func escapeDecode(b []byte) ([]byte, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return nil, errors.New(`trailing \ in string`)
		}
		switch c = b[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := 0
			for k := 0; k < 3 && i < len(b) && b[i] >= '0' && b[i] <= '7'; k++ {
				n = n*8 + int(b[i]-'0')
				i++
			}
			i--
			out = append(out, byte(n))
		case 'x':
			if !isHex(b, i+1) || !isHex(b, i+2) {
				return nil, fmt.Errorf(`invalid \x escape at position %d`, i-1)
			}
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

func isHex(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	c := b[i]
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// assembleRemote is the assemble module: fragments on the host.
func assembleRemote(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	src, dest := a.String("src"), a.String("dest")
	if a.Has("follow") {
		return module.Result{}, failf("Unsupported parameters for (ansible.legacy.assemble) module: follow (it applies with remote_src: false only)")
	}
	fi, err := host.StatFollow(ctx, h, src)
	if err != nil {
		return module.Result{}, err
	}
	if !fi.Exists {
		return module.Result{}, failf("Source (%s) does not exist", src)
	}
	if !fi.IsDir() {
		return module.Result{}, failf("Source (%s) is not a directory", src)
	}
	as, err := newAssembler(a, false)
	if err != nil {
		return module.Result{}, err
	}
	validate := a.String("validate")
	if validate != "" && !strings.Contains(validate, "%s") {
		return module.Result{}, failf("validate must contain %%s: %s", validate)
	}
	list, err := h.ReadDir(ctx, src)
	if err != nil {
		return module.Result{}, failf("%s", pyError(err, src))
	}
	var frags []fragment
	for _, e := range list {
		name := path.Base(e.Path)
		regular := e.IsRegular()
		if e.IsSymlink() {
			target, err := host.StatFollow(ctx, h, e.Path)
			regular = err == nil && target.IsRegular()
		}
		if !as.wants(name, regular) {
			continue
		}
		data, err := h.ReadFile(ctx, e.Path)
		if err != nil {
			return module.Result{}, failf("%s", pyError(err, e.Path))
		}
		frags = append(frags, fragment{name: name, data: data})
	}
	data, err := as.join(frags)
	if err != nil {
		return module.Result{}, err
	}
	sum := sha1hex(data)
	values := map[string]any{"src": src, "dest": dest, "checksum": sum, "md5sum": md5hex(data)}
	dfi, err := host.StatFollow(ctx, h, dest)
	if err != nil {
		return module.Result{}, err
	}
	if dfi.IsDir() {
		return module.Result{}, failf("attempted to take checksum of directory: %s", dest)
	}
	var old []byte
	if dfi.Exists {
		if old, err = h.ReadFile(ctx, dest); err != nil {
			return module.Result{}, failf("%s", pyError(err, dest))
		}
	}
	changed := !dfi.Exists || sha1hex(old) != sum
	var differs []string
	if changed {
		differs = []string{"content"}
		if !dfi.Exists {
			differs = []string{"state"}
		}
		if a.Bool("backup") && dfi.Exists {
			b, err := backupLocal(ctx, h, dest)
			if err != nil {
				return module.Result{}, err
			}
			values["backup_file"] = b
		}
		if err := stateBackup(ctx, t, dest); err != nil && dfi.Exists {
			return module.Result{}, err
		}
		// a new file gets 0644, a replaced one keeps its mode and owner,
		// as atomic_move does; owner, group and mode follow below
		if err := h.WriteFile(ctx, dest, data, host.WriteOptions{UID: -1, GID: -1, Validate: validate}); err != nil {
			var v *host.ValidateError
			if errors.As(err, &v) {
				return module.Result{}, failf("failed to validate: rc:%d error:%s", v.RC, v.Stderr)
			}
			return module.Result{}, failf("failed to write %s: %v", dest, err)
		}
	}
	attrChanged, attrDiffers, err := fileAttrs(a).apply(ctx, t, dest, nil)
	if err != nil {
		return module.Result{}, err
	}
	values["msg"] = "OK"
	res := module.Result{Changed: changed || attrChanged, Values: pathInfo(ctx, h, dest, values),
		Resources: resource(dest, append(differs, attrDiffers...))}
	return res, nil
}

// assembleLocal is the assemble action with remote_src: false: fragments on
// the controller, the result copied to dest by the copy module.
func assembleLocal(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	src := a.String("src")
	if t.Find != nil {
		found, err := t.Find("files", src)
		if err != nil {
			return module.Result{}, failf("Could not find or access '%s': %v", src, err)
		}
		src = found
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return module.Result{}, failf("Source (%s) is not a directory", src)
	}
	as, err := newAssembler(a, true)
	if err != nil {
		return module.Result{}, err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return module.Result{}, failf("Could not read %s: %v", src, err)
	}
	var frags []fragment
	for _, e := range entries {
		p := filepath.Join(src, e.Name())
		fi, err := os.Stat(p)
		if !as.wants(e.Name(), err == nil && fi.Mode().IsRegular()) {
			continue
		}
		data, err := readLocal(t, p)
		if err != nil {
			return module.Result{}, failf("Could not read %s: %v", p, err)
		}
		frags = append(frags, fragment{name: e.Name(), data: data})
	}
	data, err := as.join(frags)
	if err != nil {
		return module.Result{}, err
	}
	// The action hands the copy module the task's arguments less its own
	// (remote_src, regexp, delimiter, ignore_hidden, decrypt), the
	// assembled file as src, and copy's defaults.
	ca := module.Args{"force": true, "follow": false, "backup": false, "remote_src": false}
	for _, k := range []string{"dest", "backup", "validate", "follow", "mode", "owner", "group", "unsafe_writes", "attributes", "seuser", "serole", "setype", "selevel"} {
		if v, ok := a[k]; ok && v != nil {
			ca[k] = v
		}
	}
	ct := *t
	ct.Args = ca
	// the copy module names a file put in a directory dest after its src,
	// which the action calls "src"
	return copyFile(ctx, &ct, fileSource{data: data, label: src, base: "src"}, a.String("dest"))
}
