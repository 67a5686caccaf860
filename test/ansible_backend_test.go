package test

// End-to-end tests of the Ansible backend: `tend playbook --backend
// auto|ansible` and the agent run the real ansible-playbook for modules tend
// lacks, and report the results in tend's own shape.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/testsupport/gitserver"

	_ "github.com/tend-project/tend/internal/module/all" // what is native
)

// notNative is a module tend does not implement; the tests need one. It is
// Ansible's own tempfile module installed as a playbook-adjacent collection
// (scratchPath), so no native module tend gains can take its place (tend
// has a native ansible.builtin.tempfile since session 3).
const notNative = "tendtest.scratch.tempfile"

// scratchPath is where notNative lives, relative to the playbook.
const scratchPath = "collections/ansible_collections/tendtest/scratch/plugins/modules/tempfile.py"

// scratchModule is the source of notNative: ansible-core's tempfile module.
func scratchModule(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/usr/lib/python3/dist-packages/ansible/modules/tempfile.py")
	if err != nil {
		t.Skipf("ansible-core's tempfile module: %v", err)
	}
	return string(b)
}

func needAnsible(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook (Debian package ansible-core) is not installed")
	}
	if engine.IsAction(notNative) {
		t.Fatalf("%s is native now: pick another module for these tests", notNative)
	}
}

type cliRun struct {
	code           int
	stdout, stderr string
	rep            *report.Report
}

