package host_test

import (
	"os"
	"os/exec"
	"os/user"
	"testing"

	"github.com/tend-project/tend/internal/host"
)

// TestWithEnv: a task's environment reaches every command; what the
// command sets itself wins.
func TestWithEnv(t *testing.T) {
	h := host.WithEnv(host.NewLocal(), map[string]string{"TASK": "task", "BOTH": "task"})
	res, err := h.Run(ctx, host.Command{Shell: `echo "$TASK $BOTH $OWN"`, Env: map[string]string{"BOTH": "module", "OWN": "own"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "task module own\n" {
		t.Errorf("stdout %q, want %q", got, "task module own\n")
	}
	if host.WithEnv(host.NewLocal(), nil) == nil {
		t.Error("WithEnv(nil env) lost the host")
	}
}

// TestLocalBecomeKeepsEnv: sudo resets the environment, so a command run
// as another user must still get the variables it was given.
func TestLocalBecomeKeepsEnv(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to sudo to another user without a password")
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("sudo is not installed (test/install-deps.sh installs it)")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	res, err := host.NewLocal().Run(ctx, host.Command{Shell: `echo "$(id -un) $FOO"`, BecomeUser: "nobody",
		Env: map[string]string{"FOO": "bar baz"}, Dir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "nobody bar baz\n" {
		t.Errorf("stdout %q (stderr %q), want %q", got, res.Stderr, "nobody bar baz\n")
	}
}
