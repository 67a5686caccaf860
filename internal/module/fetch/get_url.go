package fetch

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func fileArgs(s module.Spec) module.Spec {
	for _, k := range []string{"owner", "group", "seuser", "serole", "setype", "selevel"} {
		s[k] = module.Param{Type: module.TypeStr}
	}
	s["mode"] = module.Param{Type: module.TypeMode}
	s["attributes"] = module.Param{Type: module.TypeStr, Aliases: []string{"attr"}}
	s["unsafe_writes"] = module.Param{Type: module.TypeBool, Default: false}
	return s
}

func init() {
	module.Register(module.Info{Name: "get_url", Kind: "file", New: func() module.Module { return &GetURL{} }, Spec: fileArgs(module.Spec{
		"url":                  {Type: module.TypeStr, Required: true},
		"dest":                 {Type: module.TypePath, Required: true},
		"backup":               {Type: module.TypeBool, Default: false},
		"checksum":             {Type: module.TypeStr, Default: ""},
		"force":                {Type: module.TypeBool, Default: false},
		"timeout":              {Type: module.TypeInt, Default: 10},
		"headers":              {Type: module.TypeDict},
		"tmp_dest":             {Type: module.TypePath},
		"use_proxy":            {Type: module.TypeBool, Default: true},
		"validate_certs":       {Type: module.TypeBool, Default: true},
		"url_username":         {Type: module.TypeStr, Aliases: []string{"username"}},
		"url_password":         {Type: module.TypeStr, Aliases: []string{"password"}, NoLog: true},
		"force_basic_auth":     {Type: module.TypeBool, Default: false},
		"http_agent":           {Type: module.TypeStr, Default: "ansible-httpget"},
		"use_gssapi":           {Type: module.TypeBool, Default: false},
		"client_cert":          {Type: module.TypePath},
		"client_key":           {Type: module.TypePath},
		"unredirected_headers": {Type: module.TypeList, Elements: module.TypeStr, Default: []any{}},
		"decompress":           {Type: module.TypeBool, Default: true},
		"ciphers":              {Type: module.TypeList, Elements: module.TypeStr},
		"use_netrc":            {Type: module.TypeBool, Default: true},
	})})
}

// GetURL is ansible.builtin.get_url. http(s) URLs are fetched by the tend
// process (the controller in push mode; Ansible fetches on the target);
// file:// URLs are read on the target through the host. The file is
// written atomically through host.Host only when its content differs.
type GetURL struct{}

var _ module.Module = (*GetURL)(nil)

