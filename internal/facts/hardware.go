package facts

import (
	"strconv"
	"strings"
)

// ParseMeminfo returns memtotal_mb, memfree_mb, swaptotal_mb, swapfree_mb
// and memory_mb from /proc/meminfo, as Ansible computes them (kB // 1024).
func ParseMeminfo(s string) map[string]any {
	f := map[string]any{}
	st := map[string]int{}
	for _, l := range lines(s) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		w := strings.Fields(v)
		if len(w) == 0 {
			continue
		}
		n, err := strconv.Atoi(w[0])
		if err != nil {
			continue
		}
		switch k {
		case "MemTotal", "SwapTotal", "MemFree", "SwapFree":
			f[strings.ToLower(k)+"_mb"] = n / 1024
			st[strings.ToLower(k)] = n / 1024
		case "Buffers", "Cached", "SwapCached":
			st[strings.ToLower(k)] = n / 1024
		}
	}
	get := func(k string) any {
		if v, ok := st[k]; ok {
			return v
		}
		return nil
	}
	has := func(k ...string) bool {
		for _, x := range k {
			if _, ok := st[x]; !ok {
				return false
			}
		}
		return true
	}
	if has("memtotal", "memfree") {
		st["real:used"] = st["memtotal"] - st["memfree"]
	}
	if has("cached", "memfree", "buffers") {
		st["nocache:free"] = st["cached"] + st["memfree"] + st["buffers"]
	}
	if has("memtotal", "nocache:free") {
		st["nocache:used"] = st["memtotal"] - st["nocache:free"]
	}
	if has("swaptotal", "swapfree") {
		st["swap:used"] = st["swaptotal"] - st["swapfree"]
	}
	if len(st) > 0 {
		f["memory_mb"] = map[string]any{
			"real":    map[string]any{"total": get("memtotal"), "used": get("real:used"), "free": get("memfree")},
			"nocache": map[string]any{"free": get("nocache:free"), "used": get("nocache:used")},
			"swap": map[string]any{"total": get("swaptotal"), "free": get("swapfree"), "used": get("swap:used"),
				"cached": get("swapcached")},
		}
	}
	return f
}

// ParseCPUInfo ports Ansible's Linux CPU facts: processor (the list of
// index, vendor and model entries), processor_count (sockets),
// processor_cores (per socket), processor_threads_per_core,
// processor_vcpus and processor_nproc (nproc, the usable CPUs).
func ParseCPUInfo(s, arch string, nproc int) map[string]any {
	f := map[string]any{}
	if s == "" {
		return f
	}
	var (
		proc                      = []any{}
		i, vendorN, modelN, procN int
		physid, coreid            = "0", "0"
		sockets, cores            = map[string]int{}, map[string]int{}
		socketOrder, coreOrder    []string
	)
	for _, l := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name", "Processor", "vendor_id", "cpu", "Vendor", "processor":
			proc = append(proc, v)
			switch k {
			case "vendor_id":
				vendorN++
			case "model name":
				modelN++
			case "processor":
				procN++
			}
			i++
		case "physical id":
			physid = v
			if _, ok := sockets[v]; !ok {
				sockets[v] = 1
				socketOrder = append(socketOrder, v)
			}
		case "core id":
			coreid = v
			if _, ok := sockets[v]; !ok { // sic: Ansible checks sockets here
				if _, seen := cores[v]; !seen {
					coreOrder = append(coreOrder, v)
				}
				cores[v] = 1
			}
		case "cpu cores":
			n, _ := strconv.Atoi(v)
			if _, ok := sockets[physid]; !ok {
				socketOrder = append(socketOrder, physid)
			}
			sockets[physid] = n
		case "siblings":
			n, _ := strconv.Atoi(v)
			if _, ok := cores[coreid]; !ok {
				coreOrder = append(coreOrder, coreid)
			}
			cores[coreid] = n
		case "ncpus active":
			i, _ = strconv.Atoi(v)
		}
	}
	f["processor"] = proc
	if vendorN > 0 && vendorN == modelN {
		i = vendorN
	}
	if strings.HasPrefix(arch, "armv") || strings.HasPrefix(arch, "aarch") || strings.HasPrefix(arch, "ppc") {
		i = procN
	}
	if arch == "s390x" {
		return f
	}
	if len(sockets) > 0 {
		f["processor_count"] = len(sockets)
	} else {
		f["processor_count"] = i
	}
	pc := 1
	if len(socketOrder) > 0 && sockets[socketOrder[0]] != 0 {
		pc = sockets[socketOrder[0]]
	}
	f["processor_cores"] = pc
	tpc := 1 / pc
	if len(coreOrder) > 0 {
		tpc = cores[coreOrder[0]] / pc
	}
	f["processor_threads_per_core"] = tpc
	f["processor_vcpus"] = tpc * f["processor_count"].(int) * pc
	f["processor_nproc"] = procN
	if nproc > 0 {
		f["processor_nproc"] = nproc
	}
	return f
}
