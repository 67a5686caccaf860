// Package test holds tend's end-to-end tests against real components. Its
// centre is the differential test: the playbooks in test/corpus run through
// both ansible-playbook (the reference) and tend, and their exit codes, recaps,
// per-task statuses and resulting file trees must match.
//
// This file runs one tool on one playbook (Tool, Invocation, Outcome), so a
// push-mode test can reuse it with another inventory and connection.
package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tend-project/tend/internal/report"
)

// Invocation is one playbook run: which playbook, against which inventory,
// writing under which root (passed as -e root=DIR).
type Invocation struct {
	Playbook  string   // absolute path
	Inventory string   // absolute path
	Root      string   // absolute path, passed as -e root=Root
	Check     bool     // -C
	Args      []string // further flags, e.g. "-t", "foo"
	Env       []string // extra KEY=VALUE for the process
	Dir       string   // working directory; default: the playbook's directory
}

// Outcome is what one run produced.
type Outcome struct {
	ExitCode int
	Report   *report.Report // nil when no JSON document was printed
	Stdout   string
	Stderr   string
}

// Tool runs a playbook and returns its outcome as a report.Report.
type Tool interface {
	Name() string
	Run(ctx context.Context, inv Invocation) (*Outcome, error)
}

// Ansible runs ansible-playbook with the tend_json stdout callback.
type Ansible struct {
	Bin         string // default "ansible-playbook"
	CallbackDir string // directory holding tend_json.py
	Connection  string // -c value; default "local"
	Config      string // ANSIBLE_CONFIG; default: an empty config, so no machine config applies
}

// Name implements Tool.
func (a *Ansible) Name() string { return "ansible" }

// Run implements Tool.
func (a *Ansible) Run(ctx context.Context, inv Invocation) (*Outcome, error) {
	bin := a.Bin
	if bin == "" {
		bin = "ansible-playbook"
	}
	conn := a.Connection
	if conn == "" {
		conn = "local"
	}
	args := []string{"-c", conn, "-i", inv.Inventory, "-e", "root=" + inv.Root}
	if inv.Check {
		args = append(args, "-C")
	}
	args = append(args, inv.Args...)
	args = append(args, inv.Playbook)
	config := a.Config
	if config == "" {
		config = os.DevNull
	}
	env := append([]string{
		"ANSIBLE_CONFIG=" + config,
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_STDOUT_CALLBACK=tend_json",
		"ANSIBLE_CALLBACK_PLUGINS=" + a.CallbackDir,
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_DEPRECATION_WARNINGS=0",
		"ANSIBLE_SYSTEM_WARNINGS=0",
		"ANSIBLE_LOCALHOST_WARNING=0",
		"ANSIBLE_HOST_KEY_CHECKING=0",
	}, inv.Env...)
	return run(ctx, bin, args, env, inv)
}

// Tend runs `tend playbook -o json`.
type Tend struct {
	Bin        string
	Connection string // -c value; default "local"
}

// Name implements Tool.
func (t *Tend) Name() string { return "tend" }

// Run implements Tool.
func (t *Tend) Run(ctx context.Context, inv Invocation) (*Outcome, error) {
	conn := t.Connection
	if conn == "" {
		conn = "local"
	}
	args := []string{"playbook", "-c", conn, "-i", inv.Inventory, "-e", "root=" + inv.Root, "-o", "json"}
	if inv.Check {
		args = append(args, "-C")
	}
	args = append(args, inv.Args...)
	args = append(args, inv.Playbook)
	return run(ctx, t.Bin, args, inv.Env, inv)
}

func run(ctx context.Context, bin string, args, env []string, inv Invocation) (*Outcome, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = inv.Dir
	if cmd.Dir == "" {
		cmd.Dir = filepath.Dir(inv.Playbook)
	}
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := &Outcome{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		out.ExitCode = exitErr.ExitCode()
	default:
		return out, fmt.Errorf("run %s %s: %w", bin, strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		return out, fmt.Errorf("run %s %s: %w", bin, strings.Join(args, " "), ctx.Err())
	}
	rep, err := decodeReport(out.Stdout)
	if err != nil {
		return out, fmt.Errorf("%s printed no report JSON (exit %d): %w", filepath.Base(bin), out.ExitCode, err)
	}
	out.Report = rep
	return out, nil
}

// decodeReport finds the JSON document in a tool's stdout: the first line
// that starts with "{". Anything printed before it (warnings) is ignored.
func decodeReport(stdout string) (*report.Report, error) {
	i := -1
	if strings.HasPrefix(stdout, "{") {
		i = 0
	} else if j := strings.Index(stdout, "\n{"); j >= 0 {
		i = j + 1
	}
	if i < 0 {
		return nil, errors.New("no line starting with '{' on stdout")
	}
	var rep report.Report
	if err := json.NewDecoder(strings.NewReader(stdout[i:])).Decode(&rep); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return &rep, nil
}
