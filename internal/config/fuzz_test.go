package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzConfig: no tend.yaml makes Parse, Validate or Marshal panic; a config
// that parses and validates survives a Marshal/Parse round trip.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "..", "packaging", "tend.yaml")); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"source:\n  url: /srv/repo\n  interval: 5m\n  splay: 1m\n",
		"source: {url: x, interval: -1s}\n",
		"source:\n  url: x\n  verify: {mode: ssh}\n",
		"guardrails:\n  windows: [\"Mon-Fri 09:00-17:00 UTC\", \"Sat 25:00-01:00 Mars/Olympus\"]\n",
		"backups: {max_bytes: 10GiB, max_age: 99999999999h}\n",
		"audit: {max_bytes: -1}\n", "state_dir: ~\n", "listen: [1]\n", "&a [*a]\n", "source: !!binary eA==\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("tend.yaml", data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("a valid config does not marshal: %v", err)
		}
		if _, err := Parse("tend.yaml", out); err != nil {
			t.Fatalf("a valid config does not parse back: %v\ninput:\n%s\nmarshalled:\n%s", err, data, out)
		}
	})
}

// FuzzConfigValues: the scalar parsers (durations, sizes, change windows)
// never panic, and an open-window check on a parsed window never panics.
func FuzzConfigValues(f *testing.F) {
	for _, s := range []string{"5m", "1h30m", "-1s", "10GiB", "1.5MB", "0", "Mon-Fri 09:00-17:00 UTC", "Sun 23:00-01:00 Europe/Berlin", "Fri-Mon 00:00-24:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil {
			_ = FormatDuration(d)
		}
		if n, err := ParseBytes(s); err == nil {
			_ = FormatBytes(n)
		}
		if w, err := ParseWindow(s); err == nil {
			_ = WindowOpen([]Window{w}, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC))
			_ = WindowOpen([]Window{w}, time.Now())
		}
	})
}
