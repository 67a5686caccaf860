#!/usr/bin/env bash
# Drift check over FILES managed files (default 10,000): tend's fast check
# (stat every file, hash what changed; and the periodic full hash), tend's
# check-mode run of the playbook, and `ansible-playbook --check` on the same
# playbook. Prints times and ratios. No assertions.
#
# ansible-playbook costs ~0.3 s per loop item, so it runs on the first
# ANSIBLE_FILES files only (default 50) and on none, and its time is scaled
# to FILES as start-up + per-file cost x FILES — printed as "scaled". Everything runs on the same files, made by
# the playbook itself first.
#
# Env: TEND_BIN (default bin/tend), FILES (10000), ANSIBLE_FILES (50).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
tend=${TEND_BIN:-bin/tend}
files=${FILES:-10000}
afiles=${ANSIBLE_FILES:-50}
[ -x "$tend" ] || { echo "drift bench: $tend not built (make build)" >&2; exit 1; }
have_ansible=1
command -v ansible-playbook >/dev/null || { have_ansible=; echo "drift bench: ansible-playbook missing; measuring tend only" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_DEPRECATION_WARNINGS=0
mkdir -p "$work/managed"
cat >"$work/pb.yml" <<EOF
- hosts: all
  gather_facts: false
  tasks:
    - name: managed files
      copy:
        dest: "{{ base }}/f{{ item }}.conf"
        content: "key = {{ item }}\n# managed by tend\n"
        mode: "0644"
      loop: "{{ range(n | int) | list }}"
EOF
inv="localhost ansible_connection=local"
echo "$inv" >"$work/hosts"

# timed LOG CMD... runs CMD, output to LOG; sets wall_ms and cpu_ms (user+sys,
# which a loaded machine inflates less than wall time)
timed() {
	local log=$1 TIMEFORMAT='%R %U %S' r u s
	shift
	{ time "$@" >"$log" 2>&1; } 2>"$work/time" || { echo "drift bench: $* failed:" >&2; tail -20 "$log" >&2; exit 1; }
	read -r r u s <"$work/time"
	wall_ms=$(awk -v r="$r" 'BEGIN { printf "%d", r * 1000 }')
	cpu_ms=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')
}

echo "drift bench: $files managed files in $work/managed"
timed "$work/apply.log" "$tend" playbook -c local -i "$work/hosts" -e "base=$work/managed" -e "n=$files" "$work/pb.yml"

# tend's fast check, warm (the Go benchmark indexes the same files)
out=$(DRIFT_BENCH_DIR="$work/managed" go test -run '^$' -bench '^BenchmarkCheckDir$' -benchtime 20x ./internal/drift/)
stat_ms=$(awk '/BenchmarkCheckDir\/stat/ {for (i = 1; i <= NF; i++) if ($(i+1) == "ms/check") print $i}' <<<"$out")
full_ms=$(awk '/BenchmarkCheckDir\/fullhash/ {for (i = 1; i <= NF; i++) if ($(i+1) == "ms/check") print $i}' <<<"$out")
[ -n "$stat_ms" ] && [ -n "$full_ms" ] || { echo "drift bench: benchmark output not understood:" >&2; echo "$out" >&2; exit 1; }

# tend's check-mode run of the whole playbook (the drift.interval check)
timed "$work/check.log" "$tend" playbook -C -c local -i "$work/hosts" -e "base=$work/managed" -e "n=$files" "$work/pb.yml"
tc_wall=$wall_ms tc_cpu=$cpu_ms

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
printf '\n%-44s %12s %12s\n' "check over $files files" "wall" "cpu"
printf '%-44s %9.1f ms %12s\n' "tend fast check (stat, hash what changed)" "$stat_ms" "-"
printf '%-44s %9.1f ms %12s\n' "tend fast check, periodic full hash" "$full_ms" "-"
printf '%-44s %9d ms %9d ms\n' "tend playbook --check" "$tc_wall" "$tc_cpu"

if [ -n "$have_ansible" ]; then
	# start-up (no files), then ANSIBLE_FILES files: scaled = start-up + per-file cost x FILES
	timed "$work/ansible0.log" ansible-playbook --check -i "$work/hosts" -e "base=$work/managed" -e "n=0" "$work/pb.yml"
	w0=$wall_ms c0=$cpu_ms
	timed "$work/ansible.log" ansible-playbook --check -i "$work/hosts" -e "base=$work/managed" -e "n=$afiles" "$work/pb.yml"
	grep -q "changed=0" "$work/ansible.log" || echo "drift bench: warning: ansible --check reported changes" >&2
	a_wall=$(( w0 + (wall_ms - w0) * files / afiles )) a_cpu=$(( c0 + (cpu_ms - c0) * files / afiles ))
	printf '%-44s %9d ms %9d ms  (measured: %d files %d ms, none %d ms)\n' "ansible-playbook --check (scaled)" "$a_wall" "$a_cpu" "$afiles" "$wall_ms" "$w0"
	echo
	awk -v a="$a_wall" -v s="$stat_ms" -v f="$full_ms" -v c="$tc_wall" 'BEGIN {
		printf "ratio ansible --check / tend fast check:        %10.0fx\n", a / s
		printf "ratio ansible --check / tend fast full hash:    %10.0fx\n", a / f
		printf "ratio ansible --check / tend playbook --check:  %10.1fx\n", a / c
	}'
fi
