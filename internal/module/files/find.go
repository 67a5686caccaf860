package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
	"github.com/tend-project/tend/internal/pyre"
)

func init() {
	module.Register(module.Info{Name: "find", Kind: "file", New: func() module.Module { return &Find{} }, Spec: module.Spec{
		"paths":           {Type: module.TypeList, Elements: module.TypeStr, Required: true, Aliases: []string{"name", "path"}},
		"patterns":        {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}, Aliases: []string{"pattern"}},
		"excludes":        {Type: module.TypeList, Elements: module.TypeStr, Aliases: []string{"exclude"}},
		"contains":        {Type: module.TypeStr},
		"read_whole_file": {Type: module.TypeBool, Default: false},
		"file_type":       {Type: module.TypeStr, Default: "file", Choices: []string{"any", "directory", "file", "link"}},
		"age":             {Type: module.TypeStr},
		"age_stamp":       {Type: module.TypeStr, Default: "mtime", Choices: []string{"atime", "ctime", "mtime"}},
		"size":            {Type: module.TypeStr},
		"recurse":         {Type: module.TypeBool, Default: false},
		"hidden":          {Type: module.TypeBool, Default: false},
		"follow":          {Type: module.TypeBool, Default: false},
		"get_checksum":    {Type: module.TypeBool, Default: false},
		"use_regex":       {Type: module.TypeBool, Default: false},
		"depth":           {Type: module.TypeInt},
	}})
}

// Find is ansible.builtin.find: the files below some directories that meet
// every criterion given (name patterns, type, age, size, content). It only
// reads. Directories are walked top-down as Python's os.walk walks them —
// a directory's files, then its subdirectories, then each subdirectory in
// turn — except that entries come sorted by name rather than in the
// filesystem's order, so results are the same on every run and host.
type Find struct{}

var _ module.Module = (*Find)(nil)

// Run implements module.Module.
func (*Find) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	f, res := newFinder(t)
	if res != nil {
		return *res, nil
	}
	return f.run(ctx)
}

// finder is one run of find with its arguments parsed.
type finder struct {
	t                  *module.Task
	h                  host.Host
	fileType           string
	patterns, excludes []nameMatcher
	contains           *pyre.Regexp
	wholeFile          bool
	age, size          *int64
	ageStamp           string
	recurse, hidden    bool
	follow, checksum   bool
	depth              int
	now                time.Time

	files   []any
	skipped map[string]any
	warns   []any
	looked  int
}

// nameMatcher matches an entry's name: a glob as fnmatch, or a regular
// expression anchored at the start as re.match.
type nameMatcher func(name string) bool

var (
	ageRe  = regexp.MustCompile(`^(-?\d+)(s|m|h|d|w)?$`)
	sizeRe = regexp.MustCompile(`^(-?\d+)(b|k|m|g|t)?$`)
)

