package system

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
)

// fakeGetent is a host whose getent prints canned output; it records the
// commands run and refuses any that is not declared read-only.
type fakeGetent struct {
	host.Host
	out   string
	rc    int
	calls []string
}

func (f *fakeGetent) Run(ctx context.Context, c host.Command) (host.CommandResult, error) {
	if !c.ReadOnly {
		return host.CommandResult{}, host.ErrReadOnly
	}
	f.calls = append(f.calls, strings.Join(c.Argv, " "))
	return host.CommandResult{RC: f.rc, Stdout: []byte(f.out)}, nil
}

func getentFacts(t *testing.T, out string, rc int, args map[string]any) (map[string]any, []string, string, bool) {
	t.Helper()
	f := &fakeGetent{Host: host.NewLocal(), out: out, rc: rc}
	// check mode: getent only reads, so it runs through the read-only host
	res := runOn(t, f, "getent", args, true)
	facts, _ := res.Values["ansible_facts"].(map[string]any)
	return facts, f.calls, res.Msg, res.Failed
}

func TestGetentParsing(t *testing.T) {
	facts, calls, _, failed := getentFacts(t, "root:x:0:0:root:/root:/bin/bash\n", 0, map[string]any{"database": "passwd", "key": "root", "service": "files"})
	if failed || !reflect.DeepEqual(facts, map[string]any{"getent_passwd": map[string]any{"root": []any{"x", "0", "0", "root", "/root", "/bin/bash"}}}) {
		t.Errorf("passwd: %v", facts)
	}
	if !reflect.DeepEqual(calls, []string{"getent passwd root -s files"}) {
		t.Errorf("ran %q", calls)
	}
	// whitespace split, and a key seen more than once becomes a list of
	// records
	facts, _, _, _ = getentFacts(t, "domain  53/tcp\ndomain  53/udp\nhttp 80/tcp www\ndomain 53/sctp\n", 0, map[string]any{"database": "services"})
	want := map[string]any{
		"domain": []any{[]any{"53/tcp"}, []any{"53/udp"}, []any{"53/sctp"}},
		"http":   []any{"80/tcp", "www"},
	}
	if !reflect.DeepEqual(facts["getent_services"], want) {
		t.Errorf("services: %v", facts["getent_services"])
	}
	facts, _, _, _ = getentFacts(t, "a-b-c\n", 0, map[string]any{"database": "hosts", "split": "-"})
	if !reflect.DeepEqual(facts["getent_hosts"], map[string]any{"a": []any{"b", "c"}}) {
		t.Errorf("split: %v", facts)
	}
}

func TestGetentExitCodes(t *testing.T) {
	for _, c := range []struct {
		rc     int
		args   map[string]any
		msg    string
		failed bool
	}{
		{1, map[string]any{"database": "nope"}, "Missing arguments, or database unknown.", true},
		{2, map[string]any{"database": "passwd", "key": "x"}, "One or more supplied key could not be found in the database.", true},
		{2, map[string]any{"database": "passwd", "key": "x", "fail_key": false}, "One or more supplied key could not be found in the database.", false},
		{3, map[string]any{"database": "shadow"}, "Enumeration not supported on this database.", true},
		{5, map[string]any{"database": "passwd"}, "Unexpected failure!", true},
		{127, map[string]any{"database": "passwd"}, `Failed to find required executable "getent"`, true},
		{0, map[string]any{"database": "passwd", "split": ""}, "split must not be empty", true},
	} {
		facts, _, msg, failed := getentFacts(t, "", c.rc, c.args)
		if failed != c.failed || !strings.HasPrefix(msg, c.msg) {
			t.Errorf("rc %d %v: failed=%v %q", c.rc, c.args, failed, msg)
		}
		if !c.failed && !reflect.DeepEqual(facts, map[string]any{"getent_passwd": map[string]any{"x": nil}}) {
			t.Errorf("fail_key false: facts %v", facts)
		}
	}
}

// TestGetentReal runs the real getent through the local host.
func TestGetentReal(t *testing.T) {
	if _, err := exec.LookPath("getent"); err != nil {
		t.Skip("getent not found")
	}
	res := runOn(t, host.NewLocal(), "getent", map[string]any{"database": "passwd", "key": "root"}, true)
	root, _ := res.Values["ansible_facts"].(map[string]any)["getent_passwd"].(map[string]any)["root"].([]any)
	if res.Failed || len(root) != 6 || root[1] != "0" {
		t.Errorf("getent passwd root: %+v", res)
	}
}
