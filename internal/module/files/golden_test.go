package files

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.txtar")

// A golden case (testdata/MODULE-NAME.txtar) has these sections:
//
//	args.yaml   module:, args: (with $DIR for the test tree), and optional
//	            idempotent: false (touch), check_differs: true
//	in/PATH     the starting files; "tree.in" lists modes, dirs and symlinks
//	want.yaml   the wanted result: changed, failed, msg, values, diffs
//	tree        the wanted tree after apply, one entry a line
//	out/PATH    the wanted content of each file after apply
//
// The runner checks that check mode leaves the tree alone (and predicts
// changed), that apply gives the wanted result and tree, and that a second
// apply changes nothing.
type caseArgs struct {
	Module     string         `yaml:"module"`
	Args       map[string]any `yaml:"args"`
	Idempotent *bool          `yaml:"idempotent"`
	// CheckDiffers: check mode cannot predict changed exactly (Ansible's
	// own check mode differs here too).
	CheckDiffers bool `yaml:"check_differs"`
}

type want struct {
	Changed bool           `yaml:"changed"`
	Failed  bool           `yaml:"failed,omitempty"`
	Msg     string         `yaml:"msg,omitempty"`
	Values  map[string]any `yaml:"values,omitempty"`
	Diffs   []module.Diff  `yaml:"diffs,omitempty"`
}

func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) == 0 {
		t.Fatal("no testdata/*.txtar")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) { runGolden(t, file) })
	}
}

