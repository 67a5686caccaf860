package engine

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/template"
	"github.com/tend-project/tend/internal/yamlx"
)

// secretMask replaces secret values in everything a run reports.
const secretMask = "********"

// minSecretLen is the shortest decrypted string that is masked: shorter
// values ("yes", "80") would mask ordinary output without hiding anything.
const minSecretLen = 4

// secretSet holds the values decrypted during a run (vault files and inline
// !vault values) and the ciphertext → plaintext cache of inline values.
type secretSet struct {
	mu     sync.Mutex
	values []string
	inline map[string]string
}

func (s *secretSet) add(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.values {
		if x == v {
			return
		}
	}
	s.values = append(s.values, v)
}

func (s *secretSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values
}

// addLeaves records every string leaf of decrypted data as a secret.
func (s *secretSet) addLeaves(v any) {
	switch x := v.(type) {
	case string:
		s.add(x)
	case map[string]any:
		for _, e := range x {
			s.addLeaves(e)
		}
	case *template.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			s.addLeaves(e)
		}
	case []any:
		for _, e := range x {
			s.addLeaves(e)
		}
	}
}

// hasVault reports whether v holds an inline !vault value anywhere.
func hasVault(v any) bool {
	switch x := v.(type) {
	case yamlx.Vault:
		return true
	case map[string]any:
		for _, e := range x {
			if hasVault(e) {
				return true
			}
		}
	case *template.Map:
		for _, k := range x.Keys() {
			if e, _ := x.Get(k); hasVault(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasVault(e) {
				return true
			}
		}
	}
	return false
}

// decryptInline decrypts one !vault value (cached) and records it as a secret.
func (r *Runner) decryptInline(v yamlx.Vault) (string, error) {
	s := &r.secrets
	s.mu.Lock()
	plain, ok := s.inline[v.Ciphertext]
	s.mu.Unlock()
	if ok {
		return plain, nil
	}
	if r.opts.Decrypt == nil {
		return "", fmt.Errorf("a variable holds a !vault value but no vault password was given (use --vault-password-file)")
	}
	out, err := r.opts.Decrypt([]byte(v.Ciphertext))
	if err != nil {
		return "", fmt.Errorf("decrypt !vault value: %w", err)
	}
	plain = string(out)
	s.mu.Lock()
	if s.inline == nil {
		s.inline = map[string]string{}
	}
	s.inline[v.Ciphertext] = plain
	s.mu.Unlock()
	s.add(plain)
	return plain, nil
}

// unvaultValue returns v with every !vault value replaced by its plaintext,
// copying only the maps and lists on the way to one (vars are shared
// between hosts running in parallel). A value that cannot be decrypted
// stays a !vault value and the error is returned.
func (r *Runner) unvaultValue(v any) (any, error) {
	if !hasVault(v) {
		return v, nil
	}
	switch x := v.(type) {
	case yamlx.Vault:
		p, err := r.decryptInline(x)
		if err != nil {
			return v, err
		}
		return p, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		var first error
		for k, e := range x {
			d, err := r.unvaultValue(e)
			if first == nil {
				first = err
			}
			out[k] = d
		}
		return out, first
	case *template.Map:
		out := template.NewMap()
		var first error
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			d, err := r.unvaultValue(e)
			if first == nil {
				first = err
			}
			out.Set(k, d)
		}
		return out, first
	case []any:
		out := make([]any, len(x))
		var first error
		for i, e := range x {
			d, err := r.unvaultValue(e)
			if first == nil {
				first = err
			}
			out[i] = d
		}
		return out, first
	}
	return v, nil
}

// unvault replaces inline !vault values in a task's variables by their
// plaintext. Facts and hostvars are not searched (they never hold any).
func (r *Runner) unvault(v template.Vars) {
	for k, x := range v {
		if k == "ansible_facts" || k == "hostvars" || k == "groups" {
			continue
		}
		if d, err := r.unvaultValue(x); err == nil {
			v[k] = d
		} else {
			// using it fails the task, as in Ansible; it never renders
			// as its ciphertext
			v[k] = template.Undefined(k, fmt.Sprintf("%s: %v", k, err))
		}
	}
}

// redact masks every known secret in a result before anyone sees it.
func (r *Runner) redact(res report.TaskResult) report.TaskResult {
	secrets := r.secrets.list()
	if len(secrets) == 0 {
		return res
	}
	red := func(s string) string {
		for _, x := range secrets {
			if strings.Contains(s, x) {
				s = strings.ReplaceAll(s, x, secretMask)
			}
		}
		return s
	}
	res.Task = red(res.Task)
	res.Msg = red(res.Msg)
	if res.Item != nil {
		res.Item = redactValue(res.Item, red)
	}
	if res.Values != nil {
		res.Values, _ = redactValue(res.Values, red).(map[string]any)
	}
	if len(res.Diffs) > 0 {
		ds := make([]module.Diff, len(res.Diffs))
		for i, d := range res.Diffs {
			ds[i] = module.Diff{BeforeHeader: red(d.BeforeHeader), AfterHeader: red(d.AfterHeader), Before: red(d.Before), After: red(d.After)}
		}
		res.Diffs = ds
	}
	if len(res.Items) > 0 {
		items := make([]report.TaskResult, len(res.Items))
		for i, it := range res.Items {
			items[i] = r.redact(it)
		}
		res.Items = items
	}
	return res
}

// redactValue copies v with red applied to every string in it.
func redactValue(v any, red func(string) string) any {
	switch x := v.(type) {
	case string:
		return red(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redactValue(e, red)
		}
		return out
	case *template.Map:
		out := template.NewMap()
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			out.Set(k, redactValue(e, red))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, red)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = red(e)
		}
		return out
	}
	return v
}
