#!/usr/bin/env bash
# The overhead tend's Ansible backend adds around ansible-playbook: the same
# generated playbook (bench/gen-playbook.sh) run by `ansible-playbook -c
# local` alone and by `tend playbook --backend ansible -c local`, alternating,
# RUNS times each, on one root that a warm-up run has converged (so every
# measured run does the same no-op work). Prints each run, the medians and
# the ratio tend/ansible (target: under 1.05), for wall time and for the CPU
# time (user+sys) of the whole process tree: on a shared, loaded machine the
# CPU figure is the steadier one. No assertions.
#
# Env: TEND_BIN (default bin/tend), TASKS (10), RUNS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
tend=${TEND_BIN:-bin/tend}
tasks=${TASKS:-10}
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

command -v /usr/bin/time >/dev/null || { echo "ansible-overhead: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

run() { # TOOL -> "wall_ms cpu_ms" (cpu: user+sys of the process and its children)
	local cmd
	if [ "$1" = ansible ]; then
		cmd=(ansible-playbook -c local -i "$inv" -e "root=$root" "$pb")
	else
		cmd=("$tend" playbook --backend ansible -c local -i "$inv" -e "root=$root" "$pb")
	fi
	/usr/bin/time -f '%e %U %S' -o "$work/time" "${cmd[@]}" >"$work/log" 2>&1 ||
		{ echo "ansible-overhead: $1 failed:" >&2; tail -20 "$work/log" >&2; exit 1; }
	awk '{printf "%d %d\n", $1*1000, ($2+$3)*1000}' "$work/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

run ansible >/dev/null # warm-up: converge the root, warm the page cache
aw=() ac=() tw=() tc=()
for ((i = 1; i <= runs; i++)); do
	read -r w c < <(run ansible)
	aw+=("$w") ac+=("$c")
	read -r w c < <(run tend)
	tw+=("$w") tc+=("$c")
	printf 'run %d: ansible-playbook %6d ms wall %6d ms cpu   tend --backend ansible %6d ms wall %6d ms cpu\n' \
		"$i" "${aw[-1]}" "${ac[-1]}" "${tw[-1]}" "${tc[-1]}"
done
med() { printf '%s\n' "$@" | median; }
awm=$(med "${aw[@]}") acm=$(med "${ac[@]}") twm=$(med "${tw[@]}") tcm=$(med "${tc[@]}")
printf '\n%d tasks, %d runs each, medians:\n' "$tasks" "$runs"
awk -v a="$awm" -v t="$twm" 'BEGIN {printf "  wall: ansible-playbook %d ms, tend --backend ansible %d ms: ratio %.3f (%+.1f%%)\n", a, t, t/a, (t/a-1)*100}'
awk -v a="$acm" -v t="$tcm" 'BEGIN {printf "  cpu:  ansible-playbook %d ms, tend --backend ansible %d ms: ratio %.3f (%+.1f%%)\n", a, t, t/a, (t/a-1)*100}'
# paired: each tend run against the ansible run just before it (the load
# of a shared machine drifts less within a pair than across the whole run)
pair() { # NAME a[] t[]
	local n=$1 i
	shift
	local -a a=("${@:1:runs}") t=("${@:runs+1}")
	for ((i = 0; i < runs; i++)); do awk -v a="${a[i]}" -v t="${t[i]}" 'BEGIN {printf "%.4f\n", t/a}'; done |
		sort -n | awk -v n="$n" '{r[NR]=$1} END {m=(NR%2)?r[(NR+1)/2]:(r[NR/2]+r[NR/2+1])/2; printf "  %s, median of per-pair ratios: %.3f (%+.1f%%)\n", n, m, (m-1)*100}'
}
pair wall "${aw[@]}" "${tw[@]}"
pair cpu "${ac[@]}" "${tc[@]}"
echo "  target: under +5%"
