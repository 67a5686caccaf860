package service

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/moduletest"
)

func runOn(t *testing.T, h host.Host, name string, raw map[string]any, check bool) module.Result {
	t.Helper()
	return moduletest.Run(t, h, name, raw, check)
}

// fakeSystemd is a host whose PID 1 is systemd; it records systemctl calls
// and answers `show` from a canned state.
type fakeSystemd struct {
	host.Host
	show  string
	calls []string
}

func (f *fakeSystemd) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if p == "/proc/1/comm" {
		return []byte("systemd\n"), nil
	}
	return nil, os.ErrNotExist
}
func (f *fakeSystemd) Stat(ctx context.Context, p string) (host.FileInfo, error) {
	return host.FileInfo{Path: p}, nil
}
func (f *fakeSystemd) Run(ctx context.Context, c host.Command) (host.CommandResult, error) {
	f.calls = append(f.calls, strings.Join(c.Argv, " "))
	if len(c.Argv) > 1 && c.Argv[1] == "show" {
		return host.CommandResult{Stdout: []byte(f.show)}, nil
	}
	return host.CommandResult{}, nil
}

func TestSystemdCommands(t *testing.T) {
	stopped := "Id=nginx.service\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n"
	running := "Id=nginx.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
	cases := []struct {
		name  string
		show  string
		args  map[string]any
		calls string
	}{
		{"start+enable", stopped, map[string]any{"name": "nginx", "state": "started", "enabled": true}, "systemctl show nginx --no-pager|systemctl enable nginx|systemctl start nginx"},
		{"noop", running, map[string]any{"name": "nginx", "state": "started", "enabled": true}, "systemctl show nginx --no-pager"},
		{"restart", running, map[string]any{"name": "nginx", "state": "restarted"}, "systemctl show nginx --no-pager|systemctl restart nginx"},
		{"reload stopped starts", stopped, map[string]any{"name": "nginx", "state": "reloaded"}, "systemctl show nginx --no-pager|systemctl start nginx"},
		{"mask", running, map[string]any{"name": "nginx", "masked": true, "state": "stopped"}, "systemctl show nginx --no-pager|systemctl mask nginx|systemctl stop nginx"},
		{"daemon-reload first", stopped, map[string]any{"name": "nginx", "state": "started", "daemon_reload": true}, "systemctl show nginx --no-pager|systemctl daemon-reload|systemctl start nginx"},
		{"user scope", stopped, map[string]any{"name": "nginx", "state": "started", "scope": "user"}, "systemctl --user show nginx --no-pager|systemctl --user start nginx"},
		{"service uses systemd", stopped, map[string]any{"name": "nginx", "state": "stopped"}, "systemctl show nginx --no-pager"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mod := "systemd"
			if strings.HasPrefix(c.name, "service") {
				mod = "service"
			}
			f := &fakeSystemd{show: c.show}
			res := runOn(t, f, mod, c.args, false)
			if res.Failed {
				t.Fatal(res.Msg)
			}
			if got := strings.Join(f.calls, "|"); got != c.calls {
				t.Fatalf("calls:\n got %s\nwant %s", got, c.calls)
			}
			if res.Changed != strings.Contains(c.calls, "|") {
				t.Fatalf("changed = %v", res.Changed)
			}
			// check mode: only the read-only show runs
			f = &fakeSystemd{show: c.show}
			cres := runOn(t, f, mod, c.args, true)
			if cres.Changed != res.Changed || len(f.calls) != 1 {
				t.Fatalf("check mode: changed=%v calls=%v", cres.Changed, f.calls)
			}
		})
	}
}

func TestSystemdWithoutSystemd(t *testing.T) {
	if ok, _ := systemdRunning(context.Background(), host.NewLocal()); ok {
		t.Skip("systemd is running here; this test needs a host without it")
	}
	res := runOn(t, host.NewLocal(), "systemd", map[string]any{"name": "cron", "state": "started"}, false)
	if !res.Failed || !strings.Contains(res.Msg, "has not been booted with systemd") {
		t.Fatalf("%+v", res)
	}
}

const initScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          tendtest-svc
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: tend test service
### END INIT INFO
PID=/run/tendtest-svc.pid
running() { [ -f $PID ] && kill -0 "$(cat $PID)" 2>/dev/null; }
case "$1" in
start) running || { setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo $! > $PID; } ;;
stop) running && kill "$(cat $PID)"; rm -f $PID ;;
restart|reload|force-reload) $0 stop; $0 start ;;
status) running ;;
*) exit 3 ;;
esac
`

func TestServiceInitScript(t *testing.T) {
	if ok, _ := systemdRunning(context.Background(), host.NewLocal()); ok {
		t.Skip("systemd is PID 1; the init-script path is for hosts without it")
	}
	for _, tool := range []string{"service", "update-rc.d"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (init-system-helpers)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to install an init script")
	}
	script := "/etc/init.d/tendtest-svc"
	if err := os.WriteFile(script, []byte(initScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(script, "stop").Run()
		os.Remove(script)
		exec.Command("update-rc.d", "tendtest-svc", "remove").Run()
	})
	h := host.NewLocal()
	args := map[string]any{"name": "tendtest-svc", "state": "started", "enabled": true}
	if res := runOn(t, h, "service", args, true); !res.Changed || len(res.Resources[0].Differs) != 2 {
		t.Fatalf("check: %+v", res)
	}
	if exec.Command(script, "status").Run() == nil {
		t.Fatal("check mode started the service")
	}
	if res := runOn(t, h, "service", args, false); !res.Changed || res.Failed {
		t.Fatalf("start: %+v", res)
	}
	if err := exec.Command(script, "status").Run(); err != nil {
		t.Fatal("service not running after state=started")
	}
	if m, _ := filepath.Glob("/etc/rc2.d/S??tendtest-svc"); len(m) != 1 {
		t.Fatalf("no start link in rc2.d: %v", m)
	}
	if res := runOn(t, h, "service", args, false); res.Changed {
		t.Fatalf("second run changed: %+v", res)
	}
	// drift: stopped behind tend's back
	exec.Command(script, "stop").Run()
	if res := runOn(t, h, "service", args, true); !res.Changed || res.Resources[0].Differs[0] != "state: stopped -> started" {
		t.Fatalf("drift: %+v", res)
	}
	stop := map[string]any{"name": "tendtest-svc", "state": "stopped", "enabled": false}
	runOn(t, h, "service", map[string]any{"name": "tendtest-svc", "state": "restarted"}, false)
	if res := runOn(t, h, "service", stop, false); !res.Changed || res.Failed {
		t.Fatalf("stop: %+v", res)
	}
	if exec.Command(script, "status").Run() == nil {
		t.Fatal("still running after state=stopped")
	}
	if m, _ := filepath.Glob("/etc/rc2.d/S??tendtest-svc"); len(m) != 0 {
		t.Fatalf("start link left after enabled=false: %v", m)
	}
	if res := runOn(t, h, "service", stop, false); res.Changed {
		t.Fatalf("second stop changed: %+v", res)
	}
}
