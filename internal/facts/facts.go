// Package facts owns fact gathering: what Ansible's setup module reports in
// ansible_facts (without the ansible_ prefix), collected from a host in one
// shell round trip and parsed in Go. Values and types match ansible-core
// 2.14's for the keys produced here.
package facts

import (
	"context"
	"fmt"
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
	exists := lineSet(sec["exists"])
	paths := lineSet(sec["path"])

	uname := lines(sec["uname"])
	for len(uname) < 5 {
		uname = append(uname, "")
	}
	f["system"], f["kernel"], f["kernel_version"], f["machine"] = uname[0], uname[1], uname[2], uname[3]
	node := uname[4]
	f["nodename"] = node
	f["hostname"], _, _ = strings.Cut(node, ".")
	fqdn := getFQDN(node, sec["hostaddr"], sec["hostbyaddr"])
	f["fqdn"] = fqdn
	_, domain, _ := strings.Cut(fqdn, ".")
	f["domain"] = domain
	f["architecture"] = uname[3]
	f["userspace_architecture"] = uname[3]

	osr := ParseOSRelease(sec["os-release"])
	d := Distribution(osr, map[string]string{
		"debian_version": sec["debian_version"], "alpine-release": sec["alpine-release"],
		"redhat-release": sec["redhat-release"],
	})
	for k, v := range d {
		f[k] = v
	}
	f["lsb"] = LSB(sec["lsb-release"], osr, paths["lsb_release"])

	for k, v := range ParseMeminfo(sec["meminfo"]) {
		f[k] = v
	}
	nproc, _ := strconv.Atoi(strings.TrimSpace(sec["nproc"]))
	for k, v := range ParseCPUInfo(sec["cpuinfo"], uname[3], nproc) {
		f[k] = v
	}
	if up := strings.Fields(sec["uptime"]); len(up) > 0 {
		if s, err := strconv.ParseFloat(up[0], 64); err == nil {
			f["uptime_seconds"] = int(s)
		}
	}
	if id := lines(sec["machine-id"]); len(id) > 0 {
		f["machine_id"] = id[0]
	}

	for k, v := range userFacts(lines(sec["id"]), sec["passwd"]) {
		f[k] = v
	}
	f["env"] = parseEnviron(sec["environ"])

	f["service_mgr"] = ServiceMgr(sec["proc1"], strings.TrimSpace(sec["sbin-init"]), uname[0], exists, paths)
	f["pkg_mgr"] = PkgMgr(exists, d["distribution"].(string), d["os_family"].(string), d["distribution_major_version"].(string))
	for k, v := range Virtualization(sec["cgroup"], sec["environ1"], strings.TrimSpace(sec["systemd-container"]), exists, parseKV(sec["dmi"])) {
		f[k] = v
	}
	f["selinux"] = map[string]any{"status": "disabled"}
	if exists["/sys/fs/selinux/enforce"] {
		mode := "permissive"
		if strings.TrimSpace(sec["selinux-enforce"]) == "1" {
			mode = "enforcing"
		}
		f["selinux"] = map[string]any{"status": "enabled", "mode": mode}
	}
	f["apparmor"] = map[string]any{"status": "disabled"}
	if exists["/sys/kernel/security/apparmor"] {
		f["apparmor"] = map[string]any{"status": "enabled"}
	}
	f["fips"] = strings.TrimSpace(sec["fips"]) == "1"
	if dt, ok := DateTime(sec["date"]); ok {
		f["date_time"] = dt
	}
	f["dns"] = ParseResolvConf(sec["resolv"])
	for k, v := range Network(sec) {
		f[k] = v
	}
	return f
}

// getFQDN is Python's socket.getfqdn(): the first name with a dot among the
// canonical name and aliases of the host's address, else the canonical name.
func getFQDN(node, hostaddr, byaddr string) string {
	if strings.TrimSpace(hostaddr) == "" {
		return node
	}
	names := strings.Fields(byaddr)
	if len(names) < 2 {
		return node
	}
	names = names[1:]
	for _, n := range names {
		if strings.Contains(n, ".") {
			return n
		}
	}
	return names[0]
}

func userFacts(id []string, passwd string) map[string]any {
	f := map[string]any{}
	for len(id) < 3 {
		id = append(id, "")
	}
	f["user_id"] = id[0]
	uid, _ := strconv.Atoi(id[1])
	gid, _ := strconv.Atoi(id[2])
	f["real_user_id"], f["effective_user_id"] = uid, uid
	f["real_group_id"], f["effective_group_id"] = gid, gid
	pw := strings.Split(strings.TrimSpace(firstLine(passwd)), ":")
	if len(pw) >= 7 {
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

func parseKV(s string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(s) {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
