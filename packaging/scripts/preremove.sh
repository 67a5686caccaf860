#!/bin/sh
# tend package: before removal. One script for deb (prerm) and rpm (%preun):
#   dpkg: prerm remove | upgrade NEW-VERSION | deconfigure ... | failed-upgrade OLD-VERSION
#   rpm:  %preun N   (N = instances left after: 0 = erase, >=1 = upgrade)
# Stop the agent when the package goes away; on upgrade leave it running (postinstall
# restarts it with the new binary). Config, state and audit log are kept.
set -e

unit=tend.service

case "$1" in
    remove|0) ;;
    *) exit 0 ;;
esac

if command -v systemctl >/dev/null 2>&1; then
    if [ "$1" = 0 ]; then
        # rpm erase: disable as well (Fedora's %systemd_preun); the symlinks go with it.
        systemctl --no-reload disable "$unit" >/dev/null 2>&1 || true
    fi
    # dpkg remove keeps the unit enabled (debhelper's convention), so re-installing the
    # package brings the agent back; purge removes the symlinks (postremove).
    if [ -d /run/systemd/system ]; then
        # --no-block: when a playbook run by tend removes tend, the stop must not wait
        # for the dpkg run that tend itself is waiting for.
        systemctl stop --no-block "$unit" || true
    fi
fi
exit 0
