// Package state owns state_dir/state.json: what the agent remembers between
// runs and restarts — revisions applied and known good (for rollback), the
// last sync, run and drift check, pause, pending approval and guardrail
// blocks. It is read by `tend status` and written atomically (temp file,
// fsync, rename, fsync of the directory) with mode 0600, in a state dir of
// mode 0700.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/tend-project/tend/internal/atomicfile"

	"github.com/tend-project/tend/internal/module"
)

// FileName is the state file inside state_dir.
const FileName = "state.json"

// Version is the schema version written to state.json.
const Version = 1

// HistoryLen is how many earlier good revisions are kept for rollback, and
// how many approvals are remembered.
const HistoryLen = 10

// State is everything in state.json. The zero value is a fresh host.
type State struct {
	Version int `json:"version"`

	// AppliedRevision is the commit whose playbooks last ran on this host
	// (successfully or not).
	AppliedRevision string `json:"applied_revision,omitempty"`
	// LastGoodRevision is the newest commit whose run succeeded.
	LastGoodRevision string `json:"last_good_revision,omitempty"`
	// PreviousGood holds older good revisions, newest first, without
	// LastGoodRevision; at most HistoryLen.
	PreviousGood []string `json:"previous_good_revisions,omitempty"`
	// PinnedRevision, when set, is applied instead of the ref's newest commit
	// (set by `tend rollback`, cleared when the operator unpins).
	PinnedRevision string `json:"pinned_revision,omitempty"`

	Sync     Sync      `json:"last_sync,omitzero"`
	Run      Run       `json:"last_run,omitzero"`
	Drift    Drift     `json:"drift,omitzero"`
	Pause    Pause     `json:"pause,omitzero"`
	Pending  *Approval `json:"pending_approval,omitempty"`
	Approved []string  `json:"approved_revisions,omitempty"` // newest last, at most HistoryLen
	// Blocked says why the newest revision is not being applied (a
	// guardrail, a failed verification); "" when nothing blocks.
	Blocked string `json:"blocked_reason,omitempty"`
}

// Sync is the last fetch of the source.
type Sync struct {
	Time     time.Time `json:"time,omitzero"`
	Result   string    `json:"result,omitempty"` // "success" | "failure"
	Error    string    `json:"error,omitempty"`
	Revision string    `json:"revision,omitempty"` // newest fetched commit
}

// Run summarises the last run of the playbooks.
type Run struct {
	Time     time.Time     `json:"time,omitzero"` // start
	Revision string        `json:"revision,omitempty"`
	Mode     string        `json:"mode,omitempty"` // "apply" | "check"
	Duration time.Duration `json:"duration_ns,omitempty"`
	OK       int           `json:"ok"`
	Changed  int           `json:"changed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Error    string        `json:"error,omitempty"`
}

// Drift is the last drift check.
type Drift struct {
	Time time.Time `json:"time,omitzero"` // when it was checked
	// Counts of drifted resources per kind (file, package, service, user, other).
	Counts map[string]int `json:"counts,omitempty"`
	// Since is when drift was first seen and not repaired since; zero when none.
	Since     time.Time         `json:"since,omitzero"`
	Resources []module.Resource `json:"resources,omitempty"`
}

// Pause is set by `tend pause` and cleared by `tend resume`.
type Pause struct {
	Paused bool      `json:"paused"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	By     string    `json:"by,omitempty"` // user who paused
}

// Approval is a revision waiting for `tend approve` (it would change more
// than guardrails.max_changes allows).
type Approval struct {
	Revision    string    `json:"revision"`
	WouldChange int       `json:"would_change"`
	Since       time.Time `json:"since,omitzero"`
}

// MarkGood records rev as the newest good revision; the previous one moves
// into PreviousGood.
func (s *State) MarkGood(rev string) {
	if rev == "" || rev == s.LastGoodRevision {
		return
	}
	if s.LastGoodRevision != "" {
		s.PreviousGood = slices.DeleteFunc(s.PreviousGood, func(r string) bool { return r == s.LastGoodRevision || r == rev })
		s.PreviousGood = slices.Insert(s.PreviousGood, 0, s.LastGoodRevision)
		if len(s.PreviousGood) > HistoryLen {
			s.PreviousGood = s.PreviousGood[:HistoryLen]
		}
	}
	s.LastGoodRevision = rev
}

