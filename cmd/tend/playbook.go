package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/tend-project/tend/internal/apply"
	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/vault"
)

func init() {
	register("playbook", "run playbooks, like ansible-playbook", cmdPlaybook)
}

// runFlags are the ansible-playbook flags shared by playbook and pull.
type runFlags struct {
	inventories, extra, tags, skipTags []string
	vaultIDs                           []string
	limit, connection, user, key       string
	becomeUser, vaultFile, backend     string
	output, root                       string
	check, diff, become, syntaxCheck   bool
	forceHandlers                      bool
	listHosts, listTasks, listTags     bool
	startAt                            string
	askVaultPass                       bool
	acceptHostKey                      bool
	sshCommonArgs, sshExtraArgs        string
	timeout                            int
	forks, verbose                     int
}

func (f *runFlags) add(fs interface {
	StringArrayVarP(*[]string, string, string, []string, string)
	StringVarP(*string, string, string, string, string)
	BoolVarP(*bool, string, string, bool, string)
	IntVarP(*int, string, string, int, string)
	CountVarP(*int, string, string, string)
}) {
	fs.StringArrayVarP(&f.inventories, "inventory", "i", nil, "inventory file, directory or host list (repeatable)")
	fs.StringVarP(&f.limit, "limit", "l", "", "further limit hosts to a pattern")
	fs.StringArrayVarP(&f.extra, "extra-vars", "e", nil, "extra variables: k=v, @file or JSON/YAML (repeatable)")
	fs.BoolVarP(&f.check, "check", "C", false, "check mode: change nothing, report what would change")
	fs.BoolVarP(&f.diff, "diff", "D", false, "show diffs of changed files")
	fs.StringArrayVarP(&f.tags, "tags", "t", nil, "only run tasks tagged with these")
	fs.StringArrayVarP(&f.skipTags, "skip-tags", "", nil, "skip tasks tagged with these")
	fs.IntVarP(&f.forks, "forks", "f", 5, "hosts to run in parallel")
	fs.StringVarP(&f.connection, "connection", "c", "", "connection type: local or ssh")
	fs.StringVarP(&f.user, "user", "u", "", "connect as this user")
	fs.StringVarP(&f.key, "private-key", "", "", "SSH private key file")
	fs.BoolVarP(&f.become, "become", "b", false, "run operations with become (sudo)")
	fs.StringVarP(&f.becomeUser, "become-user", "", "", "become this user (default root)")
	fs.StringVarP(&f.vaultFile, "vault-password-file", "", "", "file with the vault password")
	fs.StringArrayVarP(&f.vaultIDs, "vault-id", "", nil, "vault identity ID@FILE (repeatable)")
	fs.StringVarP(&f.backend, "backend", "", "native", "native, ansible or auto")
	fs.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fs.BoolVarP(&f.syntaxCheck, "syntax-check", "", false, "parse and validate the playbook, run nothing")
	fs.BoolVarP(&f.forceHandlers, "force-handlers", "", false, "run notified handlers even on hosts that failed")
	fs.BoolVarP(&f.askVaultPass, "ask-vault-pass", "", false, "ask for the vault password (read from standard input when it is not a terminal)")
	fs.StringVarP(&f.startAt, "start-at-task", "", "", "start the playbook at the task with this name")
	fs.BoolVarP(&f.listHosts, "list-hosts", "", false, "list the hosts each play would run on, run nothing")
	fs.BoolVarP(&f.listTasks, "list-tasks", "", false, "list the tasks that would run, run nothing")
	fs.BoolVarP(&f.listTags, "list-tags", "", false, "list the tags of the tasks, run nothing")
	fs.CountVarP(&f.verbose, "verbose", "v", "more output (-vvv)")
	fs.StringVarP(&f.root, "root", "", "", "map every local path under this directory and run no commands (demos, tests)")
	fs.BoolVarP(&f.acceptHostKey, "accept-host-key", "", false, "record unknown SSH host keys on first use (changed keys are still refused)")
	fs.StringVarP(&f.sshCommonArgs, "ssh-common-args", "", "", "ssh options tend understands (-o UserKnownHostsFile=, -J, -p, ...)")
	fs.StringVarP(&f.sshExtraArgs, "ssh-extra-args", "", "", "more ssh options, as ansible-playbook's")
	fs.IntVarP(&f.timeout, "timeout", "T", 10, "SSH connect timeout in seconds")
}

