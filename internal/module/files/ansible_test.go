package files

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestGoldenAgainstAnsible runs every golden case through the real
// ansible-playbook (one play, one task per case) and checks that Ansible
// reaches the same changed/failed result and the same tree as the golden.
func TestGoldenAgainstAnsible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the ansible-playbook comparison")
	}
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook (Debian package ansible-core) is not installed")
	}
	files, _ := filepath.Glob("testdata/*.txtar")
	base := t.TempDir()
	type tc struct {
		name, dir string
		ar        *txtarArchive
	}
	var cases []tc
	var tasks []map[string]any
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		ar, err := parseTxtar(file)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(base, name)
		os.MkdirAll(dir, 0755)
		argsText, _ := section(ar, "args.yaml")
		var ca caseArgs
		if err := yaml.Unmarshal([]byte(strings.ReplaceAll(argsText, "$DIR", dir)), &ca); err != nil {
			t.Fatal(err)
		}
		treeIn, _ := section(ar, "tree.in")
		buildTree(t, dir, ar, treeIn)
		args := map[string]any{}
		for k, v := range ca.Args {
			args[k] = v
		}
		if src, ok := args["src"].(string); ok && !filepath.IsAbs(src) && (ca.Module == "copy" || ca.Module == "template") {
			kind := map[string]string{"copy": "files", "template": "templates"}[ca.Module]
			args["src"] = filepath.Join(dir, kind, src)
			if strings.HasSuffix(src, "/") {
				args["src"] = args["src"].(string) + "/"
			}
		}
		tasks = append(tasks, map[string]any{"name": name, ca.Module: args, "ignore_errors": true})
		cases = append(cases, tc{name, dir, ar})
	}
	play := []map[string]any{{"hosts": "localhost", "gather_facts": false, "vars": map[string]any{"name": "world"}, "tasks": tasks}}
	data, _ := yaml.Marshal(play)
	pb := filepath.Join(base, "play.yml")
	os.WriteFile(pb, data, 0644)
	cmd := exec.Command("ansible-playbook", "-c", "local", "-i", "localhost,", pb)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_STDOUT_CALLBACK=json", "ANSIBLE_LOCALHOST_WARNING=0")
	out, _ := cmd.Output()
	var res struct {
		Plays []struct {
			Tasks []struct {
				Task  struct{ Name string }
				Hosts map[string]struct {
					Changed bool
					Failed  bool
					Msg     any
				}
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Plays) == 0 {
		t.Fatalf("ansible-playbook output: %v\n%s", err, out)
	}
	got := map[string]int{}
	for i, task := range res.Plays[0].Tasks {
		got[task.Task.Name] = i
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i, ok := got[c.name]
			if !ok {
				t.Fatal("ansible did not run the task")
			}
			a := res.Plays[0].Tasks[i].Hosts["localhost"]
			w, _ := section(c.ar, "want.yaml")
			var wt want
			yaml.Unmarshal([]byte(w), &wt)
			if a.Failed != wt.Failed || (!a.Failed && a.Changed != wt.Changed) {
				t.Errorf("ansible: changed=%v failed=%v msg=%v; golden: changed=%v failed=%v msg=%q", a.Changed, a.Failed, a.Msg, wt.Changed, wt.Failed, wt.Msg)
			}
			if msg, _ := a.Msg.(string); strings.ReplaceAll(msg, c.dir, "$DIR") != wt.Msg && !strings.HasPrefix(wt.Msg, "value of ") && !strings.HasPrefix(wt.Msg, "missing required") {
				t.Errorf("ansible msg %q, golden %q", msg, wt.Msg)
			}
			tree, _ := section(c.ar, "tree")
			if got := normalize(c.dir, snapshot(t, c.dir)); got != tree {
				t.Errorf("tree after ansible:\n%s\ngolden:\n%s", got, tree)
			}
		})
	}
}
