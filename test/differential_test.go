package test

// The differential test: every test/corpus/NN-*.yml playbook runs through
// ansible-playbook (the reference, with the tend_json callback) and through
// `tend playbook -o json`, each in its own fresh root passed as -e root=DIR.
// Exit codes, recaps, per-host (task, status) lists and the file trees left
// under the roots must match; a second run on the same roots must report
// changed=0 for both; a --check run on fresh roots must match too.
//
// Playbook header comments (leading lines) steer a case:
//
//	# args: -t foo --skip-tags bar    extra flags for both tools
//	# inventory: inv2/hosts.yml       inventory relative to test/corpus
//	# rc: 2                           the exit code ansible must give (corpus self-check)
//	# nonidempotent                   the second run may report changes
//	# nocheck                         skip the --check comparison
//
// A directory test/corpus/seeds/<playbook name without .yml>/ is copied into
// every fresh root before the run, so check mode sees the same starting files.
//
// Environment:
//
//	TEND_BIN=path             use this tend binary instead of building ./cmd/tend
//	TEND_DIFF_REFERENCE_ONLY=1  compare ansible with itself (validates the corpus
//	                          without tend: determinism, idempotence, rc headers)
//	TEND_DIFF_SUMMARY=file    also write the per-playbook pass/fail list there

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// parallelism bounds how many playbooks run at once (2 cores, shared).
const parallelism = 2

// corpusEnv is set for both tools (the env lookup reads it).
var corpusEnv = []string{"TEND_CORPUS_GREETING=hello from the environment", "LC_ALL=C.UTF-8"}

var corpusFile = regexp.MustCompile(`^\d\d-[a-z0-9-]+\.yml$`)

// header is what a playbook's leading comments ask for.
type header struct {
	Args          []string
	Inventory     string
	RC            int // -1: not stated
	Nonidempotent bool
	NoCheck       bool
}

func parseHeader(path string) (header, error) {
	h := header{Inventory: "inventory.ini", RC: -1}
	b, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "---" || line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			break
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		_, val, _ := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		switch strings.TrimSuffix(fields[0], ":") {
		case "args":
			h.Args = strings.Fields(val)
		case "inventory":
			h.Inventory = val
		case "rc":
			if h.RC, err = strconv.Atoi(val); err != nil {
				return h, fmt.Errorf("%s: bad rc header %q", path, val)
			}
		case "nonidempotent":
			h.Nonidempotent = true
		case "nocheck":
			h.NoCheck = true
		}
	}
	return h, nil
}

// namedTool renames a tool (ansible compared with itself).
type namedTool struct {
	Tool
	name string
}

func (n namedTool) Name() string { return n.name }

type summary struct {
	mu   sync.Mutex
	rows map[string]string
}

func (s *summary) set(name, row string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, done := s.rows[name]; !done {
		s.rows[name] = row
	}
}

func TestDifferential(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook not found: install Debian's ansible-core (make deps) to run the differential tests")
	}
	corpus, err := filepath.Abs("corpus")
	if err != nil {
		t.Fatal(err)
	}
	callbacks, err := filepath.Abs(filepath.Join("..", "internal", "ansible", "callback"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	var books []string
	for _, e := range entries {
		if corpusFile.MatchString(e.Name()) {
			books = append(books, e.Name())
		}
	}
	if len(books) < 40 {
		t.Errorf("corpus has %d playbooks, want at least 40", len(books))
	}

	config := filepath.Join(corpus, "ansible.cfg")
	var ref Tool = &Ansible{CallbackDir: callbacks, Config: config}
	var cand Tool
	if os.Getenv("TEND_DIFF_REFERENCE_ONLY") != "" {
		cand = namedTool{Tool: &Ansible{CallbackDir: callbacks, Config: config}, name: "ansible#2"}
	} else {
		cand = &Tend{Bin: tendBinary(t)}
	}

	sum := &summary{rows: map[string]string{}}
	t.Cleanup(func() { printSummary(t, books, sum) })
	sem := make(chan struct{}, parallelism)
	for _, book := range books {
		name := strings.TrimSuffix(book, ".yml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := &diffCase{t: t, name: name, corpus: corpus, ref: ref, cand: cand, sum: sum}
			c.run()
			if !t.Failed() {
				sum.set(name, "PASS")
			} else {
				sum.set(name, "FAIL")
			}
		})
	}
}

