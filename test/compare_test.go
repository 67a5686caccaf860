package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/report"
)

func TestSnapshotNormalisesBackupsAndRoot(t *testing.T) {
	mk := func(backupName string) string {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "conf"), []byte("path="+root+"/x\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, backupName), []byte("old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(root, "conf"), filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
		return root
	}
	a, err := Snapshot(mk("conf.1234.2026-11-25@20:01:02~"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Snapshot(mk("conf.99.2027-01-01@00:00:00~"))
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffTrees(a, b, "a", "b"); len(d) != 0 {
		t.Fatalf("trees differ after normalisation:\n%s", strings.Join(d, "\n"))
	}
	if e := a["conf.BACKUP~"]; e.Type != "file" || e.Mode != 0o600 {
		t.Errorf("backup entry = %+v, want a 0600 file named conf.BACKUP~", e)
	}
	if got := a["conf"].Content; got != "path=$ROOT/x\n" {
		t.Errorf("content = %q, want the root replaced by $ROOT", got)
	}
	if got := a["link"]; got.Type != "symlink" || got.Content != "$ROOT/conf" {
		t.Errorf("link = %+v", got)
	}
}

func TestDiffTreesReportsModeAndContent(t *testing.T) {
	a := map[string]Entry{"f": {Type: "file", Mode: 0o644, Content: "one\ntwo\n", Links: 1}, "only-a": {Type: "dir", Mode: 0o755}}
	b := map[string]Entry{"f": {Type: "file", Mode: 0o600, Content: "one\nTWO\n", Links: 1}}
	d := DiffTrees(a, b, "ansible", "tend")
	if len(d) != 2 {
		t.Fatalf("got %d differences, want 2:\n%s", len(d), strings.Join(d, "\n"))
	}
	if !strings.Contains(d[0], "0644") || !strings.Contains(d[0], "0600") || !strings.Contains(d[0], "at line 2") {
		t.Errorf("file difference does not show modes and the first differing line:\n%s", d[0])
	}
	if !strings.Contains(d[1], "only in ansible") {
		t.Errorf("missing path not reported: %s", d[1])
	}
}

func TestTaskLinesAndSideBySide(t *testing.T) {
	rep := &report.Report{Plays: []*report.Play{{Tasks: []report.TaskResult{
		{Host: "h", Task: "web : install", Role: "web", Status: "changed"},
		{Host: "h", Task: "install", Role: "web", Status: "changed"},
		{Host: "h", Task: "loop", Status: "ok", Items: []report.TaskResult{{Status: "ok"}, {Status: "skipped"}}},
		{Host: "h", Task: "boom", Status: "failed", Ignored: true},
		{Host: "h", Task: "restart", Status: "changed", Handler: true},
	}}}}
	got := TaskLines(rep)["h"]
	want := []string{
		"web : install => changed",
		"web : install => changed",
		"loop => ok [items: ok,skipped]",
		"boom => failed (ignored)",
		"HANDLER restart => changed",
	}
	if SideBySide(got, want, "got", "want") != "" {
		t.Fatalf("TaskLines:\n%s", SideBySide(got, want, "got", "want"))
	}
	other := append([]string(nil), want...)
	other[2] = "loop => changed"
	sbs := SideBySide(want, other, "ansible", "tend")
	if !strings.Contains(sbs, "! loop => ok") {
		t.Errorf("side by side does not mark the differing row:\n%s", sbs)
	}
	if fd := FirstDifference(want, other); !strings.HasPrefix(fd, "#3:") {
		t.Errorf("FirstDifference = %q", fd)
	}
}

func TestParseHeader(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pb.yml")
	src := "---\n# args: -t foo --skip-tags bar\n# inventory: inv2/hosts.yml\n# rc: 2\n# nonidempotent (why)\n- hosts: all\n# nocheck\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.Args, " ") != "-t foo --skip-tags bar" || h.Inventory != "inv2/hosts.yml" || h.RC != 2 || !h.Nonidempotent || h.NoCheck {
		t.Errorf("header = %+v", h)
	}
}

func TestDecodeReportSkipsLeadingNoise(t *testing.T) {
	rep, err := decodeReport("[WARNING]: something\n{\"plays\": [], \"stats\": {\"h\": {\"ok\": 2}}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats["h"].OK != 2 {
		t.Errorf("stats = %+v", rep.Stats["h"])
	}
	if _, err := decodeReport("no json here"); err == nil {
		t.Error("decodeReport accepted output without JSON")
	}
}
