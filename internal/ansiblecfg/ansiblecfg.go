// Package ansiblecfg reads the settings tend shares with Ansible from the
// ansible.cfg Ansible itself would read and from ANSIBLE_* environment
// variables, so a repository's existing configuration (roles_path,
// inventory, remote_user, vault_password_file, ...) works unchanged.
//
// The file is found as ansible-core 2.14's find_ini_config_file does:
// $ANSIBLE_CONFIG (a file, or a directory holding ansible.cfg), then
// ansible.cfg in the working directory unless that directory is world
// writable, then ~/.ansible.cfg, then /etc/ansible/ansible.cfg. It is read
// like Python's configparser with `;` inline comments (Ansible's choice).
// An environment variable wins over the file; relative paths in the file
// are relative to the file's directory, in a variable to the working
// directory.
package ansiblecfg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"
)

// Config holds the settings tend uses. A zero value (or nil pointer) means
// neither the file nor the environment set it.
type Config struct {
	// Path is the file read; "" when none was found.
	Path string

	Inventory         []string // defaults.inventory, ANSIBLE_INVENTORY
	RolesPath         []string // defaults.roles_path, ANSIBLE_ROLES_PATH
	RemoteUser        string   // defaults.remote_user, ANSIBLE_REMOTE_USER
	PrivateKeyFile    string   // defaults.private_key_file, ANSIBLE_PRIVATE_KEY_FILE
	Forks             int      // defaults.forks, ANSIBLE_FORKS
	Timeout           int      // defaults.timeout (seconds), ANSIBLE_TIMEOUT
	HostKeyChecking   *bool    // defaults.host_key_checking, ANSIBLE_HOST_KEY_CHECKING
	VaultPasswordFile string   // defaults.vault_password_file, ANSIBLE_VAULT_PASSWORD_FILE
	VaultIdentityList []string // defaults.vault_identity_list, ANSIBLE_VAULT_IDENTITY_LIST
	Gathering         string   // defaults.gathering: implicit, explicit or smart
	Become            *bool    // privilege_escalation.become, ANSIBLE_BECOME
	BecomeUser        string   // privilege_escalation.become_user, ANSIBLE_BECOME_USER
}

// Find returns the ansible.cfg Ansible would read when run in dir, or ""
// when there is none.
func Find(dir string) string {
	var candidates []string
	if env, ok := os.LookupEnv("ANSIBLE_CONFIG"); ok {
		p := expand(env, "")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "ansible.cfg")
		}
		candidates = append(candidates, p)
	}
	if dir != "" {
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o002 == 0 {
			candidates = append(candidates, filepath.Join(dir, "ansible.cfg"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".ansible.cfg"))
	}
	candidates = append(candidates, "/etc/ansible/ansible.cfg")
	for _, p := range candidates {
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p
		}
	}
	return ""
}

