package facts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/host"
)

// volatile facts change between two runs; only their presence and type are
// compared.
var volatile = map[string]bool{
	"uptime_seconds": true, "memfree_mb": true, "memory_mb": true, "swapfree_mb": true,
	"date_time": true, "env": true,
}

// setupFacts runs Ansible's setup module on this machine.
func setupFacts(t testing.TB) map[string]any {
	t.Helper()
	if _, err := exec.LookPath("ansible"); err != nil {
		t.Skip("ansible (ansible-core) is not installed")
	}
	cmd := exec.Command("ansible", "-i", "localhost,", "-c", "local", "localhost", "-m", "setup")
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible -m setup: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "=> ")
	if !ok {
		t.Fatalf("no result in ansible's output:\n%s", out)
	}
	var res struct {
		Facts map[string]any `json:"ansible_facts"`
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatalf("parse ansible's output: %v", err)
	}
	facts := map[string]any{}
	for k, v := range res.Facts {
		facts[strings.TrimPrefix(k, "ansible_")] = v
	}
	return facts
}

func gatherJSON(t testing.TB) map[string]any {
	t.Helper()
	f, err := Gather(context.Background(), host.NewLocal())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var n map[string]any
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// diffSubset reports where got differs from want, for the keys got has
// (Ansible reports more per-interface details than tend gathers).
func diffSubset(path string, got, want any, out *[]string) {
	switch g := got.(type) {
	case map[string]any:
		w, ok := want.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: tend has a dict %v, ansible %v", path, g, want))
			return
		}
		for k, v := range g {
			wv, ok := w[k]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s.%s: ansible has no such key (tend: %v)", path, k, v))
				continue
			}
			diffSubset(path+"."+k, v, wv, out)
		}
	case []any:
		w, ok := want.([]any)
		if !ok || len(w) != len(g) {
			*out = append(*out, fmt.Sprintf("%s: tend %v, ansible %v", path, g, want))
			return
		}
		for i := range g {
			diffSubset(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
	default:
		if !reflect.DeepEqual(got, want) {
			*out = append(*out, fmt.Sprintf("%s: tend %#v, ansible %#v", path, got, want))
		}
	}
}

func TestGatherMatchesAnsibleSetup(t *testing.T) {
	want := setupFacts(t)
	got := gatherJSON(t)
	for _, k := range []string{"hostname", "fqdn", "distribution", "os_family", "memtotal_mb", "processor_count",
		"default_ipv4", "interfaces", "service_mgr", "pkg_mgr", "user_id", "date_time", "env"} {
		if _, ok := got[k]; !ok {
			t.Errorf("tend gathered no %q", k)
		}
	}
	var diffs []string
	if w, ok := want["interfaces"].([]any); ok { // Ansible's order is random
		sort.Slice(w, func(i, j int) bool { return fmt.Sprint(w[i]) < fmt.Sprint(w[j]) })
	}
	for _, k := range sortedKeys(got) {
		w, ok := want[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: ansible has no such fact", k))
			continue
		}
		if volatile[k] {
			if reflect.TypeOf(got[k]) != reflect.TypeOf(w) {
				diffs = append(diffs, fmt.Sprintf("%s: tend type %T, ansible %T", k, got[k], w))
			}
			continue
		}
		diffSubset(k, got[k], w, &diffs)
	}
	// same date_time keys, and stable values for the ones that do not tick
	gd, wd := got["date_time"].(map[string]any), want["date_time"].(map[string]any)
	for k := range gd {
		if _, ok := wd[k]; !ok {
			diffs = append(diffs, "date_time."+k+": ansible has no such key")
		}
	}
	for _, k := range []string{"year", "tz", "tz_offset"} {
		if gd[k] != wd[k] {
			diffs = append(diffs, fmt.Sprintf("date_time.%s: tend %v, ansible %v", k, gd[k], wd[k]))
		}
	}
	for _, k := range []string{"PATH", "HOME", "USER", "LANG"} {
		ge, we := got["env"].(map[string]any), want["env"].(map[string]any)
		if ge[k] != we[k] {
			diffs = append(diffs, fmt.Sprintf("env.%s: tend %v, ansible %v", k, ge[k], we[k]))
		}
	}
	t.Logf("compared %d facts with ansible's: %v", len(got), sortedKeys(got))
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

func BenchmarkGather(b *testing.B) {
	h := host.NewLocal()
	ctx := context.Background()
	for b.Loop() {
		if _, err := Gather(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}
