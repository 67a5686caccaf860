package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/module"
)

func TestLoadMissingIsFresh(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "does-not-exist"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != Version || s.AppliedRevision != "" || s.Pause.Paused {
		t.Errorf("fresh state = %+v", s)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	want := &State{
		AppliedRevision:  "bbb",
		LastGoodRevision: "aaa",
		PreviousGood:     []string{"999"},
		PinnedRevision:   "aaa",
		Sync:             Sync{Time: now, Result: "failure", Error: "dial tcp: refused", Revision: "bbb"},
		Run:              Run{Time: now, Revision: "bbb", Mode: "apply", Duration: 1500 * time.Millisecond, OK: 10, Changed: 2, Failed: 1, Skipped: 3, Error: "task failed"},
		Drift: Drift{Time: now, Counts: map[string]int{"file": 1, "package": 0}, Since: now.Add(-time.Hour),
			Resources: []module.Resource{{Kind: "file", ID: "/etc/motd", Differs: []string{"content", "mode"}}}},
		Pause:    Pause{Paused: true, Reason: "incident 42", Since: now, By: "alice"},
		Pending:  &Approval{Revision: "ccc", WouldChange: 40, Since: now},
		Approved: []string{"ddd"},
		Blocked:  "would change 40 resources, guardrails.max_changes is 10",
	}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode %04o, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(dir)
	if di.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %04o, want 0700", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left in state dir: %v", entries)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	for _, key := range []string{`"applied_revision": "bbb"`, `"pending_approval"`, `"blocked_reason"`, `"since"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("state.json lacks %s:\n%s", key, data)
		}
	}
}

func TestFreshStateOmitsEmptyParts(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, &State{}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if got := strings.Join(strings.Fields(string(data)), " "); got != `{ "version": 1 }` {
		t.Errorf("fresh state.json = %s", got)
	}
}

func TestCorruptFileIsKeptAndStateStartsFresh(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	if err := os.WriteFile(p, []byte(`{"applied_revision": "abc`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CorruptError", err)
	}
	if s == nil || s.AppliedRevision != "" {
		t.Fatalf("state = %+v, want fresh", s)
	}
	if !strings.HasPrefix(filepath.Base(ce.Saved), "state.json.corrupt-") {
		t.Errorf("saved as %q", ce.Saved)
	}
	if data, err := os.ReadFile(ce.Saved); err != nil || string(data) != `{"applied_revision": "abc` {
		t.Errorf("corrupt copy: %q, %v", data, err)
	}
	if !strings.Contains(err.Error(), "is corrupt") || !strings.Contains(err.Error(), ce.Saved) {
		t.Errorf("message %q", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("corrupt state.json still in place: %v", err)
	}
	// the next load is clean
	if _, err := Load(dir); err != nil {
		t.Errorf("second load: %v", err)
	}
}

func TestNewerSchemaIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte(`{"version": 99}`), 0o600)
	_, err := Load(dir)
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnreadableIsAnError(t *testing.T) {
	dir := t.TempDir()
	// a directory where the file should be: read fails with EISDIR, even as root
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(dir); err == nil || s != nil || !strings.Contains(err.Error(), "read state") {
		t.Fatalf("Load = %v, %v; want a read error", s, err)
	}
}

func TestPrepareDir(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "new", "tend")
	note, err := PrepareDir(fresh)
	if err != nil || note != "" {
		t.Fatalf("PrepareDir(new) = %q, %v", note, err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o700 {
		t.Errorf("new dir mode %04o", fi.Mode().Perm())
	}
	wide := filepath.Join(base, "wide")
	os.Mkdir(wide, 0o755)
	os.Chmod(wide, 0o755)
	note, err = PrepareDir(wide)
	if err != nil || !strings.Contains(note, "had mode 0755; changed it to 0700") {
		t.Fatalf("PrepareDir(wide) = %q, %v", note, err)
	}
	if fi, _ := os.Stat(wide); fi.Mode().Perm() != 0o700 {
		t.Errorf("wide dir mode %04o after PrepareDir", fi.Mode().Perm())
	}
	if note, _ := PrepareDir(wide); note != "" {
		t.Errorf("second PrepareDir note %q", note)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := PrepareDir(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("PrepareDir(file) = %v", err)
	}
}

func TestMarkGoodAndRollbackTarget(t *testing.T) {
	var s State
	if s.RollbackTarget() != "" {
		t.Error("fresh state has a rollback target")
	}
	for i := 1; i <= HistoryLen+3; i++ {
		rev := fmt.Sprintf("r%d", i)
		s.AppliedRevision = rev
		s.MarkGood(rev)
	}
	if s.LastGoodRevision != "r13" || len(s.PreviousGood) != HistoryLen || s.PreviousGood[0] != "r12" {
		t.Fatalf("after 13 good runs: last %q previous %v", s.LastGoodRevision, s.PreviousGood)
	}
	if got := s.RollbackTarget(); got != "r12" {
		t.Errorf("rollback from a good run goes to %q, want r12", got)
	}
	s.AppliedRevision = "bad" // a failed run does not MarkGood
	if got := s.RollbackTarget(); got != "r13" {
		t.Errorf("rollback from a failed run goes to %q, want r13", got)
	}
	s.MarkGood("r12") // rolled back to r12: no duplicates in history
	if s.LastGoodRevision != "r12" || s.PreviousGood[0] != "r13" || s.PreviousGood[1] != "r11" {
		t.Errorf("after re-marking r12: last %q previous %v", s.LastGoodRevision, s.PreviousGood)
	}
}

func TestApprove(t *testing.T) {
	s := State{Pending: &Approval{Revision: "abc", WouldChange: 50}}
	if s.IsApproved("abc") {
		t.Fatal("approved before Approve")
	}
	s.Approve("other")
	if s.Pending == nil {
		t.Error("approving another revision cleared the pending one")
	}
	s.Approve("abc")
	if !s.IsApproved("abc") || s.Pending != nil {
		t.Errorf("after Approve: %+v", s)
	}
	for i := range HistoryLen * 2 {
		s.Approve(fmt.Sprint(i))
	}
	if len(s.Approved) != HistoryLen || !s.IsApproved(fmt.Sprint(HistoryLen*2-1)) {
		t.Errorf("approvals not capped: %v", s.Approved)
	}
}

// TestUpdateSerialises runs many concurrent read-modify-writes; with the
// lock none of them is lost.
func TestUpdateSerialises(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Update(dir, func(s *State) error {
				s.Approved = append(s.Approved, fmt.Sprint(i))
				s.Run.OK++
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Run.OK != n {
		t.Errorf("%d of %d updates kept", s.Run.OK, n)
	}
	// fn's error aborts the save
	boom := errors.New("boom")
	if err := Update(dir, func(s *State) error { s.Run.OK = -1; return boom }); !errors.Is(err, boom) {
		t.Errorf("Update err = %v", err)
	}
	if s, _ := Load(dir); s.Run.OK != n {
		t.Errorf("aborted update was saved: %d", s.Run.OK)
	}
}
