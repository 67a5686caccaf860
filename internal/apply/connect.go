package apply

import (
	"context"
	"fmt"

	"github.com/tend-project/tend/internal/engine"
	"github.com/tend-project/tend/internal/host"
)

// Connector returns how a run reaches its hosts: the local machine for
// connection local (under --root when set), SSH otherwise.
func Connector(req Request) engine.Connector {
	return localConnector(req)
}

// localConnector reaches hosts whose connection is local; ssh hosts are
// unreachable until push mode is wired in.
func localConnector(req Request) engine.Connector {
	local := host.Host(host.NewLocal())
	if req.Root != "" {
		local = host.Rooted(local, req.Root)
	}
	return func(ctx context.Context, name string, vars map[string]any) (host.Host, error) {
		conn := req.Connection
		if c, ok := vars["ansible_connection"].(string); ok && conn == "" {
			conn = c
		}
		if conn == "" && (name == "localhost" || name == "127.0.0.1") {
			conn = "local"
		}
		switch conn {
		case "local":
			return local, nil
		case "", "ssh", "smart", "paramiko":
			return nil, fmt.Errorf("Failed to connect to the host via ssh: push mode over SSH is not available in this build")
		}
		return nil, fmt.Errorf("connection plugin %q is not supported (use local or ssh)", conn)
	}
}
