// Package sshhost implements host.Host over one SSH connection: file content
// goes through the SFTP subsystem, metadata operations through one
// long-lived POSIX shell on the host (so a stat is one round trip and gives
// the inode and link count SFTP lacks), and commands through one exec
// session each. With become, that shell and every command run under
// `sudo -n`, and file content is staged through SFTP and moved into place by
// the privileged shell. Targets need OpenSSH's sftp subsystem, a POSIX sh,
// GNU coreutils and findutils — no Python.
//
// Errors that mean the host cannot be reached (dial, handshake, host key,
// authentication, a dropped connection) satisfy interface{ Unreachable()
// bool }, which the engine reports as UNREACHABLE.
package sshhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/tend-project/tend/internal/host"
)

// DefaultConnectTimeout bounds the TCP dial and the SSH handshake when
// Config.ConnectTimeout is zero (Ansible's default timeout is 10 s).
const DefaultConnectTimeout = 10 * time.Second

// Config says how to reach one host.
type Config struct {
	// Name is the inventory name, returned by Host.Name.
	Name string
	// Host and Port are the address to dial (Port 0 means 22).
	Host string
	Port int
	// User is the login user ("" = the local user name).
	User string
	// KeyFiles are private keys to offer; UseAgent also offers the keys
	// of the agent at $SSH_AUTH_SOCK. With neither, ~/.ssh/id_* are tried.
	KeyFiles []string
	UseAgent bool
	// KnownHostsFiles hold the accepted host keys ("" entries are
	// ignored); none means ~/.ssh/known_hosts. Host keys are always
	// checked: an unknown or changed key makes the host unreachable,
	// except that AcceptNewHostKey records an unknown key in the first
	// file on first use (a changed key is still refused).
	KnownHostsFiles  []string
	AcceptNewHostKey bool
	// ProxyJump is [user@]host[:port][,...]: jump hosts to go through,
	// as ssh -J.
	ProxyJump string
	// ConnectTimeout bounds dial and handshake (0 = DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// Become runs metadata operations, file writes and commands as
	// BecomeUser (default root) through BecomeMethod (only "sudo").
	Become       bool
	BecomeUser   string
	BecomeMethod string
}

// Error is a failed operation on a host. Unreachable is true when the
// connection could not be made or was lost.
type Error struct {
	Host        string
	Op          string
	Err         error
	unreachable bool
}

func (e *Error) Error() string {
	if e.unreachable {
		return fmt.Sprintf("Failed to connect to the host via ssh: %s: %s: %v", e.Host, e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Host, e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Unreachable reports whether the host could not be reached.
func (e *Error) Unreachable() bool { return e.unreachable }

func unreachable(name, op string, err error) error {
	return &Error{Host: name, Op: op, Err: err, unreachable: true}
}

// Host is a host.Host over SSH. It is safe for concurrent use.
type Host struct {
	*conn
	cfg Config

	shMu sync.Mutex
	sh   *shell

	accounts *host.Accounts
}

// conn is what the views of one host (As) share: the SSH connection, SFTP
// and the staging directory.
type conn struct {
	client *ssh.Client
	jumps  []*ssh.Client
	sftp   *sftp.Client
	fsync  bool
	closed chan struct{}

	stageMu  sync.Mutex
	stageDir string

	viewsMu sync.Mutex
	views   map[string]*Host
}

var _ host.Host = (*Host)(nil)

// Dial connects to the host, checks its key, logs in and opens SFTP. The
// connection lives until Close.
func Dial(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Name == "" {
		cfg.Name = cfg.Host
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Become {
		if cfg.BecomeUser == "" {
			cfg.BecomeUser = "root"
		}
		if cfg.BecomeMethod != "" && cfg.BecomeMethod != "sudo" {
			return nil, fmt.Errorf("%s: become method %q is not supported (only sudo)", cfg.Name, cfg.BecomeMethod)
		}
	}
	client, jumps, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Become && cfg.BecomeUser == client.User() {
		cfg.Become = false // already that user: no sudo needed
	}
	h := &Host{cfg: cfg, conn: &conn{client: client, jumps: jumps, closed: make(chan struct{}), views: map[string]*Host{}}}
	go func() {
		_ = client.Wait()
		close(h.closed)
	}()
	go h.keepalive()
	h.sftp, err = sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		h.Close()
		return nil, unreachable(cfg.Name, "start the sftp subsystem (the server needs `Subsystem sftp`)", err)
	}
	_, h.fsync = h.sftp.HasExtension("fsync@openssh.com")
	h.accounts = host.NewAccounts(h)
	return h, nil
}

// keepalive sends keepalive@openssh.com every 15 s and closes a
// connection that missed three answers in a row, so a vanished host turns
// into errors rather than a hang.
func (h *Host) keepalive() {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-h.closed:
			return
		case <-t.C:
		}
		if h.ping(10 * time.Second) {
			missed = 0
			continue
		}
		if missed++; missed >= 3 {
			h.client.Close()
			return
		}
	}
}

// ping reports whether the server answers a keepalive within d.
func (h *Host) ping(d time.Duration) bool {
	done := make(chan error, 1)
	go func() {
		_, _, err := h.client.SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err == nil
	case <-h.closed:
		return false
	case <-time.After(d):
		return false
	}
}

// wrap turns err into an *Error, marked unreachable when the connection is
// gone.
func (h *Host) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var he *Error
	if errors.As(err, &he) {
		return err
	}
	if h.lost(err) {
		return unreachable(h.cfg.Name, op, fmt.Errorf("connection lost: %w", err))
	}
	return &Error{Host: h.cfg.Name, Op: op, Err: err}
}

