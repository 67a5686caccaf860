package source

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	skeema "github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// setupAuth builds the transport auth for the URL's protocol from the
// configured files, failing early on a missing or unreadable file.
func (r *Repo) setupAuth() error {
	switch r.ep.Protocol {
	case "ssh":
		return r.setupSSH()
	case "http", "https":
		return r.setupHTTP()
	}
	return nil
}

func (r *Repo) setupSSH() error {
	if r.cfg.SSHKeyFile == "" {
		return fmt.Errorf("source.ssh_key: missing: %s is an ssh URL and needs a private key file", r.cfg.URL)
	}
	if r.cfg.KnownHostsFile == "" {
		return errors.New("source.known_hosts: missing: host keys are always checked for ssh URLs")
	}
	pem, err := os.ReadFile(r.cfg.SSHKeyFile)
	if err != nil {
		return fmt.Errorf("source.ssh_key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("source.ssh_key: %s: %w (keys with a passphrase are not supported)", r.cfg.SSHKeyFile, err)
	}
	if _, err := os.Stat(r.cfg.KnownHostsFile); err != nil {
		if !errors.Is(err, os.ErrNotExist) || !r.cfg.AcceptNewHostKey {
			return fmt.Errorf("source.known_hosts: %w", err)
		}
	} else if _, err := knownhosts.New(r.cfg.KnownHostsFile); err != nil {
		return fmt.Errorf("source.known_hosts: %w", err)
	}
	user := r.ep.User
	if user == "" {
		user = "git"
	}
	hk := &hostKeys{file: r.cfg.KnownHostsFile, accept: r.cfg.AcceptNewHostKey}
	r.auth = &sshAuth{
		PublicKeys: gitssh.PublicKeys{User: user, Signer: signer,
			HostKeyCallbackHelper: gitssh.HostKeyCallbackHelper{HostKeyCallback: hk.callback}},
		hk: hk, addr: r.sshAddr(),
	}
	return nil
}

// sshAddr is host:port as known_hosts lookups see it.
func (r *Repo) sshAddr() string {
	port := r.ep.Port
	if port <= 0 {
		port = 22
	}
	return net.JoinHostPort(r.ep.Host, fmt.Sprint(port))
}

// sshAuth is go-git's public key auth with our known_hosts checking and the
// host key algorithms known_hosts has for the host (so a host with several
// keys is checked against the one we know).
type sshAuth struct {
	gitssh.PublicKeys
	hk   *hostKeys
	addr string
}

func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := a.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.HostKeyCallback = a.hk.callback
	cfg.HostKeyAlgorithms = a.hk.algorithms(a.addr)
	return cfg, nil
}

// hostKeys checks host keys against a known_hosts file, re-read on every
// connection, and records a new host's key when accept is set (like
// ssh's StrictHostKeyChecking=accept-new and ansible-pull --accept-host-key).
// A changed key is always refused.
type hostKeys struct {
	file   string
	accept bool
	mu     sync.Mutex
}

func (h *hostKeys) algorithms(addr string) []string {
	if _, err := os.Stat(h.file); err != nil {
		return nil
	}
	db, err := skeema.NewDB(h.file)
	if err != nil {
		return nil
	}
	return db.HostKeyAlgorithms(addr)
}

func (h *hostKeys) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cb, err := knownhosts.New(h.file)
	if err != nil {
		if !(errors.Is(err, os.ErrNotExist) && h.accept) {
			return fmt.Errorf("source.known_hosts: %w", err)
		}
		cb = func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}
	}
	err = cb(hostname, remote, key)
	var ke *knownhosts.KeyError
	if err == nil || !errors.As(err, &ke) {
		return err
	}
	fp := ssh.FingerprintSHA256(key)
	if len(ke.Want) > 0 {
		var known []string
		for _, w := range ke.Want {
			known = append(known, fmt.Sprintf("%s:%d %s", w.Filename, w.Line, ssh.FingerprintSHA256(w.Key)))
		}
		return fmt.Errorf("host key for %s changed: server offers %s %s, but source.known_hosts has %s; if the change is expected, fix the known_hosts file",
			hostname, key.Type(), fp, strings.Join(known, ", "))
	}
	if !h.accept {
		return fmt.Errorf("host %s is not in source.known_hosts %s (server key %s %s); add it, or set source.accept_new_host_key to record it on first use",
			hostname, h.file, key.Type(), fp)
	}
	f, err := os.OpenFile(h.file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record host key in source.known_hosts: %w", err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("record host key in source.known_hosts: %w", err)
	}
	return f.Close()
}

func (r *Repo) setupHTTP() error {
	switch {
	case r.cfg.HTTPTokenFile != "" && r.cfg.BasicAuthFile != "":
		return errors.New("source.http_token_file and source.http_basic_auth_file: set only one")
	case r.cfg.HTTPTokenFile != "":
		tok, err := firstLine(r.cfg.HTTPTokenFile)
		if err != nil {
			return fmt.Errorf("source.http_token_file: %w", err)
		}
		r.auth = &githttp.BasicAuth{Username: "x-access-token", Password: tok}
	case r.cfg.BasicAuthFile != "":
		line, err := firstLine(r.cfg.BasicAuthFile)
		if err != nil {
			return fmt.Errorf("source.http_basic_auth_file: %w", err)
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return fmt.Errorf("source.http_basic_auth_file: %s:1: want \"user:password\"", r.cfg.BasicAuthFile)
		}
		r.auth = &githttp.BasicAuth{Username: user, Password: pass}
	}
	return nil
}

// firstLine reads the first line of a secret file, without its newline.
func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		if err := s.Err(); err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
		return "", fmt.Errorf("%s is empty", path)
	}
	line := strings.TrimRight(s.Text(), "\r")
	if line == "" {
		return "", fmt.Errorf("%s:1: empty", path)
	}
	return line, nil
}

var _ transport.AuthMethod = (*sshAuth)(nil)
