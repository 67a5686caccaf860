package sshhost

import (
	"context"
	"fmt"

	"github.com/tend-project/tend/internal/host"
)

// Users and groups come from the target's /etc/passwd and /etc/group, read
// over this connection through host.Accounts (cached until a file changes:
// the user and group modules change them during a run).

// LookupUser resolves a user name (or a numeric id) from /etc/passwd.
func (h *Host) LookupUser(ctx context.Context, name string) (int, error) {
	id, err := h.accounts.LookupUser(ctx, name)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", h.cfg.Name, err)
	}
	return id, nil
}

// LookupGroup resolves a group name (or a numeric id) from /etc/group.
func (h *Host) LookupGroup(ctx context.Context, name string) (int, error) {
	id, err := h.accounts.LookupGroup(ctx, name)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", h.cfg.Name, err)
	}
	return id, nil
}

// UserName returns the name of uid, "" when unknown.
func (h *Host) UserName(ctx context.Context, uid int) string { return h.accounts.UserName(ctx, uid) }

// GroupName returns the name of gid, "" when unknown.
func (h *Host) GroupName(ctx context.Context, gid int) string { return h.accounts.GroupName(ctx, gid) }

var _ host.Host = (*Host)(nil)
