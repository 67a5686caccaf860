package system

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/module/files"
	"github.com/tend-project/tend/internal/pyre"
)

func init() {
	module.Register(module.Info{Name: "wait_for", Kind: "other", New: func() module.Module { return &WaitFor{} }, Spec: module.Spec{
		"host":                     {Type: module.TypeStr, Default: "127.0.0.1"},
		"timeout":                  {Type: module.TypeInt, Default: 300},
		"connect_timeout":          {Type: module.TypeInt, Default: 5},
		"delay":                    {Type: module.TypeInt, Default: 0},
		"port":                     {Type: module.TypeInt},
		"active_connection_states": {Type: module.TypeList, Elements: module.TypeStr, Default: []any{"ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT"}},
		"path":                     {Type: module.TypePath},
		"search_regex":             {Type: module.TypeStr},
		"state":                    {Type: module.TypeStr, Default: "started", Choices: []string{"absent", "drained", "present", "started", "stopped"}},
		"exclude_hosts":            {Type: module.TypeList, Elements: module.TypeStr},
		"sleep":                    {Type: module.TypeInt, Default: 1},
		"msg":                      {Type: module.TypeStr},
	}})
}

// WaitFor is ansible.builtin.wait_for, in its local forms: a path that
// appears (optionally with content matching search_regex) or goes away, a
// TCP port on the host's loopback that opens or closes, or a plain pause.
// The port forms run only when the host is the machine tend runs on, and
// state=drained (which reads the kernel's connection table) is not
// implemented: both are refused with a message before anything waits.
// Like Ansible's module it does not support check mode: the task is
// skipped.
type WaitFor struct{}

var _ module.Module = (*WaitFor)(nil)

// connectionStates are the active_connection_states wait_for knows.
var connectionStates = map[string]bool{"ESTABLISHED": true, "SYN_SENT": true, "SYN_RECV": true, "FIN_WAIT1": true, "FIN_WAIT2": true, "TIME_WAIT": true}

// waitRun is one run of wait_for.
type waitRun struct {
	t      *module.Task
	re     *pyre.Regexp
	start  time.Time
	groups []any
	named  map[string]any
}

// Run implements module.Module.
func (*WaitFor) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	if t.Check {
		msg := "remote module (wait_for) does not support check mode"
		return module.Result{Skipped: true, Msg: msg, Values: map[string]any{"msg": msg}}, nil
	}
	a := t.Args
	w := &waitRun{t: t, groups: []any{}, named: map[string]any{}}
	fail := func(msg string, elapsed int) (module.Result, error) {
		r := module.Failf("%s", msg)
		r.Values = map[string]any{"elapsed": elapsed}
		return r, nil
	}
	if a.Has("search_regex") {
		re, err := pyre.Compile(a.String("search_regex"), "m")
		if err != nil {
			return module.Failf("Invalid regular expression: %v", err), nil
		}
		w.re = re
	}
	p, port, state := a.String("path"), a.Int("port"), a.String("state")
	switch {
	case port != 0 && p != "":
		return fail("port and path parameter can not both be passed to wait_for", 0)
	case p != "" && state == "stopped":
		return fail("state=stopped should only be used for checking a port in the wait_for module", 0)
	case p != "" && state == "drained":
		return fail("state=drained should only be used for checking a port in the wait_for module", 0)
	case a.Has("exclude_hosts") && state != "drained":
		return fail("exclude_hosts should only be with state=drained", 0)
	}
	for _, s := range a.Strings("active_connection_states") {
		if !connectionStates[s] {
			return fail(fmt.Sprintf("unknown active_connection_state (%s) defined", s), 0)
		}
	}
	if state == "drained" {
		return fail("wait_for: state=drained is not supported by tend (it reads the host's TCP connection table); run this play with --backend ansible", 0)
	}
	if port != 0 {
		if !t.Host.Local() || !loopback(a.String("host")) {
			return fail(fmt.Sprintf("wait_for: tend checks ports only on the loopback address of the machine it runs on (host %s, port %d on %s); run this play with --backend ansible", a.String("host"), port, t.Host.Name()), 0)
		}
	}
	w.start = time.Now()
	if err := sleep(ctx, seconds(a.Int("delay"))); err != nil {
		return module.Result{}, err
	}
	var msg string
	var err error
	switch {
	case port == 0 && p == "":
		err = sleep(ctx, seconds(a.Int("timeout")))
	case state == "absent" || state == "stopped":
		msg, err = w.until(ctx, w.gone)
	default:
		msg, err = w.until(ctx, w.there)
	}
	if err != nil {
		return module.Result{}, err
	}
	if msg != "" {
		if a.String("msg") != "" {
			msg = a.String("msg")
		}
		return fail(msg, w.elapsed())
	}
	v := map[string]any{"state": state, "port": a["port"], "search_regex": a["search_regex"], "path": a["path"],
		"match_groups": w.groups, "match_groupdict": w.named, "elapsed": w.elapsed()}
	if p != "" {
		if fi, err := host.StatFollow(ctx, t.Host, p); err == nil && fi.Exists {
			files.PathInfo(ctx, t.Host, p, v)
		}
	}
	return module.Result{Values: v}, nil
}

