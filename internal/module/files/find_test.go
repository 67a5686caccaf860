package files

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/moduletest"
)

// findTree makes a small tree to search.
func findTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range map[string]string{
		"a.txt": "hello\n", "b.log": "port=1\n", ".hidden": "h\n", "sub/c.txt": "c\n", "sub/deep/d.txt": "d\n",
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sub", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func foundPaths(t *testing.T, res module.Result, root string) string {
	t.Helper()
	if res.Failed {
		t.Fatalf("find failed: %s", res.Msg)
	}
	var out []string
	for _, f := range res.Values["files"].([]any) {
		p := f.(map[string]any)["path"].(string)
		if root != "" {
			p = strings.TrimPrefix(p, root+"/")
		}
		out = append(out, p)
	}
	return strings.Join(out, " ")
}

// TestFindOrder checks os.walk's order with names sorted: a directory's
// files, then its directories (a symlink to a directory among them), then
// each directory's contents in turn; and that check mode finds the same.
func TestFindOrder(t *testing.T) {
	dir := findTree(t)
	args := map[string]any{"paths": dir, "recurse": true, "file_type": "any", "follow": true}
	want := "a.txt b.log link sub link/c.txt link/deep link/deep/d.txt sub/c.txt sub/deep sub/deep/d.txt"
	for _, check := range []bool{false, true} {
		res := moduletest.Run(t, host.NewLocal(), "find", args, check)
		if got := foundPaths(t, res, dir); got != want {
			t.Errorf("check=%v: found %q, want %q", check, got, want)
		}
		// examined counts every entry listed: 5 at the top, 2+1 through
		// the link, 2+1 in sub
		if res.Changed || res.Values["examined"] != 11 {
			t.Errorf("check=%v: changed=%v examined=%v, want false and 11", check, res.Changed, res.Values["examined"])
		}
	}
}

// TestFindUnderRoot runs find through a rooted host (--root): paths are the
// host's, not the directory tend keeps them in.
func TestFindUnderRoot(t *testing.T) {
	dir := findTree(t)
	res := moduletest.Run(t, host.Rooted(host.NewLocal(), dir), "find", map[string]any{"paths": "/sub", "recurse": true}, false)
	if got := foundPaths(t, res, ""); got != "/sub/c.txt /sub/deep/d.txt" {
		t.Errorf("found %q under the root", got)
	}
}

func TestFindBadArguments(t *testing.T) {
	dir := findTree(t)
	for _, c := range []struct {
		args map[string]any
		msg  string
	}{
		{map[string]any{"age": "2 days"}, "failed to process age"},
		{map[string]any{"size": "big"}, "failed to process size"},
		{map[string]any{"patterns": "(", "use_regex": true}, "patterns/excludes"},
		{map[string]any{"excludes": "[", "use_regex": true}, "patterns/excludes"},
		{map[string]any{"contains": "a(b"}, "contains"},
	} {
		c.args["paths"] = dir
		res := moduletest.Run(t, host.NewLocal(), "find", c.args, false)
		if !res.Failed || !strings.Contains(res.Msg, c.msg) {
			t.Errorf("%v: failed=%v %q, want a failure about %q", c.args, res.Failed, res.Msg, c.msg)
		}
	}
}

func TestFindSkipsWhatIsNotADirectory(t *testing.T) {
	dir := findTree(t)
	res := moduletest.Run(t, host.NewLocal(), "find", map[string]any{"paths": []any{dir + "/a.txt", dir + "/sub"}}, false)
	if got := foundPaths(t, res, dir); got != "sub/c.txt" {
		t.Errorf("found %q", got)
	}
	sk := res.Values["skipped_paths"].(map[string]any)
	if sk[dir+"/a.txt"] != "'"+dir+"/a.txt' is not a directory" || res.Values["msg"] != "Not all paths examined, check warnings for details" {
		t.Errorf("skipped_paths %v, msg %v", sk, res.Values["msg"])
	}
}

// TestFindAgeStamps checks that atime and ctime come from the host.
func TestFindAgeStamps(t *testing.T) {
	dir := findTree(t)
	for _, stamp := range []string{"atime", "ctime", "mtime"} {
		res := moduletest.Run(t, host.NewLocal(), "find", map[string]any{"paths": dir, "age": "-1h", "age_stamp": stamp}, false)
		if got := foundPaths(t, res, dir); got != "a.txt b.log" {
			t.Errorf("age_stamp %s: found %q", stamp, got)
		}
		res = moduletest.Run(t, host.NewLocal(), "find", map[string]any{"paths": dir, "age": "1h", "age_stamp": stamp}, false)
		if got := foundPaths(t, res, dir); got != "" {
			t.Errorf("age_stamp %s: nothing is an hour old, found %q", stamp, got)
		}
	}
}

// TestFnmatch compares the glob translation with Python's fnmatch, which
// find.py uses.
func TestFnmatch(t *testing.T) {
	pats := []string{"*", "*.txt", "a?c", "[abc]*", "[!abc]*", "[a-c]x", "[z-a]", "[!]", "[]]", "[!]]", "[", "a[", "[^a]", "\\*", "a.b", "*.[ch]", "[a-]", "x*y*z", "[!a-c]?", "É*", "[a\\]"}
	names := []string{"", "abc", "a.txt", ".txt", "abx", "bx", "dx", "z", "]", "[", "a[", "^", "b", "\\*", "*", "a.b", "axb", "f.c", "f.h", "-", "xyz", "x-y-z", "da", "Éa", "\\"}
	type pair struct {
		Pat, Name string
	}
	var cases []pair
	want := map[pair]bool{}
	for _, p := range pats {
		for _, n := range names {
			cases = append(cases, pair{p, n})
		}
	}
	// a few answers known from fnmatch's rules, for machines without Python
	for _, k := range []struct {
		p, n string
		ok   bool
	}{
		{"*", ".txt", true}, {"*.txt", "a.txt", true}, {"[!abc]*", "abc", false}, {"[!abc]*", "dx", true},
		{"[z-a]", "z", false}, {"[!]", "[!]", true}, {"[]]", "]", true}, {"[!]]", "b", true}, {"[", "[", true},
		{"[^a]", "^", true}, {"[^a]", "b", false}, {"\\*", "\\*", true}, {"a?c", "abc", true}, {"[a-]", "-", true},
	} {
		want[pair{k.p, k.n}] = k.ok
	}
	if py, err := exec.LookPath("python3"); err == nil {
		in, _ := json.Marshal(cases)
		cmd := exec.Command(py, "-c", `import fnmatch, json, sys
print(json.dumps([fnmatch.fnmatch(c["Name"], c["Pat"]) for c in json.load(sys.stdin)]))`)
		cmd.Stdin = strings.NewReader(string(in))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		var got []bool
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			want[c] = got[i]
		}
	} else {
		t.Log("python3 not found: checking the built-in answers only")
	}
	for c, ok := range want {
		m, err := compileName(c.Pat, false)
		if err != nil {
			t.Errorf("%q: %v", c.Pat, err)
			continue
		}
		if m(c.Name) != ok {
			t.Errorf("fnmatch(%q, %q) = %v, Python says %v", c.Name, c.Pat, m(c.Name), ok)
		}
	}
}
