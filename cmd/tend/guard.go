package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tend-project/tend/internal/agent"
	"github.com/tend-project/tend/internal/config"
)

func init() {
	register("pause", "stop applying changes on this host (drift is still reported)", cmdPause)
	register("resume", "lift a pause", cmdResume)
	register("approve", "apply a revision once although it exceeds guardrails.max_changes", cmdApprove)
	register("rollback", "restore what the last run changed and pin the previous good revision", cmdRollback)
}

// operatorAgent parses the common --config flag and opens the agent.
func operatorAgent(name string, args []string, extra func(*agentFlags)) (*agent.Agent, []string, error) {
	fs := newFlags(name)
	cfgPath := fs.String("config", config.DefaultPath, "agent config file")
	af := &agentFlags{}
	af.reason = fs.String("reason", "", "why (recorded in state and audit)")
	af.to = fs.String("to", "", "apply this revision instead of the previous good one")
	af.root = fs.String("root", "", "map every local path under this directory (demo)")
	_ = fs.MarkHidden("root")
	if name != "pause" {
		_ = fs.MarkHidden("reason")
	}
	if name != "rollback" {
		_ = fs.MarkHidden("to")
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, &exitError{code: 1, err: err}
	}
	a, err := agent.New(*cfgPath, version, agentLogger())
	if err != nil {
		return nil, nil, err
	}
	a.Root = *af.root
	if extra != nil {
		extra(af)
	}
	return a, fs.Args(), nil
}

type agentFlags struct{ reason, to, root *string }

func cmdPause(args []string) error {
	var reason string
	a, _, err := operatorAgent("pause", args, func(f *agentFlags) { reason = *f.reason })
	if err != nil {
		return err
	}
	if err := a.Pause(reason, agent.Operator()); err != nil {
		return err
	}
	fmt.Println("paused: the agent changes nothing on this host until `tend resume`; drift is still reported")
	return nil
}

func cmdResume(args []string) error {
	a, _, err := operatorAgent("resume", args, nil)
	if err != nil {
		return err
	}
	if err := a.Resume(agent.Operator()); err != nil {
		return err
	}
	fmt.Println("resumed")
	return nil
}

func cmdApprove(args []string) error {
	a, rest, err := operatorAgent("approve", args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return exitf(1, "usage: tend approve REV")
	}
	full, err := a.Approve(rest[0], agent.Operator())
	if err != nil {
		return err
	}
	fmt.Printf("approved %s once; the agent applies it on its next cycle\n", full)
	return nil
}

func cmdRollback(args []string) error {
	var to string
	a, rest, err := operatorAgent("rollback", args, func(f *agentFlags) { to = *f.to })
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return exitf(1, "usage: tend rollback [--to REV]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := a.Rollback(ctx, to, agent.Operator())
	for _, p := range res.Restored {
		fmt.Printf("restored %s\n", p)
	}
	if res.Revision != "" {
		fmt.Printf("pinned to %s until a newer commit arrives\n", res.Revision)
	}
	return err
}
