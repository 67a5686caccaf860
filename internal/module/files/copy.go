package files

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func copySpec() module.Spec {
	return commonSpec(module.Spec{
		"src":                {Type: module.TypePath},
		"_original_basename": {Type: module.TypeStr},
		"content":            {Type: module.TypeRaw, NoLog: true}, // a dict or list becomes JSON (the engine, as the copy action)
		"dest":               {Type: module.TypePath, Required: true},
		"backup":             {Type: module.TypeBool, Default: false},
		"force":              {Type: module.TypeBool, Default: true, Aliases: []string{"thirsty"}},
		"validate":           {Type: module.TypeStr},
		"directory_mode":     {Type: module.TypeMode},
		"remote_src":         {Type: module.TypeBool},
		"local_follow":       {Type: module.TypeBool, Default: true},
		"checksum":           {Type: module.TypeStr},
		"follow":             {Type: module.TypeBool, Default: false},
		"decrypt":            {Type: module.TypeBool, Default: true},
	})
}

func init() {
	module.Register(module.Info{Name: "copy", Kind: "file", Spec: copySpec(), New: func() module.Module { return &Copy{} }})
}

// Copy is ansible.builtin.copy: a file's content from the controller (src,
// a file or a directory), from the host (remote_src) or inline (content).
type Copy struct{}

var _ module.Module = (*Copy)(nil)

// maxDiffSize is Ansible's MAX_FILE_SIZE_FOR_DIFF.
const maxDiffSize = 104448

// Run implements module.Module.
func (*Copy) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runCopy(ctx, t))
}

func runCopy(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	src, dest := a.String("src"), a.String("dest")
	_, hasContent := a["content"]
	switch {
	case hasContent && a.Has("src"):
		return module.Result{}, failf("src and content are mutually exclusive")
	case !hasContent && !a.Has("src"):
		return module.Result{}, failf("src (or content) is required")
	case dest == "":
		return module.Result{}, failf("dest is required")
	}
	if hasContent {
		if strings.HasSuffix(dest, "/") {
			return module.Result{}, failf("can not use content with a dir as dest")
		}
		content := contentString(a["content"])
		return copyFile(ctx, t, fileSource{data: []byte(content), label: "dynamically generated", base: a.String("_original_basename")}, dest)
	}
	var entries []entry
	var err error
	if a.Bool("remote_src") {
		entries, err = hostEntries(ctx, t.Host, src)
	} else {
		if t.Find != nil {
			if src, err = t.Find("files", src); err != nil {
				return module.Result{}, failf("Could not find or access '%s': %v", a.String("src"), err)
			}
			if strings.HasSuffix(a.String("src"), "/") && !strings.HasSuffix(src, "/") {
				src += "/"
			}
		}
		entries, err = localEntries(t, src, a.Bool("local_follow"))
	}
	if err != nil {
		return module.Result{}, err
	}
	if len(entries) == 1 && entries[0].rel == "" {
		e := entries[0]
		return copyFile(ctx, t, fileSource{data: e.data, label: src, base: path.Base(src), mode: e.mode}, dest)
	}
	return copyTree(ctx, t, src, dest, entries)
}

// contentString is the content argument as text; YAML dicts and lists are
// written as JSON, as Ansible does.
func contentString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// fileSource is one file to copy.
type fileSource struct {
	data  []byte
	label string      // the diff's after_header and the result's src
	base  string      // the name used when dest is a directory
	mode  fs.FileMode // for mode=preserve
}

// entry is a file or directory of a copied tree; rel "" is src itself.
type entry struct {
	rel   string
	dir   bool
	data  []byte
	mode  fs.FileMode
	link  string
	isDir bool
}

// localEntries reads src on the controller: one entry for a file, or every
// file and directory below a directory.
func localEntries(t *module.Task, src string, follow bool) ([]entry, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, failf("Could not find or access '%s' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option", src)
	}
	if !fi.IsDir() {
		data, err := readLocal(t, src)
		if err != nil {
			return nil, failf("Could not read %s: %v", src, err)
		}
		return []entry{{data: data, mode: host.UnixPerm(fi.Mode())}}, nil
	}
	var out []entry
	root := filepath.Clean(src)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 && !follow {
			target, _ := os.Readlink(p)
			out = append(out, entry{rel: rel, link: target})
			return nil
		}
		if info.IsDir() {
			out = append(out, entry{rel: rel, dir: true, mode: host.UnixPerm(info.Mode())})
			return nil
		}
		data, err := readLocal(t, p)
		if err != nil {
			return err
		}
		out = append(out, entry{rel: rel, data: data, mode: host.UnixPerm(info.Mode())})
		return nil
	})
	if err != nil {
		return nil, failf("could not read %s: %v", src, err)
	}
	return append([]entry{{isDir: true}}, out...), nil
}