// lost reports whether the SSH connection is down: closed, or not
// answering a keepalive after an error that is not a plain file-system or
// command error.
func (h *Host) lost(err error) bool {
	select {
	case <-h.closed:
		return true
	default:
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		return true
	}
	var status *sftp.StatusError
	var sh *shellError
	if errors.As(err, &status) || errors.As(err, &sh) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrExist) {
		return false
	}
	return !h.ping(5 * time.Second)
}

// Name returns the inventory name.
func (h *Host) Name() string { return h.cfg.Name }

// Local reports false: the host is reached over SSH.
func (h *Host) Local() bool { return false }

// Addr is host:port as dialled.
func (h *Host) Addr() string { return net.JoinHostPort(h.cfg.Host, strconv.Itoa(h.cfg.Port)) }

// As returns a view of the same connection that runs metadata operations,
// file writes and commands as user through sudo ("" or the login user: as
// the login user), for a play's or task's become. Views share the
// connection; Close on the Host from Dial closes them all.
func (h *Host) As(user string) *Host {
	if user == h.login() {
		user = ""
	}
	h.viewsMu.Lock()
	defer h.viewsMu.Unlock()
	if v, ok := h.views[user]; ok {
		return v
	}
	cfg := h.cfg
	cfg.Become, cfg.BecomeUser = user != "", user
	v := &Host{cfg: cfg, conn: h.conn}
	v.accounts = host.NewAccounts(v)
	h.views[user] = v
	return v
}

// Close removes the staging directory, ends the shells and closes SFTP
// and the connection (and any jump hosts').
func (h *Host) Close() error {
	h.viewsMu.Lock()
	views := append([]*Host{h}, mapValues(h.views)...)
	h.views = map[string]*Host{}
	h.viewsMu.Unlock()
	for _, v := range views {
		v.closeShell()
	}
	if h.sftp != nil {
		h.sftp.Close()
	}
	err := h.client.Close()
	for i := len(h.jumps) - 1; i >= 0; i-- {
		h.jumps[i].Close()
	}
	return err
}

func (h *Host) closeShell() {
	h.shMu.Lock()
	defer h.shMu.Unlock()
	if h.sh == nil {
		return
	}
	h.stageMu.Lock()
	if h.stageDir != "" {
		if _, err := h.sh.run("rm -rf -- " + quote(h.stageDir)); err == nil {
			h.stageDir = ""
		}
	}
	h.stageMu.Unlock()
	h.sh.close()
	h.sh = nil
}

func mapValues(m map[string]*Host) []*Host {
	out := make([]*Host, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
