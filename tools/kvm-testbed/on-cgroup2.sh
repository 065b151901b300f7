#!/bin/sh
# on-cgroup2.sh CMD [ARGS...]: run CMD (exec) only on a cgroup v2 host as libvz wants one:
# /sys/fs/cgroup is cgroup2 with memory, pids and cpu in the root's
# cgroup.subtree_control, and the kernel has overlayfs. Otherwise exit 1: a test meant to
# prove libvz on cgroup v2 must not pass, or skip, having run on something else.
#
# Written for the kvm-testbed guest (tools/kvm-testbed/init makes it such a host; its
# busybox stat has no name for cgroup2, hence the magic number), but plain sh anywhere.
fail() {
	echo "on-cgroup2: FAILED: $*"
	exit 1
}
# statfs magic: CGROUP2_SUPER_MAGIC 0x63677270
magic=$(stat -fc %t /sys/fs/cgroup 2>/dev/null)
ctl=$(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)
echo "on-cgroup2: /sys/fs/cgroup: file system 0x${magic:-?}$([ "$magic" = 63677270 ] &&
	echo ' (cgroup2fs)'); root cgroup.subtree_control: ${ctl:-(empty)}"
[ "$magic" = 63677270 ] || fail "/sys/fs/cgroup is not cgroup v2 (cgroup2fs)"
for c in memory pids cpu; do
	case " $ctl " in
	*" $c "*) ;;
	*) fail "controller $c is not enabled in /sys/fs/cgroup/cgroup.subtree_control" ;;
	esac
done
grep -qw overlay /proc/filesystems || fail "no overlay in /proc/filesystems (module not loaded?)"
[ $# -gt 0 ] || fail "no command given"
exec "$@"
