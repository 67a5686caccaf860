#!/bin/sh
# mmdebstrap --customize-hook for the VM test's base image: $1 is the root filesystem.
# Part of the image cache key (image.sh hashes this file): edit it and the image is rebuilt.
set -eu
root="$1"

# Root on the first virtio disk; the kernel mounts it rw (see run.sh's -append).
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"

# cloud-init: only the NoCloud seed disk, never a network metadata service (there is
# no network card), and only an ed25519 host key if sshd is ever added (RSA key
# generation takes up to 24 s under emulation).
cat > "$root/etc/cloud/cloud.cfg.d/90-tend-vm.cfg" <<'CFG'
datasource_list: [NoCloud, None]
ssh_genkeytypes: [ed25519]
CFG

# The VM has no network: no remote apt sources (apt-get update would wait on DNS);
# the test's packages come from an apt repository on an attached disk.
rm -f "$root/etc/apt/sources.list"
mkdir -p "$root/etc/apt/sources.list.d"

# Nothing else may hold the dpkg lock or load the CPU while the agent runs apt.
for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$t"
done

# A login on the serial console without a password, for debugging a failed run
# (TEND_VM_KEEP=1 keeps the images; boot them by hand with the printed command).
chroot "$root" passwd -d root >/dev/null