// Load reads the configuration Ansible would use when run in dir.
func Load(dir string) (*Config, error) {
	c := &Config{Path: Find(dir)}
	get := func(section, key string) (string, bool) { return "", false }
	if c.Path != "" {
		f, err := ini.LoadSources(ini.LoadOptions{
			InsensitiveKeys:            true,
			AllowPythonMultilineValues: true,
			IgnoreInlineComment:        true, // only " ;" starts one: see pyValue
			SkipUnrecognizableLines:    false,
		}, c.Path)
		if err != nil {
			return nil, fmt.Errorf("ansible configuration %s: %w", c.Path, err)
		}
		get = func(section, key string) (string, bool) {
			s, err := f.GetSection(section)
			if err != nil || !s.HasKey(key) {
				return "", false
			}
			return pyValue(s.Key(key).Value()), true
		}
	}
	base := filepath.Dir(c.Path)
	var errs []string
	// setting finds one value: the environment variable, else the file
	setting := func(env, section, key string) (val, baseDir string, ok bool) {
		if v, set := os.LookupEnv(env); set {
			return v, "", true
		}
		if v, set := get(section, key); set {
			return v, base, true
		}
		return "", "", false
	}
	str := func(dst *string, env, section, key string) {
		if v, _, ok := setting(env, section, key); ok {
			*dst = unquote(v)
		}
	}
	path := func(dst *string, env, section, key string) {
		if v, b, ok := setting(env, section, key); ok && v != "" {
			*dst = expand(unquote(v), b)
		}
	}
	integer := func(dst *int, env, section, key string) {
		if v, _, ok := setting(env, section, key); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				errs = append(errs, fmt.Sprintf("%s (%s): %q is not a whole number", key, env, v))
				return
			}
			*dst = n
		}
	}
	boolean := func(dst **bool, env, section, key string) {
		if v, _, ok := setting(env, section, key); ok {
			b, err := parseBool(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s (%s): %v", key, env, err))
				return
			}
			*dst = &b
		}
	}
	if v, b, ok := setting("ANSIBLE_INVENTORY", "defaults", "inventory"); ok {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Inventory = append(c.Inventory, expand(p, b))
			}
		}
	}
	if v, b, ok := setting("ANSIBLE_ROLES_PATH", "defaults", "roles_path"); ok {
		for _, p := range filepath.SplitList(v) {
			if p = strings.TrimSpace(p); p != "" {
				c.RolesPath = append(c.RolesPath, expand(p, b))
			}
		}
	}
	str(&c.RemoteUser, "ANSIBLE_REMOTE_USER", "defaults", "remote_user")
	path(&c.PrivateKeyFile, "ANSIBLE_PRIVATE_KEY_FILE", "defaults", "private_key_file")
	integer(&c.Forks, "ANSIBLE_FORKS", "defaults", "forks")
	integer(&c.Timeout, "ANSIBLE_TIMEOUT", "defaults", "timeout")
	boolean(&c.HostKeyChecking, "ANSIBLE_HOST_KEY_CHECKING", "defaults", "host_key_checking")
	path(&c.VaultPasswordFile, "ANSIBLE_VAULT_PASSWORD_FILE", "defaults", "vault_password_file")
	if v, _, ok := setting("ANSIBLE_VAULT_IDENTITY_LIST", "defaults", "vault_identity_list"); ok {
		for _, id := range strings.Split(v, ",") {
			if id = unquote(strings.TrimSpace(id)); id != "" {
				c.VaultIdentityList = append(c.VaultIdentityList, id)
			}
		}
	}
	str(&c.Gathering, "ANSIBLE_GATHERING", "defaults", "gathering")
	switch c.Gathering {
	case "", "implicit", "explicit", "smart":
	default:
		errs = append(errs, fmt.Sprintf("gathering (ANSIBLE_GATHERING): %q is not implicit, explicit or smart", c.Gathering))
	}
	boolean(&c.Become, "ANSIBLE_BECOME", "privilege_escalation", "become")
	str(&c.BecomeUser, "ANSIBLE_BECOME_USER", "privilege_escalation", "become_user")
	if len(errs) > 0 {
		where := "the environment"
		if c.Path != "" {
			where = c.Path + " or the environment"
		}
		return nil, fmt.Errorf("ansible configuration (%s): %s", where, strings.Join(errs, "; "))
	}
	return c, nil
}

// pyValue is a value as configparser gives it with Ansible's
// inline_comment_prefixes=(';',): a ';' after white space starts a comment.
func pyValue(v string) string {
	for i := 1; i < len(v); i++ {
		if v[i] == ';' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return strings.TrimSpace(v)
}

// unquote is Ansible's unquote: one pair of matching quotes around the
// whole value goes.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// expand is Ansible's resolve_path: ~ and $VARS expanded, a relative path
// taken from base (the config file's directory; "" for the working
// directory), made absolute.
func expand(p, base string) string {
	if strings.HasPrefix(p, "~/") || p == "~" {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	p = os.ExpandEnv(p)
	if !filepath.IsAbs(p) && base != "" {
		p = filepath.Join(base, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// parseBool is Ansible's boolean() for configuration values.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(unquote(v))) {
	case "y", "yes", "on", "1", "true", "t":
		return true, nil
	case "n", "no", "off", "0", "false", "f", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}
