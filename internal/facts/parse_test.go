package facts

import (
	"context"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"reflect"
	"testing"
)

func TestDistribution(t *testing.T) {
	for _, c := range []struct {
		name, osRelease string
		files           map[string]string
		want            map[string]any
	}{
		{"debian12", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
			map[string]string{"debian_version": "12.11\n"},
			map[string]any{"distribution": "Debian", "distribution_version": "12.11", "distribution_major_version": "12",
				"distribution_minor_version": "11", "distribution_release": "bookworm", "os_family": "Debian"}},
		{"ubuntu2204", "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n",
			map[string]string{"debian_version": "bookworm/sid\n"},
			map[string]any{"distribution": "Ubuntu", "distribution_version": "22.04", "distribution_major_version": "22",
				"distribution_minor_version": "04", "distribution_release": "jammy", "os_family": "Debian"}},
		{"rhel9", "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n",
			map[string]string{"redhat-release": "Red Hat Enterprise Linux release 9.3 (Plow)\n"},
			map[string]any{"distribution": "RedHat", "distribution_version": "9.3", "distribution_major_version": "9",
				"distribution_minor_version": "3", "distribution_release": "Plow", "os_family": "RedHat"}},
		{"centos7", "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nVERSION_ID=\"7\"\n",
			map[string]string{"redhat-release": "CentOS Linux release 7.9.2009 (Core)\n"},
			map[string]any{"distribution": "CentOS", "distribution_version": "7.9", "distribution_major_version": "7",
				"distribution_minor_version": "9", "distribution_release": "Core", "os_family": "RedHat"}},
		{"alpine", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
			map[string]string{"alpine-release": "3.19.1\n"},
			map[string]any{"distribution": "Alpine", "distribution_version": "3.19.1", "distribution_major_version": "3",
				"distribution_minor_version": "19", "distribution_release": "NA", "os_family": "Alpine"}},
	} {
		got := Distribution(ParseOSRelease(c.osRelease), c.files)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got  %v\n want %v", c.name, got, c.want)
		}
	}
}

func TestLSB(t *testing.T) {
	osr := ParseOSRelease("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n")
	want := map[string]any{"id": "Debian", "description": "Debian GNU/Linux 12 (bookworm)", "release": "12",
		"codename": "bookworm", "major_release": "12"}
	if got := LSB("", osr, true); !reflect.DeepEqual(got, want) {
		t.Errorf("LSB from os-release = %v, want %v", got, want)
	}
	file := "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n"
	want = map[string]any{"id": "Ubuntu", "description": "Ubuntu 22.04.4 LTS", "release": "22.04", "codename": "jammy", "major_release": "22"}
	if got := LSB(file, nil, false); !reflect.DeepEqual(got, want) {
		t.Errorf("LSB from lsb-release = %v, want %v", got, want)
	}
	if got := LSB("", osr, false); len(got) != 0 {
		t.Errorf("LSB without lsb_release or lsb-release = %v, want {}", got)
	}
}

const cpuinfo2x2 = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU
physical id	: 0
siblings	: 4
core id		: 0
cpu cores	: 2

processor	: 1
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU
physical id	: 0
siblings	: 4
core id		: 0
cpu cores	: 2

processor	: 2
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU
physical id	: 1
siblings	: 4
core id		: 1
cpu cores	: 2
`

func TestParseCPUInfo(t *testing.T) {
	got := ParseCPUInfo(cpuinfo2x2, "x86_64", 3)
	want := map[string]any{
		"processor": []any{"0", "GenuineIntel", "Intel(R) Xeon(R) CPU", "1", "GenuineIntel", "Intel(R) Xeon(R) CPU",
			"2", "GenuineIntel", "Intel(R) Xeon(R) CPU"},
		"processor_count": 2, "processor_cores": 2, "processor_threads_per_core": 2, "processor_vcpus": 8,
		"processor_nproc": 3,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCPUInfo:\n got  %v\n want %v", got, want)
	}
	arm := "processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n"
	got = ParseCPUInfo(arm, "aarch64", 0)
	if got["processor_count"] != 2 || got["processor_cores"] != 1 || got["processor_vcpus"] != 2 || got["processor_nproc"] != 2 {
		t.Errorf("ParseCPUInfo(arm) = %v", got)
	}
}

func TestParseMeminfo(t *testing.T) {
	got := ParseMeminfo("MemTotal:       24683520 kB\nMemFree:        23936000 kB\nBuffers:           10240 kB\nCached:           348160 kB\nSwapCached:            0 kB\nSwapTotal:       2097148 kB\nSwapFree:        2097148 kB\n")
	want := map[string]any{
		"memtotal_mb": 24105, "memfree_mb": 23375, "swaptotal_mb": 2047, "swapfree_mb": 2047,
		"memory_mb": map[string]any{
			"real":    map[string]any{"total": 24105, "used": 730, "free": 23375},
			"nocache": map[string]any{"free": 23725, "used": 380},
			"swap":    map[string]any{"total": 2047, "free": 2047, "used": 0, "cached": 0},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseMeminfo:\n got  %v\n want %v", got, want)
	}
}

const ipBatch = `8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0 
    cache 
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host 
       valid_lft forever preferred_lft forever
