package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Sync brings the checkout to the remote tip: it fetches when the tip is not
// already here, refuses a tip that does not descend from applied ("" = first
// sync) unless AllowForcePush, verifies the tip (or with AllCommits every
// commit after applied), and checks the work tree out clean at the tip. On
// any error the work tree stays at its previous revision. A corrupt checkout
// is removed and cloned again.
func (r *Repo) Sync(ctx context.Context, applied string) (Revision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var appliedHash plumbing.Hash
	if applied != "" {
		if !shaRE.MatchString(applied) {
			return Revision{}, fmt.Errorf("applied revision %q is not a full commit hash", applied)
		}
		appliedHash = plumbing.NewHash(applied)
	}
	tip, remoteRef, err := r.resolveRemote(ctx)
	if err != nil {
		return Revision{}, err
	}
	rev, err := r.syncTo(ctx, appliedHash, tip, remoteRef)
	if errors.Is(err, ErrCorrupt) {
		r.log.Warn("re-cloning corrupt checkout", "dir", r.cfg.Dir, "err", err)
		if rmErr := os.RemoveAll(filepath.Join(r.cfg.Dir, ".git")); rmErr != nil {
			return Revision{}, fmt.Errorf("remove corrupt checkout %s: %w", r.cfg.Dir, rmErr)
		}
		rev, err = r.syncTo(ctx, appliedHash, tip, remoteRef)
	}
	return rev, err
}

func (r *Repo) syncTo(ctx context.Context, applied, tip plumbing.Hash, remoteRef plumbing.ReferenceName) (Revision, error) {
	lr, err := r.openCheckout()
	if err != nil {
		return Revision{}, err
	}
	if !hasCommit(lr, tip) {
		if err := r.fetch(ctx, lr, remoteRef, tip, 0); err != nil {
			return Revision{}, err
		}
		if !hasCommit(lr, tip) {
			return Revision{}, fmt.Errorf("source.ref: commit %s of %s is not on %s (fetch did not bring it)", tip, r.refLabel(), r.cfg.URL)
		}
	}

	// Which commits are new, and is the tip a fast-forward of applied?
	var (
		commits = []*object.Commit{}
		ff      = true
	)
	if !applied.IsZero() && applied != tip {
		commits, ff, err = r.newCommits(ctx, lr, applied, tip, remoteRef)
		if err != nil {
			return Revision{}, err
		}
		if !ff && !r.cfg.AllowForcePush {
			return Revision{}, &NotFastForwardError{Applied: applied.String(), Tip: tip.String()}
		}
	}
	if !r.cfg.Verify.AllCommits {
		commits = nil
	}
	if len(commits) == 0 || commits[len(commits)-1].Hash != tip {
		// The tip is always verified, also when it is an ancestor of applied.
		c, err := lr.CommitObject(tip)
		if err != nil {
			return Revision{}, fmt.Errorf("%w: read commit %s: %v", ErrCorrupt, tip, err)
		}
		commits = append(commits, c)
	}
	v, err := r.newVerifier()
	if err != nil {
		return Revision{}, err
	}
	var tipRev Revision
	for _, c := range commits {
		rv, err := v.verify(c)
		if err != nil {
			return Revision{}, err
		}
		if c.Hash == tip {
			tipRev = rv
		}
	}
	if tipRev.Hash == "" {
		c, err := lr.CommitObject(tip)
		if err != nil {
			return Revision{}, fmt.Errorf("%w: read commit %s: %v", ErrCorrupt, tip, err)
		}
		tipRev = describe(c)
	}

	prev := headCommit(lr)
	if err := r.checkoutExact(lr, tip); err != nil {
		if !prev.IsZero() && prev != tip {
			if rbErr := r.checkoutExact(lr, prev); rbErr != nil {
				r.log.Error("restore previous revision after failed checkout", "revision", prev.String(), "err", rbErr)
			}
		}
		return Revision{}, err
	}
	return tipRev, nil
}

