package sshhost

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// accounts resolves users and groups from the host's /etc/passwd and
// /etc/group, read once and again whenever a file's mtime, size or inode
// changes (the user and group modules change them during a run).
type accounts struct {
	h      *Host
	mu     sync.Mutex
	passwd table
	group  table
}

type table struct {
	stamp  stamp
	byName map[string]int
	byID   map[int]string
}

type stamp struct {
	exists bool
	mtime  time.Time
	size   int64
	inode  uint64
}

func (a *accounts) load(ctx context.Context, t *table, file string) *table {
	a.mu.Lock()
	defer a.mu.Unlock()
	fi, err := a.h.stat(file, true)
	st := stamp{exists: err == nil && fi.Exists, mtime: fi.ModTime, size: fi.Size, inode: fi.Inode}
	if t.byName != nil && st == t.stamp {
		return t
	}
	*t = table{stamp: st, byName: map[string]int{}, byID: map[int]string{}}
	if !st.exists {
		return t
	}
	data, err := a.h.ReadFile(ctx, file)
	if err != nil {
		t.stamp = stamp{} // read again next time
		return t
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || strings.HasPrefix(line, "#") {
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

func numeric(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// LookupUser resolves a user name (or a numeric id) from /etc/passwd.
func (h *Host) LookupUser(ctx context.Context, name string) (int, error) {
	if id, ok := numeric(name); ok {
		return id, nil
	}
	if id, ok := h.accounts.load(ctx, &h.accounts.passwd, "/etc/passwd").byName[name]; ok {
		return id, nil
	}
	return -1, fmt.Errorf("user %q does not exist on %s (not in /etc/passwd)", name, h.cfg.Name)
}

// LookupGroup resolves a group name (or a numeric id) from /etc/group.
func (h *Host) LookupGroup(ctx context.Context, name string) (int, error) {
	if id, ok := numeric(name); ok {
		return id, nil
	}
	if id, ok := h.accounts.load(ctx, &h.accounts.group, "/etc/group").byName[name]; ok {
		return id, nil
	}
	return -1, fmt.Errorf("group %q does not exist on %s (not in /etc/group)", name, h.cfg.Name)
}

// UserName returns the name of uid, "" when unknown.
func (h *Host) UserName(ctx context.Context, uid int) string {
	return h.accounts.load(ctx, &h.accounts.passwd, "/etc/passwd").byID[uid]
}

// GroupName returns the name of gid, "" when unknown.
func (h *Host) GroupName(ctx context.Context, gid int) string {
	return h.accounts.load(ctx, &h.accounts.group, "/etc/group").byID[gid]
}
