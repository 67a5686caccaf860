package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/agent"
	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

func gneedTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (Debian: apt install ansible-core)", name)
	}
}

// grun runs a command and returns stdout, stderr and the exit code.
func grun(t *testing.T, dir string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCALHOST_WARNING=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), errb.String(), code
}

func gwrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	inlineSecret = "S3CRET-INLINE-7f3a"
	fileSecret   = "S3CRET-FILE-9b21"
	noLogSecret  = "S3CRET-NOLOG-c4d8"
	directSecret = "S3CRET-DIRECT-e5f6"
)

// secretRepo writes a playbook that uses an inline !vault value (made by
// ansible-vault encrypt_string), a vault-encrypted vars file, a no_log task
// and a template that writes the secrets into out/conf.
func secretRepo(t *testing.T, dir, out, pwFile string) map[string]string {
	t.Helper()
	inline, _, code := grun(t, dir, "ansible-vault", "encrypt_string", "--vault-password-file", pwFile, "--name", "inline_secret", inlineSecret)
	if code != 0 {
		t.Fatalf("ansible-vault encrypt_string failed")
	}
	plainVars := filepath.Join(dir, "plain-vars.yml")
	gwrite(t, plainVars, "file_secret: "+fileSecret+"\n")
	if _, e, code := grun(t, dir, "ansible-vault", "encrypt", "--vault-password-file", pwFile, "--output", filepath.Join(dir, "enc.yml"), plainVars); code != 0 {
		t.Fatalf("ansible-vault encrypt: %s", e)
	}
	direct, _, _ := grun(t, dir, "ansible-vault", "encrypt_string", "--vault-password-file", pwFile, "--name", "x", directSecret)
	_, directBody, _ := strings.Cut(direct, "\n") // the envelope, indented by 10
	directBody = strings.TrimRight(directBody, "\n") + "\n"
	enc, _ := os.ReadFile(filepath.Join(dir, "enc.yml"))
	os.Remove(plainVars)
	return map[string]string{
		"inline.yml":     inline,
		"secrets.yml":    string(enc),
		"templates/t.j2": "inline={{ inline_secret }}\nfile={{ file_secret }}\n",
		"site.yml": fmt.Sprintf(`- hosts: all
  gather_facts: false
  vars_files: [inline.yml, secrets.yml]
  tasks:
    - name: template with secrets
      template:
        src: templates/t.j2
        dest: %s/conf
    - name: direct vault argument
      copy:
        dest: %s/direct
        content: !vault |
%s    - name: no_log task
      command: echo %s
      no_log: true
    - name: show the inline secret
      debug:
        var: inline_secret
    - name: show the file secret
      debug:
        msg: "file {{ file_secret }}"
`, out, out, directBody, noLogSecret),
	}
}

func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{inlineSecret, fileSecret, noLogSecret, directSecret} {
		if strings.Contains(text, s) {
			t.Errorf("%s leaks the secret %s:\n%s", what, s, text)
		}
	}
}

