package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnsibleCfg: a repository's ansible.cfg (inventory, roles_path,
// gathering, a vault password file, a world-writable directory) means the
// same to tend playbook as to ansible-playbook, both run in that
// directory with no -i and no flags.
func TestAnsibleCfg(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook is not installed (test/install-deps.sh installs it)")
	}
	tend := tendBinary(t)
	files := map[string]string{
		"ansible.cfg": `[defaults]
inventory = inventory/hosts.ini ; the repo's own inventory
roles_path = shared/roles:roles
gathering = explicit
vault_password_file = secret/vault.pass
`,
		"inventory/hosts.ini": "[web]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3 site=cfg-site\n",
		"shared/roles/greet/tasks/main.yml": `- name: the role found through roles_path
  copy:
    dest: "{{ root }}/greet.txt"
    content: "site={{ site }} facts={{ ansible_facts.keys() | list | length }} secret={{ secret }}\n"
`,
		"secret/vault.pass": "pw\n",
		"site.yml": `- hosts: web
  roles: [greet]
`,
	}
	run := func(t *testing.T, bin string, dir, root string, extra ...string) (string, string) {
		t.Helper()
		args := append(extra, "-e", "root="+root, "site.yml")
		if bin != "ansible-playbook" {
			args = append([]string{"playbook"}, args...)
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		// only the directory's ansible.cfg: no ANSIBLE_CONFIG, an empty home
		cmd.Env = append(filterEnv(os.Environ(), "ANSIBLE_CONFIG", "ANSIBLE_ROLES_PATH", "ANSIBLE_INVENTORY"), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), err.Error()
		}
		b, err := os.ReadFile(filepath.Join(root, "greet.txt"))
		if err != nil {
			return string(out), err.Error()
		}
		return string(out), string(b)
	}
	setup := func(t *testing.T, perm os.FileMode) string {
		dir := t.TempDir()
		for name, content := range files {
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// a vaulted variable in group_vars, encrypted by ansible-vault itself
		vaulted := exec.Command("ansible-vault", "encrypt_string", "--name", "secret", "s3cret") // the password file named in ansible.cfg
		vaulted.Dir = dir
		out, err := vaulted.Output()
		if err != nil {
			t.Fatalf("ansible-vault: %v", err)
		}
		os.MkdirAll(filepath.Join(dir, "inventory/group_vars"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "inventory/group_vars/web.yml"), out, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, perm); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	dir := setup(t, 0o755)
	ansOut, ansFile := run(t, "ansible-playbook", dir, t.TempDir())
	tendOut, tendFile := run(t, tend, dir, t.TempDir())
	const want = "site=cfg-site facts=0 secret=s3cret\n"
	if ansFile != want {
		t.Fatalf("ansible-playbook wrote %q, want %q (the test's premise)\n%s", ansFile, want, ansOut)
	}
	if tendFile != ansFile {
		t.Errorf("tend wrote %q, ansible-playbook %q\n%s", tendFile, ansFile, tendOut)
	}

	// A flag wins over the file, as with ansible-playbook.
	_, tendFile = run(t, tend, dir, t.TempDir(), "-i", "localhost,", "-c", "local")
	if !strings.Contains(tendFile, "no such file") && !strings.Contains(tendFile, "exit status") {
		t.Errorf("with -i localhost, the play on group web ran anyway: %q", tendFile)
	}

	// Neither reads ansible.cfg from a world-writable directory.
	open := setup(t, 0o777)
	_, ansFile = run(t, "ansible-playbook", open, t.TempDir())
	_, tendFile = run(t, tend, open, t.TempDir())
	if ansFile == want || tendFile == want {
		t.Errorf("ansible.cfg in a world-writable directory was read: ansible %q, tend %q", ansFile, tendFile)
	}

	// A bad setting is an error naming it, before anything runs.
	bad := setup(t, 0o755)
	os.WriteFile(filepath.Join(bad, "ansible.cfg"), []byte("[defaults]\nforks = many\n"), 0o644)
	root := t.TempDir()
	out, res := run(t, tend, bad, root)
	if !strings.Contains(out, "forks") || !strings.Contains(out, "ansible.cfg") || res == want {
		t.Errorf("bad forks: output %q, result %q; want an error naming forks and the file", out, res)
	}
}

// filterEnv drops the named variables from env.
func filterEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
