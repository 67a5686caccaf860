package gitserver

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SSHSigner is an ed25519 key made by ssh-keygen, for signing commits.
type SSHSigner struct {
	KeyFile     string // private key (no passphrase)
	PublicKey   string // "ssh-ed25519 AAAA... comment"
	Fingerprint string // "SHA256:..."
	Principal   string
}

// NewSSHSigner makes a new ed25519 key for principal (e.g. an email address).
func NewSSHSigner(t testing.TB, principal string) *SSHSigner {
	t.Helper()
	NeedTool(t, "ssh-keygen")
	key := filepath.Join(t.TempDir(), "signing_key")
	mustRun(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fp := strings.Fields(mustRun(t, "", nil, "ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub"))
	if len(fp) < 2 {
		t.Fatalf("ssh-keygen -l printed %q", fp)
	}
	return &SSHSigner{KeyFile: key, PublicKey: strings.TrimSpace(string(pub)), Fingerprint: fp[1], Principal: principal}
}

// AllowedSignersLine is this key's line for git's allowed_signers file, with
// options (e.g. `namespaces="git"`) between principal and key when given.
func (s *SSHSigner) AllowedSignersLine(options string) string {
	if options != "" {
		return s.Principal + " " + options + " " + s.PublicKey
	}
	return s.Principal + " " + s.PublicKey
}

// WriteAllowedSigners writes lines to a new allowed_signers file and returns its path.
func WriteAllowedSigners(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// GPGSigner is an OpenPGP key made by gpg in its own GNUPGHOME.
type GPGSigner struct {
	Home        string // GNUPGHOME
	Fingerprint string // upper-case hex, as gpg prints it
	UserID      string
	Armored     string // path of the exported armored public key
}

// NewGPGSigner makes a passphrase-less ed25519 signing key for userID
// ("Name <email>") in a temporary GNUPGHOME and exports its public key.
func NewGPGSigner(t testing.TB, userID string) *GPGSigner {
	t.Helper()
	NeedTool(t, "gpg")
	// gpg-agent's socket path must stay short, so do not nest under t.TempDir.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"GNUPGHOME=" + home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	mustRun(t, "", env, "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", userID, "ed25519", "sign", "never")
	var fpr string
	for _, line := range strings.Split(mustRun(t, "", env, "gpg", "--batch", "--with-colons", "--list-keys", userID), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatalf("gpg made no key for %q", userID)
	}
	armored := filepath.Join(t.TempDir(), "trusted.asc")
	pub := mustRun(t, "", env, "gpg", "--batch", "--armor", "--export", fpr)
	if err := os.WriteFile(armored, []byte(pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &GPGSigner{Home: home, Fingerprint: fpr, UserID: userID, Armored: armored}
}

func mustRun(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}