func printSummary(t *testing.T, books []string, sum *summary) {
	var b strings.Builder
	pass := 0
	for _, book := range books {
		name := strings.TrimSuffix(book, ".yml")
		row, ok := sum.rows[name]
		if !ok {
			row = "NOT RUN"
		}
		if row == "PASS" {
			pass++
		}
		fmt.Fprintf(&b, "%-34s %s\n", name, row)
	}
	fmt.Fprintf(&b, "%d/%d playbooks pass\n", pass, len(books))
	// Printed, not logged, so that it shows without -v too.
	fmt.Printf("differential corpus summary (%s vs tend):\n%s", "ansible-playbook", b.String())
	if f := os.Getenv("TEND_DIFF_SUMMARY"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Errorf("write summary: %v", err)
		}
	}
}

// tendBinary returns $TEND_BIN, or builds ./cmd/tend into a temp dir.
func tendBinary(t *testing.T) string {
	if bin := os.Getenv("TEND_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("TEND_BIN: %v", err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "tend")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tend")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tend: %v\n%s", err, out)
	}
	return bin
}

// diffCase runs one playbook through both tools in three phases.
type diffCase struct {
	t         *testing.T
	name      string
	corpus    string
	ref, cand Tool
	sum       *summary
	hdr       header
}

func (c *diffCase) run() {
	t := c.t
	pb := filepath.Join(c.corpus, c.name+".yml")
	hdr, err := parseHeader(pb)
	if err != nil {
		t.Fatal(err)
	}
	c.hdr = hdr
	inv := Invocation{
		Playbook:  pb,
		Inventory: filepath.Join(c.corpus, hdr.Inventory),
		Args:      hdr.Args,
		Env:       corpusEnv,
		Dir:       c.corpus,
	}

	// Phase 1: first run on fresh roots.
	rootA, rootB := c.freshRoot(), c.freshRoot()
	a, b, ok := c.runBoth("first run", inv, rootA, rootB, false)
	if !ok {
		return
	}
	if hdr.RC >= 0 && a.ExitCode != hdr.RC {
		c.fail("first run", fmt.Sprintf("corpus: %s exited %d, header says rc: %d", c.ref.Name(), a.ExitCode, hdr.RC),
			"stderr:\n"+tail(a.Stderr, 20))
	}
	if !c.compare("first run", a, b, rootA, rootB) {
		return
	}

	// Phase 2: rerun on the same roots; nothing may change.
	a2, b2, ok := c.runBoth("second run", inv, rootA, rootB, false)
	if !ok {
		return
	}
	if !hdr.Nonidempotent {
		for _, o := range []struct {
			tool Tool
			out  *Outcome
		}{{c.ref, a2}, {c.cand, b2}} {
			if ch := o.out.Report.Totals().Changed; ch != 0 {
				c.fail("second run", fmt.Sprintf("%s reported changed=%d on the second run (want 0)", o.tool.Name(), ch),
					strings.Join(changedLines(o.out), "\n"))
			}
		}
	}
	if !c.compare("second run", a2, b2, rootA, rootB) {
		return
	}

	// Phase 3: check mode on fresh roots.
	if hdr.NoCheck {
		return
	}
	rootA, rootB = c.freshRoot(), c.freshRoot()
	a3, b3, ok := c.runBoth("check run", inv, rootA, rootB, true)
	if !ok {
		return
	}
	c.compare("check run", a3, b3, rootA, rootB)
}

func changedLines(o *Outcome) []string {
	var out []string
	for _, p := range o.Report.Plays {
		for _, t := range p.Tasks {
			if t.Changed {
				out = append(out, "  "+taskLine(t))
			}
		}
	}
	return out
}

// freshRoot makes an empty root, seeded from corpus/seeds/<name>/ if present.
func (c *diffCase) freshRoot() string {
	root := c.t.TempDir()
	seed := filepath.Join(c.corpus, "seeds", c.name)
	if _, err := os.Stat(seed); err == nil {
		if err := copyTree(seed, root); err != nil {
			c.t.Fatalf("seed root: %v", err)
		}
	}
	return root
}

