/* SPDX-License-Identifier: MIT */
/* Child side: a minimal /dev on tmpfs (null zero full random urandom tty, devpts, shm,
 * the usual symlinks). The tmpfs is nodev, like every other place the sandbox can create
 * files: the few nodes it offers are the host's, bind-mounted one by one [bwrap], so a
 * node the workload made (it has no CAP_MKNOD, and the devices cgroup refuses mknod)
 * could not be opened anyway. */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/util.h"
#include "container/plan.h"

/* Kept in step with the devices cgroup's allow-list (common/cgroup.c). */
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

static const struct {
	const char *target, *name;
} dev_links[] = {
	{ "/proc/self/fd", "fd" },	 { "/proc/self/fd/0", "stdin" },
	{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
	{ "pts/ptmx", "ptmx" },
};

static int bind_node(const struct vz_child_chan *ch, int devfd, const char *name)
{
	char p[VZ_FD_PATH], host[32];
	int fd = openat(devfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);

	if (fd < 0)
		return vz_ctr_fail(ch, "create /dev/", name);
	vz_ctr_path(host, "/dev/", name);
	if (mount(host, vz_fd_path(p, fd), NULL, MS_BIND, NULL) < 0) {
		close(fd);
		return vz_ctr_fail(ch, "bind ", host);
	}
	close(fd);
	return 0;
}

int vz_ctr_setup_dev(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch, int rootfd)
{
	char p[VZ_FD_PATH];
	int fd, devfd;

	(void)plan;
	fd = vz_mount_point(rootfd, "/dev", true);
	if (fd < 0)
		return vz_ctr_fail(ch, "create mount point ", "/dev");
	if (mount("tmpfs", vz_fd_path(p, fd), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=65536k") < 0) {
		close(fd);
		return vz_ctr_fail(ch, "mount tmpfs on ", "/dev");
	}
	close(fd);
	/* The descriptor above is the covered mount point: reopen to reach the tmpfs. */
	devfd = vz_open_in(rootfd, "/dev", O_DIRECTORY);
	if (devfd < 0)
		return vz_ctr_fail(ch, "open ", "/dev");
	for (size_t i = 0; i < VZ_ARRAY_SIZE(dev_nodes); i++)
		if (bind_node(ch, devfd, dev_nodes[i]))
			goto fail;
	for (size_t i = 0; i < VZ_ARRAY_SIZE(dev_links); i++)
		if (symlinkat(dev_links[i].target, devfd, dev_links[i].name) < 0) {
			vz_ctr_fail(ch, "symlink /dev/", dev_links[i].name);
			goto fail;
		}
	if (mkdirat(devfd, "pts", 0755) < 0 ||
	    (fd = openat(devfd, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		vz_ctr_fail(ch, "create ", "/dev/pts");
		goto fail;
	}
	if (mount("devpts", vz_fd_path(p, fd), "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0) {
		close(fd);
		vz_ctr_fail(ch, "mount devpts on ", "/dev/pts");
		goto fail;
	}
	close(fd);
	/* /dev/shm is a sticky directory of /dev's own tmpfs, which already bounds its size:
	 * one mount less on every start. mkdirat is subject to the host's umask. */
	if (mkdirat(devfd, "shm", 01777) < 0 || fchmodat(devfd, "shm", 01777, 0) < 0) {
		vz_ctr_fail(ch, "create ", "/dev/shm");
		goto fail;
	}
	close(devfd);
	return 0;
fail:
	close(devfd);
	return -1;
}
