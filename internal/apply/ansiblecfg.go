package apply

import (
	"os"
	"path/filepath"
	"time"

	"github.com/tend-project/tend/internal/ansiblecfg"
)

// Resolved fills what req leaves unset from Ansible's configuration:
// ansible.cfg (looked for in req.AnsibleCfgDir, with $ANSIBLE_CONFIG,
// ~/.ansible.cfg and /etc/ansible/ansible.cfg, as Ansible looks) and the
// ANSIBLE_* variables. A flag always wins, as with ansible-playbook.
// Without AnsibleCfgDir only $ANSIBLE_ROLES_PATH is read. A bad setting is
// an error naming it; nothing has run then.
func (req Request) Resolved() (Request, error) {
	if req.resolved {
		return req, nil
	}
	req.resolved = true
	if req.AnsibleCfgDir == "" {
		if len(req.RolesPath) == 0 {
			if v := os.Getenv("ANSIBLE_ROLES_PATH"); v != "" {
				req.RolesPath = filepath.SplitList(v)
			}
		}
		return req, nil
	}
	cfg, err := ansiblecfg.Load(req.AnsibleCfgDir)
	if err != nil {
		return req, err
	}
	req.AnsibleCfgPath = cfg.Path
	if len(req.Inventories) == 0 {
		req.Inventories = cfg.Inventory
	}
	if len(req.RolesPath) == 0 {
		req.RolesPath = cfg.RolesPath
	}
	if req.RemoteUser == "" {
		req.RemoteUser = cfg.RemoteUser
	}
	if req.PrivateKey == "" {
		req.PrivateKey = cfg.PrivateKeyFile
	}
	if req.Forks == 0 {
		req.Forks = cfg.Forks
	}
	if req.Timeout == 0 && cfg.Timeout > 0 {
		req.Timeout = time.Duration(cfg.Timeout) * time.Second
	}
	if !req.Become && cfg.Become != nil {
		req.Become = *cfg.Become
	}
	if req.BecomeUser == "" {
		req.BecomeUser = cfg.BecomeUser
	}
	if req.VaultPasswordFile == "" && len(req.VaultIDs) == 0 {
		req.VaultPasswordFile = cfg.VaultPasswordFile
		req.VaultIDs = cfg.VaultIdentityList
	}
	if cfg.HostKeyChecking != nil && !*cfg.HostKeyChecking {
		// tend still refuses a host key that changed; it records an
		// unknown one, which is what host_key_checking=False is for
		req.AcceptHostKey = true
	}
	if req.Gathering == "" {
		req.Gathering = cfg.Gathering
	}
	return req, nil
}
