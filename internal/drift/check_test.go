package drift

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/report"
)

// fixture makes files under a temp dir and indexes them with content managed.
func fixture(t *testing.T, files map[string]string) (string, *Index) {
	t.Helper()
	dir := t.TempDir()
	var targets []Target
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, Target{Path: p, Content: true})
	}
	x, fails := Build("", targets, nil, time.Now())
	if len(fails) > 0 {
		t.Fatalf("build: %v", fails)
	}
	return dir, x
}

func onlyDrift(t *testing.T, r *Result, path string, differs ...string) {
	t.Helper()
	if len(r.Drifted) != 1 {
		t.Fatalf("drifted = %+v, want one entry for %s %v (failures %+v)", r.Drifted, path, differs, r.Failures)
	}
	d := r.Drifted[0]
	if d.Path != path || !slices.Equal(d.Differs, differs) {
		t.Fatalf("drifted = %+v, want %s %v", d, path, differs)
	}
	if d.Detail == "" {
		t.Errorf("drift of %s has no detail", path)
	}
}

func TestCheckNoDrift(t *testing.T) {
	_, x := fixture(t, map[string]string{"a": "one", "b/c": "two"})
	r := x.Check(context.Background(), true)
	if len(r.Drifted) != 0 || len(r.Failures) != 0 || r.Checked != 2 || r.Hashed != 2 {
		t.Fatalf("clean tree: %+v", r)
	}
	r = x.Check(context.Background(), false)
	if r.Hashed != 0 || r.Checked != 2 {
		t.Fatalf("stat-only check hashed %d of %d files, want 0", r.Hashed, r.Checked)
	}
}

func TestCheckContentSameSize(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := x.Check(context.Background(), false)
	onlyDrift(t, r, p, DiffContent)
	if r.Hashed != 1 {
		t.Errorf("hashed %d, want 1", r.Hashed)
	}
}

func TestCheckContentSizeChange(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	if err := os.WriteFile(p, []byte("longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), false), p, DiffContent)
}

// A content change whose mtime (and size) are forged back is invisible to
// stat alone when ctime matches too — here the index's stat is forged to the
// new one — and caught by the full hash.
func TestCheckForgedStatCaughtByFullHash(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	old, _ := os.Stat(p)
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old.ModTime(), old.ModTime()); err != nil {
		t.Fatal(err)
	}
	// pretend the forgery is perfect: the index holds the stat of now
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	sum := x.Entries[0].SHA256
	x.Entries[0].fill(&st)
	x.Entries[0].SHA256 = sum
	if r := x.Check(context.Background(), false); len(r.Drifted) != 0 {
		t.Fatalf("stat-only check saw %+v; the test's forgery is not perfect", r.Drifted)
	}
	onlyDrift(t, x.Check(context.Background(), true), p, DiffContent)
}

func TestCheckTouchIsNotDrift(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	r := x.Check(context.Background(), false)
	if len(r.Drifted) != 0 || r.Hashed != 1 || r.Refreshed != 1 {
		t.Fatalf("touch: %+v, want no drift, one hash, one refreshed entry", r)
	}
	if r := x.Check(context.Background(), false); r.Hashed != 0 {
		t.Fatalf("after refresh the touched file was hashed again")
	}
}

func TestCheckModeAndOwner(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), false), p, DiffMode)
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), false), p, DiffMode, DiffOwner, DiffGroup)
}

func TestCheckMissing(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one", "sub/b": "two"})
	if err := os.Remove(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), false), filepath.Join(dir, "a"), DiffMissing)
	// the parent directory replaced by a file: ENOTDIR is "missing" too
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(filepath.Join(dir, "a"), 0o644)
	if err := os.RemoveAll(filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := x.Check(context.Background(), false)
	var got []string
	for _, d := range r.Drifted {
		if d.Path == filepath.Join(dir, "sub/b") {
			got = d.Differs
		}
	}
	if !slices.Equal(got, []string{DiffMissing}) || len(r.Failures) != 0 {
		t.Fatalf("parent replaced by a file: %+v, failures %+v", r.Drifted, r.Failures)
	}
}

func TestCheckReplacedByDirectory(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), true), p, DiffType)
}

func TestCheckReplacedBySymlink(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one", "b": "one"})
	p := filepath.Join(dir, "a")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	// same bytes behind the link: still drift, never followed
	if err := os.Symlink(filepath.Join(dir, "b"), p); err != nil {
		t.Fatal(err)
	}
	r := x.Check(context.Background(), true)
	onlyDrift(t, r, p, DiffType)
	if r.Drifted[0].Detail != "file replaced by a symlink" {
		t.Errorf("detail = %q", r.Drifted[0].Detail)
	}
}

