package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 21, 0, 0, 0, time.FixedZone("CET", 3600))
	want := []Entry{
		{Time: at, Kind: KindSync, Revision: "abc123", Result: "success"},
		{Time: at, Kind: KindChange, Revision: "abc123", Author: "Alice <a@example.com>", Committer: "Bob <b@example.com>",
			Signer: "SHA256:xyz", Task: "motd", Resource: "file:/etc/motd", Before: strings.Repeat("a", 64), After: strings.Repeat("b", 64), Result: "changed"},
		{Time: at, Kind: KindRun, Revision: "abc123", Result: "success", Msg: "ok=3 changed=1 failed=0 skipped=0"},
	}
	for _, e := range want {
		if err := l.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Write(Entry{Kind: KindPause, Msg: "incident"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("read %d entries, want 4", len(got))
	}
	for i := range want {
		want[i].Time = want[i].Time.UTC()
	}
	if !reflect.DeepEqual(got[:3], want) {
		t.Errorf("got %+v\nwant %+v", got[:3], want)
	}
	if got[3].Time.IsZero() || time.Since(got[3].Time) > time.Minute {
		t.Errorf("default time %v, want now", got[3].Time)
	}
	data, _ := os.ReadFile(p)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), data)
	}
	var m map[string]any
	if err := json.Unmarshal(lines[1], &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "kind", "revision", "author", "committer", "signer", "task", "resource", "before_sha256", "after_sha256", "result"} {
		if _, ok := m[k]; !ok {
			t.Errorf("line lacks %q: %s", k, lines[1])
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
}

func TestWriteAfterClose(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "a.jsonl"), 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.Write(Entry{Kind: KindRun}); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestTornLastLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	good := `{"time":"2026-11-25T20:00:00Z","kind":"run","result":"success"}` + "\n"
	torn := `{"time":"2026-11-25T20:01:00Z","kind":"cha`
	if err := os.WriteFile(p, []byte(good+torn), 0o600); err != nil {
		t.Fatal(err)
	}
	es, err := Read(p)
	if err != nil || len(es) != 1 || es[0].Kind != KindRun {
		t.Fatalf("Read = %+v, %v; want the one whole entry", es, err)
	}
	// appending after a crash starts a fresh line, so the new entry survives
	l, err := Open(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(Entry{Kind: KindResume}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	es, err = Read(p)
	if err != nil || len(es) != 2 || es[1].Kind != KindResume {
		t.Fatalf("after append: %+v, %v", es, err)
	}
}

func TestReadMissing(t *testing.T) {
	es, err := Read(filepath.Join(t.TempDir(), "none.jsonl"))
	if err != nil || es != nil {
		t.Fatalf("Read(missing) = %v, %v", es, err)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.jsonl")
	l, err := Open(p, 400)
	if err != nil {
		t.Fatal(err)
	}
	l.Keep = 3
	const n = 40
	for i := range n {
		if err := l.Write(Entry{Kind: KindChange, Task: fmt.Sprintf("task %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, name := range []string{"audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Size() > 400 {
			t.Errorf("%s is %d bytes, over the 400 limit", name, fi.Size())
		}
	}
	if _, err := os.Stat(p + ".4"); err == nil {
		t.Error("audit.jsonl.4 exists with Keep = 3")
	}
	all, err := ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || len(all) >= n {
		t.Fatalf("ReadAll kept %d of %d entries; rotation should drop the oldest", len(all), n)
	}
	// the kept history is the newest entries, in order
	for i, e := range all {
		if want := fmt.Sprintf("task %02d", n-len(all)+i); e.Task != want {
			t.Fatalf("entry %d is %q, want %q", i, e.Task, want)
		}
	}
}

// TestConcurrentWriters has two Logs on the same file — as the agent and a
// `tend pause` process would — write while rotating. No line may be lost or
// interleaved.
func TestConcurrentWriters(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	const writers, each = 4, 50
	logs := make([]*Log, writers)
	for i := range logs {
		l, err := Open(p, 2000)
		if err != nil {
			t.Fatal(err)
		}
		l.Keep = 100
		logs[i] = l
	}
	var wg sync.WaitGroup
	for w, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Write(Entry{Kind: KindChange, Task: fmt.Sprintf("w%d-%d", w, i), Msg: strings.Repeat("x", 50)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range logs {
		l.Close()
	}
	all, err := ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.Task] = true
	}
	if len(all) != writers*each || len(seen) != writers*each {
		t.Errorf("read %d entries (%d distinct), want %d", len(all), len(seen), writers*each)
	}
	if _, err := os.Stat(p + ".2"); err != nil {
		t.Errorf("no rotation happened: %v", err)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		s       string
		secrets []string
		want    string
	}{
		{"password is hunter2", []string{"hunter2"}, "password is ********"},
		{"a=s3cret b=s3cret", []string{"s3cret"}, "a=******** b=********"},
		{"token abcdef", []string{"abc", "abcdef"}, "token ********"}, // longest first
		{"nothing here", []string{"", "zzz"}, "nothing here"},
		{"", []string{"x"}, ""},
	}
	for _, tt := range tests {
		if got := Redact(tt.s, tt.secrets); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.s, tt.secrets, got, tt.want)
		}
	}
	e := Entry{Kind: KindChange, Revision: "abc", Task: "set pw hunter2", Msg: "changed hunter2 to x", Result: "changed"}.Redact([]string{"hunter2"})
	if strings.Contains(e.Task+e.Msg, "hunter2") || e.Revision != "abc" {
		t.Errorf("Entry.Redact = %+v", e)
	}
}
