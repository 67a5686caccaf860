// Package apply is the front door to a playbook run shared by `tend
// playbook`, `tend pull` and the agent: it loads the inventory, extra vars
// and playbooks, validates everything before the first change, connects to
// hosts and runs the engine. It also maps a run's outcome to
// ansible-playbook's exit codes.
package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/facts"
	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/inventory"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"

	_ "github.com/tend-project/tend/internal/module/all" // the built-in modules
)

// Request is one run of one or more playbooks.
type Request struct {
	Playbooks   []string
	Inventories []string
	Limit       string
	ExtraVars   []string // raw -e values: k=v, @file, JSON/YAML
	Check, Diff bool
	// ForceHandlers runs notified handlers on failed hosts too.
	ForceHandlers bool
	// StartAt starts the run at the first task with this name
	// (--start-at-task).
	StartAt string
	// Prompt asks for vars_prompt variables (tend playbook on a terminal);
	// nil takes their defaults.
	Prompt     func(engine.VarPrompt) (string, error)
	Tags       []string
	SkipTags   []string
	Forks      int
	Connection string // "", "local" or "ssh"
	RemoteUser string
	PrivateKey string
	Become     bool
	BecomeUser string
	// VaultPasswordFile (the default id) and VaultIDs (ID@FILE, as
	// ansible-playbook's --vault-id) decrypt vault content.
	VaultPasswordFile string
	VaultIDs          []string
	// AskVaultPass asks VaultPrompt for the default vault password
	// (--ask-vault-pass); VaultPrompt also answers --vault-id ID@prompt.
	AskVaultPass bool
	VaultPrompt  func(id string) ([]byte, error)
	// Root maps every path on the local host under this directory and
	// refuses commands (--root, for demos and tests).
	Root string
	Sink report.Sink
	Log  *slog.Logger
	// Connect overrides how hosts are reached (push mode, tests).
	Connect engine.Connector
	// Verbosity is the -v count.
	Verbosity int
	// Backend is native, ansible or auto ("" = native): see backend.go.
	Backend string
	// Backup saves a file before a module changes it (agent mode).
	Backup func(ctx context.Context, h host.Host, path string) error
	// Confine refuses files read from outside this directory (agent mode:
	// the repo checkout).
	Confine string
	// Wrote hears of every file written on the local host (agent mode: the
	// drift index records what tend wrote, not what is on disk when the
	// run ends); see host.Observed.
	Wrote func(path string, data []byte)

	// Push mode over SSH (connect.go). AcceptHostKey records an unknown
	// host key on first use (--accept-host-key); a changed key is always
	// refused. SSHCommonArgs and SSHExtraArgs are ssh(1) options as in
	// ansible-playbook's --ssh-common-args/--ssh-extra-args (inventory vars
	// ansible_ssh_common_args/_extra_args win over them). Timeout bounds
	// connecting to a host (-T/--timeout; 0 = 10 s; ansible_timeout wins).
	AcceptHostKey               bool
	SSHCommonArgs, SSHExtraArgs string
	Timeout                     time.Duration

	// AnsibleCfgDir is where ansible.cfg is looked for (the working
	// directory for tend playbook, the checkout for the agent); "" reads
	// none. See Resolved.
	AnsibleCfgDir string
	// AnsibleCfgPath is the ansible.cfg Resolved read ("" for none).
	AnsibleCfgPath string
	// RolesPath are more directories to find roles in (roles_path).
	RolesPath []string
	// Gathering is Ansible's gathering setting: "implicit" (or "") gathers
	// facts for plays that do not say, "explicit" only when a play asks,
	// "smart" once per host.
	Gathering string

	resolved bool // Resolved has filled the request
}

// ErrNoPlaybook is a missing playbook file (exit code 1).
var ErrNoPlaybook = errors.New("the playbook could not be found")

// Load parses and validates the playbooks without running anything; roles
// are looked for in rolesPath too.
func Load(paths, rolesPath []string) ([]*playbook.Playbook, error) {
	var pbs []*playbook.Playbook
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoPlaybook, p)
		}
		pb, err := engine.Load(p, rolesPath)
		if err != nil {
			return nil, err
		}
		pbs = append(pbs, pb)
	}
	return pbs, nil
}

