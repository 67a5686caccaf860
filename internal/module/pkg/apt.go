package pkg

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "apt", Kind: "package", Spec: aptSpec(), New: func() module.Module { return &Apt{} }})
}

func aptSpec() module.Spec {
	return module.Spec{
		"name":                         {Type: module.TypeList, Elements: module.TypeStr, Aliases: []string{"package", "pkg"}},
		"state":                        {Type: module.TypeStr, Default: "present", Choices: []string{"absent", "build-dep", "latest", "present", "fixed"}},
		"update_cache":                 {Type: module.TypeBool, Aliases: []string{"update-cache"}},
		"update_cache_retries":         {Type: module.TypeInt, Default: 5},
		"update_cache_retry_max_delay": {Type: module.TypeInt, Default: 12},
		"cache_valid_time":             {Type: module.TypeInt, Default: 0},
		"purge":                        {Type: module.TypeBool, Default: false},
		"default_release":              {Type: module.TypeStr, Aliases: []string{"default-release"}},
		"install_recommends":           {Type: module.TypeBool, Aliases: []string{"install-recommends"}},
		"force":                        {Type: module.TypeBool, Default: false},
		"upgrade":                      {Type: module.TypeStr, Choices: []string{"dist", "full", "no", "safe", "yes"}, Default: "no"},
		"dpkg_options":                 {Type: module.TypeStr, Default: "force-confdef,force-confold"},
		"deb":                          {Type: module.TypePath},
		"autoremove":                   {Type: module.TypeBool, Default: false},
		"autoclean":                    {Type: module.TypeBool, Default: false},
		"fail_on_autoremove":           {Type: module.TypeBool, Default: false},
		"policy_rc_d":                  {Type: module.TypeInt},
		"only_upgrade":                 {Type: module.TypeBool, Default: false},
		"force_apt_get":                {Type: module.TypeBool, Default: false},
		"clean":                        {Type: module.TypeBool, Default: false},
		"allow_unauthenticated":        {Type: module.TypeBool, Default: false, Aliases: []string{"allow-unauthenticated"}},
		"allow_downgrade":              {Type: module.TypeBool, Default: false, Aliases: []string{"allow-downgrade", "allow_downgrades", "allow-downgrades"}},
		"allow_change_held_packages":   {Type: module.TypeBool, Default: false},
		"lock_timeout":                 {Type: module.TypeInt, Default: 60},
	}
}

// Apt is ansible.builtin.apt. Installed state comes from dpkg's status
// file; candidates (for latest, pins and unknown names) from one read-only
// apt-cache call; changes from one apt-get call per task.
type Apt struct{}

var _ module.Module = (*Apt)(nil)

// aptEnv is the environment Ansible's apt module runs apt-get with.
var aptEnv = map[string]string{
	"DEBIAN_FRONTEND": "noninteractive", "DEBIAN_PRIORITY": "critical",
	"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C", "LC_CTYPE": "C",
}

// aptZero is apt-get's summary when it did nothing.
const aptZero = "\n0 upgraded, 0 newly installed, 0 to remove"

// pkgReq is one requested package, "name" or "name=version".
type pkgReq struct {
	Name, Version string
}

func (r pkgReq) String() string {
	if r.Version != "" {
		return r.Name + "=" + r.Version
	}
	return r.Name
}

func parseReqs(names []string) ([]pkgReq, error) {
	var out []pkgReq
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		name, ver, _ := strings.Cut(n, "=")
		if !validPkgName(name) {
			return nil, fmt.Errorf("invalid package name %q", n)
		}
		out = append(out, pkgReq{Name: name, Version: ver})
	}
	return out, nil
}

// validPkgName accepts Debian/RPM package names (optionally :arch or a
// glob), and rejects what could be taken for an option.
func validPkgName(n string) bool {
	if n == "" || strings.HasPrefix(n, "-") {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+-._:*?[]~^", c)) {
			return false
		}
	}
	return true
}

// aptRun is the state of one apt task run.
type aptRun struct {
	t      *module.Task
	h      host.Host
	a      module.Args
	values map[string]any
	res    module.Result
}

