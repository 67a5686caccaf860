package engine

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tend-project/tend/internal/playbook"
)

// Confined returns an error when path, with symlinks resolved, lies outside
// root (also resolved). A path that does not exist is judged by its nearest
// existing parent.
func Confined(root, path string) error {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("confine: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	p, rest := abs, ""
	for {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = filepath.Join(real, rest)
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
	rel, err := filepath.Rel(r, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s resolves to %s, outside the repository checkout %s: refused (move the file into the repository)", path, p, root)
	}
	return nil
}

// confine checks path against Options.Confine ("" = no limit).
func (r *Runner) confine(path string) error {
	if r.opts.Confine == "" {
		return nil
	}
	return Confined(r.opts.Confine, path)
}

// CheckConfined checks every file a parsed playbook was loaded from — its
// plays, task files, imported files and roles — against root.
func CheckConfined(pb *playbook.Playbook, root string) error {
	var errs []string
	seen := map[string]bool{}
	check := func(p string) {
		if p == "" || seen[p] {
			return
		}
		seen[p] = true
		if err := Confined(root, p); err != nil {
			errs = append(errs, err.Error())
		}
	}
	var tasks func([]*playbook.Task)
	var roles func([]*playbook.RoleRef)
	tasks = func(ts []*playbook.Task) {
		for _, t := range ts {
			check(t.Pos.File)
			check(t.Dir)
			if t.Role != nil {
				check(t.Role.Path)
			}
			tasks(t.Block)
			tasks(t.Rescue)
			tasks(t.Always)
		}
	}
	roles = func(rs []*playbook.RoleRef) {
		for _, ref := range rs {
			if ref.Role == nil {
				continue
			}
			check(ref.Role.Path)
			tasks(ref.Role.Tasks)
			tasks(ref.Role.Handlers)
			roles(ref.Role.Deps)
		}
	}
	for _, p := range pb.Plays {
		check(p.Pos.File)
		check(p.Dir)
		for _, vf := range p.VarsFiles {
			if s, ok := vf.(string); ok && !strings.Contains(s, "{{") {
				if !filepath.IsAbs(s) {
					s = filepath.Join(p.Dir, s)
				}
				check(s)
			}
		}
		tasks(p.PreTasks)
		tasks(p.Tasks)
		tasks(p.PostTasks)
		tasks(p.Handlers)
		roles(p.Roles)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}
