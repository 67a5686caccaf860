package inventory

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"testing"
)

// TestHelpersAgainstAnsible runs the same inputs through ansible-core's INI
// value parser, shlex, split_host_pattern and _expand_hostpattern.
func TestHelpersAgainstAnsible(t *testing.T) {
	if _, err := exec.LookPath("ansible-inventory"); err != nil {
		t.Skip("ansible-core is not installed")
	}
	req := map[string][]string{
		"values": {
			"1", "-1", "+3", "0", "00", "007", "0644", "1_0", "1__0", "_1", "0x_1f", "0xff", "0o777", "0b11", "1.", ".5", "1e5", "1E-2",
			"1.5e", "True", "False", "None", "true", "null", "'x'", `"x"`, `'it\'s'`, `"a\nb"`, `r'a\nb'`, `b'bytes'`,
			`u'uni'`, `'''triple'''`, `"\x41\u00e9"`, `'a' "b"`, "[]", "[1,]", "[1, [2, (3,)]]", "()", "(1)", "(1, 2)",
			"{}", "{'a': 1}", "{1: 'x', 'y': 2}", "{'a': {'b': [None]}}", "{1, 2}", "1 # c", "x # c", "#", "",
			"abc", "a b", "1 2", "[1", "'unterminated", "-x", "--1", "- 1", "1-1", "f'x'", "{'a':1,}",
			"  5", "5  ", "(  )", "[1,2]x", "'a'\n'b'", "\\", "1,2", "1,",
		},
		"shlex": {
			`a b c`, `a "b c" d`, `a 'b c'`, `a="x y"z`, `a\ b`, `a#b`, `a #b`, `'#'x`, `"a\"b"`, `'a\'`, `"open`,
			`a=''`, `""`, `x="a\\b"`, `x="a\qb"`, `h1 k=v	k2=v2`,
		},
		"split": {
			"all", "a,b", "a:b", "a:&b:!c", "web[1:3]", "web[1:3]:db", "fe80::1", "a, b ,,c", "~re:x",
			"host.example.com:2222", "[::1]:22", "a:b[0]", "10.0.0.1", "group[0:2],other",
		},
		"expand": {
			"web", "web[1:3]", "web[01:10:3]", "w[a:d]", "w[a:d:2]", "x[1:2]y[3:4]", "h:22", "h[1:2]:22",
			"10.0.[1:2].1", "::1", "[::1]:22", "w[3:1]", "w[:2]", "w[1:]", "w[01:2]", "w[A:c]", "bad host",
			"h_", "-h", "a.b_.c", "ünï", "w[1:2:0]",
		},
	}
	in, _ := json.Marshal(req)
	cmd := exec.Command("/usr/bin/python3", "testdata/pycompat.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pycompat.py: %v", err)
	}
	var want map[string][]any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, v := range req["values"] {
		got := normalize(t, iniValue(v))
		if !reflect.DeepEqual(got, want["values"][i]) {
			t.Errorf("INI value %q = %#v, ansible: %#v", v, got, want["values"][i])
		}
	}
	for i, s := range req["shlex"] {
		toks, err := shlexSplit(s)
		var got any = normalize(t, toks)
		if toks == nil {
			got = []any{}
		}
		if err != nil {
			got = "error"
		}
		if !reflect.DeepEqual(got, want["shlex"][i]) {
			t.Errorf("shlexSplit(%q) = %#v, ansible: %#v", s, got, want["shlex"][i])
		}
	}
	for i, s := range req["split"] {
		if got := normalize(t, SplitPattern(s)); !reflect.DeepEqual(got, want["split"][i]) {
			t.Errorf("SplitPattern(%q) = %#v, ansible: %#v", s, got, want["split"][i])
		}
	}
	for i, s := range req["expand"] {
		hosts, port, err := expandHostPattern(s)
		var got any = normalize(t, []any{hosts, port})
		if err != nil {
			got = "error"
		}
		if !reflect.DeepEqual(got, want["expand"][i]) {
			t.Errorf("expandHostPattern(%q) = %#v, ansible: %#v", s, got, want["expand"][i])
		}
	}
}
