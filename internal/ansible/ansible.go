// Package ansible is tend's Ansible backend: it runs the real
// ansible-playbook for what tend does not implement natively and turns its
// results into tend's own report, streamed to the same report.Sink as a
// native run. It owns the stdout callback shipped with tend
// (callback/tend_json.py, embedded), the translation of a run's options to
// ansible-playbook flags, and Scan, which lists the actions of a playbook
// that need Ansible.
package ansible

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/report"
)

//go:embed callback/tend_json.py
var callbackSource []byte

// CallbackName is the name of the stdout callback tend ships.
const CallbackName = "tend_json"

// Options is one ansible-playbook run. The fields mirror ansible-playbook's
// flags; empty ones are not passed.
type Options struct {
	// Bin is the ansible-playbook to run; default: looked up on PATH.
	Bin               string
	Playbooks         []string
	Inventories       []string
	Limit             string
	ExtraVars         []string // raw -e values, passed as given
	Check, Diff       bool
	ForceHandlers     bool
	StartAt           string // --start-at-task
	Tags, SkipTags    []string
	Forks             int
	Connection        string // -c; "" leaves Ansible's default
	RemoteUser        string
	PrivateKey        string
	Become            bool
	BecomeUser        string
	VaultPasswordFile string
	VaultIDs          []string // ID@FILE
	// Env is added to tend's environment (KEY=VALUE).
	Env []string
	// Needs names what needs Ansible, for the error when it is missing.
	Needs []Need
	Sink  report.Sink
	Log   *slog.Logger
}

// ExitError is an ansible-playbook run that ended with a non-zero code
// tend's report cannot explain by itself (an error before or outside the
// tasks). Stderr holds the end of what Ansible printed.
type ExitError struct {
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no error message"
	}
	return fmt.Sprintf("ansible-playbook exited with code %d: %s", e.Code, msg)
}

// ExitCode is ansible-playbook's exit code.
func (e *ExitError) ExitCode() int { return e.Code }

// ErrNotInstalled is returned (wrapped in NotInstalledError) when
// ansible-playbook is not on PATH.
var ErrNotInstalled = errors.New("ansible-playbook is not installed")

// NotInstalledError names what needed Ansible and how to install it.
type NotInstalledError struct {
	Needs []Need
}

func (e *NotInstalledError) Error() string {
	var b strings.Builder
	b.WriteString("ansible-playbook was not found on PATH")
	if len(e.Needs) > 0 {
		b.WriteString("; it is needed for modules tend does not implement: ")
		b.WriteString(strings.Join(NeedNames(e.Needs), ", "))
		fmt.Fprintf(&b, " (first at %s)", e.Needs[0].Pos)
	}
	b.WriteString(". Install ansible-core (Debian/Ubuntu: apt-get install ansible-core; " +
		"Fedora/RHEL: dnf install ansible-core), or rewrite those tasks with native modules and use backend native")
	return b.String()
}

func (e *NotInstalledError) Unwrap() error { return ErrNotInstalled }

// Find returns the path of ansible-playbook on PATH.
func Find(needs []Need) (string, error) {
	p, err := exec.LookPath("ansible-playbook")
	if err != nil {
		return "", &NotInstalledError{Needs: needs}
	}
	return p, nil
}

// Args translates the options to ansible-playbook's command-line arguments.
func (o *Options) Args() []string {
	var a []string
	for _, i := range o.Inventories {
		a = append(a, "-i", i)
	}
	if o.Limit != "" {
		a = append(a, "-l", o.Limit)
	}
	for _, e := range o.ExtraVars {
		a = append(a, "-e", e)
	}
	if o.Check {
		a = append(a, "--check")
	}
	if o.Diff {
		a = append(a, "--diff")
	}
	if o.ForceHandlers {
		a = append(a, "--force-handlers")
	}
	if o.StartAt != "" {
		a = append(a, "--start-at-task", o.StartAt)
	}
	if len(o.Tags) > 0 {
		a = append(a, "--tags", strings.Join(o.Tags, ","))
	}
	if len(o.SkipTags) > 0 {
		a = append(a, "--skip-tags", strings.Join(o.SkipTags, ","))
	}
	if o.Forks > 0 {
		a = append(a, "--forks", strconv.Itoa(o.Forks))
	}
	if o.Connection != "" {
		a = append(a, "-c", o.Connection)
	}
	if o.RemoteUser != "" {
		a = append(a, "-u", o.RemoteUser)
	}
	if o.PrivateKey != "" {
		a = append(a, "--private-key", o.PrivateKey)
	}
	if o.Become {
		a = append(a, "--become")
	}
	if o.BecomeUser != "" {
		a = append(a, "--become-user", o.BecomeUser)
	}
	if o.VaultPasswordFile != "" {
		a = append(a, "--vault-password-file", o.VaultPasswordFile)
	}
	for _, id := range o.VaultIDs {
		a = append(a, "--vault-id", id)
	}
	return append(a, o.Playbooks...)
}

