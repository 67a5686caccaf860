package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// ErrNoCommands is returned by Run on a host that does not run commands
// (a Rooted host: a command could touch the real system).
var ErrNoCommands = errors.New("commands are not run on this host")

// rooted maps every absolute path into a directory, as node_exporter's
// --path.rootfs does.
type rooted struct {
	h        Host
	root     string
	accounts *accounts
}

// Rooted returns h with every absolute path mapped under root (tend --root
// DIR), so that a whole run can work on a temporary tree. Paths that climb
// out with ".." are refused, and symlinks are resolved inside root, as in a
// chroot; a symlink's own target is stored as given. Run is refused with
// ErrNoCommands. Users and groups come from root/etc/passwd and
// root/etc/group when they exist, else from h.
func Rooted(h Host, root string) Host {
	r := &rooted{h: h, root: path.Clean(root)}
	r.accounts = newAccounts(hostFiles{h}, path.Join(r.root, "etc/passwd"), path.Join(r.root, "etc/group"), hostFallback{h})
	return r
}

// clean checks that p is absolute and stays inside the root.
func (r *rooted) clean(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q is not absolute", p)
	}
	depth := 0
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("path %q escapes the root %s", p, r.root)
			}
		default:
			depth++
		}
	}
	return path.Clean(p), nil
}

// real maps p to the host path, resolving every symlink inside the root.
func (r *rooted) real(p string) (string, error) {
	c, err := r.clean(p)
	if err != nil {
		return "", err
	}
	return securejoin.SecureJoinVFS(r.root, c, hostVFS{r.h})
}

// realLink maps p without following a symlink in its last component.
func (r *rooted) realLink(p string) (string, error) {
	c, err := r.clean(p)
	if err != nil {
		return "", err
	}
	if c == "/" {
		return r.root, nil
	}
	dir, err := securejoin.SecureJoinVFS(r.root, path.Dir(c), hostVFS{r.h})
	if err != nil {
		return "", err
	}
	return path.Join(dir, path.Base(c)), nil
}

func (r *rooted) Name() string { return r.h.Name() }
func (r *rooted) Local() bool  { return r.h.Local() }

func (r *rooted) Stat(ctx context.Context, p string) (FileInfo, error) {
	rp, err := r.realLink(p)
	if err != nil {
		return FileInfo{Path: p}, err
	}
	fi, err := r.h.Stat(ctx, rp)
	fi.Path = p
	return fi, err
}

func (r *rooted) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rp, err := r.real(p)
	if err != nil {
		return nil, err
	}
	return r.h.ReadFile(ctx, rp)
}

func (r *rooted) ReadDir(ctx context.Context, p string) ([]FileInfo, error) {
	rp, err := r.real(p)
	if err != nil {
		return nil, err
	}
	list, err := r.h.ReadDir(ctx, rp)
	for i := range list {
		list[i].Path = path.Join(p, path.Base(list[i].Path))
	}
	return list, err
}

func (r *rooted) WriteFile(ctx context.Context, p string, data []byte, opts WriteOptions) error {
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	return r.h.WriteFile(ctx, rp, data, opts)
}

func (r *rooted) Mkdir(ctx context.Context, p string, mode fs.FileMode) error {
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	return r.h.Mkdir(ctx, rp, mode)
}

func (r *rooted) Remove(ctx context.Context, p string) error {
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	return r.h.Remove(ctx, rp)
}

func (r *rooted) RemoveAll(ctx context.Context, p string) error {
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	if rp == r.root {
		return fmt.Errorf("remove %s: refusing to remove the root of --root", p)
	}
	return r.h.RemoveAll(ctx, rp)
}

func (r *rooted) Rename(ctx context.Context, from, to string) error {
	rf, err := r.realLink(from)
	if err != nil {
		return err
	}
	rt, err := r.realLink(to)
	if err != nil {
		return err
	}
	return r.h.Rename(ctx, rf, rt)
}

