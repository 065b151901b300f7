/* SPDX-License-Identifier: MIT */
/* Child side: the root file system. The rootfs directory is an image that is never
 * written: an overlay with a tmpfs upper layer (or the caller's persistent upper dir,
 * or a read-only bind) is assembled on top of the rootfs path inside the new mount
 * namespace, filled with /proc, /dev, /sys, /tmp and the bind mounts, and pivoted into.
 *
 * Every path inside the new root (mount points libvz makes, bind targets) is resolved
 * inside it, as the sandbox will see it: openat2(RESOLVE_IN_ROOT) from a descriptor of
 * the new root, so an absolute symlink or ".." in the rootfs (or planted by an earlier
 * run in a persistent upper layer) can never make libvz create or mount anything on the
 * host [runc securejoin, CVE-2021-30465]. Mounts then go onto the resolved descriptor
 * ("/proc/self/fd/N"), never onto a path that is walked a second time. */
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/syscalls.h"
#include "common/util.h"
#include "container/plan.h"

#define NOSUID_NODEV (MS_NOSUID | MS_NODEV)

/* Set @attr on the mount whose root @fd is (AT_RECURSIVE: and the mounts below). */
static int set_attr_fd(int fd, uint64_t attr, bool recursive)
{
	struct mount_attr ma = { .attr_set = attr };
	char p[VZ_FD_PATH];
	unsigned long fl = MS_REMOUNT | MS_BIND;

	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
		    &ma, sizeof(ma)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	/* Before Linux 5.12: a remount, which also resets the flags not named here. */
	fl |= (attr & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0) | (attr & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
	      (attr & MOUNT_ATTR_NODEV ? MS_NODEV : 0);
	return mount(NULL, vz_fd_path(p, fd), NULL, fl, NULL);
}

/* Mount @fstype on @dir of the new root, created there if missing. */
static int mount_at(const struct vz_child_chan *ch, int rootfd, const char *dir,
		    const char *fstype, unsigned long flags, const char *opts)
{
	char p[VZ_FD_PATH];
	vz_autoclose int fd = vz_mount_point(rootfd, dir, true);

	if (fd < 0)
		return vz_ctr_fail(ch, "create mount point ", dir);
	if (mount(fstype, vz_fd_path(p, fd), fstype, flags, opts) < 0)
		return vz_ctr_fail(ch, "mount ", dir);
	return 0;
}

/* Bind @src (a host path: the caller's to choose) on @dst inside the new root. Binds are
 * nodev and nosuid: the sandbox must not gain a device or a set-uid file through one. */
static int bind_at(const struct vz_child_chan *ch, const char *src, int rootfd, const char *dst,
		   bool ro, bool optional)
{
	char p[VZ_FD_PATH];
	struct stat st;
	int fd;

	if (stat(src, &st) < 0)
		return optional ? 0 : vz_ctr_fail(ch, "bind source ", src);
	fd = vz_mount_point(rootfd, dst, S_ISDIR(st.st_mode));
	if (fd < 0)
		return vz_ctr_fail(ch, "create bind mount point ", dst);
	if (mount(src, vz_fd_path(p, fd), NULL, MS_BIND | MS_REC, NULL) < 0) {
		close(fd);
		return vz_ctr_fail(ch, "bind mount on ", dst);
	}
	close(fd);
	/* The descriptor is the covered mount point: reopen to reach the new mount. */
	fd = vz_open_in(rootfd, dst, 0);
	if (fd < 0 || set_attr_fd(fd, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID |
					      (ro ? MOUNT_ATTR_RDONLY : 0), true) < 0) {
		if (fd >= 0)
			close(fd);
		return vz_ctr_fail(ch, ro ? "make read-only: " : "make nodev: ", dst);
	}
	close(fd);
	return 0;
}

/* The parent's rootfs fd belongs to the host's mount namespace, which overlayfs and
 * bind mounts refuse as a source; reopen it here, in the new namespace, at the same fd
 * number, so the paths planned by the parent ("/proc/self/fd/N") stay right. */
static int reopen_rootfs(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	int fd = open(plan->cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return vz_ctr_fail(ch, "open rootfs ", plan->cfg->rootfs);
	if (dup3(fd, plan->rootfd, O_CLOEXEC) < 0) {
		close(fd);
		return vz_ctr_fail(ch, "reopen rootfs ", plan->cfg->rootfs);
	}
	close(fd);
	return 0;
}

/* The overlay's options, every layer named by a descriptor ("/proc/self/fd/N"), so a
 * rootfs or upper path may hold ',' or ':', which the option syntax reserves. */
static int overlay_opts(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch,
			const char *base, char *opts, size_t len)
{
	static const char *const sub[] = { "/upper", "/work" };
	static const char *const key[] = { ",upperdir=", ",workdir=" };
	char path[VZ_CTR_PATH_MAX], p[VZ_FD_PATH];

	opts[0] = '\0';
	vz_strlcat(opts, "lowerdir=", len);
	vz_strlcat(opts, plan->rootfd_path, len);
	for (size_t i = 0; i < VZ_ARRAY_SIZE(sub); i++) {
		/* Left open for the mount; init's close_others() closes them. */
		int fd = open(vz_ctr_path(path, base, sub[i]), O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return vz_ctr_fail(ch, "open overlay layer ", path);
		vz_strlcat(opts, key[i], len);
		vz_strlcat(opts, vz_fd_path(p, fd), len);
	}
	/* In a user namespace overlayfs must keep its metadata in user.* xattrs
	 * (trusted.* needs real root). */
	if (plan->userns)
		vz_strlcat(opts, ",userxattr", len);
	return 0;
}

/* The writable layer: returns the new root's path in @newroot. */
static int mount_root(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch,
		      char *newroot)
{
	const char *rootfs = plan->cfg->rootfs;
	char path[VZ_CTR_PATH_MAX], opts[256];
	int fd;

	vz_ctr_path(newroot, rootfs, "");
	if (reopen_rootfs(plan, ch))
		return -1;
	if (plan->cfg->rootfs_mode == VZ_ROOTFS_READONLY) {
		if (mount(plan->rootfd_path, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			return vz_ctr_fail(ch, "bind rootfs ", rootfs);
		/* Read-only before anything is mounted into it, so that a missing mount
		 * point is an error instead of a write into the image. */
		fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || set_attr_fd(fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV |
						      MOUNT_ATTR_NOSUID, false) < 0) {
			if (fd >= 0)
				close(fd);
			return vz_ctr_fail(ch, "make the root read-only: ", rootfs);
		}
		close(fd);
		return 0;
	}
	/* Scratch tmpfs over the rootfs path (only in this namespace); the overlay's lower
	 * layer is the rootfs directory itself, reached through the fd. */
	if (mount("tmpfs", rootfs, "tmpfs", NOSUID_NODEV, "mode=0755") < 0)
		return vz_ctr_fail(ch, "mount scratch tmpfs on ", rootfs);
	if (!plan->upper_base[0] &&
	    (mkdir(vz_ctr_path(path, rootfs, "/upper"), 0755) < 0 ||
	     mkdir(vz_ctr_path(path, rootfs, "/work"), 0700) < 0))
		return vz_ctr_fail(ch, "create overlay upper dir in ", rootfs);
	if (overlay_opts(plan, ch, plan->upper_base[0] ? plan->upper_base : rootfs, opts,
			 sizeof(opts)))
		return -1;
	vz_ctr_path(newroot, rootfs, "/root");
	if (mkdir(newroot, 0755) < 0)
		return vz_ctr_fail(ch, "create overlay mount point ", newroot);
	/* nodev: a device node in the image or the upper layer opens nothing; nosuid
	 * repeats what no_new_privs already gives the workload. */
	if (mount("overlay", newroot, "overlay", NOSUID_NODEV, opts) < 0)
		return vz_ctr_fail(ch, "mount overlay: ", opts);
	return 0;
}

/* Without a user namespace the sandbox's root is the host's root as far as procfs
 * checks go: keep global knobs out of its reach [Docker's masked and read-only paths]. */
static int mask_proc(const struct vz_child_chan *ch, int rootfd)
{
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
					  "/proc/bus" };
	static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list" };
	char p[VZ_FD_PATH];

	for (size_t i = 0; i < VZ_ARRAY_SIZE(ro); i++) {
		int fd = vz_open_in(rootfd, ro[i], 0);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return vz_ctr_fail(ch, "open ", ro[i]);
		}
		vz_fd_path(p, fd);
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			close(fd);
			return vz_ctr_fail(ch, "bind ", ro[i]);
		}
		close(fd);
		fd = vz_open_in(rootfd, ro[i], 0);
		if (fd < 0 || set_attr_fd(fd, MOUNT_ATTR_RDONLY, true) < 0) {
			if (fd >= 0)
				close(fd);
			return vz_ctr_fail(ch, "make read-only: ", ro[i]);
		}
		close(fd);
	}
	for (size_t i = 0; i < VZ_ARRAY_SIZE(masked); i++) {
		int fd = vz_open_in(rootfd, masked[i], 0);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return vz_ctr_fail(ch, "open ", masked[i]);
		}
		if (mount("/dev/null", vz_fd_path(p, fd), NULL, MS_BIND, NULL) < 0) {
			close(fd);
			return vz_ctr_fail(ch, "mask ", masked[i]);
		}
		close(fd);
	}
	return 0;
}