// warnTo sends the inventory's warnings (a host pattern that matches
// nothing) to the sink, as ansible-playbook prints them.
func warnTo(sink report.Sink) func(string) {
	if sink == nil {
		return nil
	}
	return sink.Warn
}

// Run validates everything, then runs the playbooks in order.
func Run(ctx context.Context, req Request) (*report.Report, error) {
	req, err := req.Resolved()
	if err != nil {
		return nil, err
	}
	if useAnsible, err := needsAnsible(req); err != nil {
		return nil, err
	} else if useAnsible {
		return runAnsible(ctx, req)
	}
	pbs, err := Load(req.Playbooks, req.RolesPath)
	if err != nil {
		return nil, err
	}
	dec, err := decrypter(req)
	if err != nil {
		return nil, err
	}
	inv, secrets, err := loadInventory(req.Inventories, dec, warnTo(req.Sink))
	if err != nil {
		return nil, fmt.Errorf("%w:\n%v", engine.ErrParse, err)
	}
	extra, err := ParseExtraVars(req.ExtraVars)
	if err != nil {
		return nil, err
	}
	opts := engine.Options{
		Inventory: inv, Limit: req.Limit, ExtraVars: extra, Check: req.Check, Diff: req.Diff,
		Tags: req.Tags, SkipTags: req.SkipTags, Forks: req.Forks, Sink: req.Sink, Log: req.Log, Verbosity: req.Verbosity,
		RolesPath: req.RolesPath, Gathering: req.Gathering, ForceHandlers: req.ForceHandlers, Prompt: req.Prompt, StartAt: req.StartAt,
		Facts:   facts.Gather,
		Decrypt: dec, Secrets: secrets, Backup: req.Backup, Confine: req.Confine,
	}
	opts.Connect = req.Connect
	if opts.Connect == nil {
		conn, closeConns := NewConnector(req)
		defer closeConns()
		opts.Connect = conn
	}
	opts.Become = becomeOn
	var total *report.Report
	for _, pb := range pbs {
		rep, err := engine.New(opts).Run(ctx, pb)
		total = mergeReports(total, rep)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func mergeReports(a, b *report.Report) *report.Report {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	a.Plays = append(a.Plays, b.Plays...)
	for h, s := range b.Stats {
		if t, ok := a.Stats[h]; ok {
			t.OK += s.OK
			t.Changed += s.Changed
			t.Failed += s.Failed
			t.Skipped += s.Skipped
			t.Unreachable += s.Unreachable
			t.Rescued += s.Rescued
			t.Ignored += s.Ignored
		} else {
			a.Stats[h] = s
		}
	}
	a.End = b.End
	return a
}

// LoadInventory loads -i sources; none means /etc/ansible/hosts when it
// exists, else the implicit localhost.
func LoadInventory(sources []string) (*inventory.Inventory, error) {
	return loadInventoryWith(sources, inventory.Options{})
}

func loadInventoryWith(sources []string, opts inventory.Options) (*inventory.Inventory, error) {
	if len(sources) == 0 {
		if _, err := os.Stat("/etc/ansible/hosts"); err == nil {
			sources = []string{"/etc/ansible/hosts"}
		} else {
			inv := inventory.Empty()
			return inv, nil
		}
	}
	return inventory.Load(sources, opts)
}

// ExitCode maps a run to ansible-playbook's exit codes: 0 ok, 1 error,
// 2 a host failed, 4 a host unreachable or the playbook did not parse.
func ExitCode(rep *report.Report, err error) int {
	var coded interface{ ExitCode() int }
	if err != nil && errors.As(err, &coded) && coded.ExitCode() > 0 {
		return coded.ExitCode() // ansible-playbook's own code (backend ansible)
	}
	if err != nil {
		if errors.Is(err, engine.ErrParse) {
			return 4
		}
		if errors.Is(err, ErrNoPlaybook) {
			return 1
		}
		if rep == nil {
			return 1
		}
	}
	if rep == nil {
		return 0
	}
	t := rep.Totals()
	switch {
	case t.Unreachable > 0:
		return 4
	case t.Failed > 0:
		return 2
	}
	if err != nil {
		return 1
	}
	return 0
}
