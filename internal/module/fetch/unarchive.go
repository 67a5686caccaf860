package fetch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "unarchive", Kind: "file", New: func() module.Module { return &Unarchive{} }, Spec: fileArgs(module.Spec{
		"src":            {Type: module.TypePath, Required: true},
		"dest":           {Type: module.TypePath, Required: true},
		"remote_src":     {Type: module.TypeBool, Default: false},
		"copy":           {Type: module.TypeBool},
		"creates":        {Type: module.TypePath},
		"list_files":     {Type: module.TypeBool, Default: false},
		"keep_newer":     {Type: module.TypeBool, Default: false},
		"exclude":        {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"include":        {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"extra_opts":     {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"io_buffer_size": {Type: module.TypeInt, Default: 65536},
		"validate_certs": {Type: module.TypeBool, Default: true},
		"decrypt":        {Type: module.TypeBool, Default: true},
	})})
}

// Unarchive is ansible.builtin.unarchive for tar (plain, gz, bz2, xz,
// zst) and zip. The archive is read in the tend process (from the
// controller, or from the host with remote_src); xz and zstd are
// decompressed by the host's own xz/zstd (a read-only command); every
// member is compared with dest first — type, content, mode and mtime, as
// `tar --diff` does — and only then written through host.Host.
type Unarchive struct{}

var _ module.Module = (*Unarchive)(nil)

type member struct {
	name     string
	typ      byte // '0' file, '5' dir, '2' symlink, '1' hardlink
	mode     fs.FileMode
	mtime    time.Time
	data     []byte
	linkname string
}

// Run implements module.Module.
func (*Unarchive) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	src, dest := a.String("src"), a.String("dest")
	remote := a.Bool("remote_src")
	if a.Has("copy") {
		remote = !a.Bool("copy")
	}
	vals := map[string]any{"src": src, "dest": dest}
	fail := func(format string, args ...any) (module.Result, error) {
		r := module.Failf(format, args...)
		r.Values = vals
		return r, nil
	}
	if c := a.String("creates"); c != "" {
		if fi, err := h.Stat(ctx, c); err == nil && fi.Exists {
			return module.Result{Skipped: true, Msg: fmt.Sprintf("skipped, since %s exists", c), Values: map[string]any{"msg": fmt.Sprintf("skipped, since %s exists", c)}}, nil
		}
	}
	strip := 0
	for _, o := range a.Strings("extra_opts") {
		if n, ok := strings.CutPrefix(o, "--strip-components="); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return fail("extra_opts: bad %s", o)
			}
			strip = v
			continue
		}
		return fail("unarchive: extra_opts %q is not supported natively (only --strip-components=N); use backend ansible for this task", o)
	}
	if strings.Contains(src, "://") {
		return fail("unarchive: a URL src is not supported natively; download it with get_url first")
	}
	var data []byte
	var err error
	if remote {
		fi, err := h.Stat(ctx, src)
		if err != nil || !fi.Exists {
			return fail("Source '%s' does not exist", src)
		}
		if data, err = h.ReadFile(ctx, src); err != nil {
			return fail("Source '%s' not readable, %v", src, err)
		}
	} else {
		p := src
		if t.Find != nil {
			if p, err = t.Find("files", src); err != nil {
				return fail("Could not find or access '%s' on the Ansible Controller.", src)
			}
		}
		if t.ReadLocal == nil {
			return fail("unarchive: no controller file access in this context")
		}
		if data, err = t.ReadLocal(p); err != nil {
			return fail("Could not find or access '%s' on the Ansible Controller.", src)
		}
	}
	if fi, err := h.Stat(ctx, dest); err != nil || !fi.IsDir() {
		return fail("dest '%s' must be an existing dir", dest)
	}
	members, handler, err := readArchive(ctx, h, data)
	if err != nil {
		return fail("Failed to find handler for \"%s\". Make sure the required command to extract the file is installed.\n%v", src, err)
	}
	vals["handler"] = handler
	members, err = filterMembers(members, strip, a.Strings("include"), a.Strings("exclude"))
	if err != nil {
		return fail("%v", err)
	}
	opts, err := writeOpts(ctx, t, host.FileInfo{Exists: true})
	if err != nil {
		return fail("%v", err)
	}
	var differs []string
	var files []any
	for _, m := range members {
		files = append(files, m.name)
		d, err := memberDiffers(ctx, h, path.Join(dest, m.name), m, a.Bool("keep_newer"), opts, a.Has("mode"))
		if err != nil {
			return fail("%v", err)
		}
		if d != "" {
			differs = append(differs, m.name+": "+d)
		}
	}
	if a.Bool("list_files") {
		vals["files"] = files
	}
	res := module.Result{Values: vals, Resources: []module.Resource{{Kind: "file", ID: dest, Differs: differs}}}
	res.Changed = len(differs) > 0
	if !res.Changed || t.Check {
		if t.Diff && res.Changed {
			res.Diffs = []module.Diff{{BeforeHeader: dest, AfterHeader: src, Before: "", After: strings.Join(differs, "\n") + "\n"}}
		}
		return res, nil
	}
	var dirs []member
	for _, m := range members {
		p := path.Join(dest, m.name)
		if err := extract(ctx, h, dest, p, m, opts, a.Bool("keep_newer")); err != nil {
			return fail("failed to unpack %s to %s: %v", src, dest, err)
		}
		if m.typ == '5' {
			dirs = append(dirs, m)
		}
	}
	// directory times last, deepest first, as tar does
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i].name) > len(dirs[j].name) })
	for _, d := range dirs {
		h.Chtimes(ctx, path.Join(dest, d.name), d.mtime, d.mtime)
	}
	vals["extract_results"] = map[string]any{"rc": 0, "out": "", "err": "", "cmd": []any{"(tend native " + handler + ")"}}
	return res, nil
}

