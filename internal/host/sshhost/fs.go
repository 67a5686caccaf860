package sshhost

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"

	"github.com/tend-project/tend/internal/host"
)

// findFormat prints one entry as "type perm size mtime uid gid inode dev
// nlink" NUL name NUL linktarget NUL (GNU find's -printf).
const findFormat = `'%y %m %s %T@ %U %G %i %D %n %A@ %C@\0%f\0%l\0'`

// word quotes an absolute path so that no command takes it for an option.
func word(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "./" + p
	}
	return quote(p)
}

func isMissing(out string) bool {
	return strings.Contains(out, "No such file or directory") || strings.Contains(out, "Not a directory")
}

// Stat is lstat(2), through the host's shell (SFTP lacks inode and link count).
func (h *Host) Stat(ctx context.Context, p string) (host.FileInfo, error) {
	return h.stat(p, false)
}

func (h *Host) stat(p string, follow bool) (host.FileInfo, error) {
	opt := "-P"
	if follow {
		opt = "-L"
	}
	out, err := h.shellRun("stat "+p, "find "+opt+" "+word(p)+" -maxdepth 0 -printf "+findFormat)
	if err != nil {
		var se *shellError
		if errors.As(err, &se) && isMissing(se.Output) {
			return host.FileInfo{Path: p}, nil
		}
		return host.FileInfo{Path: p}, err
	}
	list, err := parseFind(path.Dir(p), out)
	if err != nil || len(list) != 1 {
		return host.FileInfo{Path: p}, h.wrap("stat "+p, fmt.Errorf("unexpected output of find: %q (%v)", out, err))
	}
	list[0].Path = p
	return list[0], nil
}

// parseFind parses findFormat output for entries under dir.
func parseFind(dir, out string) ([]host.FileInfo, error) {
	parts := strings.Split(out, "\x00")
	if len(parts)%3 != 1 || parts[len(parts)-1] != "" {
		return nil, fmt.Errorf("truncated entry")
	}
	var list []host.FileInfo
	for i := 0; i+2 < len(parts); i += 3 {
		f := strings.Fields(parts[i])
		if len(f) != 11 {
			return nil, fmt.Errorf("bad entry %q", parts[i])
		}
		perm, err1 := strconv.ParseUint(f[1], 8, 32)
		size, err2 := strconv.ParseInt(f[2], 10, 64)
		uid, err3 := strconv.Atoi(f[4])
		gid, err4 := strconv.Atoi(f[5])
		ino, err5 := strconv.ParseUint(f[6], 10, 64)
		dev, err6 := strconv.ParseUint(f[7], 10, 64)
		nlink, err7 := strconv.ParseUint(f[8], 10, 64)
		mtime, err8 := parseTime(f[3])
		atime, err9 := parseTime(f[9])
		ctime, err10 := parseTime(f[10])
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10); err != nil {
			return nil, fmt.Errorf("bad entry %q: %w", parts[i], err)
		}
		fi := host.FileInfo{
			Path: path.Join(dir, parts[i+1]), Exists: true, Mode: fileMode(f[0], perm), Size: size, ModTime: mtime,
			ATime: atime, CTime: ctime, UID: uid, GID: gid, Inode: ino, Dev: dev, Nlink: nlink,
		}
		if fi.Mode&fs.ModeSymlink != 0 {
			fi.LinkTarget = parts[i+2]
		}
		list = append(list, fi)
	}
	return list, nil
}

// parseTime parses find's %T@ ("1700000000.1234567890").
func parseTime(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, ns), nil
}

func fileMode(typ string, perm uint64) fs.FileMode {
	m := fs.FileMode(perm & 0777)
	if perm&04000 != 0 {
		m |= fs.ModeSetuid
	}
	if perm&02000 != 0 {
		m |= fs.ModeSetgid
	}
	if perm&01000 != 0 {
		m |= fs.ModeSticky
	}
	switch typ {
	case "d":
		m |= fs.ModeDir
	case "l":
		m |= fs.ModeSymlink
	case "p":
		m |= fs.ModeNamedPipe
	case "s":
		m |= fs.ModeSocket
	case "c":
		m |= fs.ModeDevice | fs.ModeCharDevice
	case "b":
		m |= fs.ModeDevice
	}
	return m
}

