/* SPDX-License-Identifier: MIT */
/* Child side: a minimal /dev on tmpfs (null zero full random urandom tty, devpts, shm,
 * the usual symlinks). Real root creates the nodes; in a user namespace, where mknod is
 * refused, the host's nodes are bind-mounted instead [bwrap]. */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/util.h"
#include "container/plan.h"

static const struct {
	const char *name;
	unsigned major, minor;
} dev_nodes[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct {
	const char *target, *name;
} dev_links[] = {
	{ "/proc/self/fd", "fd" },	 { "/proc/self/fd/0", "stdin" },
	{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
	{ "pts/ptmx", "ptmx" },
};

static int make_node(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch,
		     const char *dev, size_t i)
{
	char path[VZ_CTR_PATH_MAX], host[64];
	int fd;

	vz_ctr_path(path, dev, "/");
	vz_strlcat(path, dev_nodes[i].name, sizeof(path));
	if (plan->mknod_ok) {
		if (mknod(path, S_IFCHR | 0666, makedev(dev_nodes[i].major, dev_nodes[i].minor)) < 0)
			return vz_ctr_fail(ch, "mknod ", path);
		/* mknod is subject to the umask inherited from the host program. */
		if (chmod(path, 0666) < 0)
			return vz_ctr_fail(ch, "chmod ", path);
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return vz_ctr_fail(ch, "create ", path);
	close(fd);
	vz_ctr_path(host, "/dev/", dev_nodes[i].name);
	if (mount(host, path, NULL, MS_BIND, NULL) < 0)
		return vz_ctr_fail(ch, "bind ", host);
	return 0;
}

int vz_ctr_setup_dev(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch,
		     const char *newroot)
{
	char dev[VZ_CTR_PATH_MAX], path[VZ_CTR_PATH_MAX];
	struct stat st;

	vz_ctr_path(dev, newroot, "/dev");
	if (stat(dev, &st) < 0 && mkdir(dev, 0755) < 0)
		return vz_ctr_fail(ch, "create mount point ", "/dev");
	if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k") < 0)
		return vz_ctr_fail(ch, "mount tmpfs on ", "/dev");
	for (size_t i = 0; i < VZ_ARRAY_SIZE(dev_nodes); i++)
		if (make_node(plan, ch, dev, i))
			return -1;
	for (size_t i = 0; i < VZ_ARRAY_SIZE(dev_links); i++) {
		vz_ctr_path(path, dev, "/");
		vz_strlcat(path, dev_links[i].name, sizeof(path));
		if (symlink(dev_links[i].target, path) < 0)
			return vz_ctr_fail(ch, "symlink ", path);
	}
	if (mkdir(vz_ctr_path(path, dev, "/pts"), 0755) < 0 ||
	    mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return vz_ctr_fail(ch, "mount devpts on ", "/dev/pts");
	/* /dev/shm is a sticky directory of /dev's own tmpfs, which already bounds its size:
	 * one mount less on every start. */
	if (mkdir(vz_ctr_path(path, dev, "/shm"), 01777) < 0 || chmod(path, 01777) < 0)
		return vz_ctr_fail(ch, "create ", "/dev/shm");
	return 0;
}
