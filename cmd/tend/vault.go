package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tend-project/tend/internal/vault"
)

func init() {
	register("vault", "encrypt, decrypt or view ansible-vault files (compatible with ansible-vault)", cmdVault)
}

func cmdVault(args []string) error {
	fs := newFlags("vault")
	pwFiles := fs.StringArray("vault-password-file", nil, "vault password file (executable: its output)")
	ids := fs.StringArray("vault-id", nil, "vault identity ID@FILE (format 1.2 for an ID other than default)")
	encID := fs.String("encrypt-vault-id", "", "the vault id to encrypt with, when several are given")
	name := fs.StringP("name", "n", "", "encrypt_string: the variable name to print")
	output := fs.String("output", "", "decrypt/encrypt: write to this file (- = stdout) instead of in place")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: tend vault encrypt|decrypt|view FILE... | encrypt_string [VALUE] [flags]\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return exitf(1, "tend vault: give an action: encrypt, decrypt, view or encrypt_string")
	}
	action, files := rest[0], rest[1:]
	if len(*pwFiles) == 0 && len(*ids) == 0 {
		if env := os.Getenv("ANSIBLE_VAULT_PASSWORD_FILE"); env != "" {
			*pwFiles = []string{env}
		}
	}
	secrets, err := vault.LoadSecrets(context.Background(), *pwFiles, *ids)
	if err != nil {
		return err
	}
	if len(secrets) == 0 {
		return errors.New("no vault password given: use --vault-password-file FILE or --vault-id ID@FILE")
	}
	encSecret := secrets[0]
	if *encID != "" {
		found := false
		for _, s := range secrets {
			if s.ID == *encID {
				encSecret, found = s, true
			}
		}
		if !found {
			return fmt.Errorf("--encrypt-vault-id %s: no --vault-id with that id was given", *encID)
		}
	}
	switch action {
	case "encrypt", "decrypt", "view":
		if len(files) == 0 {
			return exitf(1, "tend vault %s: give at least one FILE", action)
		}
		if *output != "" && len(files) > 1 {
			return exitf(1, "--output takes one FILE")
		}
		for _, f := range files {
			if err := vaultFile(action, f, *output, secrets, encSecret); err != nil {
				return err
			}
		}
		if action == "encrypt" {
			fmt.Fprintln(os.Stderr, "Encryption successful")
		} else if action == "decrypt" {
			fmt.Fprintln(os.Stderr, "Decryption successful")
		}
		return nil
	case "encrypt_string":
		var plain []byte
		if len(files) == 0 || files[0] == "-" {
			if plain, err = io.ReadAll(os.Stdin); err != nil {
				return err
			}
		} else {
			plain = []byte(strings.Join(files, " "))
		}
		out, err := vault.EncryptString(plain, *name, encSecret)
		if err != nil {
			return err
		}
		fmt.Print(out)
		fmt.Fprintln(os.Stderr, "Encryption successful")
		return nil
	}
	return exitf(1, "tend vault: unknown action %q (encrypt, decrypt, view, encrypt_string)", action)
}

// vaultFile encrypts, decrypts (in place unless output is set) or views one file.
func vaultFile(action, path, output string, secrets []vault.Secret, enc vault.Secret) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []byte
	switch action {
	case "encrypt":
		if vault.IsEncrypted(data) {
			return fmt.Errorf("%s is already encrypted with ansible-vault", path)
		}
		out, err = vault.Encrypt(data, enc)
	default:
		if !vault.IsEncrypted(data) {
			return fmt.Errorf("%s is not a vault-encrypted file", path)
		}
		out, _, err = vault.Decrypt(data, secrets)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if action == "view" || output == "-" {
		_, err = os.Stdout.Write(out)
		return err
	}
	if output == "" {
		output = path
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(output); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp := output + ".tend-tmp"
	if err := os.WriteFile(tmp, out, mode); err != nil {
		return err
	}
	return os.Rename(tmp, output)
}
