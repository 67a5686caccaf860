package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tend-project/tend/internal/apply"
	"github.com/tend-project/tend/internal/lock"
	"github.com/tend-project/tend/internal/source"
)

func init() {
	register("pull", "fetch a repo and run its playbook here, like ansible-pull", cmdPull)
}

func cmdPull(args []string) error {
	var f runFlags
	fs := newFlags("pull")
	url := fs.StringP("url", "U", "", "URL of the playbook repository")
	ref := fs.StringP("checkout", "C", "", "branch, tag or commit to check out (default: the remote's HEAD)")
	dir := fs.StringP("directory", "d", "", "checkout directory (default ~/.ansible/pull/HOSTNAME)")
	onlyIfChanged := fs.BoolP("only-if-changed", "o", false, "run the playbook only when the repo changed")
	verify := fs.Bool("verify-commit", false, "verify the commit's signature (needs --allowed-signers or --keyring)")
	signers := fs.String("allowed-signers", "", "git allowed_signers file for SSH-signed commits")
	keyring := fs.String("keyring", "", "armored OpenPGP keyring for GPG-signed commits")
	accept := fs.Bool("accept-host-key", false, "record the SSH host key of the repo server on first use")
	knownHosts := fs.String("known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	sleep := fs.IntP("sleep", "s", 0, "sleep a random 0..N seconds first (against thundering herds)")
	full := fs.Bool("full", false, "accepted for ansible-pull compatibility (clones are full unless --depth)")
	depth := fs.Int("depth", 0, "shallow clone of this many commits")
	f.add(pullFlagAdapter{fs})
	_ = full
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	if *url == "" {
		return exitf(1, "tend pull: -U URL is required")
	}
	hn, _ := os.Hostname()
	if *dir == "" {
		home, _ := os.UserHomeDir()
		*dir = filepath.Join(home, ".ansible", "pull", hn)
	}
	cfg := source.Config{URL: *url, Ref: *ref, Dir: *dir, Depth: *depth, SSHKeyFile: f.key, AcceptNewHostKey: *accept,
		KnownHostsFile: *knownHosts, Timeout: 2 * time.Minute}
	if cfg.KnownHostsFile == "" {
		home, _ := os.UserHomeDir()
		cfg.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	if *verify {
		switch {
		case *signers != "":
			cfg.Verify = source.VerifyConfig{Mode: source.ModeSSH, AllowedSigners: *signers}
		case *keyring != "":
			cfg.Verify = source.VerifyConfig{Mode: source.ModeOpenPGP, Keyring: *keyring}
		default:
			return exitf(1, "--verify-commit needs --allowed-signers FILE (SSH signatures) or --keyring FILE (OpenPGP)")
		}
	}
	if *sleep > 0 {
		time.Sleep(time.Duration(rand.Int64N(int64(*sleep)+1)) * time.Second)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if lk, err := takeHostLock(); err != nil {
		return err
	} else if lk != nil {
		defer lk.Release()
	}
	repo, err := source.Open(cfg)
	if err != nil {
		return err
	}
	before := ""
	if rev, err := repo.Describe("HEAD"); err == nil {
		before = rev.Hash
	}
	rev, err := repo.Sync(ctx, before)
	if err != nil {
		return err
	}
	fmt.Printf("%s | SUCCESS => revision %s\n", hn, rev.Hash)
	if *onlyIfChanged && before == rev.Hash {
		fmt.Println("Repository has not changed, quitting.")
		return nil
	}
	var pb string
	if fs.NArg() > 0 {
		pb = filepath.Join(*dir, fs.Arg(0))
	} else {
		short, _, _ := strings.Cut(hn, ".")
		for _, c := range []string{hn + ".yml", short + ".yml", "local.yml"} {
			if _, err := os.Stat(filepath.Join(*dir, c)); err == nil {
				pb = filepath.Join(*dir, c)
				break
			}
		}
		if pb == "" {
			return exitf(1, "no playbook given and none of %s.yml, %s.yml, local.yml in the repo", hn, short)
		}
	}
	req := f.request([]string{pb})
	req.AnsibleCfgDir = *dir // ansible-pull runs ansible-playbook in the checkout
	if len(req.Inventories) == 0 {
		req.Inventories = []string{"localhost,"}
	} else {
		for i, inv := range req.Inventories {
			if !filepath.IsAbs(inv) && !strings.Contains(inv, ",") {
				req.Inventories[i] = filepath.Join(*dir, inv)
			}
		}
	}
	if req.Limit == "" {
		req.Limit = "localhost,127.0.0.1," + hn
	}
	req.Connection = "local"
	rep, err := apply.Run(ctx, req)
	if code := apply.ExitCode(rep, err); code != 0 {
		return &exitError{code: code, err: err}
	}
	return nil
}

// takeHostLock takes the agent's run lock when this host has an agent
// state dir (TEND_STATE_DIR or /var/lib/tend), so a manual run never races
// the agent.
func takeHostLock() (*lock.Lock, error) {
	dir := os.Getenv("TEND_STATE_DIR")
	if dir == "" {
		dir = "/var/lib/tend"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil
	}
	lk, err := lock.Acquire(dir, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return lk, nil
}

// pullFlagAdapter registers the shared run flags on pull's flag set without
// the names ansible-pull uses for other things (-C, -d, -o, -U).
type pullFlagAdapter struct{ fs *pflag.FlagSet }

func (p pullFlagAdapter) StringArrayVarP(v *[]string, name, short string, def []string, usage string) {
	if p.fs.Lookup(name) != nil {
		return // pull has its own flag of that name
	}
	p.fs.StringArrayVarP(v, name, p.free(short), def, usage)
}
func (p pullFlagAdapter) StringVarP(v *string, name, short, def, usage string) {
	if p.fs.Lookup(name) != nil {
		return // pull has its own flag of that name
	}
	if name == "output" {
		p.fs.StringVar(v, "format", def, usage)
		return
	}
	p.fs.StringVarP(v, name, p.free(short), def, usage)
}
func (p pullFlagAdapter) BoolVarP(v *bool, name, short string, def bool, usage string) {
	if p.fs.Lookup(name) != nil {
		return // pull has its own flag of that name
	}
	p.fs.BoolVarP(v, name, p.free(short), def, usage)
}
func (p pullFlagAdapter) IntVarP(v *int, name, short string, def int, usage string) {
	if p.fs.Lookup(name) != nil {
		return // pull has its own flag of that name
	}
	p.fs.IntVarP(v, name, p.free(short), def, usage)
}
func (p pullFlagAdapter) CountVarP(v *int, name, short, usage string) {
	if p.fs.Lookup(name) != nil {
		return // pull has its own flag of that name
	}
	p.fs.CountVarP(v, name, p.free(short), usage)
}
func (p pullFlagAdapter) free(short string) string {
	if short != "" && p.fs.ShorthandLookup(short) != nil {
		return ""
	}
	return short
}
