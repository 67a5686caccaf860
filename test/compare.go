package test

// This file compares two runs: recaps, per-host task statuses and the file
// trees they left under their roots, and prints what differs side by side.

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/tend-project/tend/internal/report"
)

// TaskLines flattens a report into one ordered list of "task => status"
// lines per host, across plays. Role tasks read "role : task", handlers are
// marked, loop items are listed by status.
func TaskLines(rep *report.Report) map[string][]string {
	out := map[string][]string{}
	if rep == nil {
		return out
	}
	for _, p := range rep.Plays {
		if p == nil {
			continue
		}
		for _, t := range p.Tasks {
			out[t.Host] = append(out[t.Host], taskLine(t))
		}
	}
	return out
}

func taskLine(t report.TaskResult) string {
	var b strings.Builder
	if t.Handler {
		b.WriteString("HANDLER ")
	}
	name := strings.TrimSpace(t.Task)
	if t.Role != "" && !strings.HasPrefix(name, t.Role+" : ") {
		name = t.Role + " : " + name
	}
	b.WriteString(name)
	b.WriteString(" => ")
	b.WriteString(t.Status)
	if t.Ignored {
		b.WriteString(" (ignored)")
	}
	if len(t.Items) > 0 {
		st := make([]string, len(t.Items))
		for i, it := range t.Items {
			st[i] = it.Status
		}
		b.WriteString(" [items: " + strings.Join(st, ",") + "]")
	}
	return b.String()
}

// RecapLines renders the recap, one line per host, sorted by host.
func RecapLines(rep *report.Report) []string {
	if rep == nil {
		return nil
	}
	hosts := make([]string, 0, len(rep.Stats))
	for h := range rep.Stats {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var out []string
	for _, h := range hosts {
		s := rep.Stats[h]
		if s == nil {
			s = &report.Recap{}
		}
		out = append(out, fmt.Sprintf("%s: ok=%d changed=%d unreachable=%d failed=%d skipped=%d rescued=%d ignored=%d",
			h, s.OK, s.Changed, s.Unreachable, s.Failed, s.Skipped, s.Rescued, s.Ignored))
	}
	return out
}

// Entry is one path in a file tree snapshot.
type Entry struct {
	Type    string // file, dir, symlink, other
	Mode    fs.FileMode
	Content string // file content or symlink target, with the root replaced by $ROOT
	Links   uint64 // hard link count of files
}

func (e Entry) String() string {
	switch e.Type {
	case "file":
		return fmt.Sprintf("file %04o links=%d %q", e.Mode, e.Links, shorten(e.Content, 120))
	case "symlink":
		return fmt.Sprintf("symlink -> %s", e.Content)
	default:
		return fmt.Sprintf("%s %04o", e.Type, e.Mode)
	}
}

// brief is the entry without its content.
func (e Entry) brief() string {
	switch e.Type {
	case "file":
		return fmt.Sprintf("file %04o links=%d", e.Mode, e.Links)
	case "symlink":
		return "symlink -> " + e.Content
	default:
		return fmt.Sprintf("%s %04o", e.Type, e.Mode)
	}
}

// backupSuffix is what Ansible's backup=yes appends to a file name:
// .PID.YYYY-MM-DD@HH:MM:SS~
var backupSuffix = regexp.MustCompile(`\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$`)

// Snapshot reads the tree under root: relative paths (backup names
// normalised to NAME.BACKUP~), type, permission bits, content. Mtimes are
// ignored. Occurrences of root in contents become $ROOT, so two runs in
// different roots compare equal.
func Snapshot(root string) (map[string]Entry, error) {
	snap := map[string]Entry{}
	root = filepath.Clean(root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = backupSuffix.ReplaceAllString(filepath.ToSlash(rel), ".BACKUP~")
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := Entry{Mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch {
		case info.Mode().IsRegular():
			e.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Content = string(bytes.ReplaceAll(b, []byte(root), []byte("$ROOT")))
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				e.Links = uint64(st.Nlink)
			}
		case info.IsDir():
			e.Type = "dir"
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type = "symlink"
			e.Mode = 0
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.Content = strings.ReplaceAll(target, root, "$ROOT")
		default:
			e.Type = "other"
		}
		if _, dup := snap[rel]; dup {
			rel += "#2" // two backups in one second: keep both
		}
		snap[rel] = e
		return nil
	})
	return snap, err
}

// DiffTrees lists the paths whose entries differ, as "path: A | B" lines.
func DiffTrees(a, b map[string]Entry, nameA, nameB string) []string {
	paths := map[string]bool{}
	for p := range a {
		paths[p] = true
	}
	for p := range b {
		paths[p] = true
	}
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	var out []string
	for _, p := range keys {
		ea, okA := a[p]
		eb, okB := b[p]
		switch {
		case !okA:
			out = append(out, fmt.Sprintf("%s: only in %s: %s", p, nameB, eb))
		case !okB:
			out = append(out, fmt.Sprintf("%s: only in %s: %s", p, nameA, ea))
		case ea != eb:
			// First line: a one-line summary; then both entries in full.
			head := fmt.Sprintf("%s: %s %s, %s %s", p, nameA, ea.brief(), nameB, eb.brief())
			if d := firstLineDiff(ea, eb); d != "" {
				head = p + ": " + d
				if ea.Mode != eb.Mode {
					head += fmt.Sprintf(" (and mode %04o vs %04o)", ea.Mode, eb.Mode)
				}
			}
			out = append(out, fmt.Sprintf("%s\n    %-7s %s\n    %-7s %s", head, nameA, ea, nameB, eb))
		}
	}
	return out
}

// firstLineDiff points at the first differing line of two files' contents.
func firstLineDiff(a, b Entry) string {
	if a.Type != "file" || b.Type != "file" || a.Content == b.Content {
		return ""
	}
	la, lb := strings.Split(a.Content, "\n"), strings.Split(b.Content, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y || i >= len(la) || i >= len(lb) {
			return fmt.Sprintf("content differs at line %d: %q vs %q", i+1, shorten(x, 60), shorten(y, 60))
		}
	}
	return ""
}

// SideBySide prints two line lists in two columns, marking differing rows
// with "!". It returns "" when they are equal.
func SideBySide(a, b []string, nameA, nameB string) string {
	if equalLines(a, b) {
		return ""
	}
	const w = 58
	var s strings.Builder
	fmt.Fprintf(&s, "   %-*s | %s\n", w, nameA, nameB)
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		mark := " "
		if x != y || i >= len(a) || i >= len(b) {
			mark = "!"
		}
		fmt.Fprintf(&s, " %s %-*s | %s\n", mark, w, shorten(x, w), shorten(y, 80))
	}
	return s.String()
}

// FirstDifference returns the first differing row of two line lists, for
// one-line summaries.
func FirstDifference(a, b []string) string {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string = "(none)", "(none)"
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("#%d: %s  vs  %s", i+1, x, y)
		}
	}
	return ""
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