func (f *runFlags) request(playbooks []string) apply.Request {
	req := apply.Request{
		// -i values are never split at commas: "a,b" is a host list
		Playbooks: playbooks, Inventories: f.inventories, Limit: f.limit, ExtraVars: f.extra,
		Check: f.check, Diff: f.diff, Tags: splitList(f.tags), SkipTags: splitList(f.skipTags),
		Forks: f.forks, Connection: f.connection, RemoteUser: f.user, PrivateKey: f.key,
		Become: f.become, BecomeUser: f.becomeUser, VaultPasswordFile: f.vaultFile, VaultIDs: f.vaultIDs, Root: f.root, Backend: f.backend,
		AcceptHostKey: f.acceptHostKey, SSHCommonArgs: f.sshCommonArgs, SSHExtraArgs: f.sshExtraArgs,
		Timeout:   time.Duration(f.timeout) * time.Second,
		Verbosity: f.verbose, ForceHandlers: f.forceHandlers, StartAt: f.startAt,
	}
	req.AskVaultPass = f.askVaultPass
	req.VaultPrompt = askVaultPassword
	if term.IsTerminal(int(os.Stdin.Fd())) {
		req.Prompt = promptTerminal
	}
	// ansible.cfg is looked for where Ansible looks: the working directory
	if wd, err := os.Getwd(); err == nil {
		req.AnsibleCfgDir = wd
	}
	level := slog.LevelWarn
	if f.verbose > 0 {
		level = slog.LevelInfo
	}
	if f.verbose > 2 {
		level = slog.LevelDebug
	}
	req.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	switch f.output {
	case "json":
		req.Sink = &report.JSON{W: os.Stdout}
	default:
		req.Sink = &report.Text{W: os.Stdout, Diff: f.diff, Verbosity: f.verbose}
	}
	return req
}

func cmdPlaybook(args []string) error {
	var f runFlags
	fs := newFlags("playbook")
	f.add(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() == 0 {
		return exitf(2, "tend playbook: give at least one playbook")
	}
	if f.output != "text" && f.output != "json" {
		return exitf(2, "--output must be text or json, got %q", f.output)
	}
	if f.backend != "native" && f.backend != "auto" && f.backend != "ansible" {
		return exitf(2, "--backend must be native, ansible or auto, got %q", f.backend)
	}
	req := f.request(fs.Args())
	if f.listHosts || f.listTasks || f.listTags {
		lo := engine.ListOptions{Hosts: f.listHosts, Tasks: f.listTasks, Tags: f.listTags}
		if err := apply.List(os.Stdout, req, lo); err != nil {
			return &exitError{code: apply.ExitCode(nil, err), err: err}
		}
		return nil
	}
	if f.syntaxCheck {
		load := func() error {
			r, err := req.Resolved()
			if err == nil {
				_, err = apply.Load(r.Playbooks, r.RolesPath)
			}
			return err
		}
		if f.backend != "native" {
			load = func() error { _, err := apply.Preflight(context.Background(), req); return err }
		}
		if err := load(); err != nil {
			return &exitError{code: apply.ExitCode(nil, err), err: err}
		}
		fmt.Printf("\nplaybook: %s\n", req.Playbooks[0])
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !f.check {
		lk, err := takeHostLock()
		if err != nil {
			return err
		}
		if lk != nil {
			defer lk.Release()
		}
	}
	rep, err := apply.Run(ctx, req)
	code := apply.ExitCode(rep, err)
	if code != 0 {
		return &exitError{code: code, err: err}
	}
	return nil
}

// promptTerminal asks for a vars_prompt variable on the terminal, as
// ansible-playbook does: the default in brackets, no echo when private,
// asked twice when it must be confirmed.
func promptTerminal(vp engine.VarPrompt) (string, error) {
	ask := func(label string) (string, error) {
		if vp.Default != nil {
			label = fmt.Sprintf("%s [%v]", label, vp.Default)
		}
		fmt.Fprintf(os.Stderr, "%s: ", label)
		if vp.Private {
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(b), err
		}
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	v, err := ask(vp.Prompt)
	if err != nil || !vp.Confirm {
		return v, err
	}
	again, err := ask("confirm " + vp.Prompt)
	if err != nil {
		return "", err
	}
	if again != v {
		return "", fmt.Errorf("the values entered do not match")
	}
	return v, nil
}

// stdinLines reads answers from a standard input that is not a terminal,
// one line each, so that several prompts share one reader.
var stdinLines = bufio.NewReader(os.Stdin)

// askVaultPassword asks for a vault password (--ask-vault-pass, --vault-id
// ID@prompt): without echo on a terminal, else the next line of standard
// input, as ansible-playbook reads it.
func askVaultPassword(id string) ([]byte, error) {
	label := "Vault password"
	if id != vault.DefaultID {
		label += " (" + id + ")"
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintf(os.Stderr, "%s: ", label)
		pw, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		return pw, err
	}
	line, err := stdinLines.ReadString('\n')
	if err != nil && line == "" {
		return nil, fmt.Errorf("%s: nothing on standard input", label)
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}
