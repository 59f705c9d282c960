#!/usr/bin/env bash
# Builds a small virtual machine for the tests that need a host to really stop: Debian's kernel
# (the linux-image-amd64 package's) and an initramfs of busybox-static with the modules it needs,
# into .tools/test-vm/ (override: HACKSTREAM_TEST_VM_DIR), and every module of that kernel beside
# them (modules/). The machine has no root file system of its own: its init (init.sh beside this
# script) mounts the host's, read-only over 9p, and a disk image of the test's as its only writable
# disk (or, for a whole platform, the host's files under a writable layer on that disk), runs the
# test's script in it, then shuts down as an orderly host does (every file system unmounted)
# unless the test cut its power first.
# Used by test/support/test-vm.ts. A second run with the same inputs does nothing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${HACKSTREAM_TEST_VM_DIR:-$REPO_ROOT/.tools/test-vm}"
# What init.sh loads (modprobe follows their dependencies): the PCI transport, the disk, ext4 and
# its checksums, loop devices for the profiles, 9p for the host's files.
MODULES=(virtio_pci virtio_blk crc32c_generic ext4 loop 9pnet_virtio 9p)

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in apt-cache apt-get dpkg-deb cpio gzip; do
  command -v "$tool" >/dev/null || die "$tool is needed (stack/lib.sh installs it)"
done
# The kernel the metapackage names today: linux-image-<abi>-amd64.
kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)"
[ -n "$kernel_pkg" ] || die "Debian's package index names no linux-image-amd64 kernel (apt-get update?)"
kernel_version="$(apt-cache policy "$kernel_pkg" | sed -n 's/^ *Candidate: //p')"
busybox_version="$(apt-cache policy busybox-static | sed -n 's/^ *Candidate: //p')"
stamp="$kernel_pkg=$kernel_version busybox-static=$busybox_version ${MODULES[*]} $(cat "${BASH_SOURCE[0]}" "$HERE/init.sh" | sha256sum | cut -c1-64)"
if [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.gz" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "test VM: up to date in $OUT"
  exit 0
fi

say "test VM: $kernel_pkg $kernel_version with busybox-static $busybox_version"
rm -f "$OUT/.stamp"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT" "$work/debs" "$work/kernel" "$work/busybox" "$work/root"
# apt-get download writes where it runs, as root here: its sandbox user could not write there.
download() { (cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg" busybox-static >/dev/null); }
if ! download; then
  # An index older than the archive names versions it no longer has: once more, with a new one.
  [ -z "${HS_TEST_VM_INDEX_UPDATED:-}" ] || die "cannot download $kernel_pkg and busybox-static from Debian's packages"
  say "test VM: downloading failed; updating the package index and trying again"
  apt-get update -q >/dev/null
  rm -rf "$work"
  HS_TEST_VM_INDEX_UPDATED=1 exec bash "${BASH_SOURCE[0]}"
fi
dpkg-deb -x "$work/debs/${kernel_pkg}_"*.deb "$work/kernel"
dpkg-deb -x "$work/debs/busybox-static_"*.deb "$work/busybox"
busybox="$work/busybox/bin/busybox"
abi="${kernel_pkg#linux-image-}"
modules="$work/kernel/lib/modules/$abi"
[ -d "$modules" ] || die "$kernel_pkg has no lib/modules/$abi"

# The modules asked for and everything they need, by the dependencies depmod finds.
"$busybox" depmod -b "$work/kernel" "$abi"
declare -A wanted=()
need() {
  local file
  file="$(grep -E "^([^:]*/)?$1\.ko(\.xz)?:" "$modules/modules.dep" | head -n1 | cut -d: -f1)"
  [ -n "$file" ] || die "no module $1 in $kernel_pkg"
  wanted[$file]=1
  for dep in $(grep -E "^$file:" "$modules/modules.dep" | cut -d: -f2-); do wanted[$dep]=1; done
}
for m in "${MODULES[@]}"; do need "$m"; done

root="$work/root"
mkdir -p "$root/bin" "$root/lib/modules/$abi"
cp "$busybox" "$root/bin/busybox"
cp "$HERE/init.sh" "$root/init"
chmod 755 "$root/init"
for file in "${!wanted[@]}"; do
  mkdir -p "$root/lib/modules/$abi/$(dirname "$file")"
  cp "$modules/$file" "$root/lib/modules/$abi/$file"
done
"$busybox" depmod -b "$root" "$abi"
printf '%s\n' "${MODULES[@]}" > "$root/modules"
(cd "$root" && find . -print0 | cpio --null --quiet -o -H newc) | gzip -9 > "$OUT/initramfs.gz.tmp"
cp "$work/kernel/boot/vmlinuz-$abi" "$OUT/vmlinuz.tmp"
# Every module, for a machine that runs a whole platform (init.sh, hs.root=overlay: the Docker
# engine's networks and storage): loaded from here, over 9p.
rm -rf "$OUT/modules"
mkdir -p "$OUT/modules"
cp -a "$modules" "$OUT/modules/$abi"
mv "$OUT/initramfs.gz.tmp" "$OUT/initramfs.gz"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
echo "$stamp" > "$OUT/.stamp"
say "test VM: built in $OUT (${#wanted[@]} modules)"
