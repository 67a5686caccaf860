package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tend-project/tend/internal/ansible"
	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
)

// Backends: which engine runs a request.
const (
	BackendNative  = "native"
	BackendAnsible = "ansible"
	BackendAuto    = "auto"
)

// needsAnsible decides whether a run goes through real Ansible: always for
// backend "ansible", for "auto" when a play uses an action tend lacks.
//
// auto decides for the whole run, not per play: plays share state (facts,
// set_fact, registered results, handlers notified across plays, hostvars),
// and a native play cannot hand that state to an ansible-playbook process
// or take it back. One tool runs everything, so the run behaves as Ansible
// would run it.
func needsAnsible(req Request) (bool, error) {
	switch req.Backend {
	case "", BackendNative:
		return false, nil
	case BackendAnsible:
		return true, nil
	case BackendAuto:
		needs, err := Needs(req.Playbooks, req.RolesPath)
		return err == nil && len(needs) > 0, nil
	}
	return false, fmt.Errorf("backend must be native, ansible or auto, got %q", req.Backend)
}

// Needs lists the tasks of the playbooks whose actions tend does not
// implement natively. A playbook that is missing or does not parse gives
// an error (the native loader then reports the problems in its own words).
func Needs(playbooks, rolesPath []string) ([]ansible.Need, error) {
	for _, p := range playbooks {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoPlaybook, p)
		}
	}
	return ansible.Scan(playbooks, rolesPath, engine.IsAction)
}

// Preflight checks the playbooks before anything changes, for the
// request's backend, and returns them parsed. Native runs use the native
// loader (Load). Runs that go through Ansible are parsed by tend with a
// loader that accepts any module name (so callers can still check where
// files come from) and then by `ansible-playbook --syntax-check`, which
// also resolves module names; it fails when Ansible is needed but not
// installed. With backend ansible, a playbook tend cannot parse is left to
// Ansible unless req.Confine asks tend to check its files.
func Preflight(ctx context.Context, req Request) ([]*playbook.Playbook, error) {
	req, err := req.Resolved()
	if err != nil {
		return nil, err
	}
	useAnsible, err := needsAnsible(req)
	if err != nil {
		return nil, err
	}
	if !useAnsible {
		return Load(req.Playbooks, req.RolesPath)
	}
	o, err := ansibleOptions(req)
	if err != nil {
		return nil, err
	}
	var pbs []*playbook.Playbook
	for _, p := range req.Playbooks {
		pb, err := ansible.Parse(p, req.RolesPath)
		if err != nil {
			if req.Backend == BackendAnsible && req.Confine == "" {
				pbs = nil
				break
			}
			return nil, fmt.Errorf("%w:\n%v", engine.ErrParse, err)
		}
		pbs = append(pbs, pb)
	}
	if err := ansible.SyntaxCheck(ctx, o); err != nil {
		return nil, ansibleError(err)
	}
	return pbs, nil
}

// runAnsible runs the playbooks through ansible-playbook and turns its
// results into tend's report.
func runAnsible(ctx context.Context, req Request) (*report.Report, error) {
	o, err := ansibleOptions(req)
	if err != nil {
		return nil, err
	}
	rep, err := ansible.Run(ctx, o)
	return rep, ansibleError(err)
}

func ansibleOptions(req Request) (ansible.Options, error) {
	for _, p := range req.Playbooks {
		if _, err := os.Stat(p); err != nil {
			return ansible.Options{}, fmt.Errorf("%w: %s", ErrNoPlaybook, p)
		}
	}
	needs, _ := Needs(req.Playbooks, req.RolesPath)
	if req.Root != "" {
		what := "backend " + req.Backend
		if len(needs) > 0 {
			what = "modules " + strings.Join(ansible.NeedNames(needs), ", ")
		}
		return ansible.Options{}, fmt.Errorf("%s need real Ansible, which cannot run under --root %s "+
			"(it would change the real machine); run without --root or with backend native", what, req.Root)
	}
	if req.Log != nil && len(needs) > 0 {
		req.Log.Info("running through ansible-playbook", "backend", req.Backend,
			"not_native", strings.Join(ansible.NeedNames(needs), ","))
	}
	o := ansible.Options{
		Playbooks: req.Playbooks, Inventories: req.Inventories, Limit: req.Limit, ExtraVars: req.ExtraVars,
		Check: req.Check, Diff: req.Diff, ForceHandlers: req.ForceHandlers, StartAt: req.StartAt, Tags: req.Tags, SkipTags: req.SkipTags, Forks: req.Forks,
		Connection: req.Connection, RemoteUser: req.RemoteUser, PrivateKey: req.PrivateKey,
		Become: req.Become, BecomeUser: req.BecomeUser, VaultPasswordFile: req.VaultPasswordFile, VaultIDs: req.VaultIDs,
		Needs: needs, Sink: req.Sink, Log: req.Log,
	}
	if req.AnsibleCfgPath != "" {
		// the agent runs from /, not the checkout: name the file tend read
		o.Env = append(o.Env, "ANSIBLE_CONFIG="+req.AnsibleCfgPath)
	}
	return o, nil
}

// ansibleError maps ansible-playbook's own errors onto ExitCode: its code 4
// (the playbook does not parse) is engine.ErrParse.
func ansibleError(err error) error {
	var ee *ansible.ExitError
	if errors.As(err, &ee) && ee.Code == 4 {
		return fmt.Errorf("%w: %w", engine.ErrParse, err)
	}
	return err
}
