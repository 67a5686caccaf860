package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// RemoteHead returns the commit the configured ref points to on the remote,
// without fetching anything: git ls-remote for network URLs, a direct read
// of the refs for a repository on this machine, and the sha itself when the
// ref is a commit. Annotated tags are peeled to their commit.
func (r *Repo) RemoteHead(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, _, err := r.resolveRemote(ctx)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// refLookup finds a ref by full name: its hash, or for a symbolic ref its
// target's name; peel turns a tag object's hash into its commit's.
type refLookup struct {
	get  func(name plumbing.ReferenceName) (*plumbing.Reference, bool)
	peel func(name plumbing.ReferenceName, h plumbing.Hash) (plumbing.Hash, error)
}

// resolveRemote returns the tip commit and the full remote ref name it came
// from ("" when the configured ref is a commit sha).
func (r *Repo) resolveRemote(ctx context.Context) (plumbing.Hash, plumbing.ReferenceName, error) {
	if r.kind == refCommit {
		return plumbing.NewHash(r.cfg.Ref), "", nil
	}
	var (
		look refLookup
		err  error
	)
	if r.local != "" {
		look, err = r.localRefs()
	} else {
		look, err = r.listRemote(ctx)
	}
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	var candidates []plumbing.ReferenceName
	switch r.kind {
	case refHead:
		candidates = []plumbing.ReferenceName{plumbing.HEAD}
	case refFull:
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(r.cfg.Ref)}
	default:
		candidates = []plumbing.ReferenceName{
			plumbing.NewBranchReferenceName(r.cfg.Ref),
			plumbing.NewTagReferenceName(r.cfg.Ref),
		}
	}
	for _, name := range candidates {
		ref, ok := look.get(name)
		if !ok {
			continue
		}
		for i := 0; ref.Type() == plumbing.SymbolicReference && i < 5; i++ {
			name = ref.Target()
			if ref, ok = look.get(name); !ok {
				return plumbing.ZeroHash, "", fmt.Errorf("source.ref: %s on %s points to %s, which does not exist (empty repository?)", r.refLabel(), r.cfg.URL, name)
			}
		}
		h, err := look.peel(name, ref.Hash())
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("resolve %s on %s: %w", name, r.cfg.URL, err)
		}
		return h, name, nil
	}
	return plumbing.ZeroHash, "", fmt.Errorf("source.ref: %s not found on %s (no such branch or tag)", r.refLabel(), r.cfg.URL)
}

func (r *Repo) refLabel() string {
	if r.cfg.Ref == "" {
		return "HEAD"
	}
	return fmt.Sprintf("%q", r.cfg.Ref)
}

// localRefs reads a repository on this machine directly; this is what makes
// a poll without news cost well under a millisecond.
func (r *Repo) localRefs() (refLookup, error) {
	repo, err := git.PlainOpenWithOptions(r.local, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return refLookup{}, fmt.Errorf("source.url: open local repository %s: %w", r.local, err)
	}
	return refLookup{
		get: func(name plumbing.ReferenceName) (*plumbing.Reference, bool) {
			ref, err := repo.Storer.Reference(name)
			return ref, err == nil && ref != nil
		},
		peel: func(_ plumbing.ReferenceName, h plumbing.Hash) (plumbing.Hash, error) {
			for i := 0; i < 10; i++ {
				obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
				if err != nil {
					return h, err
				}
				if obj.Type() != plumbing.TagObject {
					return h, nil
				}
				tag, err := object.DecodeTag(repo.Storer, obj)
				if err != nil {
					return h, err
				}
				h = tag.Target
			}
			return h, errors.New("tag chain too long")
		},
	}, nil
}

// listRemote is git ls-remote over the network.
func (r *Repo) listRemote(ctx context.Context) (refLookup, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{r.remoteURL()}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		return refLookup{}, fmt.Errorf("list refs of %s: %w", r.cfg.URL, err)
	}
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	return refLookup{
		get: func(name plumbing.ReferenceName) (*plumbing.Reference, bool) {
			ref, ok := byName[name]
			return ref, ok
		},
		peel: func(name plumbing.ReferenceName, h plumbing.Hash) (plumbing.Hash, error) {
			if p, ok := byName[plumbing.ReferenceName(string(name)+"^{}")]; ok {
				return p.Hash(), nil
			}
			return h, nil
		},
	}, nil
}

// localName is where a remote ref is kept in the checkout's repository.
func localName(remote plumbing.ReferenceName) plumbing.ReferenceName {
	if remote.IsBranch() {
		return plumbing.NewRemoteReferenceName("origin", remote.Short())
	}
	return remote
}

// fetch brings the remote ref (or, for a sha ref, the branches and tags and
// then the commit itself) into lr. depth 0 = the configured depth.
func (r *Repo) fetch(ctx context.Context, lr *git.Repository, remoteRef plumbing.ReferenceName, want plumbing.Hash, depth int) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if depth == 0 {
		depth = r.cfg.Depth
	}
	var specs []config.RefSpec
	if remoteRef != "" {
		specs = []config.RefSpec{config.RefSpec("+" + string(remoteRef) + ":" + string(localName(remoteRef)))}
	} else {
		specs = []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
	}
	do := func(specs []config.RefSpec) error {
		err := lr.FetchContext(ctx, &git.FetchOptions{
			RemoteName: "origin", RefSpecs: specs, Depth: depth, Auth: r.auth, Tags: git.NoTags, Force: true,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return fmt.Errorf("fetch %s from %s: %w", describeSpecs(specs), r.cfg.URL, err)
		}
		return nil
	}
	if err := do(specs); err != nil {
		return err
	}
	if remoteRef == "" && !hasCommit(lr, want) {
		// Not on any branch or tag: ask for the commit itself (servers
		// must allow it, as GitHub and git's uploadpack.allowAnySHA1InWant do).
		if err := do([]config.RefSpec{config.RefSpec(want.String() + ":refs/tend/want")}); err != nil {
			return fmt.Errorf("source.ref: commit %s is on no branch or tag of %s, and fetching it by hash failed: %w", want, r.cfg.URL, err)
		}
	}
	return nil
}

func describeSpecs(specs []config.RefSpec) string {
	var s []string
	for _, sp := range specs {
		s = append(s, sp.Src())
	}
	return strings.Join(s, ", ")
}

func hasCommit(lr *git.Repository, h plumbing.Hash) bool {
	_, err := lr.CommitObject(h)
	return err == nil
}
