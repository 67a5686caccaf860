package template

import (
	"os"
	"path/filepath"
	"testing"
)

// The password lookup creates a missing file (0600, in 0700 directories)
// holding the password and a newline, and returns the same password later.
func TestPasswordLookupCreatesFile(t *testing.T) {
	dir := t.TempDir()
	e := New(Options{})
	vars := Vars{"playbook_dir": dir}
	first, err := e.Render("{{ lookup('password', 'creds/db length=15 chars=ascii_letters') }}", vars)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := first.(string)
	if len(pw) != 15 {
		t.Fatalf("password %q: want 15 characters", pw)
	}
	path := filepath.Join(dir, "creds", "db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != pw+"\n" {
		t.Errorf("file holds %q, lookup gave %q", b, pw)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}
	again, err := e.Render("{{ lookup('password', 'creds/db length=15 chars=ascii_letters') }}", vars)
	if err != nil || again != pw {
		t.Errorf("second lookup gave %v (%v), want %q", again, err, pw)
	}
	seeded := "{{ lookup('password', '/dev/null seed=x') }}"
	a, _ := e.Render(seeded, vars)
	b2, _ := e.Render(seeded, vars)
	if a != b2 {
		t.Errorf("seeded passwords differ: %v %v", a, b2)
	}
}
