#!/usr/bin/env bash
# The agent's own costs (issue 3): one poll with no new commit, idle RSS and
# CPU with a 1 s poll interval, and the time from a signed webhook to the
# change on disk. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
tend=$(realpath "${TEND_BIN:-bin/tend}")
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== one poll with no new commit (go test -bench PollNoNewCommit ./internal/source)"
go test -run '^$' -bench 'PollNoNewCommit' -benchtime 2s ./internal/source | grep -E 'Benchmark|ok'

git init -q -b main "$work/repo"
pb() { printf -- '- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: %s/out.txt, content: "%s\\n"}\n' "$work" "$1" > "$work/repo/local.yml"; }
commit() { git -C "$work/repo" add -A && git -C "$work/repo" -c user.name=b -c user.email=b@x commit -qm "$1"; }
pb v1; commit v1
echo secret > "$work/secret"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/tend.yaml" <<YAML
source: {url: $work/repo, ref: main, interval: 1s, splay: 0s}
playbook: local.yml
host: localhost
backend: native
drift: {interval: 1h, watch: true}
listen: 127.0.0.1:$port
webhook_secret_file: $work/secret
state_dir: $work/state
YAML
"$tend" agent --config "$work/tend.yaml" 2>"$work/agent.log" &
pid=$!
for _ in $(seq 100); do [ "$(cat "$work/out.txt" 2>/dev/null)" = v1 ] && break; sleep 0.1; done
sleep 3
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
t0=$(ticks); sleep 10; t1=$(ticks)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
echo "== agent idle (1 s poll interval, file watch on)"
echo "RSS: $((rss / 1024)) MiB"
awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN{printf "CPU: %.2f%% of one core (%d ms over 10 s, 10 polls)\n", (b-a)*100/hz/10, (b-a)*1000/hz}'

echo "== webhook to applied change (poll interval raised to 1h by SIGHUP, so only the webhook syncs)"
sed -i 's/interval: 1s/interval: 1h/' "$work/tend.yaml"
kill -HUP "$pid"; sleep 2.5
for i in 1 2 3 4 5; do
	pb "v2-$i"; commit "v2-$i"
	body='{"ref":"refs/heads/main"}'
	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac secret | awk '{print $2}')
	s=$(date +%s%N)
	curl -fsS -o /dev/null -X POST -H "X-Hub-Signature-256: sha256=$sig" --data "$body" "http://127.0.0.1:$port/hooks/sync"
	while [ "$(cat "$work/out.txt")" != "v2-$i" ]; do sleep 0.005; done
	e=$(date +%s%N)
	echo "run $i: $(( (e - s) / 1000000 )) ms"
done
