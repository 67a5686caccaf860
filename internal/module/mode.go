package module

import (
	"fmt"
	"io/fs"
	"strings"
)

// symbolicMode applies chmod(1)-style symbolic clauses ("u=rwx,g+r,o-w",
// "a+X") to current, as Ansible's file module does.
func symbolicMode(s string, current fs.FileMode, isDir bool) (fs.FileMode, error) {
	mode := current & 07777
	for _, clause := range strings.Split(s, ",") {
		i := 0
		var who fs.FileMode
		for i < len(clause) && strings.ContainsRune("ugoa", rune(clause[i])) {
			switch clause[i] {
			case 'u':
				who |= 04700
			case 'g':
				who |= 02070
			case 'o':
				who |= 01007
			case 'a':
				who |= 07777
			}
			i++
		}
		if who == 0 {
			who = 07777
		}
		if i >= len(clause) || !strings.ContainsRune("+-=", rune(clause[i])) {
			return 0, fmt.Errorf("bad symbolic mode %q", s)
		}
		for i < len(clause) && strings.ContainsRune("+-=", rune(clause[i])) {
			op := clause[i]
			i++
			var perm fs.FileMode
			for i < len(clause) && strings.ContainsRune("rwxXst", rune(clause[i])) {
				switch clause[i] {
				case 'r':
					perm |= 0444
				case 'w':
					perm |= 0222
				case 'x':
					perm |= 0111
				case 'X':
					if isDir || mode&0111 != 0 {
						perm |= 0111
					}
				case 's':
					perm |= 06000
				case 't':
					perm |= 01000
				}
				i++
			}
			perm &= who
			switch op {
			case '+':
				mode |= perm
			case '-':
				mode &^= perm
			case '=':
				mode = mode&^(who&0777) | perm
			}
		}
		if i != len(clause) {
			return 0, fmt.Errorf("bad symbolic mode %q", s)
		}
	}
	return mode, nil
}
