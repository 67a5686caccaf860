package system

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tend-project/tend/internal/host"
)

func TestWaitForCheckModeSkips(t *testing.T) {
	res := run(t, "wait_for", map[string]any{"path": "/nonexistent", "timeout": 300}, true)
	if !res.Skipped || res.Msg != "remote module (wait_for) does not support check mode" {
		t.Errorf("check mode: %+v", res)
	}
}

// The path tests run in a synctest bubble: time is fake, so waiting a few
// seconds takes none, and elapsed is exact.

func TestWaitForPathAppears(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ready")
	synctest.Test(t, func(t *testing.T) {
		go func() {
			time.Sleep(1500 * time.Millisecond)
			os.WriteFile(p, []byte("starting\n"), 0o644)
			time.Sleep(2 * time.Second)
			os.WriteFile(p, []byte("starting\nlistening on 8080\n"), 0o644)
		}()
		res := run(t, "wait_for", map[string]any{"path": p, "search_regex": `^listening on (?P<port>\d+)(x)?$`, "timeout": 10}, false)
		if res.Failed || res.Values["elapsed"] != 4 {
			t.Fatalf("%+v", res)
		}
		if !reflect.DeepEqual(res.Values["match_groups"], []any{"8080", nil}) || !reflect.DeepEqual(res.Values["match_groupdict"], map[string]any{"port": "8080"}) {
			t.Errorf("groups %v %v", res.Values["match_groups"], res.Values["match_groupdict"])
		}
		// add_path_info's state (the path's type) replaces "started", as in
		// Ansible
		if res.Values["state"] != "file" || res.Values["path"] != p || res.Values["mode"] != "0644" || res.Values["port"] != nil {
			t.Errorf("values %v", res.Values)
		}
	})
}

func TestWaitForPathGoes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lock")
	os.WriteFile(p, nil, 0o644)
	synctest.Test(t, func(t *testing.T) {
		go func() {
			time.Sleep(2500 * time.Millisecond)
			os.Remove(p)
		}()
		res := run(t, "wait_for", map[string]any{"path": p, "state": "absent", "timeout": 10}, false)
		if res.Failed || res.Values["elapsed"] != 3 || res.Values["state"] != "absent" {
			t.Fatalf("%+v", res)
		}
	})
}

func TestWaitForTimeouts(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "present")
	os.WriteFile(present, []byte("text\n"), 0o644)
	for _, c := range []struct {
		args    map[string]any
		msg     string
		elapsed int
	}{
		// the delay counts towards the timeout, as in Ansible
		{map[string]any{"path": dir + "/none", "delay": 2, "timeout": 3}, "Timeout when waiting for file " + dir + "/none", 3},
		{map[string]any{"path": present, "search_regex": "nope", "timeout": 5, "sleep": 2}, "Timeout when waiting for search string nope in " + present, 6},
		{map[string]any{"path": present, "state": "absent", "timeout": 2}, "Timeout when waiting for " + present + " to be absent.", 2},
		{map[string]any{"path": present, "state": "absent", "timeout": 2, "msg": "still there"}, "still there", 2},
	} {
		synctest.Test(t, func(t *testing.T) {
			res := run(t, "wait_for", c.args, false)
			if !res.Failed || res.Msg != c.msg || res.Values["elapsed"] != c.elapsed {
				t.Errorf("%v: failed=%v %q elapsed %v, want %q after %d", c.args, res.Failed, res.Msg, res.Values["elapsed"], c.msg, c.elapsed)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		res := run(t, "wait_for", map[string]any{"timeout": 7}, false)
		if res.Failed || res.Values["elapsed"] != 7 {
			t.Errorf("pause: %+v", res)
		}
	})
}

// remoteHost is a host that is not the machine tend runs on.
type remoteHost struct{ host.Host }

func (remoteHost) Local() bool { return false }

func TestWaitForRefuses(t *testing.T) {
	for _, c := range []struct {
		args map[string]any
		h    host.Host
		msg  string
	}{
		{map[string]any{"port": 22, "path": "/x"}, nil, "port and path parameter can not both be passed to wait_for"},
		{map[string]any{"path": "/x", "state": "stopped"}, nil, "state=stopped should only be used for checking a port"},
		{map[string]any{"path": "/x", "state": "drained"}, nil, "state=drained should only be used for checking a port"},
		{map[string]any{"port": 22, "exclude_hosts": "10.0.0.1"}, nil, "exclude_hosts should only be with state=drained"},
		{map[string]any{"port": 22, "active_connection_states": "LISTEN"}, nil, "unknown active_connection_state (LISTEN) defined"},
		{map[string]any{"path": "/x", "search_regex": "("}, nil, "Invalid regular expression"},
		{map[string]any{"port": 22, "state": "drained"}, nil, "state=drained is not supported by tend"},
		{map[string]any{"port": 22, "host": "192.0.2.1"}, nil, "only on the loopback address"},
		{map[string]any{"port": 22}, remoteHost{host.NewLocal()}, "only on the loopback address"},
	} {
		synctest.Test(t, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = host.NewLocal()
			}
			start := time.Now()
			res := runOn(t, h, "wait_for", c.args, false)
			if !res.Failed || !strings.Contains(res.Msg, c.msg) || time.Since(start) != 0 {
				t.Errorf("%v: failed=%v %q after %v, want %q at once", c.args, res.Failed, res.Msg, time.Since(start), c.msg)
			}
		})
	}
}

// TestWaitForPort uses real sockets on 127.0.0.1.
func TestWaitForPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.1: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			c.Close()
		}
	}()
	res := run(t, "wait_for", map[string]any{"port": port, "timeout": 5}, false)
	if res.Failed || res.Values["port"] != port || res.Values["state"] != "started" {
		t.Fatalf("started: %+v", res)
	}
	res = run(t, "wait_for", map[string]any{"port": port, "host": "localhost", "search_regex": `OpenSSH_(\S+)`, "timeout": 5}, false)
	if res.Failed || !reflect.DeepEqual(res.Values["match_groups"], []any{"9.2"}) {
		t.Fatalf("search_regex: %+v", res)
	}
	res = run(t, "wait_for", map[string]any{"port": port, "state": "stopped", "timeout": 1}, false)
	if !res.Failed || res.Msg != "Timeout when waiting for 127.0.0.1:"+strconv.Itoa(port)+" to stop." {
		t.Fatalf("open port stopped: %+v", res)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln.Close()
	}()
	res = run(t, "wait_for", map[string]any{"port": port, "state": "stopped", "timeout": 10}, false)
	if res.Failed || res.Values["elapsed"].(int) > 2 {
		t.Fatalf("stopped: %+v", res)
	}
	res = run(t, "wait_for", map[string]any{"port": port, "timeout": 1, "connect_timeout": 1}, false)
	if !res.Failed || res.Msg != "Timeout when waiting for 127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("closed port started: %+v", res)
	}
}
