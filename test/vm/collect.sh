#!/bin/bash
# Runs inside the VM (tend-vm-collect.service, from the data disk): waits for tend's
# first run, records what the host checks (run.sh) onto the results disk, then tries
# the bad-input cases, and returns so that the unit powers the VM off.
# Each record is out/NAME (output) and, for commands, out/NAME.rc (exit code).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /mnt/out
mount LABEL=TENDOUT /mnt/out || { echo "collect: cannot mount the results disk"; exit 1; }
out=/mnt/out/out
mkdir -p "$out"
cfg=/etc/tend/tend.yaml

# rec NAME CMD...: output and exit code of a command.
rec() {
    local name=$1; shift
    "$@" > "$out/$name" 2>&1
    echo $? > "$out/$name.rc"
}
# http PATH: GET from the agent's listener with bash's /dev/tcp (no curl in minbase).
http() {
    exec 3<>/dev/tcp/127.0.0.1/9273 || return 1
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3
    timeout 10 cat <&3
    exec 3<&-
}
log() { echo "collect: $(cut -d' ' -f1 /proc/uptime)s $*" | tee -a "$out/collect.log"; }

log "waiting for tend's first run"
first_run=false
sync_failures=0
for i in $(seq 1 200); do
    st=$(timeout 20 tend status --config "$cfg" -o json 2>/dev/null)
    if grep -q '"last_run"' <<<"$st" && [ -s /var/lib/tend/tend.prom ]; then
        first_run=true
        break
    fi
    # A failed first sync is retried only after source.interval (5m): record it now.
    if grep -q '"result": "failure"' <<<"$st"; then
        sync_failures=$((sync_failures + 1))
        [ "$sync_failures" -ge 5 ] && break
    fi
    if [ $((i % 15)) = 0 ]; then   # progress on the console, for a run that hangs
        log "still waiting; tend's journal:"
        journalctl -u tend.service --no-pager -n 5 -o cat | sed 's/^/collect:   /'
    fi
    sleep 2
done
sleep 2   # let the cycle finish writing
log "first run seen: $first_run"

rec uptime-first-run cut -d' ' -f1 /proc/uptime
rec tend-version tend version
rec dpkg-tend dpkg -s tend
rec status.json tend status --config "$cfg" -o json
rec status.txt tend status --config "$cfg"
cp /var/lib/tend/tend.prom "$out/tend.prom" 2>/dev/null
rec http-metrics http /metrics
rec http-healthz http /healthz
rec is-active-tend systemctl is-active tend.service
rec is-enabled-tend systemctl is-enabled tend.service
rec status-tend systemctl status --no-pager --full tend.service
cp "$cfg" "$out/tend.yaml"
rec files-stat stat -c '%a %U:%G %n' /etc/tend-vm /etc/tend-vm/hello.txt /etc/tend-vm/motd /etc/tend-vm/settings.conf
mkdir -p "$out/files" && cp /etc/tend-vm/* "$out/files/" 2>/dev/null
# system modules
rec id-tendvm id tendvm
rec dpkg-l-tend-test-pkg dpkg -l tend-test-pkg
rec test-pkg-file cat /usr/share/tend-test-pkg/hello.txt
rec is-active-hello systemctl is-active tend-vm-hello.service
rec is-enabled-hello systemctl is-enabled tend-vm-hello.service
rec hello-whoami cat /run/tend-vm-hello/whoami
# a second look: the host now matches its repo
rec plan tend plan --config "$cfg"
log "main results recorded"

# --- the wall clock jumps ------------------------------------------------------------
# Set a day ahead, then back a day (an operator's date -s, an NTP step, a resumed VM).
# After each, a managed file is edited: the agent notices the jump (log, audit,
# tend_clock_jumps_total) and its drift watcher still repairs the file at once.
# Between the two, wait for the repair's run to end (the run lock): a clock set back
# before the current time would make apt refuse the disk repository's Release file
# ("not valid yet") and fail that run, which is what apt should do, not what this
# test is about; and the clock must end where it started.
clock_jump() {   # NAME DATE-ARG
    local name=$1 i
    date -s "$2" > /dev/null
    echo "# edited by the VM test" >> /etc/tend-vm/motd
    for i in $(seq 1 40); do
        grep -q 'edited by the VM test' /etc/tend-vm/motd || break
        sleep 0.5
    done
    rec "clock-$name-motd" cat /etc/tend-vm/motd
    flock -w 120 /var/lib/tend/tend.lock true
    rec "clock-$name-metrics" http /metrics
}
clock_jump forward '+1 day'
clock_jump backward '-1 day'
rec clock-audit grep '"kind":"clock"' /var/lib/tend/audit.jsonl
rec clock-journal bash -c "journalctl -u tend.service --no-pager -o cat | grep 'clock jump'"
rec clock-healthz http /healthz
log "clock jumps done"

# --- bad input and package life cycle ------------------------------------------------
# tend init never replaces a config it did not write without --force.
cksum "$cfg" > "$out/cfg-cksum-before"
rec init-refuse tend init --repo file:///srv/other.git --config "$cfg"
# A missing key file stops the agent at start, naming the key, and the unit shows it.
rec init-missing-key tend init --repo ssh://git@git.invalid/h.git --ssh-key /etc/tend/no_such_key \
    --known-hosts /etc/hostname --config /run/tend-missing-key.yaml
cp "$cfg" /run/tend.yaml.good
cat > "$cfg" <<'CFG'
source:
  url: ssh://git@git.invalid/ops/hosts.git
  ssh_key: /etc/tend/no_such_key
  known_hosts: /etc/hostname
CFG
systemctl restart tend.service
# Wait for the failed start (the unit then sits in auto-restart for RestartSec=5s).
for i in $(seq 1 30); do
    [ "$(systemctl show -p NRestarts --value tend.service)" -ge 1 ] 2>/dev/null && break
    systemctl is-failed --quiet tend.service && break
    journalctl -u tend.service -n 3 -o cat --no-pager | grep -q 'no_such_key' && break
    sleep 1
done
rec status-tend-badcfg systemctl status --no-pager --full -n 20 tend.service
rec journal-tend-badcfg journalctl -u tend.service --no-pager -n 20 -o cat
rec show-tend-badcfg systemctl show -p ActiveState -p SubState -p NRestarts -p InvocationID \
    -p InactiveExitTimestampMonotonic -p ExecMainStatus tend.service
rec journal-tend-badcfg-verbose journalctl -u tend.service --no-pager -n 4 -o verbose
cp /run/tend.yaml.good "$cfg"
systemctl restart tend.service
# Installing the same package again keeps the config and the state.
rec reinstall env DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall \
    -o Dpkg::Options::=--force-confold /mnt/tend/tend.deb
cksum "$cfg" > "$out/cfg-cksum-after"
rec state-after-reinstall tend status --config "$cfg" -o json
sleep 3
rec is-active-tend-after-reinstall systemctl is-active tend.service
log "bad-input checks done"

# --- diagnostics -------------------------------------------------------------------
rec journal-tend journalctl -u tend.service --no-pager -o short-monotonic
rec cloud-init-status cloud-init status --long
cp /var/log/cloud-init-output.log "$out/" 2>/dev/null
rec systemctl-failed systemctl --failed --no-pager
rec analyze systemd-analyze
rec tend-start-timestamps systemctl show -p ActiveEnterTimestampMonotonic -p InactiveExitTimestampMonotonic tend.service network-online.target cloud-final.service
log "done"
sync
umount /mnt/out
exit 0
