package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fuzzModules = map[string]bool{"copy": true, "file": true, "template": true, "command": true, "shell": true,
	"debug": true, "set_fact": true, "include_tasks": true, "import_tasks": true, "include_role": true, "import_role": true,
	"assert": true, "fail": true, "meta": true, "lineinfile": true, "service": true, "apt": true}

// FuzzPlaybook: no playbook file makes the loader panic; every problem comes
// back as an Error with a position. The file may import itself, roles and
// task files that do not exist: those are errors too.
func FuzzPlaybook(f *testing.F) {
	for _, glob := range []string{"../../test/corpus/*.yml", "../../playbooks/*.yml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{
		"- hosts: all\n  tasks:\n    - copy: src=a dest=/b mode=0644\n      loop: [1, 2]\n",
		"- import_playbook: site.yml\n", "- hosts: all\n  roles: [missing]\n",
		"- hosts: all\n  tasks:\n    - block:\n        - debug: msg=x\n      rescue: x\n      always: [1]\n",
		"- hosts: all\n  tasks:\n    - import_tasks: site.yml\n", "- {hosts: all, tasks: [{name: x, shell: 'a=\"b', args: 1}]}\n",
		"- hosts: all\n  vars_files: [[x]]\n",
		"- hosts: all\n  tasks:\n    - action: copy\n    - local_action: module=shell cmd=ls\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Contains(string(data), "/dev/") {
			return // an import of /dev/zero reads forever, as in Ansible
		}
		path := filepath.Join(t.TempDir(), "site.yml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		pb, err := Load(path, func(name string) bool { return fuzzModules[ShortName(name)] })
		if err == nil && pb == nil {
			t.Fatal("Load returned neither a playbook nor an error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error with no message")
		}
	})
}

// FuzzKV: Ansible's k=v free-form arguments and shell-like splitting never
// panic.
func FuzzKV(f *testing.F) {
	for _, s := range []string{`src=a dest="/b c" mode=0644`, `echo "a b" 'c' \"`, `a='unterminated`, `=x`, `{{ a }}=b c={{ "d e" }}`, `chdir=/tmp creates=x ls -l`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseKV(s, nil)
		_, _ = ParseKV(s, freeFormKeys("command"))
		_, _ = SplitArgs(s)
	})
}
