// Package pkg holds the package-manager modules — apt, dnf, yum, package and
// package_facts — with ansible-core 2.14's arguments and return values.
// Installed state is read straight from the package database files
// (/var/lib/dpkg/status) through host.Host, so check mode and drift checks
// need no process; installs and removals go through the distribution's own
// tool, one call per task.
package pkg

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/tend-project/tend/internal/host"
)

// dpkgStatusPath is where dpkg keeps what is installed.
const dpkgStatusPath = "/var/lib/dpkg/status"

// debPkg is one package as dpkg's status file records it.
type debPkg struct {
	Name    string
	Version string
	Arch    string
	Source  string
	Section string
	Status  string // the Status field: "install ok installed", "deinstall ok config-files"
}

// Installed reports whether the package is fully installed.
func (p debPkg) Installed() bool { return strings.HasSuffix(p.Status, " installed") }

// HasConfig reports whether only config files are left (dpkg's "rc").
func (p debPkg) HasConfig() bool { return strings.HasSuffix(p.Status, " config-files") }

// dpkgDB is the parsed status file, keyed by package name; a package
// installed for several architectures appears once per arch.
type dpkgDB map[string][]debPkg

// find returns the entry for name, which may carry an ":arch" suffix.
func (db dpkgDB) find(name string) (debPkg, bool) {
	n, arch, _ := strings.Cut(name, ":")
	var found debPkg
	ok := false
	for _, p := range db[n] {
		if arch != "" && p.Arch != arch && arch != "any" {
			continue
		}
		if !ok || p.Installed() && !found.Installed() {
			found, ok = p, true
		}
	}
	return found, ok
}

func readDpkgStatus(ctx context.Context, h host.Host) (dpkgDB, error) {
	data, err := h.ReadFile(ctx, dpkgStatusPath)
	if err != nil {
		return nil, fmt.Errorf("read dpkg database: %w", err)
	}
	return parseDpkgStatus(data), nil
}

// parseDpkgStatus parses dpkg's status file (deb822 paragraphs). Only the
// fields the modules need are kept.
func parseDpkgStatus(data []byte) dpkgDB {
	db := dpkgDB{}
	var cur debPkg
	flush := func() {
		if cur.Name != "" {
			if cur.Source == "" {
				cur.Source = cur.Name
			}
			db[cur.Name] = append(db[cur.Name], cur)
		}
		cur = debPkg{}
	}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if len(line) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		val := string(bytes.TrimSpace(line[colon+1:]))
		switch string(line[:colon]) {
		case "Package":
			cur.Name = val
		case "Status":
			cur.Status = val
		case "Version":
			cur.Version = val
		case "Architecture":
			cur.Arch = val
		case "Section":
			cur.Section = val
		case "Source":
			// "Source: name (version)" when the version differs
			src, _, _ := strings.Cut(val, " ")
			cur.Source = src
		}
	}
	flush()
	return db
}