2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default
    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0
       valid_lft forever preferred_lft forever
    inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary eth0:1
       valid_lft forever preferred_lft forever
    inet6 fe80::42:acff:fe11:2/64 scope link 
       valid_lft forever preferred_lft forever
`

func TestNetwork(t *testing.T) {
	sysfs := map[string]map[string]string{
		"lo":   {"address": "00:00:00:00:00:00", "mtu": "65536", "operstate": "unknown", "type": "772", "flags": "0x9"},
		"eth0": {"address": "02:42:ac:11:00:02", "mtu": "1500", "operstate": "up", "type": "1", "flags": "0x1103"},
	}
	got := Network(ipBatch, []string{"eth0", "lo"}, sysfs)
	v4 := map[string]any{"address": "10.0.0.5", "broadcast": "10.0.0.255", "netmask": "255.255.255.0", "network": "10.0.0.0", "prefix": "24"}
	sec := map[string]any{"address": "10.0.0.6", "broadcast": "10.0.0.255", "netmask": "255.255.255.0", "network": "10.0.0.0", "prefix": "24"}
	want := map[string]any{
		"interfaces":         []any{"eth0", "eth0_1", "lo"},
		"all_ipv4_addresses": []any{"10.0.0.5", "10.0.0.6"},
		"all_ipv6_addresses": []any{"fe80::42:acff:fe11:2"},
		"default_ipv4": map[string]any{"address": "10.0.0.5", "alias": "eth0", "broadcast": "10.0.0.255", "gateway": "10.0.0.1",
			"interface": "eth0", "macaddress": "02:42:ac:11:00:02", "mtu": 1500, "netmask": "255.255.255.0",
			"network": "10.0.0.0", "prefix": "24", "type": "ether"},
		"default_ipv6": map[string]any{},
		"eth0": map[string]any{"device": "eth0", "macaddress": "02:42:ac:11:00:02", "mtu": 1500, "active": true,
			"type": "ether", "promisc": true, "ipv4": v4, "ipv4_secondaries": []any{sec},
			"ipv6": []any{map[string]any{"address": "fe80::42:acff:fe11:2", "prefix": "64", "scope": "link"}}},
		"eth0_1": map[string]any{"ipv4_secondaries": []any{sec}},
		"lo": map[string]any{"device": "lo", "mtu": 65536, "active": true, "type": "loopback", "promisc": false,
			"ipv4": map[string]any{"address": "127.0.0.1", "broadcast": "", "netmask": "255.0.0.0", "network": "127.0.0.0", "prefix": "8"},
			"ipv6": []any{map[string]any{"address": "::1", "prefix": "128", "scope": "host"}}},
	}
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("Network %s:\n got  %#v\n want %#v", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("Network returned keys %v, want %d keys", sortedKeys(got), len(want))
	}
}

func TestFQDN(t *testing.T) {
	hosts := "127.0.0.1 localhost\n127.0.1.1 web1.example.com web1 # comment\n::1 localhost ip6-localhost\n"
	for _, c := range []struct{ node, byaddr, want string }{
		{"web1", "", "web1.example.com"},
		{"localhost", "", "localhost"},
		{"db", "10.1.1.1 db.corp.example db", "db.corp.example"},
		{"lonely", "", "lonely"},
	} {
		if got := FQDN(c.node, hosts, c.byaddr); got != c.want {
			t.Errorf("FQDN(%q) = %q, want %q", c.node, got, c.want)
		}
	}
}

func TestServiceMgrAndPkgMgr(t *testing.T) {
	ex := setOf("/run/systemd/system", "/etc/init.d", "/usr/bin/apt-get")
	p := setOf("systemctl")
	for _, c := range []struct{ proc1, init, want string }{
		{"systemd\n", "", "systemd"},
		{"process_api\n", "", "process_api"},
		{"runit-init\n", "", "runit"},
		{"bash\n", "", "systemd"}, // a shell as pid 1: look at the system
		{"init\n", "", "systemd"},
	} {
		if got := ServiceMgr(c.proc1, c.init, "Linux", ex, p); got != c.want {
			t.Errorf("ServiceMgr(%q) = %q, want %q", c.proc1, got, c.want)
		}
	}
	if got := ServiceMgr("sh", "", "Linux", setOf("/etc/init.d"), nil); got != "sysvinit" {
		t.Errorf("ServiceMgr without systemd = %q, want sysvinit", got)
	}
	if got := PkgMgr(ex, "Debian", "Debian", "12"); got != "apt" {
		t.Errorf("PkgMgr(Debian) = %q", got)
	}
	if got := PkgMgr(setOf("/usr/bin/yum", "/usr/bin/dnf"), "RedHat", "RedHat", "9"); got != "dnf" {
		t.Errorf("PkgMgr(RHEL 9) = %q", got)
	}
	if got := PkgMgr(setOf("/usr/bin/yum"), "CentOS", "RedHat", "7"); got != "yum" {
		t.Errorf("PkgMgr(CentOS 7) = %q", got)
	}
	if got := PkgMgr(setOf("/sbin/apk"), "Alpine", "Alpine", "3"); got != "apk" {
		t.Errorf("PkgMgr(Alpine) = %q", got)
	}
}

func TestVirtualization(t *testing.T) {
	for _, c := range []struct {
		cgroup, env1 string
		exists       map[string]bool
		dmi          map[string]string
		want         string
	}{
		{"12:pids:/docker/0123abcd\n", "", nil, nil, "docker"},
		{"0::/\n", "container=podman\n", nil, nil, "podman"},
		{"0::/\n", "", setOf("/.dockerenv"), nil, "docker"},
		{"0::/\n", "", nil, map[string]string{"product_name": "KVM", "sys_vendor": "QEMU"}, "kvm"},
		{"0::/\n", "", nil, nil, "NA"},
	} {
		if got := Virtualization(c.cgroup, c.env1, "", c.exists, c.dmi)["virtualization_type"]; got != c.want {
			t.Errorf("Virtualization(%q, %q, %v, %v) = %v, want %v", c.cgroup, c.env1, c.exists, c.dmi, got, c.want)
		}
	}
}

func TestDateTimeAndHelpers(t *testing.T) {
	dt, ok := DateTime("1795638267 393443000 +0100 CET")
	if !ok {
		t.Fatal("DateTime failed")
	}
	for k, want := range map[string]string{
		"date": "2026-11-25", "hour": "21", "iso8601": "2026-11-25T20:24:27Z", "iso8601_micro": "2026-11-25T20:24:27.393443Z",
		"iso8601_basic": "20261125T212427393443", "weekday": "Wednesday", "weekday_number": "3", "weeknumber": "47",
		"epoch": "1795638267", "tz": "CET", "tz_offset": "+0100",
	} {
		if dt[k] != want {
			t.Errorf("date_time.%s = %v, want %v", k, dt[k], want)
		}
	}
	if n := countCPUList("0-3,8,10-11"); n != 7 {
		t.Errorf("countCPUList = %d, want 7", n)
	}
	f := map[string]any{"hostname": "h", "memtotal_mb": 1, "interfaces": []any{"eth0"}, "eth0": map[string]any{}, "virtualization_type": "kvm"}
	if got := Subset(f, []string{"min"}); !reflect.DeepEqual(got, map[string]any{"hostname": "h"}) {
		t.Errorf("Subset(min) = %v", got)
	}
	if got := Subset(f, []string{"min", "network"}); len(got) != 3 || got["eth0"] == nil {
		t.Errorf("Subset(min,network) = %v", got)
	}
	if got := Subset(f, nil); len(got) != len(f) {
		t.Errorf("Subset(all) = %v", got)
	}
}

// brokenHost answers every Run with what a host without /bin/sh would.
type brokenHost struct{ host.Host }

func (brokenHost) Name() string { return "broken" }
func (brokenHost) Run(ctx context.Context, c host.Command) (host.CommandResult, error) {
	return host.CommandResult{RC: 127, Stderr: []byte("sh: not found")}, nil
}

func TestGatherReportsAFailedScript(t *testing.T) {
	_, err := Gather(context.Background(), brokenHost{})
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "sh: not found") {
		t.Errorf("Gather on a broken host: err = %v, want one naming the host and the shell's error", err)
	}
}
