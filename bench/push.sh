#!/usr/bin/env bash
# Push mode: tend vs ansible-playbook over SSH to N real OpenSSH sshd targets
# on 127.0.0.1 ports (each its own host key), a generated TASKS-task playbook
# (bench/gen-playbook.sh: file/copy/template/lineinfile), both with -f FORKS;
# first run on fresh roots, then a no-op rerun. Prints wall and CPU time,
# ratios and the per-host cost. Not a test: no assertions.
#
# As root it logs in as a throwaway user "tendbench" (shell /bin/sh, removed
# at exit), so a login shell's rc files (pyenv in root's .bashrc costs ~0.5 s
# per SSH command here) do not distort the figures; otherwise as the current
# user. ansible-playbook runs with pipelining on and its default
# ControlPersist, its fastest usual setup.
#
# Env: TEND_BIN (default bin/tend), HOSTS (20), TASKS (50), FORKS (20).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
tend=${TEND_BIN:-bin/tend}
hosts=${HOSTS:-20}
tasks=${TASKS:-50}
forks=${FORKS:-20}
sshd=/usr/sbin/sshd

[ -x "$tend" ] || { echo "bench: $tend not built (make build)" >&2; exit 1; }
[ -x "$sshd" ] || { echo "bench: needs $sshd (apt-get install openssh-server)" >&2; exit 1; }
have_ansible=1
command -v ansible-playbook >/dev/null || { have_ansible=; echo "bench: ansible-playbook missing; measuring tend only" >&2; }

work=$(mktemp -d /tmp/tend-push-bench.XXXXXX)
chmod 755 "$work"
pids=()
login=$(id -un)
cleanup() {
	for p in "${pids[@]}"; do
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
		kill "$p" 2>/dev/null || true
	done
	if [ "$login" = tendbench ]; then userdel -r -f tendbench >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
	mkdir -p /run/sshd
	userdel -r -f tendbench >/dev/null 2>&1 || true
	useradd -m -s /bin/sh -p '*' tendbench
	login=tendbench
fi

ssh-keygen -q -t ed25519 -N '' -C client -f "$work/client"
cp "$work/client.pub" "$work/authorized_keys"
chmod 644 "$work/authorized_keys"
: >"$work/known_hosts"
for ((i = 1; i <= hosts; i++)); do
	d="$work/sshd$i"
	mkdir -p "$d"
	ssh-keygen -q -t ed25519 -N '' -C "host$i" -f "$d/host_key"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$d/sshd_config" <<C
Port $port
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile none
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $login
MaxSessions 50
MaxStartups 200
LogLevel ERROR
Subsystem sftp internal-sftp
C
	"$sshd" -D -e -f "$d/sshd_config" 2>>"$work/sshd.log" &
	pids+=($!)
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >>"$work/known_hosts"
	echo "$port" >"$d/port"
done
for ((i = 1; i <= hosts; i++)); do
	port=$(cat "$work/sshd$i/port")
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done

pb=$(bench/gen-playbook.sh "$work/pb" "$tasks")
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_PIPELINING=1 \
	ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp"
printf '[defaults]\n' >"$work/ansible.cfg"

# inventory TOOL -> writes $work/inv-TOOL.ini with a fresh root per host
inventory() {
	local tool=$1 i port root
	echo "[targets]" >"$work/inv-$tool.ini"
	for ((i = 1; i <= hosts; i++)); do
		port=$(cat "$work/sshd$i/port")
		root="$work/roots-$tool/h$i"
		mkdir -p "$root"
		echo "h$i ansible_host=127.0.0.1 ansible_port=$port ansible_user=$login ansible_ssh_private_key_file=$work/client root=$root ansible_ssh_common_args='-o UserKnownHostsFile=$work/known_hosts' ansible_python_interpreter=/usr/bin/python3" >>"$work/inv-$tool.ini"
	done
	chown -R "$login" "$work/roots-$tool"
}

# measure TOOL -> prints "wall_ms cpu_ms" (CPU of the tool's process tree on
# this side; the targets' sshd and commands share the same 2 cores)
measure() {
	local tool=$1 cmd t0 t1
	if [ "$tool" = ansible ]; then
		cmd=(ansible-playbook -f "$forks" -i "$work/inv-$tool.ini" "$pb")
	else
		cmd=("$tend" playbook -f "$forks" -i "$work/inv-$tool.ini" "$pb")
	fi
	t0=$(date +%s%N)
	/usr/bin/time -f '%U %S' -o "$work/cpu" "${cmd[@]}" >"$work/log-$tool" 2>&1 || {
		echo "bench: $tool failed:" >&2; tail -30 "$work/log-$tool" >&2; exit 1; }
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000000 )) $(awk '{printf "%d", ($1 + $2) * 1000}' "$work/cpu")"
}

declare -A R
for tool in tend ${have_ansible:+ansible}; do
	inventory "$tool"
	read -r R[$tool.first.wall] R[$tool.first.cpu] < <(measure "$tool")
	read -r R[$tool.noop.wall] R[$tool.noop.cpu] < <(measure "$tool")
	if ! grep -Eq "changed=0 +unreachable=0 +failed=0" "$work/log-$tool"; then
		echo "bench: the $tool rerun was not a clean no-op:" >&2; grep -A$((hosts + 2)) "PLAY RECAP" "$work/log-$tool" >&2 || true
	fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else printf "-" }'; }
per() { awk -v a="$1" -v n="$hosts" 'BEGIN { printf "%.0f", a / n }'; }

echo
echo "push over SSH: $hosts sshd targets on 127.0.0.1, $tasks-task playbook, -f $forks, $(nproc) CPUs, login $login"
echo "ansible-playbook with pipelining and ControlPersist; CPU = user+sys of the tool's own process tree"
echo
printf '%-8s %-6s %10s %10s %14s %14s\n' tool run wall_ms cpu_ms wall_ms/host cpu_ms/host
for tool in tend ${have_ansible:+ansible}; do
	for run in first noop; do
		printf '%-8s %-6s %10s %10s %14s %14s\n' "$tool" "$run" "${R[$tool.$run.wall]}" "${R[$tool.$run.cpu]}" \
			"$(per "${R[$tool.$run.wall]}")" "$(per "${R[$tool.$run.cpu]}")"
	done
done
if [ -n "$have_ansible" ]; then
	echo
	printf 'speed-up (ansible / tend): first run %s wall, %s CPU; no-op rerun %s wall, %s CPU\n' \
		"$(ratio "${R[ansible.first.wall]}" "${R[tend.first.wall]}")" "$(ratio "${R[ansible.first.cpu]}" "${R[tend.first.cpu]}")" \
		"$(ratio "${R[ansible.noop.wall]}" "${R[tend.noop.wall]}")" "$(ratio "${R[ansible.noop.cpu]}" "${R[tend.noop.cpu]}")"
fi
