package apply

import (
	"context"
	"fmt"
	osuser "os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/host/sshhost"
)

// Connector returns how a run reaches its hosts: the local machine for
// connection local (under --root when set), SSH otherwise. SSH connections
// stay open until the process ends; use NewConnector to close them.
func Connector(req Request) engine.Connector {
	c, _ := NewConnector(req)
	return c
}

// NewConnector is Connector plus a function that closes every SSH
// connection it opened (call it when the run is over).
func NewConnector(req Request) (engine.Connector, func()) {
	local := host.Host(host.NewLocal())
	if req.Root != "" {
		local = host.Rooted(local, req.Root)
	}
	local = host.Observed(local, req.Wrote)
	pool := &sshPool{req: req, conns: map[string]*sshConn{}}
	connect := func(ctx context.Context, name string, vars map[string]any) (host.Host, error) {
		conn := req.Connection
		if c := str(vars, "ansible_connection"); c != "" {
			conn = c // inventory wins over -c, as in Ansible
		}
		if conn == "" && (name == "localhost" || name == "127.0.0.1") {
			conn = "local"
		}
		switch conn {
		case "local":
			return local, nil
		case "", "ssh", "smart", "paramiko":
			return pool.get(ctx, name, vars)
		}
		return nil, fmt.Errorf("connection plugin %q is not supported (use local or ssh)", conn)
	}
	return connect, pool.close
}

// sshPool keeps one SSH connection per inventory host for the whole run
// (all plays and playbooks).
type sshPool struct {
	req   Request
	mu    sync.Mutex
	conns map[string]*sshConn
}

type sshConn struct {
	once sync.Once
	h    *sshhost.Host
	err  error
}

func (p *sshPool) get(ctx context.Context, name string, vars map[string]any) (host.Host, error) {
	p.mu.Lock()
	c, ok := p.conns[name]
	if !ok {
		c = &sshConn{}
		p.conns[name] = c
	}
	p.mu.Unlock()
	c.once.Do(func() {
		cfg, err := SSHConfig(p.req, name, vars)
		if err != nil {
			c.err = &unreachableError{err}
			return
		}
		c.h, c.err = sshhost.Dial(ctx, cfg)
	})
	if c.err != nil {
		return nil, c.err
	}
	return c.h, nil
}

func (p *sshPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, c := range p.conns {
		if c.h != nil {
			c.h.Close()
		}
		delete(p.conns, name)
	}
}

// unreachableError is a host whose connection settings are wrong.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string     { return e.err.Error() }
func (e *unreachableError) Unwrap() error     { return e.err }
func (e *unreachableError) Unreachable() bool { return true }

// SSHConfig builds the SSH settings of one inventory host from its
// connection variables and the command line, with Ansible's precedence:
// ansible_* host variables win over -u/--private-key/-b/--become-user and
// the --ssh-*-args flags; ansible_port/ansible_user win over -p/-l inside
// the ssh args.
func SSHConfig(req Request, name string, vars map[string]any) (sshhost.Config, error) {
	cfg := sshhost.Config{Name: name, UseAgent: true, AcceptNewHostKey: req.AcceptHostKey, ConnectTimeout: req.Timeout}
	if req.PrivateKey != "" {
		cfg.KeyFiles = []string{req.PrivateKey}
	}
	cfg.User = req.RemoteUser
	for _, k := range [][2]string{{"ansible_ssh_common_args", req.SSHCommonArgs}, {"ansible_ssh_extra_args", req.SSHExtraArgs}} {
		args := k[1]
		if _, set := vars[k[0]]; set {
			args = str(vars, k[0])
		}
		if args == "" {
			continue
		}
		if err := sshhost.ApplySSHArgs(&cfg, args); err != nil {
			return cfg, fmt.Errorf("%s: %s: %w", name, k[0], err)
		}
	}
	cfg.Host = first(vars, "ansible_host", "ansible_ssh_host")
	if cfg.Host == "" {
		cfg.Host = name
	}
	if p := first(vars, "ansible_port", "ansible_ssh_port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return cfg, fmt.Errorf("%s: ansible_port %q is not a port number", name, p)
		}
		cfg.Port = n
	}
	if u := first(vars, "ansible_user", "ansible_ssh_user"); u != "" {
		cfg.User = u
	}
	if k := first(vars, "ansible_ssh_private_key_file", "ansible_private_key_file"); k != "" {
		cfg.KeyFiles = append([]string{k}, cfg.KeyFiles...)
	}
	if t := first(vars, "ansible_ssh_timeout", "ansible_timeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return cfg, fmt.Errorf("%s: ansible_timeout %q is not a number of seconds", name, t)
		}
		cfg.ConnectTimeout = time.Duration(n) * time.Second
	}
	cfg.Become = req.Become
	if v, set := vars["ansible_become"]; set {
		b, ok := truthy(v)
		if !ok {
			return cfg, fmt.Errorf("%s: ansible_become %v is not a boolean", name, v)
		}
		cfg.Become = b
	}
	cfg.BecomeUser = req.BecomeUser
	if u := str(vars, "ansible_become_user"); u != "" {
		cfg.BecomeUser = u
	}
	cfg.BecomeMethod = str(vars, "ansible_become_method")
	if cfg.Become && cfg.BecomeMethod != "" && cfg.BecomeMethod != "sudo" {
		return cfg, fmt.Errorf("%s: ansible_become_method %q is not supported (only sudo)", name, cfg.BecomeMethod)
	}
	return cfg, nil
}

func str(vars map[string]any, key string) string {
	switch v := vars[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

func first(vars map[string]any, keys ...string) string {
	for _, k := range keys {
		if v := str(vars, k); v != "" {
			return v
		}
	}
	return ""
}

// truthy reads an Ansible boolean (true/yes/on/1 and their opposites).
func truthy(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case int:
		return b != 0, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "yes", "on", "1", "y", "t":
			return true, true
		case "false", "no", "off", "0", "n", "f", "":
			return false, true
		}
	}
	return false, false
}

// becomeOn returns the view of h that acts as user (play or task become:):
// over SSH the same connection through sudo; locally h itself when tend
// already runs as that user.
func becomeOn(h host.Host, user string) (host.Host, error) {
	if user == "" {
		user = "root"
	}
	switch x := h.(type) {
	case *sshhost.Host:
		return x.As(user), nil
	}
	if h.Local() {
		if u, err := osuser.Current(); err == nil && (u.Username == user || (user == "root" && u.Uid == "0")) {
			return h, nil
		}
		return nil, fmt.Errorf("become %s on the local connection: run tend as that user (tend does not sudo locally yet)", user)
	}
	return h, nil
}
