package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirListsPlaysThatNeedAnsible(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("playbooks/site.yml", `- name: web servers
  hosts: web
  tasks:
    - name: ini setting
      community.general.archive: {path: /etc/app, dest: /tmp/app.tgz}
    - name: a file
      copy: {dest: /etc/motd, content: hi}
- name: db servers
  hosts: db
  tasks:
    - name: native only
      copy: {dest: /etc/motd, content: hi}
`)
	write("playbooks/typo.yml", `- hosts: all
  tasks:
    - name: misspelled keyword next to a module
      copy: {dest: /etc/motd, content: hi}
      whn: false
`)
	res, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Playbooks != 2 {
		t.Errorf("%d playbooks checked, want 2", res.Playbooks)
	}
	if len(res.NeedsAnsible) != 1 || !strings.Contains(res.NeedsAnsible[0],
		`play "web servers" needs Ansible: module community.general.archive is not native (task "ini setting" at `) {
		t.Errorf("needs Ansible: %q", res.NeedsAnsible)
	}
	for _, p := range res.Problems {
		if strings.Contains(p, "archive") {
			t.Errorf("a module tend lacks is reported as a problem: %s", p)
		}
	}
	found := false
	for _, p := range res.Problems {
		if strings.Contains(p, "typo.yml") && strings.Contains(p, "whn") {
			found = true
		}
	}
	if !found {
		t.Errorf("the misspelled keyword is not a problem: %q", res.Problems)
	}
}

// TestDirReadsAnsibleCfg: roles found through the repo's roles_path are
// not "not found"; a bad ansible.cfg is a problem.
func TestDirReadsAnsibleCfg(t *testing.T) {
	t.Setenv("ANSIBLE_CONFIG", "")
	os.Unsetenv("ANSIBLE_CONFIG")
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	for rel, s := range map[string]string{
		"ansible.cfg":                      "[defaults]\nroles_path = shared/roles\n",
		"shared/roles/base/tasks/main.yml": "- copy: {dest: /etc/motd, content: hi}\n",
		"site.yml":                         "- hosts: all\n  roles: [base]\n",
	} {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 {
		t.Errorf("problems %v: the role is on roles_path", res.Problems)
	}
	os.WriteFile(filepath.Join(dir, "ansible.cfg"), []byte("[defaults]\nforks = x\n"), 0o644)
	res, _ = Dir(dir)
	if len(res.Problems) == 0 || !strings.Contains(strings.Join(res.Problems, "\n"), "forks") {
		t.Errorf("a bad ansible.cfg: problems %v", res.Problems)
	}
}