// ReadFile reads a whole file: over SFTP, or with `sudo cat` under become.
func (h *Host) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if h.cfg.Become {
		res, err := h.Run(ctx, host.Command{Argv: []string{"cat", "--", p}})
		if err != nil {
			return nil, err
		}
		if res.RC != 0 {
			msg := strings.TrimSpace(string(res.Stderr))
			if isMissing(msg) {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			}
			return nil, &Error{Host: h.cfg.Name, Op: "read " + p, Err: errors.New(msg)}
		}
		return res.Stdout, nil
	}
	f, err := h.sftp.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return nil, h.wrap("read "+p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, h.wrap("read "+p, err)
	}
	return data, nil
}

// ReadDir lists a directory, sorted by name, each entry lstat'ed.
func (h *Host) ReadDir(ctx context.Context, p string) ([]host.FileInfo, error) {
	out, err := h.shellRun("list "+p, "find -P "+word(p)+" -mindepth 1 -maxdepth 1 -printf "+findFormat)
	if err != nil {
		var se *shellError
		if errors.As(err, &se) && isMissing(se.Output) {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return nil, h.wrap("list "+p, err)
	}
	list, err := parseFind(p, out)
	if err != nil {
		return nil, h.wrap("list "+p, err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	return list, nil
}

// tempName is the temporary file of an atomic write of p, named as
// host.Local names its own (host.TempPrefix + digits), so that either
// sweeps the other's leftovers.
func tempName(p string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return path.Join(path.Dir(p), host.TempPrefix(p)+strconv.FormatUint(binary.BigEndian.Uint64(b), 10))
}

// sweepTemps removes what writes of p cut short (a dropped connection, a
// killed tend) left next to it: they cannot clean up after themselves.
func (h *Host) sweepTemps(p string) {
	entries, err := h.sftp.ReadDir(path.Dir(p))
	if err != nil {
		return
	}
	prefix := host.TempPrefix(p)
	for _, e := range entries {
		if host.IsTemp(e.Name(), prefix) {
			_ = h.sftp.Remove(path.Join(path.Dir(p), e.Name()))
		}
	}
}

func randomName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// WriteFile replaces p atomically: the content goes to a temporary file in
// p's directory, which is fsync'ed, gets its mode and owner, is validated,
// and is renamed over p (posix-rename@openssh.com), all over SFTP. Under
// become the content is staged over SFTP and the privileged shell copies it
// to the temporary file and renames it. A dropped connection leaves p as
// it was.
func (h *Host) WriteFile(ctx context.Context, p string, data []byte, opts host.WriteOptions) (err error) {
	if h.cfg.Become {
		return h.writeBecome(ctx, p, data, opts)
	}
	op := "write " + p
	mode, uid, gid := opts.Mode&07777, opts.UID, opts.GID
	if fi, serr := h.sftp.Stat(p); serr == nil && fi.Mode().IsRegular() {
		st := fi.Sys().(*sftp.FileStat)
		if opts.Mode == 0 {
			mode = fs.FileMode(st.Mode & 07777)
		}
		if uid == -1 {
			uid = int(st.UID)
		}
		if gid == -1 {
			gid = int(st.GID)
		}
	} else {
		if serr != nil && h.lost(serr) {
			return h.wrap(op, serr)
		}
		if opts.Mode == 0 {
			mode = 0644
		}
	}
	h.sweepTemps(p)
	tmp := tempName(p)
	f, err := h.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return h.wrap(op, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = h.sftp.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return h.wrap(op, err)
	}
	if h.fsync {
		if err = f.Sync(); err != nil {
			return h.wrap(op, err)
		}
	}
	if uid != -1 || gid != -1 {
		if uid == -1 || gid == -1 {
			fi, serr := f.Stat()
			if serr != nil {
				return h.wrap(op, serr)
			}
			st := fi.Sys().(*sftp.FileStat)
			if uid == -1 {
				uid = int(st.UID)
			}
			if gid == -1 {
				gid = int(st.GID)
			}
		}
		if err = f.Chown(uid, gid); err != nil {
			// Keeping the old owner is best effort for an unprivileged
			// writer, as Local; an asked-for owner is not.
			if h.lost(err) || opts.UID != -1 || opts.GID != -1 {
				return h.wrap(fmt.Sprintf("chown %s to %d:%d", p, uid, gid), err)
			}
		}
	}
	if err = f.Chmod(mode); err != nil { // after chown, which may clear setuid
		return h.wrap(op, err)
	}
	if err = f.Close(); err != nil {
		return h.wrap(op, err)
	}
	if opts.Validate != "" {
		if err = h.validate(ctx, opts.Validate, tmp); err != nil {
			return err
		}
	}
	if err = h.sftp.PosixRename(tmp, p); err != nil {
		return h.wrap(op, err)
	}
	return nil
}

// writeBecome is WriteFile under become: stage over SFTP, then copy, chown,
// chmod, validate and rename through the privileged shell.
func (h *Host) writeBecome(ctx context.Context, p string, data []byte, opts host.WriteOptions) (err error) {
	op := "write " + p
	mode, uid, gid := opts.Mode&07777, opts.UID, opts.GID
	old, err := h.stat(p, true)
	if err != nil {
		return err
	}
	if old.IsRegular() {
		if opts.Mode == 0 {
			mode = old.Perm()
		}
		if uid == -1 {
			uid = old.UID
		}
		if gid == -1 {
			gid = old.GID
		}
	} else if opts.Mode == 0 {
		mode = 0644
	}
	tmp := tempName(p)
	stage, err := h.stage(data)
	if err != nil {
		return err
	}
	steps := []string{
		// leftovers of writes cut short (see sweepTemps)
		"rm -f -- " + word(path.Join(path.Dir(p), host.TempPrefix(p))) + "[0-9]*",
		"(umask 077; set -C; cat -- " + quote(stage) + " > " + word(tmp) + "); rc=$?; rm -f -- " + quote(stage) + "; [ $rc = 0 ]",
		"sync -- " + word(tmp),
	}
	defer func() {
		if err != nil {
			_, _ = h.shellRun(op, "rm -f -- "+word(tmp))
		}
	}()
	if uid != -1 || gid != -1 {
		chown := "chown " + owner(uid, gid) + " -- " + word(tmp)
		if opts.UID == -1 && opts.GID == -1 {
			chown += " 2>/dev/null || true" // keeping the old owner is best effort, as Local
		}
		steps = append(steps, chown)
	}
	steps = append(steps, fmt.Sprintf("chmod %05o -- %s", mode, word(tmp)))
	if opts.Validate != "" {
		if _, err = h.shellRun(op, strings.Join(steps, " && ")); err != nil {
			return h.wrap(op, err)
		}
		if err = h.validate(ctx, opts.Validate, tmp); err != nil {
			return err
		}
		steps = nil
	}
	steps = append(steps, "mv -fT -- "+word(tmp)+" "+word(p))
	if _, err = h.shellRun(op, strings.Join(steps, " && ")); err != nil {
		return h.wrap(op, err)
	}
	return nil
}

func owner(uid, gid int) string {
	switch {
	case uid == -1:
		return ":" + strconv.Itoa(gid)
	case gid == -1:
		return strconv.Itoa(uid)
	}
	return strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
}

// sftpWrite creates tmp (which must not exist) with data, fsync'ed when
// the server supports fsync@openssh.com.
func (h *Host) sftpWrite(tmp string, data []byte) error {
	op := "write " + tmp
	f, err := h.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return h.wrap(op, err)
	}
	_, werr := f.Write(data)
	if werr == nil && h.fsync {
		werr = f.Sync()
	}
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = h.sftp.Remove(tmp)
		return h.wrap(op, err)
	}
	return nil
}

// stage uploads data into the login user's private staging directory and
// returns the file's path (become: the privileged shell copies it).
func (h *Host) stage(data []byte) (string, error) {
	h.stageMu.Lock()
	if h.stageDir == "" {
		dir := randomName("/tmp/.tend-stage-")
		if err := h.sftp.Mkdir(dir); err != nil {
			h.stageMu.Unlock()
			return "", h.wrap("create staging directory "+dir, err)
		}
		h.stageDir = dir
	}
	dir := h.stageDir
	h.stageMu.Unlock()
	mode := os.FileMode(0700)
	if h.cfg.BecomeUser != "root" {
		mode = 0711 // an unprivileged become user must reach the file
	}
	if err := h.sftp.Chmod(dir, mode); err != nil {
		return "", h.wrap("chmod staging directory "+dir, err)
	}
	p := path.Join(dir, randomName("f-"))
	if err := h.sftpWrite(p, data); err != nil {
		return "", err
	}
	if h.cfg.BecomeUser != "root" {
		if err := h.sftp.Chmod(p, 0644); err != nil {
			return "", h.wrap("chmod "+p, err)
		}
	}
	return p, nil
}

// validate runs a validate command ("%s" is the temporary file) as the
// become user when become is on.
func (h *Host) validate(ctx context.Context, validate, tmp string) error {
	argv, err := host.ValidateArgv(validate, tmp)
	if err != nil {
		return err
	}
	res, err := h.Run(ctx, host.Command{Argv: argv})
	if err != nil {
		return fmt.Errorf("validate %q: %w", validate, err)
	}
	if res.RC != 0 {
		return &host.ValidateError{Command: validate, RC: res.RC, Stdout: string(res.Stdout), Stderr: string(res.Stderr)}
	}
	return nil
}

// pathOp runs a shell snippet that changes a path and maps "missing" to
// fs.ErrNotExist.
func (h *Host) pathOp(op, p, snippet string) error {
	_, err := h.shellRun(op+" "+p, snippet)
	var se *shellError
	if errors.As(err, &se) {
		if isMissing(se.Output) {
			return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
		}
		if strings.Contains(se.Output, "File exists") {
			return &fs.PathError{Op: op, Path: p, Err: fs.ErrExist}
		}
		return &fs.PathError{Op: op, Path: p, Err: errors.New(strings.TrimSpace(se.Output))}
	}
	return err
}

// Mkdir creates one directory with exactly mode (the umask does not apply).
func (h *Host) Mkdir(ctx context.Context, p string, mode fs.FileMode) error {
	return h.pathOp("mkdir", p, fmt.Sprintf("mkdir -m %04o -- %s", mode&07777, word(p)))
}

// Remove removes a file, symlink or empty directory.
func (h *Host) Remove(ctx context.Context, p string) error {
	return h.pathOp("remove", p, "rm -d -- "+word(p))
}

// RemoveAll removes p and everything under it; a missing p is fine.
func (h *Host) RemoveAll(ctx context.Context, p string) error {
	if path.Clean(p) == "/" {
		return fmt.Errorf("refusing to remove /")
	}
	return h.pathOp("remove", p, "rm -rf -- "+word(p))
}

// Rename renames from to to, replacing to (rename(2)).
func (h *Host) Rename(ctx context.Context, from, to string) error {
	return h.pathOp("rename", from, "mv -fT -- "+word(from)+" "+word(to))
}

// Symlink creates p pointing to target; it fails if p exists.
func (h *Host) Symlink(ctx context.Context, target, p string) error {
	return h.pathOp("symlink", p, "ln -sT -- "+quote(target)+" "+word(p))
}

// Link creates the hard link p to target; it fails if p exists.
func (h *Host) Link(ctx context.Context, target, p string) error {
	return h.pathOp("link", p, "ln -PT -- "+word(target)+" "+word(p))
}

// Chmod sets Unix permission bits (07777), following symlinks.
func (h *Host) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	return h.pathOp("chmod", p, fmt.Sprintf("chmod %05o -- %s", mode&07777, word(p)))
}

