package pkg

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dnfRepo builds tendtest-r 1.0 and 2.0 as rpms, indexes them with
// createrepo_c and writes a dnf.conf that sees only that repository.
func dnfRepo(t *testing.T, versions ...string) (conf, root, repo string) {
	for _, tool := range []string{"dnf", "rpmbuild", "createrepo_c", "rpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (apt-get install dnf createrepo-c rpm)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("dnf --installroot test needs root")
	}
	w := t.TempDir()
	repo, root = filepath.Join(w, "repo"), filepath.Join(w, "root")
	for _, d := range []string{repo, root, filepath.Join(w, "SPECS")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addRPMs(t, w, versions...)
	conf = filepath.Join(w, "dnf.conf")
	os.WriteFile(conf, []byte("[main]\nreposdir=/dev/null\ngpgcheck=0\ncachedir="+w+"/cache\n[tendtest]\nname=tendtest\nbaseurl=file://"+repo+"\ngpgcheck=0\nmetadata_expire=0\n"), 0o644)
	return conf, root, w
}

// addRPMs builds versions of tendtest-r into w/repo and re-indexes it.
func addRPMs(t *testing.T, w string, versions ...string) {
	repo := filepath.Join(w, "repo")
	for _, v := range versions {
		spec := fmt.Sprintf("Name: tendtest-r\nVersion: %s\nRelease: 1\nSummary: tend test\nLicense: MIT\nBuildArch: noarch\n%%description\ntest\n%%install\nmkdir -p %%{buildroot}/usr/share/tendtest-r\necho %s > %%{buildroot}/usr/share/tendtest-r/version\n%%files\n/usr/share/tendtest-r/version\n", v, v)
		sp := filepath.Join(w, "SPECS", "r-"+v+".spec")
		os.WriteFile(sp, []byte(spec), 0o644)
		if out, err := exec.Command("rpmbuild", "--define", "_topdir "+w, "-bb", sp).CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild: %v\n%s", err, out)
		}
	}
	rpms, _ := filepath.Glob(filepath.Join(w, "RPMS/noarch/*.rpm"))
	for _, r := range rpms {
		data, _ := os.ReadFile(r)
		os.WriteFile(filepath.Join(repo, filepath.Base(r)), data, 0o644)
	}
	if out, err := exec.Command("createrepo_c", repo).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
}

func rpmQ(root string) string {
	out, _ := exec.Command("rpm", "--root", root, "-q", "--qf", "%{VERSION}", "tendtest-r").Output()
	if strings.Contains(string(out), "not installed") {
		return ""
	}
	return string(out)
}

func TestDNFInstallroot(t *testing.T) {
	conf, root, w := dnfRepo(t, "1.0")
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"conf_file": conf, "installroot": root, "releasever": "1", "disable_gpg_check": true}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	want(t, "check install", run(t, "dnf", base(map[string]any{"name": "tendtest-r"}), true), true)
	if v := rpmQ(root); v != "" {
		t.Fatalf("check mode installed %s", v)
	}
	want(t, "install", run(t, "dnf", base(map[string]any{"name": "tendtest-r"}), false), true)
	if v := rpmQ(root); v != "1.0" {
		t.Fatalf("installed %q, want 1.0", v)
	}
	want(t, "install again", run(t, "dnf", base(map[string]any{"name": "tendtest-r"}), false), false)
	want(t, "latest (none newer)", run(t, "yum", base(map[string]any{"name": "tendtest-r", "state": "latest"}), false), false)
	addRPMs(t, w, "2.0")
	// update_cache (dnf --refresh) makes dnf see the new metadata
	want(t, "check latest", run(t, "dnf", base(map[string]any{"name": "tendtest-r", "state": "latest", "update_cache": true}), true), true)
	want(t, "latest", run(t, "yum", base(map[string]any{"name": "tendtest-r", "state": "latest", "update_cache": true}), false), true)
	if v := rpmQ(root); v != "2.0" {
		t.Fatalf("after latest %q, want 2.0", v)
	}
	want(t, "present (2.0 installed)", run(t, "dnf", base(map[string]any{"name": "tendtest-r"}), false), false)
	res := run(t, "dnf", base(map[string]any{"name": "tendtest-nosuch"}), false)
	if !res.Failed || !strings.Contains(res.Msg, "No package tendtest-nosuch available") {
		t.Fatalf("unknown package: %+v", res)
	}
	want(t, "remove", run(t, "dnf", base(map[string]any{"name": "tendtest-r", "state": "absent"}), false), true)
	if v := rpmQ(root); v != "" {
		t.Fatalf("after remove: %q", v)
	}
	want(t, "remove again", run(t, "dnf", base(map[string]any{"name": "tendtest-r", "state": "absent"}), false), false)
}