func readArchive(ctx context.Context, h host.Host, data []byte) ([]member, string, error) {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")):
		m, err := readZip(data)
		return m, "ZipArchive", err
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, "", err
		}
		m, err := readTar(zr)
		return m, "TgzArchive", err
	case bytes.HasPrefix(data, []byte("BZh")):
		m, err := readTar(bzip2.NewReader(bytes.NewReader(data)))
		return m, "TarBzipArchive", err
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		raw, err := hostDecompress(ctx, h, "xz", data)
		if err != nil {
			return nil, "", err
		}
		m, err := readTar(bytes.NewReader(raw))
		return m, "TarXzArchive", err
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		raw, err := hostDecompress(ctx, h, "zstd", data)
		if err != nil {
			return nil, "", err
		}
		m, err := readTar(bytes.NewReader(raw))
		return m, "TarZstdArchive", err
	case len(data) > 262 && string(data[257:262]) == "ustar":
		m, err := readTar(bytes.NewReader(data))
		return m, "TarArchive", err
	}
	return nil, "", fmt.Errorf("unknown archive format (tar, tar.gz, tar.bz2, tar.xz, tar.zst and zip are supported)")
}

// hostDecompress pipes data through the host's decompressor; it only
// writes to stdout, so it may run in check mode.
func hostDecompress(ctx context.Context, h host.Host, tool string, data []byte) ([]byte, error) {
	res, err := h.Run(ctx, host.Command{Argv: []string{tool, "-dc"}, Stdin: data, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("%s -dc: %w (install %s on the host)", tool, err, tool)
	}
	if res.RC != 0 {
		return nil, fmt.Errorf("%s -dc: %s", tool, strings.TrimSpace(string(res.Stderr)))
	}
	return res.Stdout, nil
}

func readTar(r io.Reader) ([]member, error) {
	tr := tar.NewReader(r)
	var out []member
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := member{name: hd.Name, mode: fs.FileMode(hd.Mode) & 07777, mtime: hd.ModTime, linkname: hd.Linkname}
		switch hd.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			m.typ = '0'
			if m.data, err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		case tar.TypeDir:
			m.typ = '5'
		case tar.TypeSymlink:
			m.typ = '2'
		case tar.TypeLink:
			m.typ = '1'
		default:
			continue // devices, fifos, pax headers: skipped
		}
		out = append(out, m)
	}
}

