// Package source owns the agent's copy of the host-state git repository: it
// clones it under state_dir, polls the remote tip cheaply (ls-remote), fetches
// only when there is something new, refuses history that is not a
// fast-forward of the applied revision, verifies commit signatures (git's SSH
// signatures against an allowed_signers file, or OpenPGP against an armored
// keyring), re-clones a corrupt checkout, and checks out the work tree clean
// at exactly the verified commit. URLs may be ssh:// or scp-like (key file,
// known_hosts always checked), http(s):// (token or basic auth from a file),
// file:// or a plain path.
package source

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Config is the source: section of the agent config, plus where to check out.
type Config struct {
	URL string // source.url: ssh://, scp-like user@host:path, https://, http://, file:// or a path
	Ref string // source.ref: branch, tag, full ref name or 40-hex commit; "" = the remote's HEAD
	Dir string // the checkout directory (state_dir/checkout); created when missing
	// Depth > 0 makes shallow clones and fetches of that many commits; history
	// is deepened on demand when the fast-forward check or AllCommits needs it.
	Depth int

	SSHKeyFile       string // source.ssh_key: private key for ssh URLs
	KnownHostsFile   string // source.known_hosts: always checked for ssh URLs
	AcceptNewHostKey bool   // source.accept_new_host_key: record an unknown host's key on first use
	// HTTPTokenFile holds a token sent as the password of HTTP basic auth
	// (user "x-access-token", which GitHub, GitLab and Gitea accept).
	HTTPTokenFile string // source.http_token_file
	// BasicAuthFile holds "user:password" on its first line.
	BasicAuthFile string // source.http_basic_auth_file

	Verify         VerifyConfig
	AllowForcePush bool // source.allow_force_push

	// Timeout bounds each network operation (list, fetch); 0 = 2 minutes.
	Timeout time.Duration
	// Logger receives notes such as "re-cloning a corrupt checkout"; nil = discard.
	Logger *slog.Logger
}

// VerifyConfig is source.verify.
type VerifyConfig struct {
	Mode           string // "", "none", "ssh" or "openpgp"
	AllowedSigners string // ssh: git's allowed_signers file
	Keyring        string // openpgp: armored public keys
	// AllCommits verifies every commit between the applied revision
	// (exclusive) and the tip, not only the tip. On the first sync (nothing
	// applied yet) only the tip is verified.
	AllCommits bool
}

// Verification modes.
const (
	ModeNone    = "none"
	ModeSSH     = "ssh"
	ModeOpenPGP = "openpgp"
)

// Revision describes one commit.
type Revision struct {
	Hash      string
	Author    string // "Name <email>"
	Committer string // "Name <email>"
	When      time.Time
	Message   string
	Signer    string // key fingerprint: "SHA256:..." for ssh, upper-case hex for openpgp; "" when not verified
	Principal string // allowed_signers principal, or the OpenPGP key's primary user id
}

// NotFastForwardError is returned when the remote tip does not descend from
// the applied revision (history was rewritten) and AllowForcePush is off.
type NotFastForwardError struct{ Applied, Tip string }

func (e *NotFastForwardError) Error() string {
	return fmt.Sprintf("remote tip %s is not a fast-forward of applied revision %s (history was rewritten); set source.allow_force_push to accept it", e.Tip, e.Applied)
}

// VerifyError says which commit failed verification and why.
type VerifyError struct{ Commit, Reason string }

func (e *VerifyError) Error() string {
	return fmt.Sprintf("commit %s failed verification: %s", e.Commit, e.Reason)
}

// ErrCorrupt marks a local checkout that is broken (missing objects, bad HEAD);
// Sync re-clones when it sees it.
var ErrCorrupt = errors.New("local checkout is corrupt")

type refKind int

const (
	refHead   refKind = iota // remote HEAD
	refName                  // branch or tag name, resolved like git: branch first
	refFull                  // refs/...
	refCommit                // 40-hex sha
)

var shaRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// Repo is one configured source. Its methods are safe for concurrent use;
// they are serialised.
type Repo struct {
	cfg   Config
	ep    *transport.Endpoint
	local string // path of the remote repository when it is on this machine
	auth  transport.AuthMethod
	kind  refKind
	log   *slog.Logger
	mu    sync.Mutex
}

// Open validates cfg (files exist, mode known, URL parses) and returns a
// Repo. It does not touch the network or the checkout. Errors name the
// config key to fix.
func Open(cfg Config) (*Repo, error) {
	r := &Repo{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.cfg.Timeout <= 0 {
		r.cfg.Timeout = 2 * time.Minute
	}
	if cfg.URL == "" {
		return nil, errors.New("source.url: missing: set the git URL of the host-state repository")
	}
	if cfg.Dir == "" {
		return nil, errors.New("source: no checkout directory given (state_dir/checkout)")
	}
	if cfg.Depth < 0 {
		return nil, fmt.Errorf("source.depth: %d is negative", cfg.Depth)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("source checkout dir %s: %w", cfg.Dir, err)
	}
	r.cfg.Dir = dir

	switch ref := cfg.Ref; {
	case ref == "" || ref == "HEAD":
		r.kind = refHead
	case shaRE.MatchString(ref):
		r.kind = refCommit
		r.cfg.Ref = strings.ToLower(ref)
	case strings.HasPrefix(ref, "refs/"):
		r.kind = refFull
	default:
		r.kind = refName
	}
	if r.kind != refCommit && r.kind != refHead {
		if strings.ContainsAny(cfg.Ref, " ~^:?*[\\") || strings.Contains(cfg.Ref, "..") {
			return nil, fmt.Errorf("source.ref: %q is not a valid branch, tag or commit", cfg.Ref)
		}
	}

	if err := r.parseURL(); err != nil {
		return nil, err
	}
	if err := r.setupAuth(); err != nil {
		return nil, err
	}
	if err := r.checkVerifyConfig(); err != nil {
		return nil, err
	}
	return r, nil
}

// parseURL classifies the URL; a local one (file:// or a path) is read
// directly for RemoteHead.
func (r *Repo) parseURL() error {
	u := r.cfg.URL
	isPath := strings.HasPrefix(u, "/") || strings.HasPrefix(u, "./") || strings.HasPrefix(u, "../") || u == "."
	if isPath {
		abs, err := filepath.Abs(u)
		if err != nil {
			return fmt.Errorf("source.url: %w", err)
		}
		u = abs
	}
	ep, err := transport.NewEndpoint(u)
	if err != nil {
		return fmt.Errorf("source.url: %q: %w", r.cfg.URL, err)
	}
	switch ep.Protocol {
	case "file":
		p := ep.Path
		if !filepath.IsAbs(p) {
			abs, err := filepath.Abs(p)
			if err != nil {
				return fmt.Errorf("source.url: %w", err)
			}
			p = abs
		}
		// A missing local repository is a fetch failure at sync time (the
		// agent keeps running, counts it and retries), not a start error.
		r.local = p
		ep, err = transport.NewEndpoint("file://" + p)
		if err != nil {
			return fmt.Errorf("source.url: %q: %w", r.cfg.URL, err)
		}
	case "ssh", "http", "https", "git":
	default:
		return fmt.Errorf("source.url: %q: unsupported protocol %q (use ssh://, https://, file:// or a path)", r.cfg.URL, ep.Protocol)
	}
	r.ep = ep
	return nil
}

// remoteURL is the URL handed to go-git.
func (r *Repo) remoteURL() string { return r.ep.String() }
