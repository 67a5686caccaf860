package pkg

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/moduletest"
	"github.com/tend-project/tend/internal/testsupport/aptrepo"
)

// run validates raw against the module's spec and runs it on the local
// host, read-only in check mode, as the engine does.
func run(t *testing.T, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	return moduletest.Run(t, host.NewLocal(), name, raw, check)
}

func want(t *testing.T, what string, res module.Result, changed bool) {
	t.Helper()
	moduletest.Want(t, what, res, changed)
}

func TestAptLifecycle(t *testing.T) {
	repo := aptrepo.New(t, aptrepo.Default)
	_ = repo
	pkgA := map[string]any{"name": []any{"tendtest-a=1.0", "tendtest-b"}}

	// check mode: would install, changes nothing
	res := run(t, "apt", pkgA, true)
	want(t, "check install", res, true)
	if v := aptrepo.Installed("tendtest-a"); v != "" {
		t.Fatalf("check mode installed tendtest-a %s", v)
	}
	if len(res.Resources) != 2 || len(res.Resources[0].Differs) == 0 {
		t.Fatalf("resources = %+v", res.Resources)
	}

	want(t, "install", run(t, "apt", pkgA, false), true)
	if a, b := aptrepo.Installed("tendtest-a"), aptrepo.Installed("tendtest-b"); a != "1.0" || b != "2.0" {
		t.Fatalf("installed a=%q b=%q, want 1.0 and 2.0", a, b)
	}
	want(t, "install again", run(t, "apt", pkgA, false), false)

	// latest upgrades the pinned one; a pin to an old version with
	// state present of the new one is no change.
	latest := map[string]any{"name": "tendtest-a", "state": "latest"}
	want(t, "check latest", run(t, "apt", latest, true), true)
	want(t, "latest", run(t, "apt", latest, false), true)
	if v := aptrepo.Installed("tendtest-a"); v != "2.0" {
		t.Fatalf("after latest tendtest-a = %q", v)
	}
	want(t, "latest again", run(t, "apt", latest, false), false)

	// downgrade by pin needs allow_downgrade, as in Ansible
	res = run(t, "apt", map[string]any{"name": "tendtest-a=1.0"}, false)
	if !res.Failed || !strings.Contains(res.Msg, "downgrade") {
		t.Fatalf("downgrade without allow_downgrade: %+v", res)
	}
	want(t, "downgrade", run(t, "apt", map[string]any{"name": "tendtest-a=1.0", "allow_downgrade": true}, false), true)
	if v := aptrepo.Installed("tendtest-a"); v != "1.0" {
		t.Fatalf("after downgrade tendtest-a = %q", v)
	}

	// drift: removed behind tend's back, check mode reports it
	if out, err := runCmd("dpkg", "--remove", "tendtest-b"); err != nil {
		t.Fatal(out, err)
	}
	res = run(t, "apt", pkgA, true)
	want(t, "drift check", res, true)
	if d := res.Resources[1]; d.ID != "tendtest-b" || len(d.Differs) == 0 || len(res.Resources[0].Differs) != 0 {
		t.Fatalf("drift resources = %+v", res.Resources)
	}

	// remove, then purge the config that remove leaves
	absent := map[string]any{"name": []any{"tendtest-a"}, "state": "absent"}
	want(t, "remove", run(t, "apt", absent, false), true)
	if s := aptrepo.Status("tendtest-a"); s != "rc" {
		t.Fatalf("after remove status = %q, want rc", s)
	}
	want(t, "remove again", run(t, "apt", absent, false), false)
	absent["purge"] = true
	want(t, "purge", run(t, "apt", absent, false), true)
	if s := aptrepo.Status("tendtest-a"); s != "" && s != "un" {
		t.Fatalf("after purge status = %q", s)
	}
	want(t, "purge again", run(t, "apt", absent, false), false)

	// a local .deb
	deb := map[string]any{"deb": repo.Debs[0]}
	want(t, "deb", run(t, "apt", deb, false), true)
	want(t, "deb again", run(t, "apt", deb, false), false)
}

