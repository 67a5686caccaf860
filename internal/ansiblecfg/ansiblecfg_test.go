package ansiblecfg

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// isolate clears what Find looks at outside dir: ANSIBLE_* variables and
// the home directory.
func isolate(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ANSIBLE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", t.TempDir())
}

func writeCfg(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	p := writeCfg(t, dir, `# a repo's ansible.cfg
[defaults]
inventory = inventory/hosts.yml, /etc/extra.ini
roles_path = roles:../shared/roles:/opt/roles
REMOTE_USER = deploy ; who we log in as
private_key_file = keys/id_ed25519
forks = 20
timeout: 30
host_key_checking = False
vault_password_file = ~/.vault_pass
vault_identity_list = prod@prod.pass, dev@dev.pass
gathering = explicit
ssh_args = -o ControlPath=/tmp/#x

[privilege_escalation]
become = yes
become_user = "admin"
`)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	f := false
	tr := true
	want := &Config{Path: p,
		Inventory:         []string{filepath.Join(dir, "inventory/hosts.yml"), "/etc/extra.ini"},
		RolesPath:         []string{filepath.Join(dir, "roles"), filepath.Join(filepath.Dir(dir), "shared/roles"), "/opt/roles"},
		RemoteUser:        "deploy",
		PrivateKeyFile:    filepath.Join(dir, "keys/id_ed25519"),
		Forks:             20,
		Timeout:           30,
		HostKeyChecking:   &f,
		VaultPasswordFile: filepath.Join(home, ".vault_pass"),
		VaultIdentityList: []string{"prod@prod.pass", "dev@dev.pass"},
		Gathering:         "explicit",
		Become:            &tr,
		BecomeUser:        "admin",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
	}

	// a variable wins over the file; its relative paths are the working directory's
	t.Setenv("ANSIBLE_ROLES_PATH", "envroles")
	t.Setenv("ANSIBLE_FORKS", "3")
	c, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	if !reflect.DeepEqual(c.RolesPath, []string{filepath.Join(cwd, "envroles")}) || c.Forks != 3 {
		t.Errorf("environment: roles %v forks %d", c.RolesPath, c.Forks)
	}
}

func TestFind(t *testing.T) {
	isolate(t)
	if _, err := os.Stat("/etc/ansible/ansible.cfg"); err == nil {
		t.Skip("/etc/ansible/ansible.cfg exists on this machine")
	}
	dir := t.TempDir()
	if got := Find(dir); got != "" {
		t.Errorf("Find with no file = %q", got)
	}
	p := writeCfg(t, dir, "[defaults]\n")
	if got := Find(dir); got != p {
		t.Errorf("Find = %q, want %q", got, p)
	}
	// a world-writable directory's ansible.cfg is not read, as in Ansible
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if got := Find(dir); got != "" {
		t.Errorf("Find in a world-writable dir = %q, want none", got)
	}
	other := t.TempDir()
	op := writeCfg(t, other, "[defaults]\n")
	t.Setenv("ANSIBLE_CONFIG", other) // a directory holding ansible.cfg
	if got := Find(dir); got != op {
		t.Errorf("Find with ANSIBLE_CONFIG = %q, want %q", got, op)
	}
	home, _ := os.UserHomeDir()
	os.Unsetenv("ANSIBLE_CONFIG")
	hp := filepath.Join(home, ".ansible.cfg")
	if err := os.WriteFile(hp, []byte("[defaults]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Find(dir); got != hp {
		t.Errorf("Find = %q, want ~/.ansible.cfg", got)
	}
}

func TestLoadBadInput(t *testing.T) {
	isolate(t)
	for _, text := range []string{
		"[defaults]\nforks = many\n",
		"[defaults]\nhost_key_checking = perhaps\n",
		"[defaults]\ngathering = sometimes\n",
		"[defaults\nforks = 1\n",
	} {
		dir := t.TempDir()
		p := writeCfg(t, dir, text)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %v, want one naming %s", text, err, p)
		}
	}
}
