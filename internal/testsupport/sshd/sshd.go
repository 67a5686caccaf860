// Package sshd starts real OpenSSH sshd servers for push-mode tests: each on
// its own 127.0.0.1 port, as a non-daemon process (`sshd -D -e`) with its
// own generated host key, letting the keys a test names log in. It also
// makes client keys, known_hosts files and a throwaway sudo user.
package sshd

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is where Debian's openssh-server installs sshd.
const Binary = "/usr/sbin/sshd"

// Server is one running sshd.
type Server struct {
	Host          string // "127.0.0.1"
	Port          int
	HostKeyLine   string // "ssh-ed25519 AAAA..."
	KnownHostLine string // "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
	dir           string
	cmd           *exec.Cmd
	done          chan struct{}
	log           *lockedBuffer
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Log is what sshd printed so far.
func (s *Server) Log() string { return s.log.String() }

// Options configure Start.
type Options struct {
	// AuthorizedKeys are public key lines allowed to log in (as any of
	// Users).
	AuthorizedKeys []string
	// Users may log in; default: the current user.
	Users []string
}

// Key is a client key pair on disk.
type Key struct {
	Private, Public string // file paths
	Line            string // the public key line
}

// Need skips t unless sshd and ssh-keygen are installed.
func Need(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("test needs OpenSSH's sshd at %s (apt-get install openssh-server): %v", Binary, err)
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("test needs ssh-keygen (apt-get install openssh-client)")
	}
}

// NewKey generates an ed25519 key pair in dir.
func NewKey(t testing.TB, dir, name string) Key {
	t.Helper()
	k := Key{Private: filepath.Join(dir, name), Public: filepath.Join(dir, name+".pub")}
	keygen(t, k.Private, name)
	b, err := os.ReadFile(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	k.Line = strings.TrimSpace(string(b))
	return k
}

func keygen(t testing.TB, file, comment string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

// Start starts one sshd; t.Cleanup stops it (and its sessions).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Need(t)
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshd as root needs /run/sshd: %v", err)
		}
	}
	users := opts.Users
	if len(users) == 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		users = []string{u.Username}
	}
	dir, err := os.MkdirTemp("", "tend-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hostKey := filepath.Join(dir, "host_ed25519")
	keygen(t, hostKey, "host")
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, []byte(strings.Join(opts.AuthorizedKeys, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The sshd directory must be readable by unprivileged login users
	// (AuthorizedKeysFile is read as them).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: "127.0.0.1", HostKeyLine: f[0] + " " + f[1], dir: dir, log: &lockedBuffer{}, done: make(chan struct{})}
	for attempt := 0; ; attempt++ {
		s.Port = freePort(t)
		s.KnownHostLine = fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, s.HostKeyLine)
		cfg := filepath.Join(dir, "sshd_config")
		conf := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
MaxSessions 50
MaxStartups 200
LogLevel ERROR
Subsystem sftp internal-sftp
`, s.Port, s.Host, hostKey, authKeys, strings.Join(users, " "))
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		s.cmd = exec.Command(Binary, "-D", "-e", "-f", cfg)
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start sshd: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		s.done = done
		if err := waitListening(s.Addr(), done); err != nil {
			s.Kill()
			if attempt < 3 && strings.Contains(s.Log(), "Address already in use") {
				continue
			}
			t.Fatalf("sshd on %s: %v\n%s", s.Addr(), err, s.Log())
		}
		break
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() && s.Log() != "" {
			t.Logf("sshd %s log:\n%s", s.Addr(), s.Log())
		}
	})
	return s
}

// StartN starts n servers with the same options.
func StartN(t testing.TB, n int, opts Options) []*Server {
	t.Helper()
	out := make([]*Server, n)
	for i := range out {
		out[i] = Start(t, opts)
	}
	return out
}

// Kill stops sshd and every session it started (they run in their own
// sessions, so killing the listener alone would leave them running): a
// host that goes away mid-run.
func (s *Server) Kill() {
	select {
	case <-s.done:
	default:
	}
	pids := append(descendants(s.cmd.Process.Pid), s.cmd.Process.Pid)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}

// descendants lists the processes below pid (from /proc), deepest first.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			walk(c)
			out = append(out, c)
		}
	}
	walk(pid)
	return out
}

// KnownHosts writes a known_hosts file holding the servers' host keys.
func KnownHosts(t testing.TB, dir string, servers ...*Server) string {
	t.Helper()
	var b strings.Builder
	for _, s := range servers {
		b.WriteString(s.KnownHostLine + "\n")
	}
	p := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// SudoUser creates a throwaway login user with passwordless sudo (root
// and useradd/sudo needed, else t.Skip), removed at the end of the test.
func SudoUser(t testing.TB, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a sudo test user needs root")
	}
	for _, tool := range []string{"useradd", "userdel", "sudo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("test needs %s (apt-get install sudo passwd)", tool)
		}
	}
	_ = exec.Command("userdel", "-r", name).Run()
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", "-p", "*", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	sudoers := "/etc/sudoers.d/tend-test-" + name
	if err := os.WriteFile(sudoers, []byte(name+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(sudoers)
		if out, err := exec.Command("userdel", "-r", "-f", name).CombinedOutput(); err != nil {
			t.Logf("userdel %s: %v\n%s", name, err, out)
		}
	})
	return name
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited at start")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("sshd did not listen within 10s")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