// RollbackTarget is the revision `tend rollback` goes to without --to: the
// last good revision if the applied one is not it (the last run failed),
// else the good revision before it. "" when there is none.
func (s *State) RollbackTarget() string {
	if s.LastGoodRevision != "" && s.LastGoodRevision != s.AppliedRevision {
		return s.LastGoodRevision
	}
	if len(s.PreviousGood) > 0 {
		return s.PreviousGood[0]
	}
	return ""
}

// Approve records rev as approved and clears a matching pending approval.
func (s *State) Approve(rev string) {
	if !s.IsApproved(rev) {
		s.Approved = append(s.Approved, rev)
		if len(s.Approved) > HistoryLen {
			s.Approved = s.Approved[len(s.Approved)-HistoryLen:]
		}
	}
	if s.Pending != nil && s.Pending.Revision == rev {
		s.Pending = nil
	}
}

// IsApproved reports whether rev was approved.
func (s *State) IsApproved(rev string) bool { return rev != "" && slices.Contains(s.Approved, rev) }

// CorruptError is returned by Load when state.json could not be parsed. Load
// still returns a fresh State with it: the agent logs the error and goes on.
type CorruptError struct {
	Path  string // the state file
	Saved string // where the bad file was kept, "" if it could not be moved
	Err   error
}

func (e *CorruptError) Error() string {
	if e.Saved == "" {
		return fmt.Sprintf("state file %s is corrupt (%v); starting with fresh state", e.Path, e.Err)
	}
	return fmt.Sprintf("state file %s is corrupt (%v); kept it as %s and started with fresh state", e.Path, e.Err, e.Saved)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load reads dir/state.json. A missing file (or dir) is a fresh State and no
// error. A file that does not parse is moved to state.json.corrupt-TIMESTAMP
// and Load returns a fresh State together with a *CorruptError, so callers
// can log it and go on:
//
//	var corrupt *state.CorruptError
//	st, err := state.Load(dir)
//	if errors.As(err, &corrupt) {
//		log.Warn(err.Error())
//	} else if err != nil {
//		return err
//	}
//
// Any other error (permissions, I/O) returns a nil State.
func Load(dir string) (*State, error) {
	p := filepath.Join(dir, FileName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: Version}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil || s.Version > Version {
		if err == nil {
			err = fmt.Errorf("schema version %d is newer than this tend understands (%d)", s.Version, Version)
		}
		ce := &CorruptError{Path: p, Err: err}
		saved := p + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
		if os.Rename(p, saved) == nil {
			ce.Saved = saved
		}
		return &State{Version: Version}, ce
	}
	s.Version = Version
	return &s, nil
}

// Save writes s to dir/state.json atomically with mode 0600, creating dir
// (mode 0700) if needed.
func Save(dir string, s *State) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	s.Version = Version
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return writeAtomic(filepath.Join(dir, FileName), append(data, '\n'), 0o600)
}

// Update loads the state, calls fn and saves the result, holding an
// exclusive lock on dir/state.lock so that the agent and a concurrent
// `tend pause` do not lose each other's changes. fn's error aborts the save.
// A corrupt state file is replaced by fresh state (as Load does).
func Update(dir string, fn func(*State) error) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("update state: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "state.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("update state: %w", err)
	}
	defer lf.Close()
	if err := flock(lf, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("update state: lock %s: %w", lf.Name(), err)
	}
	defer flock(lf, syscall.LOCK_UN)
	s, err := Load(dir)
	if ce := (*CorruptError)(nil); err != nil && !errors.As(err, &ce) {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	return Save(dir, s)
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// PrepareDir creates dir with mode 0700, or narrows an existing dir that is
// readable or writable by others to 0700. It returns a note saying what it
// fixed ("" when nothing), for the caller to log.
func PrepareDir(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create state dir: %w", err)
		}
		// MkdirAll applies the umask, which can only narrow; set it exactly
		return "", os.Chmod(dir, 0o700)
	}
	if err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("state dir %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("state dir %s has mode %04o, readable by others; narrowing it to 0700 failed: %w", dir, perm, err)
		}
		return fmt.Sprintf("state dir %s had mode %04o; changed it to 0700 (it holds secrets and backups)", dir, perm), nil
	}
	return "", nil
}

// writeAtomic writes data to path via a temp file in the same directory:
// write, fsync, rename over path, fsync the directory.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}
