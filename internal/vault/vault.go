// Package vault reads and writes ansible-vault data: the $ANSIBLE_VAULT
// envelope in formats 1.1 and 1.2 (with a vault id) and the AES256 cipher as
// Ansible implements it — PBKDF2-SHA256 with 10000 iterations over a 32-byte
// salt giving two 32-byte keys and a 16-byte counter, AES-CTR over
// PKCS#7-padded plaintext, HMAC-SHA256 over the ciphertext, and the whole
// hexlified twice. Files written here decrypt with ansible-vault and the
// other way round. It also reads vault passwords the way Ansible does: a
// file's first line (stripped), or the stdout of the file when it is
// executable.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Header starts every vault file and inline !vault value.
const Header = "$ANSIBLE_VAULT"

// DefaultID is the vault id of a secret given without a label.
const DefaultID = "default"

const (
	iterations = 10000
	keyLen     = 32
	ivLen      = 16
	saltLen    = 32
)

// Secret is one vault password with its vault id ("default" when unlabelled).
type Secret struct {
	ID       string
	Password []byte
}

// ErrWrongPassword means no given secret matched the data's HMAC.
var ErrWrongPassword = errors.New("no vault secret could decrypt the data (wrong vault password?)")

// Envelope is the parsed header of vault data.
type Envelope struct {
	Version string // "1.1" or "1.2"
	Cipher  string // "AES256"
	ID      string // vault id from a 1.2 header; "" otherwise
	body    []byte // the hexlified payload, newlines removed
}

// IsEncrypted reports whether data is ansible-vault data (it starts with the header).
func IsEncrypted(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(Header))
}

// Parse reads the envelope of vault data. Errors say what is malformed.
func Parse(data []byte) (*Envelope, error) {
	text := strings.TrimSpace(string(data))
	first, rest, _ := strings.Cut(text, "\n")
	parts := strings.Split(strings.TrimSpace(first), ";")
	if parts[0] != Header {
		return nil, fmt.Errorf("not ansible-vault data: it must start with %q", Header)
	}
	if len(parts) < 3 {
		return nil, fmt.Errorf("malformed vault header %q: want $ANSIBLE_VAULT;VERSION;CIPHER[;ID]", first)
	}
	e := &Envelope{Version: strings.TrimSpace(parts[1]), Cipher: strings.TrimSpace(parts[2])}
	if len(parts) > 3 {
		e.ID = strings.TrimSpace(parts[3])
	}
	switch e.Version {
	case "1.1", "1.2":
	default:
		return nil, fmt.Errorf("vault format version %q is not supported (only 1.1 and 1.2)", e.Version)
	}
	if e.Cipher != "AES256" {
		return nil, fmt.Errorf("vault cipher %q is not supported (only AES256)", e.Cipher)
	}
	var b strings.Builder
	for _, l := range strings.Split(rest, "\n") {
		b.WriteString(strings.TrimSpace(l))
	}
	e.body = []byte(b.String())
	if len(e.body) == 0 {
		return nil, errors.New("vault data has a header but no ciphertext")
	}
	return e, nil
}

// payload splits the body into salt, hmac and ciphertext.
func (e *Envelope) payload() (salt, mac, ct []byte, err error) {
	inner, err := hex.DecodeString(string(e.body))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vault data is corrupt: the ciphertext is not hex: %w", err)
	}
	parts := bytes.Split(inner, []byte("\n"))
	if len(parts) != 3 {
		return nil, nil, nil, errors.New("vault data is corrupt: expected salt, hmac and ciphertext")
	}
	out := make([][]byte, 3)
	for i, p := range parts {
		if out[i], err = hex.DecodeString(string(p)); err != nil {
			return nil, nil, nil, fmt.Errorf("vault data is corrupt: part %d is not hex: %w", i+1, err)
		}
	}
	if len(out[1]) != sha256.Size || len(out[2]) == 0 || len(out[2])%aes.BlockSize != 0 {
		return nil, nil, nil, errors.New("vault data is corrupt: bad hmac or ciphertext length")
	}
	return out[0], out[1], out[2], nil
}

