package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Validate checks every key and returns all problems at once (errors.Join of
// *Error values, each naming the key and, when loaded from a file, the
// file:line:col of its value). It reads the filesystem: files the config
// names must exist.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, c.errorf(key, format, a...)) }
	file := func(key, path string) {
		if err := c.checkFile(key, path); err != nil {
			errs = append(errs, err)
		}
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be more than 0s, got %s", FormatDuration(d))
		}
	}
	notNegative := func(key string, d time.Duration) {
		if d < 0 {
			bad(key, "must not be negative, got %s", FormatDuration(d))
		}
	}

	s := &c.Source
	switch {
	case strings.TrimSpace(s.URL) == "":
		bad("source.url", "required: the git repository to pull (ssh://, https://, file://, user@host:path or a path)")
	default:
		if err := checkURL(s.URL); err != nil {
			bad("source.url", "%v", err)
		}
	}
	if strings.TrimSpace(s.Ref) == "" {
		bad("source.ref", "must not be empty (a branch, tag or commit)")
	}
	positive("source.interval", s.Interval)
	notNegative("source.splay", s.Splay)
	if s.Depth < 0 {
		bad("source.depth", "must not be negative (0 = full history), got %d", s.Depth)
	}
	if s.SSHKey != "" {
		file("source.ssh_key", s.SSHKey)
	}
	if IsSSHURL(s.URL) {
		if s.KnownHosts == "" {
			bad("source.known_hosts", "required when source.url uses ssh: host keys are always checked (e.g. ssh-keyscan HOST > /etc/tend/known_hosts)")
		} else {
			file("source.known_hosts", s.KnownHosts)
		}
	}
	if s.HTTPAuthFile != "" {
		file("source.http_auth_file", s.HTTPAuthFile)
	}
	switch s.Verify.Mode {
	case VerifyNone:
	case VerifySSH:
		if s.Verify.AllowedSigners == "" {
			bad("source.verify.allowed_signers", "required when source.verify.mode is ssh (git's allowed_signers format)")
		} else {
			file("source.verify.allowed_signers", s.Verify.AllowedSigners)
		}
	case VerifyOpenPGP:
		if s.Verify.Keyring == "" {
			bad("source.verify.keyring", "required when source.verify.mode is openpgp (armored public keys)")
		} else {
			file("source.verify.keyring", s.Verify.Keyring)
		}
	default:
		bad("source.verify.mode", "must be one of none, ssh, openpgp; got %q", s.Verify.Mode)
	}

	switch c.Backend {
	case BackendNative, BackendAnsible, BackendAuto:
	default:
		bad("backend", "must be one of native, ansible, auto; got %q", c.Backend)
	}
	if c.VaultPasswordFile != "" {
		file("vault_password_file", c.VaultPasswordFile)
	}

	positive("drift.interval", c.Drift.Interval)
	notNegative("drift.full_hash_interval", c.Drift.FullHashInterval)

	if c.Guardrails.MaxChanges < 0 {
		bad("guardrails.max_changes", "must not be negative (0 = no limit), got %d", c.Guardrails.MaxChanges)
	}
	notNegative("guardrails.rollout_delay", c.Guardrails.RolloutDelay)

	if c.Backups.MaxBytes < 0 {
		bad("backups.max_bytes", "must not be negative, got %d", c.Backups.MaxBytes)
	}
	notNegative("backups.max_age", c.Backups.MaxAge)
	if c.Audit.MaxBytes < 0 {
		bad("audit.max_bytes", "must not be negative (0 = never rotate), got %d", c.Audit.MaxBytes)
	}

	if c.Listen != "" {
		if err := checkListen(c.Listen); err != nil {
			bad("listen", "%v", err)
		}
	}
	if c.WebhookSecretFile != "" {
		file("webhook_secret_file", c.WebhookSecretFile)
	}
	if c.Textfile != "" {
		if !strings.HasSuffix(c.Textfile, ".prom") {
			bad("textfile", "%s: must end in .prom (node_exporter's textfile collector reads only *.prom)", c.Textfile)
		} else if fi, err := os.Stat(filepath.Dir(c.Textfile)); err != nil || !fi.IsDir() {
			bad("textfile", "%s: directory does not exist", filepath.Dir(c.Textfile))
		}
	}
	if strings.TrimSpace(c.StateDir) == "" {
		bad("state_dir", "must not be empty")
	}
	return errors.Join(errs...)
}

// checkFile reports a config file that cannot be read, as
// "source.ssh_key: /etc/tend/deploy_key: no such file".
func (c *Config) checkFile(key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return c.errorf(key, "%s: no such file", path)
		case errors.As(err, &pe):
			return c.errorf(key, "%s: %v", path, pe.Err)
		default:
			return c.errorf(key, "%v", err)
		}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return c.errorf(key, "%s: is a directory, want a file", path)
	}
	return nil
}

// IsSSHURL reports whether a git URL is reached over ssh: ssh:// or git's
// scp-like form user@host:path.
func IsSSHURL(u string) bool {
	if strings.HasPrefix(u, "ssh://") || strings.HasPrefix(u, "git+ssh://") {
		return true
	}
	if strings.Contains(u, "://") {
		return false
	}
	// scp-like: a colon before the first slash, and not a bare path
	colon := strings.IndexByte(u, ':')
	slash := strings.IndexByte(u, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

func checkURL(u string) error {
	if scheme, _, ok := strings.Cut(u, "://"); ok {
		switch scheme {
		case "ssh", "git+ssh", "https", "http", "file":
			return nil
		}
		return fmt.Errorf("unsupported scheme %q in %q (want ssh://, https://, http://, file://, user@host:path or a path)", scheme, u)
	}
	return nil
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port, e.g. 127.0.0.1:9273 or :9273", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("invalid port %q in %q: want a number 0-65535", port, addr)
	}
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return fmt.Errorf("invalid host %q in %q: want an IP address or a host name", host, addr)
		}
	}
	return nil
}
