package files

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "file", Kind: "file", New: func() module.Module { return &File{} }, Spec: commonSpec(module.Spec{
		"state":                    {Type: module.TypeStr, Choices: []string{"absent", "directory", "file", "hard", "link", "touch"}},
		"path":                     {Type: module.TypePath, Required: true, Aliases: []string{"dest", "name"}},
		"_original_basename":       {Type: module.TypeStr},
		"recurse":                  {Type: module.TypeBool, Default: false},
		"force":                    {Type: module.TypeBool, Default: false},
		"follow":                   {Type: module.TypeBool, Default: true},
		"_diff_peek":               {Type: module.TypeBool},
		"src":                      {Type: module.TypePath},
		"modification_time":        {Type: module.TypeStr},
		"modification_time_format": {Type: module.TypeStr, Default: "%Y%m%d%H%M.%S"},
		"access_time":              {Type: module.TypeStr},
		"access_time_format":       {Type: module.TypeStr, Default: "%Y%m%d%H%M.%S"},
	})})
}

// File is ansible.builtin.file: the state, mode and owner of a path.
type File struct{}

var _ module.Module = (*File)(nil)

// fileRun is one run of the file module.
type fileRun struct {
	t      *module.Task
	at     attrs
	follow bool
	force  bool
	mtime  stamp
	atime  stamp
	diff   *dictDiff
}

// stamp is a wanted time: preserve (keep), now, or a fixed time.
type stamp struct {
	keep, now bool
	at        time.Time
}

// Run implements module.Module.
func (*File) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runFile(ctx, t))
}

func runFile(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	h := t.Host
	p, state, src := a.String("path"), a.String("state"), a.String("src")
	if state != "link" && state != "absent" {
		if fi, err := host.StatFollow(ctx, h, p); err == nil && fi.IsDir() {
			base := a.String("_original_basename")
			if base == "" && src != "" {
				base = path.Base(src)
			}
			if base != "" {
				p = path.Join(p, base)
			}
		}
	}
	prev, err := getState(ctx, h, p)
	if err != nil {
		return module.Result{}, err
	}
	if state == "" {
		switch {
		case prev != "absent":
			state = prev
		case a.Bool("recurse"):
			state = "directory"
		default:
			state = "file"
		}
	}
	if a.Bool("recurse") && state != "directory" {
		return module.Result{}, &failure{msg: "recurse option requires state to be 'directory'", values: map[string]any{"path": p}}
	}
	if src != "" && state != "link" && state != "hard" {
		return module.Result{}, &failure{msg: "src option requires state to be 'link' or 'hard'", values: map[string]any{"path": p}}
	}
	r := &fileRun{t: t, at: fileAttrs(a), follow: a.Bool("follow"), force: a.Bool("force")}
	if r.mtime, err = parseStamp(a["modification_time"], a.String("modification_time_format"), state); err != nil {
		return module.Result{}, err
	}
	if r.atime, err = parseStamp(a["access_time"], a.String("access_time_format"), state); err != nil {
		return module.Result{}, err
	}
	if a.Has("_diff_peek") {
		data, _ := h.ReadFile(ctx, p)
		if len(data) > 8192 {
			data = data[:8192]
		}
		return module.Result{Values: map[string]any{"path": p, "appears_binary": strings.ContainsRune(string(data), 0)}}, nil
	}
	var res module.Result
	switch state {
	case "absent":
		res, err = r.absent(ctx, p, prev)
	case "touch":
		res, err = r.touch(ctx, p, prev)
	case "file":
		res, err = r.file(ctx, p, prev)
	case "directory":
		res, err = r.directory(ctx, p, prev, a.Bool("recurse"))
	case "link":
		res, err = r.link(ctx, p, src, prev)
	case "hard":
		res, err = r.hard(ctx, p, src, prev)
	}
	if err != nil {
		return res, err
	}
	key := "path"
	if _, ok := res.Values["path"]; !ok {
		key = "dest"
	}
	if p, ok := res.Values[key].(string); ok && !res.Values["_no_info"].(bool) {
		pathInfo(ctx, h, p, res.Values)
	}
	delete(res.Values, "_no_info")
	if t.Diff && r.diff != nil {
		if d := r.diff.diff(); d.Before != d.After {
			res.Diffs = []module.Diff{d}
		}
	}
	return res, nil
}

