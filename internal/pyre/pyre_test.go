package pyre

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	regexp2 "github.com/dlclark/regexp2/v2"
)

// subCase is one re.subn and re.search, run by this package and by Python.
type subCase struct {
	Pattern string `json:"pattern"`
	Flags   string `json:"flags"`
	Repl    string `json:"repl"`
	Input   string `json:"input"`
	Count   int    `json:"count"`
}

// subResult is what Python (or pyre) made of a subCase.
type subResult struct {
	Out    string   `json:"out"`
	N      int      `json:"n"`
	Search []string `json:"search"` // groups of the first match, nil when none
	Err    bool     `json:"err"`
}

var subCases = []subCase{
	// RE2 can run these
	{Pattern: `(\w+)=(\w+)`, Repl: `\2=\1`, Input: "a=b c=d"},
	{Pattern: `(?P<k>\w+)=(?P<v>\w+)`, Repl: `\g<v>:\g<k>`, Input: "a=b c=d", Count: 1},
	{Pattern: `^port\s*=.*$`, Flags: "m", Repl: `port = 80`, Input: "x\nport=8080\ny\n"},
	{Pattern: `b+`, Repl: `[\g<0>]\t\n\\`, Input: "abbbc"},
	{Pattern: `x*`, Repl: `-`, Input: "abc"},
	{Pattern: `HELLO`, Flags: "i", Repl: `bye`, Input: "hello Hello"},
	{Pattern: `(a)|(b)`, Repl: `[\1\2]`, Input: "ab"},
	{Pattern: `end\Z`, Repl: `E`, Input: "the end"},
	{Pattern: `end\Z`, Repl: `E`, Input: "the end\n"},
	{Pattern: `o`, Repl: `\0\101`, Input: "foo"},
	{Pattern: `é(.)`, Repl: `<\1>`, Input: "café€ éa"},
	// RE2 cannot: lookarounds, backreferences, verbose mode
	{Pattern: `^(?!#)\s*PermitRootLogin\s+\w+`, Flags: "m", Repl: `PermitRootLogin no`, Input: "#PermitRootLogin yes\nPermitRootLogin yes\n"},
	{Pattern: `(?<=port=)\d+`, Repl: `443`, Input: "host=a port=80 sport=1"},
	{Pattern: `(?<!s)port=(\d+)`, Repl: `port=[\1]`, Input: "port=1 sport=2"},
	{Pattern: `\d+(?=px)`, Repl: `N`, Input: "10px 20em 30px"},
	{Pattern: `(\w)\1`, Repl: `<\1>`, Input: "aabbcd"},
	{Pattern: `(?P<q>['"]).*?(?P=q)`, Repl: `Q`, Input: `say "hi" and 'yo"'`},
	{Pattern: `(?P<a>x)(y)(?=z)`, Repl: `\2\g<a>`, Input: "xyz xy"},
	{Pattern: `a # letter a
	            (?=b)`, Flags: "x", Repl: `A`, Input: "ab ac"},
	{Pattern: `(?<=é)x`, Repl: `Y`, Input: "éx ax €éx"},
	{Pattern: `(?!a)`, Repl: `-`, Input: "bab"},
	// errors: a bad pattern, a bad group in the replacement
	{Pattern: `(`, Repl: `x`, Input: "a"},
	{Pattern: `(a)`, Repl: `\2`, Input: "a"},
	{Pattern: `(a)(?=b)`, Repl: `\g<nope>`, Input: "ab"},
	{Pattern: `a`, Repl: `\d`, Input: "a"},
}

const pySub = `
import json, re, sys
out = []
for c in json.load(sys.stdin):
    flags = 0
    for f in c["flags"]:
        flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[f]
    try:
        r = re.compile(c["pattern"], flags)
        s, n = r.subn(c["repl"], c["input"], count=c["count"])
        m = r.search(c["input"])
        out.append({"out": s, "n": n, "search": None if m is None else [g or "" for g in (m.group(0),) + m.groups()], "err": False})
    except (re.error, IndexError) as e:
        out.append({"out": "", "n": 0, "search": None, "err": True})
json.dump(out, sys.stdout)
`

// TestSubMatchesPython runs every case through Python's re (the reference:
// Ansible's modules and filters use it) and through pyre.
func TestSubMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: it is the reference")
	}
	in, _ := json.Marshal(subCases)
	cmd := exec.Command(py, "-c", pySub)
	cmd.Stdin = strings.NewReader(string(in))
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want []subResult
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range subCases {
		got := run(c)
		w := want[i]
		if got.Err != w.Err || got.Out != w.Out || got.N != w.N || strings.Join(got.Search, "\x00") != strings.Join(w.Search, "\x00") || (got.Search == nil) != (w.Search == nil) {
			t.Errorf("%q flags=%q repl=%q on %q:\n  pyre   %+v\n  python %+v", c.Pattern, c.Flags, c.Repl, c.Input, got, w)
		}
	}
}

func run(c subCase) subResult {
	re, err := Compile(c.Pattern, c.Flags)
	if err != nil {
		return subResult{Err: true}
	}
	out, n, err := re.Sub(c.Repl, c.Input, c.Count)
	if err != nil {
		return subResult{Err: true}
	}
	r := subResult{Out: out, N: n}
	if m := re.FindStringSubmatch(c.Input); m != nil {
		r.Search = m
	}
	return r
}

func TestEngineChoice(t *testing.T) {
	for pat, backtracking := range map[string]bool{
		`^\s*port=\d+$`: false, `(?P<k>\w+)`: false, `(?!#)x`: true, `(\w)\1`: true, `(?<=a)b`: true,
	} {
		re := MustCompile(pat, "")
		if _, bt := re.Matcher.(interface{ Unwrap() *regexp2Regexp }); bt != backtracking {
			t.Errorf("%q: backtracking engine = %v, want %v", pat, bt, backtracking)
		}
	}
	re := MustCompile(`(?P<a>x)(y)(?<=y)(?P<c>z)?`, "")
	if re.NumSubexp() != 3 || re.SubexpIndex("a") != 1 || re.SubexpIndex("c") != 3 || re.SubexpIndex("y") != -1 {
		t.Errorf("groups: %d a=%d c=%d", re.NumSubexp(), re.SubexpIndex("a"), re.SubexpIndex("c"))
	}
	if m := re.FindStringSubmatchIndex("xy"); len(m) != 8 || m[6] != -1 {
		t.Errorf("an unmatched optional group: %v", m)
	}
}

type regexp2Regexp = regexp2.Regexp