// runTend runs bin with args in dir; with -o json it decodes the report.
func runTend(t *testing.T, bin, dir string, env []string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliRun{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run %s: %v", bin, err)
	}
	for i, a := range args {
		if (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "json" && strings.TrimSpace(r.stdout) != "" {
			r.rep = &report.Report{}
			if err := json.Unmarshal(out.Bytes(), r.rep); err != nil {
				t.Fatalf("%s %v: stdout is not a report: %v\n%s\nstderr:\n%s", bin, args, err, r.stdout, r.stderr)
			}
		}
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func taskByName(rep *report.Report, name string) *report.TaskResult {
	for _, p := range rep.Plays {
		for i := range p.Tasks {
			if p.Tasks[i].Task == name {
				return &p.Tasks[i]
			}
		}
	}
	return nil
}

// TestAnsibleBackendAuto: a playbook with a module tend lacks runs under
// backend auto through ansible-playbook, and the report names what changed.
func TestAnsibleBackendAuto(t *testing.T) {
	needAnsible(t)
	bin := tendBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	writeFile(t, filepath.Join(dir, "pb.yml"), fmt.Sprintf(`- hosts: localhost
  gather_facts: false
  tasks:
    - name: out dir
      file: {path: %[1]s, state: directory}
    - name: temp file
      %[2]s: {path: %[1]s, suffix: .tmp}
      register: tf
    - name: remember it
      copy: {dest: %[1]s/which, content: "{{ tf.path }}"}
`, out, notNative))
	writeFile(t, filepath.Join(dir, scratchPath), scratchModule(t))

	// native alone refuses the module ...
	r := runTend(t, bin, dir, nil, "playbook", "--backend", "native", "-c", "local", "-i", "localhost,", "pb.yml")
	if r.code != 4 || !strings.Contains(r.stderr, notNative) {
		t.Fatalf("native: exit %d, want 4 naming %s; stderr:\n%s", r.code, notNative, r.stderr)
	}
	// ... auto hands the whole run to Ansible
	r = runTend(t, bin, dir, nil, "playbook", "--backend", "auto", "-c", "local", "-i", "localhost,", "-o", "json", "pb.yml")
	if r.code != 0 {
		t.Fatalf("auto: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	tmp, err := os.ReadFile(filepath.Join(out, "which"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(string(tmp)); err != nil || !strings.HasSuffix(string(tmp), ".tmp") {
		t.Fatalf("the temp file %q the run reported does not exist: %v", tmp, err)
	}
	tf := taskByName(r.rep, "temp file")
	if tf == nil || tf.Status != report.StatusChanged || tf.Action != notNative {
		t.Fatalf("temp file task: %+v", tf)
	}
	if len(tf.Resources) != 1 || tf.Resources[0].Kind != "file" || tf.Resources[0].ID != string(tmp) {
		t.Errorf("temp file resources: %+v, want file %s", tf.Resources, tmp)
	}
	if s := r.rep.Stats["localhost"]; s == nil || s.Changed != 3 || s.Failed != 0 || s.OK != 3 {
		t.Errorf("recap: %+v, want ok=3 changed=3", s)
	}

	// text output: tend's own printer, Ansible's layout
	r = runTend(t, bin, dir, nil, "playbook", "--backend", "auto", "-c", "local", "-i", "localhost,", "pb.yml")
	for _, want := range []string{"PLAY [localhost] ***", "TASK [temp file] ***", "changed: [localhost]", "PLAY RECAP ***", "ok=3    changed=2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}

	// validate names the play and why it needs Ansible, and is not a problem
	r = runTend(t, bin, dir, nil, "validate", "pb.yml")
	if r.code != 0 || !strings.Contains(r.stdout, `play "localhost" needs Ansible: module `+notNative+" is not native") {
		t.Errorf("validate: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// shape lists a report's structure without its values: per task its keys,
// status and changed flag, items' statuses, resource kinds and diff count.
func shape(t *testing.T, rep *report.Report) []string {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plays []struct {
			Name  string           `json:"name"`
			Tasks []map[string]any `json:"tasks"`
		} `json:"plays"`
		Stats map[string]any `json:"stats"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range doc.Plays {
		for _, task := range p.Tasks {
			keys := make([]string, 0, len(task))
			for k := range task {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			line := fmt.Sprintf("%s/%s: %s changed=%v keys=%v", p.Name, task["task"], task["status"], task["changed"], keys)
			if items, ok := task["items"].([]any); ok {
				for _, it := range items {
					m := it.(map[string]any)
					line += fmt.Sprintf(" item=%v:%v", m["item"], m["status"])
				}
			}
			if res, ok := task["resources"].([]any); ok {
				for _, x := range res {
					line += fmt.Sprintf(" res=%v", x.(map[string]any)["kind"])
				}
			}
			if d, ok := task["diff"].([]any); ok {
				line += fmt.Sprintf(" diffs=%d", len(d))
			}
			out = append(out, line)
		}
	}
	out = append(out, fmt.Sprintf("stats=%v", doc.Stats))
	return out
}

// TestAnsibleBackendSameShape: the same native-only playbook through
// backend native and backend ansible gives reports of the same shape: the
// same tasks with the same keys, statuses, items, resources and recap.
func TestAnsibleBackendSameShape(t *testing.T) {
	needAnsible(t)
	bin := tendBinary(t)
	pb := `- hosts: localhost
  gather_facts: false
  tasks:
    - name: a dir
      file: {path: "{{ root }}/d", state: directory, mode: "0700"}
    - name: a file
      copy: {dest: "{{ root }}/d/a", content: "one\n"}
    - name: files in a loop
      copy: {dest: "{{ root }}/d/{{ item }}", content: "x\n"}
      loop: [b, c]
    - name: a line
      lineinfile: {path: "{{ root }}/d/a", line: two}
    - name: unchanged
      copy: {dest: "{{ root }}/d/a", content: "one\ntwo\n"}
    - name: skipped
      copy: {dest: "{{ root }}/d/never", content: ""}
      when: false
    - name: secret
      copy: {dest: "{{ root }}/d/s", content: "hidden\n"}
      no_log: true
    - name: show
      debug: {msg: "hello"}
`
	shapes := map[string][]string{}
	for _, backend := range []string{"native", "ansible"} {
		for _, check := range []bool{true, false} {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "pb.yml"), pb)
			writeFile(t, filepath.Join(dir, "d", "a"), "one\n") // so check mode has a file to edit
			args := []string{"playbook", "--backend", backend, "-c", "local", "-i", "localhost,", "-e", "root=" + dir, "-D", "-o", "json"}
			if check {
				args = append(args, "-C")
			}
			r := runTend(t, bin, dir, nil, append(args, "pb.yml")...)
			if r.code != 0 || r.rep == nil {
				t.Fatalf("%s: exit %d\n%s\n%s", backend, r.code, r.stdout, r.stderr)
			}
			if r.rep.Check != check {
				t.Errorf("%s: check_mode %v, want %v", backend, r.rep.Check, check)
			}
			shapes[fmt.Sprint(backend, check)] = shape(t, r.rep)
		}
	}
	for _, check := range []bool{true, false} {
		n, a := shapes[fmt.Sprint("native", check)], shapes[fmt.Sprint("ansible", check)]
		if !reflect.DeepEqual(n, a) {
			t.Errorf("check=%v: shapes differ\nnative:\n  %s\nansible:\n  %s", check, strings.Join(n, "\n  "), strings.Join(a, "\n  "))
		}
	}
}

// TestAnsibleBackendExitCodes: tend's exit codes through the Ansible
// backend are ansible-playbook's, case by case, checked against it.
func TestAnsibleBackendExitCodes(t *testing.T) {
	needAnsible(t)
	bin := tendBinary(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.yml"), fmt.Sprintf(`- hosts: localhost
  gather_facts: false
  tasks:
    - %s: {path: %s}
`, notNative, dir))
	writeFile(t, filepath.Join(dir, "fail.yml"), fmt.Sprintf(`- hosts: localhost
  gather_facts: false
  tasks:
    - %s: {path: %s}
    - name: it breaks
      fail: {msg: broken on purpose}
    - name: never reached
      debug: {msg: x}
`, notNative, dir))
	writeFile(t, filepath.Join(dir, scratchPath), scratchModule(t))
	writeFile(t, filepath.Join(dir, "unreachable.yml"), `- hosts: all
  gather_facts: false
  tasks:
    - ping:
`)
	writeFile(t, filepath.Join(dir, "bad.yml"), `- hosts: localhost
  tasks:
    - name: two modules
      debug: {msg: x}
      copy: {dest: /tmp/x, content: x}
    - [this is not a task
`)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"ok", []string{"-c", "local", "-i", "localhost,", "ok.yml"}, 0},
		{"failed task", []string{"-c", "local", "-i", "localhost,", "fail.yml"}, 2},
		{"unreachable", []string{"-i", "127.0.0.1,", "-e", "ansible_port=1", "-e", "ansible_ssh_common_args='-o ConnectTimeout=2'", "unreachable.yml"}, 4},
		{"does not parse", []string{"-c", "local", "-i", "localhost,", "bad.yml"}, 4},
		{"missing playbook", []string{"-c", "local", "-i", "localhost,", "missing.yml"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := exec.Command("ansible-playbook", c.args...)
			ref.Dir = dir
			ref.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0")
			refOut, err := ref.CombinedOutput()
			refCode := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				refCode = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if refCode != c.want {
				t.Fatalf("ansible-playbook itself exited %d, the test expects %d:\n%s", refCode, c.want, refOut)
			}
			r := runTend(t, bin, dir, nil, append([]string{"playbook", "--backend", "ansible", "-o", "json"}, c.args...)...)
			if r.code != refCode {
				t.Errorf("tend exited %d, ansible-playbook %d\nstdout:\n%s\nstderr:\n%s", r.code, refCode, r.stdout, r.stderr)
			}
			if c.name == "failed task" {
				if r.rep == nil || r.rep.Stats["localhost"] == nil || r.rep.Stats["localhost"].Failed != 1 {
					t.Fatalf("failed run report: %+v", r.rep)
				}
				ft := taskByName(r.rep, "it breaks")
				if ft == nil || ft.Status != report.StatusFailed || ft.Msg != "broken on purpose" {
					t.Errorf("failed task: %+v", ft)
				}
				if taskByName(r.rep, "never reached") != nil {
					t.Error("a task after the failure ran")
				}
			}
			if c.name == "does not parse" && !strings.Contains(r.stderr, "ERROR!") {
				t.Errorf("the parse error does not show Ansible's message:\n%s", r.stderr)
			}
		})
	}
}

// TestAnsibleBackendAgent: the agent (backend auto from its config) runs a
// repo whose playbook needs Ansible; state, metrics and drift come from
// Ansible's results; a failing commit is a failed run; a no_log secret
// reaches no output, state or audit file.
func TestAnsibleBackendAgent(t *testing.T) {
	needAnsible(t)
	gitserver.NeedTool(t, "git")
	bin := tendBinary(t)
	repo := gitserver.NewBare(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "host")
	stateDir := filepath.Join(dir, "state")
	textfile := filepath.Join(dir, "tend.prom")
	const secret = "pa55-very-secret-9f3c"
	secretFile := filepath.Join(dir, "secret.txt")
	writeFile(t, secretFile, secret)
	cfg := filepath.Join(dir, "tend.yaml")
	writeFile(t, cfg, fmt.Sprintf(`source:
  url: %s
  ref: main
  interval: 1h
  splay: 0s
playbook: local.yml
host: localhost
backend: auto
drift:
  interval: 1h
  watch: false
listen: 127.0.0.1:0
textfile: %s
state_dir: %s
`, repo.URL(), textfile, stateDir))

	local := func(extra string) string {
		return fmt.Sprintf(`- hosts: all
  gather_facts: false
  tasks:
    - name: out dir
      file: {path: %[1]s, state: directory}
    - name: scratch file
      %[2]s: {path: %[1]s, prefix: scratch.}
    - name: managed file
      copy: {dest: %[1]s/managed.txt, content: "v1\n"}
    - name: the secret
      copy: {dest: %[1]s/secret.txt, content: "{{ lookup('file', '%[3]s') }}\n", mode: "0600"}
      no_log: true
    - name: say the secret
      debug: {msg: "{{ lookup('file', '%[3]s') }}"}
      no_log: true
%[4]s`, out, notNative, secretFile, extra)
	}
	var logs bytes.Buffer
	agentOnce := func() int {
		cmd := exec.Command(bin, "agent", "--once", "--config", cfg)
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := cmd.Run()
		logs.Write(b.Bytes())
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	status := func() map[string]any {
		r := runTend(t, bin, dir, nil, "status", "--config", cfg, "-o", "json")
		var st map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status: %v\n%s\n%s", err, r.stdout, r.stderr)
		}
		return st
	}
	metrics := func() string {
		b, err := os.ReadFile(textfile)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	defer func() {
		if t.Failed() {
			t.Logf("agent output:\n%s", logs.String())
		}
	}()

	rev1 := repo.Commit(map[string]string{"local.yml": local(""), scratchPath: scratchModule(t)})
	if code := agentOnce(); code != 0 {
		t.Fatalf("agent --once exited %d", code)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "managed.txt")); string(b) != "v1\n" {
		t.Fatalf("managed.txt = %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "scratch.*")); len(m) != 1 {
		t.Fatalf("scratch files from %s: %v", notNative, m)
	}
	st := status()
	if st["applied_revision"] != rev1 || st["last_good_revision"] != rev1 {
		t.Errorf("status after a good run: %v", st)
	}
	if run, _ := st["last_run"].(map[string]any); run == nil || run["failed"] != 0.0 || run["changed"].(float64) < 4 {
		t.Errorf("status's last run: %v, want failed 0, changed >= 4", st["last_run"])
	}
	m := metrics()
	for _, want := range []string{`tend_reconcile_total{result="success"} 1`, `tend_resources{status="changed"}`, fmt.Sprintf(`tend_applied_revision_info{revision="%s"} 1`, rev1)} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}

	// drift, found by an Ansible check run: tend plan names the file
	writeFile(t, filepath.Join(out, "managed.txt"), "changed by hand\n")
	r := runTend(t, bin, dir, nil, "plan", "--config", cfg, "-o", "json")
	if r.code != 2 {
		t.Errorf("plan with drift: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var plan struct {
		Changes []struct{ Kind, ID string } `json:"changes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, r.stdout)
	}
	found := false
	for _, c := range plan.Changes {
		if c.Kind == "file" && c.ID == filepath.Join(out, "managed.txt") {
			found = true
		}
	}
	if !found {
		t.Errorf("plan does not name the drifted file: %+v", plan.Changes)
	}

	// a commit whose Ansible run fails is a failed run
	rev2 := repo.Commit(map[string]string{scratchPath: scratchModule(t), "local.yml": local(`    - name: it breaks
      command: /bin/false
`)})
	if code := agentOnce(); code == 0 {
		t.Error("agent --once exited 0 after a failed run")
	}
	st = status()
	if st["last_good_revision"] != rev1 {
		t.Errorf("last good revision moved to %v after a failed run (rev2 %s)", st["last_good_revision"], rev2)
	}
	if run, _ := st["last_run"].(map[string]any); run == nil || run["revision"] != rev2 || run["failed"] != 1.0 || run["error"] == nil {
		t.Errorf("status does not show the failed run of %s: %v", rev2, st["last_run"])
	}
	m = metrics()
	if !strings.Contains(m, `tend_reconcile_total{result="failure"} 1`) || !strings.Contains(m, `tend_resources{status="failed"} 1`) {
		t.Errorf("metrics do not show the failed run:\n%s", m)
	}

	// the secret: nowhere in the agent's output, state or audit
	if strings.Contains(logs.String(), secret) {
		t.Error("the no_log secret is in the agent's output")
	}
	err := filepath.WalkDir(stateDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(p, filepath.Join(stateDir, "checkout")) {
			return nil // the repo itself (which names only the secret's file)
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
			t.Errorf("the no_log secret is in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics()+logs.String(), "tend_") {
		t.Error("no metrics written")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "secret.txt")); string(b) != secret+"\n" {
		t.Errorf("the secret file was not written: %q", b)
	}

	// the same playbook from the command line, text and JSON, with -D
	for _, o := range []string{"text", "json"} {
		pb := filepath.Join(stateDir, "checkout", "local.yml")
		r := runTend(t, bin, dir, nil, "playbook", "--backend", "auto", "-c", "local", "-i", "localhost,", "-D", "-v", "-o", o, pb)
		if r.code != 2 {
			t.Errorf("-o %s: exit %d, want 2 (the failing task)", o, r.code)
		}
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("-o %s: the no_log secret is in tend's output:\n%s\n%s", o, r.stdout, r.stderr)
		}
	}
}
