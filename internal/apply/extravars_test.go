package apply

import (
	"reflect"
	"testing"

	"github.com/tend-project/tend/internal/template"
)

func TestParseExtraVarsJSONKeepsOrder(t *testing.T) {
	got, err := ParseExtraVars([]string{`{"d": {"zulu": 1, "alpha": {"y": 1.0, "b": 2}}, "n": 3}`, "k=v"})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := got["d"].(*template.Map)
	if !ok {
		t.Fatalf("d is %T, want an ordered *template.Map", got["d"])
	}
	if keys := d.Keys(); !reflect.DeepEqual(keys, []string{"zulu", "alpha"}) {
		t.Errorf("keys %v, want the order written", keys)
	}
	inner, _ := d.Get("alpha")
	if y, _ := inner.(*template.Map).Get("y"); y != 1.0 {
		t.Errorf("1.0 decoded as %#v: Python's json keeps it a float", y)
	}
	if got["n"] != 3 || got["k"] != "v" {
		t.Errorf("n=%#v k=%#v", got["n"], got["k"])
	}
	// YAML after JSON fails, and a bad document is an error naming extra vars
	if got, err := ParseExtraVars([]string{"{a: [1, 2]}"}); err != nil || !reflect.DeepEqual(template.ToGo(got["a"]), []any{1, 2}) {
		t.Errorf("YAML flow mapping: %#v, %v", got, err)
	}
	if _, err := ParseExtraVars([]string{`{"a": 1`}); err == nil {
		t.Error("an unterminated JSON/YAML mapping was accepted")
	}
}