// Run runs ansible-playbook with tend's callback and returns its results
// as a report, streamed to o.Sink as they arrive. Failed tasks are in the
// report, not in the error; the error is an *ExitError when Ansible stopped
// with an error of its own (bad syntax, missing file, crash).
func Run(ctx context.Context, o Options) (*report.Report, error) {
	if o.Sink == nil {
		o.Sink = report.Multi{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = Find(o.Needs); err != nil {
			return nil, err
		}
	}
	cbDir, err := os.MkdirTemp("", "tend-ansible-")
	if err != nil {
		return nil, fmt.Errorf("ansible backend: temp dir for the callback: %w", err)
	}
	defer os.RemoveAll(cbDir)
	if err := os.WriteFile(filepath.Join(cbDir, CallbackName+".py"), callbackSource, 0o600); err != nil {
		return nil, fmt.Errorf("ansible backend: write the callback: %w", err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ansible backend: events pipe: %w", err)
	}
	defer evR.Close()

	cmd := exec.CommandContext(ctx, bin, o.Args()...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Env = append(cmd.Env,
		"ANSIBLE_STDOUT_CALLBACK="+CallbackName,
		"ANSIBLE_CALLBACK_PLUGINS="+callbackPath(cbDir),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"TEND_JSON_EVENTS_FD=3",
	)
	cmd.ExtraFiles = []*os.File{evW}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	out := &outputLines{sink: o.Sink}
	cmd.Stdout, cmd.Stderr = out, out
	o.Log.Info("running ansible-playbook", "bin", bin, "args", o.Args())
	if err := cmd.Start(); err != nil {
		evW.Close()
		return nil, fmt.Errorf("ansible backend: start %s: %w", bin, err)
	}
	evW.Close()

	b := newBuilder(o.Sink, o.Check)
	done := make(chan error, 1)
	go func() { done <- b.read(evR) }()
	waitErr := cmd.Wait()
	var readErr error
	select {
	case readErr = <-done:
	case <-time.After(5 * time.Second):
		// a grandchild kept the pipe open; what was sent is in b
		evR.Close()
		readErr = <-done
	}
	out.flush()

	code := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) || ee.ExitCode() < 0 {
			return b.partial(), fmt.Errorf("ansible backend: %s: %w", bin, waitErr)
		}
		code = ee.ExitCode()
	}
	if readErr != nil {
		return b.partial(), fmt.Errorf("ansible backend: read results: %w", readErr)
	}
	rep := b.finish()
	if rep == nil {
		// Ansible stopped before its recap: an error of its own
		if code == 0 {
			code = 1
		}
		return nil, &ExitError{Code: code, Stderr: out.tail()}
	}
	if want := exitCodeOf(rep); want != code {
		return rep, &ExitError{Code: code, Stderr: out.tail()}
	}
	return rep, nil
}

// exitCodeOf is the code ansible-playbook gives a finished run.
func exitCodeOf(rep *report.Report) int {
	t := rep.Totals()
	switch {
	case t.Unreachable > 0:
		return 4
	case t.Failed > 0:
		return 2
	}
	return 0
}

// callbackPath puts tend's callback dir first and keeps the user's.
func callbackPath(dir string) string {
	if v := os.Getenv("ANSIBLE_CALLBACK_PLUGINS"); v != "" {
		return dir + string(os.PathListSeparator) + v
	}
	return dir
}

// outputLines takes Ansible's own stdout and stderr: warnings go to the
// sink, the rest is kept (the last part) for the error message.
type outputLines struct {
	mu   sync.Mutex
	sink report.Sink
	buf  []byte
	warn *strings.Builder
	keep []string
}

const keepLines = 40

func (o *outputLines) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			break
		}
		o.line(string(o.buf[:i]))
		o.buf = o.buf[i+1:]
	}
	return len(p), nil
}

func (o *outputLines) line(l string) {
	for _, p := range []string{"[WARNING]: ", "[DEPRECATION WARNING]: "} {
		if strings.HasPrefix(l, p) {
			o.endWarn()
			o.warn = &strings.Builder{}
			if p != "[WARNING]: " {
				o.warn.WriteString(strings.TrimSuffix(p, " "))
				o.warn.WriteString(" ")
			}
			o.warn.WriteString(strings.TrimPrefix(l, p))
			return
		}
	}
	if o.warn != nil && strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "[") && !strings.HasPrefix(l, "ERROR!") {
		o.warn.WriteString(" ")
		o.warn.WriteString(strings.TrimSpace(l))
		return
	}
	o.endWarn()
	if strings.TrimSpace(l) == "" {
		return
	}
	o.keep = append(o.keep, l)
	if len(o.keep) > keepLines {
		o.keep = o.keep[len(o.keep)-keepLines:]
	}
}

func (o *outputLines) endWarn() {
	if o.warn != nil {
		o.sink.Warn(o.warn.String())
		o.warn = nil
	}
}

func (o *outputLines) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.buf) > 0 {
		o.line(string(o.buf))
		o.buf = nil
	}
	o.endWarn()
}

func (o *outputLines) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.keep, "\n")
}

// readLines calls fn for each line of r (lines may be long: results carry
// file contents in diffs).
func readLines(r io.Reader, fn func([]byte) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// NeedNames lists the distinct actions of needs, sorted.
func NeedNames(needs []Need) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range needs {
		if !seen[n.Action] {
			seen[n.Action] = true
			out = append(out, n.Action)
		}
	}
	sort.Strings(out)
	return out
}

// SyntaxCheck runs `ansible-playbook --syntax-check` on the options'
// playbooks: it parses them as the run will, module names included, and
// runs nothing.
func SyntaxCheck(ctx context.Context, o Options) error {
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = Find(o.Needs); err != nil {
			return err
		}
	}
	args := []string{"--syntax-check"}
	for _, i := range o.Inventories {
		args = append(args, "-i", i)
	}
	if o.VaultPasswordFile != "" {
		args = append(args, "--vault-password-file", o.VaultPasswordFile)
	}
	for _, id := range o.VaultIDs {
		args = append(args, "--vault-id", id)
	}
	for _, e := range o.ExtraVars {
		args = append(args, "-e", e)
	}
	args = append(args, o.Playbooks...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), o.Env...), "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return &ExitError{Code: ee.ExitCode(), Stderr: lastLines(string(out), keepLines)}
	}
	return fmt.Errorf("ansible backend: %s --syntax-check: %w", bin, err)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
