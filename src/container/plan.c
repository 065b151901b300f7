/* SPDX-License-Identifier: MIT */
/* Parent side: resolve the configuration into a plan before clone. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "container/plan.h"

static int persistent_dirs(const vz_config *cfg)
{
	char path[VZ_CTR_PATH_MAX];
	static const char *const sub[] = { "upper", "work" };

	for (size_t i = 0; i < VZ_ARRAY_SIZE(sub); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->upper_dir, sub[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return vz_err_sys(vz_status_from_errno(errno), "upper dir: create %s", path);
	}
	return VZ_OK;
}

static int overlay_opts(struct vz_ctr_plan *plan)
{
	const vz_config *cfg = plan->cfg;
	const char *base = cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT ? cfg->upper_dir : cfg->rootfs;

	if (cfg->rootfs_mode == VZ_ROOTFS_READONLY)
		return VZ_OK;
	if (cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT && persistent_dirs(cfg))
		return vz_error_last()->code;
	if (strchr(cfg->rootfs, ',') || strchr(base, ',') || strchr(base, ':'))
		return vz_err_set(VZ_EINVAL, 0, "rootfs %s: overlay paths cannot contain ',' or ':'",
				  base);
	/* The lower layer is reached through the fd opened here, so the child may cover
	 * the rootfs path with its scratch tmpfs. In a user namespace overlayfs must keep
	 * its metadata in user.* xattrs (trusted.* needs real root). */
	plan->overlay_opts = vz_asprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work%s",
					 plan->rootfd_path, base, base,
					 plan->userns ? ",userxattr" : "");
	return plan->overlay_opts ? VZ_OK : VZ_ENOMEM;
}

int vz_ctr_plan_build(struct vz_ctr_plan *plan, struct vz_sandbox *sb)
{
	const vz_config *cfg = sb->cfg;
	bool root = geteuid() == 0;

	*plan = (struct vz_ctr_plan){ .cfg = cfg, .exe = sb->exe, .rootfd = -1,
				      .stdio = sb->child_stdio, .cgroup = sb->cgroup,
				      .deadline_ns = sb->deadline_ns,
				      .nofile = sb->limits[VZ_LIMIT_OPEN_FILES] };
	plan->userns = cfg->userns == VZ_USERNS_ON || (cfg->userns == VZ_USERNS_AUTO && !root);
	plan->mknod_ok = root && !plan->userns;
	plan->mask_proc = !plan->userns;
	plan->upper_base = cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT ? cfg->upper_dir : "";
	if (plan->nofile) {
		char buf[32];
		if (vz_read_file_at(AT_FDCWD, "/proc/sys/fs/nr_open", buf, sizeof(buf)) > 0 &&
		    plan->nofile > strtoll(buf, NULL, 10))
			return vz_err_set(VZ_EINVAL, 0, "limit open files: %lld exceeds the host's "
					  "fs.nr_open (%lld)", (long long)plan->nofile,
					  strtoll(buf, NULL, 10));
	}
	snprintf(plan->uid_map, sizeof(plan->uid_map), "%u %u 1\n", cfg->uid, (unsigned)geteuid());
	snprintf(plan->gid_map, sizeof(plan->gid_map), "%u %u 1\n", cfg->gid, (unsigned)getegid());
	plan->rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (plan->rootfd < 0)
		return vz_err_sys(vz_status_from_errno(errno), "rootfs %s", cfg->rootfs);
	snprintf(plan->rootfd_path, sizeof(plan->rootfd_path), "/proc/self/fd/%d", plan->rootfd);
	return overlay_opts(plan);
}

void vz_ctr_plan_release(struct vz_ctr_plan *plan)
{
	vz_close(&plan->rootfd);
	free(plan->overlay_opts);
	plan->overlay_opts = NULL;
}
