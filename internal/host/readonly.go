package host

import (
	"context"
	"fmt"
	"io/fs"
	"time"
)

// readOnly forwards reads and refuses every change.
type readOnly struct{ h Host }

// ReadOnly wraps h so that every mutating call — including Run, since a
// command may change anything — fails with an error wrapping ErrReadOnly.
// Only a Command marked ReadOnly (a query that changes nothing) is run.
// The engine hands it to modules in check mode and drift checks.
func ReadOnly(h Host) Host { return readOnly{h} }

func refuse(op, path string) error { return fmt.Errorf("%s %s: %w", op, path, ErrReadOnly) }

func (r readOnly) Name() string { return r.h.Name() }
func (r readOnly) Local() bool  { return r.h.Local() }
func (r readOnly) Stat(ctx context.Context, path string) (FileInfo, error) {
	return r.h.Stat(ctx, path)
}
func (r readOnly) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return r.h.ReadFile(ctx, path)
}
func (r readOnly) ReadDir(ctx context.Context, path string) ([]FileInfo, error) {
	return r.h.ReadDir(ctx, path)
}
func (r readOnly) WriteFile(ctx context.Context, path string, data []byte, opts WriteOptions) error {
	return refuse("write", path)
}
func (r readOnly) Mkdir(ctx context.Context, path string, mode fs.FileMode) error {
	return refuse("mkdir", path)
}
func (r readOnly) Remove(ctx context.Context, path string) error { return refuse("remove", path) }
func (r readOnly) RemoveAll(ctx context.Context, path string) error {
	return refuse("remove", path)
}
func (r readOnly) Rename(ctx context.Context, from, to string) error {
	return refuse("rename", from)
}
func (r readOnly) Symlink(ctx context.Context, target, path string) error {
	return refuse("symlink", path)
}
func (r readOnly) Link(ctx context.Context, target, path string) error {
	return refuse("link", path)
}
func (r readOnly) Chmod(ctx context.Context, path string, mode fs.FileMode) error {
	return refuse("chmod", path)
}
func (r readOnly) Lchown(ctx context.Context, path string, uid, gid int) error {
	return refuse("chown", path)
}
func (r readOnly) Chtimes(ctx context.Context, path string, atime, mtime time.Time) error {
	return refuse("chtimes", path)
}
func (r readOnly) Run(ctx context.Context, cmd Command) (CommandResult, error) {
	if cmd.ReadOnly {
		return r.h.Run(ctx, cmd)
	}
	name := cmd.Shell
	if len(cmd.Argv) > 0 {
		name = cmd.Argv[0]
	}
	return CommandResult{}, refuse("run", name)
}
func (r readOnly) LookupUser(ctx context.Context, name string) (int, error) {
	return r.h.LookupUser(ctx, name)
}
func (r readOnly) LookupGroup(ctx context.Context, name string) (int, error) {
	return r.h.LookupGroup(ctx, name)
}
func (r readOnly) UserName(ctx context.Context, uid int) string  { return r.h.UserName(ctx, uid) }
func (r readOnly) GroupName(ctx context.Context, gid int) string { return r.h.GroupName(ctx, gid) }
