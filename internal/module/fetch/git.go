// Package fetch holds the modules that bring content onto a host — git
// (with go-git), get_url and unarchive — with ansible-core 2.14's arguments
// and results. Every byte lands through host.Host: go-git works on a
// billy.Filesystem backed by the host, downloads and archives are written
// with its atomic WriteFile. Network transfers (git fetch, HTTP) happen in
// the tend process; in push mode that is the controller, where Ansible
// would fetch on the target.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
	xssh "golang.org/x/crypto/ssh"

	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "git", Kind: "file", New: func() module.Module { return &Git{} }, Spec: module.Spec{
		"repo":              {Type: module.TypeStr, Required: true, Aliases: []string{"name"}},
		"dest":              {Type: module.TypePath},
		"version":           {Type: module.TypeStr, Default: "HEAD"},
		"remote":            {Type: module.TypeStr, Default: "origin"},
		"refspec":           {Type: module.TypeStr},
		"force":             {Type: module.TypeBool, Default: false},
		"depth":             {Type: module.TypeInt},
		"clone":             {Type: module.TypeBool, Default: true},
		"update":            {Type: module.TypeBool, Default: true},
		"accept_hostkey":    {Type: module.TypeBool, Default: false},
		"accept_newhostkey": {Type: module.TypeBool, Default: false},
		"key_file":          {Type: module.TypePath},
		"ssh_opts":          {Type: module.TypeStr},
		"executable":        {Type: module.TypePath},
		"bare":              {Type: module.TypeBool, Default: false},
		"recursive":         {Type: module.TypeBool, Default: true},
		"single_branch":     {Type: module.TypeBool, Default: false},
		"track_submodules":  {Type: module.TypeBool, Default: false},
		"umask":             {Type: module.TypeRaw},
		"verify_commit":     {Type: module.TypeBool, Default: false},
		"archive":           {Type: module.TypePath},
		"archive_prefix":    {Type: module.TypeStr},
		"separate_git_dir":  {Type: module.TypePath},
		"reference":         {Type: module.TypeStr},
		"gpg_whitelist":     {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
	}})
}

// Git is ansible.builtin.git: clone or update a working copy on the host.
type Git struct{}

var _ module.Module = (*Git)(nil)

var shaRe = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

type gitRun struct {
	ctx  context.Context
	t    *module.Task
	repo string
	dest string
	auth transport.AuthMethod
}

// Run implements module.Module.
func (*Git) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	for _, k := range []string{"bare", "verify_commit", "separate_git_dir", "archive", "reference", "refspec"} {
		if v, ok := a[k]; ok && v != nil && v != false {
			return module.Failf("git: %s is not supported by tend's native git module; use backend ansible for this task", k), nil
		}
	}
	dest := a.String("dest")
	if dest == "" && a.Bool("clone") {
		return module.Failf("the destination directory must be specified unless clone=no"), nil
	}
	repo := a.String("repo")
	if strings.HasPrefix(repo, "/") {
		repo = "file://" + repo
	}
	g := &gitRun{ctx: ctx, t: t, repo: repo, dest: path.Clean(dest)}
	if err := g.setAuth(); err != nil {
		return module.Failf("%v", err), nil
	}
	res, err := g.run()
	if err != nil {
		r := module.Failf("%v", err)
		if res.Values != nil {
			r.Values = res.Values
		}
		return r, nil
	}
	return res, nil
}

func (g *gitRun) setAuth() error {
	a := g.t.Args
	if !strings.HasPrefix(g.repo, "ssh://") && !regexp.MustCompile(`^[^/:]+@[^/:]+:`).MatchString(g.repo) {
		return nil
	}
	user := "git"
	if u, err := transport.NewEndpoint(g.repo); err == nil && u.User != "" {
		user = u.User
	}
	var auth *gitssh.PublicKeys
	if kf := a.String("key_file"); kf != "" {
		pem, err := g.t.Host.ReadFile(g.ctx, kf)
		if err != nil {
			return fmt.Errorf("read key_file: %w", err)
		}
		if auth, err = gitssh.NewPublicKeys(user, pem, ""); err != nil {
			return fmt.Errorf("key_file %s: %w", kf, err)
		}
		g.auth = auth
	}
	if a.Bool("accept_hostkey") {
		if auth == nil {
			agent, err := gitssh.NewSSHAgentAuth(user)
			if err != nil {
				return fmt.Errorf("no key_file and no ssh agent: %w", err)
			}
			agent.HostKeyCallback = xssh.InsecureIgnoreHostKey()
			g.auth = agent
		} else {
			auth.HostKeyCallback = xssh.InsecureIgnoreHostKey()
		}
	}
	return nil
}

func (g *gitRun) open() (*git.Repository, error) {
	wt := newHostFS(g.ctx, g.t.Host, g.dest)
	dot, _ := wt.Chroot(".git")
	st := filesystem.NewStorage(dot, cache.NewObjectLRUDefault())
	return git.Open(st, wt)
}

