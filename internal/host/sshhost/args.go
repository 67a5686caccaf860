package sshhost

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
)

// ApplySSHArgs reads the ssh(1) options an Ansible inventory passes in
// ansible_ssh_common_args / ansible_ssh_extra_args into cfg: -o
// UserKnownHostsFile=, StrictHostKeyChecking= (no and accept-new record new
// keys; a changed key is always refused), ProxyJump=, Port=, User=,
// IdentityFile=, ConnectTimeout=, and -J, -p, -l, -i. Options that only tune
// OpenSSH's own client (ControlMaster, ServerAliveInterval, -C, -v, ...)
// are ignored; ProxyCommand is refused.
func ApplySSHArgs(cfg *Config, args string) error {
	words, err := host.SplitShell(args)
	if err != nil {
		return fmt.Errorf("ssh args %q: %w", args, err)
	}
	withValue := "BbcDEeFIiJLlmOopQRSWw"
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || len(w) < 2 {
			return fmt.Errorf("ssh args %q: unexpected word %q", args, w)
		}
		flag := w[1]
		val := w[2:]
		if strings.IndexByte(withValue, flag) >= 0 && val == "" {
			if i+1 >= len(words) {
				return fmt.Errorf("ssh args %q: %s needs a value", args, w)
			}
			i++
			val = words[i]
		}
		switch flag {
		case 'o':
			k, v, ok := strings.Cut(val, "=")
			if !ok {
				k, v, _ = strings.Cut(strings.TrimSpace(val), " ")
			}
			if err := applyOption(cfg, strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
				return fmt.Errorf("ssh args %q: %w", args, err)
			}
		case 'J':
			cfg.ProxyJump = val
		case 'p':
			if err := applyOption(cfg, "Port", val); err != nil {
				return err
			}
		case 'l':
			cfg.User = val
		case 'i':
			cfg.KeyFiles = append(cfg.KeyFiles, val)
		}
	}
	return nil
}

func applyOption(cfg *Config, key, val string) error {
	switch strings.ToLower(key) {
	case "userknownhostsfile":
		cfg.KnownHostsFiles = append(cfg.KnownHostsFiles, strings.Fields(val)...)
	case "stricthostkeychecking":
		switch strings.ToLower(val) {
		case "no", "off", "accept-new":
			cfg.AcceptNewHostKey = true
		case "yes", "ask":
			cfg.AcceptNewHostKey = false
		default:
			return fmt.Errorf("StrictHostKeyChecking=%s: want yes, no or accept-new", val)
		}
	case "proxyjump":
		cfg.ProxyJump = val
	case "port":
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 || n > 65535 {
			return fmt.Errorf("bad port %q", val)
		}
		cfg.Port = n
	case "user":
		cfg.User = val
	case "identityfile":
		cfg.KeyFiles = append(cfg.KeyFiles, val)
	case "connecttimeout":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("bad ConnectTimeout %q", val)
		}
		cfg.ConnectTimeout = time.Duration(n) * time.Second
	case "proxycommand":
		return fmt.Errorf("ProxyCommand is not supported: use ProxyJump (-J)")
	}
	return nil
}
