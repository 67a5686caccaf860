package template

import (
	"reflect"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	v, err := DecodeJSON([]byte(` {"z": {"y": 1, "b": [2.5, 3]}, "a": null, "z2": 1e2, "big": 123456789012345678901} `))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := v.(*Map)
	if !ok {
		t.Fatalf("top level is %T, want *Map", v)
	}
	if got := m.Keys(); !reflect.DeepEqual(got, []string{"z", "a", "z2", "big"}) {
		t.Errorf("keys %v: the document's order is lost", got)
	}
	z, _ := m.Get("z")
	if got := z.(*Map).Keys(); !reflect.DeepEqual(got, []string{"y", "b"}) {
		t.Errorf("nested keys %v", got)
	}
	if y, _ := z.(*Map).Get("y"); y != 1 {
		t.Errorf("1 decoded as %#v, want int 1", y)
	}
	if z2, _ := m.Get("z2"); z2 != 100.0 {
		t.Errorf("1e2 decoded as %#v, want float 100", z2)
	}
	// a repeated key keeps its first place and its last value, as in Python
	v, err = DecodeJSON([]byte(`{"a": 1, "b": 2, "a": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := v.(*Map).Get("a"); got != 3 || !reflect.DeepEqual(v.(*Map).Keys(), []string{"a", "b"}) {
		t.Errorf("repeated key: %v %v", v.(*Map).Keys(), got)
	}
	for _, bad := range []string{``, `{"a": 1} x`, `{"a": 1} {}`, `1 2`, `{"a": }`, `{"a": 1`} {
		if v, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%q) = %#v, want an error", bad, v)
		}
	}
}
