#!/bin/bash
# Build (or reuse) the VM test's Debian 12 base image: a qcow2 root filesystem plus the
# kernel and initrd to boot it directly. Prints the three paths, one per line.
#
#   test/vm/image.sh CACHE_DIR
#
# The image is cached in CACHE_DIR under a key: a hash of the package list, the mirror,
# customize.sh and the month, so it is rebuilt when any of them changes and at least
# once a month (security updates). TEND_VM_REBUILD=1 forces a rebuild.
# Needs root (mmdebstrap's root mode, and mkfs.ext4 -d keeping file owners), mmdebstrap,
# e2fsprogs and qemu-utils. No loop devices, no mounts.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: image.sh CACHE_DIR}
mirror=${TEND_VM_MIRROR:-http://deb.debian.org/debian}
security=${TEND_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# systemd as PID 1, cloud-init (python3-cffi-backend: debootstrap-style resolvers
# cannot pick the virtual package its crypto needs), a kernel that boots on virtio.
packages=systemd-sysv,udev,dbus,cloud-init,python3-cffi-backend,linux-image-cloud-amd64,initramfs-tools
key=$( {
    echo "$packages" "$mirror" "$security" "$(date -u +%Y-%m)"
    cat "$here/customize.sh"
} | sha256sum | cut -c1-16)

base=$cache/base-$key.qcow2
kernel=$cache/vmlinuz-$key
initrd=$cache/initrd-$key

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ "${TEND_VM_REBUILD:-}" = 1 ]; then
    rm -f "$base" "$kernel" "$initrd"
fi
if [ -f "$base" ] && [ -f "$kernel" ] && [ -f "$initrd" ]; then
    echo "image: cached $base" >&2
    printf '%s\n' "$base" "$kernel" "$initrd"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "image.sh: building the base image needs root (mmdebstrap, mkfs.ext4 -d with root-owned files); run once as root or point TEND_VM_CACHE at a cache built by root" >&2
    exit 1
fi

echo "image: building $base (Debian 12, $packages)" >&2
tmp=$(mktemp -d "$cache/build.XXXXXX")
chmod 0755 "$tmp"   # apt downloads as _apt
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
mmdebstrap --variant=minbase --include="$packages" \
    --customize-hook="sh '$here/customize.sh' \"\$1\"" \
    bookworm "$rootfs" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" >&2

cp "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -n1)" "$tmp/vmlinuz"
cp "$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -n1)" "$tmp/initrd"
mkfs.ext4 -q -L tendroot -d "$rootfs" "$tmp/root.img" 2G >&2
qemu-img convert -O qcow2 "$tmp/root.img" "$tmp/base.qcow2"

# Old images are of no further use.
rm -f "$cache"/base-*.qcow2 "$cache"/vmlinuz-* "$cache"/initrd-*
mv "$tmp/vmlinuz" "$kernel"
mv "$tmp/initrd" "$initrd"
mv "$tmp/base.qcow2" "$base"
echo "image: $(du -h "$base" | cut -f1) $base" >&2
printf '%s\n' "$base" "$kernel" "$initrd"
