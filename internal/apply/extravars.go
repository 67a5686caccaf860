package apply

import (
	"fmt"
	"os"
	"strings"

	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/template"
)

// ParseExtraVars parses -e values: "k=v k2=v2", "@file.yml", or a JSON/YAML
// document; later values win.
func ParseExtraVars(vals []string) (map[string]any, error) {
	out := map[string]any{}
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case strings.HasPrefix(v, "@"):
			data, err := os.ReadFile(v[1:])
			if err != nil {
				return nil, fmt.Errorf("extra vars: %w", err)
			}
			m, err := decodeMap(data, v[1:])
			if err != nil {
				return nil, err
			}
			for k, x := range m {
				out[k] = x
			}
		case strings.HasPrefix(v, "{") || strings.HasPrefix(v, "---"):
			// JSON first, as Ansible's loader does, then YAML; both keep
			// the order of the keys in nested dicts
			var m map[string]any
			if j, err := template.DecodeJSON([]byte(v)); err == nil {
				if jm, ok := j.(*template.Map); ok {
					m = jm.Shallow()
				}
			}
			if m == nil {
				var err error
				if m, err = decodeMap([]byte(v), "extra vars"); err != nil {
					return nil, err
				}
			}
			for k, x := range m {
				out[k] = x
			}
		default:
			kv, err := playbook.ParseKV(v, nil)
			if err != nil {
				return nil, fmt.Errorf("extra vars %q: %w", v, err)
			}
			if raw, ok := kv["_raw_params"]; ok {
				return nil, fmt.Errorf("extra vars %q: expected k=v pairs, @file or a JSON/YAML mapping (got %q)", v, raw)
			}
			for k, x := range kv {
				out[k] = x
			}
		}
	}
	return out, nil
}

func decodeMap(data []byte, name string) (map[string]any, error) {
	v, err := playbook.DecodeBytes(data, name)
	if err != nil {
		return nil, fmt.Errorf("extra vars: %w", err)
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("extra vars %s: must be a mapping", name)
	}
	return m, nil
}