// remoteHead is what version names on the remote (ls-remote), without
// fetching: the check-mode "after".
func (g *gitRun) remoteHead(version string) (string, error) {
	rem := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{g.repo}})
	refs, err := rem.ListContext(g.ctx, &git.ListOptions{Auth: g.auth})
	if err != nil {
		return "", fmt.Errorf("Failed to download remote objects and refs: %w", err)
	}
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name()] = r
	}
	resolve := func(n plumbing.ReferenceName) string {
		for i := 0; i < 5; i++ {
			r, ok := byName[n]
			if !ok {
				return ""
			}
			if r.Type() == plumbing.HashReference {
				return r.Hash().String()
			}
			n = r.Target()
		}
		return ""
	}
	if version == "HEAD" {
		return resolve(plumbing.HEAD), nil
	}
	if h := resolve(plumbing.NewBranchReferenceName(version)); h != "" {
		return h, nil
	}
	if h := resolve(plumbing.ReferenceName("refs/tags/" + version + "^{}")); h != "" {
		return h, nil
	}
	if h := resolve(plumbing.NewTagReferenceName(version)); h != "" {
		return h, nil
	}
	return version, nil // a sha, as Ansible returns it
}

func headOf(r *git.Repository) (string, error) {
	h, err := r.Head()
	if err != nil {
		return "", err
	}
	return h.Hash().String(), nil
}

func (g *gitRun) run() (module.Result, error) {
	a := g.t.Args
	vals := map[string]any{"before": nil, "changed": false}
	res := module.Result{Values: vals, Resources: []module.Resource{{Kind: "file", ID: g.dest}}}
	version := a.String("version")
	fi, err := g.t.Host.Stat(g.ctx, path.Join(g.dest, ".git", "config"))
	if err != nil {
		return res, err
	}
	if !fi.Exists {
		if g.t.Check || !a.Bool("clone") {
			after, err := g.remoteHead(version)
			if err != nil {
				return res, err
			}
			vals["after"] = after
			res.Changed = true
			res.Resources[0].Differs = []string{"clone: absent -> " + after}
			return res, nil
		}
		if err := g.clone(version); err != nil {
			return res, err
		}
	} else if !a.Bool("update") {
		r, err := g.open()
		if err != nil {
			return res, fmt.Errorf("open %s: %w", g.dest, err)
		}
		h, _ := headOf(r)
		vals["before"], vals["after"] = h, h
		return res, nil
	} else {
		r, err := g.open()
		if err != nil {
			return res, fmt.Errorf("open %s: %w", g.dest, err)
		}
		before, _ := headOf(r)
		vals["before"] = before
		mods, err := localMods(r)
		if err != nil {
			return res, err
		}
		if mods && !a.Bool("force") {
			return res, fmt.Errorf("Local modifications exist in the destination: %s (force=no).", g.dest)
		}
		remoteURLChanged := false
		if rc, err := r.Remote(a.String("remote")); err == nil && len(rc.Config().URLs) > 0 {
			remoteURLChanged = strings.TrimPrefix(rc.Config().URLs[0], "file://") != strings.TrimPrefix(g.repo, "file://")
		}
		vals["remote_url_changed"] = remoteURLChanged
		if g.t.Check {
			after, err := g.remoteHead(version)
			if err != nil {
				return res, err
			}
			vals["after"] = after
			res.Changed = before != after || remoteURLChanged || mods
			if res.Changed {
				res.Resources[0].Differs = []string{fmt.Sprintf("version: %s -> %s", before, after)}
				if mods {
					res.Resources[0].Differs = append(res.Resources[0].Differs, "local modifications")
				}
			}
			return res, nil
		}
		if remoteURLChanged {
			if err := g.setRemote(r); err != nil {
				return res, err
			}
		}
		err = r.FetchContext(g.ctx, &git.FetchOptions{RemoteName: a.String("remote"), Auth: g.auth, Depth: a.Int("depth"), Force: true, Tags: git.AllTags,
			RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec("+refs/heads/*:refs/remotes/" + a.String("remote") + "/*"), "+refs/tags/*:refs/tags/*"}})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return res, fmt.Errorf("Failed to download remote objects and refs: %w", err)
		}
		if err := g.switchVersion(r, version); err != nil {
			return res, err
		}
		after, _ := headOf(r)
		vals["after"] = after
		res.Changed = before != after || mods || remoteURLChanged
		if res.Changed {
			res.Resources[0].Differs = []string{fmt.Sprintf("version: %s -> %s", before, after)}
		}
		return res, nil
	}
	r, err := g.open()
	if err != nil {
		return res, err
	}
	after, _ := headOf(r)
	vals["after"] = after
	res.Changed = true
	res.Resources[0].Differs = []string{"clone: absent -> " + after}
	return res, nil
}

