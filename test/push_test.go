package test

// Push mode end to end: real OpenSSH sshd servers on 127.0.0.1 ports (one
// per inventory host), `tend playbook` over SSH+SFTP compared with
// ansible-playbook over the same servers — same files, per-task statuses and
// recaps, changed=0 on a second run — plus a server killed mid-run and a
// part of the differential corpus in push mode.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/testsupport/sshd"
)

// fleet is n sshd servers that let root log in with one key, and an INI
// inventory naming them h1..hn.
type fleet struct {
	servers   []*sshd.Server
	inventory string
}

func startFleet(t *testing.T, n int, names ...string) fleet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("push-mode tests log in as root over SSH and need to run as root")
	}
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook not found: install Debian's ansible-core")
	}
	dir := t.TempDir()
	key := sshd.NewKey(t, dir, "client")
	servers := sshd.StartN(t, n, sshd.Options{AuthorizedKeys: []string{key.Line}, Users: []string{"root"}})
	kh := sshd.KnownHosts(t, dir, servers...)
	var b strings.Builder
	b.WriteString("[targets]\n")
	for i, s := range servers {
		name := fmt.Sprintf("h%d", i+1)
		if i < len(names) {
			name = names[i]
		}
		fmt.Fprintf(&b, "%s ansible_host=%s ansible_port=%d ansible_user=root ansible_ssh_private_key_file=%s ansible_ssh_common_args='-o UserKnownHostsFile=%s' ansible_python_interpreter=/usr/bin/python3\n",
			name, s.Host, s.Port, key.Private, kh)
	}
	inv := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(inv, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return fleet{servers: servers, inventory: inv}
}

// pushEnv makes ansible-playbook faster over SSH without changing results.
var pushEnv = []string{"ANSIBLE_PIPELINING=1", "ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=60s"}

