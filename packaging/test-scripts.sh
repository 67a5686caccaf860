#!/bin/sh
# Tests of the maintainer scripts (packaging/scripts/*.sh) against dpkg's and rpm's
# calling conventions, with a stub systemctl that records its calls.
#
# Needs root and unshare(1): each case runs in a private mount namespace whose /etc,
# /var and /usr are overlays and /run/systemd a tmpfs, so the scripts' real paths
# (/etc/tend, /var/lib/tend, /usr/share/tend) are written to scratch, never to the
# machine. Run by packaging/check.sh; exit 0 = every case passed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
scripts="$here/scripts"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
    echo "test-scripts.sh: SKIP: needs root and unshare(1)" >&2
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cat > "$work/bin/systemctl" <<'STUB'
#!/bin/sh
echo "$*" >> "$SYSTEMCTL_LOG"
case "$1" in
    is-enabled) [ "${STUB_ENABLED:-no}" = yes ] ;;
    *) exit 0 ;;
esac
STUB
chmod +x "$work/bin/systemctl"

failures=0

# run_case NAME SETUP SCRIPT ARGS... -- EXPECTED-CALLS [CHECK]
#   SETUP: shell run first inside the namespace (e.g. write a config)
#   EXPECTED-CALLS: the systemctl calls, joined by '|'
#   CHECK: shell that must succeed afterwards (inside the namespace)
run_case() {
    name=$1 setup=$2 script=$3; shift 3
    args=""
    while [ "$1" != -- ]; do args="$args '$1'"; shift; done
    shift
    want=$1 check=${2:-true}
    case_dir="$work/case"
    rm -rf "$case_dir"
    for d in etc var usr; do mkdir -p "$case_dir/$d/u" "$case_dir/$d/w"; done
    : > "$work/log"
    if ! SYSTEMCTL_LOG="$work/log" PATH="$work/bin:$PATH" unshare -m sh -ec "
        for d in etc var usr; do
            mount -t overlay overlay -o lowerdir=/\$d,upperdir=$case_dir/\$d/u,workdir=$case_dir/\$d/w /\$d
        done
        mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd
        mkdir -p /usr/share/tend /etc/tend /etc/systemd/system/multi-user.target.wants
        cp '$here/tend.yaml' /usr/share/tend/tend.yaml
        cp '$here/tend.yaml' /etc/tend/tend.yaml
        mkdir -p /run/systemd/system
        $setup
        sh '$scripts/$script' $args
        $check
    " > "$work/out" 2>&1; then
        echo "FAIL $name: script or check failed:"; sed 's/^/    /' "$work/out"
        failures=$((failures + 1)); return
    fi
    got=$(paste -sd '|' "$work/log")
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: systemctl calls"
        echo "    want: $want"
        echo "    got:  $got"
        failures=$((failures + 1)); return
    fi
    echo "ok   $name"
}

customize='echo "# edited" >> /etc/tend/tend.yaml'
enabled='export STUB_ENABLED=yes'
nosystemd='umount /run/systemd'

# postinstall: dpkg
run_case "deb install, default config: enable, do not start" "" postinstall.sh configure "" -- \
    "daemon-reload|enable tend.service" "test -d /var/lib/tend && test \$(stat -c %a /var/lib/tend) = 700"
run_case "deb install, edited config: enable and start" "$customize" postinstall.sh configure "" -- \
    "daemon-reload|enable tend.service|start --no-block tend.service"
run_case "deb install without running systemd: enable only" "$customize; $nosystemd" postinstall.sh configure "" -- \
    "enable tend.service"
run_case "deb upgrade, enabled: restart" "$enabled" postinstall.sh configure 0.1.0-1 -- \
    "daemon-reload|is-enabled --quiet tend.service|restart --no-block tend.service"
run_case "deb upgrade, disabled: leave stopped" "" postinstall.sh configure 0.1.0-1 -- \
    "daemon-reload|is-enabled --quiet tend.service"
run_case "deb abort-remove, enabled: start again" "$enabled" postinstall.sh abort-remove -- \
    "daemon-reload|is-enabled --quiet tend.service|start --no-block tend.service"
run_case "deb abort-upgrade, enabled: start again" "$enabled" postinstall.sh abort-upgrade 0.2.0-1 -- \
    "daemon-reload|is-enabled --quiet tend.service|start --no-block tend.service"
run_case "deb triggered: nothing" "" postinstall.sh triggered /usr/share/foo -- ""
run_case "state dir loosened by an admin: back to 0700" "mkdir -p /var/lib/tend && chmod 755 /var/lib/tend" postinstall.sh configure 0.1.0-1 -- \
    "daemon-reload|is-enabled --quiet tend.service" "test \$(stat -c %a /var/lib/tend) = 700"
# postinstall: rpm
run_case "rpm install (1), edited config: enable and start" "$customize" postinstall.sh 1 -- \
    "daemon-reload|enable tend.service|start --no-block tend.service"
run_case "rpm install (1), default config: enable only" "" postinstall.sh 1 -- \
    "daemon-reload|enable tend.service"
run_case "rpm upgrade (2): try-restart" "" postinstall.sh 2 -- \
    "daemon-reload|try-restart --no-block tend.service"

# preremove
run_case "deb remove: stop, keep enabled" "" preremove.sh remove -- "stop --no-block tend.service"
run_case "deb upgrade: nothing" "" preremove.sh upgrade 0.2.0-1 -- ""
run_case "deb failed-upgrade: nothing" "" preremove.sh failed-upgrade 0.1.0-1 -- ""
run_case "rpm erase (0): disable and stop" "" preremove.sh 0 -- \
    "--no-reload disable tend.service|stop --no-block tend.service"
run_case "rpm upgrade (1): nothing" "" preremove.sh 1 -- ""
run_case "deb remove without running systemd: nothing" "$nosystemd" preremove.sh remove -- ""

# postremove
keep_state='mkdir -p /var/lib/tend && echo {} > /var/lib/tend/state.json'
run_case "deb remove: reload, keep config and state" "$keep_state" postremove.sh remove -- "daemon-reload" \
    "test -f /var/lib/tend/state.json && test -f /etc/tend/tend.yaml"
run_case "deb purge: state and symlink gone, admin's files kept" \
    "$keep_state; echo key > /etc/tend/deploy_key; rm /etc/tend/tend.yaml; ln -s /lib/systemd/system/tend.service /etc/systemd/system/multi-user.target.wants/tend.service" \
    postremove.sh purge -- "daemon-reload|reset-failed tend.service" \
    "test ! -e /var/lib/tend && test -f /etc/tend/deploy_key && test ! -L /etc/systemd/system/multi-user.target.wants/tend.service"
run_case "deb purge with nothing left in /etc/tend: directory removed" "rm /etc/tend/tend.yaml" postremove.sh purge -- \
    "daemon-reload|reset-failed tend.service" "test ! -e /etc/tend"
run_case "deb upgrade: nothing" "" postremove.sh upgrade 0.2.0-1 -- ""
run_case "rpm erase (0): reload, keep state" "$keep_state" postremove.sh 0 -- "daemon-reload" "test -f /var/lib/tend/state.json"
run_case "rpm upgrade (1): nothing" "" postremove.sh 1 -- ""

if [ "$failures" -gt 0 ]; then
    echo "test-scripts.sh: $failures case(s) failed" >&2
    exit 1
fi
echo "test-scripts.sh: all cases passed"
