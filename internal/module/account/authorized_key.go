package account

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "authorized_key", Aliases: []string{"ansible.posix.authorized_key"}, Kind: "file",
		New: func() module.Module { return &AuthorizedKey{} }, Spec: module.Spec{
			"user":           {Type: module.TypeStr, Required: true},
			"key":            {Type: module.TypeStr, Required: true, NoLog: false},
			"path":           {Type: module.TypePath},
			"manage_dir":     {Type: module.TypeBool, Default: true},
			"state":          {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "present"}},
			"key_options":    {Type: module.TypeStr},
			"exclusive":      {Type: module.TypeBool, Default: false},
			"comment":        {Type: module.TypeStr},
			"validate_certs": {Type: module.TypeBool, Default: true},
			"follow":         {Type: module.TypeBool, Default: false},
		}})
}

// AuthorizedKey is ansible.posix.authorized_key: keys in a user's
// authorized_keys, written in the same order and format as Ansible writes
// them, so both tools converge on the same file.
type AuthorizedKey struct{}

var _ module.Module = (*AuthorizedKey)(nil)

var keyTypes = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`sk-ecdsa-sha2-nistp256@openssh.com sk-ecdsa-sha2-nistp256-cert-v01@openssh.com
	webauthn-sk-ecdsa-sha2-nistp256@openssh.com ecdsa-sha2-nistp256 ecdsa-sha2-nistp256-cert-v01@openssh.com
	ecdsa-sha2-nistp384 ecdsa-sha2-nistp384-cert-v01@openssh.com ecdsa-sha2-nistp521 ecdsa-sha2-nistp521-cert-v01@openssh.com
	sk-ssh-ed25519@openssh.com sk-ssh-ed25519-cert-v01@openssh.com ssh-ed25519 ssh-ed25519-cert-v01@openssh.com ssh-dss
	ssh-rsa ssh-xmss@openssh.com ssh-xmss-cert-v01@openssh.com rsa-sha2-256 rsa-sha2-512 ssh-rsa-cert-v01@openssh.com
	rsa-sha2-256-cert-v01@openssh.com rsa-sha2-512-cert-v01@openssh.com ssh-dss-cert-v01@openssh.com`) {
		keyTypes[t] = true
	}
}

// sshKey is one line of authorized_keys; Type "skipped" keeps a line that
// is not a key (comment, blank) verbatim in Raw.
type sshKey struct {
	Key, Type string
	Options   [][2]string // ordered; value "\x00" means a bare flag
	Comment   string
	Rank      int
	Raw       string
}

func (k sshKey) same(o sshKey) bool {
	if k.Key != o.Key || k.Type != o.Type || k.Comment != o.Comment || len(k.Options) != len(o.Options) {
		return false
	}
	om := map[string]string{}
	for _, x := range o.Options {
		om[x[0]] = x[1]
	}
	for _, x := range k.Options {
		if v, ok := om[x[0]]; !ok || v != x[1] {
			return false
		}
	}
	return true
}

func (k sshKey) line() string {
	if k.Type == "skipped" {
		return k.Raw
	}
	var opts []string
	for _, o := range k.Options {
		if o[1] == "\x00" {
			opts = append(opts, o[0])
		} else {
			opts = append(opts, o[0]+"="+o[1])
		}
	}
	s := ""
	if len(opts) > 0 {
		s = strings.Join(opts, ",") + " "
	}
	return fmt.Sprintf("%s%s %s %s\n", s, k.Type, k.Key, k.Comment)
}

