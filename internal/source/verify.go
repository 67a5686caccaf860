package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

const (
	sshSigHeader = "-----BEGIN SSH SIGNATURE-----"
	pgpSigHeader = "-----BEGIN PGP SIGNATURE-----"
	// sshNamespace is the namespace git signs commits in.
	sshNamespace = "git"
)

// checkVerifyConfig validates source.verify at Open: the mode is known and
// the trust file it needs exists and parses.
func (r *Repo) checkVerifyConfig() error {
	v := r.cfg.Verify
	switch v.Mode {
	case "", ModeNone:
		r.cfg.Verify.Mode = ModeNone
	case ModeSSH:
		if v.AllowedSigners == "" {
			return errors.New("source.verify.allowed_signers: missing: verify.mode ssh needs git's allowed_signers file")
		}
		if _, err := readAllowedSigners(v.AllowedSigners); err != nil {
			return fmt.Errorf("source.verify.allowed_signers: %w", err)
		}
	case ModeOpenPGP:
		if v.Keyring == "" {
			return errors.New("source.verify.keyring: missing: verify.mode openpgp needs an armored keyring")
		}
		if _, err := readKeyring(v.Keyring); err != nil {
			return fmt.Errorf("source.verify.keyring: %w", err)
		}
	default:
		return fmt.Errorf("source.verify.mode: unknown mode %q (want none, ssh or openpgp)", v.Mode)
	}
	return nil
}

// verifier checks one commit; with mode none it only describes it.
type verifier interface {
	verify(c *object.Commit) (Revision, error)
}

// newVerifier reads the trust file again, so edits apply without a restart.
func (r *Repo) newVerifier() (verifier, error) {
	switch r.cfg.Verify.Mode {
	case ModeSSH:
		signers, err := readAllowedSigners(r.cfg.Verify.AllowedSigners)
		if err != nil {
			return nil, fmt.Errorf("source.verify.allowed_signers: %w", err)
		}
		return &sshVerifier{signers: signers, file: r.cfg.Verify.AllowedSigners}, nil
	case ModeOpenPGP:
		kr, err := readKeyring(r.cfg.Verify.Keyring)
		if err != nil {
			return nil, fmt.Errorf("source.verify.keyring: %w", err)
		}
		return &pgpVerifier{keyring: kr, file: r.cfg.Verify.Keyring}, nil
	}
	return noVerifier{}, nil
}

// Verify verifies `to` and, when from is not empty, every commit reachable
// from `to` but not from `from` (git rev-list from..to), oldest first. It
// returns the revisions that passed; the first failure is a *VerifyError.
// With mode none it only describes the commits.
func (r *Repo) Verify(ctx context.Context, from, to string) ([]Revision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lr, err := r.openExisting()
	if err != nil {
		return nil, err
	}
	tip, err := resolveLocal(lr, to)
	if err != nil {
		return nil, err
	}
	var commits []*object.Commit
	if from != "" {
		base, err := resolveLocal(lr, from)
		if err != nil {
			return nil, err
		}
		if commits, _, err = rangeCommits(lr, base, tip); err != nil {
			return nil, err
		}
	}
	if len(commits) == 0 || commits[len(commits)-1].Hash != tip {
		c, err := lr.CommitObject(tip)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", tip, err)
		}
		commits = append(commits, c)
	}
	v, err := r.newVerifier()
	if err != nil {
		return nil, err
	}
	var out []Revision
	for _, c := range commits {
		rv, err := v.verify(c)
		if err != nil {
			return out, err
		}
		out = append(out, rv)
	}
	return out, nil
}

type noVerifier struct{}

func (noVerifier) verify(c *object.Commit) (Revision, error) { return describe(c), nil }

// payload is the commit as it was signed: encoded without its gpgsig header.
func payload(c *object.Commit) ([]byte, error) {
	enc := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(enc); err != nil {
		return nil, fmt.Errorf("encode commit %s: %w", c.Hash, err)
	}
	rd, err := enc.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func signatureKind(c *object.Commit) string {
	s := strings.TrimSpace(c.PGPSignature)
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(s, sshSigHeader):
		return ModeSSH
	case strings.HasPrefix(s, pgpSigHeader):
		return ModeOpenPGP
	}
	return "unknown"
}

