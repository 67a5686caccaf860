package host

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fileSource is how accounts reads the passwd and group files.
type fileSource interface {
	stat(ctx context.Context, path string) (FileInfo, error)
	read(ctx context.Context, path string) ([]byte, error)
}

// fallback resolves what the files do not know (NSS on the local machine,
// the real databases under --root); nil means none.
type fallback interface {
	lookupUser(name string) (int, bool)
	lookupGroup(name string) (int, bool)
	userName(uid int) (string, bool)
	groupName(gid int) (string, bool)
}

// accounts resolves user and group names from passwd(5) and group(5) files,
// cached until a file's mtime, size or inode changes (the user and group
// modules change them during a run).
type accounts struct {
	src                 fileSource
	passwdPath, grpPath string
	fallback            fallback
	// fallbackAlways asks fallback also when the file exists but lacks
	// the name (local NSS); otherwise only when the file is missing.
	fallbackAlways bool

	mu     sync.Mutex
	passwd table
	group  table
}

type table struct {
	stamp  fileStamp
	byName map[string]int
	byID   map[int]string
}

type fileStamp struct {
	exists bool
	mtime  time.Time
	size   int64
	inode  uint64
}

func newAccounts(src fileSource, passwdPath, grpPath string, fb fallback) *accounts {
	return &accounts{src: src, passwdPath: passwdPath, grpPath: grpPath, fallback: fb}
}

// load returns the current table for path, re-reading it when it changed.
func (a *accounts) load(ctx context.Context, t *table, path string) *table {
	fi, err := a.src.stat(ctx, path)
	stamp := fileStamp{exists: err == nil && fi.Exists, mtime: fi.ModTime, size: fi.Size, inode: fi.Inode}
	if t.byName != nil && stamp == t.stamp {
		return t
	}
	*t = table{stamp: stamp, byName: map[string]int{}, byID: map[int]string{}}
	if !stamp.exists {
		return t
	}
	data, err := a.src.read(ctx, path)
	if err != nil {
		return t
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		id, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		if _, dup := t.byName[f[0]]; !dup {
			t.byName[f[0]] = id
		}
		if _, dup := t.byID[id]; !dup {
			t.byID[id] = f[0]
		}
	}
	return t
}

func (a *accounts) lookupUser(ctx context.Context, name string) (int, error) {
	if id, ok := atoi(name); ok {
		return id, nil
	}
	a.mu.Lock()
	t := a.load(ctx, &a.passwd, a.passwdPath)
	id, ok := t.byName[name]
	useFallback := a.useFallback(t)
	a.mu.Unlock()
	if !ok && useFallback {
		id, ok = a.fallback.lookupUser(name)
	}
	if !ok {
		return -1, fmt.Errorf("user %q does not exist (not in %s)", name, a.passwdPath)
	}
	return id, nil
}

func (a *accounts) lookupGroup(ctx context.Context, name string) (int, error) {
	if id, ok := atoi(name); ok {
		return id, nil
	}
	a.mu.Lock()
	t := a.load(ctx, &a.group, a.grpPath)
	id, ok := t.byName[name]
	useFallback := a.useFallback(t)
	a.mu.Unlock()
	if !ok && useFallback {
		id, ok = a.fallback.lookupGroup(name)
	}
	if !ok {
		return -1, fmt.Errorf("group %q does not exist (not in %s)", name, a.grpPath)
	}
	return id, nil
}

func (a *accounts) userName(ctx context.Context, uid int) string {
	a.mu.Lock()
	t := a.load(ctx, &a.passwd, a.passwdPath)
	name, ok := t.byID[uid]
	useFallback := a.useFallback(t)
	a.mu.Unlock()
	if !ok && useFallback {
		name, _ = a.fallback.userName(uid)
	}
	return name
}

func (a *accounts) groupName(ctx context.Context, gid int) string {
	a.mu.Lock()
	t := a.load(ctx, &a.group, a.grpPath)
	name, ok := t.byID[gid]
	useFallback := a.useFallback(t)
	a.mu.Unlock()
	if !ok && useFallback {
		name, _ = a.fallback.groupName(gid)
	}
	return name
}

func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

func (a *accounts) useFallback(t *table) bool {
	return a.fallback != nil && (a.fallbackAlways || !t.stamp.exists)
}

// Accounts resolves users and groups from a host's /etc/passwd and
// /etc/group, read through the Host itself and cached until a file changes.
// Host implementations other than Local (SSH) use it for their lookups.
type Accounts struct{ a *accounts }

// NewAccounts returns the account cache of h.
func NewAccounts(h Host) *Accounts {
	return &Accounts{a: newAccounts(hostFiles{h}, "/etc/passwd", "/etc/group", nil)}
}

// LookupUser resolves a user name (or a numeric id).
func (x *Accounts) LookupUser(ctx context.Context, name string) (int, error) {
	return x.a.lookupUser(ctx, name)
}

// LookupGroup resolves a group name (or a numeric id).
func (x *Accounts) LookupGroup(ctx context.Context, name string) (int, error) {
	return x.a.lookupGroup(ctx, name)
}

// UserName returns the name of uid, "" when unknown.
func (x *Accounts) UserName(ctx context.Context, uid int) string { return x.a.userName(ctx, uid) }

// GroupName returns the name of gid, "" when unknown.
func (x *Accounts) GroupName(ctx context.Context, gid int) string { return x.a.groupName(ctx, gid) }