// Run implements module.Module.
func (*Apt) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	r := &aptRun{t: t, h: t.Host, a: t.Args, values: map[string]any{}}
	a := t.Args
	state := a.String("state")
	if state == "build-dep" {
		return module.Failf("state=build-dep is not supported by tend's apt module; use backend ansible for this task"), nil
	}
	if !a.Has("name") && !a.Has("deb") && a.String("upgrade") == "no" && !a.Bool("update_cache") && !a.Bool("autoremove") && a.Int("cache_valid_time") == 0 && !a.Bool("autoclean") && !a.Bool("clean") {
		return module.Failf("one of the following is required: name, deb, upgrade, update_cache, autoremove"), nil
	}
	if a.Has("name") && a.Has("deb") {
		return module.Failf("parameters are mutually exclusive: deb|package|upgrade"), nil
	}
	reqs, err := parseReqs(a.Strings("name"))
	if err != nil {
		return module.Failf("%v", err), nil
	}
	if err := r.updateCache(ctx); err != nil {
		return r.fail(err), nil
	}
	if !a.Has("name") && !a.Has("deb") && a.String("upgrade") == "no" && !a.Bool("autoremove") {
		r.res.Changed = r.values["cache_updated"] == true
		return r.done(), nil
	}
	switch {
	case a.Has("deb"):
		err = r.installDeb(ctx, a.String("deb"))
	case len(reqs) > 0 && state == "absent":
		err = r.remove(ctx, reqs)
	case len(reqs) > 0:
		err = r.install(ctx, reqs, state)
	case a.String("upgrade") != "no":
		mode := map[string]string{"yes": "upgrade", "safe": "upgrade", "dist": "dist-upgrade", "full": "full-upgrade"}[a.String("upgrade")]
		err = r.simple(ctx, mode)
	case a.Bool("autoremove"):
		err = r.simple(ctx, "autoremove")
	}
	if err != nil {
		return r.fail(err), nil
	}
	return r.done(), nil
}

func (r *aptRun) done() module.Result {
	r.res.Values = r.values
	return r.res
}

func (r *aptRun) fail(err error) module.Result {
	r.res.Failed = true
	r.res.Changed = false
	r.res.Diffs = nil
	r.res.Msg = err.Error()
	r.res.Values = r.values
	return r.res
}

// cacheTime is when the apt lists were last updated, as Ansible reads it.
func (r *aptRun) cacheTime(ctx context.Context) time.Time {
	for _, p := range []string{"/var/lib/apt/periodic/update-success-stamp", "/var/lib/apt/lists"} {
		if fi, err := r.h.Stat(ctx, p); err == nil && fi.Exists {
			return fi.ModTime
		}
	}
	return time.Time{}
}

func (r *aptRun) updateCache(ctx context.Context) error {
	ct := r.cacheTime(ctx)
	r.values["cache_updated"] = false
	r.values["cache_update_time"] = ct.Unix()
	valid := r.a.Int("cache_valid_time")
	if !r.a.Bool("update_cache") && valid == 0 {
		return nil
	}
	if valid > 0 && time.Since(ct) < time.Duration(valid)*time.Second {
		return nil
	}
	if !r.t.Check {
		if _, err := r.aptGet(ctx, false, "update"); err != nil {
			return fmt.Errorf("Failed to update apt cache: %w", err)
		}
		ct = r.cacheTime(ctx)
		if ct.IsZero() || time.Since(ct) > time.Minute {
			ct = time.Now()
		}
	}
	r.values["cache_updated"] = true
	r.values["cache_update_time"] = ct.Unix()
	// A cache update alone is a change only when the task has nothing else
	// to do; with packages, changed says whether packages changed (as
	// Ansible's apt), so a converged host shows no drift.
	return nil
}