func (c *diffCase) runBoth(phase string, inv Invocation, rootA, rootB string, check bool) (a, b *Outcome, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	inv.Check = check
	inv.Root = rootA
	a, errA := c.ref.Run(ctx, inv)
	inv.Root = rootB
	b, errB := c.cand.Run(ctx, inv)
	for _, r := range []struct {
		tool Tool
		out  *Outcome
		err  error
	}{{c.ref, a, errA}, {c.cand, b, errB}} {
		if r.err != nil {
			detail := ""
			if r.out != nil {
				detail = "stdout:\n" + tail(r.out.Stdout, 15) + "\nstderr:\n" + tail(r.out.Stderr, 15)
			}
			c.fail(phase, fmt.Sprintf("%s: %v", r.tool.Name(), r.err), detail)
			return a, b, false
		}
	}
	return a, b, true
}

// compare reports every difference between two outcomes of one phase; it
// returns false when there was one.
func (c *diffCase) compare(phase string, a, b *Outcome, rootA, rootB string) bool {
	na, nb := c.ref.Name(), c.cand.Name()
	ok := true
	if a.ExitCode != b.ExitCode {
		ok = false
		c.fail(phase, fmt.Sprintf("exit code: %s %d, %s %d", na, a.ExitCode, nb, b.ExitCode),
			na+" stderr:\n"+tail(a.Stderr, 10)+"\n"+nb+" stderr:\n"+tail(b.Stderr, 10))
	}
	la, lb := TaskLines(a.Report), TaskLines(b.Report)
	hosts := map[string]bool{}
	for h := range la {
		hosts[h] = true
	}
	for h := range lb {
		hosts[h] = true
	}
	hostList := make([]string, 0, len(hosts))
	for h := range hosts {
		hostList = append(hostList, h)
	}
	sort.Strings(hostList)
	for _, h := range hostList {
		if sbs := SideBySide(la[h], lb[h], na, nb); sbs != "" {
			ok = false
			c.fail(phase, fmt.Sprintf("tasks on %s differ, %s", h, FirstDifference(la[h], lb[h])),
				sbs+failMessages(a, b, na, nb))
		}
	}
	ra, rb := RecapLines(a.Report), RecapLines(b.Report)
	if sbs := SideBySide(ra, rb, na, nb); sbs != "" {
		ok = false
		c.fail(phase, "recap differs: "+FirstDifference(ra, rb), sbs)
	}
	ta, errA := Snapshot(rootA)
	tb, errB := Snapshot(rootB)
	if errA != nil || errB != nil {
		c.t.Fatalf("snapshot: %v %v", errA, errB)
	}
	if d := DiffTrees(ta, tb, na, nb); len(d) > 0 {
		ok = false
		first := strings.SplitN(d[0], "\n", 2)[0]
		c.fail(phase, "files differ: "+first, strings.Join(d, "\n"))
	}
	return ok
}

// failMessages lists the msg of failed tasks on either side (helps to see why).
func failMessages(a, b *Outcome, na, nb string) string {
	var s strings.Builder
	for _, o := range []struct {
		name string
		out  *Outcome
	}{{na, a}, {nb, b}} {
		if o.out.Report == nil {
			continue
		}
		for _, p := range o.out.Report.Plays {
			for _, tr := range p.Tasks {
				if tr.Status == "failed" && tr.Msg != "" {
					fmt.Fprintf(&s, "  %s: %q failed: %s\n", o.name, tr.Task, shorten(tr.Msg, 300))
				}
			}
		}
	}
	if s.Len() == 0 {
		return ""
	}
	return "failure messages:\n" + s.String()
}

// fail reports one mismatch; the first one becomes the summary row.
func (c *diffCase) fail(phase, headline, detail string) {
	c.t.Helper()
	c.sum.set(c.name, "FAIL "+phase+": "+headline)
	if detail != "" {
		c.t.Errorf("%s: %s\n%s", phase, headline, detail)
	} else {
		c.t.Errorf("%s: %s", phase, headline)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// copyTree copies the files, directories and symlinks under src into dst,
// keeping permission bits.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if rel == "." {
				return nil
			}
			return os.MkdirAll(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		}
	})
}