func TestCheckReplacedByFifo(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one"})
	p := filepath.Join(dir, "a")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), true), p, DiffType) // and it did not block
}

func TestCheckUnreadable(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one", "b": "two"})
	x.open = func(p string) (int, error) {
		if filepath.Base(p) == "a" {
			return -1, &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return openNoFollow(p)
	}
	// content not verifiable: a failed check with the reason, no drift claimed
	r := x.Check(context.Background(), true)
	if len(r.Drifted) != 0 || len(r.Failures) != 1 || r.Failures[0].Path != filepath.Join(dir, "a") {
		t.Fatalf("unreadable: drifted %+v failures %+v", r.Drifted, r.Failures)
	}
	if want := "permission denied"; !strings.Contains(r.Failures[0].Reason, want) {
		t.Errorf("reason %q does not say %q", r.Failures[0].Reason, want)
	}
	// what stat shows is still drift, with the failure beside it
	if err := os.Chmod(filepath.Join(dir, "a"), 0o000); err != nil {
		t.Fatal(err)
	}
	r = x.Check(context.Background(), true)
	onlyDrift(t, r, filepath.Join(dir, "a"), DiffMode)
	if len(r.Failures) != 1 {
		t.Errorf("failures = %+v, want the unreadable content", r.Failures)
	}
	// building an index over it names the file instead of failing the build
	_, fails := Build("", []Target{{Path: filepath.Join(dir, "a"), Content: true}}, nil, time.Now())
	if os.Geteuid() != 0 && len(fails) != 1 {
		t.Errorf("build over an unreadable file: failures %+v", fails)
	}
}

func TestCheckAbsentAndSymlinkAndDir(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	sub := filepath.Join(dir, "sub")
	gone := filepath.Join(dir, "gone")
	if err := os.Symlink("/etc/hostname", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	x, fails := Build("", []Target{{Path: link}, {Path: sub}, {Path: gone}}, nil, time.Now())
	if len(fails) != 0 || x.Lookup(link).Type != TypeSymlink || x.Lookup(sub).Type != TypeDir || x.Lookup(gone).Type != TypeAbsent {
		t.Fatalf("index: %+v %+v", x.Entries, fails)
	}
	if r := x.Check(context.Background(), true); len(r.Drifted) != 0 {
		t.Fatalf("clean: %+v", r.Drifted)
	}
	_ = os.Remove(link)
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), false), link, DiffSrc)
	_ = os.Remove(link)
	_ = os.Symlink("/etc/hostname", link)
	if err := os.WriteFile(gone, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	onlyDrift(t, x.Check(context.Background(), false), gone, DiffState)
	_ = os.Remove(gone)
	// a file written inside a managed directory is not drift of the directory's
	// metadata... but its mtime changed: only a refresh
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := x.Check(context.Background(), false); len(r.Drifted) != 0 {
		t.Fatalf("file in a managed dir: %+v", r.Drifted)
	}
}

