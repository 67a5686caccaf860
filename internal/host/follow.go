package host

import (
	"context"
	"fmt"
	"path"
)

// StatFollow stats p on h following symlinks (Stat itself does not), up
// to 40 hops as the kernel does; a relative link target is taken from the
// link's directory.
func StatFollow(ctx context.Context, h Host, p string) (FileInfo, error) {
	for range 40 {
		fi, err := h.Stat(ctx, p)
		if err != nil || !fi.IsSymlink() {
			return fi, err
		}
		t := fi.LinkTarget
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = t
	}
	return FileInfo{}, fmt.Errorf("stat %s: too many levels of symbolic links", p)
}
