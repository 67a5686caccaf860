package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/config"
	"github.com/tend-project/tend/internal/drift"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/state"
)

// The fast check owns the indexed files' part of the drift report; packages,
// unindexed files and files it could not read keep what the last check-mode
// run said.
func TestMergeFileDrift(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	for _, p := range []string{a, b, c} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := drift.Build("", []drift.Target{{Path: a, Content: true}, {Path: b, Content: true}, {Path: c, Content: true}}, nil, time.Now())
	prev := []module.Resource{
		{Kind: "package", ID: "nginx", Differs: []string{"version"}},
		{Kind: "file", ID: a, Differs: []string{"content"}}, // repaired since: dropped
		{Kind: "file", ID: "/not/indexed", Differs: []string{"state"}},
		{Kind: "file", ID: c, Differs: []string{"content"}}, // unreadable now: kept
	}
	if err := os.Chmod(b, 0o600); err != nil {
		t.Fatal(err)
	}
	res := &drift.Result{
		Drifted:  []drift.Drifted{{Path: b, Differs: []string{"mode"}}},
		Failures: []drift.Failure{{Path: c, Reason: "permission denied"}},
	}
	got := mergeFileDrift(prev, x, res)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.Kind+":"+r.ID+":"+strings.Join(r.Differs, ","))
	}
	want := []string{"package:nginx:version", "file:/not/indexed:state", "file:" + c + ":content", "file:" + b + ":mode"}
	if !slices.Equal(ids, want) {
		t.Fatalf("merged drift\n%q\nwant\n%q", ids, want)
	}
}

func TestRemediationBlocked(t *testing.T) {
	a := &Agent{}
	on := config.Defaults()
	on.Drift.Remediate = true
	off := config.Defaults()
	off.Drift.Remediate = false
	capped := config.Defaults()
	capped.Guardrails.MaxChanges = 1
	applied := state.State{AppliedRevision: "abc"}
	paused := applied
	paused.Pause = state.Pause{Paused: true, Reason: "incident"}
	failed := applied
	failed.Run = state.Run{Mode: "apply", Revision: "abc", Error: "1 task(s) failed"}
	now := time.Now()
	cases := []struct {
		cfg  *config.Config
		st   state.State
		n    int
		want string // "" = remediate; else a word of the reason
	}{
		{on, applied, 1, ""},
		{off, applied, 1, "remediate is false"},
		{on, state.State{}, 1, "nothing applied"},
		{on, paused, 1, "incident"},
		{capped, applied, 2, "max_changes"},
		{capped, applied, 1, ""},
		{on, failed, 1, "last apply"},
	}
	for i, c := range cases {
		got := a.remediationBlocked(c.cfg, &c.st, c.n, now)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}

// Without a watcher, fastCheck on an empty index is a no-op and never fails.
func TestFastCheckEmptyIndex(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.StateDir = dir
	a := &Agent{cfg: cfg}
	a.log = slog.New(slog.DiscardHandler)
	a.fastCheck(context.Background())
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		t.Fatal("a check over an empty index wrote state.json")
	}
}

// The periodic full hash wakes the loop when it is due, and only when a
// watcher runs and the interval is not 0 (then every check is full).
func TestFullHashTimer(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Drift.FullHashInterval = time.Hour
	a := &Agent{}
	if a.fullHashTimer(cfg) != nil {
		t.Fatal("timer without an index or a watcher")
	}
	x, _ := drift.Build("", []drift.Target{{Path: p, Content: true}}, nil, time.Now().Add(-2*time.Hour))
	w, err := drift.NewWatcher(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // Run on an ended context closes the inotify instance
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w.Run(ctx)
	})
	a.fast.index, a.fast.loaded, a.fast.watcher = x, true, w
	select {
	case <-a.fullHashTimer(cfg):
	case <-time.After(5 * time.Second):
		t.Fatal("an overdue full hash did not fire")
	}
	x.Check(context.Background(), true)
	select {
	case <-a.fullHashTimer(cfg):
		t.Fatal("fired right after a full hash")
	case <-time.After(50 * time.Millisecond):
	}
	cfg.Drift.FullHashInterval = 0
	if a.fullHashTimer(cfg) != nil {
		t.Fatal("timer with full_hash_interval 0")
	}
}

// TestRepairPacing: three repairs in a row go at once, then the pauses
// double up to maxRepairDelay, and a quiet spell ends the streak.
func TestRepairPacing(t *testing.T) {
	var f fastDrift
	var waits []time.Duration
	for range 14 {
		// drift comes back at once: the delay asked now is the whole pause
		wait, _ := f.repairDelay()
		waits = append(waits, wait.Round(time.Second))
		f.repaired()
	}
	want := []time.Duration{0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(waits, want) {
		t.Errorf("pauses = %v, want %v", waits, want)
	}
	if _, news := f.repairDelay(); !news {
		t.Error("the first repairDelay during a pause is not news")
	}
	if _, news := f.repairDelay(); news {
		t.Error("a second repairDelay during the same pause is news again")
	}
	f.lastRepair = time.Now().Add(-(maxRepairDelay + repairQuiet + time.Second))
	if f.repaired(); f.streak != 0 {
		t.Errorf("streak = %d after a quiet spell, want 0", f.streak)
	}
}
