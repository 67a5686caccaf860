#!/bin/sh
# Install test of the tend .deb with the real dpkg: install, reinstall, upgrade,
# remove, purge, checking files, `tend version`, and that config and state survive.
#
#   packaging/test-install.sh dist/tend_VERSION_amd64.deb
#
# Needs root. With unshare(1) it runs in a private mount namespace whose /etc, /var
# and /usr are overlays, so dpkg's database and every file land in scratch and the
# machine is left as it was; without unshare it refuses to run.
set -eu

deb=$(readlink -f "$1")

if [ "${TEND_IN_NAMESPACE:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "test-install.sh: needs root" >&2; exit 1; }
    command -v unshare >/dev/null 2>&1 || { echo "test-install.sh: needs unshare(1)" >&2; exit 1; }
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    for d in etc var usr; do mkdir -p "$scratch/$d/u" "$scratch/$d/w"; done
    # shellcheck disable=SC2016 # expanded by the inner shell
    TEND_IN_NAMESPACE=1 TEND_SCRATCH="$scratch" unshare -m sh -ec '
        for d in etc var usr; do
            mount -t overlay overlay -o lowerdir=/$d,upperdir=$TEND_SCRATCH/$d/u,workdir=$TEND_SCRATCH/$d/w /$d
        done
        exec sh "$0" "$1"
    ' "$(readlink -f "$0")" "$deb"
    exit $?
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
dpkg_q() { dpkg "$@" </dev/null >"$TEND_SCRATCH/dpkg.log" 2>&1 || { cat "$TEND_SCRATCH/dpkg.log"; fail "dpkg $*"; }; }

version=$(dpkg-deb -f "$deb" Version)
upstream=${version%-*}
wants=/etc/systemd/system/multi-user.target.wants/tend.service

dpkg -s tend >/dev/null 2>&1 && fail "tend is already installed in this system's dpkg database"

# 1. Install.
dpkg_q -i "$deb"
for f in /usr/bin/tend /etc/tend/tend.yaml /lib/systemd/system/tend.service \
         /usr/share/doc/tend/copyright /usr/share/doc/tend/changelog.Debian.gz \
         /usr/share/doc/tend/RUNBOOK.md /usr/share/doc/tend/examples/tend.rules.yml \
         /usr/share/lintian/overrides/tend /usr/share/tend/tend.yaml; do
    [ -f "$f" ] || fail "missing $f after install"
done
[ "$(stat -c %a /var/lib/tend)" = 700 ] || fail "/var/lib/tend is not 0700"
dpkg-query -W -f='${Conffiles}\n' tend | grep -q ' /etc/tend/tend.yaml ' || fail "tend.yaml is not a conffile"
out=$(/usr/bin/tend version) || fail "tend version exited non-zero"
case "$out" in
    *"$upstream"*) ;;
    *) fail "tend version prints '$out', want it to contain $upstream" ;;
esac
if command -v systemctl >/dev/null 2>&1; then
    [ -L "$wants" ] || fail "tend.service not enabled after install"
fi
ok "install $version: files, modes, conffile, enabled unit; tend version: $out"

# The admin configures the host; the agent writes state.
echo "# edited by the admin" >> /etc/tend/tend.yaml
echo key > /etc/tend/deploy_key
echo '{"applied":"abc"}' > /var/lib/tend/state.json

# 2. Reinstall the same package.
dpkg_q -i "$deb"
grep -q 'edited by the admin' /etc/tend/tend.yaml || fail "reinstall replaced the config"
[ -f /var/lib/tend/state.json ] || fail "reinstall lost the state"
ok "reinstall keeps config and state"

# 3. Upgrade to a newer version (the same contents, repacked with a higher version).
up="$TEND_SCRATCH/up"
dpkg-deb -R "$deb" "$up"
sed -i "s/^Version: .*/Version: ${upstream}+up1-1/" "$up/DEBIAN/control"
dpkg-deb -b "$up" "$TEND_SCRATCH/tend_up.deb" >/dev/null
dpkg_q -i "$TEND_SCRATCH/tend_up.deb"
[ "$(dpkg-query -W -f='${Version}' tend)" = "${upstream}+up1-1" ] || fail "upgrade did not happen"
grep -q 'edited by the admin' /etc/tend/tend.yaml || fail "upgrade replaced the config"
[ -f /var/lib/tend/state.json ] || fail "upgrade lost the state"
ok "upgrade keeps config and state"

# 4. Remove: the program goes, config and state stay.
dpkg_q -r tend
[ ! -e /usr/bin/tend ] || fail "/usr/bin/tend left after remove"
grep -q 'edited by the admin' /etc/tend/tend.yaml || fail "remove lost the config"
[ -f /var/lib/tend/state.json ] || fail "remove lost the state"
ok "remove keeps config and state"

# 5. Purge: config and state go, files the package did not ship stay.
dpkg_q -P tend
[ ! -e /etc/tend/tend.yaml ] || fail "purge left /etc/tend/tend.yaml"
[ ! -e /var/lib/tend ] || fail "purge left /var/lib/tend"
[ -f /etc/tend/deploy_key ] || fail "purge removed the admin's deploy key"
[ ! -L "$wants" ] || fail "purge left the enablement symlink"
dpkg -s tend >/dev/null 2>&1 && fail "tend still known to dpkg after purge"
ok "purge removes config, state and symlink, keeps the admin's files"