// TestSecretsNeverLeak plants secrets and greps every output for them.
func TestSecretsNeverLeak(t *testing.T) {
	gneedTool(t, "ansible-vault")
	gitserver.NeedTool(t, "git")
	bin := tendBinary(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "vault-pass")
	gwrite(t, pw, "correct horse\n")

	// push mode: text with --diff and -v, and -o json
	pbDir := filepath.Join(dir, "pb")
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	for name, content := range secretRepo(t, dir, out, pw) {
		gwrite(t, filepath.Join(pbDir, name), content)
	}
	for _, args := range [][]string{{"--diff", "-v"}, {"--diff", "-o", "json"}} {
		os.Remove(filepath.Join(out, "conf"))
		os.Remove(filepath.Join(out, "direct"))
		full := append([]string{"playbook", "-i", "localhost,", "-c", "local", "--vault-password-file", pw}, args...)
		stdout, stderr, code := grun(t, pbDir, bin, append(full, "site.yml")...)
		if code != 0 {
			t.Fatalf("tend %v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		assertNoSecret(t, fmt.Sprintf("tend playbook %v stdout", args), stdout)
		assertNoSecret(t, fmt.Sprintf("tend playbook %v stderr", args), stderr)
		if !strings.Contains(stdout, "********") {
			t.Errorf("tend playbook %v: secrets not shown masked:\n%s", args, stdout)
		}
		conf, _ := os.ReadFile(filepath.Join(out, "conf"))
		if string(conf) != "inline="+inlineSecret+"\nfile="+fileSecret+"\n" {
			t.Fatalf("the secrets did not reach the file: %q", conf)
		}
		if d, _ := os.ReadFile(filepath.Join(out, "direct")); string(d) != directSecret {
			t.Fatalf("the !vault argument did not reach the file: %q", d)
		}
	}

	// agent mode: the same repo, then audit, state, status, /status, /metrics
	repo := gitserver.NewBare(t)
	aout := filepath.Join(dir, "aout")
	os.MkdirAll(aout, 0o755)
	repo.Commit(secretRepo(t, dir, aout, pw))
	stateDir := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "tend.yaml")
	gwrite(t, cfg, fmt.Sprintf("source:\n  url: %s\nplaybook: site.yml\nhost: localhost\nbackend: native\nvault_password_file: %s\nlisten: \"\"\nstate_dir: %s\n",
		repo.URL(), pw, stateDir))
	stdout, stderr, code := grun(t, dir, bin, "agent", "--once", "--config", cfg)
	if code != 0 {
		t.Fatalf("tend agent --once: %d\n%s\n%s", code, stdout, stderr)
	}
	assertNoSecret(t, "agent stdout", stdout)
	assertNoSecret(t, "agent stderr", stderr)
	if conf, _ := os.ReadFile(filepath.Join(aout, "conf")); !strings.Contains(string(conf), inlineSecret) {
		t.Fatalf("agent did not apply the template: %q", conf)
	}
	// drift on the secret file, then a cycle in-process to serve /status and /metrics
	gwrite(t, filepath.Join(aout, "conf"), "hand edit "+fileSecret+"\n")
	a, err := agent.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	_ = logs
	if err := a.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	for _, p := range []string{"/status", "/metrics"} {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assertNoSecret(t, p, string(body))
	}
	for _, args := range [][]string{{"status"}, {"status", "-o", "json"}, {"plan"}, {"plan", "-o", "json"}} {
		stdout, stderr, _ := grun(t, dir, bin, append(args, "--config", cfg)...)
		assertNoSecret(t, fmt.Sprintf("tend %v", args), stdout+stderr)
	}
	err = filepath.WalkDir(stateDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, string(filepath.Separator)+"checkout"+string(filepath.Separator)) ||
			strings.Contains(p, string(filepath.Separator)+"backups"+string(filepath.Separator)) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assertNoSecret(t, p, string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if audit, _ := os.ReadFile(filepath.Join(stateDir, "audit.jsonl")); !bytes.Contains(audit, []byte(`"kind":"change"`)) {
		t.Fatalf("audit has no change lines to check:\n%s", audit)
	}
}

// TestVaultInterop runs one playbook with an inline !vault value made by
// ansible-vault and a vars file encrypted by `tend vault encrypt --vault-id`
// through both tools, and checks both write the same file.
func TestVaultInterop(t *testing.T) {
	gneedTool(t, "ansible-vault")
	gneedTool(t, "ansible-playbook")
	bin := tendBinary(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	gwrite(t, pw, "interop-pass\n")
	pw2 := filepath.Join(dir, "pw-prod") // a second identity: prod
	gwrite(t, pw2, "prod-pass\n")
	inline, _, _ := grun(t, dir, "ansible-vault", "encrypt_string", "--vault-password-file", pw, "--name", "token", "from-ansible")
	gwrite(t, filepath.Join(dir, "inline.yml"), inline)
	gwrite(t, filepath.Join(dir, "ours.yml"), "db_pass: from-tend\n")
	if _, e, code := grun(t, dir, bin, "vault", "encrypt", "--vault-id", "prod@"+pw2, "ours.yml"); code != 0 {
		t.Fatalf("tend vault encrypt: %s", e)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "ours.yml")); !strings.HasPrefix(string(data), "$ANSIBLE_VAULT;1.2;AES256;prod\n") {
		t.Fatalf("tend vault encrypt wrote %q", data)
	}
	if o, e, code := grun(t, dir, "ansible-vault", "view", "--vault-id", "prod@"+pw2, "ours.yml"); code != 0 || o != "db_pass: from-tend\n" {
		t.Fatalf("ansible-vault view of tend's file: %q %s", o, e)
	}
	for _, tool := range []string{"ansible", "tend"} {
		out := filepath.Join(dir, "out-"+tool)
		gwrite(t, filepath.Join(dir, "pb-"+tool+".yml"), fmt.Sprintf("- hosts: localhost\n  gather_facts: false\n  vars_files: [inline.yml, ours.yml]\n  tasks:\n    - copy:\n        dest: %s\n        content: \"{{ token }} {{ db_pass }}\\n\"\n", out))
		var o, e string
		var code int
		// the same flags for both: two identities, one by file, one by id
		args := []string{"-i", "localhost,", "-c", "local", "--vault-password-file", pw, "--vault-id", "prod@" + pw2, "pb-" + tool + ".yml"}
		if tool == "ansible" {
			o, e, code = grun(t, dir, "ansible-playbook", args...)
		} else {
			o, e, code = grun(t, dir, bin, append([]string{"playbook"}, args...)...)
		}
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", tool, code, o, e)
		}
		if got, _ := os.ReadFile(out); string(got) != "from-ansible from-tend\n" {
			t.Fatalf("%s wrote %q", tool, got)
		}
	}
	// tend vault decrypt/view of ansible's file
	gwrite(t, filepath.Join(dir, "a.yml"), "x: 1\n")
	grun(t, dir, "ansible-vault", "encrypt", "--vault-password-file", pw, "a.yml")
	if o, e, code := grun(t, dir, bin, "vault", "view", "--vault-password-file", pw, "a.yml"); code != 0 || o != "x: 1\n" {
		t.Fatalf("tend vault view: %q %s", o, e)
	}
	if _, e, code := grun(t, dir, bin, "vault", "decrypt", "--vault-password-file", pw, "a.yml"); code != 0 {
		t.Fatalf("tend vault decrypt: %s", e)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a.yml")); string(data) != "x: 1\n" {
		t.Fatalf("decrypted in place: %q", data)
	}
}

// TestVaultBadInput: a wrong password and a corrupt vault file are clear
// errors, and nothing is applied or lost.
func TestVaultBadInput(t *testing.T) {
	gneedTool(t, "ansible-vault")
	bin := tendBinary(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	gwrite(t, pw, "right\n")
	wrong := filepath.Join(dir, "wrong")
	gwrite(t, wrong, "wrong\n")
	gwrite(t, filepath.Join(dir, "vars.yml"), "v: 1\n")
	grun(t, dir, "ansible-vault", "encrypt", "--vault-password-file", pw, "vars.yml")
	good, _ := os.ReadFile(filepath.Join(dir, "vars.yml"))
	lines := strings.Split(string(good), "\n")
	lines[2] = strings.Repeat("z", len(lines[2]))
	gwrite(t, filepath.Join(dir, "corrupt.yml"), strings.Join(lines, "\n"))
	out := filepath.Join(dir, "out")
	for name, c := range map[string]struct{ vars, pw, want string }{
		"wrong password": {"vars.yml", wrong, "wrong vault password"},
		"corrupt file":   {"corrupt.yml", pw, "corrupt"},
	} {
		gwrite(t, filepath.Join(dir, "pb.yml"), fmt.Sprintf("- hosts: localhost\n  gather_facts: false\n  vars_files: [%s]\n  tasks:\n    - copy: dest=%s content=x\n", c.vars, out))
		o, e, code := grun(t, dir, bin, "playbook", "-i", "localhost,", "-c", "local", "--vault-password-file", c.pw, "pb.yml")
		if code == 0 || !strings.Contains(o+e, c.want) {
			t.Errorf("%s: exit %d, want an error saying %q:\n%s%s", name, code, c.want, o, e)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: the play ran anyway", name)
		}
		// the vault CLI refuses too and leaves the file as it was
		before, _ := os.ReadFile(filepath.Join(dir, c.vars))
		if _, e, code := grun(t, dir, bin, "vault", "decrypt", "--vault-password-file", c.pw, c.vars); code == 0 || !strings.Contains(e, c.want) {
			t.Errorf("%s: tend vault decrypt: exit %d: %s", name, code, e)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, c.vars)); !bytes.Equal(before, after) {
			t.Errorf("%s: tend vault decrypt changed the file", name)
		}
	}
}

// TestGuardrailsCLI drives the operator commands through the binary.
func TestGuardrailsCLI(t *testing.T) {
	gitserver.NeedTool(t, "git")
	gitserver.NeedTool(t, "ssh-keygen")
	bin := tendBinary(t)
	dir := t.TempDir()
	repo := gitserver.NewBare(t)
	signer := gitserver.NewSSHSigner(t, "ops@example.com")
	signers := gitserver.WriteAllowedSigners(t, signer.AllowedSignersLine(""))
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	pb := func(c string) string {
		return fmt.Sprintf("- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: dest=%s/motd content=%q\n", out, c)
	}
	cfg := filepath.Join(dir, "tend.yaml")
	gwrite(t, cfg, fmt.Sprintf("source:\n  url: %s\n  verify:\n    mode: ssh\n    allowed_signers: %s\nplaybook: site.yml\nhost: localhost\nbackend: native\nlisten: \"\"\nstate_dir: %s\n",
		repo.URL(), signers, filepath.Join(dir, "state")))
	tend := func(args ...string) (string, string, int) {
		return grun(t, dir, bin, append(args, "--config", cfg)...)
	}
	good := repo.Commit(map[string]string{"site.yml": pb("v1")}, gitserver.SignSSH(signer))
	if o, e, code := tend("agent", "--once"); code != 0 {
		t.Fatalf("agent: %s %s", o, e)
	}
	bad := repo.Commit(map[string]string{"site.yml": pb("unsigned")})
	if _, _, code := tend("agent", "--once"); code == 0 {
		t.Fatal("agent accepted an unsigned commit")
	}
	status, _, _ := tend("status")
	if !strings.Contains(status, bad[:12]) || !strings.Contains(status, "verification") {
		t.Fatalf("tend status does not name the refused commit:\n%s", status)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "motd")); string(data) != "v1" {
		t.Fatalf("unsigned commit applied: %q", data)
	}
	if _, e, code := tend("approve", "feedfacefeed"); code != 1 || !strings.Contains(e, "unknown revision") {
		t.Fatalf("approve unknown: %d %s", code, e)
	}
	if _, e, code := tend("pause", "--reason", "incident 7"); code != 0 {
		t.Fatal(e)
	}
	if status, _, _ := tend("status"); !strings.Contains(status, "incident 7") {
		t.Fatalf("status after pause:\n%s", status)
	}
	if _, e, code := tend("resume"); code != 0 {
		t.Fatal(e)
	}
	repo.ForcePush(good)
	repo.Commit(map[string]string{"site.yml": pb("v2")}, gitserver.SignSSH(signer))
	if o, e, code := tend("agent", "--once"); code != 0 {
		t.Fatalf("agent: %s %s", o, e)
	}
	if o, e, code := tend("rollback"); code != 0 || !strings.Contains(o, good) {
		t.Fatalf("rollback: %d %s %s", code, o, e)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "motd")); string(data) != "v1" {
		t.Fatalf("after rollback: %q", data)
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "state", "audit.jsonl"))
	for _, kind := range []string{"verify_failure", "pause", "resume", "rollback"} {
		if !bytes.Contains(audit, []byte(`"kind":"`+kind+`"`)) {
			t.Errorf("audit has no %s line", kind)
		}
	}
}

