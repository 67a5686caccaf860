package vault

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needAnsibleVault(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ansible-vault"); err != nil {
		t.Skip("ansible-vault not installed (apt install ansible-core)")
	}
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func ansibleVault(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("ansible-vault", args...)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-vault %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []Secret{{ID: DefaultID, Password: []byte("pw")}, {ID: "prod", Password: []byte("other")}} {
		for _, plain := range []string{"", "x", "0123456789abcdef", strings.Repeat("secret\n", 100)} {
			enc, err := Encrypt([]byte(plain), s)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(enc, []byte(plain)) && plain != "" {
				t.Fatal("plaintext visible in ciphertext")
			}
			got, id, err := Decrypt(enc, []Secret{{ID: "x", Password: []byte("nope")}, s})
			if err != nil || string(got) != plain || id != s.ID {
				t.Fatalf("round trip %q: %q %q %v", plain, got, id, err)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	good, _ := Encrypt([]byte("data"), Secret{ID: DefaultID, Password: []byte("pw")})
	if _, _, err := Decrypt(good, []Secret{{Password: []byte("wrong")}}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	lines := strings.Split(string(good), "\n")
	corrupt := lines[0] + "\n" + "zz" + strings.Join(lines[1:], "\n")[2:]
	cases := map[string]string{
		"corrupt hex":  corrupt,
		"truncated":    lines[0] + "\n" + lines[1][:40] + "\n",
		"no body":      lines[0] + "\n",
		"bad header":   "$ANSIBLE_VAULT;9.9;AES256\n" + strings.Join(lines[1:], "\n"),
		"bad cipher":   "$ANSIBLE_VAULT;1.1;DES\n" + strings.Join(lines[1:], "\n"),
		"short header": "$ANSIBLE_VAULT;1.1\n" + strings.Join(lines[1:], "\n"),
		"not vault":    "hello: world\n",
	}
	for name, data := range cases {
		_, _, err := Decrypt([]byte(data), []Secret{{Password: []byte("pw")}})
		if err == nil || errors.Is(err, ErrWrongPassword) && name != "truncated" {
			t.Errorf("%s: want a corruption error, got %v", name, err)
		}
	}
}

// Files encrypted by ansible-vault (1.1 and 1.2 with --vault-id) decrypt here.
func TestDecryptAnsibleVaultFiles(t *testing.T) {
	needAnsibleVault(t)
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "hunter2\n", 0o600)
	pw2 := writeFile(t, dir, "pw2", "prod-pass\n", 0o600)
	f1 := writeFile(t, dir, "v11.yml", "db_password: s3cret\n", 0o600)
	f2 := writeFile(t, dir, "v12.yml", "api_key: k3y\n", 0o600)
	ansibleVault(t, "encrypt", "--vault-password-file", pw, f1)
	ansibleVault(t, "encrypt", "--vault-id", "prod@"+pw2, f2)
	secrets, err := LoadSecrets(context.Background(), []string{pw}, []string{"prod@" + pw2})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := os.ReadFile(f1)
	d2, _ := os.ReadFile(f2)
	if !strings.HasPrefix(string(d1), "$ANSIBLE_VAULT;1.1;AES256\n") || !strings.HasPrefix(string(d2), "$ANSIBLE_VAULT;1.2;AES256;prod\n") {
		t.Fatalf("unexpected headers:\n%s\n%s", d1, d2)
	}
	if got, id, err := Decrypt(d1, secrets); err != nil || string(got) != "db_password: s3cret\n" || id != DefaultID {
		t.Fatalf("1.1: %q %q %v", got, id, err)
	}
	if got, id, err := Decrypt(d2, secrets); err != nil || string(got) != "api_key: k3y\n" || id != "prod" {
		t.Fatalf("1.2: %q %q %v", got, id, err)
	}
	if _, _, err := Decrypt(d2, secrets[:1]); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("1.2 with only the default secret: %v", err)
	}
}

// Files encrypted here decrypt with ansible-vault, and inline values too.
func TestAnsibleVaultDecryptsOurs(t *testing.T) {
	needAnsibleVault(t)
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "hunter2\n", 0o600)
	for _, id := range []string{DefaultID, "prod"} {
		enc, err := Encrypt([]byte("token: abc\n"), Secret{ID: id, Password: []byte("hunter2")})
		if err != nil {
			t.Fatal(err)
		}
		f := writeFile(t, dir, "f-"+id, string(enc), 0o600)
		src := pw
		if id != DefaultID {
			src = id + "@" + pw
		}
		if out := ansibleVault(t, "view", "--vault-id", src, f); out != "token: abc\n" {
			t.Fatalf("ansible-vault view (%s) = %q", id, out)
		}
	}
}

func TestEncryptStringFromAnsible(t *testing.T) {
	needAnsibleVault(t)
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "hunter2", 0o600)
	out := ansibleVault(t, "encrypt_string", "--vault-password-file", pw, "--name", "secret", "inline-value")
	_, body, ok := strings.Cut(out, "!vault |\n")
	if !ok {
		t.Fatalf("encrypt_string output: %q", out)
	}
	got, _, err := Decrypt([]byte(body), []Secret{{ID: DefaultID, Password: []byte("hunter2")}})
	if err != nil || string(got) != "inline-value" {
		t.Fatalf("inline: %q %v", got, err)
	}
	ours, err := EncryptString([]byte("mine"), "x", Secret{ID: DefaultID, Password: []byte("hunter2")})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "vars.yml", ours, 0o600)
	pb := writeFile(t, dir, "pb.yml", "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n    - debug: msg=\"VALUE={{ x }}\"\n", 0o600)
	cmd := exec.Command("ansible-playbook", "-i", "localhost,", "-c", "local", "--vault-password-file", pw, pb)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1")
	res, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(res), "VALUE=mine") {
		t.Fatalf("ansible-playbook with our !vault value: %v\n%s", err, res)
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "pw", " spaced pw \r\n", 0o600)
	if pw, err := ReadPassword(context.Background(), f, ""); err != nil || string(pw) != " spaced pw " {
		t.Fatalf("file: %q %v", pw, err)
	}
	s := writeFile(t, dir, "pw.sh", "#!/bin/sh\necho from-script\n", 0o700)
	if pw, err := ReadPassword(context.Background(), s, ""); err != nil || string(pw) != "from-script" {
		t.Fatalf("script: %q %v", pw, err)
	}
	c := writeFile(t, dir, "vault-client.sh", "#!/bin/sh\necho \"id=$2\"\n", 0o700)
	if pw, err := ReadPassword(context.Background(), c, "prod"); err != nil || string(pw) != "id=prod" {
		t.Fatalf("client script: %q %v", pw, err)
	}
	empty := writeFile(t, dir, "empty", "\n", 0o600)
	if _, err := ReadPassword(context.Background(), empty, ""); err == nil {
		t.Fatal("empty password file accepted")
	}
	fail := writeFile(t, dir, "fail.sh", "#!/bin/sh\nexit 3\n", 0o700)
	if _, err := ReadPassword(context.Background(), fail, ""); err == nil {
		t.Fatal("failing script accepted")
	}
}
