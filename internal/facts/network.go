package facts

import (
	"encoding/binary"
	"net"
	"sort"
	"strconv"
	"strings"
)

var interfaceType = map[string]string{"1": "ether", "32": "infiniband", "512": "ppp", "772": "loopback", "65534": "tunnel"}

// Network ports Ansible's Linux network facts from the script's sections:
// interfaces, one dict per interface (named as the interface, with - and :
// turned into _), default_ipv4, default_ipv6, all_ipv4_addresses and
// all_ipv6_addresses. Like Ansible, it reports nothing without ip(8).
func Network(ipOut string, devs []string, sysfs map[string]map[string]string) map[string]any {
	f := map[string]any{}
	var route4, route6, addrOut string
	for i, l := range strings.Split(ipOut, "\n") {
		switch {
		case strings.HasPrefix(l, "8.8.8.8 ") && route4 == "":
			route4 = l
		case strings.HasPrefix(l, "2404:6800:400a:800::1012 ") && route6 == "":
			route6 = l
		case len(l) > 0 && l[0] >= '0' && l[0] <= '9' && strings.Contains(l, ": <"):
			addrOut = strings.Join(strings.Split(ipOut, "\n")[i:], "\n")
		}
		if addrOut != "" {
			break
		}
	}
	def4 := defaultRoute(route4, "8.8.8.8")
	def6 := defaultRoute(route6, "2404:6800:400a:800::1012")

	ifaces := map[string]map[string]any{}
	rawMAC := map[string]string{}
	order := devs
	for _, dev := range devs {
		cur := map[string]any{"device": dev}
		ifaces[dev] = cur
		a := sysfs[dev]
		if v, ok := a["address"]; ok {
			rawMAC[dev] = v
			if v != "" && v != "00:00:00:00:00:00" {
				cur["macaddress"] = v
			}
		}
		if v, ok := a["mtu"]; ok {
			cur["mtu"], _ = strconv.Atoi(v)
		}
		if v, ok := a["operstate"]; ok {
			cur["active"] = v != "down"
		}
		if v, ok := a["type"]; ok {
			t, known := interfaceType[v]
			if !known {
				t = "unknown"
			}
			cur["type"] = t
		}
		if a["bridge"] != "" {
			cur["type"] = "bridge"
		}
		if a["bonding"] != "" {
			cur["type"] = "bonding"
		}
		if n, err := strconv.Atoi(a["speed"]); err == nil {
			cur["speed"] = n
		}
		if n, err := strconv.ParseInt(strings.TrimPrefix(a["flags"], "0x"), 16, 64); err == nil {
			cur["promisc"] = n&0x100 != 0
		}
	}

	addrs := parseIPAddr(addrOut)
	var all4, all6 []any
	var names []any
	for _, dev := range order {
		iface := ifaces[dev]
		if iface == nil {
			continue
		}
		for _, secondary := range []bool{false, true} {
			for _, a := range addrs[dev] {
				if a.secondary != secondary {
					continue
				}
				if a.family == 6 {
					if secondary {
						continue
					}
					l, _ := iface["ipv6"].([]any)
					iface["ipv6"] = append(l, map[string]any{"address": a.address, "prefix": a.prefix, "scope": a.scope})
					if def6["address"] == a.address {
						def6["prefix"], def6["scope"] = a.prefix, a.scope
						def6["macaddress"], def6["mtu"] = rawMAC[dev], iface["mtu"]
						def6["type"] = typeOr(iface)
					}
					if a.address != "::1" {
						all6 = append(all6, a.address)
					}
					continue
				}
				v4 := map[string]any{"address": a.address, "broadcast": a.broadcast, "netmask": a.netmask,
					"network": a.network, "prefix": a.prefix}
				target := iface
				if a.label != dev {
					t := ifaces[a.label]
					if t == nil {
						t = map[string]any{}
						ifaces[a.label] = t
						names = append(names, a.label)
					}
					target = t
				}
				if !secondary {
					if _, has := target["ipv4"]; !has {
						target["ipv4"] = v4
					} else {
						appendList(target, "ipv4_secondaries", v4)
					}
				} else {
					appendList(target, "ipv4_secondaries", v4)
					if a.label != dev {
						appendList(iface, "ipv4_secondaries", v4)
					}
				}
				if def4["address"] == a.address {
					def4["broadcast"], def4["netmask"], def4["network"], def4["prefix"] = a.broadcast, a.netmask, a.network, a.prefix
					def4["macaddress"], def4["mtu"], def4["type"], def4["alias"] = rawMAC[dev], iface["mtu"], typeOr(iface), a.label
				}
				if !strings.HasPrefix(a.address, "127.") {
					all4 = append(all4, a.address)
				}
			}
		}
	}
	var list []any
	for _, dev := range order {
		list = append(list, dev)
	}
	list = append(list, names...)
	for _, n := range list {
		name := n.(string)
		key := strings.NewReplacer(":", "_", "-", "_").Replace(name)
		f[key] = ifaces[name]
	}
	// Ansible's order is random (it goes through a set); tend sorts.
	names2 := make([]string, len(list))
	for i, n := range list {
		names2[i] = strings.ReplaceAll(n.(string), ":", "_")
	}
	sort.Strings(names2)
	sorted := make([]any, len(names2))
	for i, n := range names2 {
		sorted[i] = n
	}
	f["interfaces"] = sorted
	f["default_ipv4"], f["default_ipv6"] = def4, def6
	f["all_ipv4_addresses"], f["all_ipv6_addresses"] = orEmpty(all4), orEmpty(all6)
	return f
}

