package apply

import "fmt"

// decrypter returns the function that decrypts ansible-vault content for
// this run (vars files, inventory files, !vault values), or nil when no
// vault password was given.
func decrypter(req Request) (func(data []byte) ([]byte, error), error) {
	if req.VaultPasswordFile == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("--vault-password-file: vault support is not built yet")
}