func newHash(algo string) (hash.Hash, error) {
	switch strings.ToLower(algo) {
	case "md5":
		return md5.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("Could not hash file '%s' with algorithm '%s'. Available algorithms: md5, sha1, sha224, sha256, sha384, sha512", "", algo)
}

func digest(algo string, data []byte) string {
	h, err := newHash(algo)
	if err != nil {
		return ""
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

var nonWord = regexp.MustCompile(`\W+`)

type fetched struct {
	status   int
	msg      string
	body     []byte
	filename string // from Content-Disposition
	finalURL string
	notMod   bool
}

// Run implements module.Module.
func (*GetURL) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	rawURL, dest := a.String("url"), a.String("dest")
	vals := map[string]any{"url": rawURL, "dest": dest, "changed": false}
	fail := func(format string, args ...any) (module.Result, error) {
		r := module.Failf(format, args...)
		r.Values = vals
		return r, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return fail("%s is not a valid URL", rawURL)
	}
	switch u.Scheme {
	case "http", "https", "file":
	default:
		return fail("get_url: scheme %q is not supported natively (http, https, file); use backend ansible for this task", u.Scheme)
	}
	algo, want := "", ""
	if c := a.String("checksum"); c != "" {
		var ok bool
		algo, want, ok = strings.Cut(c, ":")
		if !ok {
			return fail("The checksum parameter has to be in format <algorithm>:<checksum>")
		}
		if _, err := newHash(algo); err != nil {
			return fail("%v", err)
		}
		if strings.HasPrefix(want, "http://") || strings.HasPrefix(want, "https://") || strings.HasPrefix(want, "file://") {
			sums, err := fetch(ctx, t, want, time.Time{}, true, "GET")
			if err != nil {
				return fail("%v", err)
			}
			want = pickChecksum(string(sums.body), path.Base(u.Path))
			if want == "" {
				return fail("Unable to find a checksum for file '%s' in '%s'", path.Base(u.Path), a.String("checksum"))
			}
		}
		want = strings.ToLower(nonWord.ReplaceAllString(want, ""))
		if _, err := hex.DecodeString(strings.Repeat("0", len(want)%2) + want); err != nil || want == "" {
			return fail("The checksum format is invalid")
		}
	}
	fi, err := h.Stat(ctx, dest)
	if err != nil {
		return fail("%v", err)
	}
	destIsDir := fi.IsDir()
	force := a.Bool("force")
	var lastMod time.Time
	if !destIsDir && fi.Exists {
		mismatch := false
		if !force && want != "" {
			cur, err := h.ReadFile(ctx, dest)
			if err != nil {
				return fail("read %s: %v", dest, err)
			}
			mismatch = digest(algo, cur) != want
		}
		if !force && want != "" && !mismatch {
			changed, err := applyAttrs(ctx, t, dest, vals)
			if err != nil {
				return fail("%v", err)
			}
			msg := "file already exists"
			if changed {
				msg = "file already exists but file attributes changed"
			}
			vals["msg"] = msg
			return module.Result{Changed: changed, Msg: msg, Values: vals, Resources: []module.Resource{{Kind: "file", ID: dest, Differs: attrDiffers(changed)}}}, nil
		}
		lastMod = fi.ModTime
		if mismatch {
			force = true
		}
	}
	start := time.Now()
	// Check mode downloads too (read-only): it is the only way to say
	// whether the content would change, which drift detection needs.
	got, err := fetch(ctx, t, rawURL, lastMod, force, "GET")
	vals["elapsed"] = int(time.Since(start).Seconds())
	if err != nil {
		return fail("%v", err)
	}
	if got.notMod {
		vals["status_code"], vals["msg"] = got.status, got.msg
		return module.Result{Values: vals, Msg: got.msg, Resources: []module.Resource{{Kind: "file", ID: dest}}}, nil
	}
	if destIsDir {
		name := got.filename
		if name == "" {
			name = path.Base(strings.TrimSuffix(got.finalURL, "/"))
		}
		dest = path.Join(dest, name)
		vals["dest"] = dest
		if fi, err = h.Stat(ctx, dest); err != nil {
			return fail("%v", err)
		}
	}
	vals["checksum_src"] = digest("sha1", got.body)
	var cur []byte
	if fi.Exists {
		if cur, err = h.ReadFile(ctx, dest); err != nil {
			return fail("Destination %s is not readable", dest)
		}
		vals["checksum_dest"] = digest("sha1", cur)
	} else if pfi, err := h.Stat(ctx, path.Dir(dest)); err != nil || !pfi.IsDir() {
		return fail("Destination %s does not exist", path.Dir(dest))
	}
	if want != "" {
		if got := digest(algo, got.body); got != want {
			return fail("The checksum for %s did not match %s; it was %s.", dest, want, got)
		}
	}
	differs := !fi.Exists || vals["checksum_src"] != vals["checksum_dest"]
	res := module.Result{Values: vals, Msg: got.msg, Resources: []module.Resource{{Kind: "file", ID: dest}}}
	if differs {
		res.Changed = true
		res.Resources[0].Differs = []string{"content"}
		if t.Diff {
			res.Diffs = []module.Diff{{BeforeHeader: dest, AfterHeader: rawURL, Before: diffText(cur), After: diffText(got.body)}}
		}
	}
	if t.Check {
		vals["msg"] = got.msg
		if !differs {
			ch, err := attrsDiffer(ctx, t, dest)
			if err != nil {
				return fail("%v", err)
			}
			res.Changed = ch
		}
		return res, nil
	}
	if differs {
		if a.Bool("backup") && fi.Exists && t.Backup != nil {
			if err := t.Backup(ctx, dest); err != nil {
				return fail("backup %s: %v", dest, err)
			}
		}
		opts, err := writeOpts(ctx, t, fi)
		if err != nil {
			return fail("%v", err)
		}
		if err := h.WriteFile(ctx, dest, got.body, opts); err != nil {
			return fail("failed to copy to %s: %v", dest, err)
		}
	}
	ch, err := applyAttrs(ctx, t, dest, vals)
	if err != nil {
		return fail("%v", err)
	}
	res.Changed = res.Changed || ch
	vals["md5sum"] = digest("md5", got.body)
	vals["msg"], vals["status_code"] = got.msg, got.status
	vals["size"] = len(got.body)
	vals["state"] = "file"
	return res, nil
}

func diffText(b []byte) string {
	if len(b) > 64*1024 || strings.ContainsRune(string(b), 0) {
		return fmt.Sprintf("(binary or large content, %d bytes)\n", len(b))
	}
	return string(b)
}

func attrDiffers(changed bool) []string {
	if changed {
		return []string{"attributes"}
	}
	return nil
}

// pickChecksum finds the checksum for filename in a sums file, as Ansible.
func pickChecksum(text, filename string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 1 && len(strings.Fields(lines[0])) == 1 {
		return strings.TrimSpace(lines[0])
	}
	for _, l := range lines {
		sum, f, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		f = strings.TrimLeft(strings.TrimLeft(f, " *"), "./")
		if f == filename {
			return sum
		}
	}
	return ""
}

func fetch(ctx context.Context, t *module.Task, raw string, lastMod time.Time, force bool, method string) (*fetched, error) {
	u, _ := url.Parse(raw)
	if u.Scheme == "file" {
		data, err := t.Host.ReadFile(ctx, u.Path)
		if err != nil {
			return nil, fmt.Errorf("Request failed: %v", err)
		}
		return &fetched{status: 200, msg: fmt.Sprintf("OK (%d bytes)", len(data)), body: data, finalURL: raw}, nil
	}
	timeout := time.Duration(t.Args.Int("timeout")) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, raw, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", t.Args.String("http_agent"))
	for k, v := range t.Args.Dict("headers") {
		req.Header.Set(k, fmt.Sprint(v))
	}
	if user := t.Args.String("url_username"); user != "" {
		req.SetBasicAuth(user, t.Args.String("url_password"))
	}
	if !force && !lastMod.IsZero() {
		req.Header.Set("If-Modified-Since", lastMod.UTC().Format(http.TimeFormat))
	}
	client := http.DefaultClient
	if !t.Args.Bool("validate_certs") {
		client = insecureClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Request failed: %v", err)
	}
	defer resp.Body.Close()
	out := &fetched{status: resp.StatusCode, finalURL: resp.Request.URL.String()}
	if resp.StatusCode == http.StatusNotModified {
		out.notMod = true
		out.msg = "HTTP Error 304: Not Modified"
		return out, nil
	}
	if resp.StatusCode >= 400 {
		return nil, fmt.Errorf("Request failed: HTTP Error %d: %s", resp.StatusCode, strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)+" "))
	}
	if out.body, err = io.ReadAll(resp.Body); err != nil {
		return nil, fmt.Errorf("Request failed: %v", err)
	}
	out.msg = fmt.Sprintf("OK (%d bytes)", len(out.body))
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, p, err := mime.ParseMediaType(cd); err == nil {
			out.filename = path.Base(p["filename"])
		}
	}
	return out, nil
}

