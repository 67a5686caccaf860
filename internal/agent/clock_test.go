package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/audit"
)

// fakeClock drives clockWatch: wall and monotonic time move separately.
type fakeClock struct {
	wall time.Time
	mono time.Duration
}

func (f *fakeClock) read() clockReading { return clockReading{wall: f.wall, mono: f.mono} }

// step lets d pass on both clocks and then moves the wall clock by jump.
func (f *fakeClock) step(d, jump time.Duration) {
	f.mono += d
	f.wall = f.wall.Add(d + jump)
}

func TestClockJumps(t *testing.T) {
	e := newEnv(t, "")
	e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	fc := &fakeClock{wall: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), mono: time.Hour}
	e.a.clock.read = fc.read

	for _, s := range []struct {
		name        string
		pass, jump  time.Duration
		fwd, bwd    float64
		auditResult string
	}{
		{"first look", 0, 0, 0, 0, ""},
		{"a minute, clocks agree", time.Minute, 0, 0, 0, ""},
		{"an hour, NTP slewed 3 s (within 2 s + 0.1%)", time.Hour, 3 * time.Second, 0, 0, ""},
		{"set a day ahead", time.Second, 24 * time.Hour, 1, 0, "forward"},
		{"set two days back", time.Second, -48 * time.Hour, 1, 1, "backward"},
		{"a 3 s step after 1 s", time.Second, 3 * time.Second, 2, 1, "forward"},
	} {
		fc.step(s.pass, s.jump)
		before := len(e.audit())
		if err := e.cycle(); err != nil {
			t.Fatalf("%s: cycle: %v", s.name, err)
		}
		if f, b := e.metric("tend_clock_jumps_total", "direction", "forward"), e.metric("tend_clock_jumps_total", "direction", "backward"); f != s.fwd || b != s.bwd {
			t.Errorf("%s: tend_clock_jumps_total forward=%v backward=%v, want %v %v", s.name, f, b, s.fwd, s.bwd)
		}
		var clock []audit.Entry
		for _, x := range e.audit()[before:] {
			if x.Kind == audit.KindClock {
				clock = append(clock, x)
			}
		}
		switch {
		case s.auditResult == "" && len(clock) > 0:
			t.Errorf("%s: audit has a clock line: %+v", s.name, clock)
		case s.auditResult != "" && (len(clock) != 1 || clock[0].Result != s.auditResult || !strings.Contains(clock[0].Msg, "jumped "+s.auditResult)):
			t.Errorf("%s: audit clock lines %+v, want one %q", s.name, clock, s.auditResult)
		}
	}
	// the jumps changed nothing about the host: the revision is applied
	if e.file("/etc/motd") != "v1\n" || e.state().AppliedRevision == "" {
		t.Errorf("after the jumps: motd %q, state %+v", e.file("/etc/motd"), e.state())
	}
}

func TestRolloutWait(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		committed time.Time
		held      time.Duration
		wantHeld  bool
		wantMsg   string
	}{
		{"old enough", now.Add(-2 * time.Hour), 0, false, ""},
		{"too young", now.Add(-10 * time.Minute), 0, true, "commit is 10m0s old, rollout_delay is 1h0m0s (applies after 2026-11-25T12:50:00Z)"},
		{"young, held a while", now.Add(-10 * time.Minute), 30 * time.Minute, true, "commit is 30m0s old"},
		{"committed in the future", now.Add(24 * time.Hour), 0, true, "ahead of this host's clock"},
		// the host's clock was set back a day after the commit arrived:
		// the monotonic clock still lets it go an hour after it came
		{"in the future, held for the delay", now.Add(24 * time.Hour), time.Hour, false, ""},
	} {
		why := rolloutWait(c.committed, now, c.held, time.Hour)
		if (why != "") != c.wantHeld || !strings.Contains(why, c.wantMsg) {
			t.Errorf("%s: rolloutWait = %q, want held=%v containing %q", c.name, why, c.wantHeld, c.wantMsg)
		}
	}
}

// TestRolloutDelayMonotonic: a commit held back by rollout_delay goes once
// the agent has held it for the delay by its monotonic clock, whatever
// the wall clock says.
func TestRolloutDelayMonotonic(t *testing.T) {
	// test commits are dated 2026-01-01 onwards: a year of delay holds them back
	e := newEnv(t, "guardrails:\n  rollout_delay: 8760h\n")
	fc := &fakeClock{wall: time.Now(), mono: time.Hour}
	e.a.clock.read = fc.read
	rev := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != "" || !strings.Contains(e.state().Blocked, "rollout_delay") {
		t.Fatalf("young commit applied: %+v", e.state())
	}
	fc.step(8760*time.Hour, -8760*time.Hour) // a year passes, the wall clock says it did not
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != rev || e.file("/etc/motd") != "v1\n" {
		t.Fatalf("a commit held for the whole delay was not applied: %+v", e.state())
	}
}
