package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tend-project/tend/internal/agent"
	"github.com/tend-project/tend/internal/config"
	"github.com/tend-project/tend/internal/state"
)

func init() {
	register("agent", "the GitOps daemon: sync, apply, detect drift, serve metrics", cmdAgent)
	register("status", "last sync, last run, drift, pause and revisions", cmdStatus)
	register("plan", "what a reconcile would change now (exit 2 when something would)", cmdPlan)
}

// exConfig is the daemon's exit code for a configuration error.
const exConfig = 78

func agentLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func cmdAgent(args []string) error {
	fs := newFlags("agent")
	cfgPath := fs.String("config", config.DefaultPath, "agent config file")
	once := fs.Bool("once", false, "one full cycle, then exit")
	root := fs.String("root", "", "map every local path under this directory and run no commands (demo)")
	_ = fs.MarkHidden("root")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	log := agentLogger()
	a, err := agent.New(*cfgPath, version, log)
	if err != nil {
		if !*once {
			// EX_CONFIG (sysexits.h): the unit's RestartPreventExitStatus=78
			// stops systemd from restarting into the same error, so
			// `systemctl status tend` keeps showing it.
			return &exitError{code: exConfig, err: err}
		}
		return err
	}
	a.Root = *root
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *once {
		return a.Cycle(ctx)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := a.Reload(); err != nil {
				log.Error("reload failed; keeping the old config", "err", err)
			} else {
				log.Info("config reloaded")
			}
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ctx) }()
	log.Info("tend agent started", "version", version, "listen", a.Config().Listen, "repo", a.Config().Source.URL)
	if err := a.Run(ctx); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(5 * time.Second):
	}
	return nil
}

func cmdStatus(args []string) error {
	fs := newFlags("status")
	cfgPath := fs.String("config", config.DefaultPath, "agent config file")
	out := fs.StringP("output", "o", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	st, err := state.Load(cfg.StateDir)
	if err != nil {
		return err
	}
	if *out == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(st)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func printStatus(st *state.State) {
	fmt.Printf("applied revision:  %s\n", orNone(st.AppliedRevision))
	fmt.Printf("last good:         %s\n", orNone(st.LastGoodRevision))
	if st.PinnedRevision != "" {
		fmt.Printf("pinned to:         %s\n", st.PinnedRevision)
	}
	fmt.Printf("last sync:         %s %s %s\n", when(st.Sync.Time), orNone(st.Sync.Result), st.Sync.Error)
	fmt.Printf("newest fetched:    %s\n", orNone(st.Sync.Revision))
	fmt.Printf("last run:          %s %s ok=%d changed=%d failed=%d skipped=%d %s\n", when(st.Run.Time), st.Run.Mode,
		st.Run.OK, st.Run.Changed, st.Run.Failed, st.Run.Skipped, st.Run.Error)
	n := 0
	for _, c := range st.Drift.Counts {
		n += c
	}
	fmt.Printf("drift:             %d resources (checked %s)\n", n, when(st.Drift.Time))
	for _, r := range st.Drift.Resources {
		fmt.Printf("  %s %s %v\n", r.Kind, r.ID, r.Differs)
	}
	if st.Pause.Paused {
		fmt.Printf("paused:            yes, since %s: %s\n", when(st.Pause.Since), st.Pause.Reason)
	} else {
		fmt.Printf("paused:            no\n")
	}
	if st.Blocked != "" {
		fmt.Printf("blocked:           %s\n", st.Blocked)
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.RFC3339)
}

func cmdPlan(args []string) error {
	fs := newFlags("plan")
	cfgPath := fs.String("config", config.DefaultPath, "agent config file")
	out := fs.StringP("output", "o", "text", "text or json")
	root := fs.String("root", "", "map every local path under this directory and run no commands (demo)")
	_ = fs.MarkHidden("root")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	a, err := agent.New(*cfgPath, version, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	a.Root = *root
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	plan, err := a.Plan(ctx)
	if err != nil {
		return err
	}
	if *out == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return err
		}
	} else {
		fmt.Printf("applied revision: %s\nnewest revision:  %s\n", orNone(plan.Applied), orNone(plan.Target))
		if len(plan.Changes) == 0 {
			fmt.Println("No changes. The host matches its repository.")
		} else {
			fmt.Printf("%d resource(s) would change:\n", len(plan.Changes))
			for _, r := range plan.Changes {
				fmt.Printf("  ~ %s %s %v\n", r.Kind, r.ID, r.Differs)
			}
		}
		for _, f := range plan.Failed {
			fmt.Printf("  ! %s\n", f)
		}
	}
	if len(plan.Failed) > 0 {
		return &exitError{code: 1, err: errors.New("the check run had failures")}
	}
	if len(plan.Changes) > 0 {
		return &exitError{code: 2}
	}
	return nil
}