// Lchown changes the owner of p itself; -1 keeps.
func (h *Host) Lchown(ctx context.Context, p string, uid, gid int) error {
	if uid == -1 && gid == -1 {
		return nil
	}
	return h.pathOp("chown", p, "chown -h "+owner(uid, gid)+" -- "+word(p))
}

// Chtimes sets access and modification times, following symlinks; a zero
// time leaves that time unchanged.
func (h *Host) Chtimes(ctx context.Context, p string, atime, mtime time.Time) error {
	stamp := func(t time.Time) string { return fmt.Sprintf("@%d.%09d", t.Unix(), t.Nanosecond()) }
	var cmds []string
	switch {
	case !atime.IsZero() && !mtime.IsZero() && atime.Equal(mtime):
		cmds = append(cmds, "touch -c -d "+stamp(mtime)+" -- "+word(p))
	default:
		if !atime.IsZero() {
			cmds = append(cmds, "touch -c -a -d "+stamp(atime)+" -- "+word(p))
		}
		if !mtime.IsZero() {
			cmds = append(cmds, "touch -c -m -d "+stamp(mtime)+" -- "+word(p))
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	return h.pathOp("chtimes", p, "[ -e "+word(p)+" ] || { echo 'No such file or directory'; false; } && "+strings.Join(cmds, " && "))
}
