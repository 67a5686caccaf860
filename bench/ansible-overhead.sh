#!/usr/bin/env bash
# The overhead tend's Ansible backend adds around ansible-playbook: the same
# generated playbook (bench/gen-playbook.sh) run by `ansible-playbook -c
# local` alone and by `tend playbook --backend ansible -c local`, alternating,
# RUNS times each, on one root that a warm-up run has converged (so every
# measured run does the same no-op work). Prints each run, the medians and
# the ratio tend/ansible (target: under 1.05). No assertions.
#
# Env: TEND_BIN (default bin/tend), TASKS (20), RUNS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
tend=${TEND_BIN:-bin/tend}
tasks=${TASKS:-20}
runs=${RUNS:-5}
[ -x "$tend" ] || { echo "ansible-overhead: $tend not built (make build)" >&2; exit 1; }
command -v ansible-playbook >/dev/null || { echo "ansible-overhead: ansible-playbook is not installed (apt-get install ansible-core)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pb=$(bench/gen-playbook.sh "$work/pb" "$tasks")
inv="$work/pb/inventory.ini"
root="$work/root"
mkdir -p "$root"
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0

run() { # TOOL -> milliseconds
	local t0 t1
	t0=$(date +%s%N)
	if [ "$1" = ansible ]; then
		ansible-playbook -c local -i "$inv" -e "root=$root" "$pb" >"$work/log" 2>&1
	else
		"$tend" playbook --backend ansible -c local -i "$inv" -e "root=$root" "$pb" >"$work/log" 2>&1
	fi || { echo "ansible-overhead: $1 failed:" >&2; tail -20 "$work/log" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

run ansible >/dev/null # warm-up: converge the root, warm the page cache
a=() t=()
for ((i = 1; i <= runs; i++)); do
	a+=("$(run ansible)")
	t+=("$(run tend)")
	printf 'run %d: ansible-playbook %6d ms   tend --backend ansible %6d ms\n' "$i" "${a[-1]}" "${t[-1]}"
done
am=$(printf '%s\n' "${a[@]}" | median)
tm=$(printf '%s\n' "${t[@]}" | median)
printf '\n%d tasks, %d runs each (medians): ansible-playbook %d ms, tend --backend ansible %d ms\n' "$tasks" "$runs" "$am" "$tm"
awk -v a="$am" -v t="$tm" 'BEGIN {printf "ratio tend/ansible = %.3f (overhead %+.1f%%; target < +5%%)\n", t/a, (t/a-1)*100}'
