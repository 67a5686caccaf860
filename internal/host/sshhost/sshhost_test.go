package sshhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/host/hosttest"
	"github.com/tend-project/tend/internal/host/sshhost"
	"github.com/tend-project/tend/internal/testsupport/sshd"
)

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("these tests log in as root over SSH and need to run as root")
	}
}

type fixture struct {
	srv        *sshd.Server
	key        sshd.Key
	knownHosts string
}

func start(t *testing.T, users ...string) fixture {
	dir := t.TempDir()
	key := sshd.NewKey(t, dir, "client")
	srv := sshd.Start(t, sshd.Options{AuthorizedKeys: []string{key.Line}, Users: users})
	return fixture{srv: srv, key: key, knownHosts: sshd.KnownHosts(t, dir, srv)}
}

func (f fixture) config(user string) sshhost.Config {
	return sshhost.Config{Name: "target", Host: f.srv.Host, Port: f.srv.Port, User: user,
		KeyFiles: []string{f.key.Private}, KnownHostsFiles: []string{f.knownHosts}, ConnectTimeout: 5 * time.Second}
}

func dial(t *testing.T, cfg sshhost.Config) *sshhost.Host {
	t.Helper()
	h, err := sshhost.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// remoteDir makes a fresh directory on the target (this machine) that the
// login user owns.
func remoteDir(t *testing.T, h host.Host) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tend-sshhost-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestConformanceRoot(t *testing.T) {
	needRoot(t)
	f := start(t, "root")
	h := dial(t, f.config("root"))
	hosttest.Run(t, func(t *testing.T) (host.Host, string) { return h, remoteDir(t, h) })
}

func TestConformanceBecome(t *testing.T) {
	needRoot(t)
	user := sshd.SudoUser(t, "tendtest")
	f := start(t, user)
	cfg := f.config(user)
	cfg.Become = true
	h := dial(t, cfg)
	hosttest.Run(t, func(t *testing.T) (host.Host, string) {
		dir := remoteDir(t, h)
		os.Chmod(dir, 0o700) // only root (through sudo) may write here
		return h, dir
	})
	res, err := h.Run(context.Background(), host.Command{Argv: []string{"id", "-un"}})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "root" {
		t.Errorf("become: id -un = %q, %v; want root", res.Stdout, err)
	}
	// Without become the same login cannot write a root-only directory.
	plain := dial(t, f.config(user))
	dir := remoteDir(t, plain)
	os.Chmod(dir, 0o700)
	if err := plain.WriteFile(context.Background(), filepath.Join(dir, "x"), []byte("x"), host.WriteOptions{UID: -1, GID: -1}); err == nil {
		t.Error("an unprivileged login wrote into a root-only directory")
	}
	res, err = plain.Run(context.Background(), host.Command{Argv: []string{"id", "-un"}})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != user {
		t.Errorf("no become: id -un = %q, %v; want %s", res.Stdout, err, user)
	}
	// A become view of the same connection (a play's become: true).
	root := plain.As("root")
	p := filepath.Join(dir, "y")
	if err := root.WriteFile(context.Background(), p, []byte("y"), host.WriteOptions{Mode: 0600, UID: 0, GID: 0}); err != nil {
		t.Errorf("As(root).WriteFile into a root-only directory: %v", err)
	}
	if got, err := root.ReadFile(context.Background(), p); err != nil || string(got) != "y" {
		t.Errorf("As(root).ReadFile = %q, %v", got, err)
	}
	res, err = root.Run(context.Background(), host.Command{Argv: []string{"id", "-un"}})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "root" {
		t.Errorf("As(root): id -un = %q, %v; want root", res.Stdout, err)
	}
	if plain.As(user) != plain.As("") {
		t.Error("As(login user) is not the plain view")
	}
}

func isUnreachable(err error) bool {
	var u interface{ Unreachable() bool }
	return errors.As(err, &u) && u.Unreachable()
}

func TestHostKeyChecks(t *testing.T) {
	needRoot(t)
	f := start(t, "root")
	other := start(t, "root")
	dir := t.TempDir()

	// A changed key: known_hosts holds another server's key for this address.
	wrong := filepath.Join(dir, "wrong_known_hosts")
	os.WriteFile(wrong, []byte(strings.Replace(other.srv.KnownHostLine, other.srv.Addr()[len("127.0.0.1:"):], f.srv.Addr()[len("127.0.0.1:"):], 1)+"\n"), 0o600)
	cfg := f.config("root")
	cfg.KnownHostsFiles = []string{wrong}
	_, err := sshhost.Dial(context.Background(), cfg)
	if !isUnreachable(err) || !strings.Contains(err.Error(), "HAS CHANGED") {
		t.Errorf("changed host key: err = %v, want unreachable saying the identification has changed", err)
	}
	cfg.AcceptNewHostKey = true
	if _, err := sshhost.Dial(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "HAS CHANGED") {
		t.Errorf("--accept-host-key accepted a changed key: %v", err)
	}

	// An unknown key without and with accept.
	empty := filepath.Join(dir, "sub", "known_hosts")
	cfg = f.config("root")
	cfg.KnownHostsFiles = []string{empty}
	_, err = sshhost.Dial(context.Background(), cfg)
	if !isUnreachable(err) || !strings.Contains(err.Error(), "not known") {
		t.Errorf("unknown host key: err = %v, want unreachable saying the key is not known", err)
	}
	cfg.AcceptNewHostKey = true
	h, err := sshhost.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("unknown key with accept: %v", err)
	}
	h.Close()
	b, _ := os.ReadFile(empty)
	if !strings.Contains(string(b), f.srv.HostKeyLine) || !strings.HasPrefix(string(b), "[127.0.0.1]:") {
		t.Errorf("accepted key not recorded as [host]:port line: %q", b)
	}
	cfg.AcceptNewHostKey = false
	h, err = sshhost.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("recorded key not accepted on the next connection: %v", err)
	}
	h.Close()
}

