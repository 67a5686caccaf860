// Package hosttest is the conformance suite every host.Host implementation
// passes (local, rooted, SSH+SFTP), as restic runs one backend suite over all
// its backends. It uses only the Host API, so it works on remote hosts too.
package hosttest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/host"
)

// Run runs the suite. newHost returns a fresh host and an empty directory on
// it (an absolute path as the host sees it) that the tests may fill.
// Command tests skip on a host whose Run fails with host.ErrNoCommands.
func Run(t *testing.T, newHost func(t *testing.T) (h host.Host, dir string)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h host.Host, dir string)
	}{
		{"StatMissing", testStatMissing},
		{"WriteRead", testWriteRead},
		{"WriteModeOwner", testWriteModeOwner},
		{"WriteKeepsModeOwner", testWriteKeepsModeOwner},
		{"WriteAtomic", testWriteAtomic},
		{"WriteValidate", testWriteValidate},
		{"Symlinks", testSymlinks},
		{"HardLinks", testHardLinks},
		{"Dirs", testDirs},
		{"ChmodChownChtimes", testChmodChownChtimes},
		{"Run", testRun},
		{"Lookup", testLookup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, dir := newHost(t)
			tc.fn(t, h, dir)
		})
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func stat(t *testing.T, h host.Host, p string) host.FileInfo {
	t.Helper()
	fi, err := h.Stat(ctx, p)
	must(t, err)
	return fi
}

func write(t *testing.T, h host.Host, p, data string, mode fs.FileMode) {
	t.Helper()
	must(t, h.WriteFile(ctx, p, []byte(data), host.WriteOptions{Mode: mode, UID: -1, GID: -1}))
}

func testStatMissing(t *testing.T, h host.Host, dir string) {
	for _, p := range []string{path.Join(dir, "missing"), path.Join(dir, "missing/below")} {
		fi, err := h.Stat(ctx, p)
		if err != nil || fi.Exists {
			t.Errorf("Stat(%s) = %+v, %v; want Exists false, no error", p, fi, err)
		}
	}
	write(t, h, path.Join(dir, "file"), "x", 0)
	if fi, err := h.Stat(ctx, path.Join(dir, "file/below")); err != nil || fi.Exists {
		t.Errorf("Stat under a file = %+v, %v; want Exists false, no error", fi, err)
	}
	if _, err := h.ReadFile(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func testWriteRead(t *testing.T, h host.Host, dir string) {
	p := path.Join(dir, "new")
	write(t, h, p, "hello\n", 0)
	got, err := h.ReadFile(ctx, p)
	must(t, err)
	if string(got) != "hello\n" {
		t.Errorf("ReadFile = %q, want %q", got, "hello\n")
	}
	fi := stat(t, h, p)
	if !fi.IsRegular() || fi.Size != 6 || fi.Perm() != 0644 || fi.Path != p {
		t.Errorf("Stat after write = %+v (perm %o), want a 6-byte regular file at %s with mode 0644", fi, fi.Perm(), p)
	}
	if fi.ModTime.IsZero() || fi.ATime.IsZero() || fi.CTime.IsZero() || fi.Inode == 0 || fi.Nlink != 1 {
		t.Errorf("Stat after write lacks mtime/atime/ctime/inode/nlink: %+v", fi)
	}
	write(t, h, p, "", 0)
	if got, _ := h.ReadFile(ctx, p); len(got) != 0 {
		t.Errorf("after writing empty content ReadFile = %q", got)
	}
	if err := h.WriteFile(ctx, path.Join(dir, "nodir/f"), []byte("x"), host.WriteOptions{UID: -1, GID: -1}); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	assertNoTemp(t, h, dir)
}

func assertNoTemp(t *testing.T, h host.Host, dir string) {
	t.Helper()
	list, err := h.ReadDir(ctx, dir)
	must(t, err)
	for _, fi := range list {
		if strings.HasPrefix(path.Base(fi.Path), ".tend-tmp") {
			t.Errorf("temporary file left behind: %s", fi.Path)
		}
	}
}

// otherIDs returns a uid and gid different from the writer's if the host
// lets us chown (root), else the writer's own.
func otherIDs(t *testing.T, h host.Host, dir string) (uid, gid int, own host.FileInfo) {
	p := path.Join(dir, ".owner-probe")
	write(t, h, p, "", 0)
	own = stat(t, h, p)
	must(t, h.Remove(ctx, p))
	if own.UID != 0 {
		return own.UID, own.GID, own
	}
	return 65534, 65534, own
}

func testWriteModeOwner(t *testing.T, h host.Host, dir string) {
	uid, gid, _ := otherIDs(t, h, dir)
	for _, mode := range []fs.FileMode{0600, 0755, 0640, 04755, 01777} {
		p := path.Join(dir, "f")
		must(t, h.WriteFile(ctx, p, []byte("x"), host.WriteOptions{Mode: mode, UID: uid, GID: gid}))
		fi := stat(t, h, p)
		if fi.Perm() != mode || fi.UID != uid || fi.GID != gid {
			t.Errorf("after write with mode %04o owner %d:%d: mode %04o owner %d:%d", mode, uid, gid, fi.Perm(), fi.UID, fi.GID)
		}
	}
}

func testWriteKeepsModeOwner(t *testing.T, h host.Host, dir string) {
	uid, gid, _ := otherIDs(t, h, dir)
	p := path.Join(dir, "f")
	must(t, h.WriteFile(ctx, p, []byte("one"), host.WriteOptions{Mode: 0600, UID: uid, GID: gid}))
	write(t, h, p, "two", 0)
	fi := stat(t, h, p)
	if fi.Perm() != 0600 || fi.UID != uid || fi.GID != gid {
		t.Errorf("replacing with Mode 0 and owner -1: mode %04o owner %d:%d, want 0600 %d:%d", fi.Perm(), fi.UID, fi.GID, uid, gid)
	}
	write(t, h, p, "three", 0640)
	if fi := stat(t, h, p); fi.Perm() != 0640 {
		t.Errorf("replacing with Mode 0640 gave %04o", fi.Perm())
	}
}

func testWriteAtomic(t *testing.T, h host.Host, dir string) {
	p := path.Join(dir, "big")
	const size = 1 << 20
	write(t, h, p, strings.Repeat("a", size), 0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	reads := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			data, err := h.ReadFile(ctx, p)
			if err != nil {
				bad.Store("read: " + err.Error())
				return
			}
			reads++
			if len(data) != size || bytes.Count(data, data[:1]) != size {
				bad.Store("reader saw a partial or mixed file")
				return
			}
		}
	}()
	for i := 0; i < 20 && bad.Load() == nil; i++ {
		write(t, h, p, strings.Repeat(string(rune('b'+i%20)), size), 0)
	}
	stop.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Fatal(msg)
	}
	if reads == 0 {
		t.Error("the reader never ran")
	}
	assertNoTemp(t, h, dir)
}

