package source_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tend-project/tend/internal/source"
	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

func wantVerifyError(t *testing.T, err error, commit, reason string) {
	t.Helper()
	var ve *source.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *VerifyError", err)
	}
	if ve.Commit != commit || !strings.Contains(ve.Reason, reason) {
		t.Fatalf("VerifyError{%s, %q}, want commit %s and a reason containing %q", ve.Commit, ve.Reason, commit, reason)
	}
}

func TestVerifySSH(t *testing.T) {
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	mallory := gitserver.NewSSHSigner(t, "mallory@example.com")
	allowed := gitserver.WriteAllowedSigners(t, "# trusted", alice.AllowedSignersLine(`namespaces="git"`))
	b := gitserver.NewBare(t)
	c1 := b.Commit(map[string]string{"f": "1"}, gitserver.SignSSH(alice))
	cfg := source.Config{URL: b.URL(), Ref: "main", Verify: source.VerifyConfig{Mode: "ssh", AllowedSigners: allowed}}
	r := open(t, cfg)

	rev := sync(t, r, "")
	if rev.Hash != c1 || rev.Signer != alice.Fingerprint || rev.Principal != "alice@example.com" {
		t.Fatalf("Sync = %+v, want signer %s principal alice@example.com", rev, alice.Fingerprint)
	}
	if !strings.HasPrefix(rev.Signer, "SHA256:") {
		t.Fatalf("signer %q is not an SSH fingerprint", rev.Signer)
	}

	// Unsigned tip: refused, work tree stays at c1.
	c2 := b.Commit(map[string]string{"f": "2"})
	_, err := r.Sync(context.Background(), c1)
	wantVerifyError(t, err, c2, "not signed")
	wantTree(t, r.Dir(), map[string]string{"f": "1"})

	// Signed by a key that is not trusted: refused, naming the key.
	c3 := b.Commit(map[string]string{"f": "3"}, gitserver.SignSSH(mallory))
	_, err = r.Sync(context.Background(), c1)
	wantVerifyError(t, err, c3, mallory.Fingerprint)
	wantTree(t, r.Dir(), map[string]string{"f": "1"})

	// A good tip over an unsigned middle commit: accepted by default,
	// caught with AllCommits.
	c4 := b.Commit(map[string]string{"f": "4"}, gitserver.SignSSH(alice))
	cfg.Verify.AllCommits = true
	cfg.Dir = r.Dir()
	strict := open(t, cfg)
	_, err = strict.Sync(context.Background(), c1)
	wantVerifyError(t, err, c2, "not signed")
	if rev := sync(t, r, c1); rev.Hash != c4 || rev.Signer != alice.Fingerprint {
		t.Fatalf("Sync (tip only) = %+v", rev)
	}
	wantTree(t, r.Dir(), map[string]string{"f": "4"})

	// Verify lists what passed up to the failure.
	revs, err := r.Verify(context.Background(), "", c4)
	if err != nil || len(revs) != 1 || revs[0].Hash != c4 {
		t.Fatalf("Verify(tip) = %+v, %v", revs, err)
	}
	revs, err = strict.Verify(context.Background(), c1, c4)
	wantVerifyError(t, err, c2, "not signed")
	if len(revs) != 0 {
		t.Fatalf("Verify returned %d revisions before the failure, want 0", len(revs))
	}
	c5 := b.Commit(map[string]string{"f": "5"}, gitserver.SignSSH(alice))
	c6 := b.Commit(map[string]string{"f": "6"}, gitserver.SignSSH(alice))
	if rev := sync(t, strict, c4); rev.Hash != c6 {
		t.Fatalf("AllCommits Sync = %s, want %s", rev.Hash, c6)
	}
	revs, err = strict.Verify(context.Background(), c4, c6)
	if err != nil || len(revs) != 2 || revs[0].Hash != c5 || revs[1].Hash != c6 {
		t.Fatalf("Verify(c4..c6) = %+v, %v; want c5, c6", revs, err)
	}
}

