package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tend-project/tend/internal/config"
)

func init() {
	register("init", "write the agent config (/etc/tend/tend.yaml) from flags", cmdInit)
}

// shippedDefault is the untouched config the package installs; init may
// replace a tend.yaml identical to it without --force (it has no source.url,
// so the agent cannot run with it anyway).
const shippedDefault = "/usr/share/tend/tend.yaml"

// initFlags maps config keys to the flags that set them, so that a problem
// found by config.Validate names what the user typed.
var initFlags = map[string]string{
	"source.url":                    "--repo",
	"source.ref":                    "--ref",
	"source.interval":               "--interval",
	"source.ssh_key":                "--ssh-key",
	"source.known_hosts":            "--known-hosts",
	"source.verify.mode":            "--verify",
	"source.verify.allowed_signers": "--allowed-signers",
	"source.verify.keyring":         "--keyring",
	"backend":                       "--backend",
	"listen":                        "--listen",
	"textfile":                      "--textfile",
	"state_dir":                     "--state-dir",
}

func cmdInit(args []string) error {
	fs := newFlags("init")
	repo := fs.String("repo", "", "git URL of the host-state repo (ssh://, git@host:path, https://, file:// or a path) (required)")
	ref := fs.String("ref", "", "branch, tag or commit to apply (default main)")
	playbook := fs.String("playbook", "", "playbook in the repo (default <fqdn>.yml, <hostname>.yml, local.yml)")
	inventory := fs.String("inventory", "", "inventory in the repo")
	hostName := fs.String("host", "", "inventory name of this host (default: the hostname)")
	sshKey := fs.String("ssh-key", "", "deploy key for ssh URLs")
	knownHosts := fs.String("known-hosts", "", "known_hosts file with the git server's host key (required for ssh URLs)")
	verify := fs.String("verify", "", "commit verification: none, ssh or openpgp (default none; implied by --allowed-signers or --keyring)")
	signers := fs.String("allowed-signers", "", "git allowed_signers file, for --verify ssh")
	keyring := fs.String("keyring", "", "armored OpenPGP public keys, for --verify openpgp")
	interval := fs.String("interval", "", "poll period, e.g. 5m (default 5m)")
	backend := fs.String("backend", "", "native, ansible or auto (default auto)")
	listen := fs.String("listen", "", `address for /metrics, /healthz, /status (default 127.0.0.1:9273; "off" = no HTTP server)`)
	textfile := fs.String("textfile", "", "also write metrics to this *.prom file for node_exporter")
	stateDir := fs.String("state-dir", "", "checkout, state and audit directory (default /var/lib/tend)")
	cfgPath := fs.String("config", config.DefaultPath, "config file to write")
	force := fs.Bool("force", false, "overwrite an existing config file")
	shipped := fs.String("shipped-default", shippedDefault, "the package's default config, which init may replace without --force")
	_ = fs.MarkHidden("shipped-default")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	if fs.NArg() > 0 {
		return exitf(1, "tend init takes no arguments, got %q (did you mean --repo %s?)", fs.Args(), fs.Arg(0))
	}
	if strings.TrimSpace(*repo) == "" {
		return exitf(1, "--repo is required: the git URL of the host-state repo")
	}

	c := config.Defaults()
	c.Source.URL = localURL(*repo)
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setFile := func(dst *string, v string) error {
		if v == "" {
			return nil
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
		*dst = abs
		return nil
	}
	set(&c.Source.Ref, *ref)
	set(&c.Playbook, *playbook)
	set(&c.Inventory, *inventory)
	set(&c.Host, *hostName)
	set(&c.Backend, *backend)
	var errs []error
	for _, f := range []struct {
		flag string
		dst  *string
		v    string
	}{
		{"--ssh-key", &c.Source.SSHKey, *sshKey},
		{"--known-hosts", &c.Source.KnownHosts, *knownHosts},
		{"--allowed-signers", &c.Source.Verify.AllowedSigners, *signers},
		{"--keyring", &c.Source.Verify.Keyring, *keyring},
		{"--textfile", &c.Textfile, *textfile},
		{"--state-dir", &c.StateDir, *stateDir},
	} {
		if err := setFile(f.dst, f.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.flag, err))
		}
	}
	if *interval != "" {
		d, err := config.ParseDuration(*interval)
		if err != nil {
			errs = append(errs, fmt.Errorf("--interval: %w", err))
		} else {
			c.Source.Interval = d
		}
	}
	switch {
	case fs.Changed("listen") && (*listen == "off" || *listen == ""):
		c.Listen = ""
	case *listen != "":
		c.Listen = *listen
	}

	// --verify defaults to what the signer flags imply.
	mode := *verify
	if mode == "" {
		switch {
		case *signers != "" && *keyring != "":
			errs = append(errs, errors.New("--allowed-signers and --keyring are for different --verify modes: give one, or say which with --verify"))
		case *signers != "":
			mode = config.VerifySSH
		case *keyring != "":
			mode = config.VerifyOpenPGP
		default:
			mode = config.VerifyNone
		}
	}
	c.Source.Verify.Mode = mode
	if *signers != "" && mode != config.VerifySSH {
		errs = append(errs, fmt.Errorf("--allowed-signers is only used with --verify ssh, not --verify %s", mode))
	}
	if *keyring != "" && mode != config.VerifyOpenPGP {
		errs = append(errs, fmt.Errorf("--keyring is only used with --verify openpgp, not --verify %s", mode))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, flagErrors(err)...)
	}
	if len(errs) > 0 {
		return exitf(1, "tend init: nothing written to %s:\n  %s", *cfgPath, joinLines(errs))
	}

	if err := mayWrite(*cfgPath, *shipped, *force); err != nil {
		return &exitError{code: 1, err: err}
	}
	if err := os.MkdirAll(filepath.Dir(*cfgPath), 0o755); err != nil {
		return fmt.Errorf("create the config's directory: %w", err)
	}
	if err := c.Write(*cfgPath); err != nil {
		return fmt.Errorf("write %s: %w", *cfgPath, err)
	}
	// Read it back as the agent will: a file init wrote must load.
	if _, err := config.Load(*cfgPath); err != nil {
		return fmt.Errorf("%s was written but does not load; please report this as a bug: %w", *cfgPath, err)
	}
	fmt.Printf("wrote %s (repo %s, ref %s)\n", *cfgPath, c.Source.URL, c.Source.Ref)
	if *cfgPath == config.DefaultPath {
		fmt.Println("start or restart the agent: systemctl restart tend")
	} else {
		fmt.Printf("run the agent with it: tend agent --config %s\n", *cfgPath)
	}
	return nil
}

// localURL makes a relative local repository path absolute, since the agent
// runs from another directory; URLs and absolute paths are kept as written.
func localURL(u string) string {
	if strings.Contains(u, "://") || config.IsSSHURL(u) || filepath.IsAbs(u) {
		return u
	}
	if abs, err := filepath.Abs(u); err == nil {
		return abs
	}
	return u
}

// mayWrite refuses to replace an existing config unless forced, or unless it
// is the package's untouched default.
func mayWrite(path, shipped string, force bool) error {
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("tend init: read %s: %w", path, err)
	case force:
		return nil
	}
	if def, err := os.ReadFile(shipped); err == nil && bytes.Equal(cur, def) {
		return nil
	}
	return fmt.Errorf("tend init: %s already exists; nothing written (use --force to replace it)", path)
}

// flagErrors splits a joined config.Validate error and names the flag that
// set each bad key.
func flagErrors(err error) []error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var ce *config.Error
		if errors.As(e, &ce) {
			if flag, ok := initFlags[ce.Key]; ok {
				e = fmt.Errorf("%s (%s): %s", flag, ce.Key, ce.Msg)
			}
		}
		out = append(out, e)
	}
	return out
}

func joinLines(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n  ")
}
