// Package host is the one door to a machine: everything a module may do to a
// host — read, write atomically, stat, change owner and mode, run a command —
// goes through the Host interface. Local implements it for the machine tend
// runs on; the ssh package implements it over SSH+SFTP. ReadOnly wraps any
// Host so that check mode and drift checks fail loudly on a write.
package host

import (
	"context"
	"errors"
	"io/fs"
	"time"
)

// ErrReadOnly is returned by every mutating call on a ReadOnly host.
var ErrReadOnly = errors.New("host is read-only (check mode): a module tried to change it")

// FileInfo describes a path as lstat(2) sees it. Exists is false (and the
// error nil) when the path does not exist.
type FileInfo struct {
	Path       string
	Exists     bool
	Mode       fs.FileMode // type bits and permission bits, as os.FileMode
	Size       int64
	ModTime    time.Time
	UID, GID   int
	Inode      uint64
	Dev        uint64
	Nlink      uint64
	LinkTarget string // for symlinks

	// ATime and CTime are the last access and status change times (find's
	// age_stamp and its results).
	ATime, CTime time.Time
}

// Perm returns the Unix permission bits (07777, with setuid/setgid/sticky as
// 04000/02000/01000) of Mode. Chmod and WriteOptions take these bits.
func (f FileInfo) Perm() fs.FileMode { return UnixPerm(f.Mode) }

// UnixPerm converts Go's mode flags to Unix permission bits.
func UnixPerm(m fs.FileMode) fs.FileMode {
	p := m.Perm()
	if m&fs.ModeSetuid != 0 {
		p |= 04000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 02000
	}
	if m&fs.ModeSticky != 0 {
		p |= 01000
	}
	return p
}

// IsDir, IsRegular and IsSymlink are shorthands on Mode.
func (f FileInfo) IsDir() bool     { return f.Exists && f.Mode.IsDir() }
func (f FileInfo) IsRegular() bool { return f.Exists && f.Mode.IsRegular() }
func (f FileInfo) IsSymlink() bool { return f.Exists && f.Mode&fs.ModeSymlink != 0 }

// WriteOptions controls an atomic write. Mode is the Unix permission bits of the new
// file (0 keeps the mode of the file being replaced, or 0644 for a new one).
// UID and GID of -1 keep the current owner (or the writer's for a new file).
type WriteOptions struct {
	Mode     fs.FileMode
	UID, GID int
	// Validate, if set, is run with "%s" replaced by the temporary file's path
	// before the rename; a non-zero exit aborts the write (copy's validate).
	Validate string
}

// Command is a process to run on the host.
type Command struct {
	Argv       []string          // run directly when set
	Shell      string            // run with /bin/sh -c (or Executable) when Argv is empty
	Executable string            // shell to use for Shell
	Dir        string            // working directory
	Env        map[string]string // added to the environment
	Stdin      []byte
	// Become runs the command as another user (sudo); empty means as is.
	BecomeUser string
	// ReadOnly declares that the command only reads the host (dpkg-query,
	// systemctl is-active, getent, crontab -l, sysctl -n): a ReadOnly host
	// lets such commands through, so check mode and drift checks can query
	// state that is not in a file. The module that sets it vouches for it.
	ReadOnly bool
}

// CommandResult is what a finished command returned.
type CommandResult struct {
	RC     int
	Stdout []byte
	Stderr []byte
	Start  time.Time
	End    time.Time
}

// Host is what a module may do to a machine. Paths are absolute paths on that
// machine. Implementations must make WriteFile atomic: the file holds either
// its old or its new content in full at any moment, with mode and owner set
// before it becomes visible.
type Host interface {
	// Name is the inventory name (or "localhost").
	Name() string
	// Local reports whether the host is the machine tend runs on.
	Local() bool

	Stat(ctx context.Context, path string) (FileInfo, error) // lstat
	ReadFile(ctx context.Context, path string) ([]byte, error)
	ReadDir(ctx context.Context, path string) ([]FileInfo, error)
	WriteFile(ctx context.Context, path string, data []byte, opts WriteOptions) error
	Mkdir(ctx context.Context, path string, mode fs.FileMode) error // one level; fails if exists
	Remove(ctx context.Context, path string) error                  // file, symlink or empty dir
	RemoveAll(ctx context.Context, path string) error
	Rename(ctx context.Context, from, to string) error
	Symlink(ctx context.Context, target, path string) error
	Link(ctx context.Context, target, path string) error
	Chmod(ctx context.Context, path string, mode fs.FileMode) error // Unix bits (07777)
	Lchown(ctx context.Context, path string, uid, gid int) error    // -1 keeps
	Chtimes(ctx context.Context, path string, atime, mtime time.Time) error
	Run(ctx context.Context, cmd Command) (CommandResult, error)

	// LookupUser and LookupGroup resolve names to ids on that host (from its
	// passwd/group databases); UserName and GroupName resolve back ("" when
	// unknown).
	LookupUser(ctx context.Context, name string) (uid int, err error)
	LookupGroup(ctx context.Context, name string) (gid int, err error)
	UserName(ctx context.Context, uid int) string
	GroupName(ctx context.Context, gid int) string
}
