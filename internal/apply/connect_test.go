package apply

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSSHConfigPrecedence(t *testing.T) {
	req := Request{RemoteUser: "cliuser", PrivateKey: "/cli/key", Become: true, SSHCommonArgs: "-o UserKnownHostsFile=/cli/kh", Timeout: 3 * time.Second}
	cfg, err := SSHConfig(req, "web1", map[string]any{
		"ansible_host": "10.0.0.5", "ansible_port": 2222, "ansible_user": "deploy",
		"ansible_ssh_private_key_file": "/inv/key", "ansible_become": "no",
		"ansible_ssh_common_args": "-o UserKnownHostsFile=/inv/kh -J bastion", "ansible_timeout": "20",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "10.0.0.5" || cfg.Port != 2222 || cfg.User != "deploy" || cfg.Become ||
		cfg.KeyFiles[0] != "/inv/key" || cfg.KnownHostsFiles[0] != "/inv/kh" || len(cfg.KnownHostsFiles) != 1 ||
		cfg.ProxyJump != "bastion" || cfg.ConnectTimeout != 20*time.Second || cfg.Name != "web1" {
		t.Errorf("inventory vars did not win: %+v", cfg)
	}
	cfg, err = SSHConfig(req, "web2", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "web2" || cfg.User != "cliuser" || !cfg.Become || cfg.KeyFiles[0] != "/cli/key" ||
		cfg.KnownHostsFiles[0] != "/cli/kh" || cfg.ConnectTimeout != 3*time.Second {
		t.Errorf("command line not used: %+v", cfg)
	}
	if _, err := SSHConfig(req, "x", map[string]any{"ansible_port": "http"}); err == nil {
		t.Error("a bad port was accepted")
	}
	if _, err := SSHConfig(req, "x", map[string]any{"ansible_become": true, "ansible_become_method": "su"}); err == nil {
		t.Error("become method su was accepted")
	}
}

func TestConnectorUnreachable(t *testing.T) {
	connect, closeAll := NewConnector(Request{})
	defer closeAll()
	_, err := connect(context.Background(), "bad", map[string]any{"ansible_connection": "ssh", "ansible_port": "nope"})
	var u interface{ Unreachable() bool }
	if !errors.As(err, &u) || !u.Unreachable() {
		t.Errorf("bad connection settings: %v, want an unreachable error", err)
	}
	h, err := connect(context.Background(), "localhost", map[string]any{})
	if err != nil || !h.Local() {
		t.Errorf("implicit localhost: %v, %v", h, err)
	}
}
