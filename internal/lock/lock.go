// Package lock owns the one-run-per-host lock, state_dir/tend.lock. It is an
// flock(2) lock, so the kernel releases it when the holder exits or is
// killed: a stale lock file never blocks the next run. The holder's PID is
// written inside, for the message that names who holds it.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FileName is the lock file inside state_dir.
const FileName = "tend.lock"

// pollEvery is how often Acquire retries while waiting.
const pollEvery = 50 * time.Millisecond

// ErrHeld is matched (errors.Is) by the error Acquire returns when another
// process holds the lock.
var ErrHeld = errors.New("lock held by another process")

// HeldError says who holds the lock.
type HeldError struct {
	Path string
	PID  int // 0 when the file names no PID
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another tend run (pid %d) holds %s", e.PID, e.Path)
	}
	return fmt.Sprintf("another tend run holds %s", e.Path)
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Acquire takes dir/tend.lock (creating dir, mode 0700, and the file, mode
// 0600), waiting up to wait for another holder to finish (0 = fail at once).
// When it stays held, the error is a *HeldError naming the holder's PID.
func Acquire(dir string, wait time.Duration) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err == syscall.EINTR {
			continue
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			pid := readPID(f)
			f.Close()
			return nil, &HeldError{Path: path, PID: pid}
		}
		time.Sleep(min(pollEvery, time.Until(deadline)))
	}
	// Ours: record our PID for whoever finds it held.
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: write pid: %w", path, err)
		}
	}
	return &Lock{f: f}, nil
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// Path is the lock file.
func (l *Lock) Path() string { return l.f.Name() }

// Release gives the lock up. The file stays (removing it would let two
// processes lock two different files); its PID is cleared. Releasing twice
// is a no-op.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}