func section(ar *txtarArchive, name string) (string, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

func runGolden(t *testing.T, file string) {
	ar, err := parseTxtar(file)
	if err != nil {
		t.Fatal(err)
	}
	argsText, _ := section(ar, "args.yaml")
	dir := t.TempDir()
	argsText = strings.ReplaceAll(argsText, "$DIR", dir)
	var ca caseArgs
	if err := yaml.Unmarshal([]byte(argsText), &ca); err != nil {
		t.Fatalf("args.yaml: %v", err)
	}
	treeIn, _ := section(ar, "tree.in")
	buildTree(t, dir, ar, treeIn)
	info, ok := module.Lookup(ca.Module)
	if !ok {
		t.Fatalf("module %q is not registered", ca.Module)
	}
	ctx := context.Background()
	got := want{}
	args, verr := info.Spec.Validate(ca.Args)
	newTask := func(h host.Host, check bool) *module.Task {
		return &module.Task{Host: h, Args: args, Check: check, Diff: true,
			Render: func(s string) (string, error) { return strings.ReplaceAll(s, "{{ name }}", "world"), nil },
			Find: func(kind, rel string) (string, error) {
				if filepath.IsAbs(rel) {
					return rel, nil
				}
				return filepath.Join(dir, kind, rel), nil
			}}
	}
	var res module.Result
	if verr != nil {
		got = want{Failed: true, Msg: verr.Error()}
	} else {
		before := snapshot(t, dir)
		checkRes, err := info.New().Run(ctx, newTask(host.ReadOnly(host.NewLocal()), true))
		if err != nil {
			t.Fatalf("check mode: %v", err)
		}
		if after := snapshot(t, dir); after != before {
			t.Errorf("check mode changed the tree:\n%s\nwas:\n%s", after, before)
		}
		res, err = info.New().Run(ctx, newTask(host.NewLocal(), false))
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if !ca.CheckDiffers && (checkRes.Changed != res.Changed || checkRes.Failed != res.Failed) {
			t.Errorf("check mode said changed=%v failed=%v (%s), apply changed=%v failed=%v", checkRes.Changed, checkRes.Failed, checkRes.Msg, res.Changed, res.Failed)
		}
		if res.Failed == false && res.Changed && len(res.Resources) == 0 {
			t.Errorf("a change with no resources")
		}
		got = want{Changed: res.Changed, Failed: res.Failed, Msg: res.Msg, Values: res.Values, Diffs: res.Diffs}
		if got.Values["state"] == "link" {
			got.Values["size"] = "len(target)" // depends on the temp dir
		}
	}
	gotYAML := normalize(dir, marshal(t, got))
	gotTree := normalize(dir, snapshot(t, dir))
	if *update {
		writeGolden(t, file, ar, gotYAML, gotTree, dir)
		return
	}
	if w, _ := section(ar, "want.yaml"); w != gotYAML {
		t.Errorf("result:\n%s\nwant:\n%s", gotYAML, w)
	}
	if w, _ := section(ar, "tree"); w != gotTree {
		t.Errorf("tree after apply:\n%s\nwant:\n%s", gotTree, w)
	}
	for _, f := range ar.Files {
		if rel, ok := strings.CutPrefix(f.Name, "out/"); ok {
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil || string(data) != string(f.Data) {
				t.Errorf("%s after apply = %q (%v), want %q", rel, data, err, f.Data)
			}
		}
	}
	if verr == nil && !res.Failed && (ca.Idempotent == nil || *ca.Idempotent) {
		again, err := info.New().Run(ctx, newTask(host.NewLocal(), false))
		if err != nil || again.Changed || again.Failed {
			t.Errorf("second apply: changed=%v failed=%v msg=%q err=%v; want no change", again.Changed, again.Failed, again.Msg, err)
		}
	}
}

func marshal(t *testing.T, v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var (
	backupName = regexp.MustCompile(`\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~`)
	// volatile values: times, inodes and devices
	volatile = regexp.MustCompile(`(?m)("?(?:mtime|atime|ctime|inode|dev)"?: )[0-9.e+]+`)
)

// normalize makes a result independent of the temp dir and the clock.
func normalize(dir, s string) string {
	s = strings.ReplaceAll(s, dir, "$DIR")
	s = volatile.ReplaceAllString(s, "${1}X")
	return backupName.ReplaceAllString(s, ".PID.DATE~")
}

// buildTree writes in/ files and applies tree.in lines:
// "dir PATH MODE", "mode PATH MODE", "link PATH TARGET", "hard PATH TARGET".
func buildTree(t *testing.T, dir string, ar *txtarArchive, spec string) {
	for _, f := range ar.Files {
		if rel, ok := strings.CutPrefix(f.Name, "in/"); ok {
			p := filepath.Join(dir, rel)
			os.MkdirAll(filepath.Dir(p), 0755)
			if err := os.WriteFile(p, f.Data, 0644); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, 0644)
		}
	}
	for _, line := range strings.Split(spec, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		p := filepath.Join(dir, f[1])
		var err error
		switch f[0] {
		case "dir":
			os.MkdirAll(p, 0755)
			var m int
			fmt.Sscanf(f[2], "%o", &m)
			err = os.Chmod(p, fs.FileMode(m))
		case "mode":
			var m int
			fmt.Sscanf(f[2], "%o", &m)
			err = host.NewLocal().Chmod(context.Background(), p, fs.FileMode(m))
		case "link":
			err = os.Symlink(strings.ReplaceAll(f[2], "$DIR", dir), p)
		case "hard":
			err = os.Link(filepath.Join(dir, f[2]), p)
		case "owner":
			var uid int
			fmt.Sscanf(f[2], "%d", &uid)
			err = os.Lchown(p, uid, uid)
		}
		if err != nil {
			t.Fatalf("tree.in %q: %v", line, err)
		}
	}
}

// snapshot lists every path under dir with its type, mode, owner and a
// checksum of its content.
func snapshot(t *testing.T, dir string) string {
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := host.NewLocal().Stat(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case fi.IsSymlink():
			lines = append(lines, fmt.Sprintf("link %s -> %s", rel, fi.LinkTarget))
		case fi.IsDir():
			lines = append(lines, fmt.Sprintf("dir  %s %04o %d:%d", rel, fi.Perm(), fi.UID, fi.GID))
		default:
			data, _ := os.ReadFile(p)
			lines = append(lines, fmt.Sprintf("file %s %04o %d:%d nlink=%d sha1=%s", rel, fi.Perm(), fi.UID, fi.GID, fi.Nlink, sha1hex(data)[:8]))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func writeGolden(t *testing.T, file string, ar *txtarArchive, gotYAML, gotTree, dir string) {
	var keep []txtarFile
	for _, f := range ar.Files {
		if f.Name == "want.yaml" || f.Name == "tree" || strings.HasPrefix(f.Name, "out/") {
			continue
		}
		keep = append(keep, f)
	}
	keep = append(keep, txtarFile{Name: "want.yaml", Data: []byte(gotYAML)}, txtarFile{Name: "tree", Data: []byte(gotTree)})
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			data, _ := os.ReadFile(p)
			if !backupName.MatchString(rel) {
				keep = append(keep, txtarFile{Name: "out/" + rel, Data: data})
			}
		}
		return nil
	})
	ar.Files = keep
	if err := os.WriteFile(file, formatTxtar(ar), 0644); err != nil {
		t.Fatal(err)
	}
}
