package vault

import (
	"context"
	"strings"
	"testing"
)

func TestLoadSecretsNamesTheBadVaultID(t *testing.T) {
	_, err := LoadSecrets(context.Background(), nil, []string{"prod@/nonexistent/pw"})
	if err == nil || !strings.Contains(err.Error(), "--vault-id prod@/nonexistent/pw") {
		t.Fatalf("err = %v, want it to name the --vault-id value", err)
	}
}
