#!/usr/bin/env bash
# tend vs ansible-playbook -c local on a generated 100-task playbook
# (file/copy/template/lineinfile): first run on a fresh root, then a no-op
# rerun on the same root. Prints wall time, peak RSS and ratios. No assertions.
#
# Env: TEND_BIN (default bin/tend), TASKS (100), TEND_RUNS (5: best of N for tend),
#      ANSIBLE_RUNS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
tend=${TEND_BIN:-bin/tend}
tasks=${TASKS:-100}
tend_runs=${TEND_RUNS:-5}
ansible_runs=${ANSIBLE_RUNS:-1}

[ -x "$tend" ] || { echo "bench: $tend not built (make build)" >&2; exit 1; }
have_ansible=1
command -v ansible-playbook >/dev/null || { have_ansible=; echo "bench: ansible-playbook missing; measuring tend only" >&2; }
timev=
[ -x /usr/bin/time ] && timev=/usr/bin/time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pb=$(bench/gen-playbook.sh "$work/pb" "$tasks")
inv="$work/pb/inventory.ini"
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_DEPRECATION_WARNINGS=0

# measure TOOL ROOT -> prints "seconds rss_kib"
measure() {
	local tool=$1 root=$2 cmd
	if [ "$tool" = ansible ]; then
		cmd=(ansible-playbook -c local -i "$inv" -e "root=$root" "$pb")
	else
		cmd=("$tend" playbook -c local -i "$inv" -e "root=$root" "$pb")
	fi
	local t0 t1 rss=-
	t0=$(date +%s%N)
	if [ -n "$timev" ]; then
		"$timev" -f %M -o "$work/rss" "${cmd[@]}" >"$work/log" 2>&1 || { echo "bench: $tool failed:" >&2; tail -20 "$work/log" >&2; exit 1; }
		rss=$(tail -1 "$work/rss")
	else
		"${cmd[@]}" >"$work/log" 2>&1 || { echo "bench: $tool failed:" >&2; tail -20 "$work/log" >&2; exit 1; }
	fi
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000000 )) $rss"
}

# bench TOOL RUNS -> sets first_ms noop_ms first_rss noop_rss (best of RUNS)
bench() {
	local tool=$1 runs=$2 i root f n
	first_ms='' noop_ms='' first_rss=0 noop_rss=0
	for ((i = 0; i < runs; i++)); do
		root="$work/root-$tool-$i"
		mkdir -p "$root"
		read -r f rf < <(measure "$tool" "$root")
		read -r n rn < <(measure "$tool" "$root")
		if [ -z "$first_ms" ] || [ "$f" -lt "$first_ms" ]; then first_ms=$f; fi
		if [ -z "$noop_ms" ] || [ "$n" -lt "$noop_ms" ]; then noop_ms=$n; fi
		# if, not &&: a false test as the loop's last command would make
		# bench return 1, and set -e end the script without a word
		if [ "$rf" != - ] && [ "$rf" -gt "$first_rss" ]; then first_rss=$rf; fi
		if [ "$rn" != - ] && [ "$rn" -gt "$noop_rss" ]; then noop_rss=$rn; fi
	done
}

bench tend "$tend_runs"
t_first=$first_ms t_noop=$noop_ms t_first_rss=$first_rss t_noop_rss=$noop_rss
if [ -n "$have_ansible" ]; then
	bench ansible "$ansible_runs"
	a_first=$first_ms a_noop=$noop_ms a_first_rss=$first_rss a_noop_rss=$noop_rss
fi

mib() { awk -v k="$1" 'BEGIN { if (k > 0) printf "%.1f", k / 1024; else printf "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else printf "-" }'; }

echo
echo "$tasks-task playbook (file/copy/template/lineinfile), connection local, $(nproc) CPUs"
echo "tend: best of $tend_runs; ansible-playbook: best of $ansible_runs; peak RSS via /usr/bin/time (largest process)"
echo
printf '%-10s %-12s %12s %14s\n' tool run wall_ms peak_rss_MiB
printf '%-10s %-12s %12s %14s\n' tend first "$t_first" "$(mib "$t_first_rss")"
printf '%-10s %-12s %12s %14s\n' tend no-op "$t_noop" "$(mib "$t_noop_rss")"
if [ -n "$have_ansible" ]; then
	printf '%-10s %-12s %12s %14s\n' ansible first "$a_first" "$(mib "$a_first_rss")"
	printf '%-10s %-12s %12s %14s\n' ansible no-op "$a_noop" "$(mib "$a_noop_rss")"
	echo
	echo "speed-up first run: $(ratio "$a_first" "$t_first")   no-op rerun: $(ratio "$a_noop" "$t_noop")"
fi