func TestVerifySSHAllowedSignersOptions(t *testing.T) {
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	b := gitserver.NewBare(t)
	c1 := b.Commit(map[string]string{"f": "1"}, gitserver.SignSSH(alice)) // committed 2026-01-01
	for _, tc := range []struct {
		options, reason string
	}{
		{`namespaces="file"`, `namespace "git"`},
		{`valid-after="20300101"`, "before valid-after"},
		{`valid-before="20250101Z"`, "not before valid-before"},
		{`valid-after="20250101",valid-before="20270101"`, ""},
		{`namespaces="file,g*"`, ""},
	} {
		t.Run(tc.options, func(t *testing.T) {
			allowed := gitserver.WriteAllowedSigners(t, alice.AllowedSignersLine(tc.options))
			r := open(t, source.Config{URL: b.URL(), Verify: source.VerifyConfig{Mode: "ssh", AllowedSigners: allowed}})
			rev, err := r.Sync(context.Background(), "")
			if tc.reason == "" {
				if err != nil || rev.Signer != alice.Fingerprint {
					t.Fatalf("Sync = %+v, %v", rev, err)
				}
				return
			}
			wantVerifyError(t, err, c1, tc.reason)
			if !strings.Contains(err.Error(), allowed+":1") {
				t.Fatalf("error does not name %s:1: %v", allowed, err)
			}
		})
	}
}

func TestAllowedSignersErrorsNameLine(t *testing.T) {
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	b := gitserver.NewBare(t)
	for _, tc := range []struct {
		line, want string
	}{
		{alice.AllowedSignersLine("cert-authority"), "cert-authority is not supported"},
		{alice.AllowedSignersLine(`frobnicate="1"`), "unsupported option"},
		{alice.AllowedSignersLine(`valid-after="2026"`), "valid-after"},
		{"alice@example.com ssh-ed25519 notbase64!!", "bad public key"},
		{"alice@example.com", "want `principals"},
	} {
		allowed := gitserver.WriteAllowedSigners(t, "# header", "", tc.line)
		_, err := source.Open(source.Config{URL: b.URL(), Dir: t.TempDir(), Verify: source.VerifyConfig{Mode: "ssh", AllowedSigners: allowed}})
		if err == nil || !strings.Contains(err.Error(), "source.verify.allowed_signers: "+allowed+":3: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("line %q: err = %v, want source.verify.allowed_signers: %s:3: ...%s", tc.line, err, allowed, tc.want)
		}
	}
}

func TestVerifyOpenPGP(t *testing.T) {
	alice := gitserver.NewGPGSigner(t, "Alice Admin <alice@example.com>")
	mallory := gitserver.NewGPGSigner(t, "Mallory <mallory@example.com>")
	sshKey := gitserver.NewSSHSigner(t, "alice@example.com")
	b := gitserver.NewBare(t)
	c1 := b.Commit(map[string]string{"f": "1"}, gitserver.SignGPG(alice))
	r := open(t, source.Config{URL: b.URL(), Ref: "main", Verify: source.VerifyConfig{Mode: "openpgp", Keyring: alice.Armored}})
	rev := sync(t, r, "")
	if rev.Hash != c1 || rev.Signer != alice.Fingerprint || rev.Principal != "Alice Admin <alice@example.com>" {
		t.Fatalf("Sync = %+v, want signer %s", rev, alice.Fingerprint)
	}

	c2 := b.Commit(map[string]string{"f": "2"})
	_, err := r.Sync(context.Background(), c1)
	wantVerifyError(t, err, c2, "not signed")

	c3 := b.Commit(map[string]string{"f": "3"}, gitserver.SignGPG(mallory))
	_, err = r.Sync(context.Background(), c1)
	wantVerifyError(t, err, c3, "not in "+alice.Armored)

	c4 := b.Commit(map[string]string{"f": "4"}, gitserver.SignSSH(sshKey))
	_, err = r.Sync(context.Background(), c1)
	wantVerifyError(t, err, c4, "ssh signature, but source.verify.mode is openpgp")
	wantTree(t, r.Dir(), map[string]string{"f": "1"})

	c5 := b.Commit(map[string]string{"f": "5"}, gitserver.SignGPG(alice))
	if rev := sync(t, r, c1); rev.Hash != c5 || rev.Signer != alice.Fingerprint {
		t.Fatalf("Sync = %+v", rev)
	}
}

