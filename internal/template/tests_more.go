package template

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/tend-project/tend/internal/yamlx"
)

// addTests registers tests; a name that is already taken panics.
func addTests(ts map[string]testFn) {
	for name, t := range ts {
		if _, dup := tests[name]; dup {
			panic("template: test " + name + " is defined twice")
		}
		tests[name] = t
	}
}

// registerMoreTests adds the Jinja2 3.1 and ansible-core 2.14 tests that
// tests.go does not define, and their aliases.
func registerMoreTests() {
	alias := func(name string) testFn { return tests[name] }
	unreachable := func(_ *scope, in any, _ []any, _ map[string]any) bool { return resultFlag(in, "unreachable") }
	uriTest := func(_ *scope, in any, args []any, kw map[string]any) bool {
		return isURI(in, arg(args, kw, 0, "schemes", nil), false)
	}
	urlTest := func(_ *scope, in any, args []any, kw map[string]any) bool {
		return isURI(in, arg(args, kw, 0, "schemes", nil), true)
	}
	nan := func(_ *scope, in any, _ []any, _ map[string]any) bool {
		f, ok := in.(float64)
		return ok && math.IsNaN(f)
	}
	sameFile := func(_ *scope, in any, args []any, kw map[string]any) bool {
		a, err := os.Stat(pathArg(in, "same_file"))
		if err != nil {
			fail("%v", err)
		}
		b, err := os.Stat(pathArg(arg(args, kw, 0, "f2", nil), "same_file"))
		if err != nil {
			fail("%v", err)
		}
		return os.SameFile(a, b)
	}
	mount := func(_ *scope, in any, _ []any, _ map[string]any) bool { return isMount(toStr(in)) }
	addTests(map[string]testFn{
		"all": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			for _, e := range iterate(in) {
				if !truth(norm(e)) {
					return false
				}
			}
			return true
		},
		"any": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			for _, e := range iterate(in) {
				if truth(norm(e)) {
					return true
				}
			}
			return false
		},
		"successful":  alias("succeeded"),
		"unreachable": unreachable,
		"reachable": func(sc *scope, in any, args []any, kw map[string]any) bool {
			return !unreachable(sc, in, args, kw)
		},
		"started": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			if !isMap(in) {
				fail("The 'started' test expects a dictionary")
			}
			v, ok := mapGet(in, "started")
			return !ok || equal(v, 1) // a task that is not async counts as started
		},
		"uri":          uriTest,
		"url":          urlTest,
		"urn":          func(_ *scope, in any, _ []any, _ map[string]any) bool { return isURI(in, []any{"urn"}, false) },
		"issubset":     alias("subset"),
		"issuperset":   alias("superset"),
		"is_abs":       alias("abs"),
		"is_dir":       alias("directory"),
		"is_file":      alias("file"),
		"is_link":      alias("link"),
		"is_mount":     mount,
		"mount":        mount,
		"is_same_file": sameFile,
		"same_file":    sameFile,
		"link_exists": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, err := os.Lstat(toStr(in))
			return err == nil
		},
		"nan":   nan,
		"isnan": nan,
		"filter": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, ok := filters[strings.TrimPrefix(toStr(in), "ansible.builtin.")]
			return ok
		},
		"test": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			name := strings.TrimPrefix(toStr(in), "ansible.builtin.")
			_, ok := tests[name]
			return ok || name == "defined" || name == "undefined"
		},
		"escaped": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, ok := in.(markup) // callTest hands escaped the value before norm
			return ok
		},
		"vault_encrypted": func(_ *scope, in any, _ []any, _ map[string]any) bool {
			_, ok := in.(yamlx.Vault)
			return ok
		},
	})
	// Ansible's finished test, like started: 1 means done, and a task that
	// is not async counts as finished.
	tests["finished"] = func(_ *scope, in any, _ []any, _ map[string]any) bool {
		if !isMap(in) {
			fail("The 'finished' test expects a dictionary")
		}
		v, ok := mapGet(in, "finished")
		return !ok || equal(v, 1)
	}
}

// setItems are the items of Python's set(v): each must be hashable.
func setItems(v any) []any {
	items := iterate(v)
	for _, e := range items {
		if !hashable(e) {
			fail("unhashable type: '%s'", typeName(e))
		}
	}
	return items
}

// hashable reports whether Python could put v in a set.
func hashable(v any) bool {
	if t, ok := asTuple(v); ok {
		for _, e := range t {
			if !hashable(e) {
				return false
			}
		}
		return true
	}
	switch norm(v).(type) {
	case []any, *Map, map[string]any:
		return false
	}
	return true
}

// isURI is Ansible's uri test (url: also a host, or the file scheme):
// whatever Python's urlparse accepts, with a scheme among schemes if given.
func isURI(in any, schemes any, url bool) bool {
	wantScheme := schemes != nil && truth(schemes)
	s, ok := in.(string)
	if !ok {
		// urlparse reads a false value (None, 0, []) as empty bytes, whose
		// scheme b'' is in no list of str; it cannot read anything else
		return !truth(in) && !url && !wantScheme
	}
	scheme, netloc, ok := urlSplit(s)
	if !ok {
		return false
	}
	if wantScheme {
		switch schemes.(type) {
		case string, []any, *Map, map[string]any:
			if !contains(schemes, scheme) {
				return false
			}
		default:
			return false // Python: TypeError, which the test catches
		}
	}
	return !url || netloc != "" || scheme == "file"
}

// urlSplit finds the scheme and network location as Python 3.11's
// urllib.parse.urlsplit does; ok is false where urlsplit raises.
func urlSplit(u string) (scheme, netloc string, ok bool) {
	u = strings.TrimLeft(u, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	u = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(u)
	if i := strings.IndexByte(u, ':'); i > 0 && isASCIILetter(u[0]) {
		valid := true
		for _, c := range []byte(u[:i]) {
			if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
				valid = false
				break
			}
		}
		if valid {
			scheme, u = strings.ToLower(u[:i]), u[i+1:]
		}
	}
	if strings.HasPrefix(u, "//") {
		rest := u[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		netloc = rest[:end]
		if strings.Contains(netloc, "[") != strings.Contains(netloc, "]") {
			return "", "", false // Invalid IPv6 URL
		}
		if strings.Contains(netloc, "[") && !validBracketedNetloc(netloc) {
			return "", "", false
		}
	}
	return scheme, netloc, true
}

var ipvFuture = regexp.MustCompile(`^v[a-fA-F0-9]+\..+$`)

// validBracketedNetloc is urllib's _check_bracketed_netloc: "[...]" holds
// an IPv6 address (or an IPvFuture one) and nothing but a port follows.
func validBracketedNetloc(netloc string) bool {
	host := netloc[strings.LastIndexByte(netloc, '@')+1:]
	before, bracketed, found := strings.Cut(host, "[")
	if found {
		if before != "" {
			return false
		}
		var port string
		host, port, _ = strings.Cut(bracketed, "]")
		if port != "" && !strings.HasPrefix(port, ":") {
			return false
		}
	} else {
		host, _, _ = strings.Cut(host, ":")
	}
	if strings.HasPrefix(host, "v") {
		return ipvFuture.MatchString(host)
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is6()
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isMount is os.path.ismount: a directory on another device than its
// parent, or the root.
func isMount(p string) bool {
	st, err := os.Lstat(p)
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	parent := filepath.Dir(real)
	pst, err := os.Lstat(parent)
	if err != nil {
		return false
	}
	a, ok1 := st.Sys().(*syscall.Stat_t)
	b, ok2 := pst.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return false
	}
	return a.Dev != b.Dev || a.Ino == b.Ino
}
