package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this package as the `tend` command: scripts
// exec the real CLI (flag parsing, exit codes, stderr) in a child process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tend": func() { os.Exit(run(os.Args[1:])) },
	})
}

// TestInit runs the `tend init` scenarios in testdata/init: the file written,
// and every refusal with nothing written.
func TestInit(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/init"})
}