// aptGet runs apt-get with Ansible's options; readOnly runs it simulated.
func (r *aptRun) aptGet(ctx context.Context, simulate bool, args ...string) (host.CommandResult, error) {
	argv := []string{"apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=" + strconv.Itoa(r.a.Int("lock_timeout"))}
	if simulate {
		argv = append(argv, "--simulate")
	}
	argv = append(argv, args...)
	res, err := r.h.Run(ctx, host.Command{Argv: argv, Env: aptEnv, ReadOnly: simulate})
	if err != nil {
		return res, fmt.Errorf("run apt-get: %w", err)
	}
	r.values["stdout"] = string(res.Stdout)
	r.values["stderr"] = string(res.Stderr)
	r.values["stdout_lines"] = lines(string(res.Stdout))
	r.values["stderr_lines"] = lines(string(res.Stderr))
	if res.RC != 0 {
		r.values["rc"] = res.RC
		stderr := strings.TrimSpace(string(res.Stderr))
		if strings.Contains(stderr, "Could not get lock") || strings.Contains(stderr, "Unable to acquire the dpkg frontend lock") || strings.Contains(stderr, "Unable to lock directory") {
			holder := ""
			if l := lines(string(res.Stdout)); len(l) > 0 && strings.Contains(l[len(l)-1], "held by") {
				holder = " (" + strings.TrimSpace(strings.TrimPrefix(l[len(l)-1], "Waiting for cache lock:")) + ")"
			}
			return res, fmt.Errorf("Failed to lock apt for exclusive operation: the dpkg/apt lock was still held after lock_timeout=%ds%s; wait for the other package manager to finish or raise lock_timeout: %s", r.a.Int("lock_timeout"), holder, stderr)
		}
		return res, fmt.Errorf("'%s' failed: %s", strings.Join(argv, " "), stderr)
	}
	return res, nil
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// commonOpts are the apt-get options that come from the task's args.
func (r *aptRun) commonOpts() []string {
	var o []string
	for _, d := range strings.Split(r.a.String("dpkg_options"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			o = append(o, "-o", "Dpkg::Options::=--"+d)
		}
	}
	if r.a.Has("default_release") {
		o = append(o, "-t", r.a.String("default_release"))
	}
	if r.a.Has("install_recommends") {
		o = append(o, "-o", "APT::Install-Recommends="+map[bool]string{true: "yes", false: "no"}[r.a.Bool("install_recommends")])
	}
	if r.a.Bool("allow_unauthenticated") {
		o = append(o, "--allow-unauthenticated")
	}
	if r.a.Bool("allow_downgrade") {
		o = append(o, "--allow-downgrades")
	}
	if r.a.Bool("allow_change_held_packages") {
		o = append(o, "--allow-change-held-packages")
	}
	return o
}

// policy is what apt-cache policy says about one package: the candidate
// and every available version, newest first.
type policy struct {
	Candidate string
	Versions  []string
}

// aptPolicy asks apt-cache (read-only) about names; a name apt does not
// know is missing from the map.
func (r *aptRun) aptPolicy(ctx context.Context, names []string) (map[string]policy, error) {
	out := map[string]policy{}
	if len(names) == 0 {
		return out, nil
	}
	argv := append([]string{"apt-cache", "policy", "--"}, names...)
	res, err := r.h.Run(ctx, host.Command{Argv: argv, Env: aptEnv, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("run apt-cache: %w", err)
	}
	if res.RC != 0 {
		return nil, fmt.Errorf("apt-cache policy failed: %s", strings.TrimSpace(string(res.Stderr)))
	}
	return parsePolicy(string(res.Stdout)), nil
}

func parsePolicy(s string) map[string]policy {
	out := map[string]policy{}
	var name string
	var cur policy
	flush := func() {
		if name != "" && (cur.Candidate != "" || len(cur.Versions) > 0) {
			out[name] = cur
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			continue
		}
		if l[0] != ' ' && strings.HasSuffix(l, ":") {
			flush()
			name, cur = strings.TrimSuffix(l, ":"), policy{}
			continue
		}
		t := strings.TrimSpace(l)
		if c, ok := strings.CutPrefix(t, "Candidate:"); ok {
			c = strings.TrimSpace(c)
			if c != "(none)" {
				cur.Candidate = c
			}
			continue
		}
		f := strings.Fields(strings.TrimPrefix(t, "*** "))
		if len(f) == 2 {
			if _, err := strconv.Atoi(f[1]); err == nil {
				cur.Versions = append(cur.Versions, f[0])
			}
		}
	}
	flush()
	return out
}

// pickVersion returns the newest available version matching pattern
// (exact or fnmatch-style, as Ansible's apt accepts "foo=1.0*").
func pickVersion(p policy, pattern string) string {
	for _, v := range p.Versions {
		if v == pattern {
			return v
		}
		if ok, _ := path.Match(pattern, v); ok {
			return v
		}
	}
	return ""
}

func versionMatches(installed, pattern string) bool {
	if installed == pattern {
		return true
	}
	ok, _ := path.Match(pattern, installed)
	return ok
}

func (r *aptRun) install(ctx context.Context, reqs []pkgReq, state string) error {
	db, err := readDpkgStatus(ctx, r.h)
	if err != nil {
		return err
	}
	// Which names need apt's view: all for latest, otherwise those not
	// installed or installed at another version than pinned.
	var ask []string
	for _, q := range reqs {
		p, _ := db.find(q.Name)
		if state == "latest" || !p.Installed() || q.Version != "" && !versionMatches(p.Version, q.Version) {
			ask = append(ask, q.Name)
		}
	}
	pol, err := r.aptPolicy(ctx, ask)
	if err != nil {
		return err
	}
	var todo []string
	var before, after []string
	for _, q := range reqs {
		p, _ := db.find(q.Name)
		res := module.Resource{Kind: "package", ID: q.Name}
		cur := "absent"
		if p.Installed() {
			cur = p.Version
		}
		want := ""
		needsPolicy := state == "latest" || !p.Installed() || q.Version != "" && !versionMatches(p.Version, q.Version)
		if needsPolicy {
			po, known := pol[q.Name]
			if !known || po.Candidate == "" && len(po.Versions) == 0 {
				if p.Installed() && state == "latest" {
					// installed, but no longer in any source: nothing newer
					r.res.Resources = append(r.res.Resources, res)
					continue
				}
				return fmt.Errorf("No package matching '%s' is available", q.Name)
			}
			switch {
			case q.Version != "":
				v := pickVersion(po, q.Version)
				if v == "" {
					return fmt.Errorf("No package matching '%s' is available", q)
				}
				if !p.Installed() || !versionMatches(p.Version, q.Version) {
					want = v
				}
			case !p.Installed():
				want = po.Candidate
				if want == "" {
					return fmt.Errorf("No package matching '%s' is available (it is virtual or has no installation candidate)", q.Name)
				}
			case state == "latest" && po.Candidate != "" && po.Candidate != p.Version:
				want = po.Candidate
			}
		}
		if want != "" {
			arg := q.Name
			if q.Version != "" {
				arg = q.Name + "=" + want
			}
			todo = append(todo, arg)
			res.Differs = []string{fmt.Sprintf("version: %s -> %s", cur, want)}
			before = append(before, q.Name+" "+cur)
			after = append(after, q.Name+" "+want)
		}
		r.res.Resources = append(r.res.Resources, res)
	}
	if len(todo) == 0 {
		return nil
	}
	r.res.Changed = true
	if r.t.Diff {
		r.res.Diffs = append(r.res.Diffs, module.Diff{BeforeHeader: "installed packages", AfterHeader: "installed packages",
			Before: strings.Join(before, "\n") + "\n", After: strings.Join(after, "\n") + "\n"})
	}
	if r.t.Check {
		return nil
	}
	args := r.commonOpts()
	if state == "fixed" {
		args = append(args, "--fix-broken")
	}
	if r.a.Bool("only_upgrade") {
		args = append(args, "--only-upgrade")
	}
	args = append(args, "install")
	args = append(args, todo...)
	_, err = r.aptGet(ctx, false, args...)
	return err
}

func (r *aptRun) remove(ctx context.Context, reqs []pkgReq) error {
	db, err := readDpkgStatus(ctx, r.h)
	if err != nil {
		return err
	}
	purge := r.a.Bool("purge")
	var todo, before []string
	for _, q := range reqs {
		p, _ := db.find(q.Name)
		res := module.Resource{Kind: "package", ID: q.Name}
		switch {
		case p.Installed() && (q.Version == "" || versionMatches(p.Version, q.Version)):
			res.Differs = []string{fmt.Sprintf("installed: %s -> absent", p.Version)}
			before = append(before, q.Name+" "+p.Version)
			todo = append(todo, q.Name)
		case purge && p.HasConfig():
			res.Differs = []string{"config files: present -> purged"}
			before = append(before, q.Name+" (config files)")
			todo = append(todo, q.Name)
		}
		r.res.Resources = append(r.res.Resources, res)
	}
	if len(todo) == 0 {
		return nil
	}
	r.res.Changed = true
	if r.t.Diff {
		r.res.Diffs = append(r.res.Diffs, module.Diff{BeforeHeader: "installed packages", AfterHeader: "installed packages",
			Before: strings.Join(before, "\n") + "\n", After: ""})
	}
	if r.t.Check {
		return nil
	}
	args := r.commonOpts()
	if purge {
		args = append(args, "--purge")
	}
	if r.a.Bool("autoremove") {
		args = append(args, "--auto-remove")
	}
	args = append(args, "remove")
	args = append(args, todo...)
	_, err = r.aptGet(ctx, false, args...)
	return err
}

// simple runs an apt-get action whose effect only apt knows (upgrade,
// autoremove): simulated first (read-only), for real only if that shows
// a change and not in check mode.
func (r *aptRun) simple(ctx context.Context, action string) error {
	args := append(r.commonOpts(), action)
	res, err := r.aptGet(ctx, true, args...)
	if err != nil {
		return err
	}
	if strings.Contains("\n"+string(res.Stdout), aptZero) {
		return nil
	}
	r.res.Changed = true
	r.res.Resources = append(r.res.Resources, module.Resource{Kind: "package", ID: "apt-get " + action, Differs: []string{"pending: " + summaryLine(string(res.Stdout))}})
	if r.t.Check {
		return nil
	}
	_, err = r.aptGet(ctx, false, args...)
	return err
}

func summaryLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " upgraded, ") {
			return strings.TrimSpace(l)
		}
	}
	return "changes"
}