func testWriteValidate(t *testing.T, h host.Host, dir string) {
	if !canRun(t, h) {
		t.Skip("host does not run commands, so validate cannot run")
	}
	p := path.Join(dir, "conf")
	write(t, h, p, "old\n", 0600)
	err := h.WriteFile(ctx, p, []byte("new\n"), host.WriteOptions{UID: -1, GID: -1,
		Validate: `sh -c "echo rejected: \$(cat \"\$1\") >&2; exit 3" validator %s`})
	if err == nil || !strings.Contains(err.Error(), "rejected: new") {
		t.Errorf("WriteFile with a failing validate: error %v, want one with the validator's output", err)
	}
	if got, _ := h.ReadFile(ctx, p); string(got) != "old\n" {
		t.Errorf("failed validate changed the file to %q", got)
	}
	assertNoTemp(t, h, dir)
	if err := h.WriteFile(ctx, p, []byte("new\n"), host.WriteOptions{UID: -1, GID: -1, Validate: "grep -q new %s"}); err != nil {
		t.Errorf("WriteFile with a passing validate: %v", err)
	}
	if got, _ := h.ReadFile(ctx, p); string(got) != "new\n" {
		t.Errorf("after a passing validate the file is %q", got)
	}
	if fi := stat(t, h, p); fi.Perm() != 0600 {
		t.Errorf("validated write changed the mode to %04o", fi.Perm())
	}
	if err := h.WriteFile(ctx, p, []byte("x"), host.WriteOptions{UID: -1, GID: -1, Validate: "true"}); err == nil {
		t.Errorf("validate without a %%s placeholder was accepted")
	}
}

