package sshhost

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// quote makes s one word for a POSIX shell.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@%_-+=:,./", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteArgv quotes every word and joins them with spaces.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

// becomeWrap runs line as user through sudo; "" user means as is.
func becomeWrap(user, line string) string {
	if user == "" {
		return line
	}
	return "sudo -n -H -u " + quote(user) + " -- /bin/sh -c " + quote(line)
}

// shell is one long-lived `sh` on the host reading snippets from stdin.
// Each snippet's stdout and stderr come back together, followed by a line
// holding a random marker and the snippet's exit status.
type shell struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	marker string
}

// shellError is a snippet that exited non-zero.
type shellError struct {
	RC     int
	Output string
}

func (e *shellError) Error() string {
	msg := strings.TrimSpace(e.Output)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.RC)
	}
	return msg
}

func startShell(client *ssh.Client, becomeUser string) (*shell, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	s := &shell{sess: sess, marker: "__tend_" + hex.EncodeToString(b)}
	sess.Stderr = &s.stderr
	if s.stdin, err = sess.StdinPipe(); err != nil {
		sess.Close()
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	s.out = bufio.NewReaderSize(stdout, 64<<10)
	line := "LC_ALL=C; export LC_ALL; exec /bin/sh"
	if becomeUser != "" {
		line = "exec sudo -n -H -u " + quote(becomeUser) + " -- /usr/bin/env LC_ALL=C /bin/sh"
	}
	if err := sess.Start(line); err != nil {
		sess.Close()
		return nil, err
	}
	if _, err := s.run("true"); err != nil {
		s.stdin.Close()
		_ = sess.Wait()
		msg := strings.TrimSpace(s.stderr.String())
		s.close()
		if becomeUser != "" && msg != "" {
			return nil, fmt.Errorf("become %s with `sudo -n` failed: %s (tend needs passwordless sudo for the login user)", becomeUser, msg)
		}
		if msg != "" {
			return nil, fmt.Errorf("start a shell: %s", msg)
		}
		return nil, fmt.Errorf("start a shell: %w", err)
	}
	return s, nil
}

// run runs one snippet and returns its combined output. A non-zero exit
// is a *shellError; any other error means the shell is gone.
func (s *shell) run(snippet string) (string, error) {
	cmd := "{ " + snippet + "\n} </dev/null 2>&1; printf '\\n%s %d\\n' " + s.marker + " \"$?\"\n"
	if _, err := io.WriteString(s.stdin, cmd); err != nil {
		return "", fmt.Errorf("remote shell: %w", err)
	}
	var out bytes.Buffer
	for {
		line, err := s.out.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("remote shell ended: %w", err)
		}
		if rest, ok := strings.CutPrefix(line, s.marker+" "); ok {
			rc, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return "", fmt.Errorf("remote shell: bad status line %q", line)
			}
			o := strings.TrimSuffix(out.String(), "\n")
			if rc != 0 {
				return o, &shellError{RC: rc, Output: o}
			}
			return o, nil
		}
		out.WriteString(line)
	}
}

func (s *shell) close() {
	s.stdin.Close()
	s.sess.Close()
}

// shellRun runs a snippet in the host's shell (as the become user when
// become is on), starting the shell on first use and again after it died.
func (h *Host) shellRun(op, snippet string) (string, error) {
	h.shMu.Lock()
	defer h.shMu.Unlock()
	if h.sh == nil {
		user := ""
		if h.cfg.Become {
			user = h.cfg.BecomeUser
		}
		sh, err := startShell(h.client, user)
		if err != nil {
			return "", h.wrap(op, err)
		}
		h.sh = sh
	}
	out, err := h.sh.run(snippet)
	var se *shellError
	if err != nil && !errors.As(err, &se) {
		h.sh.close()
		h.sh = nil
		return "", h.wrap(op, err)
	}
	return out, err
}
