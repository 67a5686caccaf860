package template

import (
	"crypto/rand"
	"encoding/csv"
	"errors"
	"hash/fnv"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// registerLookups adds the password, csvfile and random_choice lookups.
func registerLookups() {
	lookups["password"] = lookupPassword
	lookups["csvfile"] = lookupCSVFile
	lookups["random_choice"] = func(_ *scope, terms []any, _ map[string]any) []any {
		if len(terms) == 0 {
			return []any{}
		}
		return []any{terms[mrand.IntN(len(terms))]}
	}
}

// splitKV splits an inline lookup term as ansible's parse_kv does for
// simple cases: k=v words (values may be quoted) and the other words,
// joined by a space, as "_raw_params".
func splitKV(s string) map[string]string {
	out := map[string]string{}
	var raw []string
	for _, w := range shellWords(s) {
		k, v, ok := strings.Cut(w, "=")
		if ok && kvKey(k) {
			out[k] = v
			continue
		}
		raw = append(raw, w)
	}
	if len(raw) > 0 {
		out["_raw_params"] = strings.Join(raw, " ")
	}
	return out
}

func kvKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// shellWords splits on spaces outside single or double quotes and drops
// the quotes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, c := range s {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, in = c, true
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n'):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// lookupTerms flattens the lookup's terms one level into strings.
func lookupTerms(terms []any) []string {
	var out []string
	for _, t := range flatten(terms, 1, false) {
		out = append(out, toStr(t))
	}
	return out
}

// pythonStringSets are Python's string module constants the password
// lookup's chars option may name.
var pythonStringSets = map[string]string{
	"ascii_letters":   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"ascii_lowercase": "abcdefghijklmnopqrstuvwxyz",
	"ascii_uppercase": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"digits":          "0123456789",
	"hexdigits":       "0123456789abcdefABCDEF",
	"octdigits":       "01234567",
	"punctuation":     "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
	"whitespace":      " \t\n\r\x0b\x0c",
	"printable":       "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c",
}

// lookupPassword is ansible.builtin.password: the term is a path (relative
// to playbook_dir) and optional length=, chars=, seed= words. The file's
// password is returned; a missing file gets a new random password written
// to it (mode 0600, directories 0700); /dev/null is never written. A
// seed gives a repeatable password, though not the one Python's random
// would give.
func lookupPassword(sc *scope, terms []any, kw map[string]any) []any {
	var out []any
	for _, term := range lookupTerms(terms) {
		rel, params := term, map[string]string{}
		if first, rest, ok := strings.Cut(term, " "); ok {
			rel = first
			params = splitKV(rest)
			if r, ok := params["_raw_params"]; ok {
				rel += " " + r
				delete(params, "_raw_params")
				if !strings.HasPrefix(term, rel) {
					fail("Unrecognized value after key=value parameters given to password lookup")
				}
			}
		}
		for k := range params {
			switch k {
			case "length", "encrypt", "ident", "chars", "seed":
			default:
				fail("Unrecognized parameter(s) given to password lookup: %s", k)
			}
		}
		opt := func(name string, def any) any {
			if v, ok := params[name]; ok {
				return v
			}
			if v, ok := kw[name]; ok {
				return norm(v)
			}
			return def
		}
		length := toInt(opt("length", 20))
		if e := opt("encrypt", nil); e != nil {
			fail("the password lookup's encrypt option is not supported by tend; use the password_hash filter")
		}
		var charSpecs []string
		switch c := opt("chars", nil).(type) {
		case nil:
			charSpecs = []string{"ascii_letters", "digits", ".,:-_"}
		case string:
			if strings.Contains(c, ",,") {
				charSpecs = append(charSpecs, ",")
			}
			for _, p := range strings.Split(strings.ReplaceAll(c, ",,", ","), ",") {
				if p != "" {
					charSpecs = append(charSpecs, p)
				}
			}
		default:
			for _, p := range iterate(c) {
				charSpecs = append(charSpecs, toStr(p))
			}
		}
		var chars strings.Builder
		for _, spec := range charSpecs {
			if s, ok := pythonStringSets[spec]; ok {
				spec = s
			}
			chars.WriteString(strings.NewReplacer(`"`, "", "'", "").Replace(spec))
		}
		path := rel
		if !filepath.IsAbs(path) {
			base, _ := sc.lookup("playbook_dir").(string)
			if base == "" {
				base, _ = os.Getwd()
			}
			path = filepath.Join(base, rel)
		}
		var content string
		exists := false
		if b, err := os.ReadFile(path); err == nil {
			content, exists = strings.TrimRight(string(b), " \t\n\r\x0b\x0c"), true
		} else if !errors.Is(err, os.ErrNotExist) {
			fail("password lookup: %v", err)
		}
		if !exists || path == "/dev/null" {
			pw := randomPassword(length, []rune(chars.String()), opt("seed", nil))
			if path != "/dev/null" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					fail("password lookup: %v", err)
				}
				if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
					fail("password lookup: %v", err)
				}
			}
			out = append(out, pw)
			continue
		}
		if i := strings.LastIndex(content, " salt="); i >= 0 {
			content = content[:i] // the stored salt only matters to encrypt
		}
		out = append(out, content)
	}
	return out
}