func (g *gitRun) setRemote(r *git.Repository) error {
	name := g.t.Args.String("remote")
	cfg, err := r.Config()
	if err != nil {
		return err
	}
	if rc, ok := cfg.Remotes[name]; ok {
		rc.URLs = []string{g.repo}
	}
	return r.SetConfig(cfg)
}

func localMods(r *git.Repository) (bool, error) {
	wt, err := r.Worktree()
	if err != nil {
		return false, err
	}
	st, err := wt.Status()
	if err != nil {
		return false, fmt.Errorf("git status: %w", err)
	}
	for _, s := range st {
		if s.Worktree == git.Untracked && s.Staging == git.Untracked {
			continue
		}
		if s.Worktree != git.Unmodified || s.Staging != git.Unmodified {
			return true, nil
		}
	}
	return false, nil
}

func (g *gitRun) clone(version string) error {
	a := g.t.Args
	if err := newHostFS(g.ctx, g.t.Host, "/").MkdirAll(g.dest, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", g.dest, err)
	}
	wt := newHostFS(g.ctx, g.t.Host, g.dest)
	dot, _ := wt.Chroot(".git")
	st := filesystem.NewStorage(dot, cache.NewObjectLRUDefault())
	opts := &git.CloneOptions{URL: g.repo, Auth: g.auth, RemoteName: a.String("remote"), Depth: a.Int("depth"), NoCheckout: true, Tags: git.AllTags}
	if a.Bool("single_branch") && version != "HEAD" && !shaRe.MatchString(version) {
		opts.SingleBranch = true
		opts.ReferenceName = plumbing.NewBranchReferenceName(version)
	}
	r, err := git.CloneContext(g.ctx, st, wt, opts)
	if err != nil {
		return fmt.Errorf("Failed to clone %s into %s: %w", g.repo, g.dest, err)
	}
	return g.switchVersion(r, version)
}

// switchVersion checks out version as Ansible's switch_version does: a
// branch becomes the local branch reset to the remote one; a tag or sha is
// checked out detached.
func (g *gitRun) switchVersion(r *git.Repository, version string) error {
	remote := g.t.Args.String("remote")
	wt, err := r.Worktree()
	if err != nil {
		return err
	}
	var branch string
	if version == "HEAD" {
		ref, err := r.Reference(plumbing.NewRemoteHEADReferenceName(remote), true)
		if err != nil {
			// no remote HEAD recorded: ask the remote which branch it is
			ref, err = remoteDefault(g, r, remote)
			if err != nil {
				return err
			}
		}
		name := ref.Name()
		if ref.Type() == plumbing.SymbolicReference {
			name = ref.Target()
		}
		branch = strings.TrimPrefix(name.String(), "refs/remotes/"+remote+"/")
		branch = strings.TrimPrefix(branch, "refs/heads/")
	} else if _, err := r.Reference(plumbing.NewRemoteReferenceName(remote, version), true); err == nil {
		branch = version
	}
	if branch != "" {
		rr, err := r.Reference(plumbing.NewRemoteReferenceName(remote, branch), true)
		if err != nil {
			return fmt.Errorf("Failed to checkout branch %s: %w", branch, err)
		}
		local := plumbing.NewBranchReferenceName(branch)
		if err := r.Storer.SetReference(plumbing.NewHashReference(local, rr.Hash())); err != nil {
			return err
		}
		if err := wt.Checkout(&git.CheckoutOptions{Branch: local, Force: true}); err != nil {
			return fmt.Errorf("Failed to checkout %s: %w", branch, err)
		}
		return wt.Reset(&git.ResetOptions{Commit: rr.Hash(), Mode: git.HardReset})
	}
	h, err := r.ResolveRevision(plumbing.Revision(version))
	if err != nil {
		if t, terr := r.Tag(version); terr == nil {
			if c, cerr := r.TagObject(t.Hash()); cerr == nil {
				hh := c.Target
				h = &hh
				err = nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("Failed to checkout %s: unknown version (not a branch, tag or commit of %s)", version, g.repo)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: *h, Force: true}); err != nil {
		return fmt.Errorf("Failed to checkout %s: %w", version, err)
	}
	return nil
}

func remoteDefault(g *gitRun, r *git.Repository, remote string) (*plumbing.Reference, error) {
	rem, err := r.Remote(remote)
	if err != nil {
		return nil, err
	}
	refs, err := rem.ListContext(g.ctx, &git.ListOptions{Auth: g.auth})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", g.repo, err)
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference {
			return plumbing.NewSymbolicReference(plumbing.HEAD, ref.Target()), nil
		}
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD {
			for _, b := range refs {
				if b.Name().IsBranch() && b.Hash() == ref.Hash() {
					return b, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("remote %s has no HEAD branch; set version", g.repo)
}
