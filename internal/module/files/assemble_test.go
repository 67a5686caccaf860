package files

import (
	"os"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module/moduletest"
)

func TestAssembleCheckModeSkips(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"src/a": "a\n"})
	for _, remote := range []bool{true, false} {
		res := moduletest.Run(t, host.NewLocal(), "assemble", map[string]any{"src": dir + "/src", "dest": dir + "/out", "remote_src": remote}, true)
		if !res.Skipped || res.Msg != "check mode is not supported for this task." {
			t.Errorf("remote_src=%v: %+v", remote, res)
		}
	}
	if _, err := os.Stat(dir + "/out"); err == nil {
		t.Fatal("check mode wrote dest")
	}
}

func TestAssemble(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"src/1": "one", "src/2": "two\n", "src/3": "three", "src/.h": "hidden\n", "src/d/x": "sub\n"})
	run := func(args map[string]any) (string, bool) {
		t.Helper()
		args["src"], args["dest"] = dir+"/src", dir+"/out"
		res := moduletest.Run(t, host.NewLocal(), "assemble", args, false)
		if res.Failed {
			t.Fatalf("%v: %s", args, res.Msg)
		}
		return readFile(t, dir+"/out"), res.Changed
	}
	// the module adds a newline after a delimiter only when it lacks one;
	// the action (remote_src: false) always does
	if got, changed := run(map[string]any{"delimiter": `--\n`, "ignore_hidden": true}); got != "one\n--\ntwo\n--\nthree" || !changed {
		t.Errorf("remote: %q changed=%v", got, changed)
	}
	if _, changed := run(map[string]any{"delimiter": `--\n`, "ignore_hidden": true}); changed {
		t.Error("second run changed")
	}
	if got, _ := run(map[string]any{"delimiter": `--\n`, "ignore_hidden": true, "remote_src": false}); got != "one\n--\n\ntwo\n--\n\nthree" {
		t.Errorf("local: %q", got)
	}
	if got, _ := run(map[string]any{"regexp": `[13]`}); got != "one\nthree" {
		t.Errorf("regexp: %q", got)
	}
	if got, _ := run(map[string]any{}); got != "hidden\none\ntwo\nthree" {
		t.Errorf("defaults: %q", got)
	}
	// a validate command that fails leaves dest as it was
	res := moduletest.Run(t, host.NewLocal(), "assemble", map[string]any{"src": dir + "/src", "dest": dir + "/out", "regexp": "1", "validate": "false %s"}, false)
	if !res.Failed || !strings.HasPrefix(res.Msg, "failed to validate: rc:1") || readFile(t, dir+"/out") != "hidden\none\ntwo\nthree" {
		t.Errorf("validate: %+v", res)
	}
}

func TestAssembleBadArguments(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"src/a": "a\n", "file": "x\n"})
	for _, c := range []struct {
		args map[string]any
		msg  string
	}{
		{map[string]any{"src": dir + "/none"}, "Source (" + dir + "/none) does not exist"},
		{map[string]any{"src": dir + "/file"}, "Source (" + dir + "/file) is not a directory"},
		{map[string]any{"src": dir + "/file", "remote_src": false}, "Source (" + dir + "/file) is not a directory"},
		{map[string]any{"src": dir + "/src", "regexp": "("}, "Invalid Regexp"},
		{map[string]any{"src": dir + "/src", "regexp": "(", "remote_src": false}, "Invalid Regexp"},
		{map[string]any{"src": dir + "/src", "validate": "true"}, "validate must contain %s: true"},
		{map[string]any{"src": dir + "/src", "follow": true}, "Unsupported parameters"},
		{map[string]any{"src": dir + "/src", "delimiter": `\`}, "trailing"},
	} {
		c.args["dest"] = dir + "/out"
		if c.args["delimiter"] != nil {
			writeFiles(t, dir, map[string]string{"src/b": "b\n"})
		}
		res := moduletest.Run(t, host.NewLocal(), "assemble", c.args, false)
		if !res.Failed || !strings.Contains(res.Msg, c.msg) {
			t.Errorf("%v: failed=%v %q, want %q", c.args, res.Failed, res.Msg, c.msg)
		}
		if _, err := os.Stat(dir + "/out"); err == nil {
			t.Fatalf("%v: dest was written", c.args)
		}
	}
}

func TestEscapeDecode(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: "plain", `a\nb`: "a\nb", `\t\\\'\"`: "\t\\'\"", `\x41\101\0`: "AA\x00", `\q`: `\q`, "a\\\nb": "ab", `\7777`: "\xff7",
	} {
		got, err := escapeDecode([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("escapeDecode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\`, `\x4`, `\xzz`} {
		if _, err := escapeDecode([]byte(bad)); err == nil {
			t.Errorf("escapeDecode(%q) did not fail", bad)
		}
	}
}
