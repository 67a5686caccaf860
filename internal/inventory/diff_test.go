package inventory

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ansibleDump is what testdata/ansible_dump.py prints: ansible-core's own
// view of an inventory (VariableManager vars as ansible-inventory --host
// shows them, groups, group_names, and host patterns).
type ansibleDump struct {
	Hosts      []string                  `json:"hosts"`
	Vars       map[string]map[string]any `json:"vars"`
	Groups     map[string][]string       `json:"groups"`
	GroupNames map[string][]string       `json:"group_names"`
	Patterns   map[string]any            `json:"patterns"`
}

var diffPatterns = []string{
	"all", "*", "ungrouped", "web", "web*", "prod:&db", "prod:!web02", "~db-[ab]",
	"web[0]", "web[1:]", "web[-1]", "web[0:1]", "localhost", "127.0.0.1", "edge", "db,web01",
	"app", "app:!app_canary", "app*", "*.example.com", "data:alpha", "all:!bastion",
	"&app", "!app", "lb", "backend:&lb", "merged", "nosuch", "nosuch:web", "?b*",
	"~(app|pg)\\d", "app[5]", "lb[1]", "tricky", "second", "10.1.2.*", "second:&app", "app_canary[0]",
}

func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAgainstAnsible loads each testdata inventory with this package and
// with ansible-core, and compares hosts, variables, groups and patterns.
func TestAgainstAnsible(t *testing.T) {
	if _, err := exec.LookPath("ansible-inventory"); err != nil {
		t.Skip("ansible-inventory (ansible-core) is not installed")
	}
	pats, _ := json.Marshal(diffPatterns)
	for _, srcs := range [][]string{
		{"ini/hosts.ini"}, {"yaml/hosts.yml"}, {"dir"}, {"web1,web2:2222,localhost"},
		{"yaml/hosts.yml", "ini/hosts.ini", "dir"},
	} {
		t.Run(strings.Join(srcs, "+"), func(t *testing.T) {
			var paths []string
			for _, src := range srcs {
				path := src
				if _, err := os.Stat(filepath.Join("testdata", src)); err == nil {
					path, _ = filepath.Abs(filepath.Join("testdata", src))
				}
				paths = append(paths, path)
			}
			cmd := exec.Command("/usr/bin/python3", append([]string{"testdata/ansible_dump.py", string(pats)}, paths...)...)
			cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ansible_dump.py: %v", err)
			}
			var want ansibleDump
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("decode ansible output: %v\n%s", err, out)
			}
			inv, err := Load(paths, Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := inv.Hosts(); !reflect.DeepEqual(got, want.Hosts) {
				t.Errorf("Hosts() = %v, ansible: %v", got, want.Hosts)
			}
			for host, wantVars := range want.Vars {
				got, err := inv.HostVars(host, "")
				if err != nil {
					t.Errorf("HostVars(%s): %v", host, err)
					continue
				}
				delete(got, "inventory_file")
				delete(got, "inventory_dir")
				if g, w := normalize(t, got), normalize(t, wantVars); !reflect.DeepEqual(g, w) {
					t.Errorf("HostVars(%s):\n got %v\nwant %v", host, g, w)
				}
				if g, w := inv.GroupNames(host), want.GroupNames[host]; !reflect.DeepEqual(g, w) {
					t.Errorf("GroupNames(%s) = %v, ansible: %v", host, g, w)
				}
			}
			if g, w := normalize(t, inv.Groups()), normalize(t, want.Groups); !reflect.DeepEqual(g, w) {
				t.Errorf("Groups():\n got %v\nwant %v", g, w)
			}
			for _, p := range diffPatterns {
				got, err := inv.Match(p)
				var g any = normalize(t, got)
				if got == nil {
					g = []any{}
				}
				if err != nil {
					g = "error"
				}
				w := want.Patterns[p]
				if s, ok := w.(string); ok && len(s) > 6 && s[:6] == "error:" {
					w = "error"
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("Match(%q) = %v, ansible: %v", p, g, w)
				}
			}
		})
	}
}

// TestAgainstAnsibleCLI checks a few answers against the ansible and
// ansible-inventory commands themselves.
func TestAgainstAnsibleCLI(t *testing.T) {
	if _, err := exec.LookPath("ansible"); err != nil {
		t.Skip("ansible (ansible-core) is not installed")
	}
	src := filepath.Join("testdata", "yaml", "hosts.yml")
	inv, err := Load([]string{src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ansible-inventory", "-i", src, "--host", "app-special").Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v", err)
	}
	var want map[string]any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	got, err := inv.HostVars("app-special", "")
	if err != nil {
		t.Fatal(err)
	}
	delete(got, "inventory_file")
	delete(got, "inventory_dir")
	if g := normalize(t, got); !reflect.DeepEqual(g, any(want)) {
		t.Errorf("HostVars(app-special) = %v, ansible-inventory --host: %v", g, want)
	}

	out, err = exec.Command("ansible", "-i", src, "app:!app_canary", "--list-hosts").Output()
	if err != nil {
		t.Fatalf("ansible --list-hosts: %v", err)
	}
	// "  hosts (3):\n    app2.example.com\n..."
	var listed []string
	for _, l := range strings.Split(string(out), "\n")[1:] {
		if l = strings.TrimSpace(l); l != "" {
			listed = append(listed, l)
		}
	}
	matched, err := inv.Match("app:!app_canary")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(matched, listed) {
		t.Errorf("Match = %v, ansible --list-hosts: %v", matched, listed)
	}
}