static int mount_sys(const struct vz_child_chan *ch, int rootfd)
{
	unsigned long fl = MS_RDONLY | NOSUID_NODEV | MS_NOEXEC;
	char p[VZ_FD_PATH];
	vz_autoclose int fd = vz_mount_point(rootfd, "/sys", true);

	if (fd < 0)
		return vz_ctr_fail(ch, "create mount point ", "/sys");
	if (mount("sysfs", vz_fd_path(p, fd), "sysfs", fl, NULL) == 0)
		return 0;
	/* A user namespace sharing the host's network may not mount sysfs: bind it. */
	if (errno != EPERM)
		return vz_ctr_fail(ch, "mount ", "/sys");
	return bind_at(ch, "/sys", rootfd, "/sys", true, false);
}

static int pivot(const struct vz_child_chan *ch, const char *newroot)
{
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves
	 * only the new root, with no directory needed for the old one [runc]. */
	if (chdir(newroot) < 0)
		return vz_ctr_fail(ch, "chdir ", newroot);
	if (vz_sys_pivot_root(".", ".") < 0)
		return vz_ctr_fail(ch, "pivot_root ", newroot);
	if (umount2(".", MNT_DETACH) < 0)
		return vz_ctr_fail(ch, "detach old root", "");
	if (chdir("/") < 0)
		return vz_ctr_fail(ch, "chdir /", "");
	return 0;
}

