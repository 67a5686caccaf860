package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ignoredEntry matches directory entries Ansible skips when an inventory
// source is a directory (IGNORED in ansible/inventory/manager.py with the
// default INVENTORY_IGNORE_EXTS). Note that .ini files are skipped there.
var ignoredEntry = regexp.MustCompile(`^\.|^host_vars$|^group_vars$|^vars_plugins$|` +
	`(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$`)

// Load reads the inventory sources (each -i argument): YAML or INI files,
// directories of them, or comma-separated host lists like "localhost," or
// "web1,web2:2222".
func Load(sources []string, opts Options) (*Inventory, error) {
	inv := newInventory(opts)
	for _, src := range sources {
		if src == "" {
			continue
		}
		if strings.Contains(src, ",") {
			if _, err := os.Stat(src); err != nil {
				inv.parseHostList(src)
				continue
			}
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, fmt.Errorf("inventory source %s: %w", src, err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("inventory source %s: %w", src, err)
		}
		if st.IsDir() {
			inv.varDirs = append(inv.varDirs, abs)
		} else {
			inv.varDirs = append(inv.varDirs, filepath.Dir(abs))
		}
		if err := inv.parseSource(abs); err != nil {
			return nil, err
		}
	}
	inv.reconcile()
	return inv, nil
}

func (inv *Inventory) parseHostList(list string) {
	for _, h := range strings.Split(list, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		name, port, err := parseAddress(h, false)
		if err != nil {
			name, port = h, 0
		}
		if _, ok := inv.hostIndex[name]; !ok {
			_, _ = inv.addHost(name, "ungrouped", port, "")
			// Ansible: inventory_file is the list itself, inventory_dir None
			inv.hostIndex[name].vars["inventory_file"] = list
		}
	}
}

func (inv *Inventory) parseSource(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("inventory source %s: %w", path, err)
	}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("read inventory directory: %w", err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			if ignoredEntry.MatchString(n) {
				continue
			}
			if err := inv.parseSource(filepath.Join(path, n)); err != nil {
				return err
			}
		}
		return nil
	}
	data, err := inv.readFile(path)
	if err != nil {
		return err
	}
	ext := filepath.Ext(path)
	var yamlErr error
	if ext == "" || ext == ".yml" || ext == ".yaml" || ext == ".json" {
		yamlErr = inv.parseYAML(path, data)
		if yamlErr == nil {
			return nil
		}
		var pe *pluginConfigError
		if errors.As(yamlErr, &pe) {
			return yamlErr
		}
	}
	if ext == ".toml" {
		return fmt.Errorf("%s: TOML inventories are not supported; convert it to YAML", path)
	}
	iniErr := inv.parseINI(path, data)
	if iniErr == nil {
		return nil
	}
	switch {
	case yamlErr == nil:
		return iniErr
	case ext != "":
		// a .yml/.yaml/.json file: its YAML problem is what to fix
		return yamlErr
	default:
		return fmt.Errorf("%s is neither a YAML inventory (%v) nor an INI inventory (%v)", path, yamlErr, iniErr)
	}
}

type pluginConfigError struct{ path string }

func (e *pluginConfigError) Error() string {
	return fmt.Sprintf("%s: inventory plugin configuration files (a top-level \"plugin:\" key) are not supported; list hosts and groups in YAML or INI", e.path)
}

var vaultHeader = []byte("$ANSIBLE_VAULT")

// readFile reads a file and decrypts it when it is an ansible-vault file.
func (inv *Inventory) readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory file: %w", err)
	}
	if bytes.HasPrefix(data, vaultHeader) {
		if inv.opts.Decrypt == nil {
			return nil, fmt.Errorf("%s is encrypted with ansible-vault but no vault password was given (use --vault-password-file)", path)
		}
		plain, err := inv.opts.Decrypt(data, path)
		if err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", path, err)
		}
		return plain, nil
	}
	return data, nil
}
