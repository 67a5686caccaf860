package vault

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ParseID splits a --vault-id value "ID@SOURCE" into the id and the password
// source; a value without "@" is a source with the default id.
func ParseID(v string) (id, source string) {
	if i := strings.Index(v, "@"); i >= 0 {
		return v[:i], v[i+1:]
	}
	return DefaultID, v
}

// ReadPassword reads a vault password from a file as Ansible does: an
// executable file is run (with --vault-id ID for client scripts named
// *-client*) and its stdout is the password; any other file's content is.
// Surrounding CR/LF characters are stripped (as Ansible does: spaces stay);
// an empty password is an error.
func ReadPassword(ctx context.Context, path, id string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vault password file: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("vault password file %s is a directory", path)
	}
	var data []byte
	if fi.Mode().Perm()&0o111 != 0 {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var args []string
		base := strings.TrimSuffix(fi.Name(), filepath.Ext(fi.Name()))
		if (strings.HasSuffix(base, "-client") || strings.HasSuffix(fi.Name(), "-client")) && id != "" {
			args = []string{"--vault-id", id}
		}
		cmd := exec.CommandContext(ctx, path, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		data, err = cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("vault password script %s failed: %v: %s", path, err, strings.TrimSpace(stderr.String()))
		}
	} else {
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("vault password file: %w", err)
		}
	}
	pw := bytes.Trim(data, "\r\n")
	if len(pw) == 0 {
		return nil, fmt.Errorf("vault password file %s is empty", path)
	}
	return pw, nil
}

// LoadSecrets reads the secrets named by --vault-password-file values
// (default id) and --vault-id ID@FILE values, in that order.
func LoadSecrets(ctx context.Context, passwordFiles, ids []string) ([]Secret, error) {
	return LoadSecretsPrompt(ctx, passwordFiles, ids, nil)
}

// LoadSecretsPrompt is LoadSecrets where an ID@prompt (or a bare ID) asks
// prompt for the password, as ansible-playbook --vault-id ID@prompt does;
// a nil prompt refuses them.
func LoadSecretsPrompt(ctx context.Context, passwordFiles, ids []string, prompt func(id string) ([]byte, error)) ([]Secret, error) {
	var out []Secret
	add := func(id, src string) error {
		pw, err := ReadPassword(ctx, src, id)
		if err != nil {
			return err
		}
		out = append(out, Secret{ID: id, Password: pw})
		return nil
	}
	for _, f := range passwordFiles {
		if err := add(DefaultID, f); err != nil {
			return nil, err
		}
	}
	for _, v := range ids {
		id, src := ParseID(v)
		if src == "" || src == "prompt" {
			if prompt == nil {
				return nil, fmt.Errorf("--vault-id %s: nobody can be asked for the password here; give ID@FILE", v)
			}
			pw, err := prompt(id)
			if err != nil {
				return nil, fmt.Errorf("--vault-id %s: %w", v, err)
			}
			out = append(out, Secret{ID: id, Password: pw})
			continue
		}
		if err := add(id, src); err != nil {
			return nil, fmt.Errorf("--vault-id %s: %w", v, err)
		}
	}
	return out, nil
}
