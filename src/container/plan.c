/* SPDX-License-Identifier: MIT */
/* Parent side: resolve the configuration into a plan before clone. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "container/plan.h"

/* Where the kernel keeps this process's argv and environment strings: fields 48-51 of
 * /proc/self/stat (arg_start arg_end env_start env_end, Linux 3.5+). Read once. */
static uintptr_t host_strings[4];
static pthread_once_t host_strings_once = PTHREAD_ONCE_INIT;

static void read_host_strings(void)
{
	char buf[1024];
	const char *p;
	unsigned long long v[4];

	if (vz_read_file_at(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf)) <= 0)
		return;
	p = vz_stat_field(buf, 48);
	if (p && sscanf(p, " %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) == 4 &&
	    v[0] <= v[1] && v[2] <= v[3] && v[1] - v[0] < (1 << 24) && v[3] - v[2] < (1 << 24))
		for (int i = 0; i < 4; i++)
			host_strings[i] = (uintptr_t)v[i];
}

int vz_ctr_plan_build(struct vz_ctr_plan *plan, struct vz_sandbox *sb)
{
	const vz_config *cfg = sb->cfg;
	bool root = geteuid() == 0;

	*plan = (struct vz_ctr_plan){ .cfg = cfg, .exe = sb->exe, .rootfd = -1,
				      .stdio = sb->child_stdio,
				      .deadline_ns = sb->deadline_ns, .prepare = sb->prepare,
				      .nofile = sb->limits[VZ_LIMIT_OPEN_FILES] };
	plan->userns = cfg->userns == VZ_USERNS_ON || (cfg->userns == VZ_USERNS_AUTO && !root);
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
	pthread_once(&host_strings_once, read_host_strings);
	memcpy(plan->host_args, &host_strings[0], sizeof(plan->host_args));
	memcpy(plan->host_env, &host_strings[2], sizeof(plan->host_env));
	if (cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT)
		return vz_persistent_dirs(cfg);
	return VZ_OK;
}

void vz_ctr_plan_release(struct vz_ctr_plan *plan)
{
	vz_close(&plan->rootfd);
}