// newCommits lists the commits reachable from tip but not from applied,
// oldest first, and whether applied is an ancestor of tip. In a shallow
// checkout it deepens history when the walk reaches the shallow boundary.
func (r *Repo) newCommits(ctx context.Context, lr *git.Repository, applied, tip plumbing.Hash, remoteRef plumbing.ReferenceName) ([]*object.Commit, bool, error) {
	commits, ff, err := rangeCommits(lr, applied, tip)
	if errors.Is(err, errTruncated) {
		if err := r.fetch(ctx, lr, remoteRef, tip, math.MaxInt32); err != nil {
			return nil, false, fmt.Errorf("deepen shallow checkout: %w", err)
		}
		commits, ff, err = rangeCommits(lr, applied, tip)
	}
	if errors.Is(err, errTruncated) {
		return nil, false, fmt.Errorf("history of %s is shallow and could not be deepened to find %s: %w", tip, applied, err)
	}
	return commits, ff, err
}

var errTruncated = errors.New("history is truncated (shallow clone)")

// rangeCommits is `git rev-list applied..tip`, oldest first; ff reports
// whether applied is an ancestor of tip.
func rangeCommits(lr *git.Repository, applied, tip plumbing.Hash) ([]*object.Commit, bool, error) {
	shallow, _ := lr.Storer.Shallow()
	isShallow := func(h plumbing.Hash) bool {
		for _, s := range shallow {
			if s == h {
				return true
			}
		}
		return false
	}
	var (
		out    []*object.Commit
		found  bool
		merges bool
		seen   = map[plumbing.Hash]bool{tip: true}
		queue  = []plumbing.Hash{tip}
	)
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == applied {
			found = true
			continue
		}
		c, err := lr.CommitObject(h)
		if err != nil {
			if len(shallow) > 0 {
				return nil, false, fmt.Errorf("%w: commit %s missing", errTruncated, h)
			}
			return nil, false, fmt.Errorf("%w: read commit %s: %v", ErrCorrupt, h, err)
		}
		out = append(out, c)
		if c.NumParents() > 1 {
			merges = true
		}
		if isShallow(h) && len(c.ParentHashes) > 0 && !hasCommit(lr, c.ParentHashes[0]) {
			return nil, false, fmt.Errorf("%w at %s", errTruncated, h)
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	if (merges || !found) && hasCommit(lr, applied) {
		// Drop what applied already had (side branches merged in, or the
		// shared history of a rewritten branch).
		old, err := ancestors(lr, applied)
		if err != nil {
			return nil, false, err
		}
		kept := out[:0]
		for _, c := range out {
			if !old[c.Hash] {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, found, nil
}

// ancestors is every commit reachable from h (h included) that is present.
func ancestors(lr *git.Repository, h plumbing.Hash) (map[plumbing.Hash]bool, error) {
	seen := map[plumbing.Hash]bool{h: true}
	queue := []plumbing.Hash{h}
	for len(queue) > 0 {
		c, err := lr.CommitObject(queue[0])
		queue = queue[1:]
		if err != nil {
			continue // shallow boundary
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return seen, nil
}

// openCheckout opens the checkout's repository, initialising it when there
// is none and starting over when it is corrupt (deleted .git, broken HEAD,
// missing objects).
func (r *Repo) openCheckout() (*git.Repository, error) {
	lr, err := git.PlainOpen(r.cfg.Dir)
	if err == nil {
		err = checkHealth(lr)
	}
	if err != nil {
		if !errors.Is(err, git.ErrRepositoryNotExists) {
			r.log.Warn("checkout is corrupt; cloning again", "dir", r.cfg.Dir, "err", err)
		}
		// Only the repository goes: the work tree keeps the previous
		// revision's files until a verified commit replaces them.
		if err := os.RemoveAll(filepath.Join(r.cfg.Dir, ".git")); err != nil {
			return nil, fmt.Errorf("remove broken checkout %s: %w", r.cfg.Dir, err)
		}
		if err := os.MkdirAll(r.cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("create checkout dir: %w", err)
		}
		if lr, err = git.PlainInit(r.cfg.Dir, false); err != nil {
			return nil, fmt.Errorf("init checkout %s: %w", r.cfg.Dir, err)
		}
	}
	// Keep origin pointing at the configured URL (it may have changed).
	rem, err := lr.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 || rem.Config().URLs[0] != r.remoteURL() {
		_ = lr.DeleteRemote("origin")
		if _, err := lr.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.remoteURL()}}); err != nil {
			return nil, fmt.Errorf("set origin of checkout %s: %w", r.cfg.Dir, err)
		}
	}
	return lr, nil
}

// checkHealth reads HEAD and, when it names a commit, that commit's whole
// tree (every object must be present).
func checkHealth(lr *git.Repository) error {
	head, err := lr.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return fmt.Errorf("%w: HEAD: %v", ErrCorrupt, err)
	}
	if head.Type() == plumbing.SymbolicReference {
		if _, err := lr.Storer.Reference(head.Target()); err != nil {
			return nil // fresh, nothing checked out yet
		}
	}
	h, err := lr.ResolveRevision(plumbing.Revision(plumbing.HEAD))
	if err != nil {
		return fmt.Errorf("%w: HEAD: %v", ErrCorrupt, err)
	}
	return checkTree(lr, *h)
}

// checkTree makes sure commit h and every object of its tree are present.
func checkTree(lr *git.Repository, h plumbing.Hash) error {
	c, err := lr.CommitObject(h)
	if err != nil {
		return fmt.Errorf("%w: commit %s: %v", ErrCorrupt, h, err)
	}
	t, err := c.Tree()
	if err != nil {
		return fmt.Errorf("%w: tree of %s: %v", ErrCorrupt, h, err)
	}
	var walk func(t *object.Tree, dir string) error
	walk = func(t *object.Tree, dir string) error {
		for _, e := range t.Entries {
			p := dir + e.Name
			switch e.Mode {
			case filemode.Dir:
				sub, err := object.GetTree(lr.Storer, e.Hash)
				if err != nil {
					return fmt.Errorf("%w: tree %s (%s) of %s: %v", ErrCorrupt, e.Hash, p, h, err)
				}
				if err := walk(sub, p+"/"); err != nil {
					return err
				}
			case filemode.Submodule:
			default:
				if err := lr.Storer.HasEncodedObject(e.Hash); err != nil {
					return fmt.Errorf("%w: blob %s (%s) of %s: %v", ErrCorrupt, e.Hash, p, h, err)
				}
			}
		}
		return nil
	}
	return walk(t, "")
}

func headCommit(lr *git.Repository) plumbing.Hash {
	h, err := lr.ResolveRevision(plumbing.Revision(plumbing.HEAD))
	if err != nil {
		return plumbing.ZeroHash
	}
	return *h
}

// Checkout checks the work tree out clean at rev (a hash, possibly
// abbreviated, or a ref of the checkout), for rollback. The commit must be
// in the local repository with its whole tree; it is not fetched.
func (r *Repo) Checkout(ctx context.Context, rev string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	lr, err := r.openExisting()
	if err != nil {
		return err
	}
	h, err := resolveLocal(lr, rev)
	if err != nil {
		return err
	}
	if err := checkTree(lr, h); err != nil {
		return fmt.Errorf("check out %s: %w", rev, err)
	}
	return r.checkoutExact(lr, h)
}

// Describe returns what is known of a local commit (no verification).
func (r *Repo) Describe(rev string) (Revision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lr, err := r.openExisting()
	if err != nil {
		return Revision{}, err
	}
	h, err := resolveLocal(lr, rev)
	if err != nil {
		return Revision{}, err
	}
	c, err := lr.CommitObject(h)
	if err != nil {
		return Revision{}, fmt.Errorf("read commit %s: %w", h, err)
	}
	return describe(c), nil
}

// Dir is the checkout directory (absolute).
func (r *Repo) Dir() string { return r.cfg.Dir }

func (r *Repo) openExisting() (*git.Repository, error) {
	lr, err := git.PlainOpen(r.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open checkout %s (sync first): %w", r.cfg.Dir, err)
	}
	return lr, nil
}

func resolveLocal(lr *git.Repository, rev string) (plumbing.Hash, error) {
	if rev == "" {
		return plumbing.ZeroHash, errors.New("no revision given")
	}
	h, err := lr.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("revision %s is not in the local history: %w", rev, err)
	}
	if _, err := lr.CommitObject(*h); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("revision %s is not a commit in the local history: %w", rev, err)
	}
	return *h, nil
}

func describe(c *object.Commit) Revision {
	return Revision{
		Hash:      c.Hash.String(),
		Author:    fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		Committer: fmt.Sprintf("%s <%s>", c.Committer.Name, c.Committer.Email),
		When:      c.Committer.When,
		Message:   strings.TrimRight(c.Message, "\n"),
	}
}
