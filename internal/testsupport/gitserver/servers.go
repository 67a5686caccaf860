package gitserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSHServer is a real OpenSSH sshd on a free 127.0.0.1 port that lets one
// key log in as the current user and run git-upload-pack.
type SSHServer struct {
	Addr          string // "127.0.0.1:PORT"
	Port          int
	User          string
	ClientKey     string // private key that may log in
	KnownHosts    string // known_hosts file holding the server's host key
	HostPublicKey string // "ssh-ed25519 AAAA..."
	log           *lockedWriter
}

// LogText is what sshd has printed so far (for failure messages).
func (s *SSHServer) LogText() string { return s.log.String() }

// URL is the ssh:// URL of path (absolute) on this server.
func (s *SSHServer) URL(path string) string {
	return fmt.Sprintf("ssh://%s@%s%s", s.User, s.Addr, path)
}

// ServeSSH starts sshd for bareDir and returns its ssh:// URL, a client key
// file allowed to log in, and a known_hosts file with the server's host key.
func ServeSSH(t testing.TB, bareDir string) (url, keyFile, knownHosts string) {
	t.Helper()
	s := StartSSH(t)
	return s.URL(bareDir), s.ClientKey, s.KnownHosts
}

// StartSSH starts OpenSSH's sshd on 127.0.0.1 with its own host key and a new
// client key; t.Cleanup stops it.
func StartSSH(t testing.TB) *SSHServer {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Skipf("test needs OpenSSH's sshd at %s (package openssh-server): %v", sshd, err)
	}
	NeedTool(t, "ssh-keygen")
	NeedTool(t, "git-upload-pack")
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshd as root needs /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	clientKey := filepath.Join(dir, "client_ed25519")
	mustRun(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", hostKey)
	mustRun(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "client", "-f", clientKey)
	clientPub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, clientPub, 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostFields := strings.Fields(string(hostPub))
	hostLine := hostFields[0] + " " + hostFields[1]

	port := freePort(t)
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
`, port, hostKey, authKeys, u.Username)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &SSHServer{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, User: u.Username,
		ClientKey: clientKey, HostPublicKey: hostLine, log: &lockedWriter{b: &bytes.Buffer{}},
	}
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", port, hostLine)), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	lw := s.log
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("sshd log:\n%s", lw.String())
		}
	})
	waitListening(t, s.Addr, done, lw)
	return s
}

// ServeHTTP serves every repository under root over git's smart HTTP
// protocol (git http-backend behind net/http/cgi) on 127.0.0.1, requiring
// basic auth with user and pass. It returns the base URL; a repository is at
// url + "/" + its path relative to root.
func ServeHTTP(t testing.TB, root, user, pass string) string {
	t.Helper()
	NeedTool(t, "git")
	gitBin, _ := exec.LookPath("git")
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

func waitListening(t testing.TB, addr string, exited <-chan struct{}, log *lockedWriter) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("sshd exited at start:\n%s", log.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("sshd did not listen on %s within 10s:\n%s", addr, log.String())
}

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
