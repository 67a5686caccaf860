package sshhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tend-project/tend/internal/host"
)

// notFound is printed by the command line when the program is missing, so
// Run can tell "could not start" (an error, as Local) from an exit of 127.
const notFound = "tend-exec-not-found:"

// commandLine turns c into one shell command line for an exec session:
// cd, env, the program check, and sudo when becoming another user.
func (h *Host) commandLine(c host.Command) (string, error) {
	argv := c.Argv
	if len(argv) == 0 {
		if c.Shell == "" {
			return "", fmt.Errorf("run: no command given")
		}
		sh := c.Executable
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh, "-c", c.Shell}
	}
	var b strings.Builder
	if c.Dir != "" {
		b.WriteString("cd " + word(c.Dir) + " && ")
	}
	prog := quote(argv[0])
	fmt.Fprintf(&b, "{ command -v %s >/dev/null 2>&1 || { echo %s %s >&2; exit 127; }; } && exec ", prog, notFound, prog)
	if len(c.Env) > 0 {
		keys := make([]string, 0, len(c.Env))
		for k := range c.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("env")
		for _, k := range keys {
			b.WriteString(" " + quote(k+"="+c.Env[k]))
		}
		b.WriteString(" ")
	}
	b.WriteString(quoteArgv(argv))
	return becomeWrap(h.becomeUser(c.BecomeUser), b.String()), nil
}

// becomeUser is the user to sudo to for a command, "" for none: the
// command's own, else the host's become user; never the login user itself.
func (h *Host) becomeUser(user string) string {
	if user == "" && h.cfg.Become {
		user = h.cfg.BecomeUser
	}
	if user == h.login() {
		return ""
	}
	return user
}

func (h *Host) login() string { return h.client.User() }

// Run runs a command in its own exec session. A non-zero exit is reported
// in RC; the error is for a command that could not be started or a lost
// connection (then it is unreachable).
func (h *Host) Run(ctx context.Context, c host.Command) (host.CommandResult, error) {
	line, err := h.commandLine(c)
	if err != nil {
		return host.CommandResult{}, err
	}
	op := "run " + firstWord(c)
	sess, err := h.client.NewSession()
	if err != nil {
		return host.CommandResult{}, h.wrap(op, fmt.Errorf("open a session: %w", err))
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if c.Stdin != nil {
		sess.Stdin = bytes.NewReader(c.Stdin)
	}
	res := host.CommandResult{Start: time.Now()}
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		<-done
		res.End, res.RC = time.Now(), -1
		return res, fmt.Errorf("%s: %w", op, ctx.Err())
	}
	res.End = time.Now()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.RC = exit.ExitStatus()
		if exit.Signal() != "" {
			res.RC = -signalNumber(exit.Signal())
		}
		if res.RC == 127 && bytes.HasPrefix(res.Stderr, []byte(notFound)) {
			return res, &Error{Host: h.cfg.Name, Op: op, Err: fmt.Errorf("%s: command not found", firstWord(c))}
		}
	default:
		res.RC = -1
		return res, h.wrap(op, err)
	}
	return res, nil
}

func firstWord(c host.Command) string {
	if len(c.Argv) > 0 {
		return c.Argv[0]
	}
	if c.Executable != "" {
		return c.Executable
	}
	return "/bin/sh"
}

func signalNumber(sig string) int {
	n := map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "SEGV": 11, "PIPE": 13, "ALRM": 14, "TERM": 15, "USR1": 10, "USR2": 12}[sig]
	if n == 0 {
		n = 1
	}
	return n
}