// hostEntries reads src on the host (remote_src).
func hostEntries(ctx context.Context, h host.Host, src string) ([]entry, error) {
	fi, err := host.StatFollow(ctx, h, src)
	if err != nil {
		return nil, err
	}
	if !fi.Exists {
		return nil, failf("Source %s not found", src)
	}
	if !fi.IsDir() {
		if !fi.IsRegular() {
			return nil, failf("Cannot copy invalid source '%s': not a file", src)
		}
		data, err := h.ReadFile(ctx, src)
		if err != nil {
			return nil, failf("Source %s not readable", src)
		}
		return []entry{{data: data, mode: fi.Perm()}}, nil
	}
	out := []entry{{isDir: true}}
	var walkDir func(dir, rel string) error
	walkDir = func(dir, rel string) error {
		list, err := h.ReadDir(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range list {
			r := path.Join(rel, path.Base(e.Path))
			switch {
			case e.IsSymlink():
				out = append(out, entry{rel: r, link: e.LinkTarget})
			case e.IsDir():
				out = append(out, entry{rel: r, dir: true, mode: e.Perm()})
				if err := walkDir(e.Path, r); err != nil {
					return err
				}
			default:
				data, err := h.ReadFile(ctx, e.Path)
				if err != nil {
					return err
				}
				out = append(out, entry{rel: r, data: data, mode: e.Perm()})
			}
		}
		return nil
	}
	if err := walkDir(src, ""); err != nil {
		return nil, failf("could not read %s: %v", src, err)
	}
	return out, nil
}

// copyTree copies a directory: "dir/" copies its contents into dest, "dir"
// the directory itself.
func copyTree(ctx context.Context, t *module.Task, src, dest string, entries []entry) (module.Result, error) {
	destArg := dest
	root := strings.TrimSuffix(dest, "/")
	if !strings.HasSuffix(src, "/") {
		root = path.Join(dest, path.Base(src))
	}
	dest = root
	dirMode := t.Args["directory_mode"]
	at := fileAttrs(t.Args)
	res := module.Result{}
	var differs []string
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	absentDirs := map[string]bool{}
	files, last := 0, map[string]any(nil)
	ensureDir := func(p string) error {
		dirMode := dirMode
		if t.Check && absentDirs[path.Dir(p)] {
			absentDirs[p] = true
			return nil
		}
		fi, err := host.StatFollow(ctx, t.Host, p)
		if err != nil {
			return err
		}
		if p == root && strings.HasSuffix(src, "/") && fi.Exists {
			dirMode = nil // an existing dest is not one of src's directories
		}
		if fi.Exists && !fi.IsDir() {
			return failf("%s already exists as a %s", p, stateOf(ctx, t.Host, fi))
		}
		dat := attrs{owner: at.owner, group: at.group, mode: dirMode}
		if !fi.Exists {
			res.Changed = true
			differs = append(differs, "state")
			if t.Check {
				absentDirs[p] = true
				return nil
			}
			if _, err := mkdirAll(ctx, t.Host, p, 0755); err != nil {
				return failf("There was an issue creating %s as requested: %v", p, err)
			}
		}
		c, _, err := dat.apply(ctx, t, p, nil)
		res.Changed = res.Changed || c
		return err
	}
	if err := ensureDir(dest); err != nil {
		return module.Result{}, err
	}
	for _, e := range entries[1:] {
		p := path.Join(dest, e.rel)
		switch {
		case e.dir:
			if err := ensureDir(p); err != nil {
				return module.Result{}, err
			}
		case e.link != "":
			fi, err := t.Host.Stat(ctx, p)
			if err != nil {
				return module.Result{}, err
			}
			if fi.IsSymlink() && fi.LinkTarget == e.link {
				continue
			}
			res.Changed = true
			if !t.Check {
				if fi.Exists {
					t.Host.Remove(ctx, p)
				}
				if err := t.Host.Symlink(ctx, e.link, p); err != nil {
					return module.Result{}, err
				}
			}
		case t.Check && absentDirs[path.Dir(p)]:
			// Its directory would be created first: a new file.
			files++
			res.Changed = true
			res.Resources = append(res.Resources, resource(p, []string{"state"})...)
		default:
			r, err := copyFile(ctx, t, fileSource{data: e.data, label: path.Join(src, e.rel), base: path.Base(e.rel), mode: e.mode}, p)
			if err != nil {
				return module.Result{}, err
			}
			if r.Failed {
				return r, nil
			}
			files++
			last = r.Values
			res.Changed = res.Changed || r.Changed
			res.Diffs = append(res.Diffs, r.Diffs...)
			res.Resources = append(res.Resources, r.Resources...)
		}
	}
	if files == 1 && last != nil {
		res.Values = last
	} else {
		// As the copy action: per-file results (and their diffs) are not kept.
		res.Diffs = nil
		res.Values = map[string]any{"dest": strings.TrimSuffix(destArg, "/") + "/", "src": strings.TrimSuffix(src, "/")}
	}
	res.Resources = append(resource(dest, differs), res.Resources...)
	return res, nil
}

// copyFile puts one file at dest (copy.py plus the copy action's checks).
func copyFile(ctx context.Context, t *module.Task, s fileSource, dest string) (module.Result, error) {
	a := t.Args
	h := t.Host
	check := t.Check
	sum := sha1hex(s.data)
	if want := a.String("checksum"); want != "" && want != sum {
		return module.Result{}, &failure{msg: "Copied file does not match the expected checksum. Transfer failed.", values: map[string]any{"checksum": sum, "expected_checksum": want}}
	}
	at := fileAttrs(a)
	if m, ok := at.mode.(string); ok && m == "preserve" {
		at.mode = octal(s.mode)
	}
	if strings.HasSuffix(dest, "/") {
		if s.base != "" {
			dest = path.Join(dest, s.base)
		}
		dir := path.Dir(dest)
		if fi, err := host.StatFollow(ctx, h, dir); err != nil || !fi.Exists {
			if check {
				return module.Result{Changed: true, Msg: fmt.Sprintf("dest directory %s would be created", dir), Values: map[string]any{"src": s.label}, Resources: resource(dest, []string{"state"})}, nil
			}
			created, err := mkdirAll(ctx, h, dir, 0755)
			if err != nil {
				return module.Result{}, failf("There was an issue creating %s as requested: %v", dir, err)
			}
			dat := attrs{owner: at.owner, group: at.group, mode: a["directory_mode"]}
			for _, d := range created {
				if _, _, err := dat.apply(ctx, t, d, nil); err != nil {
					return module.Result{}, err
				}
			}
		}
	}
	if fi, err := host.StatFollow(ctx, h, dest); err == nil && fi.IsDir() {
		dest = path.Join(dest, s.base)
	}
	lfi, err := h.Stat(ctx, dest)
	if err != nil {
		return module.Result{}, err
	}
	var old []byte
	exists := false
	header := dest
	if lfi.Exists {
		if lfi.IsSymlink() && a.Bool("follow") {
			dest = realPath(ctx, h, dest)
		}
		if !a.Bool("force") {
			v := map[string]any{"dest": dest}
			if s.label != "dynamically generated" {
				v["src"] = s.label
			}
			return module.Result{Values: v, Resources: resource(dest, nil)}, nil
		}
		if fi, _ := host.StatFollow(ctx, h, dest); fi.IsRegular() {
			exists = true
			if old, err = h.ReadFile(ctx, dest); err != nil {
				return module.Result{}, err
			}
		}
	} else if fi, err := host.StatFollow(ctx, h, path.Dir(dest)); err != nil || !fi.Exists {
		if t.Check {
			// Ansible's copy action reports a file that would be written
			// as changed in check mode without asking the module, so a
			// directory an earlier task would create is no failure here.
			return module.Result{Changed: true, Values: map[string]any{"dest": dest, "checksum": sum},
				Resources: []module.Resource{{Kind: "file", ID: dest, Differs: []string{"state"}}}}, nil
		}
		return module.Result{}, &failure{msg: fmt.Sprintf("Destination directory %s does not exist", path.Dir(dest)), values: map[string]any{"checksum": sum}}
	}
	lfi, _ = h.Stat(ctx, dest)
	values := map[string]any{"dest": dest, "checksum": sum}
	if exists && bytes.Equal(old, s.data) && !lfi.IsSymlink() {
		// Same content: the copy action runs the file module instead.
		d := newDictDiff(dest)
		changed, differs, err := at.apply(ctx, t, dest, d)
		if err != nil {
			return module.Result{}, err
		}
		values["path"] = dest
		res := module.Result{Changed: changed, Values: pathInfo(ctx, h, dest, values), Resources: resource(dest, differs)}
		if t.Diff && changed {
			res.Diffs = []module.Diff{d.diff()}
		}
		return res, nil
	}
	differs := []string{"content"}
	if !lfi.Exists {
		differs = []string{"state"}
	}
	// The new file gets its mode and owner before it becomes visible.
	uid, gid, err := at.ids(ctx, h, dest)
	if err != nil {
		return module.Result{}, err
	}
	var mode fs.FileMode
	if at.mode != nil {
		base := fs.FileMode(0644)
		if exists {
			fi, _ := host.StatFollow(ctx, h, dest)
			base = fi.Perm()
		}
		if mode, err = at.perm(base, false, dest); err != nil {
			return module.Result{}, err
		}
	}
	if !check {
		if a.Bool("backup") && exists {
			b, err := backupLocal(ctx, h, dest)
			if err != nil {
				return module.Result{}, err
			}
			values["backup_file"] = b
		}
		if err := stateBackup(ctx, t, dest); err != nil && exists {
			return module.Result{}, err
		}
		if lfi.IsSymlink() {
			if err := h.Remove(ctx, dest); err != nil {
				return module.Result{}, failf("failed to copy: %s to %s", s.label, dest)
			}
		}
		opts := host.WriteOptions{Mode: mode, UID: uid, GID: gid, Validate: a.String("validate")}
		if err := h.WriteFile(ctx, dest, s.data, opts); err != nil {
			if v, ok := err.(*host.ValidateError); ok {
				return module.Result{}, &failure{msg: "failed to validate", values: map[string]any{"exit_status": v.RC, "stdout": v.Stdout, "stderr": v.Stderr, "checksum": sum}}
			}
			return module.Result{}, failf("failed to copy: %s to %s: %v", s.label, dest, err)
		}
	} else if v := a.String("validate"); v != "" && !strings.Contains(v, "%s") {
		return module.Result{}, failf("validate must contain %%s: %s", v)
	}
	values["md5sum"] = md5hex(s.data)
	if s.label != "dynamically generated" {
		values["src"] = s.label
	}
	res := module.Result{Changed: true, Values: values, Resources: resource(dest, differs)}
	if !check {
		pathInfo(ctx, h, dest, values)
		// Owner and mode are already right; this only reports them.
		if _, _, err := at.apply(ctx, t, dest, nil); err != nil {
			return module.Result{}, err
		}
	}
	if t.Diff && !a.Bool("remote_src") {
		res.Diffs = []module.Diff{contentDiff(header, old, exists, s.data, s.label)}
	}
	return res, nil
}

// contentDiff is the diff the copy and template actions show.
func contentDiff(dest string, old []byte, exists bool, data []byte, label string) module.Diff {
	d := module.Diff{AfterHeader: label}
	if exists {
		d.BeforeHeader = dest
	}
	switch {
	case bytes.IndexByte(old, 0) >= 0:
		d.Before = "diff skipped: destination file appears to be binary"
	case len(old) > maxDiffSize:
		d.Before = fmt.Sprintf("diff skipped: destination file size is greater than %d", maxDiffSize)
	default:
		d.Before = string(old)
	}
	switch {
	case bytes.IndexByte(data, 0) >= 0:
		d.After = "diff skipped: source file appears to be binary"
	case len(data) > maxDiffSize:
		d.After = fmt.Sprintf("diff skipped: source file size is greater than %d", maxDiffSize)
	default:
		d.After = string(data)
	}
	return d
}
