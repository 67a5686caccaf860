// Package facts owns fact gathering: what Ansible's setup module reports in
// ansible_facts (without the ansible_ prefix), collected from a host in one
// shell round trip and parsed in Go. Values and types match ansible-core
// 2.14's for the keys produced here.
package facts

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tend-project/tend/internal/host"
)

// Gather collects the facts of h. It runs one /bin/sh script on h.
func Gather(ctx context.Context, h host.Host) (map[string]any, error) {
	res, err := h.Run(ctx, host.Command{Shell: script})
	if err != nil {
		return nil, fmt.Errorf("gather facts on %s: %w", h.Name(), err)
	}
	sec := sections(string(res.Stdout))
	if _, ok := sec["end"]; !ok {
		return nil, fmt.Errorf("gather facts on %s: the gathering script did not finish (rc %d): %s",
			h.Name(), res.RC, strings.TrimSpace(string(res.Stderr)))
	}
	return build(sec), nil
}

// build turns the script's sections into facts.
func build(sec map[string]string) map[string]any {
	f := map[string]any{}
	fl := files(sec["files"])
	file := func(paths ...string) string {
		for _, p := range paths {
			if c, ok := fl[p]; ok {
				return c
			}
		}
		return ""
	}
	exists := lineSet(sec["exists"])
	paths := lineSet(sec["path"])
	status := parseStatus(fl["/proc/self/status"])

	f["system"] = strings.TrimSpace(file("/proc/sys/kernel/ostype"))
	f["kernel"] = strings.TrimSpace(file("/proc/sys/kernel/osrelease"))
	f["kernel_version"] = strings.TrimSpace(file("/proc/sys/kernel/version"))
	arch := strings.TrimSpace(file("/proc/sys/kernel/arch"))
	if arch == "" {
		arch = strings.TrimSpace(sec["arch"])
	}
	f["machine"], f["architecture"], f["userspace_architecture"] = arch, arch, arch
	node := strings.TrimSpace(file("/proc/sys/kernel/hostname"))
	f["nodename"] = node
	f["hostname"], _, _ = strings.Cut(node, ".")
	fqdn := FQDN(node, file("/etc/hosts"), sec["hostbyaddr"])
	f["fqdn"] = fqdn
	_, domain, _ := strings.Cut(fqdn, ".")
	f["domain"] = domain

	osr := ParseOSRelease(file("/etc/os-release", "/usr/lib/os-release"))
	d := Distribution(osr, map[string]string{
		"debian_version": file("/etc/debian_version"), "alpine-release": file("/etc/alpine-release"),
		"redhat-release": file("/etc/redhat-release"),
	})
	for k, v := range d {
		f[k] = v
	}
	f["lsb"] = LSB(file("/etc/lsb-release"), osr, paths["lsb_release"])

	for k, v := range ParseMeminfo(file("/proc/meminfo")) {
		f[k] = v
	}
	for k, v := range ParseCPUInfo(file("/proc/cpuinfo"), arch, countCPUList(status["Cpus_allowed_list"])) {
		f[k] = v
	}
	if up := strings.Fields(file("/proc/uptime")); len(up) > 0 {
		if s, err := strconv.ParseFloat(up[0], 64); err == nil {
			f["uptime_seconds"] = int(s)
		}
	}
	if id := lines(file("/var/lib/dbus/machine-id", "/etc/machine-id")); len(id) > 0 {
		f["machine_id"] = id[0]
	}

	env := map[string]any{}
	for p, c := range fl {
		if strings.HasPrefix(p, "/proc/") && strings.HasSuffix(p, "/environ") && p != "/proc/1/environ" {
			env = parseEnviron(c)
		}
	}
	f["env"] = env
	for k, v := range UserFacts(status, env, file("/etc/passwd")) {
		f[k] = v
	}

	proc1 := file("/proc/1/comm")
	if proc1 == "" {
		proc1 = strings.TrimSpace(sec["sbin-init"])
	}
	f["service_mgr"] = ServiceMgr(proc1, strings.TrimSpace(sec["sbin-init"]), f["system"].(string), exists, paths)
	f["pkg_mgr"] = PkgMgr(exists, d["distribution"].(string), d["os_family"].(string), d["distribution_major_version"].(string))
	dmi := map[string]string{
		"sys_vendor":   strings.TrimSpace(file("/sys/class/dmi/id/sys_vendor")),
		"product_name": strings.TrimSpace(file("/sys/class/dmi/id/product_name")),
	}
	for k, v := range Virtualization(file("/proc/1/cgroup"), strings.ReplaceAll(file("/proc/1/environ"), "\x00", "\n"),
		strings.TrimSpace(file("/run/systemd/container")), exists, dmi) {
		f[k] = v
	}
	f["selinux"] = map[string]any{"status": "disabled"}
	if exists["/sys/fs/selinux/enforce"] {
		mode := "permissive"
		if strings.TrimSpace(file("/sys/fs/selinux/enforce")) == "1" {
			mode = "enforcing"
		}
		f["selinux"] = map[string]any{"status": "enabled", "mode": mode}
	}
	f["apparmor"] = map[string]any{"status": "disabled"}
	if exists["/sys/kernel/security/apparmor"] {
		f["apparmor"] = map[string]any{"status": "enabled"}
	}
	f["fips"] = strings.TrimSpace(file("/proc/sys/crypto/fips_enabled")) == "1"
	if dt, ok := DateTime(sec["date"]); ok {
		f["date_time"] = dt
	}
	f["dns"] = ParseResolvConf(file("/etc/resolv.conf"))
	if paths["ip"] {
		sysfs := map[string]map[string]string{}
		devs := lines(sec["netdev"])
		for _, dev := range devs {
			a := map[string]string{}
			for _, attr := range []string{"address", "mtu", "operstate", "type", "flags", "speed"} {
				if c, ok := fl["/sys/class/net/"+dev+"/"+attr]; ok {
					a[attr] = strings.TrimSpace(c)
				}
			}
			sysfs[dev] = a
		}
		for _, p := range lines(sec["netkind"]) {
			dir, kind := path.Split(p)
			if a := sysfs[path.Base(dir)]; a != nil {
				a[kind] = "1"
			}
		}
		for k, v := range Network(sec["ip"], devs, sysfs) {
			f[k] = v
		}
	}
	return f
}

