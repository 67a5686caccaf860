package config

import (
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.ParseInLocation("Mon 2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestWindowContains(t *testing.T) {
	tests := []struct {
		window string
		zone   string // zone the instant is written in
		at     string
		want   bool
	}{
		{"Mon-Fri 09:00-17:00 UTC", "UTC", "Wed 2026-11-25 09:00", true},
		{"Mon-Fri 09:00-17:00 UTC", "UTC", "Wed 2026-11-25 16:59", true},
		{"Mon-Fri 09:00-17:00 UTC", "UTC", "Wed 2026-11-25 17:00", false}, // end is exclusive
		{"Mon-Fri 09:00-17:00 UTC", "UTC", "Wed 2026-11-25 08:59", false},
		{"Mon-Fri 09:00-17:00 UTC", "UTC", "Sat 2026-11-28 10:00", false},
		{"Mon-Fri 09:00-17:00 UTC", "Europe/Berlin", "Wed 2026-11-25 17:30", true}, // 16:30 UTC
		{"Sat 00:00-06:00 Europe/Berlin", "UTC", "Fri 2026-11-27 23:30", true},     // 00:30 Sat in Berlin
		{"Sat 00:00-06:00 Europe/Berlin", "UTC", "Sat 2026-11-28 05:30", false},    // 06:30 in Berlin
		{"Sat 00:00-06:00 Europe/Berlin", "Europe/Berlin", "Sun 2026-11-29 01:00", false},
		{"daily 02:00-04:00 UTC", "UTC", "Sun 2026-11-29 03:00", true},
		{"daily 02:00-04:00 UTC", "UTC", "Sun 2026-11-29 04:00", false},
		{"Fri 22:00-02:00 UTC", "UTC", "Fri 2026-11-27 23:00", true},
		{"Fri 22:00-02:00 UTC", "UTC", "Sat 2026-11-28 01:59", true}, // tail after midnight
		{"Fri 22:00-02:00 UTC", "UTC", "Sat 2026-11-28 22:30", false},
		{"Fri 22:00-02:00 UTC", "UTC", "Fri 2026-11-27 01:00", false}, // Thursday's night is not in it
		{"Fri-Mon 00:00-24:00 UTC", "UTC", "Sun 2026-11-29 23:59", true},
		{"Fri-Mon 00:00-24:00 UTC", "UTC", "Tue 2026-12-01 12:00", false},
		{"Mon,Wed 10:00-11:00 UTC", "UTC", "Wed 2026-11-25 10:30", true},
		{"Mon,Wed 10:00-11:00 UTC", "UTC", "Tue 2026-11-24 10:30", false},
	}
	for _, tt := range tests {
		w, err := ParseWindow(tt.window)
		if err != nil {
			t.Fatalf("ParseWindow(%q): %v", tt.window, err)
		}
		at := mustTime(t, tt.zone, tt.at)
		if got := w.Contains(at); got != tt.want {
			t.Errorf("%q.Contains(%s %s) = %v, want %v", tt.window, tt.at, tt.zone, got, tt.want)
		}
	}
}

func TestWindowLocalZoneByDefault(t *testing.T) {
	w, err := ParseWindow("daily 02:00-04:00")
	if err != nil {
		t.Fatal(err)
	}
	if w.Loc != time.Local {
		t.Errorf("zone %v, want Local", w.Loc)
	}
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.Local)
	if !w.Contains(at) {
		t.Errorf("03:00 local not in %v", w)
	}
}

func TestWindowOpen(t *testing.T) {
	at := mustTime(t, "UTC", "Sat 2026-11-28 10:00")
	if !WindowOpen(nil, at) {
		t.Error("no windows must mean always open")
	}
	weekday, _ := ParseWindow("Mon-Fri 09:00-17:00 UTC")
	weekend, _ := ParseWindow("Sat-Sun 09:00-12:00 UTC")
	if WindowOpen([]Window{weekday}, at) {
		t.Error("Saturday inside a weekday window")
	}
	if !WindowOpen([]Window{weekday, weekend}, at) {
		t.Error("Saturday 10:00 not inside the weekend window")
	}
}

func TestParseWindowErrors(t *testing.T) {
	for s, want := range map[string]string{
		"":                          "want DAYS HH:MM-HH:MM [ZONE]",
		"Mon-Fri":                   "want DAYS HH:MM-HH:MM [ZONE]",
		"Mon-Fri 09:00":             "want a time range",
		"Mon-Fri 9-17":              `invalid time "9"`,
		"Mon-Fri 09:00-17:60":       `invalid time "17:60"`,
		"Mon-Fri 24:00-17:00":       `invalid time "24:00"`,
		"Mon-Fri 09:00-09:00":       "start and end are the same time",
		"Moon 09:00-10:00":          `unknown day "Moon"`,
		"Mon-Fri 09:00-17:00 CEST":  `unknown time zone "CEST"`,
		"Mon-Fri 09:00-17:00 UTC x": "want DAYS HH:MM-HH:MM [ZONE]",
	} {
		_, err := ParseWindow(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWindow(%q) = %v, want error containing %q", s, err, want)
		}
	}
}
