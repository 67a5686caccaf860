package agent

import (
	"fmt"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/audit"
)

// The agent's timers (interval, splay, backoff, drift interval, lock
// waits) run on Go's monotonic clock, so a wall clock that is set, stepped
// by NTP or resumed after a suspend does not stretch or skip them. What
// follows the wall clock on purpose — change windows, rollout_delay's
// commit age, timestamps in state, audit and metrics — is told about a
// jump here: the agent compares how far both clocks moved between two
// looks and reports a difference as a warning, an audit line and
// tend_clock_jumps_total.

// clockReading is one look at both clocks: wall time, and monotonic time
// since the process started.
type clockReading struct {
	wall time.Time
	mono time.Duration
}

var processStart = time.Now()

func readClock() clockReading {
	now := time.Now()
	return clockReading{wall: now.Round(0), mono: now.Sub(processStart)}
}

// clockWatch remembers the previous look.
type clockWatch struct {
	mu   sync.Mutex
	read func() clockReading // readClock; tests set their own
	prev clockReading
	// seen is when (monotonic) this process first saw each revision it
	// held back for rollout_delay
	seen map[string]time.Duration
}

func (c *clockWatch) now() clockReading {
	if c.read != nil {
		return c.read()
	}
	return readClock()
}

// jumpTolerance is how far the wall clock may drift from the monotonic
// one between two looks before it counts as a jump: NTP slews the wall
// clock by at most 500 ppm, so 2 s plus 0.1% of the time that passed.
func jumpTolerance(elapsed time.Duration) time.Duration {
	return 2*time.Second + elapsed/1000
}

// look returns how far the wall clock moved beyond (or short of) the
// monotonic clock since the previous look, and the monotonic time that
// passed; jump is 0 within jumpTolerance and at the first look.
func (c *clockWatch) look() (jump, elapsed time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.now()
	prev := c.prev
	c.prev = cur
	if prev.wall.IsZero() {
		return 0, 0
	}
	elapsed = cur.mono - prev.mono
	jump = cur.wall.Sub(prev.wall) - elapsed
	if jump.Abs() < jumpTolerance(elapsed) {
		return 0, elapsed
	}
	return jump, elapsed
}

// heldSince returns how long ago (monotonic) this process first asked
// about rev; the first call records it.
func (c *clockWatch) heldSince(rev string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.now()
	if c.seen == nil {
		c.seen = map[string]time.Duration{}
	}
	first, ok := c.seen[rev]
	if !ok {
		if len(c.seen) > 64 {
			clear(c.seen) // only the newest revisions matter
		}
		c.seen[rev] = cur.mono
		return 0
	}
	return cur.mono - first
}

// checkClock looks at the clocks and reports a jump: log, audit, metric.
func (a *Agent) checkClock() {
	jump, elapsed := a.clock.look()
	if jump == 0 {
		return
	}
	dir := "forward"
	if jump < 0 {
		dir = "backward"
	}
	a.Metrics.ClockJump(dir)
	msg := fmt.Sprintf("the wall clock jumped %s by %s (%s passed on the monotonic clock); "+
		"intervals are unaffected, change windows and rollout_delay follow the new time",
		dir, jump.Abs().Round(time.Millisecond), elapsed.Round(time.Millisecond))
	a.log.Warn("clock jump", "direction", dir, "by", jump.Abs().Round(time.Millisecond), "monotonic", elapsed.Round(time.Millisecond))
	a.auditWrite(audit.Entry{Kind: audit.KindClock, Result: dir, Msg: msg})
}