func testSymlinks(t *testing.T, h host.Host, dir string) {
	target := path.Join(dir, "target")
	write(t, h, target, "content", 0)
	link := path.Join(dir, "link")
	must(t, h.Symlink(ctx, "target", link))
	fi := stat(t, h, link)
	if !fi.IsSymlink() || fi.LinkTarget != "target" {
		t.Errorf("Stat(symlink) = %+v, want a symlink to %q", fi, "target")
	}
	if got, err := h.ReadFile(ctx, link); err != nil || string(got) != "content" {
		t.Errorf("ReadFile through symlink = %q, %v", got, err)
	}
	abs := path.Join(dir, "abslink")
	must(t, h.Symlink(ctx, target, abs))
	if fi := stat(t, h, abs); fi.LinkTarget != target {
		t.Errorf("absolute symlink target = %q, want %q", fi.LinkTarget, target)
	}
	dangling := path.Join(dir, "dangling")
	must(t, h.Symlink(ctx, "nowhere", dangling))
	if fi := stat(t, h, dangling); !fi.IsSymlink() {
		t.Errorf("dangling symlink not seen by Stat: %+v", fi)
	}
	if err := h.Symlink(ctx, "x", link); err == nil {
		t.Error("Symlink over an existing path succeeded")
	}
	must(t, h.Remove(ctx, link))
	if fi := stat(t, h, link); fi.Exists {
		t.Error("symlink still exists after Remove")
	}
	if fi := stat(t, h, target); !fi.IsRegular() {
		t.Error("Remove of a symlink removed its target")
	}
}

func testHardLinks(t *testing.T, h host.Host, dir string) {
	a, b := path.Join(dir, "a"), path.Join(dir, "b")
	write(t, h, a, "x", 0)
	must(t, h.Link(ctx, a, b))
	fa, fb := stat(t, h, a), stat(t, h, b)
	if fa.Inode != fb.Inode || fb.Nlink != 2 {
		t.Errorf("hard link: inodes %d/%d nlink %d, want same inode and 2 links", fa.Inode, fb.Inode, fb.Nlink)
	}
}

func testDirs(t *testing.T, h host.Host, dir string) {
	d := path.Join(dir, "d")
	must(t, h.Mkdir(ctx, d, 0750))
	if fi := stat(t, h, d); !fi.IsDir() || fi.Perm() != 0750 {
		t.Errorf("Mkdir(0750) gave %+v (perm %04o)", fi, fi.Perm())
	}
	if err := h.Mkdir(ctx, d, 0755); err == nil {
		t.Error("Mkdir of an existing directory succeeded")
	}
	for _, n := range []string{"c", "a", "b"} {
		write(t, h, path.Join(d, n), n, 0)
	}
	must(t, h.Mkdir(ctx, path.Join(d, "sub"), 0755))
	list, err := h.ReadDir(ctx, d)
	must(t, err)
	var names []string
	for _, fi := range list {
		names = append(names, path.Base(fi.Path))
		if path.Dir(fi.Path) != d {
			t.Errorf("ReadDir entry path %s is not under %s", fi.Path, d)
		}
	}
	if strings.Join(names, ",") != "a,b,c,sub" {
		t.Errorf("ReadDir names = %v, want sorted a,b,c,sub", names)
	}
	if !list[3].IsDir() || !list[0].IsRegular() || list[0].Size != 1 {
		t.Errorf("ReadDir entries lack their stat: %+v", list)
	}
	if err := h.Remove(ctx, d); err == nil {
		t.Error("Remove of a non-empty directory succeeded")
	}
	must(t, h.Rename(ctx, path.Join(d, "a"), path.Join(d, "z")))
	if fi := stat(t, h, path.Join(d, "z")); !fi.IsRegular() {
		t.Error("Rename did not move the file")
	}
	must(t, h.RemoveAll(ctx, d))
	if fi := stat(t, h, d); fi.Exists {
		t.Error("RemoveAll left the directory")
	}
	must(t, h.RemoveAll(ctx, d)) // missing is fine
}