func deriveKeys(password, salt []byte) (key1, key2, iv []byte, err error) {
	dk, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, 2*keyLen+ivLen)
	if err != nil {
		return nil, nil, nil, err
	}
	return dk[:keyLen], dk[keyLen : 2*keyLen], dk[2*keyLen:], nil
}

// Decrypt decrypts vault data with the first secret that fits: secrets whose
// ID matches the envelope's vault id are tried first, then the others (as
// ansible does by default). It returns the plaintext and the id of the secret
// that worked.
func Decrypt(data []byte, secrets []Secret) ([]byte, string, error) {
	e, err := Parse(data)
	if err != nil {
		return nil, "", err
	}
	if len(secrets) == 0 {
		return nil, "", errors.New("the data is vault-encrypted but no vault password was given")
	}
	salt, mac, ct, err := e.payload()
	if err != nil {
		return nil, "", err
	}
	ordered := make([]Secret, 0, len(secrets))
	for _, s := range secrets {
		if e.ID != "" && s.ID == e.ID {
			ordered = append(ordered, s)
		}
	}
	for _, s := range secrets {
		if e.ID == "" || s.ID != e.ID {
			ordered = append(ordered, s)
		}
	}
	for _, s := range ordered {
		k1, k2, iv, err := deriveKeys(s.Password, salt)
		if err != nil {
			return nil, "", err
		}
		h := hmac.New(sha256.New, k2)
		h.Write(ct)
		if !hmac.Equal(h.Sum(nil), mac) {
			continue
		}
		block, err := aes.NewCipher(k1)
		if err != nil {
			return nil, "", err
		}
		plain := make([]byte, len(ct))
		cipher.NewCTR(block, iv).XORKeyStream(plain, ct)
		n := int(plain[len(plain)-1])
		if n == 0 || n > aes.BlockSize || n > len(plain) || !bytes.Equal(plain[len(plain)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
			return nil, "", errors.New("vault data is corrupt: bad padding after decryption")
		}
		return plain[:len(plain)-n], s.ID, nil
	}
	if e.ID != "" {
		return nil, "", fmt.Errorf("vault id %q: %w", e.ID, ErrWrongPassword)
	}
	return nil, "", ErrWrongPassword
}

// Encrypt encrypts plaintext with s in ansible-vault's envelope: format 1.1
// when s.ID is "" or "default", else 1.2 with the id in the header, in lines
// of 80 characters ending in a newline.
func Encrypt(plaintext []byte, s Secret) ([]byte, error) {
	if len(s.Password) == 0 {
		return nil, errors.New("the vault password is empty")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	k1, k2, iv, err := deriveKeys(s.Password, salt)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append(bytes.Clone(plaintext), bytes.Repeat([]byte{byte(n)}, n)...)
	block, err := aes.NewCipher(k1)
	if err != nil {
		return nil, err
	}
	ct := make([]byte, len(padded))
	cipher.NewCTR(block, iv).XORKeyStream(ct, padded)
	h := hmac.New(sha256.New, k2)
	h.Write(ct)
	inner := strings.Join([]string{hex.EncodeToString(salt), hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(ct)}, "\n")
	body := hex.EncodeToString([]byte(inner))
	header := Header + ";1.1;AES256"
	if s.ID != "" && s.ID != DefaultID {
		header = Header + ";1.2;AES256;" + s.ID
	}
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteByte('\n')
	for i := 0; i < len(body); i += 80 {
		b.WriteString(body[i:min(i+80, len(body))])
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// EncryptString formats an encrypted value as `ansible-vault encrypt_string`
// does: `NAME: !vault |` followed by the envelope indented by 10 spaces.
// With name "" it prints `!vault |` and the envelope.
func EncryptString(plaintext []byte, name string, s Secret) (string, error) {
	data, err := Encrypt(plaintext, s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if name != "" {
		b.WriteString(name + ": ")
	}
	b.WriteString("!vault |\n")
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		b.WriteString("          " + l + "\n")
	}
	return b.String(), nil
}
