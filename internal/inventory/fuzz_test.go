package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds adds the inventories under testdata as seeds.
func fuzzSeeds(f *testing.F, glob string, extra ...string) {
	files, _ := filepath.Glob(glob)
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data, "all")
		}
	}
	for _, s := range extra {
		f.Add([]byte(s), "web*:&prod:!web3")
	}
}

// exercise runs what the engine does with a parsed inventory, so a value the
// parser accepted cannot panic later.
func exercise(t *testing.T, inv *Inventory, pattern string) {
	inv.reconcile()
	hosts := inv.Hosts()
	for _, h := range hosts {
		_, _ = inv.Host(h)
		_ = inv.GroupNames(h)
		_, _ = inv.HostVars(h, "")
	}
	_ = inv.Groups()
	_, _ = inv.Match(pattern)
	_, _ = inv.Limit(hosts, pattern)
	_ = SplitPattern(pattern)
}

// FuzzInventoryYAML: no YAML inventory (plus host pattern) makes the parser or
// the pattern matcher panic or hang; every problem is an error.
func FuzzInventoryYAML(f *testing.F) {
	fuzzSeeds(f, "testdata/yaml/*.yml",
		"all:\n  hosts:\n    web[01:03].example.com:\n      ansible_port: 22\n  children:\n    prod:\n      hosts:\n        web01.example.com:\n",
		"all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a: {}\n",
		"plugin: foo\n", "- a\n- b\n", "all: !!binary aGVsbG8=\n", "all:\n  vars: [1, 2]\n", "{}", "\"\"")
	f.Fuzz(func(t *testing.T, data []byte, pattern string) {
		inv := newInventory(Options{Warn: func(string) {}})
		if err := inv.parseYAML(filepath.Join(t.TempDir(), "hosts.yml"), data); err != nil {
			return
		}
		exercise(t, inv, pattern)
	})
}

// FuzzInventoryINI is FuzzInventoryYAML for INI inventories.
func FuzzInventoryINI(f *testing.F) {
	fuzzSeeds(f, "testdata/ini/*.ini",
		"[web]\nweb[1:3] ansible_port=22 x='a b'\n[prod:children]\nweb\n[prod:vars]\nk=v\n",
		"[a:children]\nb\n[b:children]\na\n", "host[a:z:2]\n", "host[1:]\n", "[g]\nh x=\"unterminated\n", "h ansible_host=[::1]:22\n")
	f.Fuzz(func(t *testing.T, data []byte, pattern string) {
		inv := newInventory(Options{Warn: func(string) {}})
		if err := inv.parseINI(filepath.Join(t.TempDir(), "hosts.ini"), data); err != nil {
			return
		}
		exercise(t, inv, pattern)
	})
}
