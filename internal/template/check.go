package template

import (
	"bytes"
	"encoding/json"
)

// Check parses a template without rendering it: a syntax error is returned,
// undefined variables are not (they depend on the host). `tend validate`
// uses it.
func Check(text string) error {
	_, err := parseTemplate(text, true)
	return err
}

// CheckExpr parses a bare expression (when:, failed_when:) without
// evaluating it.
func CheckExpr(expression string) error {
	_, err := parseExprString(expression)
	return err
}

// Repr renders a value as Python's repr() does ({'k': 'v'}, ['a'], True),
// which is how Ansible shows loop items and values in text.
func Repr(v any) string { return repr(v) }

// String renders a value as Jinja2 prints it into text.
func String(v any) string { return toStr(v) }

// MarshalJSON writes the map with its keys in insertion order.
func (m *Map) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		v, _ := m.Get(k)
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// varSearchPaths returns the directories in the ansible_search_path variable
// (set by the engine per task: the role, then the playbook directory), where
// lookups and includes look for relative files.
func (st *state) varSearchPaths() []string {
	v, ok := st.vars["ansible_search_path"]
	if !ok {
		return nil
	}
	var out []string
	switch x := v.(type) {
	case []string:
		out = x
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
