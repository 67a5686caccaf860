package template

import (
	"testing"

	"github.com/tend-project/tend/internal/yamlx"
)

// TestMoreWithoutAnsible covers what the differential test cannot: values
// only tend's engine hands in (an undecrypted !vault value) and the guards
// against absurd sizes.
func TestMoreWithoutAnsible(t *testing.T) {
	vars := testVars()
	vars["secret"] = yamlx.Vault{Ciphertext: "$ANSIBLE_VAULT;1.1;AES256\n6162"}
	e := New(Options{})
	for _, c := range []struct{ expr, want string }{
		{"secret is vault_encrypted", "True"},
		{"s is vault_encrypted", "False"},
		{"(users | groupby('admin') | map(attribute='list') | map('length') | list)", "[1, 1]"},
		{"(users | groupby('admin') | first).grouper", "False"},
		{"(d | dict2items | groupby('value') | first)", "(1, [{'key': 'zeta', 'value': 1}])"},
	} {
		got, err := e.RenderString("{{ "+c.expr+" }}", vars)
		if err != nil || got != c.want {
			t.Errorf("%s = %q (err %v), want %q", c.expr, got, err, c.want)
		}
	}
	for _, expr := range []string{"l | batch(999999999, 0)", "l | slice(999999999)", "range(30) | combinations(15)", "range(12) | permutations"} {
		if _, err := e.Eval(expr, vars); err == nil {
			t.Errorf("%s: want an error, not a list too large to build", expr)
		}
	}
}
