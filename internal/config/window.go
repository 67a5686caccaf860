package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Window is a recurring time span in which runs that change the host may
// happen (guardrails.windows), written as
//
//	DAYS HH:MM-HH:MM [ZONE]
//
// DAYS is "daily", one day ("Sat"), a range ("Mon-Fri", "Fri-Mon") or a comma
// list of those ("Mon,Wed,Fri-Sat"). ZONE is an IANA name or "UTC"; without
// one the host's local time zone applies. An end at or before the start
// crosses midnight ("Fri 22:00-02:00" ends Saturday 02:00); "24:00" ends at
// midnight. The days name the day the window starts.
type Window struct {
	Days  [7]bool // indexed by time.Weekday
	Start int     // minutes after midnight
	End   int     // minutes after midnight, 1..1440
	Loc   *time.Location
	text  string
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow parses one window; see Window for the syntax.
func ParseWindow(s string) (Window, error) {
	w := Window{text: s, Loc: time.Local}
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return w, fmt.Errorf("invalid window %q: want DAYS HH:MM-HH:MM [ZONE], e.g. \"Mon-Fri 09:00-17:00 UTC\"", s)
	}
	if err := w.parseDays(f[0]); err != nil {
		return w, fmt.Errorf("invalid window %q: %v", s, err)
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return w, fmt.Errorf("invalid window %q: want a time range like 09:00-17:00, got %q", s, f[1])
	}
	var err error
	if w.Start, err = parseClock(from, false); err != nil {
		return w, fmt.Errorf("invalid window %q: %v", s, err)
	}
	if w.End, err = parseClock(to, true); err != nil {
		return w, fmt.Errorf("invalid window %q: %v", s, err)
	}
	if w.Start == w.End {
		return w, fmt.Errorf("invalid window %q: start and end are the same time", s)
	}
	if len(f) == 3 {
		loc, err := time.LoadLocation(f[2])
		if err != nil || f[2] == "Local" {
			return w, fmt.Errorf("invalid window %q: unknown time zone %q (use an IANA name like Europe/Berlin, or UTC)", s, f[2])
		}
		w.Loc = loc
	}
	return w, nil
}

func (w *Window) parseDays(s string) error {
	if strings.EqualFold(s, "daily") || s == "*" {
		for i := range w.Days {
			w.Days[i] = true
		}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := dayNames[strings.ToLower(a)]
		if !ok {
			return fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)", a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[strings.ToLower(b)]; !ok {
				return fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)", b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !end)) {
		return 0, fmt.Errorf("invalid time %q (want HH:MM, 00:00 to 24:00)", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether t falls inside the window (start inclusive, end exclusive).
func (w Window) Contains(t time.Time) bool {
	loc := w.Loc
	if loc == nil {
		loc = time.Local
	}
	t = t.In(loc)
	mins := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if w.End > w.Start {
		return w.Days[day] && mins >= w.Start && mins < w.End
	}
	// crosses midnight: the part after the start today, or the tail of yesterday's window
	yesterday := (day + 6) % 7
	return (w.Days[day] && mins >= w.Start) || (w.Days[yesterday] && mins < w.End)
}

// String returns the window as it was written.
func (w Window) String() string { return w.text }

// MarshalYAML writes the window as its text.
func (w Window) MarshalYAML() (any, error) { return w.text, nil }

// UnmarshalYAML lets a Window be decoded by yaml outside Load too.
func (w *Window) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	p, err := ParseWindow(s)
	if err != nil {
		return err
	}
	*w = p
	return nil
}

// WindowOpen reports whether t is inside any of ws; no windows means always open.
func WindowOpen(ws []Window, t time.Time) bool {
	if len(ws) == 0 {
		return true
	}
	for _, w := range ws {
		if w.Contains(t) {
			return true
		}
	}
	return false
}
