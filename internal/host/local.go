package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Local is the machine tend runs on.
type Local struct {
	name     string
	accounts *accounts
}

var _ Host = (*Local)(nil)

// NewLocal returns the local machine as a Host named "localhost".
func NewLocal() *Local {
	l := &Local{name: "localhost"}
	l.accounts = newAccounts(localFiles{}, "/etc/passwd", "/etc/group", osUserFallback{})
	l.accounts.fallbackAlways = true
	return l
}

// Name returns "localhost".
func (l *Local) Name() string { return l.name }

// Local reports true.
func (l *Local) Local() bool { return true }

// Stat is lstat(2). A missing path (or a path under a non-directory) gives
// Exists false and no error.
func (l *Local) Stat(ctx context.Context, path string) (FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if isNotExist(err) {
			return FileInfo{Path: path}, nil
		}
		return FileInfo{Path: path}, err
	}
	return fileInfo(path, fi)
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func fileInfo(path string, fi fs.FileInfo) (FileInfo, error) {
	info := FileInfo{
		Path:    path,
		Exists:  true,
		Mode:    fi.Mode(),
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.UID, info.GID = int(st.Uid), int(st.Gid)
		info.Inode, info.Dev, info.Nlink = st.Ino, uint64(st.Dev), uint64(st.Nlink)
		info.ATime, info.CTime = time.Unix(st.Atim.Unix()), time.Unix(st.Ctim.Unix())
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		t, err := os.Readlink(path)
		if err != nil {
			return info, err
		}
		info.LinkTarget = t
	}
	return info, nil
}

// ReadFile reads a whole file.
func (l *Local) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return os.ReadFile(path)
}