func randomPassword(length int, chars []rune, seed any) string {
	if len(chars) == 0 {
		fail("password lookup: no characters to choose from")
	}
	pick := func(n int) int {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			fail("password lookup: %v", err)
		}
		return int(v.Int64())
	}
	if seed != nil {
		h := fnv.New64a()
		io.WriteString(h, toStr(seed))
		r := mrand.New(mrand.NewPCG(h.Sum64(), 0))
		pick = r.IntN
	}
	out := make([]rune, length)
	for i := range out {
		out[i] = chars[pick(len(chars))]
	}
	return string(out)
}

// lookupCSVFile is ansible.builtin.csvfile: each term is a key (and,
// deprecated, inline k=v options); the value in column col of the first
// row whose first field is the key, or default.
func lookupCSVFile(sc *scope, terms []any, kw map[string]any) []any {
	out := []any{}
	for _, term := range lookupTerms(terms) {
		kv := splitKV(term)
		key, ok := kv["_raw_params"]
		if !ok {
			fail("Search key is required but was not found")
		}
		opts := map[string]any{"file": "ansible.csv", "delimiter": "TAB", "col": "1", "default": nil, "encoding": "utf-8"}
		for k, v := range kw {
			if k == kwOrderKey || k == "wantlist" || k == "errors" {
				continue
			}
			if _, valid := opts[k]; !valid {
				fail("%s is not a valid option", k)
			}
			opts[k] = norm(v)
		}
		for k, v := range kv {
			if k == "_raw_params" {
				continue
			}
			if _, valid := opts[k]; !valid {
				fail("%s is not a valid option", k)
			}
			opts[k] = v
		}
		delim := toStr(opts["delimiter"])
		if delim == "TAB" {
			delim = "\t"
		}
		if enc := strings.ToLower(strings.ReplaceAll(toStr(opts["encoding"]), "_", "-")); enc != "utf-8" && enc != "utf8" && enc != "ascii" {
			fail("csvfile: encoding %s is not supported by tend (only utf-8)", toStr(opts["encoding"]))
		}
		if r := []rune(delim); len(r) != 1 {
			fail("csvfile: \"delimiter\" must be a 1-character string")
		}
		file := toStr(opts["file"])
		path, err := sc.st.e.findFile(file, "", sc.st.varSearchPaths()...)
		if err != nil {
			fail("csvfile: [Errno 2] No such file or directory: %s", repr(file))
		}
		v := readCSVColumn(path, key, []rune(delim)[0], toStr(opts["col"]))
		if v == nil {
			v = opts["default"]
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func readCSVColumn(path, key string, delim rune, col string) any {
	f, err := os.Open(path)
	if err != nil {
		fail("csvfile: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	for {
		row, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			fail("csvfile: %v", err)
		}
		if len(row) > 0 && row[0] == key {
			c, err := strconv.Atoi(strings.TrimSpace(col))
			if err != nil {
				fail("csvfile: invalid literal for int() with base 10: %s", repr(col))
			}
			if c < 0 {
				c += len(row)
			}
			if c < 0 || c >= len(row) {
				fail("csvfile: list index out of range")
			}
			return row[c]
		}
	}
}
