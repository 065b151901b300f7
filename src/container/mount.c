/* SPDX-License-Identifier: MIT */
/* Child side: the root file system. The rootfs directory is an image that is never
 * written: an overlay with a tmpfs upper layer (or the caller's persistent upper dir,
 * or a read-only bind) is assembled on top of the rootfs path inside the new mount
 * namespace, filled with /proc, /dev, /sys, /tmp and the bind mounts, and pivoted into. */
#include <fcntl.h>
#include <linux/mount.h>
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

static int set_readonly(const char *path, bool recursive)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	/* mount_setattr changes only the read-only bit; an MS_REMOUNT would also reset
	 * nosuid/nodev/noexec, which a user namespace may not clear on locked mounts. */
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr,
		    sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

/* mkdir -p of an absolute path (async-signal-safe). */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[VZ_CTR_PATH_MAX];
	size_t len = strnlen(path, sizeof(buf));

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Make sure a mount point exists: a directory, or an empty file for a file source. */
static int ensure_target(const char *target, bool dir)
{
	struct stat st;
	int fd;

	if (lstat(target, &st) == 0)
		return 0;
	if (dir)
		return mkdir_p(target, 0755);
	{
		char parent[VZ_CTR_PATH_MAX];
		char *slash;
		vz_ctr_path(parent, target, "");
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			if (mkdir_p(parent, 0755) < 0)
				return -1;
		}
	}
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int mount_at(const struct vz_child_chan *ch, const char *root, const char *dir,
		    const char *fstype, unsigned long flags, const char *opts)
{
	char path[VZ_CTR_PATH_MAX];
	vz_ctr_path(path, root, dir);
	if (ensure_target(path, true) < 0)
		return vz_ctr_fail(ch, "create mount point ", dir);
	if (mount(fstype, path, fstype, flags, opts) < 0)
		return vz_ctr_fail(ch, "mount ", dir);
	return 0;
}

static int bind_at(const struct vz_child_chan *ch, const char *src, const char *root,
		   const char *dst, bool ro, bool optional)
{
	char path[VZ_CTR_PATH_MAX];
	struct stat st;

	if (stat(src, &st) < 0)
		return optional ? 0 : vz_ctr_fail(ch, "bind source ", src);
	vz_ctr_path(path, root, dst);
	if (ensure_target(path, S_ISDIR(st.st_mode)) < 0)
		return vz_ctr_fail(ch, "create bind mount point ", dst);
	if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return vz_ctr_fail(ch, "bind mount on ", dst);
	if (ro && set_readonly(path, true) < 0)
		return vz_ctr_fail(ch, "make read-only: ", dst);
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

/* The writable layer: returns the new root's path in @newroot. */
static int mount_root(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch,
		      char *newroot)
{
	const char *rootfs = plan->cfg->rootfs;
	char path[VZ_CTR_PATH_MAX];

	vz_ctr_path(newroot, rootfs, "");
	if (reopen_rootfs(plan, ch))
		return -1;
	if (!plan->overlay_opts) {
		if (mount(plan->rootfd_path, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			return vz_ctr_fail(ch, "bind rootfs ", rootfs);
		/* Read-only before anything is mounted into it, so that a missing mount
		 * point is an error instead of a write into the image. */
		if (set_readonly(rootfs, false) < 0)
			return vz_ctr_fail(ch, "make the root read-only: ", rootfs);
		return 0;
	}
	/* Scratch tmpfs over the rootfs path (only in this namespace); the overlay's lower
	 * layer is the rootfs directory itself, reached through the fd. */
	if (mount("tmpfs", rootfs, "tmpfs", NOSUID_NODEV, "mode=0755") < 0)
		return vz_ctr_fail(ch, "mount scratch tmpfs on ", rootfs);
	if (!plan->upper_base[0] &&
	    (mkdir(vz_ctr_path(path, rootfs, "/upper"), 0755) < 0 ||
	     mkdir(vz_ctr_path(path, rootfs, "/work"), 0755) < 0))
		return vz_ctr_fail(ch, "create overlay upper dir in ", rootfs);
	vz_ctr_path(newroot, rootfs, "/root");
	if (mkdir(newroot, 0755) < 0)
		return vz_ctr_fail(ch, "create overlay mount point ", newroot);
	if (mount("overlay", newroot, "overlay", 0, plan->overlay_opts) < 0)
		return vz_ctr_fail(ch, "mount overlay: ", plan->overlay_opts);
	return 0;
}

/* Without a user namespace the sandbox's root is the host's root as far as procfs
 * checks go: keep global knobs out of its reach [Docker's masked and read-only paths]. */
static int mask_proc(const struct vz_child_chan *ch, const char *root)
{
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
					  "/proc/bus" };
	static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list" };
	char path[VZ_CTR_PATH_MAX];

	for (size_t i = 0; i < VZ_ARRAY_SIZE(ro); i++) {
		vz_ctr_path(path, root, ro[i]);
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return vz_ctr_fail(ch, "bind ", ro[i]);
		}
		if (set_readonly(path, true) < 0)
			return vz_ctr_fail(ch, "make read-only: ", ro[i]);
	}
	for (size_t i = 0; i < VZ_ARRAY_SIZE(masked); i++) {
		vz_ctr_path(path, root, masked[i]);
		if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0 && errno != ENOENT)
			return vz_ctr_fail(ch, "mask ", masked[i]);
	}
	return 0;
}

static int mount_sys(const struct vz_child_chan *ch, const char *root)
{
	char path[VZ_CTR_PATH_MAX];
	unsigned long fl = MS_RDONLY | NOSUID_NODEV | MS_NOEXEC;

	vz_ctr_path(path, root, "/sys");
	if (ensure_target(path, true) < 0)
		return vz_ctr_fail(ch, "create mount point ", "/sys");
	if (mount("sysfs", path, "sysfs", fl, NULL) == 0)
		return 0;
	/* A user namespace sharing the host's network may not mount sysfs: bind it. */
	if (errno != EPERM)
		return vz_ctr_fail(ch, "mount ", "/sys");
	return bind_at(ch, "/sys", root, "/sys", true, false);
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

int vz_ctr_setup_rootfs(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	const vz_config *cfg = plan->cfg;
	char root[VZ_CTR_PATH_MAX];

	/* Nothing done here may propagate back to the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return vz_ctr_fail(ch, "make mounts private", "");
	if (mount_root(plan, ch, root) ||
	    mount_at(ch, root, "/proc", "proc", NOSUID_NODEV | MS_NOEXEC, NULL) ||
	    (plan->mask_proc && mask_proc(ch, root)) || vz_ctr_setup_dev(plan, ch, root) ||
	    mount_sys(ch, root) ||
	    mount_at(ch, root, "/tmp", "tmpfs", NOSUID_NODEV, "mode=1777"))
		return -1;
	for (size_t i = 0; i < cfg->nbinds; i++)
		if (bind_at(ch, cfg->binds[i].src, root, cfg->binds[i].dst,
			    cfg->binds[i].flags & VZ_BIND_RO, false))
			return -1;
	return pivot(ch, root);
}
