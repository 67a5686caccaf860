#!/bin/sh
# tend package: after install or upgrade. One script for deb (postinst) and rpm (%post):
#   dpkg: postinst configure [OLD-VERSION]   (no OLD-VERSION = first install)
#         postinst abort-upgrade|abort-remove|abort-deconfigure ...
#         postinst triggered ...
#   rpm:  %post N   (N = instances after this transaction: 1 = install, >=2 = upgrade)
# First install: enable tend.service, and start it once /etc/tend/tend.yaml differs
# from the shipped default (a fresh default has no source.url, so the agent could only
# fail). Upgrade: restart the agent, the way each platform does it (see below).
set -e

unit=tend.service
default_config=/usr/share/tend/tend.yaml

case "$1" in
    configure)
        if [ -z "$2" ]; then action=install; else action=upgrade-deb; fi ;;
    abort-upgrade|abort-remove|abort-deconfigure)
        action=restore ;;
    1)
        action=install ;;
    [0-9]*)
        action=upgrade-rpm ;;
    *)
        # triggered, or anything newer: nothing to do.
        exit 0 ;;
esac

# The package ships both directories; recreate them if an admin removed one.
mkdir -p /etc/tend /var/lib/tend
chmod 0700 /var/lib/tend

have_systemctl=false
command -v systemctl >/dev/null 2>&1 && have_systemctl=true
# Only a running systemd can start or restart units (not a chroot or an image build).
systemd_running=false
[ -d /run/systemd/system ] && $have_systemctl && systemd_running=true

if $systemd_running; then
    systemctl daemon-reload || true
fi

configured() {
    # cksum is POSIX (coreutils), present on every deb and rpm system.
    [ -f /etc/tend/tend.yaml ] || return 1
    [ -f "$default_config" ] || return 0
    [ "$(cksum < /etc/tend/tend.yaml)" != "$(cksum < "$default_config")" ]
}

case "$action" in
    install)
        # Enabling works without a running systemd too (image builds).
        if $have_systemctl; then
            systemctl enable "$unit" >/dev/null 2>&1 || true
        fi
        if $systemd_running; then
            if configured; then
                systemctl start --no-block "$unit" || true
            else
                echo "tend: edit /etc/tend/tend.yaml (or run 'tend init --repo URL'), then: systemctl start tend"
            fi
        fi
        ;;
    upgrade-deb)
        # Debian's convention (debhelper): restart an enabled unit on upgrade. --no-block,
        # so that tend can upgrade its own package: the restart waits for this dpkg run.
        if $systemd_running && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
            systemctl restart --no-block "$unit" || true
        fi
        ;;
    upgrade-rpm)
        # Fedora's convention (%systemd_postun_with_restart): restart only if running.
        if $systemd_running; then
            systemctl try-restart --no-block "$unit" || true
        fi
        ;;
    restore)
        # A failed upgrade or removal stopped nothing for good: start it again if enabled.
        if $systemd_running && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
            systemctl start --no-block "$unit" || true
        fi
        ;;
esac
exit 0