// parseStatus reads /proc/PID/status into key: value.
func parseStatus(s string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(s) {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// countCPUList counts the CPUs in a list such as "0-3,8,10-11".
func countCPUList(s string) int {
	n := 0
	for _, r := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(r), "-")
		a, err1 := strconv.Atoi(lo)
		if err1 != nil {
			continue
		}
		b := a
		if isRange {
			var err error
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		n += b - a + 1
	}
	return n
}

// FQDN is Python's socket.getfqdn() for node: its address from /etc/hosts
// (or, when node is not there, the script's getent answer, byaddr), then
// the first name with a dot among that address's canonical name and
// aliases, else the canonical name.
func FQDN(node, hosts, byaddr string) string {
	type entry struct {
		addr  string
		names []string
	}
	var entries []entry
	for _, l := range lines(hosts) {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		if w := strings.Fields(l); len(w) >= 2 {
			entries = append(entries, entry{w[0], w[1:]})
		}
	}
	var names []string
	addr := ""
	for _, e := range entries {
		for _, n := range e.names {
			if n == node && addr == "" {
				addr = e.addr
			}
		}
	}
	if addr != "" {
		for _, e := range entries {
			if e.addr == addr {
				names = e.names
				break
			}
		}
	} else if w := strings.Fields(byaddr); len(w) >= 2 {
		names = w[1:]
	}
	if len(names) == 0 {
		return node
	}
	for _, n := range names {
		if strings.Contains(n, ".") {
			return n
		}
	}
	return names[0]
}

// UserFacts ports Ansible's user facts: user_id is getpass.getuser() (the
// LOGNAME, USER, LNAME or USERNAME variable, else the passwd name of the
// uid), the rest come from that user's passwd entry and the process's ids
// (/proc/self/status).
func UserFacts(status map[string]string, env map[string]any, passwd string) map[string]any {
	f := map[string]any{}
	ids := func(k string) (int, int) {
		w := strings.Fields(status[k])
		if len(w) < 2 {
			return -1, -1
		}
		r, _ := strconv.Atoi(w[0])
		e, _ := strconv.Atoi(w[1])
		return r, e
	}
	ruid, euid := ids("Uid")
	rgid, _ := ids("Gid")
	f["real_user_id"], f["effective_user_id"] = ruid, euid
	f["real_group_id"], f["effective_group_id"] = rgid, rgid // sic: Ansible reports getgid() for both
	var byName, byUID []string
	user := ""
	for _, k := range []string{"LOGNAME", "USER", "LNAME", "USERNAME"} {
		if v, _ := env[k].(string); v != "" {
			user = v
			break
		}
	}
	for _, l := range lines(passwd) {
		pw := strings.Split(l, ":")
		if len(pw) < 7 {
			continue
		}
		if user != "" && pw[0] == user && byName == nil {
			byName = pw
		}
		if pw[2] == strconv.Itoa(ruid) && byUID == nil {
			byUID = pw
		}
	}
	if user == "" && byUID != nil {
		user = byUID[0]
	}
	f["user_id"] = user
	pw := byName
	if pw == nil {
		pw = byUID
	}
	if pw != nil {
		f["user_uid"], _ = strconv.Atoi(pw[2])
		f["user_gid"], _ = strconv.Atoi(pw[3])
		f["user_gecos"], f["user_dir"], f["user_shell"] = pw[4], pw[5], pw[6]
	}
	return f
}

func parseEnviron(s string) map[string]any {
	env := map[string]any{}
	sep := "\x00"
	if !strings.Contains(s, sep) {
		sep = "\n"
	}
	for _, kv := range strings.Split(s, sep) {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}

// ServiceMgr ports Ansible's service_mgr detection for Linux: pid 1's name
// unless it is "init" or a shell, else systemd/upstart/openrc/sysvinit by
// what exists, else "service".
func ServiceMgr(proc1, sbinInit, system string, exists, paths map[string]bool) string {
	p := strings.TrimSpace(proc1)
	if p == "" && sbinInit != "" {
		p = sbinInit
	}
	if i := strings.LastIndex(p, "/"); i >= 0 {
		p = p[i+1:]
	}
	p = strings.TrimSpace(p)
	if p != "" && p != "init" && !strings.HasSuffix(p, "sh") {
		if m, ok := map[string]string{"procd": "openwrt_init", "runit-init": "runit", "svscan": "svc", "openrc-init": "openrc"}[p]; ok {
			return m
		}
		return p
	}
	if system == "Linux" {
		systemctl := paths["systemctl"]
		switch {
		case systemctl && (exists["/run/systemd/system"] || exists["/dev/.run/systemd"] || exists["/dev/.systemd"]):
			return "systemd"
		case paths["initctl"] && exists["/etc/init"]:
			return "upstart"
		case exists["/sbin/openrc"]:
			return "openrc"
		case systemctl && strings.HasSuffix(sbinInit, "systemd"):
			return "systemd"
		case exists["/etc/init.d"]:
			return "sysvinit"
		}
	}
	return "service"
}

var pkgMgrs = []struct{ path, name string }{
	{"/usr/bin/rpm-ostree", "atomic_container"}, {"/usr/bin/yum", "yum"}, {"/usr/bin/dnf", "dnf"},
	{"/usr/bin/apt-get", "apt"}, {"/usr/bin/zypper", "zypper"}, {"/usr/sbin/urpmi", "urpmi"},
	{"/usr/bin/pacman", "pacman"}, {"/bin/opkg", "opkg"}, {"/sbin/apk", "apk"},
	{"/usr/bin/emerge", "portage"}, {"/usr/bin/xbps-install", "xbps"}, {"/usr/bin/swupd", "swupd"},
	{"/usr/sbin/sorcery", "sorcery"},
}

// PkgMgr ports Ansible's pkg_mgr fact for Linux: the last package manager
// found in Ansible's list, with its RedHat (yum/dnf by version) rules.
func PkgMgr(exists map[string]bool, distribution, family, major string) string {
	name := "unknown"
	for _, p := range pkgMgrs {
		if exists[p.path] {
			name = p.name
		}
	}
	if family == "RedHat" && name != "atomic_container" && (name == "yum" || name == "dnf" || name == "unknown") {
		if exists["/run/ostree-booted"] {
			return "atomic_container"
		}
		v, err := strconv.Atoi(major)
		switch distribution {
		case "Fedora":
			if err != nil || v >= 23 {
				if exists["/usr/bin/dnf"] || err != nil {
					name = "dnf"
				}
			} else if exists["/usr/bin/yum"] {
				name = "yum"
			}
		case "Amazon":
			if err != nil || v >= 2022 {
				if exists["/usr/bin/dnf"] || err != nil {
					name = "dnf"
				}
			} else if exists["/usr/bin/yum"] {
				name = "yum"
			}
		default:
			if err == nil && v < 8 {
				name = "yum"
			} else {
				name = "dnf"
			}
		}
	}
	return name
}

// Virtualization ports the container part of Ansible's Linux virtual facts
// (cgroup, pid 1's environment, /run/systemd/container, /.dockerenv) and
// recognises common hypervisors by DMI; anything else is "NA".
func Virtualization(cgroup, environ1, systemdContainer string, exists map[string]bool, dmi map[string]string) map[string]any {
	typ, role := "", ""
	set := func(t, r string) {
		if typ == "" {
			typ, role = t, r
		}
	}
	for _, line := range lines(cgroup) {
		switch {
		case strings.Contains(line, "/docker/") || strings.Contains(line, "/docker-") && strings.HasSuffix(line, ".scope"):
			set("docker", "guest")
		case strings.Contains(line, "/lxc/") || strings.Contains(line, "/machine.slice/machine-lxc"):
			set("lxc", "guest")
		case strings.Contains(line, "/system.slice/containerd.service"):
			set("containerd", "guest")
		}
	}
	for _, line := range lines(environ1) {
		switch {
		case strings.Contains(line, "container=lxc"):
			set("lxc", "guest")
		case strings.Contains(line, "container=podman"):
			set("podman", "guest")
		case strings.HasPrefix(line, "container=") && len(line) > len("container="):
			set("container", "guest")
		}
	}
	if exists["/proc/vz"] && !exists["/proc/lve"] {
		if exists["/proc/bc"] {
			set("openvz", "host")
		} else {
			set("openvz", "guest")
		}
	}
	if systemdContainer != "" {
		set(systemdContainer, "guest")
	}
	if exists["/.dockerenv"] || exists["/.dockerinit"] {
		set("docker", "guest")
	}
	vendor, product := dmi["sys_vendor"], dmi["product_name"]
	switch {
	case typ != "":
	case strings.HasPrefix(product, "KVM") || strings.HasPrefix(product, "Bochs") || vendor == "QEMU" || strings.HasPrefix(product, "OpenStack"):
		set("kvm", "guest")
	case strings.HasPrefix(product, "VMware") || vendor == "VMware, Inc.":
		set("VMware", "guest")
	case product == "VirtualBox" || vendor == "innotek GmbH" || vendor == "Oracle Corporation" && product == "VirtualBox":
		set("virtualbox", "guest")
	case vendor == "Microsoft Corporation" && product == "Virtual Machine":
		set("VirtualPC", "guest")
	case vendor == "Amazon EC2":
		set("amazon", "guest")
	case vendor == "Google":
		set("kvm", "guest")
	case exists["/proc/xen"]:
		set("xen", "guest")
	}
	if typ == "" {
		typ, role = "NA", "NA"
	}
	return map[string]any{"virtualization_type": typ, "virtualization_role": role}
}

// DateTime builds date_time from `date '+%s %N %z %Z'` on the host.
func DateTime(s string) (map[string]any, bool) {
	w := strings.Fields(s)
	if len(w) < 4 {
		return nil, false
	}
	sec, err1 := strconv.ParseInt(w[0], 10, 64)
	nsec, err := strconv.ParseInt(w[1], 10, 64) // busybox date has no %N
	if err != nil {
		nsec = 0
	}
	off, err3 := strconv.Atoi(w[2])
	if err1 != nil || err3 != nil {
		return nil, false
	}
	offSec := (off/100)*3600 + (off%100)*60
	now := time.Unix(sec, nsec).In(time.FixedZone(w[3], offSec))
	utc := now.UTC()
	weekMon := (int(now.Weekday()) + 6) % 7
	return map[string]any{
		"year": now.Format("2006"), "month": now.Format("01"), "day": now.Format("02"),
		"hour": now.Format("15"), "minute": now.Format("04"), "second": now.Format("05"),
		"weekday": now.Weekday().String(), "weekday_number": strconv.Itoa(int(now.Weekday())),
		"weeknumber":          fmt.Sprintf("%02d", (now.YearDay()-1+7-weekMon)/7),
		"epoch":               strconv.FormatInt(sec, 10),
		"epoch_int":           strconv.FormatInt(sec, 10),
		"date":                now.Format("2006-01-02"),
		"time":                now.Format("15:04:05"),
		"iso8601_micro":       utc.Format("2006-01-02T15:04:05.000000Z"),
		"iso8601":             utc.Format("2006-01-02T15:04:05Z"),
		"iso8601_basic":       now.Format("20060102T150405") + fmt.Sprintf("%06d", now.Nanosecond()/1000),
		"iso8601_basic_short": now.Format("20060102T150405"),
		"tz":                  w[3],
		"tz_offset":           w[2],
	}, true
}

// ParseResolvConf returns the dns fact (nameservers, domain, search, options).
func ParseResolvConf(s string) map[string]any {
	dns := map[string]any{}
	var ns, search []any
	opts := map[string]any{}
	for _, line := range lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				ns = append(ns, f[1])
			}
		case "domain":
			if len(f) > 1 {
				dns["domain"] = f[1]
			}
		case "search":
			for _, x := range f[1:] {
				search = append(search, x)
			}
		case "options":
			for _, o := range f[1:] {
				k, v, ok := strings.Cut(o, ":")
				if ok {
					opts[k] = v
				} else {
					opts[k] = true
				}
			}
		}
	}
	if ns != nil {
		dns["nameservers"] = ns
	}
	if search != nil {
		dns["search"] = search
	}
	if len(opts) > 0 {
		dns["options"] = opts
	}
	return dns
}

