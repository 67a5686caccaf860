package source

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// allowedSigner is one line of git's allowed_signers file (ssh-keygen(1),
// ALLOWED SIGNERS): principals, options, key.
type allowedSigner struct {
	line        int
	principals  string   // as written, e.g. "alice@example.com,ops@example.com"
	namespaces  []string // patterns; empty = any
	validAfter  time.Time
	validBefore time.Time
	key         ssh.PublicKey
}

// allows says why the key may not sign in namespace at time when ("" = it may).
func (s allowedSigner) allows(namespace string, when time.Time) string {
	if len(s.namespaces) > 0 && !matchPatternList(s.namespaces, namespace) {
		return fmt.Sprintf("namespace %q is not in namespaces=%q", namespace, strings.Join(s.namespaces, ","))
	}
	if !s.validAfter.IsZero() && when.Before(s.validAfter) {
		return fmt.Sprintf("commit time %s is before valid-after %s", when.UTC().Format(time.RFC3339), s.validAfter.UTC().Format(time.RFC3339))
	}
	if !s.validBefore.IsZero() && !when.Before(s.validBefore) {
		return fmt.Sprintf("commit time %s is not before valid-before %s", when.UTC().Format(time.RFC3339), s.validBefore.UTC().Format(time.RFC3339))
	}
	return ""
}

// matchPatternList is OpenSSH's match_pattern_list for a comma list of
// patterns with * and ?, where a !pattern that matches vetoes.
func matchPatternList(patterns []string, s string) bool {
	ok := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if m, err := path.Match(p, s); err == nil && m {
			if neg {
				return false
			}
			ok = true
		}
	}
	return ok
}

// readAllowedSigners parses git's allowed_signers file. Errors name file:line.
func readAllowedSigners(file string) ([]allowedSigner, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []allowedSigner
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseAllowedSigner(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		s.line = n
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no signers listed (want lines like `alice@example.com namespaces=\"git\" ssh-ed25519 AAAA...`)", file)
	}
	return out, nil
}

func parseAllowedSigner(line string) (allowedSigner, error) {
	var s allowedSigner
	principals, rest, err := cutField(line)
	if err != nil {
		return s, err
	}
	if principals == "" || strings.TrimSpace(rest) == "" {
		return s, fmt.Errorf("want `principals [options] keytype key`, got %q", line)
	}
	s.principals = principals
	key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return s, fmt.Errorf("bad public key after principals %q: %v", principals, err)
	}
	s.key = key
	if _, ok := key.(*ssh.Certificate); ok {
		return s, fmt.Errorf("certificates are not supported as signer keys; list the signer's plain public key")
	}
	for _, opt := range options {
		name, val, hasVal := strings.Cut(opt, "=")
		name = strings.ToLower(name)
		if hasVal {
			val = strings.Trim(val, `"`)
		}
		switch name {
		case "cert-authority":
			return s, fmt.Errorf("cert-authority is not supported by tend; list each signer's own key instead")
		case "namespaces":
			if !hasVal || val == "" {
				return s, fmt.Errorf("namespaces needs a value, e.g. namespaces=\"git\"")
			}
			s.namespaces = strings.Split(val, ",")
		case "valid-after", "valid-before":
			if !hasVal {
				return s, fmt.Errorf("%s needs a value, e.g. %s=\"20260101\"", name, name)
			}
			t, err := parseSSHTime(val)
			if err != nil {
				return s, fmt.Errorf("%s=%q: %v", name, val, err)
			}
			if name == "valid-after" {
				s.validAfter = t
			} else {
				s.validBefore = t
			}
		default:
			return s, fmt.Errorf("unsupported option %q (tend knows namespaces, valid-after, valid-before)", opt)
		}
	}
	return s, nil
}

// cutField splits off the first whitespace-separated field, which may be
// double-quoted.
func cutField(line string) (field, rest string, err error) {
	if strings.HasPrefix(line, `"`) {
		end := strings.Index(line[1:], `"`)
		if end < 0 {
			return "", "", fmt.Errorf("unterminated quote in principals")
		}
		return line[1 : end+1], strings.TrimSpace(line[end+2:]), nil
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, "", nil
	}
	return line[:i], strings.TrimSpace(line[i:]), nil
}

// parseSSHTime parses ssh-keygen's YYYYMMDD[HHMM[SS]][Z] times: local time
// unless Z (UTC) is given.
func parseSSHTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		loc = time.UTC
		v = v[:len(v)-1]
	}
	var layout string
	switch len(v) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, fmt.Errorf("want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z")
	}
	return time.ParseInLocation(layout, v, loc)
}

const (
	pgpPublicBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	pgpPublicEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
)

// readKeyring reads armored OpenPGP public keys: one or more armored blocks.
// Errors name file:line of the block that does not parse.
func readKeyring(file string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var (
		out   openpgp.EntityList
		block []string
		start int
	)
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSpace(raw)
		switch {
		case block == nil && line == pgpPublicBegin:
			block, start = []string{line}, n
		case block == nil && strings.HasPrefix(line, "-----BEGIN PGP PRIVATE KEY BLOCK-----"):
			return nil, fmt.Errorf("%s:%d: holds a private key; the keyring must hold public keys only (gpg --armor --export)", file, n)
		case block == nil && strings.HasPrefix(line, "-----BEGIN "):
			return nil, fmt.Errorf("%s:%d: %q is not an armored public key block (gpg --armor --export)", file, n, line)
		case block == nil:
			// text around blocks is allowed, as gpg allows it
		case line == pgpPublicEnd:
			block = append(block, line)
			el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(strings.Join(block, "\n") + "\n"))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: public key block does not parse: %v", file, start, err)
			}
			out = append(out, el...)
			block = nil
		default:
			block = append(block, line)
		}
	}
	if block != nil {
		return nil, fmt.Errorf("%s:%d: public key block has no %s line", file, start, pgpPublicEnd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no %s found (export keys with gpg --armor --export)", file, pgpPublicBegin)
	}
	return out, nil
}
