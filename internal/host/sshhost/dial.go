package sshhost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// connect dials cfg's host, through its jump hosts if any, and logs in.
func connect(ctx context.Context, cfg Config) (*ssh.Client, []*ssh.Client, error) {
	auth, err := authMethods(cfg)
	if err != nil {
		return nil, nil, unreachable(cfg.Name, "load keys", err)
	}
	deadline := time.Now().Add(cfg.ConnectTimeout)
	var jumps []*ssh.Client
	var via *ssh.Client
	closeAll := func() {
		for i := len(jumps) - 1; i >= 0; i-- {
			jumps[i].Close()
		}
	}
	if cfg.ProxyJump != "" && cfg.ProxyJump != "none" {
		for _, hop := range strings.Split(cfg.ProxyJump, ",") {
			jc := cfg
			jc.User, jc.Host, jc.Port = splitUserHostPort(hop, cfg.User)
			jc.KeyFiles, jc.UseAgent = cfg.KeyFiles, cfg.UseAgent
			c, err := handshake(ctx, jc, via, auth, deadline)
			if err != nil {
				closeAll()
				return nil, nil, unreachable(cfg.Name, "jump host "+hop, err)
			}
			jumps = append(jumps, c)
			via = c
		}
	}
	c, err := handshake(ctx, cfg, via, auth, deadline)
	if err != nil {
		closeAll()
		return nil, nil, unreachable(cfg.Name, "connect to "+net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), err)
	}
	return c, jumps, nil
}

// handshake opens one SSH connection to cfg's Host:Port, directly or
// through via, with the whole exchange bounded by deadline.
func handshake(ctx context.Context, cfg Config, via *ssh.Client, auth []ssh.AuthMethod, deadline time.Time) (*ssh.Client, error) {
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	login := cfg.User
	if login == "" {
		if u, err := user.Current(); err == nil {
			login = u.Username
		}
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	hostKeys, algos, err := hostKeyCallback(cfg, addr)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var conn net.Conn
	if via == nil {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = via.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		if dctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("dial %s: timed out after %v (raise ansible_timeout or --timeout)", addr, cfg.ConnectTimeout)
		}
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	config := &ssh.ClientConfig{
		User:              login,
		Auth:              auth,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: algos,
		Timeout:           cfg.ConnectTimeout,
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("ssh handshake with %s: timed out after %v (raise ansible_timeout or --timeout)", addr, cfg.ConnectTimeout)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("ssh login to %s as %s: permission denied (the server refused every key offered: %w)", addr, login, err)
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// splitUserHostPort parses [user@]host[:port] (ssh -J syntax).
func splitUserHostPort(s, defUser string) (string, string, int) {
	u := defUser
	if i := strings.LastIndex(s, "@"); i >= 0 {
		u, s = s[:i], s[i+1:]
	}
	s = strings.TrimPrefix(s, "ssh://")
	port := 22
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return u, h, n
		}
	}
	return u, strings.Trim(s, "[]"), port
}

// authMethods offers the key files, the agent's keys, or ~/.ssh/id_*.
func authMethods(cfg Config) ([]ssh.AuthMethod, error) {
	var signers []ssh.Signer
	for _, f := range cfg.KeyFiles {
		s, err := loadKey(expandHome(f))
		if err != nil {
			return nil, err
		}
		signers = append(signers, s)
	}
	var agentSigners func() ([]ssh.Signer, error)
	if sock := os.Getenv("SSH_AUTH_SOCK"); cfg.UseAgent && sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, fmt.Errorf("ssh-agent at SSH_AUTH_SOCK=%s: %w", sock, err)
		}
		agentSigners = agent.NewClient(conn).Signers
	}
	if len(signers) == 0 && agentSigners == nil {
		home, _ := os.UserHomeDir()
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			s, err := loadKey(filepath.Join(home, ".ssh", n))
			if err == nil {
				signers = append(signers, s)
			}
		}
		if len(signers) == 0 {
			return nil, fmt.Errorf("no SSH key to log in with: set ansible_ssh_private_key_file or --private-key, or start ssh-agent")
		}
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		out := append([]ssh.Signer(nil), signers...)
		if agentSigners != nil {
			more, err := agentSigners()
			if err != nil {
				return nil, fmt.Errorf("ssh-agent: %w", err)
			}
			out = append(out, more...)
		}
		return out, nil
	})}, nil
}

func loadKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("private key %s is encrypted: load it into ssh-agent (ssh-add) instead", path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key %s: %w", path, err)
	}
	return s, nil
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}

// knownHostsMu serialises appends to known_hosts files within this process.
var knownHostsMu sync.Mutex

// hostKeyCallback checks host keys against the known_hosts files; it also
// returns the key algorithms known for addr, so the server is asked for a
// key type we can check.
func hostKeyCallback(cfg Config, addr string) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range cfg.KnownHostsFiles {
		if f != "" {
			files = append(files, expandHome(f))
		}
	}
	if len(files) == 0 {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil, fmt.Errorf("find ~/.ssh/known_hosts: %w", err)
		}
		files = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	knownHostsMu.Lock()
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	var check ssh.HostKeyCallback
	var err error
	if len(existing) > 0 {
		check, err = knownhosts.New(existing...)
	}
	knownHostsMu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("read known hosts: %w", err)
	}
	var algos []string
	if check != nil {
		var ke *knownhosts.KeyError
		if err := check(addr, &net.TCPAddr{}, probeKey{}); errors.As(err, &ke) {
			for _, k := range ke.Want {
				algos = append(algos, algorithmsFor(k.Key.Type())...)
			}
		}
	}
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		var kerr error = &knownhosts.KeyError{}
		if check != nil {
			kerr = check(hostname, remote, key)
		}
		var ke *knownhosts.KeyError
		switch {
		case kerr == nil:
			return nil
		case errors.As(kerr, &ke) && len(ke.Want) > 0:
			return fmt.Errorf("REMOTE HOST IDENTIFICATION HAS CHANGED for %s: the server offered %s key %s, which does not match %s:%d; if the host was reinstalled, remove its old line there",
				hostname, key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line)
		case errors.As(kerr, &ke) && cfg.AcceptNewHostKey:
			return recordKey(files[0], hostname, key)
		case errors.As(kerr, &ke):
			return fmt.Errorf("host key for %s is not known (%s key %s is in none of %s): add it with ssh-keyscan, or pass --accept-host-key to record it on first use",
				hostname, key.Type(), ssh.FingerprintSHA256(key), strings.Join(files, ", "))
		default:
			return fmt.Errorf("host key for %s: %w", hostname, kerr)
		}
	}
	return cb, algos, nil
}

// recordKey appends a known_hosts line for hostname.
func recordKey(file, hostname string, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)); err != nil {
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	return nil
}

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// probeKey is a key no known_hosts holds: checking it lists the known keys.
type probeKey struct{}

func (probeKey) Type() string                                 { return "tend-probe" }
func (probeKey) Marshal() []byte                              { return []byte("tend-probe") }
func (probeKey) Verify(data []byte, sig *ssh.Signature) error { return errors.New("probe") }