func TestAptUnknownPackageChangesNothing(t *testing.T) {
	aptrepo.New(t, aptrepo.Default)
	for _, check := range []bool{true, false} {
		res := run(t, "apt", map[string]any{"name": []any{"tendtest-a", "tendtest-nosuch"}}, check)
		if !res.Failed || !strings.Contains(res.Msg, "No package matching 'tendtest-nosuch' is available") {
			t.Fatalf("check=%v: %+v", check, res)
		}
		if v := aptrepo.Installed("tendtest-a"); v != "" {
			t.Fatalf("check=%v: tendtest-a was installed (%s) although the task failed", check, v)
		}
	}
}

func TestAptLockTimeout(t *testing.T) {
	aptrepo.New(t, aptrepo.Default)
	f, err := os.OpenFile("/var/lib/dpkg/lock-frontend", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatal(err)
	}
	res := run(t, "apt", map[string]any{"name": "tendtest-a", "lock_timeout": 2}, false)
	if !res.Failed || !strings.Contains(res.Msg, "lock_timeout=2s") {
		t.Fatalf("with the lock held: %+v", res)
	}
	lk.Type = syscall.F_UNLCK
	syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	if v := aptrepo.Installed("tendtest-a"); v != "" {
		t.Fatalf("installed %s despite the lock", v)
	}
}

func TestAptCacheValidTime(t *testing.T) {
	// a cache younger than cache_valid_time is not updated
	res := run(t, "apt", map[string]any{"update_cache": true, "cache_valid_time": 1 << 30}, false)
	want(t, "valid cache", res, false)
	if res.Values["cache_updated"] != false || res.Values["cache_update_time"].(int64) <= 0 {
		t.Fatalf("values = %v", res.Values)
	}
	// check mode reports the update it would do, and runs nothing
	res = run(t, "apt", map[string]any{"update_cache": true}, true)
	want(t, "check update", res, true)
	if res.Values["cache_updated"] != true {
		t.Fatalf("values = %v", res.Values)
	}
}

func TestAptRejectsBadNames(t *testing.T) {
	res := run(t, "apt", map[string]any{"name": "--purge"}, true)
	if !res.Failed || !strings.Contains(res.Msg, "invalid package name") {
		t.Fatalf("%+v", res)
	}
}

func TestParsePolicy(t *testing.T) {
	out := `tendtest-a:
  Installed: 1.0
  Candidate: 2.0
  Version table:
     2.0 500
        500 file:/var/tmp/x ./ Packages
 *** 1.0 500
        500 file:/var/tmp/x ./ Packages
        100 /var/lib/dpkg/status
virt:
  Installed: (none)
  Candidate: (none)
  Version table:
`
	p := parsePolicy(out)
	if a := p["tendtest-a"]; a.Candidate != "2.0" || strings.Join(a.Versions, ",") != "2.0,1.0" {
		t.Fatalf("tendtest-a = %+v", a)
	}
	if _, ok := p["virt"]; ok {
		t.Fatalf("virtual package with no candidate should be unknown: %+v", p)
	}
	if v := pickVersion(p["tendtest-a"], "1.*"); v != "1.0" {
		t.Fatalf("pickVersion 1.* = %q", v)
	}
}

func TestPackageFacts(t *testing.T) {
	if _, err := os.Stat(dpkgStatusPath); err != nil {
		t.Skip("no dpkg database")
	}
	res := run(t, "package_facts", map[string]any{}, true)
	pk := res.Values["ansible_facts"].(map[string]any)["packages"].(map[string]any)
	d, ok := pk["dpkg"].([]any)
	if !ok || len(d) == 0 {
		t.Fatalf("dpkg not among packages: %v", pk["dpkg"])
	}
	e := d[0].(map[string]any)
	if e["name"] != "dpkg" || e["version"] == "" || e["source"] != "apt" || e["arch"] == "" {
		t.Fatalf("dpkg entry = %v", e)
	}
}

func TestPackagePicksApt(t *testing.T) {
	repo := aptrepo.New(t, aptrepo.Default)
	_ = repo
	res := run(t, "package", map[string]any{"name": "tendtest-b", "state": "present"}, false)
	want(t, "package", res, true)
	if aptrepo.Installed("tendtest-b") == "" {
		t.Fatal("package did not install through apt")
	}
}

func runCmd(name string, args ...string) (string, error) {
	res, err := host.NewLocal().Run(context.Background(), host.Command{Argv: append([]string{name}, args...)})
	if err == nil && res.RC != 0 {
		return string(res.Stderr), os.ErrInvalid
	}
	return string(res.Stdout), err
}
