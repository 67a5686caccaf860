package main

import (
	"fmt"
	"os"

	"github.com/tend-project/tend/internal/validate"
)

func init() {
	register("validate", "parse a whole repo and report every problem at once", cmdValidate)
}

func cmdValidate(args []string) error {
	fs := newFlags("validate")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1, err: err}
	}
	dir := "."
	if fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	res, err := validate.Dir(dir)
	if err != nil {
		return err
	}
	for _, p := range res.Problems {
		fmt.Fprintln(os.Stderr, p)
	}
	for _, n := range res.NeedsAnsible {
		fmt.Println(n)
	}
	fmt.Printf("%d playbooks, %d inventories checked: %d problems\n", res.Playbooks, res.Inventories, len(res.Problems))
	if len(res.Problems) > 0 {
		return &exitError{code: 1}
	}
	return nil
}
