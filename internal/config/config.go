// Package config owns the agent's configuration file, /etc/tend/tend.yaml:
// its typed form, the defaults, loading it strictly (an unknown key, a bad
// duration or a missing file is an error naming the key and its file:line:col),
// validating it, and writing it back (for `tend init`).
//
// Layers follow Nomad's agent config: Defaults(), then the file (Load), then
// the caller's flags, then one Validate.
//
// Relative file paths in the config (ssh_key, known_hosts, allowed_signers,
// keyring, http_auth_file, vault_password_file, webhook_secret_file, textfile,
// state_dir) are resolved against the directory of the config file.
// playbook and inventory are paths inside the repository checkout and are
// left as written.
package config

import (
	"fmt"
	"time"
	_ "time/tzdata" // windows name IANA zones; do not depend on the host's zoneinfo
)

// DefaultPath is where the agent looks for its config.
const DefaultPath = "/etc/tend/tend.yaml"

// Verification modes for source.verify.mode.
const (
	VerifyNone    = "none"
	VerifySSH     = "ssh"
	VerifyOpenPGP = "openpgp"
)

// Backends for the backend key.
const (
	BackendNative  = "native"
	BackendAnsible = "ansible"
	BackendAuto    = "auto"
)

// Config is the whole agent config. Field tags name the YAML keys.
type Config struct {
	Source            Source     `yaml:"source"`
	Playbook          string     `yaml:"playbook"`  // in the repo; "" = <fqdn>.yml, <hostname>.yml, local.yml
	Inventory         string     `yaml:"inventory"` // in the repo; "" = none (this host only)
	Host              string     `yaml:"host"`      // inventory name of this host; "" = hostname
	Backend           string     `yaml:"backend"`
	VaultPasswordFile string     `yaml:"vault_password_file" tend:"file"`
	Drift             Drift      `yaml:"drift"`
	Guardrails        Guardrails `yaml:"guardrails"`
	Backups           Backups    `yaml:"backups"`
	Audit             Audit      `yaml:"audit"`
	Listen            string     `yaml:"listen"` // host:port; "" = no HTTP server
	WebhookSecretFile string     `yaml:"webhook_secret_file" tend:"file"`
	Textfile          string     `yaml:"textfile" tend:"file"` // "" = off
	StateDir          string     `yaml:"state_dir" tend:"file"`

	// path is the file the config was loaded from ("" for Defaults()).
	path string
	// pos maps a key path ("source.interval") to the file:line:col of its value.
	pos map[string]string
}

// Source is where the desired state comes from and how it is trusted.
type Source struct {
	URL            string        `yaml:"url"` // ssh://, https://, file://, scp-like or a path
	Ref            string        `yaml:"ref"` // branch, tag or commit
	Interval       time.Duration `yaml:"interval"`
	Splay          time.Duration `yaml:"splay"`
	SSHKey         string        `yaml:"ssh_key" tend:"file"`
	KnownHosts     string        `yaml:"known_hosts" tend:"file"`
	HTTPAuthFile   string        `yaml:"http_auth_file" tend:"file"` // "user:token" for https
	Depth          int           `yaml:"depth"`                      // 0 = full history
	Verify         Verify        `yaml:"verify"`
	AllowForcePush bool          `yaml:"allow_force_push"`
}

// Verify says which commits may be applied.
type Verify struct {
	Mode           string `yaml:"mode"`                        // none | ssh | openpgp
	AllowedSigners string `yaml:"allowed_signers" tend:"file"` // ssh: git's allowed_signers format
	Keyring        string `yaml:"keyring" tend:"file"`         // openpgp: armored public keys
	AllCommits     bool   `yaml:"all_commits"`                 // every new commit, not only the tip
}

// Drift configures drift checks between commits.
type Drift struct {
	Interval         time.Duration `yaml:"interval"`
	FullHashInterval time.Duration `yaml:"full_hash_interval"` // re-hash file contents, not only stat; 0 = every check
	Watch            bool          `yaml:"watch"`              // also react to file events on managed files
	Remediate        bool          `yaml:"remediate"`          // false = report drift only
}

// Guardrails limit what a run may do and when.
type Guardrails struct {
	MaxChanges        int           `yaml:"max_changes"` // >0: refuse a run that would change more
	Windows           []Window      `yaml:"windows"`     // empty = always open
	RolloutDelay      time.Duration `yaml:"rollout_delay"`
	RollbackOnFailure bool          `yaml:"rollback_on_failure"`
}

// Backups bounds state_dir/backups/ (files saved before tend changed them).
type Backups struct {
	MaxBytes int64         `yaml:"max_bytes" tend:"bytes"`
	MaxAge   time.Duration `yaml:"max_age"`
}

// Audit bounds state_dir/audit.jsonl before it is rotated.
type Audit struct {
	MaxBytes int64 `yaml:"max_bytes" tend:"bytes"`
}

// Defaults returns the config that applies before any file is read.
func Defaults() *Config {
	return &Config{
		Source: Source{
			Ref:      "main",
			Interval: 5 * time.Minute,
			Splay:    time.Minute,
			Verify:   Verify{Mode: VerifyNone},
		},
		Backend: BackendAuto,
		Drift: Drift{
			Interval:         10 * time.Minute,
			FullHashInterval: time.Hour,
			Watch:            true,
			Remediate:        true,
		},
		Backups:  Backups{MaxBytes: 256 << 20, MaxAge: 30 * 24 * time.Hour},
		Audit:    Audit{MaxBytes: 16 << 20},
		Listen:   "127.0.0.1:9273",
		StateDir: "/var/lib/tend",
	}
}

// Path is the file the config was loaded from, "" if it was not loaded.
func (c *Config) Path() string { return c.path }

// Error is one problem with one key, as "tend.yaml:4:13: source.interval: invalid duration "5x"".
type Error struct {
	Pos string // file:line:col of the value, "" when not from a file
	Key string // dotted key path, e.g. "source.verify.mode"
	Msg string
}

func (e *Error) Error() string {
	s := e.Key + ": " + e.Msg
	if e.Key == "" {
		s = e.Msg
	}
	if e.Pos != "" {
		return e.Pos + ": " + s
	}
	return s
}

func (c *Config) errorf(key, format string, a ...any) *Error {
	return &Error{Pos: c.pos[key], Key: key, Msg: fmt.Sprintf(format, a...)}
}
