// Package validate checks a whole host-state repo without running anything:
// every playbook parses, every action is a known module with accepted
// arguments, every role exists, every inventory loads and every template
// parses. It reports all problems at once.
package validate

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/inventory"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/template"

	_ "github.com/tend-project/tend/internal/module/all" // the built-in modules
)

// Result is what Dir found.
type Result struct {
	Playbooks   int
	Inventories int
	Problems    []string
}

// Dir validates the repo rooted at dir.
func Dir(dir string) (*Result, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var files []string
	if !st.IsDir() {
		files = []string{dir}
	} else {
		for _, d := range []string{dir, filepath.Join(dir, "playbooks")} {
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				n := e.Name()
				if !e.IsDir() && (strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml")) {
					files = append(files, filepath.Join(d, n))
				}
			}
		}
	}
	for _, f := range files {
		if !looksLikePlaybook(f) {
			continue
		}
		res.Playbooks++
		l := playbook.NewLoader(engine.IsAction)
		pb := l.LoadPlaybook(f)
		for _, e := range l.Errs {
			res.Problems = append(res.Problems, e.Error())
		}
		for _, e := range engine.Validate(pb) {
			res.Problems = append(res.Problems, e.Error())
		}
		res.Problems = append(res.Problems, checkTemplates(pb)...)
	}
	if st.IsDir() {
		invDir := filepath.Join(dir, "inventory")
		if _, err := os.Stat(invDir); err == nil {
			res.Inventories++
			if _, err := inventory.Load([]string{invDir}, inventory.Options{}); err != nil {
				res.Problems = append(res.Problems, err.Error())
			}
		}
	}
	res.Problems = dedupe(res.Problems)
	return res, nil
}

// looksLikePlaybook: a YAML list whose items are plays or imports.
func looksLikePlaybook(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	v, err := playbook.DecodeBytes(data, path)
	if err != nil {
		return true // report the syntax error
	}
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return false
	}
	m, ok := l[0].(map[string]any)
	if !ok {
		return false
	}
	_, hosts := m["hosts"]
	_, imp := m["import_playbook"]
	return hosts || imp
}

// checkTemplates parses every role template and every templated string.
func checkTemplates(pb *playbook.Playbook) []string {
	var out []string
	seen := map[string]bool{}
	var roles []*playbook.Role
	var walkRef func(ref *playbook.RoleRef)
	walkRef = func(ref *playbook.RoleRef) {
		if ref == nil || ref.Role == nil || seen[ref.Role.Path] {
			return
		}
		seen[ref.Role.Path] = true
		roles = append(roles, ref.Role)
		for _, d := range ref.Role.Deps {
			walkRef(d)
		}
	}
	for _, p := range pb.Plays {
		for _, r := range p.Roles {
			walkRef(r)
		}
	}
	for _, r := range roles {
		_ = filepath.WalkDir(filepath.Join(r.Path, "templates"), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				out = append(out, err.Error())
				return nil
			}
			if err := template.Check(string(data)); err != nil {
				out = append(out, path+": template error: "+err.Error())
			}
			return nil
		})
	}
	return out
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

var _ = errors.New
