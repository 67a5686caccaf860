#!/usr/bin/env bash
# make demo: tend's main job — the agent, once — on the example host-state
# repo shipped in playbooks/ and inventory/. Everything happens under
# DEMO_ROOT: a git repo made from the example, the agent's state_dir, and the
# "host" whose files the playbook manages (tend --root maps every path there
# and runs no commands), so the real system is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/tend}
DEMO_ROOT=${DEMO_ROOT:-$PWD/demo-root}
case "$DEMO_ROOT" in /*) ;; *) DEMO_ROOT=$PWD/$DEMO_ROOT ;; esac

rm -rf "$DEMO_ROOT"
mkdir -p "$DEMO_ROOT/repo" "$DEMO_ROOT/host"
cp -r playbooks inventory "$DEMO_ROOT/repo/"
git -C "$DEMO_ROOT/repo" init -q -b main
git -C "$DEMO_ROOT/repo" add -A
git -C "$DEMO_ROOT/repo" -c user.name="tend demo" -c user.email=demo@example.invalid commit -qm "example host-state repo"

cat > "$DEMO_ROOT/tend.yaml" <<YAML
# Written by scripts/demo.sh; see packaging/tend.yaml for every key.
source:
  url: $DEMO_ROOT/repo
  ref: main
  interval: 1m
  splay: 0s
playbook: playbooks/site.yml
inventory: inventory/hosts.yml
host: demo
backend: native
drift:
  watch: false
listen: ""
textfile: $DEMO_ROOT/tend.prom
state_dir: $DEMO_ROOT/state
YAML

echo "==> tend agent --once (repo $DEMO_ROOT/repo, host files under $DEMO_ROOT/host)"
"$BIN" agent --once --config "$DEMO_ROOT/tend.yaml" --root "$DEMO_ROOT/host"
echo
echo "==> tend status"
"$BIN" status --config "$DEMO_ROOT/tend.yaml"
echo
echo "==> files tend manages (under $DEMO_ROOT/host)"
(cd "$DEMO_ROOT/host" && find . -type f | sort | sed 's|^\.||')
echo
echo "==> metrics (also served on /metrics by the daemon)"
grep -E '^tend_(applied_revision_info|reconcile_total|resources|drift_resources|last_success)' "$DEMO_ROOT/tend.prom" || true
echo
echo "==> a second run changes nothing (tend plan exits 0 when there is no drift)"
"$BIN" plan --config "$DEMO_ROOT/tend.yaml" --root "$DEMO_ROOT/host"
