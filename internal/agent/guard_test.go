package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tend-project/tend/internal/audit"
	"github.com/tend-project/tend/internal/backup"
	"github.com/tend-project/tend/internal/state"
	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

// env is one agent on a temp tree: the repo it pulls, its config and state
// dir, and the root its playbook writes under (a.Root).
type env struct {
	t    *testing.T
	repo *gitserver.Repo
	dir  string
	root string
	cfg  string
	a    *Agent
}

// sitePlaybook writes each of files (path → content) under the root.
func sitePlaybook(files map[string]string) string {
	var b strings.Builder
	b.WriteString("- hosts: all\n  gather_facts: false\n  tasks:\n")
	for p, c := range files {
		fmt.Fprintf(&b, "    - name: write %s\n      copy:\n        dest: %s\n        content: %q\n", p, p, c)
	}
	return b.String()
}

func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	gitserver.NeedTool(t, "git")
	e := &env{t: t, repo: gitserver.NewBare(t), dir: t.TempDir()}
	e.root = filepath.Join(e.dir, "root")
	if err := os.MkdirAll(filepath.Join(e.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.cfg = filepath.Join(e.dir, "tend.yaml")
	e.writeConfig(extra)
	return e
}

func (e *env) writeConfig(extra string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`source:
  url: %s
  ref: main
  interval: 1m
  splay: 0s
playbook: site.yml
host: localhost
backend: native
drift:
  interval: 1ns
  watch: false
listen: ""
state_dir: %s
%s`, e.repo.URL(), filepath.Join(e.dir, "state"), extra)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if e.a != nil {
		if err := e.a.Reload(); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	a, err := New(e.cfg, "test", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	a.Root = e.root
	e.a = a
}

func (e *env) cycle() error {
	e.t.Helper()
	return e.a.Cycle(context.Background())
}

func (e *env) state() *state.State {
	e.t.Helper()
	st, err := state.Load(filepath.Join(e.dir, "state"))
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) file(p string) string {
	data, err := os.ReadFile(filepath.Join(e.root, p))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(data)
}

func (e *env) writeFile(p, content string) {
	if err := os.WriteFile(filepath.Join(e.root, p), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) audit() []audit.Entry {
	es, err := audit.ReadAll(filepath.Join(e.dir, "state", "audit.jsonl"))
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

func (e *env) findAudit(kind, rev string) *audit.Entry {
	for _, x := range e.audit() {
		if x.Kind == kind && (rev == "" || x.Revision == rev) {
			return &x
		}
	}
	return nil
}

// metric returns the value of a gauge or counter with the given labels.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.a.Metrics.Registry().Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	e.t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.Label {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

func TestVerifySSHRefusesUnsignedAndUntrusted(t *testing.T) {
	gitserver.NeedTool(t, "ssh-keygen")
	e := newEnv(t, "")
	trusted := gitserver.NewSSHSigner(t, "ops@example.com")
	stranger := gitserver.NewSSHSigner(t, "eve@example.com")
	signers := gitserver.WriteAllowedSigners(t, trusted.AllowedSignersLine(""))
	e.writeSourceVerify("ssh", "allowed_signers: "+signers)

	good := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})}, gitserver.SignSSH(trusted))
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.file("/etc/motd") != "v1\n" || e.state().AppliedRevision != good {
		t.Fatalf("signed commit not applied: %q %+v", e.file("/etc/motd"), e.state())
	}
	if run := e.findAudit(audit.KindRun, good); run == nil || run.Signer != trusted.Fingerprint || !strings.Contains(run.Author, "@") {
		t.Fatalf("run audit lacks signer/author: %+v", run)
	}

	for i, opt := range []gitserver.CommitOption{nil, gitserver.SignSSH(stranger)} {
		opts := []gitserver.CommitOption{}
		if opt != nil {
			opts = append(opts, opt)
		}
		bad := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": fmt.Sprintf("evil %d\n", i)})}, opts...)
		if err := e.cycle(); err == nil {
			t.Fatalf("commit %d: cycle accepted a bad commit", i)
		}
		st := e.state()
		if e.file("/etc/motd") != "v1\n" || st.AppliedRevision != good {
			t.Fatalf("bad commit %d applied: %q", i, e.file("/etc/motd"))
		}
		if !strings.Contains(st.Blocked, bad[:12]) || !strings.Contains(st.Blocked, "verification") {
			t.Fatalf("status does not name the refused commit: %q", st.Blocked)
		}
		a := e.findAudit(audit.KindVerifyFailure, bad)
		if a == nil || a.Result != "refused" || a.Msg == "" {
			t.Fatalf("no verify_failure audit line for %s: %+v", bad, e.audit())
		}
		if got := e.metric("tend_source_verify_failures_total"); got != float64(i+1) {
			t.Fatalf("tend_source_verify_failures_total = %v, want %d", got, i+1)
		}
		// reset the branch to the good commit for the next case
		e.repo.ForcePush(good)
	}
}