// writeOpts turns owner/group/mode args into WriteOptions.
func writeOpts(ctx context.Context, t *module.Task, fi host.FileInfo) (host.WriteOptions, error) {
	a, h := t.Args, t.Host
	o := host.WriteOptions{UID: -1, GID: -1}
	var err error
	if a.Has("owner") {
		if o.UID, err = h.LookupUser(ctx, a.String("owner")); err != nil {
			return o, fmt.Errorf("chown failed: failed to look up user %s", a.String("owner"))
		}
	}
	if a.Has("group") {
		if o.GID, err = h.LookupGroup(ctx, a.String("group")); err != nil {
			return o, fmt.Errorf("chgrp failed: failed to look up group %s", a.String("group"))
		}
	}
	if a.Has("mode") {
		if o.Mode, err = module.ParseMode(a["mode"], fi.Perm(), false); err != nil {
			return o, err
		}
	} else if !fi.Exists {
		o.Mode = 0o644
	}
	return o, nil
}

func attrsDiffer(ctx context.Context, t *module.Task, p string) (bool, error) {
	fi, err := t.Host.Stat(ctx, p)
	if err != nil || !fi.Exists {
		return false, err
	}
	o, err := writeOpts(ctx, t, fi)
	if err != nil {
		return false, err
	}
	return t.Args.Has("mode") && fi.Perm() != o.Mode || o.UID >= 0 && fi.UID != o.UID || o.GID >= 0 && fi.GID != o.GID, nil
}

// applyAttrs is set_fs_attributes_if_different for mode, owner and group.
func applyAttrs(ctx context.Context, t *module.Task, p string, vals map[string]any) (bool, error) {
	fi, err := t.Host.Stat(ctx, p)
	if err != nil || !fi.Exists {
		return false, err
	}
	o, err := writeOpts(ctx, t, fi)
	if err != nil {
		return false, err
	}
	changed := false
	if t.Args.Has("mode") && fi.Perm() != o.Mode {
		changed = true
		if !t.Check {
			if err := t.Host.Chmod(ctx, p, o.Mode); err != nil {
				return false, err
			}
		}
	}
	if o.UID >= 0 && fi.UID != o.UID || o.GID >= 0 && fi.GID != o.GID {
		changed = true
		if !t.Check {
			if err := t.Host.Lchown(ctx, p, o.UID, o.GID); err != nil {
				return false, err
			}
		}
	}
	if fi, err = t.Host.Stat(ctx, p); err == nil && vals != nil {
		vals["mode"] = fmt.Sprintf("%04o", fi.Perm())
		vals["uid"], vals["gid"] = fi.UID, fi.GID
		vals["owner"], vals["group"] = t.Host.UserName(ctx, fi.UID), t.Host.GroupName(ctx, fi.GID)
	}
	return changed, nil
}