// parseOptions splits "a,b=\"x,y\"" at commas outside quotes.
func parseOptions(s string) [][2]string {
	var out [][2]string
	var cur strings.Builder
	var q rune
	flush := func() {
		p := cur.String()
		cur.Reset()
		if p == "" {
			return
		}
		if k, v, ok := strings.Cut(p, "="); ok {
			out = append(out, [2]string{k, v})
		} else {
			out = append(out, [2]string{p, "\x00"})
		}
	}
	for _, c := range s {
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
			cur.WriteRune(c)
		case c == '"' || c == '\'':
			q = c
			cur.WriteRune(c)
		case c == ',':
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	flush()
	return out
}

// splitKeyLine splits at whitespace, keeping quoted parts together (as
// shlex with quotes disabled but whitespace_split... Ansible disables quotes,
// so a plain whitespace split is the same).
func parseKey(raw string, rank int) (sshKey, bool) {
	raw = strings.ReplaceAll(raw, `\#`, "#")
	parts := strings.Fields(raw)
	if len(parts) > 0 && parts[0] == "#" {
		return sshKey{Key: raw, Type: "skipped", Raw: raw, Rank: rank}, true
	}
	ti := -1
	for i, p := range parts {
		if keyTypes[p] {
			ti = i
			break
		}
	}
	if ti < 0 || ti+1 >= len(parts) {
		return sshKey{}, false
	}
	k := sshKey{Type: parts[ti], Key: parts[ti+1], Rank: rank, Comment: strings.Join(parts[ti+2:], " ")}
	if ti > 0 {
		k.Options = parseOptions(strings.Join(parts[:ti], " "))
	}
	return k, true
}

// Run implements module.Module.
func (*AuthorizedKey) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	user := a.String("user")
	vals := map[string]any{"user": user, "key": a.String("key"), "state": a.String("state"), "exclusive": a.Bool("exclusive"),
		"manage_dir": a.Bool("manage_dir"), "key_options": nilIfEmpty(a, "key_options"), "path": nilIfEmpty(a, "path"),
		"comment": nilIfEmpty(a, "comment"), "follow": a.Bool("follow"), "validate_certs": a.Bool("validate_certs")}
	if strings.HasPrefix(a.String("key"), "http") {
		return module.Failf("authorized_key: fetching keys from a URL is not supported natively; use backend ansible for this task"), nil
	}
	d, err := readDB(ctx, h, false)
	if err != nil {
		return module.Failf("%v", err), nil
	}
	u, ok := d.users[user]
	file := a.String("path")
	if !ok && (file == "" || !t.Check) {
		if t.Check && file == "" {
			return module.Failf("Either user must exist or you must provide full path to key file in check mode"), nil
		}
		return module.Failf("Failed to lookup user %s: \"getpwnam(): name not found: '%s'\"", user, user), nil
	}
	if file == "" {
		file = path.Join(u.Home, ".ssh", "authorized_keys")
	}
	vals["keyfile"] = file
	var existing string
	if fi, err := h.Stat(ctx, file); err == nil && fi.IsRegular() {
		b, err := h.ReadFile(ctx, file)
		if err != nil {
			return module.Failf("read %s: %v", file, err), nil
		}
		existing = string(b)
	}
	keys := map[string]sshKey{}
	rank := 0
	for _, l := range strings.SplitAfter(existing, "\n") {
		if l == "" {
			continue
		}
		if k, ok := parseKey(l, rank); ok {
			keys[k.Key] = k
		} else {
			keys[l] = sshKey{Key: l, Type: "skipped", Raw: l, Rank: rank}
		}
		rank++
	}
	maxRank := len(keys)
	state := a.String("state")
	var want []string
	write := false
	idx := 0
	for _, nl := range strings.Split(a.String("key"), "\n") {
		if nl == "" || strings.HasPrefix(nl, "#") {
			continue
		}
		k, ok := parseKey(nl, idx)
		idx++
		if !ok {
			return module.Failf("invalid key specified: %s", nl), nil
		}
		if a.Has("key_options") {
			k.Options = parseOptions(a.String("key_options"))
		}
		if a.Has("comment") {
			k.Comment = a.String("comment")
		}
		old, have := keys[k.Key]
		matched := have && (old.same(k) || state != "present")
		if state == "present" {
			want = append(want, k.Key)
			if have && !matched {
				delete(keys, k.Key)
				write = true
			}
			if !matched {
				k.Rank = maxRank + k.Rank
				keys[k.Key] = k
				write = true
			}
		} else if matched {
			delete(keys, k.Key)
			write = true
		}
	}
	if state == "present" && a.Bool("exclusive") {
		keep := map[string]bool{}
		for _, k := range want {
			keep[k] = true
		}
		for k := range keys {
			if !keep[k] {
				delete(keys, k)
				write = true
			}
		}
	}
	res := module.Result{Values: vals, Resources: []module.Resource{{Kind: "file", ID: file}}}
	if !write {
		return res, nil
	}
	list := make([]sshKey, 0, len(keys))
	for _, k := range keys {
		list = append(list, k)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Rank < list[j].Rank })
	var b strings.Builder
	for _, k := range list {
		b.WriteString(k.line())
	}
	content := b.String()
	res.Changed = true
	res.Resources[0].Differs = []string{"content"}
	if t.Diff {
		res.Diffs = []module.Diff{{BeforeHeader: file, AfterHeader: file, Before: existing, After: content}}
	}
	if t.Check {
		return res, nil
	}
	if err := writeKeys(ctx, h, a.Bool("manage_dir"), a.Has("path"), file, u, content); err != nil {
		return module.Failf("%v", err), nil
	}
	return res, nil
}

func writeKeys(ctx context.Context, h host.Host, manageDir, customPath bool, file string, u passwdEnt, content string) error {
	dir := path.Dir(file)
	if manageDir {
		fi, err := h.Stat(ctx, dir)
		if err != nil {
			return err
		}
		if !fi.Exists {
			if err := h.Mkdir(ctx, dir, 0o700); err != nil {
				return fmt.Errorf("Failed to create directory %s : %w", dir, err)
			}
		}
		if err := h.Lchown(ctx, dir, u.UID, u.GID); err != nil {
			return err
		}
		if err := h.Chmod(ctx, dir, 0o700); err != nil {
			return err
		}
	} else if fi, err := h.Stat(ctx, dir); err == nil && !fi.Exists {
		if err := mkdirAll(ctx, h, dir); err != nil {
			return err
		}
	}
	return h.WriteFile(ctx, file, []byte(content), host.WriteOptions{Mode: 0o600, UID: u.UID, GID: u.GID})
}

func mkdirAll(ctx context.Context, h host.Host, dir string) error {
	if fi, err := h.Stat(ctx, dir); err == nil && fi.Exists {
		return nil
	}
	if err := mkdirAll(ctx, h, path.Dir(dir)); err != nil {
		return err
	}
	return h.Mkdir(ctx, dir, 0o755)
}

func nilIfEmpty(a module.Args, k string) any {
	if a.Has(k) {
		return a[k]
	}
	return nil
}
