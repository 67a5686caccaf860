// Package aptrepo builds, for tests, a local file:// apt repository of tiny
// packages (each in several versions) with dpkg-deb and apt-ftparchive, and
// points the real apt at it through one sources.list.d entry. Only that
// source's index is fetched (apt-get update with Dir::Etc::sourcelist set to
// the entry and sourceparts disabled), so the system's own sources and lists
// are left as they are. Cleanup purges the test packages and removes the
// entry and its lists.
package aptrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Package is one test package version to build.
type Package struct {
	Name    string
	Version string
	Depends string // control Depends, optional
}

// Repo is a built and registered repository.
type Repo struct {
	Dir      string   // the repository (the .debs, Packages, Release)
	ListFile string   // the sources.list.d entry
	Debs     []string // paths of the built .debs, in the order given
	names    []string
}

// Require skips the test unless it runs as root with dpkg-deb, apt-get and
// apt-ftparchive (package apt-utils).
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("aptrepo: needs root to install packages")
	}
	for _, tool := range []string{"dpkg-deb", "apt-get", "apt-ftparchive", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("aptrepo: %s not found (install apt-utils / dpkg)", tool)
		}
	}
}

// Default is the standard test set: tendtest-a and tendtest-b in 1.0 and
// 2.0, and tendtest-c 1.0 that depends on tendtest-b.
var Default = []Package{
	{Name: "tendtest-a", Version: "1.0"}, {Name: "tendtest-a", Version: "2.0"},
	{Name: "tendtest-b", Version: "1.0"}, {Name: "tendtest-b", Version: "2.0"},
	{Name: "tendtest-c", Version: "1.0", Depends: "tendtest-b"},
}

// New builds the packages into a repository under dir (a directory that
// apt's sandbox user _apt can read, so not t.TempDir() under a 0700 parent),
// registers it with apt and updates its index. Cleanup undoes everything.
func New(t testing.TB, pkgs []Package) *Repo {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("/var/tmp", "tendtest-aptrepo-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Repo{Dir: dir, ListFile: "/etc/apt/sources.list.d/" + filepath.Base(dir) + ".list"}
	t.Cleanup(func() { r.cleanup(t) })
	seen := map[string]bool{}
	for _, p := range pkgs {
		deb, err := build(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		r.Debs = append(r.Debs, deb)
		if !seen[p.Name] {
			seen[p.Name] = true
			r.names = append(r.names, p.Name)
		}
	}
	idx, err := run(dir, "apt-ftparchive", "packages", ".")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Packages"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := run(dir, "apt-ftparchive", "release", ".")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Release"), rel, 0o644); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("deb [trusted=yes] file:%s ./\n", dir)
	if err := os.WriteFile(r.ListFile, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Update(); err != nil {
		t.Fatal(err)
	}
	return r
}

// UpdateArgs are the apt-get options that fetch only this repository's index.
func (r *Repo) UpdateArgs() []string {
	return []string{"-o", "Dir::Etc::sourcelist=" + r.ListFile, "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"}
}

// Update refreshes this repository's index only.
func (r *Repo) Update() error {
	args := append([]string{"-q", "-o", "DPkg::Lock::Timeout=120"}, r.UpdateArgs()...)
	_, err := run("", "apt-get", append(args, "update")...)
	return err
}

// Names returns the package names in the repository.
func (r *Repo) Names() []string { return append([]string(nil), r.names...) }

// Purge removes the test packages from the system (a reset between runs).
func (r *Repo) Purge() error {
	args := append([]string{"--purge", "--force-remove-reinstreq"}, r.names...)
	_, err := run("", "dpkg", args...)
	return err
}

// Installed returns the installed version of name ("" when not installed).
func Installed(name string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", name).Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 2 && f[0] == "ii" {
		return f[1]
	}
	return ""
}

// Status returns dpkg's abbreviated status of name ("ii", "rc", "" when unknown).
func Status(name string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (r *Repo) cleanup(t testing.TB) {
	if err := r.Purge(); err != nil {
		t.Logf("aptrepo cleanup: %v", err)
	}
	os.Remove(r.ListFile)
	// The lists apt fetched for this source are named after its URI.
	prefix := "_" + strings.ReplaceAll(strings.TrimPrefix(r.Dir, "/"), "/", "_") + "_"
	if m, _ := filepath.Glob("/var/lib/apt/lists/" + prefix + "*"); len(m) > 0 {
		for _, f := range m {
			os.Remove(f)
		}
	}
	os.RemoveAll(r.Dir)
}

func build(dir string, p Package) (string, error) {
	root, err := os.MkdirTemp("", "tendtest-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		return "", err
	}
	share := filepath.Join(root, "usr/share", p.Name)
	if err := os.MkdirAll(share, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(share, "version"), []byte(p.Version+"\n"), 0o644); err != nil {
		return "", err
	}
	// A conffile, so that remove and purge differ (state "rc" after remove).
	etc := filepath.Join(root, "etc", p.Name)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(etc, "conf"), []byte("v="+p.Version+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/conffiles"), []byte("/etc/"+p.Name+"/conf\n"), 0o644); err != nil {
		return "", err
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: tend tests <tests@tend.invalid>\nSection: misc\nPriority: optional\nDescription: tend test package %s\n", p.Name, p.Version, p.Name)
	if p.Depends != "" {
		control += "Depends: " + p.Depends + "\n"
	}
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644); err != nil {
		return "", err
	}
	deb := filepath.Join(dir, fmt.Sprintf("%s_%s_all.deb", p.Name, p.Version))
	if _, err := run("", "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb); err != nil {
		return "", err
	}
	if err := os.Chmod(deb, 0o644); err != nil {
		return "", err
	}
	return deb, nil
}

func run(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return out, fmt.Errorf("%s %s: %v: %s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return out, nil
}