func pushTools(t *testing.T) (ref, cand Tool) {
	callbacks, err := filepath.Abs(filepath.Join("..", "internal", "ansible", "callback"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "ansible.cfg") // no machine config applies
	if err := os.WriteFile(cfg, []byte("[defaults]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Ansible{CallbackDir: callbacks, Connection: "ssh", Config: cfg}, &Tend{Bin: tendBinary(t), Connection: "ssh"}
}

func TestPushMatchesAnsible(t *testing.T) {
	f := startFleet(t, 3)
	ref, cand := pushTools(t)
	pb, err := filepath.Abs(filepath.Join("push", "site.yml"))
	if err != nil {
		t.Fatal(err)
	}
	inv := Invocation{Playbook: pb, Inventory: f.inventory, Args: []string{"-f", "5"}, Env: pushEnv}
	c := &diffCase{t: t, name: "push", ref: ref, cand: cand, sum: &summary{rows: map[string]string{}}}
	rootA, rootB := t.TempDir(), t.TempDir()
	for _, phase := range []string{"first run", "second run"} {
		a, b, ok := c.runBoth(phase, inv, rootA, rootB, false)
		if !ok {
			return
		}
		if !c.compare(phase, a, b, rootA, rootB) {
			t.Logf("tend stderr:\n%s", tail(b.Stderr, 20))
			return
		}
		if a.ExitCode != 0 {
			t.Fatalf("%s: ansible-playbook exited %d:\n%s", phase, a.ExitCode, tail(a.Stdout+a.Stderr, 20))
		}
		changed := b.Report.Totals().Changed
		switch {
		case phase == "first run" && changed == 0:
			t.Errorf("first run changed nothing")
		case phase == "second run" && changed != 0:
			t.Errorf("second run: tend changed=%d, want 0:\n%s", changed, strings.Join(changedLines(b), "\n"))
		}
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		got, err := os.ReadFile(filepath.Join(rootB, h, "etc", "motd.copy"))
		if err != nil || string(got) != "hello "+h+" (copied)\n" {
			t.Errorf("%s: motd.copy = %q, %v", h, got, err)
		}
	}
}

func TestPushServerKilledMidRun(t *testing.T) {
	f := startFleet(t, 3)
	_, cand := pushTools(t)
	root := t.TempDir()
	pb := filepath.Join(t.TempDir(), "kill.yml")
	os.WriteFile(pb, []byte(`- hosts: all
  gather_facts: false
  tasks:
    - copy: {dest: "{{ root }}/{{ inventory_hostname }}.1", content: "one\n"}
    - command: sleep 2
    - copy: {dest: "{{ root }}/{{ inventory_hostname }}.2", content: "two\n"}
    - command: "true"
`), 0o644)
	// Kill h2's server once its first task is done.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	killed := make(chan bool, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(root, "h2.1")); err == nil {
				f.servers[1].Kill()
				killed <- true
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		killed <- false
	}()
	start := time.Now()
	out, err := cand.Run(context.Background(), Invocation{Playbook: pb, Inventory: f.inventory, Root: root, Args: []string{"-f", "5"}})
	cancel()
	if err != nil {
		t.Fatalf("tend: %v\n%s", err, out.Stderr)
	}
	if !<-killed {
		t.Fatal("h2's first task never wrote its file")
	}
	if out.ExitCode != 4 {
		t.Errorf("exit code %d, want 4 (a host unreachable)", out.ExitCode)
	}
	st := out.Report.Stats
	if st["h2"].Unreachable != 1 || st["h1"].Unreachable != 0 || st["h3"].Unreachable != 0 {
		t.Errorf("recap %v: want h2 unreachable=1 and the others reachable", RecapLines(out.Report))
	}
	for _, h := range []string{"h1", "h3"} {
		if st[h].OK != 4 || st[h].Failed != 0 {
			t.Errorf("%s carried on? recap %+v, want ok=4", h, st[h])
		}
		if _, err := os.Stat(filepath.Join(root, h+".2")); err != nil {
			t.Errorf("%s did not carry on after h2 died: %v", h, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "h2.2")); err == nil {
		t.Error("h2 ran a task after its server died")
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("run took %v: the dead host was waited for", d)
	}
}

// pushCorpus is the part of the differential corpus that also runs in push
// mode: the file modules and commands, whose results depend on the host.
var pushCorpus = []string{
	"01-file-directory", "03-file-links", "04-file-modes", "05-copy-content", "06-copy-src-file",
	"09-copy-validate", "10-template-basic", "12-lineinfile-regexp", "15-blockinfile", "16-replace",
	"18-command", "19-shell", "26-handlers", "60-environment-keywords",
}

// sshInventory swaps the corpus's local inventory for the SSH fleet.
type sshInventory struct {
	Tool
	local, ssh string
}

func (s sshInventory) Run(ctx context.Context, inv Invocation) (*Outcome, error) {
	if inv.Inventory == s.local {
		inv.Inventory = s.ssh
	}
	inv.Env = append(append([]string(nil), inv.Env...), pushEnv...)
	return s.Tool.Run(ctx, inv)
}

func TestPushDifferentialCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the push-mode corpus takes minutes (ansible-playbook over SSH)")
	}
	f := startFleet(t, 1, "localhost")
	ref, cand := pushTools(t)
	corpus, err := filepath.Abs("corpus")
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(corpus, "inventory.ini")
	// The corpus plays target the group corpus.
	b, _ := os.ReadFile(f.inventory)
	os.WriteFile(f.inventory, []byte(strings.Replace(string(b), "[targets]", "[corpus]", 1)), 0o600)
	ref = sshInventory{Tool: ref, local: local, ssh: f.inventory}
	cand = sshInventory{Tool: cand, local: local, ssh: f.inventory}
	sum := &summary{rows: map[string]string{}}
	t.Cleanup(func() { printSummary(t, pushCorpus, sum) })
	for _, name := range pushCorpus {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(corpus, name+".yml")); err != nil {
				t.Skipf("corpus playbook %s.yml is gone", name)
			}
			c := &diffCase{t: t, name: name, corpus: corpus, ref: ref, cand: cand, sum: sum}
			c.run()
			if !t.Failed() {
				sum.set(name, "PASS")
			} else {
				sum.set(name, "FAIL")
			}
		})
	}
}
