package apply

import (
	"fmt"
	"io"
	"os"

	"github.com/tend-project/tend/internal/engine"
)

// List prints what ansible-playbook's --list-hosts, --list-tasks and
// --list-tags print for the request's playbooks, after checking them as a
// run would. Nothing runs and no host is contacted.
func List(w io.Writer, req Request, lo engine.ListOptions) error {
	req, err := req.Resolved()
	if err != nil {
		return err
	}
	pbs, err := Load(req.Playbooks, req.RolesPath)
	if err != nil {
		return err
	}
	dec, err := decrypter(req)
	if err != nil {
		return err
	}
	inv, _, err := loadInventory(req.Inventories, dec, func(m string) { fmt.Fprintf(os.Stderr, "[WARNING]: %s\n", m) })
	if err != nil {
		return fmt.Errorf("%w:\n%v", engine.ErrParse, err)
	}
	for i, pb := range pbs {
		r := engine.New(engine.Options{Inventory: inv, Limit: req.Limit, Tags: req.Tags, SkipTags: req.SkipTags, RolesPath: req.RolesPath})
		if err := r.List(w, req.Playbooks[i], pb, lo); err != nil {
			return err
		}
	}
	return nil
}