func testChmodChownChtimes(t *testing.T, h host.Host, dir string) {
	uid, gid, own := otherIDs(t, h, dir)
	p := path.Join(dir, "f")
	write(t, h, p, "x", 0644)
	must(t, h.Chmod(ctx, p, 02751))
	if fi := stat(t, h, p); fi.Perm() != 02751 {
		t.Errorf("Chmod(02751) gave %04o", fi.Perm())
	}
	must(t, h.Lchown(ctx, p, uid, -1))
	if fi := stat(t, h, p); fi.UID != uid || fi.GID != own.GID {
		t.Errorf("Lchown(%d, -1) gave %d:%d", uid, fi.UID, fi.GID)
	}
	must(t, h.Lchown(ctx, p, -1, gid))
	if fi := stat(t, h, p); fi.UID != uid || fi.GID != gid {
		t.Errorf("Lchown(-1, %d) gave %d:%d", gid, fi.UID, fi.GID)
	}
	link := path.Join(dir, "l")
	must(t, h.Symlink(ctx, "f", link))
	must(t, h.Lchown(ctx, link, own.UID, own.GID))
	if fi := stat(t, h, p); fi.UID != uid {
		t.Error("Lchown on a symlink changed its target")
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, h.Chtimes(ctx, p, when, when))
	if fi := stat(t, h, p); !fi.ModTime.Equal(when) {
		t.Errorf("Chtimes: mtime %v, want %v", fi.ModTime, when)
	}
}

func canRun(t *testing.T, h host.Host) bool {
	_, err := h.Run(ctx, host.Command{Argv: []string{"true"}})
	if errors.Is(err, host.ErrNoCommands) {
		return false
	}
	must(t, err)
	return true
}

func testRun(t *testing.T, h host.Host, dir string) {
	if !canRun(t, h) {
		_, err := h.Run(ctx, host.Command{Shell: "true"})
		if !errors.Is(err, host.ErrNoCommands) {
			t.Errorf("Run(shell) error = %v, want ErrNoCommands", err)
		}
		t.Skip("host does not run commands")
	}
	res, err := h.Run(ctx, host.Command{Shell: `echo out; echo err >&2; echo "$FOO"; pwd; cat; exit 7`,
		Dir: dir, Env: map[string]string{"FOO": "bar"}, Stdin: []byte("in\n")})
	must(t, err)
	if res.RC != 7 {
		t.Errorf("RC = %d, want 7", res.RC)
	}
	if want := "out\nbar\n" + dir + "\nin\n"; string(res.Stdout) != want {
		t.Errorf("stdout = %q, want %q", res.Stdout, want)
	}
	if string(res.Stderr) != "err\n" {
		t.Errorf("stderr = %q, want %q", res.Stderr, "err\n")
	}
	if res.Start.IsZero() || res.End.Before(res.Start) {
		t.Errorf("bad Start/End: %v %v", res.Start, res.End)
	}
	res, err = h.Run(ctx, host.Command{Argv: []string{"printf", "%s|", "a b", "$HOME"}})
	must(t, err)
	if string(res.Stdout) != "a b|$HOME|" || res.RC != 0 {
		t.Errorf("argv run: stdout %q rc %d; want %q rc 0 (no shell)", res.Stdout, res.RC, "a b|$HOME|")
	}
	res, err = h.Run(ctx, host.Command{Shell: "echo $0", Executable: "/bin/bash"})
	must(t, err)
	if !strings.Contains(string(res.Stdout), "bash") {
		t.Errorf("Executable /bin/bash ran %q", res.Stdout)
	}
	if _, err := h.Run(ctx, host.Command{Argv: []string{path.Join(dir, "no-such-program")}}); err == nil {
		t.Error("running a missing program gave no error")
	}
}

func testLookup(t *testing.T, h host.Host, dir string) {
	if uid, err := h.LookupUser(ctx, "root"); err != nil || uid != 0 {
		t.Errorf("LookupUser(root) = %d, %v", uid, err)
	}
	if gid, err := h.LookupGroup(ctx, "root"); err != nil || gid != 0 {
		t.Errorf("LookupGroup(root) = %d, %v", gid, err)
	}
	if n := h.UserName(ctx, 0); n != "root" {
		t.Errorf("UserName(0) = %q", n)
	}
	if n := h.GroupName(ctx, 0); n != "root" {
		t.Errorf("GroupName(0) = %q", n)
	}
	if _, err := h.LookupUser(ctx, "no-such-user-tend"); err == nil {
		t.Error("LookupUser of a missing user succeeded")
	}
	if _, err := h.LookupGroup(ctx, "no-such-group-tend"); err == nil {
		t.Error("LookupGroup of a missing group succeeded")
	}
	if uid, err := h.LookupUser(ctx, "1234"); err != nil || uid != 1234 {
		t.Errorf("LookupUser(\"1234\") = %d, %v; want the number", uid, err)
	}
	if n := h.UserName(ctx, 987654); n != "" {
		t.Errorf("UserName(unknown) = %q, want empty", n)
	}
}
