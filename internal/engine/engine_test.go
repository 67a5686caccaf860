package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/inventory"
	"github.com/tend-project/tend/internal/report"

	_ "github.com/tend-project/tend/internal/module/all" // copy, command, ...
)

// The engine's own tests run playbooks on several local hosts at once, so
// that `go test -race ./internal/engine` (in CI) sees the code that runs
// hosts in parallel and the code that changes shared state between tasks:
// group_by and add_host (the inventory), set_fact in loops, delegate_facts,
// throttle. What each feature means is checked against Ansible by the
// differential corpus (test/corpus); here the results are checked directly.

const parallelPlaybook = `
- name: change shared state from many hosts
  hosts: fleet
  gather_facts: false
  environment:
    FROM_PLAY: play
  tasks:
    - name: group by parity
      group_by:
        key: "parity_{{ num | int % 2 }}"
    - name: accumulate over a loop
      set_fact:
        acc: "{{ (acc | default([])) + [item] }}"
      loop: [1, 2, 3]
    - name: one extra host, once
      add_host:
        name: extra
        groups: [added]
        ansible_connection: local
    - name: facts for the first host, from everyone
      set_fact:
        seen_by: "{{ inventory_hostname }}"
      delegate_to: h0
      delegate_facts: true
    - name: throttled writes
      shell: echo "$FROM_PLAY {{ inventory_hostname }}" > "{{ root }}/{{ inventory_hostname }}.env"
      throttle: 2
    - name: what each host sees
      copy:
        dest: "{{ root }}/{{ inventory_hostname }}.txt"
        content: "{{ group_names | join(',') }}|{{ acc | join(',') }}|{{ groups['added'] | join(',') }}|{{ groups['parity_0'] | length }}\n"

- name: the groups made above
  hosts: parity_0:added
  gather_facts: false
  tasks:
    - name: mark
      copy:
        dest: "{{ root }}/second-{{ inventory_hostname }}.txt"
        content: "{{ seen_by | default('-') }}\n"
`

// collect is a report.Sink that keeps the results.
type collect struct {
	results []report.TaskResult
	warns   []string
}

func (c *collect) PlayStart(string, []string)     {}
func (c *collect) TaskStart(string, bool)         {}
func (c *collect) TaskResult(r report.TaskResult) { c.results = append(c.results, r) }
func (c *collect) Warn(m string)                  { c.warns = append(c.warns, m) }
func (c *collect) End(*report.Report)             {}

func TestParallelHostsSharedState(t *testing.T) {
	dir := t.TempDir()
	root := t.TempDir()
	const hosts = 8
	var inv strings.Builder
	inv.WriteString("[fleet]\n")
	for i := 0; i < hosts; i++ {
		fmt.Fprintf(&inv, "h%d ansible_connection=local num=%d\n", i, i)
	}
	invPath := filepath.Join(dir, "hosts.ini")
	pbPath := filepath.Join(dir, "site.yml")
	if err := os.WriteFile(invPath, []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pbPath, []byte(parallelPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	iv, err := inventory.Load([]string{invPath}, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Load(pbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &collect{}
	rep, err := New(Options{Inventory: iv, Forks: hosts, Sink: sink, ExtraVars: map[string]any{"root": root}}).Run(context.Background(), pb)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sink.results {
		if r.Status == report.StatusFailed || r.Status == report.StatusUnreachable {
			t.Errorf("%s on %s: %s %s", r.Task, r.Host, r.Status, r.Msg)
		}
	}
	for i := 0; i < hosts; i++ {
		name := fmt.Sprintf("h%d", i)
		b, err := os.ReadFile(filepath.Join(root, name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("fleet,parity_%d|1,2,3|extra|%d\n", i%2, hosts/2)
		if string(b) != want {
			t.Errorf("%s sees %q, want %q", name, b, want)
		}
		env, _ := os.ReadFile(filepath.Join(root, name+".env"))
		if string(env) != "play "+name+"\n" {
			t.Errorf("%s's command saw environment %q", name, env)
		}
	}
	// the second play ran on the even hosts and the added one
	var second []string
	matches, _ := filepath.Glob(filepath.Join(root, "second-*.txt"))
	for _, m := range matches {
		second = append(second, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "second-"), ".txt"))
	}
	sort.Strings(second)
	if got := strings.Join(second, ","); got != "extra,h0,h2,h4,h6" {
		t.Errorf("second play ran on %s", got)
	}
	// delegate_facts: h0 holds a fact set by one of the hosts
	if b, _ := os.ReadFile(filepath.Join(root, "second-h0.txt")); !strings.HasPrefix(string(b), "h") {
		t.Errorf("h0's delegated fact: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "second-h2.txt")); string(b) != "-\n" {
		t.Errorf("h2 got a fact delegated to h0: %q", b)
	}
	if rep.Stats["h1"].Changed == 0 {
		t.Errorf("recap for h1: %+v", rep.Stats["h1"])
	}
}

// TestStartAtTaskNoMatch: a --start-at-task that names no task runs
// nothing and says so (a typo must not look like a clean run).
func TestStartAtTaskNoMatch(t *testing.T) {
	dir := t.TempDir()
	root := t.TempDir()
	pbPath := filepath.Join(dir, "site.yml")
	pb := "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: first\n      copy: {dest: \"{{ root }}/first\", content: x}\n"
	if err := os.WriteFile(pbPath, []byte(pb), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(pbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		start   string
		ran     bool
		warning bool
	}{{"firts", false, true}, {"fir*", true, false}} {
		sink := &collect{}
		os.Remove(filepath.Join(root, "first"))
		if _, err := New(Options{Sink: sink, StartAt: c.start, ExtraVars: map[string]any{"root": root}}).Run(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(filepath.Join(root, "first"))
		if (statErr == nil) != c.ran || (len(sink.warns) > 0) != c.warning {
			t.Errorf("--start-at-task %q: ran=%v warnings=%q", c.start, statErr == nil, sink.warns)
		}
	}
}
