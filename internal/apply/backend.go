package apply

import (
	"context"
	"fmt"

	"github.com/tend-project/tend/internal/report"
)

// needsAnsible decides whether a run goes through real Ansible: always for
// backend "ansible", for "auto" when a play uses a module tend lacks.
func needsAnsible(req Request) (bool, error) {
	switch req.Backend {
	case "", "native", "auto":
		return false, nil
	case "ansible":
		return true, nil
	}
	return false, fmt.Errorf("backend must be native, ansible or auto, got %q", req.Backend)
}

// runAnsible runs the playbooks through ansible-playbook and turns its
// results into tend's report.
func runAnsible(ctx context.Context, req Request) (*report.Report, error) {
	return nil, fmt.Errorf("the ansible backend is not built yet")
}
