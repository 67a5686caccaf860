// Package files holds the built-in modules that manage and read files —
// file, copy, template, lineinfile, blockinfile, replace, assemble,
// tempfile, stat, find and slurp — with ansible-core 2.14's arguments,
// results, check mode and diffs. Every read and write goes through the
// task's host.Host; in check mode that host is read-only.
package files

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

// commonSpec is Ansible's add_file_common_args: owner, group, mode and the
// SELinux and attribute options (accepted, not applied).
func commonSpec(s module.Spec) module.Spec {
	s["mode"] = module.Param{Type: module.TypeMode}
	s["owner"] = module.Param{Type: module.TypeStr}
	s["group"] = module.Param{Type: module.TypeStr}
	s["seuser"] = module.Param{Type: module.TypeStr}
	s["serole"] = module.Param{Type: module.TypeStr}
	s["setype"] = module.Param{Type: module.TypeStr}
	s["selevel"] = module.Param{Type: module.TypeStr}
	s["unsafe_writes"] = module.Param{Type: module.TypeBool, Default: false}
	s["attributes"] = module.Param{Type: module.TypeStr, Aliases: []string{"attr"}}
	return s
}

// failure is a module failure (fail_json) with extra return values.
type failure struct {
	msg    string
	values map[string]any
}

func (f *failure) Error() string { return f.msg }

func failf(format string, a ...any) error { return &failure{msg: fmt.Sprintf(format, a...)} }

// result turns a module error into a failed Result; other errors (the
// host's) become failures too, with their text as msg.
func resultOf(ctx context.Context, t *module.Task, res module.Result, err error) (module.Result, error) {
	if err == nil {
		return res, nil
	}
	var f *failure
	if errors.As(err, &f) {
		r := module.Failf("%s", f.msg)
		r.Values = f.values
		p, ok := f.values["path"].(string)
		if !ok {
			p, ok = f.values["dest"].(string)
		}
		if ok {
			pathInfo(ctx, t.Host, p, r.Values)
		}
		return r, nil
	}
	var v *host.ValidateError
	if errors.As(err, &v) {
		return module.Failf("%s", v.Error()), nil
	}
	return module.Failf("%s", err.Error()), nil
}

// result turns a module run's error into a failed Result.
func result(ctx context.Context, t *module.Task) func(module.Result, error) (module.Result, error) {
	return func(res module.Result, err error) (module.Result, error) { return resultOf(ctx, t, res, err) }
}

// attrs are the owner, group and mode a task asks for.
type attrs struct {
	mode         any // nil: keep
	owner, group string
}

func fileAttrs(a module.Args) attrs {
	return attrs{mode: a["mode"], owner: a.String("owner"), group: a.String("group")}
}

// ids resolves owner and group to ids (-1 when not asked).
func (at attrs) ids(ctx context.Context, h host.Host, p string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if at.owner != "" {
		if uid, err = h.LookupUser(ctx, at.owner); err != nil {
			return -1, -1, &failure{msg: "chown failed: failed to look up user " + at.owner, values: map[string]any{"path": p}}
		}
	}
	if at.group != "" {
		if gid, err = h.LookupGroup(ctx, at.group); err != nil {
			return -1, -1, &failure{msg: "chgrp failed: failed to look up group " + at.group, values: map[string]any{"path": p}}
		}
	}
	return uid, gid, nil
}

// perm computes the wanted permission bits given the current ones.
func (at attrs) perm(cur fs.FileMode, isDir bool, p string) (fs.FileMode, error) {
	m, err := module.ParseMode(at.mode, cur, isDir)
	if err != nil {
		details := err.Error()
		if s, ok := at.mode.(string); ok && !strings.ContainsAny(s[:1], "01234567") {
			details = "bad symbolic permission for mode: " + s
		}
		return 0, &failure{msg: "mode must be in octal or symbolic form", values: map[string]any{"path": p, "details": details}}
	}
	return m, nil
}