func readZip(data []byte) ([]member, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var out []member
	for _, f := range zr.File {
		m := member{name: f.Name, mtime: f.Modified, mode: f.Mode().Perm()}
		if m.mode == 0 {
			m.mode = 0o644
		}
		switch {
		case f.FileInfo().IsDir():
			m.typ = '5'
			if f.Mode().Perm() == 0 {
				m.mode = 0o755
			}
		case f.Mode()&fs.ModeSymlink != 0:
			m.typ = '2'
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			m.linkname = string(b)
		default:
			m.typ = '0'
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			m.data, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func filterMembers(ms []member, strip int, include, exclude []string) ([]member, error) {
	var out []member
	for _, m := range ms {
		name := strings.TrimPrefix(path.Clean("/"+m.name), "/")
		if strings.HasPrefix(m.name, "/") || strings.Contains("/"+m.name+"/", "/../") {
			return nil, fmt.Errorf("archive member %q escapes dest; refusing to extract", m.name)
		}
		if strip > 0 {
			parts := strings.Split(name, "/")
			if len(parts) <= strip {
				continue
			}
			name = strings.Join(parts[strip:], "/")
		}
		if name == "" || name == "." {
			continue
		}
		if len(include) > 0 && !matchAny(include, name) || matchAny(exclude, name) {
			continue
		}
		m.name = name
		out = append(out, m)
	}
	return out, nil
}

func matchAny(pats []string, name string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}

// memberDiffers says what differs between an archive member and dest ("" when
// nothing), like tar --diff: type, size, contents, mode, mod time.
func memberDiffers(ctx context.Context, h host.Host, p string, m member, keepNewer bool, opts host.WriteOptions, modeSet bool) (string, error) {
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return "", err
	}
	if !fi.Exists {
		return "missing", nil
	}
	wantMode := m.mode
	if modeSet {
		wantMode = opts.Mode
	}
	switch m.typ {
	case '5':
		if !fi.IsDir() {
			return "type differs", nil
		}
	case '2':
		if !fi.IsSymlink() {
			return "type differs", nil
		}
		if fi.LinkTarget != m.linkname {
			return "symlink differs", nil
		}
		return "", nil
	case '1':
		return "", nil
	default:
		if !fi.IsRegular() {
			return "type differs", nil
		}
		if keepNewer && fi.ModTime.After(m.mtime) {
			return "", nil
		}
		if fi.Size != int64(len(m.data)) {
			return "size differs", nil
		}
		cur, err := h.ReadFile(ctx, p)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(cur, m.data) {
			return "contents differ", nil
		}
		if !fi.ModTime.Truncate(time.Second).Equal(m.mtime.Truncate(time.Second)) {
			return "mod time differs", nil
		}
	}
	if fi.Perm() != wantMode {
		return "mode differs", nil
	}
	if opts.UID >= 0 && fi.UID != opts.UID || opts.GID >= 0 && fi.GID != opts.GID {
		return "owner differs", nil
	}
	return "", nil
}

func extract(ctx context.Context, h host.Host, dest, p string, m member, opts host.WriteOptions, keepNewer bool) error {
	if err := mkdirs(ctx, h, dest, path.Dir(p)); err != nil {
		return err
	}
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return err
	}
	mode := m.mode
	if opts.Mode != 0 {
		mode = opts.Mode
	}
	switch m.typ {
	case '5':
		if !fi.Exists {
			if err := h.Mkdir(ctx, p, mode|0o700); err != nil {
				return err
			}
		} else if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", p)
		}
		if err := h.Chmod(ctx, p, mode); err != nil {
			return err
		}
	case '2':
		if fi.Exists {
			if fi.IsSymlink() && fi.LinkTarget == m.linkname {
				break
			}
			if err := h.Remove(ctx, p); err != nil {
				return err
			}
		}
		return h.Symlink(ctx, m.linkname, p)
	case '1':
		if fi.Exists {
			return nil
		}
		return h.Link(ctx, path.Join(dest, m.linkname), p)
	default:
		if keepNewer && fi.Exists && fi.ModTime.After(m.mtime) {
			return nil
		}
		if fi.Exists && !fi.IsRegular() {
			if err := h.RemoveAll(ctx, p); err != nil {
				return err
			}
		}
		if err := h.WriteFile(ctx, p, m.data, host.WriteOptions{Mode: mode, UID: opts.UID, GID: opts.GID}); err != nil {
			return err
		}
		if err := h.Chmod(ctx, p, mode); err != nil {
			return err
		}
		return h.Chtimes(ctx, p, m.mtime, m.mtime)
	}
	if opts.UID >= 0 || opts.GID >= 0 {
		return h.Lchown(ctx, p, opts.UID, opts.GID)
	}
	return nil
}

func mkdirs(ctx context.Context, h host.Host, dest, dir string) error {
	if dir == dest || len(dir) < len(dest) {
		return nil
	}
	fi, err := h.Stat(ctx, dir)
	if err != nil {
		return err
	}
	if fi.Exists {
		return nil
	}
	if err := mkdirs(ctx, h, dest, path.Dir(dir)); err != nil {
		return err
	}
	return h.Mkdir(ctx, dir, 0o755)
}
