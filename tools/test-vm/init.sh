#!/bin/busybox sh
# PID 1 of the tests' virtual machine (build.sh). Its kernel command line names a folder of the
# host's (hs.dir=): the test's, holding run.sh and an empty disk/ where the machine's disk is
# mounted. The host's files are read-only here; the disk is the only thing the machine writes.
# run.sh runs in the host's files (chroot), its output on the console; when it ends, the machine
# shuts down as an orderly host does: its processes stopped, every file system unmounted, the
# disk's writes flushed. A test that wants a loss of power kills the machine before that.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "hs-vm: $*" > /dev/console; }
fail() { say "$*"; poweroff -f; }

modprobe -a $(cat /modules) || fail "cannot load $(cat /modules)"
dir=
for arg in $(cat /proc/cmdline); do
  case "$arg" in hs.dir=*) dir="${arg#hs.dir=}" ;; esac
done
[ -n "$dir" ] || fail "no hs.dir= on the kernel command line"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host /host || fail "cannot mount the host's files"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mount -t tmpfs tmpfs /host/run
mount -t ext4 /dev/vda "/host$dir/disk" || fail "cannot mount the disk"
say "booted"

chroot /host /bin/sh "$dir/run.sh" > /dev/console 2>&1
say "run.sh exited with $?"

kill -TERM -1 2>/dev/null
sleep 1
kill -KILL -1 2>/dev/null
# Innermost first: the profiles' loop mounts before the disk that holds their images.
for point in $(awk '$2 ~ "^/host/" { print $2 }' /proc/mounts | sed '1!G;h;$!d'); do
  umount "$point" || say "cannot unmount $point"
done
sync
say "powering off"
poweroff -f