// writeSourceVerify rewrites the config with a source.verify block.
func (e *env) writeSourceVerify(mode, keyLine string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`source:
  url: %s
  ref: main
  interval: 1m
  splay: 0s
  verify:
    mode: %s
    %s
playbook: site.yml
host: localhost
backend: native
drift:
  interval: 1ns
  watch: false
listen: ""
state_dir: %s
`, e.repo.URL(), mode, keyLine, filepath.Join(e.dir, "state"))
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	a, err := New(e.cfg, "test", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	a.Root = e.root
	e.a = a
}

func TestVerifyOpenPGPRefusesUntrusted(t *testing.T) {
	gitserver.NeedTool(t, "gpg")
	e := newEnv(t, "")
	trusted := gitserver.NewGPGSigner(t, "Ops <ops@example.com>")
	stranger := gitserver.NewGPGSigner(t, "Eve <eve@example.com>")
	e.writeSourceVerify("openpgp", "keyring: "+trusted.Armored)
	good := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})}, gitserver.SignGPG(trusted))
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if run := e.findAudit(audit.KindRun, good); run == nil || run.Signer != trusted.Fingerprint {
		t.Fatalf("run audit signer: %+v", run)
	}
	bad := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "evil\n"})}, gitserver.SignGPG(stranger))
	if err := e.cycle(); err == nil {
		t.Fatal("untrusted OpenPGP commit accepted")
	}
	if e.file("/etc/motd") != "v1\n" || !strings.Contains(e.state().Blocked, bad[:12]) || e.metric("tend_source_verify_failures_total") != 1 {
		t.Fatalf("untrusted commit: file %q blocked %q", e.file("/etc/motd"), e.state().Blocked)
	}
}

func TestBadTrustFilesAreClearErrors(t *testing.T) {
	e := newEnv(t, "")
	dir := t.TempDir()
	signers := filepath.Join(dir, "allowed_signers")
	os.WriteFile(signers, []byte("ops@example.com ssh-ed25519 !!!notbase64\n"), 0o600)
	keyring := filepath.Join(dir, "keyring.asc")
	os.WriteFile(keyring, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n-----END PGP PUBLIC KEY BLOCK-----\n"), 0o600)
	e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	for mode, line := range map[string]string{"ssh": "allowed_signers: " + signers, "openpgp": "keyring: " + keyring} {
		cfg := fmt.Sprintf("source:\n  url: %s\n  verify:\n    mode: %s\n    %s\nplaybook: site.yml\nhost: localhost\nlisten: \"\"\nstate_dir: %s\n",
			e.repo.URL(), mode, line, filepath.Join(e.dir, "state"))
		os.WriteFile(e.cfg, []byte(cfg), 0o600)
		a, err := New(e.cfg, "test", nil)
		if err == nil {
			a.Root = e.root
			err = a.Cycle(context.Background())
		}
		if err == nil {
			t.Fatalf("%s: a malformed trust file was accepted", mode)
		}
		t.Logf("%s: %v", mode, err)
		if !strings.Contains(err.Error(), strings.Fields(line)[1]) || !strings.Contains(err.Error(), "source.verify.") {
			t.Errorf("%s: error does not name the file: %v", mode, err)
		}
		if _, serr := os.Stat(filepath.Join(e.root, "etc/motd")); serr == nil {
			t.Fatalf("%s: applied despite a bad trust file", mode)
		}
	}
}

func TestForcePushRefused(t *testing.T) {
	e := newEnv(t, "")
	first := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	second := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v2\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	// rewrite history: the branch goes back to first, then a different commit
	e.repo.ForcePush(first)
	rewritten := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "rewritten\n"})})
	if err := e.cycle(); err == nil {
		t.Fatal("non-fast-forward tip accepted")
	}
	st := e.state()
	if e.file("/etc/motd") != "v2\n" || st.AppliedRevision != second || !strings.Contains(st.Blocked, "fast-forward") {
		t.Fatalf("rewritten history applied or not reported: %q %+v", e.file("/etc/motd"), st)
	}
	if e.metric("tend_guardrail_blocks_total", "reason", "force_push") != 1 {
		t.Fatal("force push not counted")
	}
	// allow_force_push lets it through
	e.writeConfig("")
	cfg, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(cfg), "  splay: 0s\n", "  splay: 0s\n  allow_force_push: true\n", 1)), 0o600)
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.file("/etc/motd") != "rewritten\n" || e.state().AppliedRevision != rewritten {
		t.Fatalf("allow_force_push: %q", e.file("/etc/motd"))
	}
}

