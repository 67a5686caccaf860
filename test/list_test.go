package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestListOptions: tend playbook --list-hosts, --list-tasks and --list-tags
// print what ansible-playbook prints, byte for byte (stdout and stderr
// together), on corpus playbooks with roles, dependencies, imports,
// includes, blocks, tags and host patterns that match nothing.
func TestListOptions(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook is not installed (test/install-deps.sh installs it)")
	}
	tend := tendBinary(t)
	corpus, err := filepath.Abs("corpus")
	if err != nil {
		t.Fatal(err)
	}
	playbooks := []string{"25-block-rescue-always", "30-roles-dependencies", "31-import-include-tasks",
		"32-import-include-role", "33-import-playbook", "39-tags-run", "56-limit-patterns", "62-group-by-add-host"}
	options := [][]string{
		{"--list-hosts", "--list-tasks", "--list-tags"},
		{"--list-tasks", "-t", "web,always", "--skip-tags", "never"},
		{"--list-hosts", "-l", "localhost"},
	}
	run := func(bin string, args ...string) string {
		if bin != "ansible-playbook" {
			args = append([]string{"playbook"}, args...)
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = corpus
		cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(corpus, "ansible.cfg"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out) + "\nerror: " + err.Error()
		}
		return string(out)
	}
	for _, pb := range playbooks {
		for _, opts := range options {
			args := append([]string{"-i", "inventory.ini", "-e", "root=/nowhere", pb + ".yml"}, opts...)
			want := run("ansible-playbook", args...)
			got := run(tend, args...)
			if got != want {
				t.Errorf("%s %s:\n--- ansible-playbook\n%s\n--- tend\n%s", pb, strings.Join(opts, " "), want, got)
			}
		}
	}
}
