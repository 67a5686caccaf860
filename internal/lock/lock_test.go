package lock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as another tend process: with
// TEND_LOCK_HELPER=dir it takes the lock, says "locked", and holds it until
// its stdin closes (or it is killed).
func TestMain(m *testing.M) {
	if dir := os.Getenv("TEND_LOCK_HELPER"); dir != "" {
		l, err := Acquire(dir, 0)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		if err := l.Release(); err != nil {
			os.Exit(4)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startHolder runs the test binary as a second process holding the lock on dir.
func startHolder(t *testing.T, dir string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TEND_LOCK_HELPER="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return &holder{cmd: cmd, stdin: stdin}
}

func TestHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	h := startHolder(t, dir)

	_, err := Acquire(dir, 0)
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire = %v, want a *HeldError", err)
	}
	want := fmt.Sprintf("another tend run (pid %d) holds %s", h.cmd.Process.Pid, filepath.Join(dir, FileName))
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// waiting a little is not enough either, and takes about that long
	start := time.Now()
	if _, err := Acquire(dir, 200*time.Millisecond); !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire with wait = %v", err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("Acquire gave up before its wait was over")
	}

	// the holder releases cleanly; a waiting Acquire then gets it
	go func() {
		time.Sleep(100 * time.Millisecond)
		h.stdin.Close()
	}()
	l, err := Acquire(dir, 30*time.Second)
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	defer l.Release()
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("holder exit: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if strings.TrimSpace(string(data)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid %d", data, os.Getpid())
	}
}

// TestKilledHolderReleases: a SIGKILLed holder leaves its lock file behind,
// but not the lock.
func TestKilledHolderReleases(t *testing.T) {
	dir := t.TempDir()
	h := startHolder(t, dir)
	if _, err := Acquire(dir, 0); !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire while held = %v", err)
	}
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("lock file gone after kill: %v", err)
	}
	l, err := Acquire(dir, 0)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}

func TestSameProcessTwice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := Acquire(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("created dir mode %04o, want 0700", fi.Mode().Perm())
	}
	if _, err := Acquire(dir, 0); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire = %v, want held", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := Acquire(dir, 0)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestHeldErrorWithoutPID(t *testing.T) {
	e := &HeldError{Path: "/var/lib/tend/tend.lock"}
	if e.Error() != "another tend run holds /var/lib/tend/tend.lock" {
		t.Errorf("%q", e.Error())
	}
}
