#!/bin/sh
# The example host-state repo (inventory/, playbooks/) under real Ansible, the
# reference for tend's module semantics:
#   1. ansible-playbook --check --diff for host `demo` parses and runs clean;
#   2. applied for real, twice, the second run changes nothing (idempotence);
#      this needs root and unshare(1): it runs in a private mount namespace whose
#      /etc, /home and /var are overlays, so the machine is left as it was.
# Skips (exit 0, with a message) when ansible-playbook is missing.
set -eu

cd "$(dirname "$0")/.."

if ! command -v ansible-playbook >/dev/null 2>&1; then
    echo "test-example-repo.sh: SKIP: ansible-playbook missing (apt-get install ansible-core)" >&2
    exit 0
fi
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
run() {
    ansible-playbook -i inventory/hosts.yml playbooks/site.yml -l demo \
        -e tend_system_modules=false "$@"
}

out=$(run --check --diff 2>&1) || { echo "$out"; echo "FAIL: check mode" >&2; exit 1; }
echo "$out" | grep -A1 '^PLAY RECAP'
echo "ok   check mode runs clean"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
    echo "test-example-repo.sh: SKIP apply test: needs root and unshare(1)" >&2
    exit 0
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for d in etc home var; do mkdir -p "$scratch/$d/u" "$scratch/$d/w"; done
# shellcheck disable=SC2016 # expanded by the inner shell
SCRATCH="$scratch" unshare -m sh -ec '
    for d in etc home var; do
        mount -t overlay overlay -o lowerdir=/$d,upperdir=$SCRATCH/$d/u,workdir=$SCRATCH/$d/w /$d
    done
    ansible-playbook -i inventory/hosts.yml playbooks/site.yml -l demo -e tend_system_modules=false > "$SCRATCH/first.log" 2>&1 ||
        { cat "$SCRATCH/first.log"; echo "FAIL: first apply" >&2; exit 1; }
    ansible-playbook -i inventory/hosts.yml playbooks/site.yml -l demo -e tend_system_modules=false > "$SCRATCH/second.log" 2>&1 ||
        { cat "$SCRATCH/second.log"; echo "FAIL: second apply" >&2; exit 1; }
    grep -q "demo .*changed=0 .*failed=0" "$SCRATCH/second.log" ||
        { cat "$SCRATCH/second.log"; echo "FAIL: second apply changed something" >&2; exit 1; }
    test -f /home/alice/.ssh/authorized_keys && test -f /etc/sysctl.d/60-tend.conf ||
        { echo "FAIL: files missing after apply" >&2; exit 1; }
'
grep '^demo' "$scratch/first.log" | sed 's/^/    first:  /'
grep '^demo' "$scratch/second.log" | sed 's/^/    second: /'
echo "ok   applied twice: the second run changes nothing"
