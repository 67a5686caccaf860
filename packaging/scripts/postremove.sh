#!/bin/sh
# tend package: after removal. One script for deb (postrm) and rpm (%postun):
#   dpkg: postrm remove | purge | upgrade NEW-VERSION | failed-upgrade OLD-VERSION |
#         abort-install [OLD-VERSION] | abort-upgrade OLD-VERSION | disappear ...
#   rpm:  %postun N   (N = instances left after: 0 = erase, >=1 = upgrade)
# remove / rpm erase: forget the unit file; keep /etc/tend and /var/lib/tend.
# purge (dpkg only): dpkg itself deletes the conffile /etc/tend/tend.yaml; this script
# deletes the agent's own state (/var/lib/tend: checkout, state.json, audit.jsonl,
# backups) and the unit's enablement symlinks. It leaves files it did not create
# (deploy key, known_hosts, allowed_signers in /etc/tend) and every file tend managed
# on the host: purging tend never undoes what it applied.
set -e

unit=tend.service

case "$1" in
    remove|0|abort-install)
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload >/dev/null 2>&1 || true
        fi
        ;;
    purge)
        # The unit file is gone, so `systemctl disable` cannot read its [Install]
        # section: remove the symlinks it created by name.
        rm -f "/etc/systemd/system/multi-user.target.wants/$unit"
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload >/dev/null 2>&1 || true
            systemctl reset-failed "$unit" >/dev/null 2>&1 || true
        fi
        rm -rf /var/lib/tend
        # Only if nothing an admin put there is left.
        rmdir /etc/tend 2>/dev/null || true
        ;;
    *)
        # upgrade, failed-upgrade, abort-upgrade, disappear, rpm's N>=1: nothing to do.
        ;;
esac
exit 0