// Subset returns the facts of gather_subset: "min" keeps Ansible's minimal
// set (no hardware, network or virtual facts); "all" or an empty subset
// keeps everything; "!name" entries are ignored here.
func Subset(facts map[string]any, subset []string) map[string]any {
	all := len(subset) == 0
	for _, s := range subset {
		if s == "all" {
			all = true
		}
	}
	if all {
		return facts
	}
	out := map[string]any{}
	for k, v := range facts {
		if minKeys[k] {
			out[k] = v
		}
	}
	want := map[string]bool{}
	for _, s := range subset {
		want[s] = true
	}
	for k, v := range facts {
		switch {
		case want["hardware"] && hardwareKeys[k], want["network"] && isNetworkKey(facts, k), want["virtual"] && strings.HasPrefix(k, "virtualization_"):
			out[k] = v
		}
	}
	return out
}

var minKeys = setOf("apparmor", "architecture", "date_time", "distribution", "distribution_major_version",
	"distribution_minor_version", "distribution_release", "distribution_version", "dns", "domain", "effective_group_id",
	"effective_user_id", "env", "fips", "fqdn", "hostname", "kernel", "kernel_version", "lsb", "machine", "machine_id",
	"nodename", "os_family", "pkg_mgr", "real_group_id", "real_user_id", "selinux", "service_mgr", "system",
	"user_dir", "user_gecos", "user_gid", "user_id", "user_shell", "user_uid", "userspace_architecture")

var hardwareKeys = setOf("memfree_mb", "memtotal_mb", "swapfree_mb", "swaptotal_mb", "memory_mb", "processor",
	"processor_cores", "processor_count", "processor_nproc", "processor_threads_per_core", "processor_vcpus", "uptime_seconds")

func isNetworkKey(facts map[string]any, k string) bool {
	switch k {
	case "interfaces", "default_ipv4", "default_ipv6", "all_ipv4_addresses", "all_ipv6_addresses":
		return true
	}
	if ifs, ok := facts["interfaces"].([]any); ok {
		for _, i := range ifs {
			if strings.ReplaceAll(fmt.Sprint(i), "-", "_") == k {
				return true
			}
		}
	}
	return false
}

// ---- small helpers ----

func setOf(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func lineSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lines(s) {
		m[strings.TrimSpace(l)] = true
		if i := strings.LastIndex(l, "/"); i >= 0 { // command -v paths: by name too
			m[strings.TrimSpace(l[i+1:])] = true
		}
	}
	return m
}

func firstLine(s string) string {
	l := lines(s)
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
