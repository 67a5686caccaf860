package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5"

	"github.com/tend-project/tend/internal/host"
)

// hostFS is a billy.Filesystem over host.Host, so go-git clones and checks
// out through the same door as every other module (local or SSH+SFTP).
// Files are buffered in memory and written atomically on Close.
type hostFS struct {
	ctx  context.Context
	h    host.Host
	root string
	open *openFiles
}

// openFiles shares the buffer of a file open for writing with every other
// handle on the same path, as one inode would: go-git reads a packfile
// while it is still being written.
type openFiles struct {
	mu    sync.Mutex
	files map[string]*shared
}

type shared struct {
	mu   sync.Mutex
	data []byte
	refs int
}

var _ billy.Filesystem = (*hostFS)(nil)
var _ billy.Change = (*hostFS)(nil)

func newHostFS(ctx context.Context, h host.Host, root string) *hostFS {
	return &hostFS{ctx: ctx, h: h, root: path.Clean(root), open: &openFiles{files: map[string]*shared{}}}
}

func (f *hostFS) abs(name string) string {
	if path.IsAbs(name) && strings.HasPrefix(name, f.root) {
		return path.Clean(name)
	}
	return path.Join(f.root, name)
}

func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

func (f *hostFS) Create(name string) (billy.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (f *hostFS) Open(name string) (billy.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

func (f *hostFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	p := f.abs(name)
	fi, err := f.h.Stat(f.ctx, p)
	if err != nil {
		return nil, err
	}
	if fi.IsSymlink() {
		if fi, err = f.follow(p); err != nil {
			return nil, err
		}
	}
	switch {
	case !fi.Exists && flag&os.O_CREATE == 0:
		return nil, notExist("open", name)
	case fi.Exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case fi.Exists && fi.IsDir():
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	// new files get 0666 or 0777 less the usual umask (022)
	file := &hostFile{fs: f, name: name, path: p, flag: flag, perm: perm.Perm() &^ 0o022}
	f.open.mu.Lock()
	defer f.open.mu.Unlock()
	if sh, ok := f.open.files[p]; ok {
		// another handle has it open: share its live buffer
		sh.mu.Lock()
		sh.refs++
		if flag&os.O_TRUNC != 0 {
			sh.data = sh.data[:0]
		}
		sh.mu.Unlock()
		file.sh = sh
		file.perm = 0
	} else {
		sh := &shared{refs: 1}
		if fi.Exists {
			file.perm = 0 // keep the mode of the file being replaced
			if flag&os.O_TRUNC == 0 {
				if sh.data, err = f.h.ReadFile(f.ctx, p); err != nil {
					return nil, err
				}
			}
		} else {
			if err := f.mkdirAbs(path.Dir(p), 0o755); err != nil {
				return nil, err
			}
			// make it exist at once, as open(2) with O_CREATE does
			if err := f.h.WriteFile(f.ctx, p, nil, host.WriteOptions{Mode: file.perm, UID: -1, GID: -1}); err != nil {
				return nil, err
			}
		}
		f.open.files[p] = sh
		file.sh = sh
	}
	if flag&os.O_TRUNC != 0 && fi.Exists {
		file.dirty = true
	}
	if flag&os.O_APPEND != 0 {
		file.pos = int64(len(file.sh.data))
	}
	return file, nil
}

func (f *hostFS) follow(p string) (host.FileInfo, error) {
	return host.StatFollow(f.ctx, f.h, p)
}

func (f *hostFS) Stat(name string) (os.FileInfo, error) {
	fi, err := f.h.Stat(f.ctx, f.abs(name))
	if err != nil {
		return nil, err
	}
	if fi.IsSymlink() {
		if fi, err = f.follow(f.abs(name)); err != nil {
			return nil, err
		}
	}
	if !fi.Exists {
		return nil, notExist("stat", name)
	}
	return fileInfo{fi, path.Base(name)}, nil
}

func (f *hostFS) Lstat(name string) (os.FileInfo, error) {
	fi, err := f.h.Stat(f.ctx, f.abs(name))
	if err != nil {
		return nil, err
	}
	if !fi.Exists {
		return nil, notExist("lstat", name)
	}
	return fileInfo{fi, path.Base(name)}, nil
}

func (f *hostFS) Rename(from, to string) error {
	if err := f.MkdirAll(path.Dir(to), 0o755); err != nil {
		return err
	}
	return f.h.Rename(f.ctx, f.abs(from), f.abs(to))
}

func (f *hostFS) Remove(name string) error {
	fi, err := f.h.Stat(f.ctx, f.abs(name))
	if err != nil {
		return err
	}
	if !fi.Exists {
		return notExist("remove", name)
	}
	return f.h.Remove(f.ctx, f.abs(name))
}

func (f *hostFS) Join(elem ...string) string { return path.Join(elem...) }

var tempSeq atomic.Int64

func (f *hostFS) TempFile(dir, prefix string) (billy.File, error) {
	name := path.Join(dir, fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano(), tempSeq.Add(1)))
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}

func (f *hostFS) ReadDir(name string) ([]os.FileInfo, error) {
	ents, err := f.h.ReadDir(f.ctx, f.abs(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notExist("readdir", name)
		}
		return nil, err
	}
	out := make([]os.FileInfo, 0, len(ents))
	for _, e := range ents {
		out = append(out, fileInfo{e, path.Base(e.Path)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (f *hostFS) MkdirAll(name string, perm os.FileMode) error {
	return f.mkdirAbs(f.abs(name), perm)
}

func (f *hostFS) mkdirAbs(p string, perm os.FileMode) error {
	fi, err := f.h.Stat(f.ctx, p)
	if err != nil {
		return err
	}
	if fi.Exists {
		if !fi.IsDir() && !fi.IsSymlink() {
			return &fs.PathError{Op: "mkdir", Path: p, Err: errors.New("not a directory")}
		}
		return nil
	}
	if parent := path.Dir(p); parent != p {
		if err := f.mkdirAbs(parent, perm); err != nil {
			return err
		}
	}
	if err := f.h.Mkdir(f.ctx, p, perm.Perm()|0o700); err != nil {
		if fi, e := f.h.Stat(f.ctx, p); e == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return nil
}

func (f *hostFS) Symlink(target, link string) error {
	if err := f.MkdirAll(path.Dir(link), 0o755); err != nil {
		return err
	}
	return f.h.Symlink(f.ctx, target, f.abs(link))
}

func (f *hostFS) Readlink(link string) (string, error) {
	fi, err := f.h.Stat(f.ctx, f.abs(link))
	if err != nil {
		return "", err
	}
	if !fi.IsSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: link, Err: errors.New("not a symlink")}
	}
	return fi.LinkTarget, nil
}

func (f *hostFS) Chroot(p string) (billy.Filesystem, error) {
	return &hostFS{ctx: f.ctx, h: f.h, root: f.abs(p), open: f.open}, nil
}

func (f *hostFS) Root() string { return f.root }

func (f *hostFS) Chmod(name string, mode os.FileMode) error {
	return f.h.Chmod(f.ctx, f.abs(name), host.UnixPerm(mode))
}
func (f *hostFS) Lchown(name string, uid, gid int) error {
	return f.h.Lchown(f.ctx, f.abs(name), uid, gid)
}
func (f *hostFS) Chown(name string, uid, gid int) error {
	return f.h.Lchown(f.ctx, f.abs(name), uid, gid)
}
func (f *hostFS) Chtimes(name string, atime, mtime time.Time) error {
	return f.h.Chtimes(f.ctx, f.abs(name), atime, mtime)
}

// hostFile is an in-memory file written back atomically on Close.
type hostFile struct {
	fs     *hostFS
	name   string
	path   string
	flag   int
	perm   os.FileMode
	sh     *shared
	pos    int64
	dirty  bool
	closed bool
}

func (h *hostFile) Name() string { return h.name }

func (h *hostFile) Read(p []byte) (int, error) {
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	if h.pos >= int64(len(h.sh.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.sh.data[h.pos:])
	h.pos += int64(n)
	return n, nil
}

func (h *hostFile) ReadAt(p []byte, off int64) (int, error) {
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	if off >= int64(len(h.sh.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.sh.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *hostFile) Write(p []byte) (int, error) {
	if h.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, &fs.PathError{Op: "write", Path: h.name, Err: errors.New("file opened read-only")}
	}
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	if h.flag&os.O_APPEND != 0 {
		h.pos = int64(len(h.sh.data))
	}
	end := h.pos + int64(len(p))
	if end > int64(len(h.sh.data)) {
		h.sh.data = append(h.sh.data, make([]byte, end-int64(len(h.sh.data)))...)
	}
	copy(h.sh.data[h.pos:], p)
	h.pos = end
	h.dirty = true
	return len(p), nil
}

func (h *hostFile) Seek(off int64, whence int) (int64, error) {
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += h.pos
	case io.SeekEnd:
		off += int64(len(h.sh.data))
	}
	if off < 0 {
		return 0, errors.New("negative seek")
	}
	h.pos = off
	return off, nil
}

// Close writes the buffer to the host (atomically) if this handle wrote.
func (h *hostFile) Close() error {
	if h.closed {
		return nil
	}
	h.closed = true
	h.fs.open.mu.Lock()
	h.sh.mu.Lock()
	h.sh.refs--
	if h.sh.refs == 0 && h.fs.open.files[h.path] == h.sh {
		delete(h.fs.open.files, h.path)
	}
	data := bytes.Clone(h.sh.data)
	h.sh.mu.Unlock()
	h.fs.open.mu.Unlock()
	if !h.dirty || h.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return nil
	}
	return h.fs.h.WriteFile(h.fs.ctx, h.path, data, host.WriteOptions{Mode: h.perm, UID: -1, GID: -1})
}

func (h *hostFile) Lock() error   { return nil }
func (h *hostFile) Unlock() error { return nil }
func (h *hostFile) Truncate(size int64) error {
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	if size < int64(len(h.sh.data)) {
		h.sh.data = h.sh.data[:size]
	} else {
		h.sh.data = append(h.sh.data, make([]byte, size-int64(len(h.sh.data)))...)
	}
	h.dirty = true
	return nil
}

// fileInfo adapts host.FileInfo to os.FileInfo.
type fileInfo struct {
	fi   host.FileInfo
	name string
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.fi.Size }
func (i fileInfo) Mode() os.FileMode  { return i.fi.Mode }
func (i fileInfo) ModTime() time.Time { return i.fi.ModTime }
func (i fileInfo) IsDir() bool        { return i.fi.Mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }
