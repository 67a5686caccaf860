// Package audit owns the agent's audit trail, state_dir/audit.jsonl: one JSON
// object per line for every run, change, sync, verification failure,
// guardrail block, pause, resume, rollback and approval. Lines are only ever
// appended — each with one write(2) on an O_APPEND descriptor, then fsynced —
// and the file is rotated to audit.jsonl.1 … .N when it grows past a limit.
//
// Entries must never carry secret values: callers pass text that may hold
// them through Redact (or Entry.Redact) first.
package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kinds of entries.
const (
	KindRun           = "run"
	KindChange        = "change"
	KindSync          = "sync"
	KindVerifyFailure = "verify_failure"
	KindGuardrail     = "guardrail"
	KindPause         = "pause"
	KindResume        = "resume"
	KindRollback      = "rollback"
	KindApprove       = "approve"
	KindClock         = "clock" // the wall clock jumped; Result is forward or backward
)

// DefaultKeep is how many rotated files (audit.jsonl.1 … .N) Open keeps.
const DefaultKeep = 5

// Entry is one audit line.
type Entry struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Revision  string    `json:"revision,omitempty"`
	Author    string    `json:"author,omitempty"`    // commit author, "Name <email>"
	Committer string    `json:"committer,omitempty"` // commit committer
	Signer    string    `json:"signer,omitempty"`    // verified signing key/identity
	Task      string    `json:"task,omitempty"`
	Resource  string    `json:"resource,omitempty"` // e.g. "file:/etc/motd"
	Before    string    `json:"before_sha256,omitempty"`
	After     string    `json:"after_sha256,omitempty"`
	Result    string    `json:"result,omitempty"` // ok, changed, failed, success, failure, blocked …
	Msg       string    `json:"msg,omitempty"`
}

// Mask replaces secret values in audit text.
const Mask = "********"

// Redact replaces every occurrence of each non-empty secret in s with Mask,
// longest secrets first (so a secret containing another is masked whole).
func Redact(s string, secrets []string) string {
	if s == "" || len(secrets) == 0 {
		return s
	}
	sorted := make([]string, 0, len(secrets))
	for _, x := range secrets {
		if x != "" {
			sorted = append(sorted, x)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, x := range sorted {
		s = strings.ReplaceAll(s, x, Mask)
	}
	return s
}

// Redact returns e with secrets masked in every free-text field.
func (e Entry) Redact(secrets []string) Entry {
	for _, f := range []*string{&e.Author, &e.Committer, &e.Signer, &e.Task, &e.Resource, &e.Result, &e.Msg} {
		*f = Redact(*f, secrets)
	}
	return e
}

// Log appends entries to an audit file. It is safe for concurrent use, also
// across processes (the agent and `tend pause` may write at once): each
// write holds flock(2) on the file and notices a rotation done by another
// process.
type Log struct {
	path     string
	maxBytes int64
	// Keep is how many rotated files to keep; DefaultKeep unless changed
	// before the first Write.
	Keep int

	mu sync.Mutex
	f  *os.File
}

// Open opens (creating, mode 0600) the audit file at path for appending.
// When the file grows past maxBytes it is rotated before the next write;
// maxBytes <= 0 never rotates. A line left torn by a crash is terminated,
// so the next entry starts on a line of its own.
func Open(path string, maxBytes int64) (*Log, error) {
	l := &Log{path: path, maxBytes: maxBytes, Keep: DefaultKeep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	l.f = f
	return nil
}

// Path is the live audit file.
func (l *Log) Path() string { return l.path }

// Write appends e as one line (Time defaults to now, in UTC) and fsyncs it.
func (l *Log) Write(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	line = append(line, '\n')

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("audit: write to closed log %s", l.path)
	}
	if err := l.lockCurrent(); err != nil {
		return err
	}
	// l.f may be replaced by a rotation below: unlock whichever file is current then
	defer func() {
		if l.f != nil {
			flock(l.f, syscall.LOCK_UN)
		}
	}()

	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	size := fi.Size()
	if l.maxBytes > 0 && size > 0 && size+int64(len(line)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
		size = 0
	}
	if size > 0 {
		if torn, err := endsTorn(l.path, size); err == nil && torn {
			line = append([]byte{'\n'}, line...)
		}
	}
	// One write(2): O_APPEND makes it land whole at the end of the file.
	n, err := syscall.Write(int(l.f.Fd()), line)
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("audit: write %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", l.path, err)
	}
	return nil
}

// lockCurrent takes the flock on the open file, reopening first if another
// process rotated the file away under us.
func (l *Log) lockCurrent() error {
	for range 10 {
		if err := flock(l.f, syscall.LOCK_EX); err != nil {
			return fmt.Errorf("audit: lock %s: %w", l.path, err)
		}
		held, err1 := l.f.Stat()
		onDisk, err2 := os.Stat(l.path)
		if err1 == nil && err2 == nil && os.SameFile(held, onDisk) {
			return nil
		}
		flock(l.f, syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
		if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			return fmt.Errorf("audit: %w", err2)
		}
		if err := l.open(); err != nil {
			return err
		}
	}
	return fmt.Errorf("audit: %s keeps being replaced; is another process rotating it?", l.path)
}

// rotate shifts audit.jsonl.(N-1) → .N … audit.jsonl → .1 and opens a new
// live file, locked. Called with the old file locked.
func (l *Log) rotate() error {
	keep := l.Keep
	if keep < 1 {
		keep = 1
	}
	os.Remove(fmt.Sprintf("%s.%d", l.path, keep))
	for i := keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	old := l.f
	if err := l.open(); err != nil {
		l.f = old
		return err
	}
	flock(old, syscall.LOCK_UN)
	old.Close()
	if err := flock(l.f, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("audit: lock %s: %w", l.path, err)
	}
	return nil
}

// endsTorn reports whether the file's last byte is not a newline.
func endsTorn(path string, size int64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return false, err
	}
	return b[0] != '\n', nil
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Read returns the entries of one audit file in order. Lines that do not
// parse — a write torn by a crash — are skipped. A missing file has no
// entries.
func Read(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), len(data)+1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read audit log %s: %w", path, err)
	}
	return out, nil
}

// ReadAll returns the entries of the rotated files (oldest first) and then
// the live file: the whole kept history in order.
func ReadAll(path string) ([]Entry, error) {
	var files []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		files = append(files, p)
	}
	var out []Entry
	for i := len(files) - 1; i >= 0; i-- {
		es, err := Read(files[i])
		if err != nil {
			return out, err
		}
		out = append(out, es...)
	}
	es, err := Read(path)
	return append(out, es...), err
}