// apply makes owner, group and mode of p (itself, not a symlink's target)
// what at asks for, as set_fs_attributes_if_different: each difference goes
// into d (keys owner, group, mode) and differs. In check mode nothing is
// changed. A missing path in check mode counts as changed.
func (at attrs) apply(ctx context.Context, t *module.Task, p string, d *dictDiff) (changed bool, differs []string, err error) {
	if at.mode == nil && at.owner == "" && at.group == "" {
		return false, nil, nil
	}
	fi, err := t.Host.Stat(ctx, p)
	if err != nil {
		return false, nil, err
	}
	if !fi.Exists {
		if t.Check {
			return true, nil, nil
		}
		return false, nil, fmt.Errorf("set attributes on %s: no such file", p)
	}
	uid, gid, err := at.ids(ctx, t.Host, p)
	if err != nil {
		return false, nil, err
	}
	if uid != -1 && uid != fi.UID {
		d.set("owner", fi.UID, uid)
		differs = append(differs, "owner")
		if !t.Check {
			if err := t.Host.Lchown(ctx, p, uid, -1); err != nil {
				return false, nil, &failure{msg: "chown failed: " + err.Error(), values: map[string]any{"path": p}}
			}
		}
	}
	if gid != -1 && gid != fi.GID {
		d.set("group", fi.GID, gid)
		differs = append(differs, "group")
		if !t.Check {
			if err := t.Host.Lchown(ctx, p, -1, gid); err != nil {
				return false, nil, &failure{msg: "chgrp failed", values: map[string]any{"path": p}}
			}
		}
	}
	if at.mode != nil {
		want, err := at.perm(fi.Perm(), fi.IsDir(), p)
		if err != nil {
			return false, nil, err
		}
		if want != fi.Perm() {
			d.set("mode", octal(fi.Perm()), octal(want))
			differs = append(differs, "mode")
			if !t.Check && !fi.IsSymlink() { // Linux cannot chmod a symlink
				if err := t.Host.Chmod(ctx, p, want); err != nil {
					return false, nil, &failure{msg: "chmod failed", values: map[string]any{"path": p, "details": err.Error()}}
				}
			}
		}
	}
	return len(differs) > 0, differs, nil
}

// octal formats permission bits as Ansible does ('0%03o').
func octal(m fs.FileMode) string { return fmt.Sprintf("0%03o", uint32(m)) }

// dictDiff is a before/after pair of dicts (the file module's diff).
type dictDiff struct{ before, after map[string]any }

func newDictDiff(p string) *dictDiff {
	return &dictDiff{before: map[string]any{"path": p}, after: map[string]any{"path": p}}
}

func (d *dictDiff) set(key string, before, after any) {
	if d == nil {
		return
	}
	d.before[key], d.after[key] = before, after
}

// diff renders d as Ansible's callback does for dict diffs: JSON with sorted
// keys and four-space indent.
func (d *dictDiff) diff() module.Diff {
	return module.Diff{Before: serialize(d.before), After: serialize(d.after)}
}

func serialize(m map[string]any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	enc.Encode(m)
	return buf.String()
}

// realPath resolves every symlink in p, as os.path.realpath.
func realPath(ctx context.Context, h host.Host, p string) string {
	p = path.Clean(p)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0 && hops < 100; {
		next := path.Join(cur, parts[0])
		parts = parts[1:]
		fi, err := h.Stat(ctx, next)
		if err != nil || !fi.IsSymlink() {
			cur = next
			continue
		}
		hops++
		target := fi.LinkTarget
		if path.IsAbs(target) {
			cur = "/"
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts...)
	}
	return path.Clean(cur)
}

// PathInfo adds to v what Ansible's add_path_info adds to the result of
// any module that returns a path that exists: uid, gid, owner, group,
// mode, state and size.
func PathInfo(ctx context.Context, h host.Host, p string, v map[string]any) map[string]any {
	return pathInfo(ctx, h, p, v)
}