func newFinder(t *module.Task) (*finder, *module.Result) {
	a := t.Args
	fail := func(msg string, v map[string]any) (*finder, *module.Result) {
		r := module.Failf("%s", msg)
		r.Values = v
		return nil, &r
	}
	f := &finder{t: t, h: t.Host, fileType: a.String("file_type"), wholeFile: a.Bool("read_whole_file"),
		ageStamp: a.String("age_stamp"), recurse: a.Bool("recurse"), hidden: a.Bool("hidden"),
		follow: a.Bool("follow"), checksum: a.Bool("get_checksum"), depth: a.Int("depth"),
		skipped: map[string]any{}}
	useRegex := a.Bool("use_regex")
	patterns := a.Strings("patterns")
	if len(patterns) == 0 {
		patterns = []string{"*"}
		if useRegex {
			patterns = []string{".*"}
		}
	}
	compile := func(list []string) ([]nameMatcher, error) {
		var out []nameMatcher
		for _, p := range list {
			m, err := compileName(p, useRegex)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	var err error
	if f.patterns, err = compile(patterns); err != nil {
		return fail(err.Error(), nil)
	}
	if f.excludes, err = compile(a.Strings("excludes")); err != nil {
		return fail(err.Error(), nil)
	}
	if a.Has("contains") {
		if f.contains, err = pyre.Compile(a.String("contains"), ""); err != nil {
			return fail("contains: "+err.Error(), nil)
		}
	}
	if a.Has("age") {
		m := ageRe.FindStringSubmatch(strings.ToLower(a.String("age")))
		if m == nil {
			return fail("failed to process age", map[string]any{"age": a.String("age")})
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return fail("failed to process age", map[string]any{"age": a.String("age")})
		}
		n *= map[string]int64{"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
		f.age = &n
	}
	if a.Has("size") {
		m := sizeRe.FindStringSubmatch(strings.ToLower(a.String("size")))
		if m == nil {
			return fail("failed to process size", map[string]any{"size": a.String("size")})
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return fail("failed to process size", map[string]any{"size": a.String("size")})
		}
		n *= map[string]int64{"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m[2]]
		f.size = &n
	}
	return f, nil
}

// compileName compiles one of patterns or excludes.
func compileName(p string, useRegex bool) (nameMatcher, error) {
	if useRegex {
		re, err := pyre.Compile(p, "")
		if err != nil {
			return nil, fmt.Errorf("patterns/excludes: %v", err)
		}
		return func(name string) bool { return matchStart(re, name) }, nil
	}
	re, err := regexp.Compile(fnmatchRegexp(p))
	if err != nil {
		return nil, fmt.Errorf("patterns/excludes: bad glob %q: %v", p, err)
	}
	return re.MatchString, nil
}

// matchStart is Python's re.match: a match that starts at the beginning.
// The leftmost match starts there whenever one does.
func matchStart(re *pyre.Regexp, s string) bool {
	loc := re.FindStringIndex(s)
	return loc != nil && loc[0] == 0
}

// fnmatchRegexp translates a shell glob to a regular expression the way
// Python's fnmatch.translate does: * and ? match any character (a leading
// dot and / included), [seq] and [!seq] are character sets, a [ without a
// closing ] is literal, and there is no escape character.
func fnmatchRegexp(pat string) string {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	r := []rune(pat)
	for i := 0; i < len(r); {
		c := r[i]
		i++
		switch c {
		case '*':
			for i < len(r) && r[i] == '*' {
				i++
			}
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i
			if j < len(r) && r[j] == '!' {
				j++
			}
			if j < len(r) && r[j] == ']' {
				j++
			}
			for j < len(r) && r[j] != ']' {
				j++
			}
			if j >= len(r) {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(charClass(r[i:j]))
			i = j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	return b.String()
}

// charClass is the regular expression of a glob set's inside ("a-z",
// "!abc"); ranges whose ends are reversed match nothing, as in fnmatch.
func charClass(set []rune) string {
	neg := len(set) > 0 && set[0] == '!'
	if neg {
		set = set[1:]
	}
	var items []string
	for k := 0; k < len(set); k++ {
		if k+2 < len(set) && set[k+1] == '-' {
			if set[k] <= set[k+2] {
				items = append(items, fmt.Sprintf(`\x{%x}-\x{%x}`, set[k], set[k+2]))
			}
			k += 2
			continue
		}
		items = append(items, fmt.Sprintf(`\x{%x}`, set[k]))
	}
	switch {
	case len(items) == 0 && neg:
		return `.` // [!] with nothing in it: any character
	case len(items) == 0:
		return `[^\x00-\x{10FFFF}]` // an empty set: never matches
	case neg:
		return `[^` + strings.Join(items, "") + `]`
	}
	return `[` + strings.Join(items, "") + `]`
}

func (f *finder) run(ctx context.Context) (module.Result, error) {
	f.now = time.Now()
	for _, p := range f.t.Args.Strings("paths") {
		if err := f.walkTop(ctx, p); err != nil {
			if ctx.Err() != nil {
				return module.Result{}, ctx.Err()
			}
			f.skipped[p] = err.Error()
			f.warns = append(f.warns, fmt.Sprintf("Skipped '%s' path due to this access issue: %s\n", p, err.Error()))
		}
	}
	msg := "All paths examined"
	if len(f.warns) > 0 {
		msg = "Not all paths examined, check warnings for details"
	}
	files := f.files
	if files == nil {
		files = []any{}
	}
	v := map[string]any{"files": files, "matched": len(files), "examined": f.looked, "skipped_paths": f.skipped, "msg": msg}
	if len(f.warns) > 0 {
		v["warnings"] = f.warns
	}
	return module.Result{Msg: msg, Values: v}, nil
}

// walkTop walks one of paths; an error skips the rest of it (the files
// found before it stay), as an exception out of os.walk does in find.py.
func (f *finder) walkTop(ctx context.Context, top string) error {
	if fi, err := host.StatFollow(ctx, f.h, top); err != nil || !fi.IsDir() {
		return fmt.Errorf("'%s' is not a directory", top)
	}
	return f.walk(ctx, top, top)
}

// walk lists dir (one level of os.walk), filters its entries and, when
// recursing, walks its subdirectories.
func (f *finder) walk(ctx context.Context, top, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	list, err := f.h.ReadDir(ctx, dir)
	if err != nil {
		return pyError(err, dir)
	}
	// os.walk puts what is a directory once symlinks are followed among
	// the directories, after the files
	var files, dirs []host.FileInfo
	for _, e := range list {
		isDir := e.IsDir()
		if e.IsSymlink() {
			t, err := host.StatFollow(ctx, f.h, e.Path)
			isDir = err == nil && t.IsDir()
		}
		if isDir {
			dirs = append(dirs, e)
		} else {
			files = append(files, e)
		}
	}
	f.looked += len(files) + len(dirs)
	base := strings.TrimRight(top, "/") + "/"
	for _, e := range append(files, dirs...) {
		name := path.Base(e.Path)
		p := path.Clean(path.Join(dir, name))
		if f.depth != 0 {
			if strings.Count(p, "/")-strings.Count(base, "/")+1 > f.depth {
				dirs = nil // as find.py's del dirs[:]: go no deeper
				continue
			}
		}
		if strings.HasPrefix(name, ".") && !f.hidden {
			continue
		}
		if err := f.consider(ctx, e, name, p); err != nil {
			return err
		}
	}
	if !f.recurse {
		return nil
	}
	for _, d := range dirs {
		if !f.follow && d.IsSymlink() {
			continue
		}
		if err := f.walk(ctx, top, path.Join(dir, path.Base(d.Path))); err != nil {
			return err
		}
	}
	return nil
}

// consider adds entry e (lstat'ed) when it meets the criteria.
func (f *finder) consider(ctx context.Context, e host.FileInfo, name, p string) error {
	if !f.nameMatches(name) || !f.ageMatches(e) {
		return nil
	}
	switch {
	case f.fileType == "any":
		if e.IsRegular() && !f.sizeMatches(e) {
			return nil
		}
	case f.fileType == "directory" && e.IsDir():
	case f.fileType == "link" && e.IsSymlink():
	case f.fileType == "file" && e.IsRegular():
		if !f.sizeMatches(e) {
			return nil
		}
		ok, err := f.contentMatches(ctx, p)
		if err != nil || !ok {
			return err
		}
	default:
		return nil
	}
	r := statInfo(ctx, f.h, e)
	r["path"] = p
	if e.IsRegular() && f.checksum {
		data, err := f.h.ReadFile(ctx, p)
		if err != nil {
			return pyError(err, p)
		}
		r["checksum"] = sha1hex(data)
	}
	f.files = append(f.files, r)
	return nil
}

// nameMatches is find.py's pfilter: one of patterns matches and none of
// excludes does.
func (f *finder) nameMatches(name string) bool {
	for _, m := range f.excludes {
		if m(name) {
			return false
		}
	}
	for _, m := range f.patterns {
		if m(name) {
			return true
		}
	}
	return false
}

// ageMatches is agefilter: at least age old, or at most -age old.
func (f *finder) ageMatches(e host.FileInfo) bool {
	if f.age == nil {
		return true
	}
	stamp := e.ModTime
	switch f.ageStamp {
	case "atime":
		stamp = e.ATime
	case "ctime":
		stamp = e.CTime
	}
	old := f.now.Sub(stamp).Seconds()
	if *f.age >= 0 {
		return old >= float64(*f.age)
	}
	return old <= float64(-*f.age)
}

// sizeMatches is sizefilter: at least size bytes, or at most -size.
func (f *finder) sizeMatches(e host.FileInfo) bool {
	if f.size == nil {
		return true
	}
	if *f.size >= 0 {
		return e.Size >= *f.size
	}
	return e.Size <= -*f.size
}

// contentMatches is contentfilter: a line of the file matches contains
// at its start (re.match), or the whole file contains a match with
// read_whole_file. Like find.py, which reads text, a file that is not
// UTF-8 or cannot be read never matches.
func (f *finder) contentMatches(ctx context.Context, p string) (bool, error) {
	if f.contains == nil {
		return true, nil
	}
	data, err := f.h.ReadFile(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	if !utf8.Valid(data) {
		return false, nil
	}
	// universal newlines, as a file opened in text mode
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	if f.wholeFile {
		return f.contains.FindStringIndex(text) != nil, nil
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		// Python's $ also matches before a line's final newline; RE2's
		// only at the very end, so the newline goes
		if matchStart(f.contains, line) || matchStart(f.contains, strings.TrimSuffix(line, "\n")) {
			return true, nil
		}
	}
	return false, nil
}

// statInfo is find.py's statinfo of an lstat'ed entry; stat returns the
// same fields.
func statInfo(ctx context.Context, h host.Host, e host.FileInfo) map[string]any {
	m := e.Mode
	perm := e.Perm()
	return map[string]any{
		"mode":    fmt.Sprintf("%04o", uint32(perm)),
		"isdir":   m.IsDir(),
		"ischr":   m&fs.ModeCharDevice != 0,
		"isblk":   m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0,
		"isreg":   m.IsRegular(),
		"isfifo":  m&fs.ModeNamedPipe != 0,
		"islnk":   m&fs.ModeSymlink != 0,
		"issock":  m&fs.ModeSocket != 0,
		"uid":     e.UID,
		"gid":     e.GID,
		"size":    e.Size,
		"inode":   e.Inode,
		"dev":     e.Dev,
		"nlink":   e.Nlink,
		"atime":   unixFloat(e.ATime),
		"mtime":   unixFloat(e.ModTime),
		"ctime":   unixFloat(e.CTime),
		"gr_name": h.GroupName(ctx, e.GID),
		"pw_name": h.UserName(ctx, e.UID),
		"wusr":    perm&0200 != 0,
		"rusr":    perm&0400 != 0,
		"xusr":    perm&0100 != 0,
		"wgrp":    perm&0020 != 0,
		"rgrp":    perm&0040 != 0,
		"xgrp":    perm&0010 != 0,
		"woth":    perm&0002 != 0,
		"roth":    perm&0004 != 0,
		"xoth":    perm&0001 != 0,
		"isuid":   perm&04000 != 0,
		"isgid":   perm&02000 != 0,
	}
}

// pyError words a failure to read p as Python's OSError does
// ("[Errno 13] Permission denied: 'p'"), which is what find reports in
// skipped_paths.
func pyError(err error, p string) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("[Errno 13] Permission denied: '%s'", p)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("[Errno 2] No such file or directory: '%s'", p)
	}
	return err
}
