package source

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzAllowedSigners: no allowed_signers file makes the parser panic, and a
// signer it accepts can be asked whether it may sign.
func FuzzAllowedSigners(f *testing.F) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmUAxjpELXCfm+XzPnw9GXOC5f2O6bhBR9D4NuHNIip"
	for _, s := range []string{
		"alice@example.com " + key,
		"alice@example.com,*@corp.example namespaces=\"git\" " + key,
		"\"alice smith\" valid-after=\"20260101\",valid-before=\"20270101Z\" " + key,
		"# comment\n\n*@example.com namespaces=\"git,file\" valid-after=202601011200 " + key + " comment\n",
		"alice cert-authority " + key, "alice namespaces= " + key, "\"unterminated " + key, "alice ssh-ed25519 AAAA",
		"alice valid-before=\"99999999999999\" " + key,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "allowed_signers")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		signers, err := readAllowedSigners(path)
		if err != nil {
			return
		}
		for _, s := range signers {
			_ = s.allows("git", time.Now())
			_ = s.allows("", time.Time{})
		}
		_, _ = parseSSHTime(text)
	})
}
