#!/bin/busybox sh
# PID 1 of the tests' virtual machine (build.sh). Its kernel command line names a folder of the
# host's (hs.dir=): the test's, holding run.sh and an empty disk/ where the machine's disk is
# mounted. run.sh runs as root, its output on the console; when it ends, the machine shuts down
# as an orderly host does: its processes stopped, its file systems unmounted (or, the root,
# made read-only), the disk's writes flushed. A test that wants a loss of power kills the machine
# before that.
#
# Two kinds of root (hs.root=):
#  - files (the default): the host's files, read-only over 9p; the disk is the only thing the
#    machine writes. run.sh runs in a chroot of them.
#  - overlay: a host of its own, for a whole platform: the host's files under a writable layer
#    kept on the disk (what the machine writes lasts from boot to boot, and the host's files stay
#    as they were), with every module of the kernel (hs.modules=: the folder build.sh keeps them
#    in). The machine switches its root to it (a chroot would forbid user namespaces, which the
#    Docker engine's remapping needs), and this script carries on there as PID 1 (stage2).
if [ "$1" = stage2 ]; then
  PATH=/run/vm/bin:$PATH
else
  /bin/busybox --install -s /bin
  mkdir -p /proc /sys /dev /host
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
fi
say() { echo "hs-vm: $*" > /dev/console; }
fail() { say "$*"; poweroff -f; }
dir= root=files modules=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    hs.dir=*) dir="${arg#hs.dir=}" ;;
    hs.root=*) root="${arg#hs.root=}" ;;
    hs.modules=*) modules="${arg#hs.modules=}" ;;
  esac
done
[ -n "$dir" ] || fail "no hs.dir= on the kernel command line"

# The kernel's file systems, and an empty /run, in the root at $1 (either kind).
mount_system_dirs() {
  mount -t proc proc "$1/proc"
  mount -t sysfs sysfs "$1/sys"
  mount -t devtmpfs devtmpfs "$1/dev"
  mount -t tmpfs tmpfs "$1/run"
}
# Innermost first (the profiles' loop mounts before the disk that holds their images), the mount
# points that match $1 and not $2.
unmount_all() {
  for point in $(awk -v under="$1" -v kept="${2:-^$}" '$2 ~ under && $2 !~ kept { print $2 }' /proc/mounts | sed '1!G;h;$!d'); do
    umount "$point" || say "cannot unmount $point"
  done
}
# Runs the test's script (the command given) with its output on the console, then stops every
# process it left, as a shutdown does.
run_test_script() {
  say "booted"
  "$@" > /dev/console 2>&1
  say "run.sh exited with $?"
  kill -TERM -1 2>/dev/null
  sleep 1
  kill -KILL -1 2>/dev/null
}
power_off() {
  sync
  say "powering off"
  poweroff -f
}

if [ "$1" = stage2 ]; then
  cd /
  run_test_script env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash "$dir/run.sh"
  # Everything but the root, the kernel's own file systems, and /run: what the root is made of,
  # and this shell's busybox.
  unmount_all '^/.' '^/(proc|sys|dev|run)(/|$)'
  mount -o remount,ro / || say "cannot make the root read-only"
  mount -o remount,ro /run/vm/disk || say "cannot make the disk read-only"
  power_off
fi

modprobe -a $(cat /modules) || fail "cannot load $(cat /modules)"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host /host || fail "cannot mount the host's files"

if [ "$root" = overlay ]; then
  abi="$(uname -r)"
  [ -d "/host$modules/$abi" ] || fail "no modules of $abi in $modules (hs.modules=)"
  mount --bind "/host$modules/$abi" "/lib/modules/$abi"
  # What the Docker engine asks the kernel for, loaded now rather than on demand.
  modprobe -a overlay bridge veth br_netfilter nf_tables nft_compat nft_chain_nat xt_MASQUERADE \
    xt_conntrack xt_addrtype iptable_nat iptable_filter ip6table_nat ip6table_filter || fail "cannot load the engine's modules"
  mkdir -p /disk /newroot
  mount -t ext4 /dev/vda /disk || fail "cannot mount the disk"
  mkdir -p /disk/upper /disk/work
  mount -t overlay overlay -o lowerdir=/host,upperdir=/disk/upper,workdir=/disk/work /newroot || fail "cannot mount the root"
  mount_system_dirs /newroot
  mkdir -p /newroot/dev/pts /newroot/dev/shm
  mount -t devpts devpts /newroot/dev/pts
  mount -t tmpfs tmpfs /newroot/dev/shm
  mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
  ln -sf /proc/self/fd /newroot/dev/fd
  mkdir -p /newroot/run/vm/bin /newroot/run/vm/disk /newroot/run/vm/host "/newroot/lib/modules/$abi"
  cp /bin/busybox /newroot/run/vm/busybox
  cp /init /newroot/run/vm/init
  for applet in sh awk sed kill sleep umount mount sync poweroff modprobe; do ln -s ../busybox "/newroot/run/vm/bin/$applet"; done
  mount --bind "/host$modules/$abi" "/newroot/lib/modules/$abi"
  mount --move /disk /newroot/run/vm/disk
  mount --move /host /newroot/run/vm/host
  # Modules the kernel wants later, by the new root's busybox.
  echo /run/vm/bin/modprobe > /proc/sys/kernel/modprobe
  umount "/lib/modules/$abi"
  exec switch_root /newroot /run/vm/busybox sh /run/vm/init stage2
fi

mount_system_dirs /host
mount -t ext4 /dev/vda "/host$dir/disk" || fail "cannot mount the disk"
run_test_script chroot /host /bin/sh "$dir/run.sh"
unmount_all '^/host/'
power_off
