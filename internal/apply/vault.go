package apply

import (
	"context"
	"sync"

	"github.com/tend-project/tend/internal/inventory"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/template"
	"github.com/tend-project/tend/internal/vault"
)

// decrypter returns the function that decrypts ansible-vault content for
// this run (vars files, inventory files, !vault values), or nil when no
// vault password was given. The password file is read (or run, when it is
// executable) once, here, so a wrong path fails before anything runs.
func decrypter(req Request) (func(data []byte) ([]byte, error), error) {
	ids := req.VaultIDs
	if req.AskVaultPass {
		ids = append([]string{vault.DefaultID + "@prompt"}, ids...)
	}
	if req.VaultPasswordFile == "" && len(ids) == 0 {
		return nil, nil
	}
	var files []string
	if req.VaultPasswordFile != "" {
		files = []string{req.VaultPasswordFile}
	}
	secrets, err := vault.LoadSecretsPrompt(context.Background(), files, ids, req.VaultPrompt)
	if err != nil {
		return nil, err
	}
	return func(data []byte) ([]byte, error) {
		plain, _, err := vault.Decrypt(data, secrets)
		return plain, err
	}, nil
}

// loadInventory loads the inventory, decrypting vault-encrypted inventory
// files with dec, and returns the string values of the decrypted files so
// the run masks them in its output.
func loadInventory(sources []string, dec func([]byte) ([]byte, error), warn func(string)) (*inventory.Inventory, []string, error) {
	if dec == nil || len(sources) == 0 {
		inv, err := loadInventoryWith(sources, inventory.Options{Warn: warn})
		return inv, nil, err
	}
	var mu sync.Mutex
	var secrets []string
	opts := inventory.Options{Warn: warn, Decrypt: func(data []byte, path string) ([]byte, error) {
		plain, err := dec(data)
		if err != nil {
			return nil, err
		}
		if v, derr := playbook.DecodeBytes(plain, path); derr == nil {
			mu.Lock()
			secrets = appendLeaves(secrets, v)
			mu.Unlock()
		}
		return plain, nil
	}}
	inv, err := inventory.Load(sources, opts)
	return inv, secrets, err
}

func appendLeaves(out []string, v any) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case map[string]any:
		for _, e := range x {
			out = appendLeaves(out, e)
		}
	case *template.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			out = appendLeaves(out, e)
		}
	case []any:
		for _, e := range x {
			out = appendLeaves(out, e)
		}
	}
	return out
}
