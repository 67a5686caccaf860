#!/bin/sh
# Checks of everything in packaging/ (CI runs this; so can you):
#
#   packaging/check.sh            build dist/*.deb and *.rpm, then check all of it
#   packaging/check.sh --install  also install the .deb with the real dpkg, then
#                                 reinstall, upgrade, remove and purge it (root; runs
#                                 in a mount namespace, so the machine is untouched)
#
#   DIST=dir            where the packages are (default dist/)
#   TEND_CHECK_NO_BUILD=1   check the packages already in DIST instead of building
#
# Tools: promtool (prometheus), cloud-init, systemd-analyze (systemd), lintian, rpm,
# rpmlint and python3-magic, shellcheck, python3, ansible-core, go (nfpm is fetched
# through the Go module proxy). A missing tool fails the check with
# its package name, so CI never passes by skipping.
set -eu

cd "$(dirname "$0")/.."
DIST="${DIST:-dist}"
install_test=false
[ "${1:-}" = --install ] && install_test=true

failed=0
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    fail "$1 is missing: apt-get install $2"
    return 1
}

step "Prometheus rules"
if need promtool prometheus; then
    promtool check rules packaging/prometheus/tend.rules.yml || fail "promtool check rules"
    (cd packaging/prometheus && promtool test rules tend.rules.test.yml) || fail "promtool test rules"
fi

step "Grafana dashboard"
if need python3 python3; then
    python3 - packaging/grafana/tend-dashboard.json <<'PY' || fail "dashboard JSON"
import json, sys
d = json.load(open(sys.argv[1]))
names = [v["name"] for v in d["templating"]["list"]]
assert "datasource" in names, "no datasource variable"
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
for p in d["panels"]:
    for t in p.get("targets", []):
        assert t["datasource"]["uid"] == "${datasource}", p["title"] + ": fixed datasource"
        assert t["expr"].count("(") == t["expr"].count(")"), p["title"] + ": unbalanced"
print("ok: %d panels, variables %s" % (len(ids), ", ".join(names)))
PY
fi

step "cloud-init user-data"
if need cloud-init cloud-init; then
    for f in packaging/cloud-init/user-data.yaml packaging/cloud-init/user-data-rpm.yaml; do
        cloud-init schema --config-file "$f" || fail "cloud-init schema $f"
    done
fi

step "maintainer scripts"
if need shellcheck shellcheck; then
    shellcheck -s sh packaging/scripts/*.sh packaging/build.sh packaging/check.sh \
        packaging/test-scripts.sh packaging/test-install.sh \
        packaging/test-example-repo.sh || fail "shellcheck"
fi
sh packaging/test-scripts.sh || fail "maintainer script cases"

step "example host-state repo under ansible-playbook"
sh packaging/test-example-repo.sh || fail "example repo (inventory/, playbooks/)"

step "build packages"
if [ "${TEND_CHECK_NO_BUILD:-}" != 1 ]; then
    DIST="$DIST" sh packaging/build.sh || fail "packaging/build.sh"
fi
# build.sh leaves one of each (it removes older ones).
deb="" rpmf=""
for f in "$DIST"/tend_*.deb; do [ -f "$f" ] && deb=$f; done
for f in "$DIST"/tend-*.rpm; do [ -f "$f" ] && rpmf=$f; done
[ -n "$deb" ] || fail "no .deb in $DIST"
[ -n "$rpmf" ] || fail "no .rpm in $DIST"

step "systemd unit"
if need systemd-analyze systemd && [ -n "$deb" ]; then
    # verify wants the binary the unit runs: check the unit against a scratch root
    # holding the packaged files and the system's own units.
    root=$(mktemp -d)
    dpkg-deb -x "$deb" "$root"
    mkdir -p "$root/usr/lib/systemd" "$root/bin"
    cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
    cp "$root/lib/systemd/system/tend.service" "$root/usr/lib/systemd/system/"
    cp /bin/kill "$root/bin/kill"
    out=$(systemd-analyze verify --root="$root" tend.service 2>&1) || fail "systemd-analyze verify"
    if [ -n "$out" ]; then echo "$out"; fail "systemd-analyze verify printed warnings"; fi
    rm -rf "$root"
    echo "ok: tend.service"
fi

step "lintian (deb)"
if need lintian lintian && [ -n "$deb" ]; then
    # Errors and warnings fail; each override in packaging/lintian-overrides is explained.
    out=$(lintian --fail-on error,warning "$deb" 2>&1) || { echo "$out"; fail "lintian"; }
    echo "$out" | grep -v 'running with root privileges' || true
    echo "ok: $(basename "$deb")"
fi

step "rpm (rpm)"
if need rpm rpm && [ -n "$rpmf" ]; then
    rpm -qpi "$rpmf"
    rpm -qplv "$rpmf"
    [ "$(rpm -qp --configfiles "$rpmf")" = /etc/tend/tend.yaml ] || fail "rpm config files"
    rpm -Kv --nosignature "$rpmf" >/dev/null || fail "rpm digests"
    rpm -qp --scripts "$rpmf" | grep -q 'postinstall scriptlet' || fail "rpm scriptlets"
fi
if need rpmlint rpmlint && [ -n "$rpmf" ]; then
    # Without python3-magic rpmlint cannot see that /usr/bin/tend is an ELF binary
    # (nfpm sets no file classes) and reports no-binary.
    /usr/bin/python3 -c 'import magic' 2>/dev/null || fail "python3-magic is missing: apt-get install python3-magic"
    # nfpm writes absolute paths into the rpm's cpio payload (goreleaser/nfpm#1122),
    # and rpmlint unpacks it with GNU cpio, which would write to the real /: force
    # relative extraction with a cpio wrapper first in PATH.
    shim=$(mktemp -d)
    printf '#!/bin/sh\nexec %s --no-absolute-filenames "$@"\n' "$(command -v cpio)" > "$shim/cpio"
    chmod +x "$shim/cpio"
    out=$(PATH="$shim:$PATH" rpmlint -c packaging/rpmlint.toml "$rpmf" 2>&1) || true
    rm -rf "$shim"
    echo "$out"
    if echo "$out" | grep -Eq '^tend[^ ]*: [EW]: '; then
        fail "rpmlint: errors or unexplained warnings (explain in packaging/rpmlint.toml)"
    fi
fi

if $install_test && [ -n "$deb" ]; then
    step "install, upgrade, remove and purge the .deb"
    sh packaging/test-install.sh "$deb" || fail "install test"
fi

if [ "$failed" -gt 0 ]; then
    printf '\npackaging/check.sh: %d check(s) failed\n' "$failed" >&2
    exit 1
fi
printf '\npackaging/check.sh: all checks passed\n'