func typeOr(iface map[string]any) any {
	if t, ok := iface["type"]; ok {
		return t
	}
	return "unknown"
}

func appendList(m map[string]any, key string, v any) {
	l, _ := m[key].([]any)
	m[key] = append(l, v)
}

func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// defaultRoute parses `ip route get DEST`: interface, address (src) and
// gateway (via).
func defaultRoute(out, dest string) map[string]any {
	d := map[string]any{}
	w := strings.Fields(firstLine(out))
	if len(w) == 0 || w[0] != dest {
		return d
	}
	for i := 0; i < len(w)-1; i++ {
		switch w[i] {
		case "dev":
			d["interface"] = w[i+1]
		case "src":
			d["address"] = w[i+1]
		case "via":
			if w[i+1] != dest {
				d["gateway"] = w[i+1]
			}
		}
	}
	return d
}

type ipAddr struct {
	family                                       int
	address, prefix, broadcast, netmask, network string
	scope, label                                 string
	secondary                                    bool
}

// parseIPAddr parses `ip addr show` into addresses per device.
func parseIPAddr(out string) map[string][]ipAddr {
	m := map[string][]ipAddr{}
	dev := ""
	for _, l := range lines(out) {
		if l[0] != ' ' && l[0] != '\t' {
			// "2: eth0@if3: <...> mtu ..."
			w := strings.Fields(l)
			if len(w) >= 2 {
				dev = strings.TrimSuffix(w[1], ":")
				dev, _, _ = strings.Cut(dev, "@")
			}
			continue
		}
		w := strings.Fields(l)
		if len(w) < 2 || dev == "" {
			continue
		}
		secondary := false
		for _, x := range w {
			if x == "secondary" {
				secondary = true
			}
		}
		switch w[0] {
		case "inet":
			a := ipAddr{family: 4, secondary: secondary, label: w[len(w)-1]}
			if addr, plen, ok := strings.Cut(w[1], "/"); ok {
				a.address, a.prefix = addr, plen
				if len(w) > 3 && w[2] == "brd" {
					a.broadcast = w[3]
				}
			} else {
				a.address, a.prefix = w[1], "32"
			}
			ip := net.ParseIP(a.address).To4()
			n, err := strconv.Atoi(a.prefix)
			if ip == nil || err != nil || n < 0 || n > 32 {
				continue
			}
			mask := net.CIDRMask(n, 32)
			a.netmask = net.IP(mask).String()
			netw := make(net.IP, 4)
			binary.BigEndian.PutUint32(netw, binary.BigEndian.Uint32(ip)&binary.BigEndian.Uint32(mask))
			a.network = netw.String()
			m[dev] = append(m[dev], a)
		case "inet6":
			a := ipAddr{family: 6}
			if len(w) > 5 && w[2] == "peer" {
				a.address = w[1]
				_, a.prefix, _ = strings.Cut(w[3], "/")
				a.scope = w[5]
			} else if len(w) > 3 {
				a.address, a.prefix, _ = strings.Cut(w[1], "/")
				a.scope = w[3]
			} else {
				continue
			}
			m[dev] = append(m[dev], a)
		}
	}
	return m
}
