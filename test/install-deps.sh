#!/usr/bin/env bash
# Installs, on Debian, the real components tend's tests run against:
# ansible-core (the reference), sshd, git, promtool, lintian, rpm, cloud-init,
# gnupg, GNU time (bench). Installs only what is missing, non-interactively,
# and only as root; otherwise it says what is missing and the tests that need
# it skip.
set -euo pipefail

want=(ansible-core ansible openssh-server openssh-client git prometheus lintian rpm rpmlint python3-magic shellcheck systemd cloud-init gnupg python3 time ca-certificates sudo apt-utils dpkg-dev cron dnf createrepo-c xz-utils passwd init-system-helpers e2fsprogs qemu-system-x86 qemu-utils mmdebstrap cloud-image-utils dosfstools mtools)

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all test dependencies present"
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	echo "install-deps: not Debian; install yourself: ${missing[*]} (tests needing them skip)" >&2
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; missing: ${missing[*]} (tests needing them skip)" >&2
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Don't let package scripts start services (sshd, prometheus) on this machine.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
