package yamlx

import (
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestScalarsFollowYAML11(t *testing.T) {
	cases := map[string]any{
		"yes": true, "No": false, "on": true, "OFF": false, "true": true, "y": "y", "n": "n",
		"0644": 420, "0x1f": 31, "0b101": 5, "1_000": 1000, "-17": -17, "+5": 5, "190:20:30": 685230,
		"09": "09", "0o17": "0o17", "1e3": "1e3", "1.5": 1.5, "1.0e+3": 1000.0, ".5": 0.5,
		"~": nil, "null": nil, "": nil, "2001-12-14": "2001-12-14", "hello": "hello", "'yes'": "yes",
		`"0644"`: "0644", "!!str 12": "12", "!!int '7'": 7, "!unsafe '{{ x }}'": "{{ x }}",
		"99999999999999999999": "99999999999999999999",
	}
	for in, want := range cases {
		got, err := Decode([]byte("k: "+in+"\n"), "t.yml")
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if v := got.(map[string]any)["k"]; !reflect.DeepEqual(v, want) {
			t.Errorf("%q decodes to %#v, want %#v", in, v, want)
		}
	}
	v, _ := Decode([]byte("k: .inf\n"), "t.yml")
	if f, ok := v.(map[string]any)["k"].(float64); !ok || !math.IsInf(f, 1) {
		t.Errorf(".inf = %#v", v)
	}
}

func TestStructure(t *testing.T) {
	src := `
base: &b {x: 1, y: 2}
other: &o {y: 20, z: 30}
merged:
  <<: [*b, *o]
  z: 3
dup: 1
dup: 2
1: int-key
yes: bool-key
secret: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  6162
list: [a, *b]
`
	var warned []string
	got, err := DecodeWith([]byte(src), "s.yml", Options{Warn: func(e *Error) { warned = append(warned, e.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	want := map[string]any{
		"base": map[string]any{"x": 1, "y": 2}, "other": map[string]any{"y": 20, "z": 30},
		"merged": map[string]any{"x": 1, "y": 2, "z": 3}, "dup": 2, "1": "int-key", "True": "bool-key",
		"secret": Vault{Ciphertext: "$ANSIBLE_VAULT;1.1;AES256\n6162\n"},
		"list":   []any{"a", map[string]any{"x": 1, "y": 2}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %#v\nwant %#v", m, want)
	}
	// an own key overriding a merged one warns too, as in Ansible
	if len(warned) != 2 || !strings.HasPrefix(warned[0], "s.yml:8:1: found a duplicate dict key (dup)") ||
		!strings.HasPrefix(warned[1], "s.yml:6:3: found a duplicate dict key (z)") {
		t.Errorf("warnings = %q", warned)
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]string{
		"a: [1, 2\n":          "bad.yml:1: YAML syntax error",
		"a: 1\n---\nb: 2\n":   "bad.yml:3: expected a single document",
		"a: !custom x\n":      "bad.yml:1:4: could not determine a constructor for the tag !custom",
		"a:\n  <<: 5\n":       "bad.yml:2:7: while constructing a mapping",
		"a: !!int nope\n":     "bad.yml:1:4: cannot read \"nope\" as !!int",
		"? [1]\n: x\n":        "bad.yml:1:3: found unacceptable key",
		"a:\n  b: 1\n c: 2\n": "bad.yml:2: YAML syntax error: did not find expected key",
	}
	for src, want := range cases {
		_, err := Decode([]byte(src), "bad.yml")
		var ye *Error
		if err == nil || !errors.As(err, &ye) || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) error = %v, want it to contain %q", src, err, want)
		}
	}
	if v, err := Decode(nil, "empty.yml"); v != nil || err != nil {
		t.Errorf("empty document = %v, %v", v, err)
	}
}

// TestAgainstAnsibleLoader decodes the same documents with Ansible's own
// YAML loader and compares.
func TestAgainstAnsibleLoader(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-core is not installed")
	}
	src := `
bools: [yes, No, on, OFF, true, False, y, n]
ints: [0644, 0x1f, 0b101, 1_000, -17, +5, 190:20:30, 0, 09, 0o17]
floats: [1.5, 1.0e+3, .5, -2.5, 1e3, 6.8523015e+5]
nulls: [~, null, Null, ]
strs: ['yes', "0644", !!str 12, !unsafe "{{ x }}", 2001-12-14x]
base: &b {x: 1, y: 2}
merged:
  <<: *b
  y: 3
multi: |
  line one
  line two
folded: >
  a
  b
`
	py := `
import sys, json
from ansible.parsing.yaml.loader import AnsibleLoader
data = AnsibleLoader(sys.stdin.read()).get_single_data()
print(json.dumps(data, default=str))
`
	cmd := exec.Command("/usr/bin/python3", "-c", py)
	cmd.Stdin = strings.NewReader(src)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var want any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	got, err := Decode([]byte(src), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	var norm any
	_ = json.Unmarshal(b, &norm)
	if !reflect.DeepEqual(norm, want) {
		t.Errorf("got  %s\nwant %s", b, out)
	}
}