// TestVaultEncryptedInventory: a vault-encrypted inventory file decrypts
// transparently and its values are masked in the output.
func TestVaultEncryptedInventory(t *testing.T) {
	gneedTool(t, "ansible-vault")
	bin := tendBinary(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	gwrite(t, pw, "inv-pass\n")
	gwrite(t, filepath.Join(dir, "hosts.yml"), "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      db_password: S3CRET-INVENTORY-11\n")
	if _, e, code := grun(t, dir, bin, "vault", "encrypt", "--vault-password-file", pw, "hosts.yml"); code != 0 {
		t.Fatal(e)
	}
	out := filepath.Join(dir, "out")
	gwrite(t, filepath.Join(dir, "pb.yml"), fmt.Sprintf("- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: dest=%s content={{ db_password }}\n    - debug: var=db_password\n", out))
	o, e, code := grun(t, dir, bin, "playbook", "-i", "hosts.yml", "--vault-password-file", pw, "pb.yml")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	if data, _ := os.ReadFile(out); string(data) != "S3CRET-INVENTORY-11" {
		t.Fatalf("inventory var not decrypted: %q", data)
	}
	if strings.Contains(o+e, "S3CRET-INVENTORY-11") || !strings.Contains(o, "********") {
		t.Fatalf("inventory secret not masked:\n%s%s", o, e)
	}
	if _, e, code := grun(t, dir, bin, "playbook", "-i", "hosts.yml", "pb.yml"); code == 0 || !strings.Contains(e, "vault") {
		t.Fatalf("no password: exit %d %s", code, e)
	}
}

// TestVaultAskPass: --ask-vault-pass and --vault-id ID@prompt read the
// passwords from standard input when it is not a terminal, one line each,
// in the order ansible-playbook asks for them.
func TestVaultAskPass(t *testing.T) {
	gneedTool(t, "ansible-vault")
	gneedTool(t, "ansible-playbook")
	bin := tendBinary(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	gwrite(t, pw, "ask-pass\n")
	pw2 := filepath.Join(dir, "pw-prod")
	gwrite(t, pw2, "prod-pass\n")
	inline, _, _ := grun(t, dir, "ansible-vault", "encrypt_string", "--vault-password-file", pw, "--name", "token", "asked-default")
	gwrite(t, filepath.Join(dir, "inline.yml"), inline)
	gwrite(t, filepath.Join(dir, "prod.yml"), "prod_pass: asked-prod\n")
	grun(t, dir, "ansible-vault", "encrypt", "--vault-id", "prod@"+pw2, "prod.yml")
	for _, tool := range []string{"ansible", "tend"} {
		out := filepath.Join(dir, "out-"+tool)
		gwrite(t, filepath.Join(dir, "pb-"+tool+".yml"), fmt.Sprintf("- hosts: localhost\n  gather_facts: false\n  vars_files: [inline.yml, prod.yml]\n  tasks:\n    - copy:\n        dest: %s\n        content: \"{{ token }} {{ prod_pass }}\\n\"\n", out))
		args := []string{"-i", "localhost,", "-c", "local", "--ask-vault-pass", "--vault-id", "prod@prompt", "pb-" + tool + ".yml"}
		name := "ansible-playbook"
		if tool == "tend" {
			name, args = bin, append([]string{"playbook"}, args...)
		}
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("ask-pass\nprod-pass\n")
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tool, err, o)
		}
		if got, _ := os.ReadFile(out); string(got) != "asked-default asked-prod\n" {
			t.Errorf("%s wrote %q", tool, got)
		}
	}
	// no input: a clear error, nothing written
	out := filepath.Join(dir, "out-none")
	gwrite(t, filepath.Join(dir, "pb-none.yml"), fmt.Sprintf("- hosts: localhost\n  gather_facts: false\n  vars_files: [inline.yml]\n  tasks:\n    - copy:\n        dest: %s\n        content: \"{{ token }}\\n\"\n", out))
	cmd := exec.Command(bin, "playbook", "-i", "localhost,", "-c", "local", "--ask-vault-pass", "pb-none.yml")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("")
	o, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(o), "Vault password") {
		t.Errorf("no password on stdin: err %v, output %s", err, o)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a file was written without the vault password")
	}
}

