#!/bin/sh
# `make package` entry point: the Makefile calls packaging/package.sh; the work is in
# build.sh. bin/tend is rebuilt (a relink after `make build`) so that it carries the
# package's version, which build.sh derives from git in a form dpkg and rpm accept
# (the Makefile's VERSION, from `git describe --always --dirty`, may start with a
# letter, which dpkg refuses).
set -eu
exec sh "$(dirname "$0")/build.sh" "$@"