// ReadDir lists a directory, sorted by name, each entry lstat'ed.
func (l *Local) ReadDir(ctx context.Context, path string) ([]FileInfo, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := l.Stat(ctx, filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		if fi.Exists { // removed meanwhile otherwise
			out = append(out, fi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// WriteFile replaces path atomically: a temporary file in the same directory
// is written, synced, given its mode and owner, validated, renamed over path,
// and the directory synced.
func (l *Local) WriteFile(ctx context.Context, path string, data []byte, opts WriteOptions) (err error) {
	dir := filepath.Dir(path)
	mode, uid, gid := opts.Mode&07777, opts.UID, opts.GID
	old, statErr := os.Stat(path)
	if statErr == nil && old.Mode().IsRegular() {
		st := old.Sys().(*syscall.Stat_t)
		if opts.Mode == 0 {
			mode = UnixPerm(old.Mode())
		}
		if uid == -1 {
			uid = int(st.Uid)
		}
		if gid == -1 {
			gid = int(st.Gid)
		}
	} else if opts.Mode == 0 {
		mode = 0644
	}
	prefix := TempPrefix(path)
	sweepTemps(dir, prefix)
	tmp, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	fd := int(tmp.Fd())
	if uid != -1 || gid != -1 {
		if err = syscall.Fchown(fd, uid, gid); err != nil {
			// Keeping the old owner is best effort for an unprivileged
			// writer, as Ansible's atomic_move; an asked-for owner is not.
			if !(errors.Is(err, syscall.EPERM) && opts.UID == -1 && opts.GID == -1) {
				return fmt.Errorf("chown %s to %d:%d: %w", path, uid, gid, err)
			}
			err = nil
		}
	}
	// After chown, which may clear setuid bits.
	if err = syscall.Fchmod(fd, uint32(mode)); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if opts.Validate != "" {
		if err = l.validate(ctx, opts.Validate, tmpName); err != nil {
			return err
		}
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// validate runs a validate command ("%s" is the temporary file) and returns
// an error with its output when it fails.
func (l *Local) validate(ctx context.Context, validate, tmp string) error {
	argv, err := ValidateArgv(validate, tmp)
	if err != nil {
		return err
	}
	res, err := l.Run(ctx, Command{Argv: argv})
	if err != nil {
		return fmt.Errorf("validate %q: %w", validate, err)
	}
	if res.RC != 0 {
		return &ValidateError{Command: validate, RC: res.RC, Stdout: string(res.Stdout), Stderr: string(res.Stderr)}
	}
	return nil
}

// ValidateError is a validate command that rejected the new content.
type ValidateError struct {
	Command        string
	RC             int
	Stdout, Stderr string
}

func (e *ValidateError) Error() string {
	return fmt.Sprintf("failed to validate: rc:%d error:%s", e.RC, strings.TrimRight(e.Stderr+e.Stdout, "\n"))
}

// ValidateArgv splits a validate command the way Ansible's run_command does
// (shell-like quoting, no shell) with "%s" replaced by path.
func ValidateArgv(validate, path string) ([]string, error) {
	if !strings.Contains(validate, "%s") {
		return nil, fmt.Errorf("validate must contain %%s: %s", validate)
	}
	words, err := SplitShell(validate)
	if err != nil {
		return nil, fmt.Errorf("validate %q: %w", validate, err)
	}
	for i, w := range words {
		words[i] = strings.ReplaceAll(w, "%s", path)
	}
	return words, nil
}

// SplitShell splits s into words as Python's shlex.split does: whitespace
// separates, single and double quotes group, backslash escapes.
func SplitShell(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("no closing quotation")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("no closing quotation")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("no escaped character")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Mkdir creates one directory with exactly mode (the umask does not apply).
func (l *Local) Mkdir(ctx context.Context, path string, mode fs.FileMode) error {
	if err := os.Mkdir(path, 0700); err != nil {
		return err
	}
	return l.Chmod(ctx, path, mode)
}

// Remove removes a file, symlink or empty directory.
func (l *Local) Remove(ctx context.Context, path string) error { return os.Remove(path) }

// RemoveAll removes path and everything under it.
func (l *Local) RemoveAll(ctx context.Context, path string) error { return os.RemoveAll(path) }

// Rename renames from to to.
func (l *Local) Rename(ctx context.Context, from, to string) error { return os.Rename(from, to) }

// Symlink creates path pointing to target.
func (l *Local) Symlink(ctx context.Context, target, path string) error {
	return os.Symlink(target, path)
}

// Link creates the hard link path to target.
func (l *Local) Link(ctx context.Context, target, path string) error { return os.Link(target, path) }

// Chmod sets Unix permission bits (07777), following symlinks.
func (l *Local) Chmod(ctx context.Context, path string, mode fs.FileMode) error {
	if err := syscall.Chmod(path, uint32(mode&07777)); err != nil {
		return &fs.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// Lchown changes the owner of path itself; -1 keeps.
func (l *Local) Lchown(ctx context.Context, path string, uid, gid int) error {
	return os.Lchown(path, uid, gid)
}

// Chtimes sets access and modification times, following symlinks; a zero
// time.Time leaves that time unchanged (UTIME_OMIT).
func (l *Local) Chtimes(ctx context.Context, path string, atime, mtime time.Time) error {
	return os.Chtimes(path, atime, mtime)
}

// Run runs a command. A non-zero exit is reported in RC, not as an error;
// the error is for a command that could not be started.
func (l *Local) Run(ctx context.Context, c Command) (CommandResult, error) {
	argv := c.Argv
	if len(argv) == 0 {
		if c.Shell == "" {
			return CommandResult{}, fmt.Errorf("run: no command given")
		}
		sh := c.Executable
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh, "-c", c.Shell}
	}
	var envs []string // K=V, sorted
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		envs = append(envs, k+"="+c.Env[k])
	}
	var procEnv []string
	if c.BecomeUser != "" && c.BecomeUser != currentUser() {
		sudo, err := exec.LookPath("sudo")
		if err != nil {
			return CommandResult{}, fmt.Errorf("become %s: sudo is not installed: %w", c.BecomeUser, err)
		}
		pre := []string{sudo, "-n", "-H", "-u", c.BecomeUser, "--"}
		if len(envs) > 0 {
			// sudo resets the environment: env(1) sets it on the far side
			pre = append(append(pre, "env"), envs...)
		}
		argv = append(pre, argv...)
	} else if len(envs) > 0 {
		procEnv = append(os.Environ(), envs...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = procEnv
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := CommandResult{Start: time.Now()}
	err := cmd.Run()
	res.End = time.Now()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		res.RC = exit.ExitCode()
		if res.RC < 0 { // killed by a signal: the shell convention
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				res.RC = -int(ws.Signal())
			}
		}
	default:
		res.RC = -1
		if ctx.Err() != nil {
			return res, fmt.Errorf("run %s: %w", argv[0], ctx.Err())
		}
		return res, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return res, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// LookupUser resolves a user name (or a numeric id) to a uid.
func (l *Local) LookupUser(ctx context.Context, name string) (int, error) {
	return l.accounts.lookupUser(ctx, name)
}

// LookupGroup resolves a group name (or a numeric id) to a gid.
func (l *Local) LookupGroup(ctx context.Context, name string) (int, error) {
	return l.accounts.lookupGroup(ctx, name)
}

// UserName returns the name of uid, "" when unknown.
func (l *Local) UserName(ctx context.Context, uid int) string { return l.accounts.userName(ctx, uid) }

// GroupName returns the name of gid, "" when unknown.
func (l *Local) GroupName(ctx context.Context, gid int) string {
	return l.accounts.groupName(ctx, gid)
}

// localFiles reads the account databases from this machine.
type localFiles struct{}

func (localFiles) stat(ctx context.Context, path string) (FileInfo, error) {
	return (&Local{}).Stat(ctx, path)
}
func (localFiles) read(ctx context.Context, path string) ([]byte, error) { return os.ReadFile(path) }

// osUserFallback asks os/user (NSS through cgo when built with it) for names
// that the files do not have.
type osUserFallback struct{}

func (osUserFallback) lookupUser(name string) (int, bool) {
	if u, err := user.Lookup(name); err == nil {
		return atoi(u.Uid)
	}
	return 0, false
}

func (osUserFallback) lookupGroup(name string) (int, bool) {
	if g, err := user.LookupGroup(name); err == nil {
		return atoi(g.Gid)
	}
	return 0, false
}

func (osUserFallback) userName(uid int) (string, bool) {
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		return u.Username, true
	}
	return "", false
}

func (osUserFallback) groupName(gid int) (string, bool) {
	if g, err := user.LookupGroupId(fmt.Sprint(gid)); err == nil {
		return g.Name, true
	}
	return "", false
}

// TempPrefix names the temporary files of an atomic write of path after the
// file, so that a crash leftover says what it was for; the write appends
// decimal digits (IsTemp).
func TempPrefix(path string) string {
	base := filepath.Base(path)
	if len(base) > 100 {
		base = base[:100]
	}
	return ".tend-tmp-" + base + "-"
}

// IsTemp reports whether the directory entry name is a temporary file of an
// atomic write whose names start with prefix (TempPrefix).
func IsTemp(name, prefix string) bool {
	return strings.HasPrefix(name, prefix) && len(name) > len(prefix) && strings.Trim(name[len(prefix):], "0123456789") == ""
}

// sweepTemps removes temporaries of earlier writes of the same file that a
// crash (kill -9, power loss) left behind. Only one tend run writes at a
// time (the run lock), so none of them is in use.
func sweepTemps(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if IsTemp(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