// TestVaultInlineWrongPassword: a !vault value no password decrypts fails
// the task that uses it, as in Ansible; its ciphertext is never written.
func TestVaultInlineWrongPassword(t *testing.T) {
	gneedTool(t, "ansible-vault")
	bin := tendBinary(t)
	dir := t.TempDir()
	gwrite(t, filepath.Join(dir, "pw"), "right\n")
	gwrite(t, filepath.Join(dir, "wrong"), "wrong\n")
	inline, _, _ := grun(t, dir, "ansible-vault", "encrypt_string", "--vault-password-file", "pw", "--name", "token", "the-secret")
	gwrite(t, filepath.Join(dir, "vars.yml"), inline)
	out := filepath.Join(dir, "out")
	gwrite(t, filepath.Join(dir, "pb.yml"), fmt.Sprintf("- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n    - copy:\n        dest: %s\n        content: \"{{ token }}\"\n", out))
	o, e, code := grun(t, dir, bin, "playbook", "-i", "localhost,", "-c", "local", "--vault-password-file", "wrong", "pb.yml")
	if code != 2 || !strings.Contains(o+e, "token") || !strings.Contains(o+e, "vault") {
		t.Errorf("exit %d, want 2 and an error naming token and the vault:\n%s%s", code, o, e)
	}
	if data, err := os.ReadFile(out); err == nil {
		t.Errorf("the task wrote %q", data)
	}
}
