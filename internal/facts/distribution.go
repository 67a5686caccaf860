package facts

import (
	"strings"
)

// ParseOSRelease parses /etc/os-release (KEY=value, optionally quoted).
func ParseOSRelease(s string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(s) {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
			v = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`").Replace(v)
		}
		m[k] = v
	}
	return m
}

// distNames maps os-release IDs to Ansible's distribution names.
var distNames = map[string]string{
	"rhel": "RedHat", "centos": "CentOS", "fedora": "Fedora", "amzn": "Amazon", "ol": "OracleLinux",
	"rocky": "Rocky", "almalinux": "AlmaLinux", "debian": "Debian", "ubuntu": "Ubuntu", "raspbian": "Raspbian",
	"linuxmint": "Linux Mint", "devuan": "Devuan", "kali": "Kali", "pop": "Pop!_OS", "alpine": "Alpine",
	"arch": "Archlinux", "manjaro": "Manjaro", "gentoo": "Gentoo", "sles": "SLES", "sled": "SLED",
	"opensuse-leap": "openSUSE Leap", "opensuse-tumbleweed": "openSUSE Tumbleweed", "opensuse": "openSUSE",
	"clear-linux-os": "Clear Linux OS", "virtuozzo": "Virtuozzo", "cloudlinux": "CloudLinux", "euleros": "EulerOS",
	"openEuler": "openEuler", "eurolinux": "EuroLinux", "slackware": "Slackware",
}

// osFamily is Ansible's OS_FAMILY_MAP, by distribution name.
var osFamily = func() map[string]string {
	m := map[string]string{}
	for fam, names := range map[string][]string{
		"RedHat": {"RedHat", "RHEL", "Fedora", "CentOS", "Scientific", "SLC", "Ascendos", "CloudLinux", "PSBM",
			"OracleLinux", "OVS", "OEL", "Amazon", "Virtuozzo", "XenServer", "Alibaba", "EulerOS", "openEuler",
			"AlmaLinux", "Rocky", "TencentOS", "EuroLinux", "Kylin Linux Advanced Server"},
		"Debian": {"Debian", "Ubuntu", "Raspbian", "Neon", "KDE neon", "Linux Mint", "SteamOS", "Devuan", "Kali",
			"Cumulus Linux", "Pop!_OS", "Parrot", "Pardus GNU/Linux", "Uos", "Deepin", "OSMC"},
		"Suse":      {"SuSE", "SLES", "SLED", "openSUSE", "openSUSE Tumbleweed", "SLES_SAP", "SUSE_LINUX", "openSUSE Leap"},
		"Archlinux": {"Archlinux", "Antergos", "Manjaro"}, "Mandrake": {"Mandrake", "Mandriva"},
		"Slackware": {"Slackware"}, "Altlinux": {"Altlinux"}, "Gentoo": {"Gentoo", "Funtoo"},
		"Alpine": {"Alpine"}, "ClearLinux": {"Clear Linux OS", "Clear Linux Mix"},
	} {
		for _, n := range names {
			m[n] = fam
		}
	}
	return m
}()

// Distribution returns distribution, distribution_version,
// distribution_major_version, distribution_minor_version,
// distribution_release and os_family from os-release and the release files
// Ansible prefers for some distributions (files: "debian_version",
// "alpine-release", "redhat-release" contents).
func Distribution(osr map[string]string, files map[string]string) map[string]any {
	id := osr["ID"]
	name, ok := distNames[id]
	if !ok {
		name = strings.ToUpper(id[:min(1, len(id))]) + id[min(1, len(id)):]
		if name == "" {
			name = "OtherLinux"
		}
	}
	version := osr["VERSION_ID"]
	switch id {
	case "debian":
		// os-release has only the major version; Ansible reads debian_version.
		if v := strings.TrimSpace(files["debian_version"]); v != "" && v[0] >= '0' && v[0] <= '9' {
			version = v
		}
	case "alpine":
		if v := strings.TrimSpace(files["alpine-release"]); v != "" {
			version = v
		}
	case "centos":
		if v := releaseVersion(files["redhat-release"]); v != "" {
			parts := strings.Split(v, ".")
			version = strings.Join(parts[:min(2, len(parts))], ".")
		}
	}
	major, minor, _ := strings.Cut(version, ".")
	minor, _, _ = strings.Cut(minor, ".")
	release := osr["VERSION_CODENAME"]
	if release == "" {
		release = osr["UBUNTU_CODENAME"]
	}
	if release == "" {
		if v := osr["VERSION"]; strings.Contains(v, "(") {
			release = strings.TrimSpace(v[strings.Index(v, "(")+1:])
			release = strings.TrimSuffix(release, ")")
			if i := strings.Index(release, ","); i >= 0 {
				release = release[:i]
			}
		}
	}
	if id == "alpine" || release == "" {
		release = "NA"
	}
	fam, ok := osFamily[name]
	if !ok {
		fam = name
	}
	d := map[string]any{
		"distribution":               name,
		"distribution_version":       version,
		"distribution_major_version": major,
		"distribution_release":       release,
		"os_family":                  fam,
	}
	if minor != "" {
		d["distribution_minor_version"] = minor
	}
	return d
}

// releaseVersion returns the version number in a redhat-release line.
func releaseVersion(s string) string {
	for _, w := range strings.Fields(s) {
		if w != "" && w[0] >= '0' && w[0] <= '9' {
			return w
		}
	}
	return ""
}

// LSB returns the lsb fact: /etc/lsb-release when present, else what
// lsb_release -a prints (computed from os-release as Debian's
// lsb-release-minimal does) when lsb_release is installed, else {}.
func LSB(lsbRelease string, osr map[string]string, haveBinary bool) map[string]any {
	l := map[string]any{}
	if strings.TrimSpace(lsbRelease) != "" && !haveBinary {
		for _, line := range lines(lsbRelease) {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			v = strings.Trim(strings.TrimSpace(v), `"`)
			switch {
			case strings.Contains(k, "DISTRIB_ID"):
				l["id"] = v
			case strings.Contains(k, "DISTRIB_RELEASE"):
				l["release"] = v
			case strings.Contains(k, "DISTRIB_DESCRIPTION"):
				l["description"] = v
			case strings.Contains(k, "DISTRIB_CODENAME"):
				l["codename"] = v
			}
		}
	} else if haveBinary && len(osr) > 0 {
		id := osr["ID"]
		id = strings.ToUpper(id[:min(1, len(id))]) + id[min(1, len(id)):]
		if n := osr["NAME"]; strings.EqualFold(n, id) {
			id = n
		}
		l["id"] = orNA(id)
		l["description"] = orNA(osr["PRETTY_NAME"])
		l["release"] = orNA(osr["VERSION_ID"])
		l["codename"] = orNA(osr["VERSION_CODENAME"])
	}
	if r, ok := l["release"].(string); ok {
		l["major_release"], _, _ = strings.Cut(r, ".")
	}
	return l
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
