package command

import (
	"errors"
	"strings"
)

// Errors of Split, worded as Python's shlex raises them.
var (
	errNoClosingQuote = errors.New("No closing quotation")
	errNoEscapedChar  = errors.New("No escaped character")
)

// Split splits s into words exactly as Python's shlex.split(s) does (POSIX
// mode, no comments): whitespace separates words; single quotes keep
// everything literally; inside double quotes a backslash escapes only '"'
// and '\' (any other backslash is kept); outside quotes a backslash escapes
// any character. Quoted empty strings are words; quotes inside a word join.
func Split(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // a word has started (possibly empty, from quotes)
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(rs) {
				return nil, errNoEscapedChar
			}
			i++
			word.WriteRune(rs[i])
			inWord = true
		case c == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, errNoClosingQuote
			}
			word.WriteString(string(rs[i+1 : j]))
			i = j
		case c == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' {
					if j+1 >= len(rs) {
						return nil, errNoEscapedChar
					}
					if rs[j+1] == '"' || rs[j+1] == '\\' {
						j++
					}
				}
				word.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, errNoClosingQuote
			}
			i = j
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// Quote quotes s for a POSIX shell as Python's shlex.quote does.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@%+=:,./-_", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
