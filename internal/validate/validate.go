// Package validate checks a whole host-state repo without running anything:
// every playbook parses, every action is a known module with accepted
// arguments, every role exists, every inventory loads and every template
// parses. It reports all problems at once, and lists the plays that need
// real Ansible (backend auto) because they use modules tend lacks.
package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/ansible"
	"github.com/tend-project/tend/internal/ansiblecfg"
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
	// NeedsAnsible says, per task, which plays need real Ansible and why:
	// an action tend does not implement (or a misspelled task keyword,
	// which parses the same way; Ansible reports it when it runs).
	NeedsAnsible []string
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
	// the repo's ansible.cfg (roles_path) counts, as it does for a run
	cfgDir := dir
	if !st.IsDir() {
		cfgDir = filepath.Dir(dir)
	}
	var rolesPath []string
	if cfg, err := ansiblecfg.Load(cfgDir); err != nil {
		res.Problems = append(res.Problems, err.Error())
	} else {
		rolesPath = cfg.RolesPath
	}
	for _, f := range files {
		if !looksLikePlaybook(f) {
			continue
		}
		res.Playbooks++
		l := playbook.NewLoader(engine.IsAction)
		l.RolesPath = rolesPath
		pb := l.LoadPlaybook(f)
		// actions tend lacks are not problems: backend auto runs those
		// plays through Ansible
		needs, _ := ansible.Scan([]string{f}, rolesPath, engine.IsAction)
		notNative := map[string]bool{}
		for _, n := range needs {
			notNative[n.Action] = true
			res.NeedsAnsible = append(res.NeedsAnsible, fmt.Sprintf("%s: play %q needs Ansible: %s", n.Playbook, n.Play, n.Reason()))
		}
		for _, e := range l.Errs {
			if a, ok := unresolved(e.Msg); ok && notNative[a] {
				continue
			}
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
	res.NeedsAnsible = dedupe(res.NeedsAnsible)
	return res, nil
}

// unresolved returns the action of the loader's "couldn't resolve
// module/action" error, when the task had no other candidate key (with two,
// it is a misspelled keyword and stays a problem).
func unresolved(msg string) (string, bool) {
	const marker = "couldn't resolve module/action '"
	i := strings.Index(msg, marker)
	if i < 0 || strings.Contains(msg, "misspelled") {
		return "", false
	}
	rest := msg[i+len(marker):]
	j := strings.IndexByte(rest, '\'')
	if j < 0 {
		return "", false
	}
	return rest[:j], true
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
	var has func(string) bool
	switch m := l[0].(type) {
	case map[string]any:
		has = func(k string) bool { _, ok := m[k]; return ok }
	case *template.Map: // nested mappings keep their YAML order
		has = func(k string) bool { _, ok := m.Get(k); return ok }
	default:
		return false
	}
	return has("hosts") || has("import_playbook") || has("ansible.builtin.import_playbook")
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
