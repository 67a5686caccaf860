// Package all links every built-in module into the binary: importing it is
// what makes a module exist. This file is the one list of tend's modules.
package all

import (
	_ "github.com/tend-project/tend/internal/module/command" // command, shell, raw, script
	_ "github.com/tend-project/tend/internal/module/files"   // file, copy, template, lineinfile, blockinfile, replace, stat
)
