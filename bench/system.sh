#!/usr/bin/env bash
# System modules: tend vs ansible-playbook (connection local) on two tasks
# that real playbooks run on every host, every time:
#   1. package_facts (the whole dpkg database as facts);
#   2. a no-op check (-C) of 50 installed packages in one apt task.
# Each playbook runs RUNS times per tool; prints the mean wall time and the
# ratio. Not a test: no assertions.
#
# Env: TEND_BIN (default bin/tend), RUNS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
tend=${TEND_BIN:-bin/tend}
runs=${RUNS:-5}
[ -x "$tend" ] || { echo "bench: $tend not built (make build)" >&2; exit 1; }
command -v dpkg-query >/dev/null || { echo "bench: needs dpkg (a Debian host)" >&2; exit 1; }
have_ansible=1
command -v ansible-playbook >/dev/null || { have_ansible=; echo "bench: ansible-playbook missing; measuring tend only" >&2; }

work=$(mktemp -d /tmp/tend-system-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' >"$work/hosts"
printf '[defaults]\n' >"$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_NOCOLOR=1

cat >"$work/facts.yml" <<'Y'
- hosts: all
  gather_facts: false
  tasks:
    - name: package facts
      package_facts:
Y
pkgs=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1=="ii" && n<50 {print "          - " $2; n++}')
[ "$(printf '%s\n' "$pkgs" | wc -l)" -eq 50 ] || { echo "bench: fewer than 50 installed packages" >&2; exit 1; }
cat >"$work/apt.yml" <<Y
- hosts: all
  gather_facts: false
  tasks:
    - name: 50 installed packages
      apt:
        name:
$pkgs
Y

# mean wall seconds of RUNS runs of "$@" (output discarded, failures fatal)
mean() {
	local total=0 s e
	for ((i = 0; i < runs; i++)); do
		s=$(date +%s.%N)
		"$@" >"$work/out" 2>&1 || { echo "bench: failed: $*" >&2; tail -20 "$work/out" >&2; exit 1; }
		e=$(date +%s.%N)
		total=$(echo "$total + $e - $s" | bc -l)
	done
	echo "$total / $runs" | bc -l
}

printf '%-36s %10s %10s %8s\n' benchmark tend ansible ratio
for book in facts apt; do
	args=(-i "$work/hosts" "$work/$book.yml")
	[ "$book" = apt ] && args=(-C "${args[@]}")
	t=$(mean "$tend" playbook -c local "${args[@]}")
	a=
	if [ -n "$have_ansible" ]; then
		a=$(mean ansible-playbook -c local "${args[@]}")
	fi
	name=$([ "$book" = facts ] && echo "package_facts" || echo "apt: no-op check of 50 packages")
	if [ -n "$a" ]; then
		printf '%-36s %9.3fs %9.3fs %7.1fx\n' "$name" "$t" "$a" "$(echo "$a / $t" | bc -l)"
	else
		printf '%-36s %9.3fs %10s %8s\n' "$name" "$t" - -
	fi
done
