package template

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
	"strings"
)

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func registerCrypt() {
	filters["password_hash"] = func(_ *scope, in any, args []any, kw map[string]any) any {
		kind := toStr(arg(args, kw, 0, "hashtype", "sha512"))
		salt, _ := arg(args, kw, 1, "salt", nil).(string)
		rounds, _ := arg(args, kw, 2, "rounds", 0).(int)
		if salt == "" {
			salt = randomSalt(16)
		}
		switch kind {
		case "sha512", "sha512_crypt":
			if rounds == 0 {
				rounds = 656000 // Ansible 2.14's default, as passlib's
			}
			return shaCrypt(sha512.New, "6", toStr(in), salt, rounds)
		case "sha256", "sha256_crypt":
			if rounds == 0 {
				rounds = 535000
			}
			return shaCrypt(sha256.New, "5", toStr(in), salt, rounds)
		}
		fail("password_hash: unsupported hash type %s (tend supports sha512 and sha256)", kind)
		return nil
	}
}

func randomSalt(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		fail("password_hash: %v", err)
	}
	for i := range b {
		b[i] = cryptAlphabet[int(b[i])%len(cryptAlphabet)]
	}
	return string(b)
}

// shaCrypt is the SHA-crypt scheme ($5$/$6$) of glibc's crypt(3).
func shaCrypt(newHash func() hash.Hash, id, password, salt string, rounds int) string {
	if len(salt) > 16 {
		fail("Could not hash the secret.. salt too large (sha%s_crypt requires <= 16 chars)", map[string]string{"5": "256", "6": "512"}[id])
	}
	rounds = min(max(rounds, 1000), 999999999)
	p, s := []byte(password), []byte(salt)

	b := newHash()
	b.Write(p)
	b.Write(s)
	b.Write(p)
	sumB := b.Sum(nil)
	size := len(sumB)

	a := newHash()
	a.Write(p)
	a.Write(s)
	for i := len(p); i > 0; i -= size {
		a.Write(sumB[:min(i, size)])
	}
	for i := len(p); i > 0; i >>= 1 {
		if i&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(p)
		}
	}
	sumA := a.Sum(nil)

	dp := newHash()
	for range p {
		dp.Write(p)
	}
	pBytes := repeatTo(dp.Sum(nil), len(p))

	ds := newHash()
	for i := 0; i < 16+int(sumA[0]); i++ {
		ds.Write(s)
	}
	sBytes := repeatTo(ds.Sum(nil), len(s))

	c := sumA
	for r := 0; r < rounds; r++ {
		h := newHash()
		if r&1 != 0 {
			h.Write(pBytes)
		} else {
			h.Write(c)
		}
		if r%3 != 0 {
			h.Write(sBytes)
		}
		if r%7 != 0 {
			h.Write(pBytes)
		}
		if r&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pBytes)
		}
		c = h.Sum(nil)
	}

	var out strings.Builder
	out.WriteString("$" + id + "$")
	if rounds != 5000 { // glibc leaves the default out
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt + "$")
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out.WriteByte(cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	if size == 64 {
		// glibc's byte order: the three positions rotate each step.
		order := [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26}, {6, 27, 48}, {28, 49, 7},
			{50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57},
			{37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
		for _, o := range order {
			enc(c[o[0]], c[o[1]], c[o[2]], 4)
		}
		enc(0, 0, c[63], 2)
	} else {
		order := [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14}, {15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}
		for _, o := range order {
			enc(c[o[0]], c[o[1]], c[o[2]], 4)
		}
		enc(0, c[31], c[30], 3)
	}
	return out.String()
}

func repeatTo(src []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, src[:min(len(src), n-len(out))]...)
	}
	return out
}