func getState(ctx context.Context, h host.Host, p string) (string, error) {
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return "", err
	}
	return stateOf(ctx, h, fi), nil
}

// parseStamp reads modification_time/access_time; unset means preserve,
// except for touch where it means now.
func parseStamp(v any, format, state string) (stamp, error) {
	s, _ := v.(string)
	if v == nil {
		if state == "touch" {
			return stamp{now: true}, nil
		}
		return stamp{keep: true}, nil
	}
	switch s {
	case "preserve":
		return stamp{keep: true}, nil
	case "now":
		return stamp{now: true}, nil
	}
	tm, err := time.ParseInLocation(goLayout(format), s, time.Local)
	if err != nil {
		return stamp{}, failf("Error while obtaining timestamp for time %s using format %s: %v", s, format, err)
	}
	return stamp{at: tm}, nil
}

// goLayout converts a Python strftime format to a Go time layout.
func goLayout(f string) string {
	r := strings.NewReplacer("%Y", "2006", "%m", "01", "%d", "02", "%H", "15", "%M", "04", "%S", "05",
		"%y", "06", "%b", "Jan", "%B", "January", "%a", "Mon", "%A", "Monday", "%p", "PM", "%I", "03", "%z", "-0700", "%Z", "MST", "%%", "%")
	return r.Replace(f)
}

func (r *fileRun) newDiff(p, prev, state string) {
	r.diff = newDictDiff(p)
	if prev != state {
		r.diff.set("state", prev, state)
	}
}

