package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes tend.yaml (and any extra files) into a temp dir and
// returns the config path.
func writeConfig(t *testing.T, body string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "tend.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFull(t *testing.T) {
	p := writeConfig(t, `
source:
  url: git@git.example.com:ops/hosts.git
  ref: prod
  interval: 90
  splay: 1h30m
  ssh_key: deploy_key
  known_hosts: known_hosts
  http_auth_file: ""
  depth: 1
  verify:
    mode: ssh
    allowed_signers: allowed_signers
    keyring: trusted.asc
    all_commits: true
  allow_force_push: true
playbook: playbooks/site.yml
inventory: inventory/hosts.yml
host: web1
backend: native
vault_password_file: vault-pass
drift:
  interval: 2m
  full_hash_interval: 2d
  watch: false
  remediate: false
guardrails:
  max_changes: 10
  windows: ["Mon-Fri 09:00-17:00 UTC", "daily 02:00-04:00"]
  rollout_delay: 15m
  rollback_on_failure: true
backups:
  max_bytes: 64MiB
  max_age: 7d
audit:
  max_bytes: 1000000
listen: "[::1]:9999"
webhook_secret_file: /dev/null
textfile: metrics.prom
state_dir: state
`, "deploy_key", "known_hosts", "allowed_signers", "vault-pass")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	checks := []struct {
		name      string
		got, want any
	}{
		{"url", c.Source.URL, "git@git.example.com:ops/hosts.git"},
		{"ref", c.Source.Ref, "prod"},
		{"interval (plain integer = seconds)", c.Source.Interval, 90 * time.Second},
		{"splay", c.Source.Splay, 90 * time.Minute},
		{"ssh_key resolved against the config dir", c.Source.SSHKey, filepath.Join(dir, "deploy_key")},
		{"depth", c.Source.Depth, 1},
		{"verify.mode", c.Source.Verify.Mode, VerifySSH},
		{"verify.all_commits", c.Source.Verify.AllCommits, true},
		{"verify.keyring (not checked unless openpgp)", c.Source.Verify.Keyring, filepath.Join(dir, "trusted.asc")},
		{"allow_force_push", c.Source.AllowForcePush, true},
		{"playbook left as written", c.Playbook, "playbooks/site.yml"},
		{"host", c.Host, "web1"},
		{"backend", c.Backend, BackendNative},
		{"drift.full_hash_interval", c.Drift.FullHashInterval, 48 * time.Hour},
		{"drift.watch", c.Drift.Watch, false},
		{"max_changes", c.Guardrails.MaxChanges, 10},
		{"windows", len(c.Guardrails.Windows), 2},
		{"rollback_on_failure", c.Guardrails.RollbackOnFailure, true},
		{"backups.max_bytes", c.Backups.MaxBytes, int64(64 << 20)},
		{"backups.max_age", c.Backups.MaxAge, 7 * 24 * time.Hour},
		{"audit.max_bytes", c.Audit.MaxBytes, int64(1000000)},
		{"listen", c.Listen, "[::1]:9999"},
		{"textfile", c.Textfile, filepath.Join(dir, "metrics.prom")},
		{"state_dir", c.StateDir, filepath.Join(dir, "state")},
		{"path", c.Path(), p},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestDefaultsApplyToOmittedKeys(t *testing.T) {
	c, err := Load(writeConfig(t, "source:\n  url: https://example.com/ops/hosts.git\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	d.Source.URL = "https://example.com/ops/hosts.git"
	c.path, c.pos = "", nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("loaded %+v\nwant defaults %+v", c, d)
	}
	if d.StateDir != "/var/lib/tend" || d.Source.Interval != 5*time.Minute || d.Listen != "127.0.0.1:9273" || !d.Drift.Remediate {
		t.Errorf("defaults differ from DESIGN.md: %+v", d)
	}
}

// TestErrors asserts the exact message for each kind of bad key.
func TestErrors(t *testing.T) {
	const url = "source:\n  url: https://example.com/r.git\n"
	tests := []struct {
		name  string
		body  string
		files []string
		want  []string // each must appear in the error; "$D" is the config dir, "$F" the file
	}{
		{"bad duration", "source:\n  url: https://example.com/r.git\n  interval: 5x\n", nil,
			[]string{`$F:3:13: source.interval: invalid duration "5x"`}},
		{"negative duration", url + "drift:\n  interval: -5m\n", nil,
			[]string{`$F:4:13: drift.interval: invalid duration "-5m"`}},
		{"zero interval", url + "drift:\n  interval: 0s\n", nil,
			[]string{`$F:4:13: drift.interval: must be more than 0s, got 0s`}},
		{"unknown top-level key with hint", url + "playbok: site.yml\n", nil,
			[]string{`$F:3:1: unknown key "playbok" (did you mean "playbook"?)`}},
		{"unknown nested key with hint", "source:\n  url: https://example.com/r.git\n  intervall: 5m\n", nil,
			[]string{`$F:3:3: unknown key "intervall" in source (did you mean "interval"?)`}},
		{"unknown key without separators", "source:\n  url: https://example.com/r.git\n  sshkey: k\n", nil,
			[]string{`unknown key "sshkey" in source (did you mean "ssh_key"?)`}},
		{"unknown key without hint", url + "colour: blue\n", nil,
			[]string{`$F:3:1: unknown key "colour"`}},
		{"unknown key deep", "source:\n  url: https://example.com/r.git\n  verify:\n    mdoe: ssh\n", nil,
			[]string{`$F:4:5: unknown key "mdoe" in source.verify (did you mean "mode"?)`}},
		{"verify mode", "source:\n  url: https://example.com/r.git\n  verify:\n    mode: gpg\n", nil,
			[]string{`$F:4:11: source.verify.mode: must be one of none, ssh, openpgp; got "gpg"`}},
		{"missing ssh_key", "source:\n  url: https://example.com/r.git\n  ssh_key: /etc/tend/nonexistent_deploy_key\n", nil,
			[]string{`$F:3:12: source.ssh_key: /etc/tend/nonexistent_deploy_key: no such file`}},
		{"relative ssh_key missing", "source:\n  url: https://example.com/r.git\n  ssh_key: deploy_key\n", nil,
			[]string{`source.ssh_key: $D/deploy_key: no such file`}},
		{"ssh url needs known_hosts", "source:\n  url: git@example.com:ops/r.git\n", nil,
			[]string{`source.known_hosts: required when source.url uses ssh`}},
		{"ssh url known_hosts missing", "source:\n  url: ssh://git@example.com/ops/r.git\n  known_hosts: kh\n", nil,
			[]string{`$F:3:16: source.known_hosts: $D/kh: no such file`}},
		{"allowed_signers required", "source:\n  url: https://example.com/r.git\n  verify:\n    mode: ssh\n", nil,
			[]string{`source.verify.allowed_signers: required when source.verify.mode is ssh`}},
		{"allowed_signers missing", "source:\n  url: https://example.com/r.git\n  verify:\n    mode: ssh\n    allowed_signers: as\n", nil,
			[]string{`$F:5:22: source.verify.allowed_signers: $D/as: no such file`}},
		{"keyring missing", "source:\n  url: https://example.com/r.git\n  verify:\n    mode: openpgp\n    keyring: /nonexistent/trusted.asc\n", nil,
			[]string{`source.verify.keyring: /nonexistent/trusted.asc: no such file`}},
		{"vault password file", url + "vault_password_file: vp\n", nil,
			[]string{`$F:3:22: vault_password_file: $D/vp: no such file`}},
		{"webhook secret file", url + "webhook_secret_file: ws\n", nil,
			[]string{`webhook_secret_file: $D/ws: no such file`}},
		{"file is a directory", url + "vault_password_file: /tmp\n", nil,
			[]string{`vault_password_file: /tmp: is a directory, want a file`}},
		{"listen no port", url + "listen: localhost\n", nil,
			[]string{`$F:3:9: listen: invalid address "localhost": want host:port`}},
		{"listen bad port", url + "listen: 127.0.0.1:99999\n", nil,
			[]string{`listen: invalid port "99999" in "127.0.0.1:99999"`}},
		{"listen bad host", url + "listen: \"bad host:80\"\n", nil,
			[]string{`listen: invalid host "bad host" in "bad host:80"`}},
		{"bad window", url + "guardrails:\n  windows: [\"Mon-Fry 09:00-17:00\"]\n", nil,
			[]string{`$F:4:13: guardrails.windows[0]: invalid window "Mon-Fry 09:00-17:00": unknown day "Fry"`}},
		{"bad window zone", url + "guardrails:\n  windows:\n    - daily 02:00-04:00 Mars/Olympus\n", nil,
			[]string{`$F:5:7: guardrails.windows[0]: invalid window "daily 02:00-04:00 Mars/Olympus": unknown time zone "Mars/Olympus"`}},
		{"bad window time", url + "guardrails:\n  windows: [\"daily 25:00-04:00\"]\n", nil,
			[]string{`guardrails.windows[0]: invalid window "daily 25:00-04:00": invalid time "25:00"`}},
		{"windows not a list", url + "guardrails:\n  windows: daily 02:00-04:00\n", nil,
			[]string{`guardrails.windows: want a list of windows`}},
		{"backend", url + "backend: python\n", nil,
			[]string{`$F:3:10: backend: must be one of native, ansible, auto; got "python"`}},
		{"bool expected", url + "drift:\n  watch: maybe\n", nil,
			[]string{`$F:4:10: drift.watch: want true or false, got "maybe"`}},
		{"int expected", url + "guardrails:\n  max_changes: lots\n", nil,
			[]string{`$F:4:16: guardrails.max_changes: want a whole number, got "lots"`}},
		{"negative max_changes", url + "guardrails:\n  max_changes: -1\n", nil,
			[]string{`$F:4:16: guardrails.max_changes: must not be negative`}},
		{"bad size", url + "audit:\n  max_bytes: 10 parsecs\n", nil,
			[]string{`$F:4:14: audit.max_bytes: invalid size "10 parsecs"`}},
		{"mapping expected", "source: https://example.com/r.git\n", nil,
			[]string{`$F:1:9: source: source must be a mapping of keys`}},
		{"string expected", url + "host: [a, b]\n", nil,
			[]string{`$F:3:7: host: want a string, got a list`}},
		{"url required", "playbook: site.yml\n", nil,
			[]string{`source.url: required`}},
		{"url scheme", "source:\n  url: ftp://example.com/r.git\n", nil,
			[]string{`$F:2:8: source.url: unsupported scheme "ftp"`}},
		{"duplicate key", url + "host: a\nhost: b\n", nil,
			[]string{`$F:4:1: host: key given twice`}},
		{"textfile suffix", url + "textfile: /tmp/tend.txt\n", nil,
			[]string{`textfile: /tmp/tend.txt: must end in .prom`}},
		{"several errors at once", "source:\n  url: https://example.com/r.git\n  interval: soon\n  verify:\n    mode: x\nlisten: nope\n", nil,
			[]string{`source.interval: invalid duration "soon"`}},
		{"several validation errors at once", "source:\n  url: https://example.com/r.git\n  verify:\n    mode: x\nlisten: nope\n", nil,
			[]string{`source.verify.mode: must be one of`, `listen: invalid address "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.body, tt.files...)
			_, err := Load(p)
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "$F", p)
				w = strings.ReplaceAll(w, "$D", filepath.Dir(p))
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

func TestSyntaxErrorNamesFile(t *testing.T) {
	p := writeConfig(t, "source:\n  url: [\n")
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": yaml:") {
		t.Fatalf("err = %v, want it to start with %q", err, p+": yaml:")
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v, want no such file", err)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	c := Defaults()
	c.Source.URL = "/srv/repo"
	c.Source.Verify.Mode = "pgp"
	err := c.Validate()
	if err == nil || err.Error() != `source.verify.mode: must be one of none, ssh, openpgp; got "pgp"` {
		t.Fatalf("err = %v", err)
	}
	c.Source.Verify.Mode = VerifyNone
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key", "kh", "signers"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := Defaults()
	c.Source.URL = "ssh://git@example.com/ops/hosts.git"
	c.Source.SSHKey = filepath.Join(dir, "key")
	c.Source.KnownHosts = filepath.Join(dir, "kh")
	c.Source.Verify = Verify{Mode: VerifySSH, AllowedSigners: filepath.Join(dir, "signers"), AllCommits: true}
	c.Source.Interval = 90 * time.Minute
	c.Playbook = "site.yml"
	c.Guardrails.MaxChanges = 3
	w, err := ParseWindow("Sat 00:00-06:00 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	c.Guardrails.Windows = []Window{w}
	c.Backups.MaxBytes = 1000
	p := filepath.Join(dir, "tend.yaml")
	if err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(p)
	for _, want := range []string{"interval: 1h30m", "max_bytes: 16MiB", "max_bytes: 1000 #", "windows: [\"Sat 00:00-06:00 Europe/Berlin\"]", "host: \"\"", "# poll period"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("written file lacks %q:\n%s", want, data)
		}
	}
	got, err := Load(p)
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, data)
	}
	got.path, got.pos = "", nil
	if got.Guardrails.Windows[0].Loc.String() != "Europe/Berlin" {
		t.Errorf("window zone %v", got.Guardrails.Windows[0].Loc)
	}
	got.Guardrails.Windows[0].Loc, c.Guardrails.Windows[0].Loc = nil, nil
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v\n%s", got, c, data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("temp file left behind: %v", entries)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"5m": 5 * time.Minute, "30s": 30 * time.Second, "1h30m": 90 * time.Minute,
		"300": 300 * time.Second, "0": 0, "1d": 24 * time.Hour, "2d12h": 60 * time.Hour, "500ms": 500 * time.Millisecond,
	}
	for s, want := range good {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "5x", "-1", "-5m", "d", "1.5", "xd3h", "5 m"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", s)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", time.Hour: "1h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m", 61 * time.Second: "1m1s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "1024": 1024, "64MiB": 64 << 20, "10MB": 10e6, "1G": 1 << 30, "2 KiB": 2048} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "MiB", "1.5GiB", "10 parsecs"} {
		if _, err := ParseBytes(s); err == nil {
			t.Errorf("ParseBytes(%q) succeeded", s)
		}
	}
}

func TestReadThenFlagsThenValidate(t *testing.T) {
	p := writeConfig(t, "source:\n  url: https://example.com/r.git\n  verify:\n    mode: ssh\n")
	c, err := Read(p)
	if err != nil {
		t.Fatalf("Read validated too early: %v", err)
	}
	c.Source.Verify.Mode = VerifyNone // as a flag would
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