func wrongKind(c *object.Commit, want string) *VerifyError {
	switch got := signatureKind(c); got {
	case "":
		return &VerifyError{Commit: c.Hash.String(), Reason: "commit is not signed"}
	case "unknown":
		return &VerifyError{Commit: c.Hash.String(), Reason: "signature is neither an SSH nor an OpenPGP signature (x509 signatures are not supported)"}
	default:
		return &VerifyError{Commit: c.Hash.String(), Reason: fmt.Sprintf("commit has an %s signature, but source.verify.mode is %s", got, want)}
	}
}

type sshVerifier struct {
	signers []allowedSigner
	file    string
}

func (v *sshVerifier) verify(c *object.Commit) (Revision, error) {
	if signatureKind(c) != ModeSSH {
		return Revision{}, wrongKind(c, ModeSSH)
	}
	fail := func(format string, args ...any) (Revision, error) {
		return Revision{}, &VerifyError{Commit: c.Hash.String(), Reason: fmt.Sprintf(format, args...)}
	}
	sig, err := sshsig.Unarmor([]byte(strings.TrimSpace(c.PGPSignature)))
	if err != nil {
		return fail("malformed SSH signature: %v", err)
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	msg, err := payload(c)
	if err != nil {
		return Revision{}, err
	}
	when := c.Committer.When
	var reasons []string
	matched := false
	for _, s := range v.signers {
		if !bytes.Equal(s.key.Marshal(), sig.PublicKey.Marshal()) {
			continue
		}
		matched = true
		if reason := s.allows(sshNamespace, when); reason != "" {
			reasons = append(reasons, fmt.Sprintf("%s:%d: %s", v.file, s.line, reason))
			continue
		}
		if err := sshsig.Verify(bytes.NewReader(msg), sig, s.key, sig.HashAlgorithm, sshNamespace); err != nil {
			return fail("bad SSH signature by %s: %v", fp, err)
		}
		rv := describe(c)
		rv.Signer, rv.Principal = fp, s.principals
		return rv, nil
	}
	if !matched {
		return fail("signed by %s %s, which is not in %s", sig.PublicKey.Type(), fp, v.file)
	}
	return fail("key %s is not allowed to sign this commit: %s", fp, strings.Join(reasons, "; "))
}

type pgpVerifier struct {
	keyring openpgp.EntityList
	file    string
}

func (v *pgpVerifier) verify(c *object.Commit) (Revision, error) {
	if signatureKind(c) != ModeOpenPGP {
		return Revision{}, wrongKind(c, ModeOpenPGP)
	}
	fail := func(format string, args ...any) (Revision, error) {
		return Revision{}, &VerifyError{Commit: c.Hash.String(), Reason: fmt.Sprintf(format, args...)}
	}
	block, err := armor.Decode(strings.NewReader(strings.TrimSpace(c.PGPSignature)))
	if err != nil {
		return fail("malformed OpenPGP signature: %v", err)
	}
	raw, err := io.ReadAll(block.Body)
	if err != nil {
		return fail("malformed OpenPGP signature: %v", err)
	}
	by := "an unknown key"
	if p, err := packet.Read(bytes.NewReader(raw)); err == nil {
		if ps, ok := p.(*packet.Signature); ok {
			switch {
			case len(ps.IssuerFingerprint) > 0:
				by = fmt.Sprintf("%X", ps.IssuerFingerprint)
			case ps.IssuerKeyId != nil:
				by = fmt.Sprintf("key id %016X", *ps.IssuerKeyId)
			}
		}
	}
	msg, err := payload(c)
	if err != nil {
		return Revision{}, err
	}
	sig, signer, err := openpgp.VerifyDetachedSignature(v.keyring, bytes.NewReader(msg), bytes.NewReader(raw), nil)
	if err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return fail("signed by OpenPGP key %s, which is not in %s", by, v.file)
		}
		return fail("bad OpenPGP signature by %s: %v", by, err)
	}
	rv := describe(c)
	rv.Signer = signingFingerprint(signer, sig.IssuerKeyId, sig.IssuerFingerprint)
	if id := signer.PrimaryIdentity(); id != nil {
		rv.Principal = id.Name
	}
	return rv, nil
}

// signingFingerprint is the fingerprint of the (sub)key that made the signature.
func signingFingerprint(e *openpgp.Entity, keyID *uint64, fpr []byte) string {
	if len(fpr) > 0 {
		return strings.ToUpper(fmt.Sprintf("%x", fpr))
	}
	if keyID != nil {
		for _, sk := range e.Subkeys {
			if sk.PublicKey.KeyId == *keyID {
				return strings.ToUpper(fmt.Sprintf("%x", sk.PublicKey.Fingerprint))
			}
		}
	}
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}