func vals(kv ...any) map[string]any {
	m := map[string]any{"_no_info": false}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func (r *fileRun) absent(ctx context.Context, p, prev string) (module.Result, error) {
	if prev == "absent" {
		return module.Result{Values: vals("path", p, "state", "absent"), Resources: resource(p, nil)}, nil
	}
	r.newDiff(p, prev, "absent")
	if prev == "directory" {
		files, dirs := walk(ctx, r.t.Host, p)
		r.diff.before["path_content"] = map[string]any{"directories": dirs, "files": files}
	}
	if !r.t.Check {
		if err := stateBackup(ctx, r.t, p); err != nil {
			return module.Result{}, err
		}
		if prev == "directory" {
			if err := r.t.Host.RemoveAll(ctx, p); err != nil {
				return module.Result{}, failf("rmtree failed: %v", err)
			}
		} else if err := r.t.Host.Remove(ctx, p); err != nil {
			return module.Result{}, &failure{msg: fmt.Sprintf("unlinking failed: %v ", err), values: map[string]any{"path": p}}
		}
	}
	return module.Result{Changed: true, Values: vals("path", p, "state", "absent"), Resources: resource(p, []string{"state"})}, nil
}

// walk lists the files and directories under p, as os.walk does.
func walk(ctx context.Context, h host.Host, p string) (files, dirs []any) {
	files, dirs = []any{}, []any{}
	list, err := h.ReadDir(ctx, p)
	if err != nil {
		return
	}
	var sub []string
	for _, fi := range list {
		if fi.IsDir() {
			dirs = append(dirs, fi.Path)
			sub = append(sub, fi.Path)
		} else {
			files = append(files, fi.Path)
		}
	}
	for _, s := range sub {
		f, d := walk(ctx, h, s)
		files, dirs = append(files, f...), append(dirs, d...)
	}
	return files, dirs
}

func (r *fileRun) touch(ctx context.Context, p, prev string) (module.Result, error) {
	changed := false
	if prev == "absent" {
		if r.t.Check {
			return module.Result{Changed: true, Values: vals("dest", p, "_no_info", true), Resources: resource(p, []string{"state"})}, nil
		}
		if err := r.t.Host.WriteFile(ctx, p, nil, host.WriteOptions{UID: -1, GID: -1}); err != nil {
			return module.Result{}, &failure{msg: fmt.Sprintf("Error, could not touch target: %v", err), values: map[string]any{"path": p}}
		}
		changed = true
	}
	r.newDiff(p, prev, "touch")
	target := r.attrPath(ctx, p)
	c, differs, err := r.at.apply(ctx, r.t, target, r.diff)
	if err != nil {
		if prev == "absent" {
			r.t.Host.Remove(ctx, p)
		}
		return module.Result{}, err
	}
	tc, err := r.times(ctx, target)
	if err != nil {
		return module.Result{}, err
	}
	if changed {
		differs = append([]string{"state"}, differs...)
	}
	if tc {
		differs = append(differs, "times")
	}
	return module.Result{Changed: changed || c || tc, Values: vals("dest", p), Resources: resource(p, differs)}, nil
}

// attrPath is where owner/mode apply: the link's target when following.
func (r *fileRun) attrPath(ctx context.Context, p string) string {
	if r.follow {
		if fi, err := r.t.Host.Stat(ctx, p); err == nil && fi.IsSymlink() {
			return realPath(ctx, r.t.Host, p)
		}
	}
	return p
}

// times applies modification_time/access_time (update_timestamp_for_file).
func (r *fileRun) times(ctx context.Context, p string) (bool, error) {
	if r.mtime.keep && r.atime.keep {
		return false, nil
	}
	fi, err := r.t.Host.Stat(ctx, p)
	if err != nil || !fi.Exists {
		return false, err
	}
	now := time.Now()
	var mtime, atime time.Time // zero: keep
	changed := false
	switch {
	case r.mtime.now:
		mtime, changed = now, true
	case !r.mtime.keep:
		mtime = r.mtime.at
		changed = changed || !mtime.Equal(fi.ModTime)
	}
	switch {
	case r.atime.now:
		atime, changed = now, true
	case !r.atime.keep:
		// The host does not report atime: an explicit one always applies.
		atime, changed = r.atime.at, true
	}
	if !changed {
		return false, nil
	}
	if !mtime.IsZero() && !mtime.Equal(fi.ModTime) {
		r.diff.set("mtime", unixFloat(fi.ModTime), unixFloat(mtime))
	}
	if !atime.IsZero() {
		// The host reports no atime; the mtime stands in for the old one.
		r.diff.set("atime", unixFloat(fi.ModTime), unixFloat(atime))
	}
	if !r.t.Check {
		if err := r.t.Host.Chtimes(ctx, p, atime, mtime); err != nil {
			return false, &failure{msg: fmt.Sprintf("Error while updating modification or access time: %v", err), values: map[string]any{"path": p}}
		}
	}
	return true, nil
}

func unixFloat(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (r *fileRun) file(ctx context.Context, p, prev string) (module.Result, error) {
	if prev != "file" && r.follow && prev == "link" {
		p = realPath(ctx, r.t.Host, p)
		var err error
		if prev, err = getState(ctx, r.t.Host, p); err != nil {
			return module.Result{}, err
		}
	}
	if prev != "file" && prev != "hard" {
		return module.Result{}, &failure{msg: fmt.Sprintf("file (%s) is %s, cannot continue", p, prev), values: map[string]any{"path": p, "state": prev}}
	}
	r.newDiff(p, prev, "file")
	c, differs, err := r.at.apply(ctx, r.t, p, r.diff)
	if err != nil {
		return module.Result{}, err
	}
	tc, err := r.times(ctx, p)
	if tc {
		differs = append(differs, "times")
	}
	return module.Result{Changed: c || tc, Values: vals("path", p), Resources: resource(p, differs)}, err
}

func (r *fileRun) directory(ctx context.Context, p, prev string, recurse bool) (module.Result, error) {
	h := r.t.Host
	if r.follow && prev == "link" {
		p = realPath(ctx, h, p)
		var err error
		if prev, err = getState(ctx, h, p); err != nil {
			return module.Result{}, err
		}
	}
	r.newDiff(p, prev, "directory")
	if prev == "absent" {
		res := module.Result{Changed: true, Values: vals("path", p), Resources: resource(p, []string{"state"})}
		if r.t.Check {
			return res, nil
		}
		cur := ""
		for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
			cur += "/" + name
			fi, err := host.StatFollow(ctx, h, cur)
			if err != nil {
				return module.Result{}, err
			}
			if fi.Exists {
				continue
			}
			if err := h.Mkdir(ctx, cur, 0755); err != nil {
				return module.Result{}, &failure{msg: fmt.Sprintf("There was an issue creating %s as requested: %v", cur, err), values: map[string]any{"path": p}}
			}
			if _, _, err := r.at.apply(ctx, r.t, cur, r.diff); err != nil {
				return module.Result{}, err
			}
			if _, err := r.times(ctx, p); err != nil {
				return module.Result{}, err
			}
		}
		return res, nil
	}
	if prev != "directory" {
		return module.Result{}, &failure{msg: fmt.Sprintf("%s already exists as a %s", p, prev), values: map[string]any{"path": p}}
	}
	changed, differs, err := r.at.apply(ctx, r.t, p, r.diff)
	if err != nil {
		return module.Result{}, err
	}
	tc, err := r.times(ctx, p)
	if err != nil {
		return module.Result{}, err
	}
	changed = changed || tc
	if recurse {
		rc, err := r.recurse(ctx, p, 0)
		if err != nil {
			return module.Result{}, err
		}
		if rc {
			changed = true
			differs = append(differs, "recurse")
		}
	}
	return module.Result{Changed: changed, Values: vals("path", p), Resources: resource(p, differs)}, nil
}

// recurse sets owner, group and mode on everything below p.
func (r *fileRun) recurse(ctx context.Context, p string, depth int) (bool, error) {
	if depth > 64 {
		return false, failf("Could not recursively set attributes on %s. Original error was: 'maximum recursion depth exceeded'", p)
	}
	list, err := r.t.Host.ReadDir(ctx, p)
	if err != nil {
		return false, err
	}
	changed := false
	for _, fi := range list {
		at := r.at
		if fi.IsSymlink() {
			at.mode = nil // chmod cannot change a symlink itself
		}
		c, _, err := at.apply(ctx, r.t, fi.Path, nil)
		if err != nil {
			return false, err
		}
		tc, err := r.times(ctx, fi.Path)
		if err != nil {
			return false, err
		}
		changed = changed || c || tc
		if fi.IsDir() {
			c, err := r.recurse(ctx, fi.Path, depth+1)
			if err != nil {
				return false, err
			}
			changed = changed || c
		} else if fi.IsSymlink() && r.follow {
			target, err := host.StatFollow(ctx, r.t.Host, fi.Path)
			if err == nil && target.Exists {
				c, _, err := r.at.apply(ctx, r.t, realPath(ctx, r.t.Host, fi.Path), nil)
				if err != nil {
					return false, err
				}
				changed = changed || c
			}
		}
	}
	return changed, nil
}

func (r *fileRun) link(ctx context.Context, p, src, prev string) (module.Result, error) {
	h := r.t.Host
	pfi, err := h.Stat(ctx, p)
	if err != nil {
		return module.Result{}, err
	}
	if src == "" && r.follow && pfi.IsSymlink() {
		if t, _ := host.StatFollow(ctx, h, p); t.Exists {
			src = pfi.LinkTarget
		}
	}
	relpath := path.Dir(p)
	if pfi.IsDir() {
		relpath = p
	}
	if src != "" && !r.force {
		absrc := src
		if !path.IsAbs(src) {
			absrc = path.Join(relpath, src)
		}
		if fi, err := host.StatFollow(ctx, h, absrc); err != nil || !fi.Exists {
			return module.Result{}, &failure{msg: `src file does not exist, use "force=yes" if you really want to create the link: ` + absrc, values: map[string]any{"path": p, "src": src}}
		}
	}
	switch prev {
	case "directory":
		if !r.force {
			return module.Result{}, &failure{msg: fmt.Sprintf("refusing to convert from %s to symlink for %s", prev, p), values: map[string]any{"path": p}}
		}
		if list, err := h.ReadDir(ctx, p); err != nil || len(list) > 0 {
			return module.Result{}, &failure{msg: fmt.Sprintf("the directory %s is not empty, refusing to convert it", p), values: map[string]any{"path": p}}
		}
	case "file", "hard":
		if !r.force {
			return module.Result{}, &failure{msg: fmt.Sprintf("refusing to convert from %s to symlink for %s", prev, p), values: map[string]any{"path": p}}
		}
	}
	r.newDiff(p, prev, "link")
	changed := false
	var differs []string
	if prev == "link" {
		if src != "" && pfi.LinkTarget != src {
			r.diff.set("src", pfi.LinkTarget, src)
			changed = true
			differs = append(differs, "src")
		}
	} else {
		if src == "" {
			return module.Result{}, failf("src is required for creating new symlinks")
		}
		changed = true
		differs = append(differs, "state")
	}
	if changed && !r.t.Check {
		if err := r.replace(ctx, p, prev, func(at string) error { return h.Symlink(ctx, src, at) }); err != nil {
			return module.Result{}, err
		}
	}
	res := module.Result{Values: vals("dest", p, "src", src)}
	if t, _ := host.StatFollow(ctx, h, p); r.t.Check && !t.Exists {
		res.Changed, res.Resources = changed, resource(p, differs)
		res.Values["_no_info"] = true
		return res, nil
	}
	if lfi, _ := h.Stat(ctx, p); r.follow && lfi.IsSymlink() {
		if t, _ := host.StatFollow(ctx, h, p); !t.Exists {
			res.Changed, res.Resources = changed, resource(p, differs)
			return res, nil // Ansible warns: attributes of a missing target
		}
	}
	c, d, err := r.at.apply(ctx, r.t, r.attrPath(ctx, p), r.diff)
	if err != nil {
		return module.Result{}, err
	}
	tc, err := r.times(ctx, r.attrPath(ctx, p))
	res.Changed, res.Resources = changed || c || tc, resource(p, append(differs, d...))
	return res, err
}

// replace puts a new link at p: directly when p is absent, else through a
// temporary name renamed over p (a directory is removed first).
func (r *fileRun) replace(ctx context.Context, p, prev string, create func(at string) error) error {
	h := r.t.Host
	if prev == "absent" {
		if err := create(p); err != nil {
			return &failure{msg: fmt.Sprintf("Error while linking: %v", err), values: map[string]any{"path": p}}
		}
		return nil
	}
	if err := stateBackup(ctx, r.t, p); err != nil {
		return err
	}
	tmp := path.Join(path.Dir(p), fmt.Sprintf(".%d.%d.tmp", pid, time.Now().UnixNano()))
	err := func() error {
		if prev == "directory" {
			if err := h.Remove(ctx, p); err != nil {
				return err
			}
		}
		if err := create(tmp); err != nil {
			return err
		}
		return h.Rename(ctx, tmp, p)
	}()
	if err != nil {
		h.Remove(ctx, tmp)
		return &failure{msg: fmt.Sprintf("Error while replacing: %v", err), values: map[string]any{"path": p}}
	}
	return nil
}

func (r *fileRun) hard(ctx context.Context, p, src, prev string) (module.Result, error) {
	h := r.t.Host
	if prev != "hard" && src == "" {
		return module.Result{}, failf("src is required for creating new hardlinks")
	}
	var sfi host.FileInfo
	if src != "" {
		var err error
		if sfi, err = host.StatFollow(ctx, h, src); err != nil || !sfi.Exists {
			return module.Result{}, &failure{msg: "src does not exist", values: map[string]any{"dest": p, "src": src}}
		}
	}
	r.newDiff(p, prev, "hard")
	changed := false
	pfi, err := h.Stat(ctx, p)
	if err != nil {
		return module.Result{}, err
	}
	switch prev {
	case "absent":
		changed = true
	case "link":
		if pfi.LinkTarget != src {
			r.diff.set("src", pfi.LinkTarget, src)
			changed = true
		}
	case "hard":
		if src != "" && pfi.Inode != sfi.Inode {
			changed = true
			if !r.force {
				return module.Result{}, &failure{msg: "Cannot link, different hard link exists at destination", values: map[string]any{"dest": p, "src": src}}
			}
		}
	case "file":
		changed = true
		if !r.force {
			return module.Result{}, &failure{msg: "Cannot link, file exists at destination", values: map[string]any{"dest": p, "src": src}}
		}
	case "directory":
		changed = true
		if pfi.Inode == sfi.Inode {
			return module.Result{Values: vals("path", p)}, nil
		}
		if !r.force {
			return module.Result{}, &failure{msg: "Cannot link: different hard link exists at destination", values: map[string]any{"dest": p, "src": src}}
		}
	}
	if changed && !r.t.Check {
		if err := r.replace(ctx, p, prev, func(at string) error { return h.Link(ctx, src, at) }); err != nil {
			return module.Result{}, err
		}
	}
	var differs []string
	if changed {
		differs = []string{"state"}
	}
	res := module.Result{Values: vals("dest", p, "src", src)}
	if t, _ := host.StatFollow(ctx, h, p); r.t.Check && !t.Exists {
		res.Changed, res.Resources = changed, resource(p, differs)
		res.Values["_no_info"] = true
		return res, nil
	}
	c, d, err := r.at.apply(ctx, r.t, p, r.diff)
	if err != nil {
		return module.Result{}, err
	}
	tc, err := r.times(ctx, p)
	res.Changed, res.Resources = changed || c || tc, resource(p, append(differs, d...))
	return res, err
}
