package system

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/moduletest"
)

func runOn(t *testing.T, h host.Host, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	return moduletest.Run(t, h, name, raw, check)
}

func run(t *testing.T, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	return runOn(t, host.NewLocal(), name, raw, check)
}

func want(t *testing.T, what string, res module.Result, changed bool) {
	t.Helper()
	moduletest.Want(t, what, res, changed)
}

func TestCronRejectsBadTimesBeforeReading(t *testing.T) {
	for _, c := range []map[string]any{
		{"minute": "61"}, {"hour": "24"}, {"day": "0"}, {"month": "13"}, {"weekday": "8"},
		{"minute": "*/0"}, {"minute": "a"}, {"hour": "1-"}, {"month": "foo"},
	} {
		args := map[string]any{"name": "x", "job": "true", "cron_file": "/nonexistent/dir/f", "user": "root"}
		for k, v := range c {
			args[k] = v
		}
		res := run(t, "cron", args, false)
		if !res.Failed || !strings.Contains(res.Msg, "invalid cron") {
			t.Fatalf("%v: %+v", c, res)
		}
	}
	for _, ok := range []map[string]any{{"minute": "*/15", "hour": "2-4,6", "month": "jan", "weekday": "mon-fri"}, {"day": "1-31/2"}} {
		for k, v := range ok {
			if err := func() error {
				for _, f := range cronFields {
					if f.arg == k {
						return checkCronField(k, v.(string), f.min, f.max, f.names)
					}
				}
				return nil
			}(); err != nil {
				t.Fatalf("%s=%v rejected: %v", k, v, err)
			}
		}
	}
}

func TestCronFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tendtest")
	job := map[string]any{"name": "sweep", "cron_file": file, "user": "root", "minute": "5", "job": "/bin/true"}
	want(t, "check", run(t, "cron", job, true), true)
	if _, err := os.Stat(file); err == nil {
		t.Fatal("check mode wrote the file")
	}
	want(t, "add", run(t, "cron", job, false), true)
	want(t, "again", run(t, "cron", job, false), false)
	env := map[string]any{"name": "PATH", "env": true, "job": "/usr/bin:/bin", "cron_file": file, "user": "root"}
	want(t, "env", run(t, "cron", env, false), true)
	b, _ := os.ReadFile(file)
	if string(b) != "PATH=\"/usr/bin:/bin\"\n#Ansible: sweep\n5 * * * * root /bin/true\n" {
		t.Fatalf("file:\n%s", b)
	}
	// an unmarked identical line is adopted (marked), as Ansible does
	os.WriteFile(file, []byte("5 * * * * root /bin/true\n"), 0o644)
	want(t, "adopt", run(t, "cron", job, false), true)
	if b, _ := os.ReadFile(file); string(b) != "#Ansible: sweep\n5 * * * * root /bin/true\n" {
		t.Fatalf("adopted:\n%s", b)
	}
	// removing the last job removes the file
	job["state"] = "absent"
	want(t, "remove", run(t, "cron", job, false), true)
	if _, err := os.Stat(file); err == nil {
		t.Fatal("empty cron_file left behind")
	}
}

func TestCronUserCrontab(t *testing.T) {
	if _, err := exec.LookPath("crontab"); err != nil {
		t.Skip("crontab not found (apt-get install cron)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for crontab -u")
	}
	exec.Command("useradd", "-M", "tendtest_cu").Run()
	t.Cleanup(func() {
		exec.Command("crontab", "-u", "tendtest_cu", "-r").Run()
		exec.Command("userdel", "tendtest_cu").Run()
	})
	job := map[string]any{"name": "j", "user": "tendtest_cu", "special_time": "daily", "job": "echo hi"}
	want(t, "add", run(t, "cron", job, false), true)
	out, _ := exec.Command("crontab", "-u", "tendtest_cu", "-l").Output()
	if string(out) != "#Ansible: j\n@daily echo hi\n" {
		t.Fatalf("crontab:\n%s", out)
	}
	want(t, "again", run(t, "cron", job, true), false)
	exec.Command("sh", "-c", "printf '#Ansible: j\\n@daily echo changed\\n' | crontab -u tendtest_cu -").Run()
	res := run(t, "cron", job, true)
	want(t, "drift", res, true)
	if res.Diffs[0].Before != "#Ansible: j\n@daily echo changed\n" || res.Diffs[0].After != "#Ansible: j\n@daily echo hi\n" {
		t.Fatalf("diff %+v", res.Diffs)
	}
}

func TestIniFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.ini")
	os.WriteFile(p, []byte("top = 1\n[main]\n# port = 1\nkeep=yes\n\n[other]\nx = 1\n"), 0o644)
	want(t, "set", run(t, "ini_file", map[string]any{"path": p, "section": "main", "option": "port", "value": "8080"}, false), true)
	want(t, "again", run(t, "ini_file", map[string]any{"path": p, "section": "main", "option": "port", "value": "8080"}, false), false)
	want(t, "absent option", run(t, "ini_file", map[string]any{"path": p, "section": "other", "option": "x", "state": "absent"}, false), true)
	want(t, "new section", run(t, "ini_file", map[string]any{"path": p, "section": "new", "option": "k", "value": "v", "no_extra_spaces": true}, false), true)
	want(t, "global", run(t, "ini_file", map[string]any{"path": p, "option": "top", "value": "2"}, false), true)
	b, _ := os.ReadFile(p)
	// checked against ansible-playbook 2.14: the commented "# port" line is replaced
	if got := string(b); got != "top = 2\n[main]\nport = 8080\nkeep=yes\n\n[other]\n[new]\nk=v\n" {
		t.Fatalf("file:\n%s", got)
	}
	res := run(t, "ini_file", map[string]any{"path": filepath.Join(t.TempDir(), "nope.ini"), "section": "s", "option": "o", "value": "v", "create": false}, false)
	if !res.Failed || !strings.Contains(res.Msg, "does not exist") {
		t.Fatalf("%+v", res)
	}
}

func TestSysctlFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "sysctl.conf")
	os.WriteFile(f, []byte("# c\nnet.ipv4.ip_forward = 0\nvm.swappiness=10\n"), 0o644)
	args := map[string]any{"name": "vm.swappiness", "value": "20", "sysctl_file": f, "reload": false}
	res := run(t, "sysctl", args, true)
	want(t, "check", res, true)
	want(t, "set", run(t, "sysctl", args, false), true)
	want(t, "again", run(t, "sysctl", args, false), false)
	b, _ := os.ReadFile(f)
	if string(b) != "# c\nnet.ipv4.ip_forward=0\nvm.swappiness=20\n" {
		t.Fatalf("file:\n%s", b)
	}
	want(t, "absent", run(t, "sysctl", map[string]any{"name": "vm.swappiness", "state": "absent", "sysctl_file": f, "reload": false}, false), true)
	if b, _ := os.ReadFile(f); string(b) != "# c\nnet.ipv4.ip_forward=0\n" {
		t.Fatalf("after absent:\n%s", b)
	}
	// live value: reload compares /proc/sys with the file's value
	cur, err := os.ReadFile("/proc/sys/vm/swappiness")
	if err != nil {
		t.Skip("no /proc/sys/vm/swappiness")
	}
	live := map[string]any{"name": "vm.swappiness", "value": strings.TrimSpace(string(cur)), "sysctl_file": f}
	os.WriteFile(f, []byte("vm.swappiness="+strings.TrimSpace(string(cur))+"\n"), 0o644)
	want(t, "live equal", run(t, "sysctl", live, true), false)
	live["value"] = "1" + strings.TrimSpace(string(cur))
	res = run(t, "sysctl", live, true)
	want(t, "live differs", res, true)
	if len(res.Resources[0].Differs) != 2 {
		t.Fatalf("differs %v", res.Resources[0].Differs)
	}
	if res := run(t, "sysctl", map[string]any{"name": "bad name", "value": "1"}, true); !res.Failed {
		t.Fatalf("bad name accepted: %+v", res)
	}
}

func TestHostnameFileStrategy(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("old\n"), 0o644)
	h := host.Rooted(host.NewLocal(), root)
	args := map[string]any{"name": "new.example.com"}
	res := runOn(t, h, "hostname", args, true)
	want(t, "check", res, true)
	if res.Diffs[0].Before != "hostname = old\n" {
		t.Fatalf("diff %+v", res.Diffs)
	}
	want(t, "set", runOn(t, h, "hostname", args, false), true)
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hostname")); string(b) != "new.example.com\n" {
		t.Fatalf("/etc/hostname = %q", b)
	}
	want(t, "again", runOn(t, h, "hostname", args, false), false)
	if res := runOn(t, h, "hostname", map[string]any{"name": "bad_name!"}, false); !res.Failed {
		t.Fatalf("bad hostname accepted")
	}
}