func TestKeyringErrorsNameLine(t *testing.T) {
	alice := gitserver.NewGPGSigner(t, "Alice Admin <alice@example.com>")
	good := strings.TrimSpace(string(mustRead(t, alice.Armored)))
	lines := strings.Split(good, "\n")
	// Damage the base64 body of a second block that starts on line 3 + len(lines).
	damaged := append([]string{}, lines...)
	damaged[len(damaged)/2] = "!!!!not base64!!!!"
	b := gitserver.NewBare(t)
	for _, tc := range []struct {
		content, want string
	}{
		{"# trusted\n\n" + good + "\n" + strings.Join(damaged, "\n") + "\n", ":" + itoa(3+len(lines)) + ": public key block does not parse"},
		{good + "\n" + lines[0] + "\n", ":" + itoa(len(lines)+1) + ": public key block has no"},
		{"hello\n", "no -----BEGIN PGP PUBLIC KEY BLOCK-----"},
		{"-----BEGIN PGP PRIVATE KEY BLOCK-----\n", ":1: holds a private key"},
	} {
		kr := write(t, tc.content)
		_, err := source.Open(source.Config{URL: b.URL(), Dir: t.TempDir(), Verify: source.VerifyConfig{Mode: "openpgp", Keyring: kr}})
		if err == nil || !strings.Contains(err.Error(), "source.verify.keyring: "+kr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("keyring %q...: err = %v, want %q", firstLineOf(tc.content), err, tc.want)
		}
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := osReadFile(p)
	must(t, err)
	return b
}

func firstLineOf(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func itoa(n int) string { return strconv.Itoa(n) }

var osReadFile = os.ReadFile

func TestVerifyTamperedCommit(t *testing.T) {
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	palice := gitserver.NewGPGSigner(t, "Alice Admin <alice@example.com>")
	for _, tc := range []struct {
		name string
		sign gitserver.CommitOption
		cfg  source.VerifyConfig
	}{
		{"ssh", gitserver.SignSSH(alice), source.VerifyConfig{Mode: "ssh", AllowedSigners: gitserver.WriteAllowedSigners(t, alice.AllowedSignersLine(""))}},
		{"openpgp", gitserver.SignGPG(palice), source.VerifyConfig{Mode: "openpgp", Keyring: palice.Armored}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := gitserver.NewBare(t)
			c1 := b.Commit(map[string]string{"f": "1"}, tc.sign)
			bad := b.Tamper(c1, "sneaky")
			r := open(t, source.Config{URL: b.URL(), Ref: "main", Verify: tc.cfg, AllowForcePush: true})
			_, err := r.Sync(context.Background(), "")
			wantVerifyError(t, err, bad, "bad")
		})
	}
}

func TestVerifyAllCommitsAcrossMerge(t *testing.T) {
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	allowed := gitserver.WriteAllowedSigners(t, alice.AllowedSignersLine(""))
	b := gitserver.NewBare(t)
	c0 := b.Commit(map[string]string{"f": "0"}) // unsigned, but before applied
	c1 := b.Commit(map[string]string{"f": "1"}, gitserver.SignSSH(alice))
	cfg := source.Config{URL: b.URL(), Ref: "main", Verify: source.VerifyConfig{Mode: "ssh", AllowedSigners: allowed, AllCommits: true}}
	r := open(t, cfg)
	sync(t, r, "")

	// A side branch forked from c0, merged into main after c1.
	b.Git("checkout", "-q", "-b", "side", c0)
	s1 := b.Commit(map[string]string{"g": "side"}, gitserver.SignSSH(alice), gitserver.NoPush())
	b.Git("checkout", "-q", "main")
	b.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+alice.KeyFile, "merge", "-q", "-S", "--no-edit", "side")
	m := b.Git("rev-parse", "HEAD")
	b.Git("push", "-q", "origin", "main")

	if rev := sync(t, r, c1); rev.Hash != m {
		t.Fatalf("Sync = %s, want merge %s", rev.Hash, m)
	}
	revs, err := r.Verify(context.Background(), c1, m)
	if err != nil || len(revs) != 2 || revs[0].Hash != s1 || revs[1].Hash != m {
		t.Fatalf("Verify(c1..merge) = %+v, %v; want [side commit, merge] without older history", revs, err)
	}

	// An unsigned commit on a merged side branch is caught.
	b.Git("checkout", "-q", "side")
	s2 := b.Commit(map[string]string{"g": "unsigned"}, gitserver.NoPush())
	b.Git("checkout", "-q", "main")
	b.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+alice.KeyFile, "merge", "-q", "-S", "--no-edit", "side")
	b.Git("push", "-q", "origin", "main")
	_, err = r.Sync(context.Background(), m)
	wantVerifyError(t, err, s2, "not signed")
}
