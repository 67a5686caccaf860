// Package all links every built-in module into the binary: importing it is
// what makes a module exist. This file is the one list of tend's modules.
package all

import (
	_ "github.com/tend-project/tend/internal/module/account" // user, group, authorized_key
	_ "github.com/tend-project/tend/internal/module/command" // command, shell, raw, script
	_ "github.com/tend-project/tend/internal/module/fetch"   // git, get_url, unarchive
	_ "github.com/tend-project/tend/internal/module/files"   // file, copy, template, lineinfile, blockinfile, replace, stat, find, slurp, tempfile, assemble
	_ "github.com/tend-project/tend/internal/module/pkg"     // apt, dnf, yum, package, package_facts
	_ "github.com/tend-project/tend/internal/module/service" // service, systemd (systemd_service)
	_ "github.com/tend-project/tend/internal/module/system"  // cron, sysctl, hostname, ini_file, getent, wait_for
)