func (r *aptRun) installDeb(ctx context.Context, deb string) error {
	res, err := r.h.Run(ctx, host.Command{Argv: []string{"dpkg-deb", "-f", deb, "Package", "Version", "Architecture"}, Env: aptEnv, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("run dpkg-deb: %w", err)
	}
	if res.RC != 0 {
		return fmt.Errorf("Unable to install package: %s", strings.TrimSpace(string(res.Stderr)))
	}
	f := map[string]string{}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	name := f["Package"]
	db, err := readDpkgStatus(ctx, r.h)
	if err != nil {
		return err
	}
	p, _ := db.find(name)
	rs := module.Resource{Kind: "package", ID: name}
	if p.Installed() && p.Version == f["Version"] {
		r.res.Resources = append(r.res.Resources, rs)
		return nil
	}
	cur := "absent"
	if p.Installed() {
		cur = p.Version
	}
	rs.Differs = []string{fmt.Sprintf("version: %s -> %s", cur, f["Version"])}
	r.res.Resources = append(r.res.Resources, rs)
	r.res.Changed = true
	if r.t.Diff {
		r.res.Diffs = append(r.res.Diffs, module.Diff{Before: name + " " + cur + "\n", After: name + " " + f["Version"] + "\n"})
	}
	if r.t.Check {
		return nil
	}
	argv := []string{"dpkg"}
	for _, d := range strings.Split(r.a.String("dpkg_options"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			argv = append(argv, "--"+d)
		}
	}
	argv = append(argv, "-i", deb)
	run, err := r.h.Run(ctx, host.Command{Argv: argv, Env: aptEnv})
	if err != nil {
		return fmt.Errorf("run dpkg: %w", err)
	}
	r.values["stdout"], r.values["stderr"] = string(run.Stdout), string(run.Stderr)
	if run.RC != 0 {
		r.values["rc"] = run.RC
		return fmt.Errorf("'%s' failed: %s", strings.Join(argv, " "), strings.TrimSpace(string(run.Stderr)))
	}
	return nil
}