static int fill_root(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch, int rootfd)
{
	const vz_config *cfg = plan->cfg;

	if (mount_at(ch, rootfd, "/proc", "proc", NOSUID_NODEV | MS_NOEXEC, NULL) ||
	    (plan->mask_proc && mask_proc(ch, rootfd)) || vz_ctr_setup_dev(plan, ch, rootfd) ||
	    mount_sys(ch, rootfd) ||
	    mount_at(ch, rootfd, "/tmp", "tmpfs", NOSUID_NODEV, "mode=1777"))
		return -1;
	for (size_t i = 0; i < cfg->nbinds; i++)
		if (bind_at(ch, cfg->binds[i].src, rootfd, cfg->binds[i].dst,
			    cfg->binds[i].flags & VZ_BIND_RO, false))
			return -1;
	return 0;
}

int vz_ctr_setup_rootfs(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	char root[VZ_CTR_PATH_MAX];
	int rootfd, rc;

	/* Nothing done here may propagate back to the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return vz_ctr_fail(ch, "make mounts private", "");
	if (mount_root(plan, ch, root))
		return -1;
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return vz_ctr_fail(ch, "open new root ", root);
	rc = fill_root(plan, ch, rootfd);
	close(rootfd);
	return rc ? rc : pivot(ch, root);
}
