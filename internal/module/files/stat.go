package files

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "stat", Kind: "file", New: func() module.Module { return &Stat{} }, Spec: module.Spec{
		"path":               {Type: module.TypePath, Required: true, Aliases: []string{"dest", "name"}},
		"follow":             {Type: module.TypeBool, Default: false},
		"get_checksum":       {Type: module.TypeBool, Default: true},
		"get_md5":            {Type: module.TypeBool, Default: false},
		"checksum_algorithm": {Type: module.TypeStr, Default: "sha1", Aliases: []string{"checksum", "checksum_algo"}, Choices: []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}},
		"get_mime":           {Type: module.TypeBool, Default: true, Aliases: []string{"mime", "mime_type", "mime-type"}},
		"get_attributes":     {Type: module.TypeBool, Default: true, Aliases: []string{"attr", "attributes"}},
	}})
}

// Stat is ansible.builtin.stat: facts about a path. It never changes
// anything.
type Stat struct{}

var _ module.Module = (*Stat)(nil)

// Run implements module.Module.
func (*Stat) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	return result(ctx, t)(runStat(ctx, t))
}

func runStat(ctx context.Context, t *module.Task) (module.Result, error) {
	a := t.Args
	h := t.Host
	p := a.String("path")
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return module.Result{}, err
	}
	if a.Bool("follow") && fi.IsSymlink() {
		if fi, err = host.StatFollow(ctx, h, p); err != nil {
			return module.Result{}, err
		}
	}
	if !fi.Exists {
		return module.Result{Values: map[string]any{"stat": map[string]any{"exists": false}}}, nil
	}
	// the same fields as find's (mode as "%04o", atime and ctime too),
	// as Ansible's stat and find both build them from os.stat
	st := statInfo(ctx, h, fi)
	st["exists"], st["path"] = true, p
	if fi.IsSymlink() {
		st["lnk_source"] = realPath(ctx, h, p)
		st["lnk_target"] = fi.LinkTarget
	}
	if fi.Mode.IsRegular() && a.Bool("get_checksum") {
		data, err := h.ReadFile(ctx, p)
		if err == nil {
			st["checksum"] = hashHex(a.String("checksum_algorithm"), data)
			if a.Bool("get_md5") {
				st["md5"] = hashHex("md5", data)
			}
		}
	}
	return module.Result{Values: map[string]any{"stat": st}}, nil
}

func hashHex(algo string, data []byte) string {
	var h hash.Hash
	switch algo {
	case "md5":
		h = md5.New()
	case "sha224":
		h = sha256.New224()
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		h = sha1.New()
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
