package system

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/module"
)

func init() {
	module.Register(module.Info{Name: "sysctl", Aliases: []string{"ansible.posix.sysctl"}, Kind: "other", New: func() module.Module { return &Sysctl{} }, Spec: module.Spec{
		"name":         {Type: module.TypeStr, Required: true, Aliases: []string{"key"}},
		"value":        {Type: module.TypeRaw, Aliases: []string{"val"}},
		"state":        {Type: module.TypeStr, Default: "present", Choices: []string{"present", "absent"}},
		"reload":       {Type: module.TypeBool, Default: true},
		"sysctl_set":   {Type: module.TypeBool, Default: false},
		"ignoreerrors": {Type: module.TypeBool, Default: false},
		"sysctl_file":  {Type: module.TypePath, Default: "/etc/sysctl.conf"},
	}})
}

// Sysctl is ansible.posix.sysctl: a key in a sysctl file plus its live
// value, read from /proc/sys without running anything.
type Sysctl struct{}

var _ module.Module = (*Sysctl)(nil)

var langC = map[string]string{"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}

func sysctlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return map[bool]string{true: "1", false: "0"}[x]
	case string:
		switch strings.ToLower(x) {
		case "y", "yes", "on", "1", "true", "t":
			return "1"
		case "n", "no", "off", "0", "false", "f":
			return "0"
		}
		return strings.TrimSpace(x)
	}
	return fmt.Sprint(v)
}

func sameValue(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i] != fb[i] {
			return false
		}
	}
	return true
}

// Run implements module.Module.
func (*Sysctl) Run(ctx context.Context, t *module.Task) (module.Result, error) {
	a, h := t.Args, t.Host
	name := strings.TrimSpace(a.String("name"))
	state := a.String("state")
	if name == "" {
		return module.Failf("name cannot be blank"), nil
	}
	if strings.Contains(name, "..") || strings.ContainsAny(name, " \t=") {
		return module.Failf("invalid sysctl name %q", name), nil
	}
	if state == "present" && a["value"] == nil {
		return module.Failf("state is present but all of the following are missing: value"), nil
	}
	value := sysctlValue(a["value"])
	if state == "present" && value == "" {
		return module.Failf("value cannot be blank"), nil
	}
	file := a.String("sysctl_file")
	// live value
	var proc *string
	if b, err := h.ReadFile(ctx, "/proc/sys/"+strings.ReplaceAll(name, ".", "/")); err == nil {
		s := string(b)
		proc = &s
	}
	// file
	var lines []string
	fileVals := map[string]string{}
	var existing string
	if fi, err := h.Stat(ctx, file); err == nil && fi.IsRegular() {
		b, err := h.ReadFile(ctx, file)
		if err != nil {
			return module.Failf("Failed to open %s: %v", file, err), nil
		}
		existing = string(b)
	}
	for _, l := range strings.SplitAfter(existing, "\n") {
		if l == "" {
			continue
		}
		l = strings.TrimSpace(l)
		lines = append(lines, l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") || !strings.Contains(l, "=") {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		fileVals[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	fv, inFile := fileVals[name]
	var fixed []string
	checked := map[string]bool{}
	for _, l := range lines {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") || !strings.Contains(l, "=") {
			fixed = append(fixed, l)
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if checked[k] {
			continue
		}
		checked[k] = true
		if k == name {
			if state == "present" {
				fixed = append(fixed, k+"="+value)
			}
		} else {
			fixed = append(fixed, k+"="+v)
		}
	}
	if !checked[name] && state == "present" {
		fixed = append(fixed, name+"="+value)
	}
	changed, writeFile, setProc := false, false, false
	switch {
	case !inFile && state == "present":
		changed, writeFile = true, true
	case !inFile && state == "absent":
	case inFile && fv != "" && state == "absent":
		changed, writeFile = true, true
	case fv != value:
		changed, writeFile = true, true
	case a.Bool("reload"):
		if proc == nil || !sameValue(*proc, value) {
			changed = true
		}
	}
	if a.Bool("sysctl_set") && state == "present" {
		if proc == nil {
			changed = true
		} else if !sameValue(*proc, value) {
			changed, setProc = true, true
		}
	}
	res := module.Result{Changed: changed, Values: map[string]any{}, Resources: []module.Resource{{Kind: "other", ID: "sysctl:" + name}}}
	if changed {
		var d []string
		if writeFile {
			d = append(d, fmt.Sprintf("%s: %q -> %q", file, fv, value))
		}
		if proc != nil && !sameValue(*proc, value) && state == "present" {
			d = append(d, fmt.Sprintf("live: %q -> %q", strings.TrimSpace(*proc), value))
		}
		res.Resources[0].Differs = d
	}
	newContent := ""
	for _, l := range fixed {
		newContent += strings.TrimSpace(l) + "\n"
	}
	if t.Diff && writeFile {
		res.Diffs = []module.Diff{{BeforeHeader: file, AfterHeader: file, Before: existing, After: newContent}}
	}
	if t.Check {
		return res, nil
	}
	if setProc {
		if err := sysctlRun(ctx, h, a.Bool("ignoreerrors"), "-w", name+"="+value); err != nil {
			return module.Failf("setting %s failed: %v", name, err), nil
		}
	}
	if writeFile {
		if dir := path.Dir(file); dir != "" {
			if fi, err := h.Stat(ctx, dir); err == nil && !fi.Exists {
				return module.Failf("Failed to write to file %s: directory %s does not exist", file, dir), nil
			}
		}
		if err := h.WriteFile(ctx, file, []byte(newContent), host.WriteOptions{UID: -1, GID: -1}); err != nil {
			return module.Failf("Failed to write to file %s: %v", file, err), nil
		}
	}
	if changed && a.Bool("reload") {
		if err := sysctlRun(ctx, h, a.Bool("ignoreerrors"), "-p", file); err != nil {
			return module.Failf("Failed to reload sysctl: %v", err), nil
		}
	}
	return res, nil
}

func sysctlRun(ctx context.Context, h host.Host, ignore bool, args ...string) error {
	argv := []string{"sysctl"}
	if ignore {
		argv = append(argv, "-e")
	}
	argv = append(argv, args...)
	res, err := h.Run(ctx, host.Command{Argv: argv, Env: langC})
	if err != nil {
		return err
	}
	out := string(res.Stdout) + string(res.Stderr)
	if res.RC != 0 || strings.Contains(string(res.Stderr), ": Invalid argument") || strings.Contains(string(res.Stderr), ": Read-only file system") {
		return fmt.Errorf("%s", strings.TrimSpace(out))
	}
	return nil
}