func TestRefusedKey(t *testing.T) {
	needRoot(t)
	f := start(t, "root")
	cfg := f.config("root")
	cfg.KeyFiles = []string{sshd.NewKey(t, t.TempDir(), "stranger").Private}
	_, err := sshhost.Dial(context.Background(), cfg)
	if !isUnreachable(err) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("refused key: err = %v, want unreachable permission denied", err)
	}
}

func TestServerKilled(t *testing.T) {
	needRoot(t)
	f := start(t, "root")
	h := dial(t, f.config("root"))
	dir := remoteDir(t, h)
	ctx := context.Background()
	if err := h.WriteFile(ctx, filepath.Join(dir, "a"), []byte("one"), host.WriteOptions{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	f.srv.Kill()
	for name, op := range map[string]func() error{
		"stat": func() error { _, err := h.Stat(ctx, dir); return err },
		"write": func() error {
			return h.WriteFile(ctx, filepath.Join(dir, "a"), []byte("two"), host.WriteOptions{UID: -1, GID: -1})
		},
		"run":  func() error { _, err := h.Run(ctx, host.Command{Argv: []string{"true"}}); return err },
		"read": func() error { _, err := h.ReadFile(ctx, filepath.Join(dir, "a")); return err },
	} {
		if err := op(); !isUnreachable(err) {
			t.Errorf("%s after the server died: err = %v, want unreachable", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "one" {
		t.Errorf("file after a failed write = %q", b)
	}
}

// proxy listens on 127.0.0.1 and, for each connection, dials target and
// hands both ends to pipe, which closes them.
func proxy(t *testing.T, target string, pipe func(client, server net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				pipe(c, s)
			}()
		}
	}()
	return l.Addr().String()
}

// slowProxy forwards TCP to target, delaying every chunk by delay.
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	return proxy(t, target, func(c, s net.Conn) {
		defer c.Close()
		defer s.Close()
		go slowCopy(c, s, delay)
		slowCopy(s, c, delay)
	})
}

func slowCopy(dst io.WriteCloser, src io.Reader, delay time.Duration) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			time.Sleep(delay)
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	needRoot(t)
	f := start(t, "root")
	proxy := slowProxy(t, f.srv.Addr(), 3*time.Second)
	_, port, _ := net.SplitHostPort(proxy)
	// known_hosts must name the proxy's port.
	kh := filepath.Join(t.TempDir(), "kh")
	os.WriteFile(kh, []byte("[127.0.0.1]:"+port+" "+f.srv.HostKeyLine+"\n"), 0o600)
	cfg := f.config("root")
	cfg.KnownHostsFiles = []string{kh}
	cfg.Port = atoi(port)
	cfg.ConnectTimeout = 1 * time.Second
	start := time.Now()
	_, err := sshhost.Dial(context.Background(), cfg)
	if !isUnreachable(err) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("slow server: err = %v, want unreachable timed out", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("connect timeout of 1s took %v", d)
	}
	cfg.ConnectTimeout = 60 * time.Second
	proxyFast := slowProxy(t, f.srv.Addr(), 50*time.Millisecond)
	_, port, _ = net.SplitHostPort(proxyFast)
	os.WriteFile(kh, []byte("[127.0.0.1]:"+port+" "+f.srv.HostKeyLine+"\n"), 0o600)
	cfg.Port = atoi(port)
	h, err := sshhost.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("a slow server within the timeout: %v", err)
	}
	h.Close()
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestProxyJump(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	key := sshd.NewKey(t, dir, "client")
	jump := sshd.Start(t, sshd.Options{AuthorizedKeys: []string{key.Line}, Users: []string{"root"}})
	target := sshd.Start(t, sshd.Options{AuthorizedKeys: []string{key.Line}, Users: []string{"root"}})
	kh := sshd.KnownHosts(t, dir, jump, target)
	h := dial(t, sshhost.Config{Name: "t", Host: target.Host, Port: target.Port, User: "root",
		KeyFiles: []string{key.Private}, KnownHostsFiles: []string{kh}, ProxyJump: "root@" + jump.Addr()})
	res, err := h.Run(context.Background(), host.Command{Shell: "echo via jump"})
	if err != nil || string(res.Stdout) != "via jump\n" {
		t.Fatalf("run through jump host: %q, %v", res.Stdout, err)
	}
	jump.Kill()
	if _, err := h.Run(context.Background(), host.Command{Argv: []string{"true"}}); !isUnreachable(err) {
		t.Errorf("after the jump host died: %v, want unreachable", err)
	}
}

// BenchmarkOps measures one round trip of each kind against a real sshd.
func BenchmarkOps(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	key := sshd.NewKey(b, dir, "client")
	srv := sshd.Start(b, sshd.Options{AuthorizedKeys: []string{key.Line}, Users: []string{"root"}})
	h, err := sshhost.Dial(context.Background(), sshhost.Config{Host: srv.Host, Port: srv.Port, User: "root",
		KeyFiles: []string{key.Private}, KnownHostsFiles: []string{sshd.KnownHosts(b, dir, srv)}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	p := filepath.Join(dir, "f")
	ops := map[string]func() error{
		"Stat":      func() error { _, err := h.Stat(ctx, dir); return err },
		"ReadFile":  func() error { _, err := h.ReadFile(ctx, "/etc/hostname"); return err },
		"WriteFile": func() error { return h.WriteFile(ctx, p, []byte("x"), host.WriteOptions{UID: -1, GID: -1}) },
		"Run":       func() error { _, err := h.Run(ctx, host.Command{Argv: []string{"true"}}); return err },
	}
	for _, name := range []string{"Stat", "ReadFile", "WriteFile", "Run"} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := ops[name](); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cutProxy forwards TCP to target and resets both sides once the client
// has sent more than limit bytes: a connection dropped in the middle of a
// transfer.
func cutProxy(t *testing.T, target string, limit int64) string {
	return proxy(t, target, func(c, s net.Conn) {
		defer c.Close()
		defer s.Close()
		go func() { _, _ = io.Copy(c, s); c.Close() }()
		buf := make([]byte, 32<<10)
		var sent int64
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if sent += int64(n); sent > limit {
					_ = c.(*net.TCPConn).SetLinger(0)
					_ = s.(*net.TCPConn).SetLinger(0)
					return
				}
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// TestConnectionDroppedMidWrite: the connection dies while an 8 MiB file is
// on its way. The write fails as unreachable, the file keeps its old
// content in full, and the next write over a new connection sweeps the
// temporary file the cut-short write left next to it. Both as the login
// user (SFTP) and under become (the shell).
func TestConnectionDroppedMidWrite(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB
	for _, become := range []bool{false, true} {
		t.Run(fmt.Sprintf("become=%v", become), func(t *testing.T) {
			f := start(t, "root")
			cfg := f.config("root")
			cfg.Become = become
			addr := cutProxy(t, net.JoinHostPort(f.srv.Host, strconv.Itoa(f.srv.Port)), 2<<20)
			phost, port, _ := net.SplitHostPort(addr)
			known := filepath.Join(t.TempDir(), "known_hosts")
			line, err := os.ReadFile(f.knownHosts)
			if err != nil {
				t.Fatal(err)
			}
			fields := strings.Fields(string(line))
			if err := os.WriteFile(known, []byte(fmt.Sprintf("[%s]:%s %s %s\n", phost, port, fields[1], fields[2])), 0o600); err != nil {
				t.Fatal(err)
			}
			viaProxy := cfg
			viaProxy.Host, viaProxy.KnownHostsFiles = phost, []string{known}
			viaProxy.Port, _ = strconv.Atoi(port)
			h := dial(t, viaProxy)
			dir := remoteDir(t, h)
			a := filepath.Join(dir, "a")
			if err := h.WriteFile(ctx, a, []byte("one\n"), host.WriteOptions{UID: -1, GID: -1}); err != nil {
				t.Fatal(err)
			}
			err = h.WriteFile(ctx, a, big, host.WriteOptions{UID: -1, GID: -1})
			if !isUnreachable(err) {
				t.Fatalf("an 8 MiB write through a connection cut after 2 MiB: err = %v, want unreachable", err)
			}
			if b, _ := os.ReadFile(a); string(b) != "one\n" {
				t.Fatalf("after the dropped write the file holds %d bytes, want the old content", len(b))
			}
			left, _ := os.ReadDir(dir)
			t.Logf("left next to the file by the cut-short write: %d entries besides it", len(left)-1)
			if !become && len(left) < 2 {
				t.Fatal("no temporary file was left: the cut came too late to test the sweep")
			}
			h2 := dial(t, cfg)
			if err := h2.WriteFile(ctx, a, []byte("two\n"), host.WriteOptions{UID: -1, GID: -1}); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) != 1 || names[0] != "a" {
				t.Errorf("directory after the next write: %v, want only a", names)
			}
			if b, _ := os.ReadFile(a); string(b) != "two\n" {
				t.Errorf("a = %q", b)
			}
		})
	}
}
