package account

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/moduletest"
)

func run(t *testing.T, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	return moduletest.Run(t, host.NewLocal(), name, raw, check)
}

func want(t *testing.T, what string, res module.Result, changed bool) {
	t.Helper()
	moduletest.Want(t, what, res, changed)
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for useradd/groupadd")
	}
	for _, tool := range []string{"useradd", "groupadd", "userdel", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (passwd package)", tool)
		}
	}
}

func cleanup(t *testing.T, users, groups []string) {
	t.Cleanup(func() {
		for _, u := range users {
			exec.Command("userdel", "-r", "-f", u).Run()
		}
		for _, g := range groups {
			exec.Command("groupdel", g).Run()
		}
	})
}

func passwdLine(name string) string {
	out, _ := exec.Command("getent", "passwd", name).Output()
	return strings.TrimSpace(string(out))
}

func TestUserGroupLifecycle(t *testing.T) {
	needRoot(t)
	cleanup(t, []string{"tendtest_u1"}, []string{"tendtest_g1", "tendtest_g2"})
	g1 := map[string]any{"name": "tendtest_g1", "gid": 48761}
	want(t, "check group", run(t, "group", g1, true), true)
	want(t, "group", run(t, "group", g1, false), true)
	want(t, "group again", run(t, "group", g1, false), false)
	want(t, "group2", run(t, "group", map[string]any{"name": "tendtest_g2", "system": true}, false), true)
	g1["gid"] = 48762
	want(t, "group gid change", run(t, "group", g1, false), true)

	u := map[string]any{"name": "tendtest_u1", "uid": 48761, "group": "tendtest_g1", "groups": []any{"tendtest_g2"},
		"shell": "/bin/sh", "comment": "tend test", "home": "/var/tmp/tendtest_u1", "password": "$6$salt$hash"}
	res := run(t, "user", u, true)
	want(t, "check user", res, true)
	if passwdLine("tendtest_u1") != "" {
		t.Fatal("check mode created the user")
	}
	want(t, "user", run(t, "user", u, false), true)
	if got := passwdLine("tendtest_u1"); got != "tendtest_u1:x:48761:48762:tend test:/var/tmp/tendtest_u1:/bin/sh" {
		t.Fatalf("passwd = %q", got)
	}
	if fi, err := os.Stat("/var/tmp/tendtest_u1"); err != nil || !fi.IsDir() {
		t.Fatalf("home not created: %v", err)
	}
	res = run(t, "user", u, false)
	want(t, "user again", res, false)
	if res.Values["uid"] != 48761 || res.Values["group"] != 48762 || res.Values["password"] != "NOT_LOGGING_PASSWORD" {
		t.Fatalf("values = %v", res.Values)
	}
	// drift: shell changed behind tend's back
	exec.Command("usermod", "-s", "/bin/bash", "tendtest_u1").Run()
	res = run(t, "user", u, true)
	want(t, "drift", res, true)
	if d := res.Resources[0].Differs; len(d) != 1 || d[0] != "shell: /bin/bash -> /bin/sh" {
		t.Fatalf("drift differs = %v", d)
	}
	want(t, "repair", run(t, "user", u, false), true)
	// groups without append replaces, with append adds only
	want(t, "groups append same", run(t, "user", map[string]any{"name": "tendtest_u1", "groups": "tendtest_g2", "append": true}, false), false)
	want(t, "groups empty", run(t, "user", map[string]any{"name": "tendtest_u1", "groups": ""}, false), true)
	if out, _ := exec.Command("id", "-Gn", "tendtest_u1").Output(); strings.Contains(string(out), "tendtest_g2") {
		t.Fatalf("still in tendtest_g2: %s", out)
	}
	absent := map[string]any{"name": "tendtest_u1", "state": "absent", "remove": true}
	want(t, "remove", run(t, "user", absent, false), true)
	want(t, "remove again", run(t, "user", absent, false), false)
	if passwdLine("tendtest_u1") != "" {
		t.Fatal("user still there")
	}
	want(t, "group absent", run(t, "group", map[string]any{"name": "tendtest_g1", "state": "absent"}, false), true)
}

func TestBadNamesRejectedBeforeChange(t *testing.T) {
	for _, n := range []string{"-rf", "bad name", "a:b", "0abc", strings.Repeat("x", 40)} {
		for _, mod := range []string{"user", "group"} {
			res := run(t, mod, map[string]any{"name": n}, false)
			if !res.Failed || !strings.Contains(res.Msg, "invalid") {
				t.Fatalf("%s %q: %+v", mod, n, res)
			}
		}
	}
	res := run(t, "user", map[string]any{"name": "tendtest_x", "group": "tendtest_nosuchgroup"}, false)
	if !res.Failed || res.Msg != "Group tendtest_nosuchgroup does not exist" {
		t.Fatalf("%+v", res)
	}
	if passwdLine("tendtest_x") != "" {
		t.Fatal("user created despite the failure")
	}
}

func TestAuthorizedKey(t *testing.T) {
	needRoot(t)
	cleanup(t, []string{"tendtest_k1"}, nil)
	want(t, "user", run(t, "user", map[string]any{"name": "tendtest_k1", "home": "/var/tmp/tendtest_k1"}, false), true)
	k1 := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 one@test"
	k2 := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK2"
	file := "/var/tmp/tendtest_k1/.ssh/authorized_keys"
	want(t, "check add", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k1}, true), true)
	if _, err := os.Stat(file); err == nil {
		t.Fatal("check mode wrote the file")
	}
	want(t, "add", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k1}, false), true)
	want(t, "add again", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k1}, false), false)
	want(t, "add k2 with options", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k2, "key_options": `no-pty,from="10.0.0.1,10.0.0.2"`}, false), true)
	data, _ := os.ReadFile(file)
	wantContent := k1 + "\n" + `no-pty,from="10.0.0.1,10.0.0.2" ` + k2 + " \n"
	if string(data) != wantContent {
		t.Fatalf("file:\n%q\nwant\n%q", data, wantContent)
	}
	fi, _ := os.Stat(file)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	want(t, "exclusive", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k1, "exclusive": true}, false), true)
	if data, _ := os.ReadFile(file); string(data) != k1+"\n" {
		t.Fatalf("after exclusive: %q", data)
	}
	want(t, "absent", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k1, "state": "absent"}, false), true)
	want(t, "absent again", run(t, "authorized_key", map[string]any{"user": "tendtest_k1", "key": k1, "state": "absent"}, false), false)
}