func TestMaxChangesNeedsApproval(t *testing.T) {
	e := newEnv(t, "guardrails:\n  max_changes: 1\n")
	first := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/a": "1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != first {
		t.Fatal("a run within max_changes was not applied")
	}
	big := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/a": "2\n", "/etc/b": "2\n", "/etc/c": "2\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	st := e.state()
	if e.file("/etc/a") != "1\n" || e.file("/etc/b") != "<open "+filepath.Join(e.root, "etc/b")+": no such file or directory>" {
		t.Fatalf("blocked run changed files: %q %q", e.file("/etc/a"), e.file("/etc/b"))
	}
	if st.AppliedRevision != first || st.Pending == nil || st.Pending.Revision != big || st.Pending.WouldChange != 3 || !strings.Contains(st.Blocked, "max_changes") {
		t.Fatalf("state after block: %+v pending %+v", st, st.Pending)
	}
	if got := e.metric("tend_guardrail_blocks_total", "reason", "max_changes"); got != 1 {
		t.Fatalf("blocks metric %v", got)
	}
	if a := e.findAudit(audit.KindGuardrail, big); a == nil || a.Result != "blocked" {
		t.Fatalf("no guardrail audit line: %+v", a)
	}
	// another cycle: still blocked, counted once
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.metric("tend_guardrail_blocks_total", "reason", "max_changes") != 1 || e.state().AppliedRevision != first {
		t.Fatal("second blocked cycle applied or double-counted")
	}
	// an unknown revision is a clear error and changes nothing
	before, _ := os.ReadFile(filepath.Join(e.dir, "state", "state.json"))
	if _, err := e.a.Approve("deadbeefdeadbeef", "tester"); err == nil || !strings.Contains(err.Error(), "unknown revision") {
		t.Fatalf("approving an unknown revision: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(e.dir, "state", "state.json"))
	if string(before) != string(after) {
		t.Fatal("a failed approval changed state.json")
	}
	full, err := e.a.Approve(big[:10], "tester")
	if err != nil || full != big {
		t.Fatalf("approve: %q %v", full, err)
	}
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	st = e.state()
	if st.AppliedRevision != big || e.file("/etc/c") != "2\n" || st.Pending != nil || st.Blocked != "" || st.IsApproved(big) {
		t.Fatalf("approved revision: %+v", st)
	}
	if e.findAudit(audit.KindApprove, big) == nil {
		t.Fatal("no approve audit line")
	}
}

// closedWindow is a window that is not open now (it is on another weekday).
func closedWindow() string {
	d := time.Now().UTC().Add(48 * time.Hour).Weekday().String()[:3]
	return d + " 00:00-01:00 UTC"
}

func TestWindowAndPauseStillReportDrift(t *testing.T) {
	e := newEnv(t, "")
	first := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	// outside the window: a new commit waits, drift is reported but not repaired
	e.writeConfig(fmt.Sprintf("guardrails:\n  windows: [%q]\n", closedWindow()))
	e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v2\n"})})
	e.writeFile("/etc/motd", "hand edit\n")
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	st := e.state()
	if e.file("/etc/motd") != "hand edit\n" || st.AppliedRevision != first {
		t.Fatalf("applied outside the window: %q", e.file("/etc/motd"))
	}
	if st.Drift.Counts["file"] != 1 || !strings.Contains(st.Blocked, "window") {
		t.Fatalf("drift not reported outside the window: %+v blocked %q", st.Drift, st.Blocked)
	}
	if e.metric("tend_window_open") != 0 || e.metric("tend_guardrail_blocks_total", "reason", "window") != 1 {
		t.Fatal("window metrics")
	}
	// paused (window open again): same, and tend_paused is 1
	e.writeConfig("")
	if err := e.a.Pause("incident 42", "tester"); err != nil {
		t.Fatal(err)
	}
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	st = e.state()
	if e.file("/etc/motd") != "hand edit\n" || st.AppliedRevision != first || st.Drift.Counts["file"] != 1 || !st.Pause.Paused {
		t.Fatalf("paused host changed: %q %+v", e.file("/etc/motd"), st)
	}
	if e.metric("tend_paused") != 1 || e.metric("tend_window_open") != 1 {
		t.Fatal("tend_paused not 1")
	}
	if a := e.findAudit(audit.KindPause, ""); a == nil || !strings.Contains(a.Msg, "incident 42") {
		t.Fatalf("pause audit: %+v", a)
	}
	if err := e.a.Resume("tester"); err != nil {
		t.Fatal(err)
	}
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.file("/etc/motd") != "v2\n" || e.metric("tend_paused") != 0 {
		t.Fatalf("after resume: %q", e.file("/etc/motd"))
	}
}

func TestRolloutDelayPerHost(t *testing.T) {
	// test commits are dated 2026-01-01 onwards: a year of delay holds them back
	e := newEnv(t, "inventory: hosts.yml\nguardrails:\n  rollout_delay: 8760h\n")
	inv := "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
	e.repo.Commit(map[string]string{"hosts.yml": inv, "site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != "" || !strings.Contains(e.state().Blocked, "rollout_delay") || e.metric("tend_guardrail_blocks_total", "reason", "rollout_delay") != 1 {
		t.Fatalf("young commit applied: %+v", e.state())
	}
	// this host is a canary: its group sets a zero delay
	canary := "all:\n  children:\n    canary:\n      vars:\n        tend_rollout_delay: 0s\n      hosts:\n        localhost:\n          ansible_connection: local\n"
	rev := e.repo.Commit(map[string]string{"hosts.yml": canary})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != rev || e.file("/etc/motd") != "v1\n" {
		t.Fatalf("canary did not apply: %+v", e.state())
	}
}

func TestRollbackRestoresAndPins(t *testing.T) {
	e := newEnv(t, "")
	e.writeFile("/etc/motd", "before tend\n")
	first := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	second := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v2\n", "/etc/new.conf": "x\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.file("/etc/motd") != "v2\n" {
		t.Fatal("second commit not applied")
	}
	// audit: before/after checksums of the file change
	var ch *audit.Entry
	for _, x := range e.audit() {
		if x.Kind == audit.KindChange && x.Revision == second && strings.HasSuffix(x.Resource, "/etc/motd") {
			ch = &x
		}
	}
	if ch == nil || ch.Before != backup.Sum([]byte("v1\n")) || ch.After != backup.Sum([]byte("v2\n")) {
		t.Fatalf("change audit checksums: %+v", ch)
	}
	res, err := e.a.Rollback(context.Background(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	st := e.state()
	if res.Revision != first || st.PinnedRevision != first || st.AppliedRevision != first {
		t.Fatalf("rollback: %+v state %+v", res, st)
	}
	if e.file("/etc/motd") != "v1\n" {
		t.Fatalf("motd after rollback: %q", e.file("/etc/motd"))
	}
	if _, err := os.Stat(filepath.Join(e.root, "etc/new.conf")); !os.IsNotExist(err) {
		t.Fatal("file created by the rolled-back run is still there")
	}
	// the pin holds while no newer commit arrives
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != first {
		t.Fatal("pin not held")
	}
	// --to applies the named revision
	if _, err := e.a.Rollback(context.Background(), second[:8], "tester"); err != nil {
		t.Fatal(err)
	}
	if e.state().AppliedRevision != second || e.file("/etc/motd") != "v2\n" {
		t.Fatalf("--to: %+v", e.state())
	}
	if _, err := e.a.Rollback(context.Background(), "0123456789ab", "tester"); err == nil || !strings.Contains(err.Error(), "unknown revision") {
		t.Fatalf("--to unknown: %v", err)
	}
	// a newer commit lifts the pin
	third := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v3\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	if st := e.state(); st.PinnedRevision != "" || st.AppliedRevision != third || e.file("/etc/motd") != "v3\n" {
		t.Fatalf("newer commit: %+v", st)
	}
}

func TestRollbackOnFailure(t *testing.T) {
	e := newEnv(t, "guardrails:\n  rollback_on_failure: true\n")
	good := e.repo.Commit(map[string]string{"site.yml": sitePlaybook(map[string]string{"/etc/motd": "v1\n"})})
	if err := e.cycle(); err != nil {
		t.Fatal(err)
	}
	broken := sitePlaybook(map[string]string{"/etc/motd": "broken\n"}) + "    - name: fails\n      fail: msg=boom\n"
	e.repo.Commit(map[string]string{"site.yml": broken})
	if err := e.cycle(); err == nil {
		t.Fatal("failing run reported success")
	}
	st := e.state()
	if e.file("/etc/motd") != "v1\n" || st.PinnedRevision != good || st.AppliedRevision != good {
		t.Fatalf("rollback_on_failure: %q %+v", e.file("/etc/motd"), st)
	}
}

func TestSrcOutsideCheckoutRefused(t *testing.T) {
	e := newEnv(t, "")
	outside := filepath.Join(e.dir, "outside-secret")
	os.WriteFile(outside, []byte("host secret\n"), 0o600)
	for i, pb := range []string{
		"- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: src=../../outside-secret dest=/etc/leak\n",
		"- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: src=files/link dest=/etc/leak\n",
	} {
		files := map[string]string{"site.yml": pb}
		rev := e.repo.Commit(files)
		if i == 1 {
			e.repo.Git("rm", "-q", "site.yml")
			os.MkdirAll(filepath.Join(e.repo.Work, "files"), 0o755)
			os.Symlink(outside, filepath.Join(e.repo.Work, "files", "link"))
			rev = e.repo.Commit(map[string]string{"site.yml": pb})
		}
		_ = e.cycle()
		if _, err := os.Stat(filepath.Join(e.root, "etc/leak")); err == nil {
			t.Fatalf("case %d: a file from outside the checkout was copied", i)
		}
		st := e.state()
		if st.Run.Revision != rev || st.Run.Failed != 1 || st.AppliedRevision != rev {
			t.Fatalf("case %d: run not failed: %+v", i, st.Run)
		}
		found := false
		for _, x := range e.audit() {
			if x.Kind == audit.KindChange && x.Revision == rev && x.Result == "failed" && strings.Contains(x.Msg, "outside the repository checkout") {
				found = true
			}
		}
		if !found {
			t.Fatalf("case %d: no audit line names the refusal: %+v", i, e.audit())
		}
	}
}

func TestRoleOutsideCheckoutRefused(t *testing.T) {
	e := newEnv(t, "")
	outside := filepath.Join(e.dir, "outside-role")
	os.MkdirAll(filepath.Join(outside, "tasks"), 0o755)
	os.WriteFile(filepath.Join(outside, "tasks", "main.yml"), []byte("- copy: dest=/etc/leak content=x\n"), 0o644)
	os.MkdirAll(filepath.Join(e.repo.Work, "roles"), 0o755)
	if err := os.Symlink(outside, filepath.Join(e.repo.Work, "roles", "evil")); err != nil {
		t.Fatal(err)
	}
	rev := e.repo.Commit(map[string]string{"site.yml": "- hosts: all\n  gather_facts: false\n  roles: [evil]\n"})
	if err := e.cycle(); err == nil {
		t.Fatal("a role outside the checkout was run")
	}
	st := e.state()
	if _, err := os.Stat(filepath.Join(e.root, "etc/leak")); err == nil {
		t.Fatal("the role ran")
	}
	if !strings.Contains(st.Blocked, short(rev)) || !strings.Contains(st.Run.Error, "outside the repository checkout") {
		t.Fatalf("refusal not reported: blocked %q run %+v", st.Blocked, st.Run)
	}
}