// pathInfo adds what Ansible's add_path_info adds for an existing path:
// uid, gid, owner, group, mode, state and size.
func pathInfo(ctx context.Context, h host.Host, p string, v map[string]any) map[string]any {
	if v == nil {
		v = map[string]any{}
	}
	if target, err := host.StatFollow(ctx, h, p); err != nil || !target.Exists {
		return v
	}
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return v
	}
	v["uid"], v["gid"] = fi.UID, fi.GID
	v["owner"], v["group"] = nameOr(h.UserName(ctx, fi.UID), fi.UID), nameOr(h.GroupName(ctx, fi.GID), fi.GID)
	v["mode"] = octal(fi.Perm())
	v["size"] = fi.Size
	v["state"] = stateOf(ctx, h, fi)
	return v
}

func nameOr(name string, id int) string {
	if name == "" {
		return fmt.Sprint(id)
	}
	return name
}

// stateOf is the file module's get_state of an existing path.
func stateOf(ctx context.Context, h host.Host, fi host.FileInfo) string {
	switch {
	case !fi.Exists:
		return "absent"
	case fi.IsSymlink():
		return "link"
	case fi.IsDir():
		return "directory"
	case fi.Nlink > 1:
		return "hard"
	}
	return "file"
}

// pid is this process id, in backup and temporary names as Ansible's.
var pid = os.Getpid()

func sha1hex(data []byte) string {
	s := sha1.Sum(data)
	return hex.EncodeToString(s[:])
}

func md5hex(data []byte) string {
	s := md5.Sum(data)
	return hex.EncodeToString(s[:])
}

// backupLocal copies p next to itself as Ansible's backup_local does
// (PATH.PID.YYYY-MM-DD@HH:MM:SS~), keeping mode, owner and times.
func backupLocal(ctx context.Context, h host.Host, p string) (string, error) {
	fi, err := host.StatFollow(ctx, h, p)
	if err != nil || !fi.Exists {
		return "", err
	}
	data, err := h.ReadFile(ctx, p)
	if err != nil {
		return "", fmt.Errorf("backup %s: %w", p, err)
	}
	name := fmt.Sprintf("%s.%d.%s", p, pid, time.Now().Format("2006-01-02@15:04:05~"))
	if err := h.WriteFile(ctx, name, data, host.WriteOptions{Mode: fi.Perm(), UID: fi.UID, GID: fi.GID}); err != nil {
		return "", fmt.Errorf("backup %s: %w", p, err)
	}
	if err := h.Chtimes(ctx, name, fi.ModTime, fi.ModTime); err != nil {
		return "", fmt.Errorf("backup %s: %w", p, err)
	}
	return name, nil
}

// stateBackup hands p to the engine's backup store before a change.
func stateBackup(ctx context.Context, t *module.Task, p string) error {
	if t.Backup == nil || t.Check {
		return nil
	}
	if err := t.Backup(ctx, p); err != nil {
		return fmt.Errorf("back up %s before changing it: %w", p, err)
	}
	return nil
}

// mkdirAll creates p and its missing parents with mode (as os.makedirs).
func mkdirAll(ctx context.Context, h host.Host, p string, mode fs.FileMode) ([]string, error) {
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	if fi.Exists {
		if t, err := host.StatFollow(ctx, h, p); err == nil && t.IsDir() {
			return nil, nil
		}
		return nil, fmt.Errorf("%s exists and is not a directory", p)
	}
	created, err := mkdirAll(ctx, h, path.Dir(p), mode)
	if err != nil {
		return nil, err
	}
	if err := h.Mkdir(ctx, p, mode); err != nil {
		return nil, err
	}
	return append(created, p), nil
}

// textDiff is the content diff of lineinfile, blockinfile and replace.
func textDiff(before, after, header string) module.Diff {
	return module.Diff{BeforeHeader: header, AfterHeader: header, Before: before, After: after}
}

// resource builds the drift resource of a file.
func resource(p string, differs []string) []module.Resource {
	return []module.Resource{{Kind: "file", ID: p, Differs: differs}}
}

// readLocal reads a controller-side file.
func readLocal(t *module.Task, p string) ([]byte, error) {
	if t.ReadLocal != nil {
		return t.ReadLocal(p)
	}
	return os.ReadFile(p)
}