func (r *rooted) Symlink(ctx context.Context, target, p string) error {
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	return r.h.Symlink(ctx, target, rp)
}

func (r *rooted) Link(ctx context.Context, target, p string) error {
	if !strings.HasPrefix(target, "/") {
		target = path.Join(path.Dir(p), target)
	}
	rt, err := r.realLink(target)
	if err != nil {
		return err
	}
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	return r.h.Link(ctx, rt, rp)
}

func (r *rooted) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	rp, err := r.real(p)
	if err != nil {
		return err
	}
	return r.h.Chmod(ctx, rp, mode)
}

func (r *rooted) Lchown(ctx context.Context, p string, uid, gid int) error {
	rp, err := r.realLink(p)
	if err != nil {
		return err
	}
	return r.h.Lchown(ctx, rp, uid, gid)
}

func (r *rooted) Chtimes(ctx context.Context, p string, atime, mtime time.Time) error {
	rp, err := r.real(p)
	if err != nil {
		return err
	}
	return r.h.Chtimes(ctx, rp, atime, mtime)
}

func (r *rooted) Run(ctx context.Context, cmd Command) (CommandResult, error) {
	return CommandResult{}, fmt.Errorf("commands are not run under --root %s: %w", r.root, ErrNoCommands)
}

func (r *rooted) LookupUser(ctx context.Context, name string) (int, error) {
	return r.accounts.lookupUser(ctx, name)
}
func (r *rooted) LookupGroup(ctx context.Context, name string) (int, error) {
	return r.accounts.lookupGroup(ctx, name)
}
func (r *rooted) UserName(ctx context.Context, uid int) string {
	return r.accounts.userName(ctx, uid)
}
func (r *rooted) GroupName(ctx context.Context, gid int) string {
	return r.accounts.groupName(ctx, gid)
}

// hostFiles reads account files through a Host.
type hostFiles struct{ h Host }

func (f hostFiles) stat(ctx context.Context, p string) (FileInfo, error) { return f.h.Stat(ctx, p) }
func (f hostFiles) read(ctx context.Context, p string) ([]byte, error) {
	return f.h.ReadFile(ctx, p)
}

// hostFallback asks a Host's own account lookups.
type hostFallback struct{ h Host }

func (f hostFallback) lookupUser(name string) (int, bool) {
	id, err := f.h.LookupUser(context.Background(), name)
	return id, err == nil
}
func (f hostFallback) lookupGroup(name string) (int, bool) {
	id, err := f.h.LookupGroup(context.Background(), name)
	return id, err == nil
}
func (f hostFallback) userName(uid int) (string, bool) {
	n := f.h.UserName(context.Background(), uid)
	return n, n != ""
}
func (f hostFallback) groupName(gid int) (string, bool) {
	n := f.h.GroupName(context.Background(), gid)
	return n, n != ""
}

// hostVFS lets securejoin walk a Host's filesystem.
type hostVFS struct{ h Host }

func (v hostVFS) Lstat(name string) (fs.FileInfo, error) {
	fi, err := v.h.Stat(context.Background(), name)
	if err != nil {
		return nil, err
	}
	if !fi.Exists {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return statInfo{fi}, nil
}

func (v hostVFS) Readlink(name string) (string, error) {
	fi, err := v.h.Stat(context.Background(), name)
	if err != nil {
		return "", err
	}
	if !fi.IsSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symlink")}
	}
	return fi.LinkTarget, nil
}

// statInfo adapts FileInfo to fs.FileInfo.
type statInfo struct{ fi FileInfo }

func (s statInfo) Name() string       { return path.Base(s.fi.Path) }
func (s statInfo) Size() int64        { return s.fi.Size }
func (s statInfo) Mode() fs.FileMode  { return s.fi.Mode }
func (s statInfo) ModTime() time.Time { return s.fi.ModTime }
func (s statInfo) IsDir() bool        { return s.fi.Mode.IsDir() }
func (s statInfo) Sys() any           { return nil }
