package source

import (
	"os/exec"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// go-git's default file:// transport runs the git-upload-pack program; a
// minimal server has no git installed. Without it, serve file:// and plain
// paths with go-git's in-process server, so the agent needs no git binary
// (that server cannot make shallow clones: source.depth then needs git).
func init() {
	if _, err := exec.LookPath("git-upload-pack"); err != nil {
		client.InstallProtocol("file", server.DefaultServer)
	}
}
