#!/usr/bin/env bash
# Writes the benchmark playbook into DIR: 100 tasks, a file/copy/template/
# lineinfile mix (25 each), every path under {{ root }}.
# Usage: bench/gen-playbook.sh DIR [TASKS]
set -euo pipefail
dir=${1:?usage: gen-playbook.sh DIR [TASKS]}
tasks=${2:-100}
mkdir -p "$dir/templates" "$dir/files"
cat >"$dir/templates/service.conf.j2" <<'T'
# {{ ansible_managed }}
[service]
name = {{ svc_name }}
port = {{ svc_port }}
{% for opt in svc_options %}
option.{{ loop.index }} = {{ opt | upper }}
{% endfor %}
T
printf 'static payload for the benchmark\n' >"$dir/files/payload.txt"
printf 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' >"$dir/inventory.ini"
pb="$dir/bench.yml"
{
	echo "- name: bench ($tasks tasks)"
	echo "  hosts: all"
	echo "  gather_facts: false"
	echo "  vars:"
	echo "    svc_options: [alpha, beta, gamma]"
	echo "  tasks:"
	for ((i = 0; i < tasks; i++)); do
		case $((i % 4)) in
		0) cat <<T
    - name: file $i
      file: {path: "{{ root }}/d$i", state: directory, mode: "0755"}
T
			;;
		1) cat <<T
    - name: copy $i
      copy: {content: "content of file $i\n", dest: "{{ root }}/copy$i.txt", mode: "0644"}
T
			;;
		2) cat <<T
    - name: template $i
      template: {src: service.conf.j2, dest: "{{ root }}/svc$i.conf", mode: "0640"}
      vars: {svc_name: "svc$i", svc_port: $((8000 + i))}
T
			;;
		3) cat <<T
    - name: lineinfile $i
      lineinfile: {path: "{{ root }}/lines.conf", line: "key$i = value$i", regexp: "^key$i =", create: true}
T
			;;
		esac
	done
} >"$pb"
echo "$pb"
