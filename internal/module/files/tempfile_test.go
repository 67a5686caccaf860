package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module/moduletest"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSlurp(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "hi\n"})
	// slurp only reads: check mode gives the content too
	res := moduletest.Run(t, host.NewLocal(), "slurp", map[string]any{"src": dir + "/f"}, true)
	if res.Failed || res.Values["content"] != "aGkK" || res.Values["encoding"] != "base64" || res.Values["source"] != dir+"/f" {
		t.Errorf("slurp: %+v", res)
	}
	for src, msg := range map[string]string{
		dir + "/none": "file not found: " + dir + "/none",
		dir:           "source is a directory and must be a file: " + dir,
	} {
		if res := moduletest.Run(t, host.NewLocal(), "slurp", map[string]any{"path": src}, false); !res.Failed || res.Msg != msg {
			t.Errorf("slurp %s: %q, want %q", src, res.Msg, msg)
		}
	}
}

func TestTempfile(t *testing.T) {
	dir := t.TempDir()
	// check mode: skipped, as Ansible's module does not support it, and
	// nothing is made
	res := moduletest.Run(t, host.NewLocal(), "tempfile", map[string]any{"path": dir}, true)
	if !res.Skipped || res.Msg != "remote module (tempfile) does not support check mode" {
		t.Errorf("check mode: %+v", res)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("check mode made %v", entries)
	}
	for state, mode := range map[string]os.FileMode{"file": 0o600, "directory": 0o700 | os.ModeDir} {
		res := moduletest.Run(t, host.NewLocal(), "tempfile", map[string]any{"path": dir, "state": state, "prefix": "p-", "suffix": ".s"}, false)
		p, _ := res.Values["path"].(string)
		name := filepath.Base(p)
		if !res.Changed || filepath.Dir(p) != dir || !strings.HasPrefix(name, "p-") || !strings.HasSuffix(name, ".s") || len(name) != len("p-12345678.s") {
			t.Errorf("%s: %+v", state, res)
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v mode %v, want %v", state, err, fi.Mode(), mode)
		}
		if res.Values["state"] != state {
			t.Errorf("%s: state %v", state, res.Values["state"])
		}
	}
	res = moduletest.Run(t, host.NewLocal(), "tempfile", map[string]any{"path": dir + "/missing"}, false)
	if !res.Failed || !strings.HasPrefix(res.Msg, "[Errno 2] No such file or directory: '"+dir+"/missing/ansible.") {
		t.Errorf("missing dir: %+v", res)
	}
	for range 50 {
		for _, c := range randomName(8) {
			if !strings.ContainsRune(tempChars, c) {
				t.Fatalf("randomName gave %q", c)
			}
		}
	}
}
