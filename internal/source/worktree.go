package source

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeEntry is one path of the wanted tree.
type treeEntry struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

// checkoutExact makes the work tree hold exactly commit h's tree: files that
// differ (by content hash, executable bit or type) are rewritten, and every
// path the commit does not have — local changes, untracked and ignored files
// alike — is removed. Then HEAD is detached at h and the index reset to it.
func (r *Repo) checkoutExact(lr *git.Repository, h plumbing.Hash) error {
	c, err := lr.CommitObject(h)
	if err != nil {
		return fmt.Errorf("%w: commit %s: %v", ErrCorrupt, h, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("%w: tree of %s: %v", ErrCorrupt, h, err)
	}
	want := map[string]treeEntry{}
	dirs := map[string]bool{}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: walk tree of %s: %v", ErrCorrupt, h, err)
		}
		if e.Mode == filemode.Dir {
			dirs[name] = true
			continue
		}
		want[name] = treeEntry{mode: e.Mode, hash: e.Hash}
		if e.Mode == filemode.Submodule {
			dirs[name] = true
		}
	}

	root := r.cfg.Dir
	// Remove what the commit does not have.
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if rel == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			if dirs[rel] {
				if e, ok := want[rel]; ok && e.mode == filemode.Submodule {
					return filepath.SkipDir
				}
				return nil
			}
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		if _, ok := want[rel]; !ok {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clean work tree %s: %w", root, err)
	}

	for rel, e := range want {
		if err := r.writeEntry(lr, root, rel, e); err != nil {
			return err
		}
	}

	if err := lr.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, h)); err != nil {
		return fmt.Errorf("set HEAD of checkout to %s: %w", h, err)
	}
	wt, err := lr.Worktree()
	if err != nil {
		return fmt.Errorf("open work tree: %w", err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: h, Mode: git.MixedReset}); err != nil {
		return fmt.Errorf("reset index to %s: %w", h, err)
	}
	return nil
}

// writeEntry makes path rel match e, touching it only when it differs.
func (r *Repo) writeEntry(lr *git.Repository, root, rel string, e treeEntry) error {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("check out %s: %w", rel, err)
	}
	fi, statErr := os.Lstat(p)
	if e.mode == filemode.Submodule {
		if statErr == nil && !fi.IsDir() {
			_ = os.Remove(p)
		}
		return os.MkdirAll(p, 0o755)
	}
	blob, err := lr.BlobObject(e.hash)
	if err != nil {
		return fmt.Errorf("%w: blob %s (%s): %v", ErrCorrupt, e.hash, rel, err)
	}
	content, err := readBlob(blob)
	if err != nil {
		return fmt.Errorf("%w: read blob %s (%s): %v", ErrCorrupt, e.hash, rel, err)
	}
	if e.mode == filemode.Symlink {
		if statErr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(p); err == nil && target == string(content) {
				return nil
			}
		}
		if statErr == nil {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("check out %s: %w", rel, err)
			}
		}
		if err := os.Symlink(string(content), p); err != nil {
			return fmt.Errorf("check out %s: %w", rel, err)
		}
		return nil
	}
	perm := fs.FileMode(0o644)
	if e.mode == filemode.Executable {
		perm = 0o755
	}
	if statErr == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == perm {
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, content) {
			return nil
		}
	}
	if statErr == nil && fi.IsDir() {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("check out %s: %w", rel, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tend-checkout-*")
	if err != nil {
		return fmt.Errorf("check out %s: %w", rel, err)
	}
	_, werr := tmp.Write(content)
	cerr := tmp.Close()
	if err := firstErr(werr, cerr, os.Chmod(tmp.Name(), perm)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("check out %s: %w", rel, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("check out %s: %w", rel, err)
	}
	return nil
}

func readBlob(b *object.Blob) ([]byte, error) {
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