// elapsed is whole seconds since the start (timedelta.seconds).
func (w *waitRun) elapsed() int { return int(time.Since(w.start).Seconds()) }

// until checks done every sleep seconds until it reports true or timeout
// has passed since the start, as wait_for's loops: the message is the
// failure's, "" on success. A check that cannot go on returns an error
// message through fatal.
func (w *waitRun) until(ctx context.Context, done func(ctx context.Context, end time.Time) (ok bool, fatal string)) (string, error) {
	a := w.t.Args
	end := w.start.Add(seconds(a.Int("timeout")))
	for time.Now().Before(end) {
		ok, fatal := done(ctx, end)
		if fatal != "" {
			return fatal, nil
		}
		if ok {
			return "", nil
		}
		if err := sleep(ctx, seconds(a.Int("sleep"))); err != nil {
			return "", err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, port, hostName, re := a.String("path"), a.Int("port"), a.String("host"), a.String("search_regex")
	switch {
	case a.String("state") == "absent" || a.String("state") == "stopped":
		if port != 0 {
			return fmt.Sprintf("Timeout when waiting for %s:%d to stop.", hostName, port), nil
		}
		return fmt.Sprintf("Timeout when waiting for %s to be absent.", p), nil
	case port != 0 && a.Has("search_regex"):
		return fmt.Sprintf("Timeout when waiting for search string %s in %s:%d", re, hostName, port), nil
	case port != 0:
		return fmt.Sprintf("Timeout when waiting for %s:%d", hostName, port), nil
	case a.Has("search_regex"):
		return fmt.Sprintf("Timeout when waiting for search string %s in %s", re, p), nil
	}
	return fmt.Sprintf("Timeout when waiting for file %s", p), nil
}

// gone reports whether the path is absent (a dangling symlink is) or the
// port refuses connections.
func (w *waitRun) gone(ctx context.Context, end time.Time) (bool, string) {
	a := w.t.Args
	if p := a.String("path"); p != "" {
		fi, err := host.StatFollow(ctx, w.t.Host, p)
		return err != nil || !fi.Exists, ""
	}
	c, err := w.dial(ctx, seconds(a.Int("connect_timeout")))
	if err != nil {
		return true, ""
	}
	c.Close()
	return false, ""
}

// there reports whether the path exists (with content matching
// search_regex) or the port accepts a connection (and sends data matching
// search_regex before it closes or timeout passes).
func (w *waitRun) there(ctx context.Context, end time.Time) (bool, string) {
	a := w.t.Args
	h := w.t.Host
	if p := a.String("path"); p != "" {
		fi, err := host.StatFollow(ctx, h, p)
		if err != nil {
			return false, fmt.Sprintf("Failed to stat %s, %v", p, err)
		}
		if !fi.Exists {
			return false, ""
		}
		if w.re == nil {
			return true, ""
		}
		data, err := h.ReadFile(ctx, p)
		return err == nil && w.search(data), ""
	}
	left := time.Duration(math.Ceil(time.Until(end).Seconds())) * time.Second
	c, err := w.dial(ctx, min(seconds(a.Int("connect_timeout")), left))
	if err != nil {
		return false, ""
	}
	defer c.Close()
	if w.re == nil {
		return true, ""
	}
	var data []byte
	buf := make([]byte, 1024)
	for time.Now().Before(end) && ctx.Err() == nil {
		_ = c.SetReadDeadline(end)
		n, err := c.Read(buf)
		data = append(data, buf[:n]...)
		if w.search(data) {
			return true, ""
		}
		if err != nil {
			break // closed by the server, or the time is up
		}
	}
	return false, ""
}

// search looks for search_regex in data and keeps its groups.
func (w *waitRun) search(data []byte) bool {
	s := string(data)
	m := w.re.FindStringSubmatchIndex(s)
	if m == nil {
		return false
	}
	names := w.re.SubexpNames()
	for i := 1; 2*i+1 < len(m); i++ {
		var g any
		if m[2*i] >= 0 {
			g = s[m[2*i]:m[2*i+1]]
		}
		w.groups = append(w.groups, g)
		if i < len(names) && names[i] != "" {
			w.named[names[i]] = g
		}
	}
	return true
}

// dial connects to the port on the loopback address asked for.
func (w *waitRun) dial(ctx context.Context, timeout time.Duration) (net.Conn, error) {
	a := w.t.Args
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(a.String("host"), strconv.Itoa(a.Int("port"))))
}

// loopback reports whether name is this machine's loopback address.
func loopback(name string) bool {
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
