// Command tend keeps servers in the state their git repository declares. It
// runs Ansible playbooks natively (tend playbook), as a GitOps agent (tend
// agent) and as a drop-in for ansible-pull (tend pull). This package only
// wires flags to internal/ and maps errors to exit codes.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit code chosen by a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, a ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, a...)}
}

type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "tend %s — keep servers in the state their git repository declares\n\nUsage: tend COMMAND [flags]\n\nCommands:\n", version)
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'tend COMMAND --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	if args[0] == "--version" {
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "tend: unknown command %q\n", args[0])
		usage()
		return 1
	}
	err := cmd.run(args[1:])
	if err == nil {
		return 0
	}
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(os.Stderr, "ERROR! %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(os.Stderr, "ERROR! %v\n", err)
	return 1
}

// newFlags returns a flag set that allows flags after positional arguments,
// as Ansible's CLIs do.
func newFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("tend "+name, pflag.ContinueOnError)
	fs.SetInterspersed(true)
	fs.SortFlags = false
	return fs
}

// splitList splits repeated, comma-separated flag values ("-t a,b -t c").
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