func TestTargetsFromReport(t *testing.T) {
	res := func(ids ...string) []module.Resource {
		var out []module.Resource
		for _, id := range ids {
			out = append(out, module.Resource{Kind: "file", ID: id})
		}
		return out
	}
	rep := &report.Report{Check: true, Plays: []*report.Play{{Tasks: []report.TaskResult{
		{Action: "file", Status: report.StatusOK, Resources: res("/etc/meta")},
		{Action: "copy", Status: report.StatusChanged, Resources: res("/etc/drifted")},
		{Action: "template", Status: report.StatusFailed, Resources: res("/etc/failed")},
		{Action: "ansible.builtin.file", Status: report.StatusOK, Resources: res("/etc/both")},
		{Action: "lineinfile", Status: report.StatusOK, Resources: res("/etc/both/")},
		{Action: "copy", Status: report.StatusOK, Items: []report.TaskResult{
			{Status: report.StatusOK, Resources: res("/etc/item1")},
			{Status: report.StatusSkipped},
		}},
		{Action: "apt", Status: report.StatusOK, Resources: []module.Resource{{Kind: "package", ID: "nginx"}}},
		{Action: "copy", Status: report.StatusOK, Resources: res("relative/path")},
	}}}}
	got := Targets(rep)
	want := []Target{
		{Path: "/etc/meta"},
		{Path: "/etc/drifted", Content: true, Keep: true},
		{Path: "/etc/both", Content: true},
		{Path: "/etc/item1", Content: true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Targets =\n%+v\nwant\n%+v", got, want)
	}
	rep.Check = false
	if got := Targets(rep); got[1].Keep {
		t.Errorf("an apply report marked a changed path Keep")
	}
}

func TestBuildKeepsDriftedBaseline(t *testing.T) {
	dir, x := fixture(t, map[string]string{"a": "one", "b": "two"})
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	_ = os.WriteFile(a, []byte("changed"), 0o644)
	_ = os.WriteFile(b, []byte("changed"), 0o644)
	// a check-mode run says a would change (drift), b is fine as it is now
	y, fails := Build("", []Target{{Path: a, Content: true, Keep: true}, {Path: b, Content: true}, {Path: filepath.Join(dir, "new"), Keep: true}}, x, time.Now())
	if len(fails) != 0 || y.Len() != 2 {
		t.Fatalf("rebuild: %d entries, %+v", y.Len(), fails)
	}
	onlyDrift(t, y.Check(context.Background(), true), a, DiffContent)
}

func TestSaveLoad(t *testing.T) {
	_, x := fixture(t, map[string]string{"a": "one", "b": "two"})
	state := t.TempDir()
	if err := x.Save(state); err != nil {
		t.Fatal(err)
	}
	y, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != 2 || *y.Entries[0] != *x.Entries[0] || !y.FullHash.Equal(x.FullHash) {
		t.Fatalf("round trip: %+v vs %+v", y.Entries, x.Entries)
	}
	if r := y.Check(context.Background(), true); len(r.Drifted) != 0 {
		t.Fatalf("loaded index drifts: %+v", r.Drifted)
	}
	ents, _ := os.ReadDir(state)
	if len(ents) != 1 {
		t.Errorf("state dir holds %d files after save, want only %s", len(ents), FileName)
	}
	// missing: empty; corrupt: an error naming the file
	if z, err := Load(t.TempDir()); err != nil || z.Len() != 0 {
		t.Fatalf("missing index: %v %d", err, z.Len())
	}
	_ = os.WriteFile(filepath.Join(state, FileName), []byte("{not json"), 0o600)
	if _, err := Load(state); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("corrupt index: %v", err)
	}
}

func TestFullHashDue(t *testing.T) {
	_, x := fixture(t, map[string]string{"a": "one"})
	now := x.FullHash
	if x.FullHashDue(time.Hour, now.Add(time.Minute)) || !x.FullHashDue(time.Hour, now.Add(time.Hour)) || !x.FullHashDue(0, now) {
		t.Fatal("FullHashDue")
	}
	x.Check(context.Background(), true)
	if x.FullHashDue(time.Hour, time.Now()) {
		t.Fatal("a full check did not move the full-hash time")
	}
	// the wall clock set back a day: the last full hash is "in the
	// future"; waiting for the clock to catch up would skip full hashes
	// for a day
	if back := time.Now().Add(-24 * time.Hour); !x.FullHashDue(time.Hour, back) {
		t.Error("a full hash in the future (clock set back) is not due")
	}
	x.FullHash = time.Now().Add(24 * time.Hour)
	if next := x.NextFullHash(time.Hour); next.After(time.Now()) {
		t.Errorf("NextFullHash = %v after the clock was set back, want now", next)
	}
}

// TestBuildWrote: a file changed after tend wrote it in the run is indexed
// as tend wrote it and listed as unsettled, so the next check reports it;
// a file that still holds what tend wrote is indexed as it is.
func TestBuildWrote(t *testing.T) {
	dir := t.TempDir()
	edited, kept := filepath.Join(dir, "edited"), filepath.Join(dir, "kept")
	for p, c := range map[string]string{edited: "edited by hand\n", kept: "as written\n"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	x, fails := Build("", []Target{
		{Path: edited, Content: true, Wrote: sum("as written\n")},
		{Path: kept, Content: true, Wrote: sum("as written\n")},
	}, nil, time.Now())
	if len(fails) > 0 {
		t.Fatalf("build: %v", fails)
	}
	if len(x.Unsettled) != 1 || x.Unsettled[0] != edited {
		t.Fatalf("unsettled = %v, want [%s]", x.Unsettled, edited)
	}
	if e := x.Lookup(edited); e == nil || e.SHA256 != sum("as written\n") {
		t.Fatalf("the edited file's entry %+v does not hold what tend wrote", e)
	}
	res := x.Check(context.Background(), false)
	onlyDrift(t, res, edited, DiffContent)
}
