/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <vz/sandbox.h>

#include "common/cgroup.h"
#include "common/error.h"
#include "common/util.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG_BASE "libvz"

static atomic_uint cg_seq;

enum { CG_MEMORY, CG_PIDS, CG_CPU, CG_NCTRL };
static const char *const ctrl_names[CG_NCTRL] = { "memory", "pids", "cpu" };
static const int ctrl_limit[CG_NCTRL] = { VZ_LIMIT_MEMORY, VZ_LIMIT_PIDS, VZ_LIMIT_CPU };
static const char *const limit_names[] = { "", "memory", "cpu", "pids", "wall time",
					   "open files" };

static bool is_fs(const char *path, long magic)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 && sfs.f_type == magic;
}

static int host_version(void)
{
	if (is_fs(CG_ROOT, CGROUP2_SUPER_MAGIC))
		return 2;
	if (is_fs(CG_ROOT "/memory", CGROUP_SUPER_MAGIC) || is_fs(CG_ROOT "/pids", CGROUP_SUPER_MAGIC))
		return 1;
	return 0;
}

/* Does the v2 root delegate @ctrl to its children? */
static bool v2_has_controller(const char *ctrl)
{
	char buf[512], *tok, *save = NULL;
	if (vz_read_file_at(AT_FDCWD, CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0)
		return false;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, ctrl))
			return true;
	return false;
}

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_limit(struct vz_cgroup *cg, int idx, const char *file, const char *val,
		       int limit, bool optional)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", cg->paths[idx], file);
	if (vz_write_file_at(AT_FDCWD, path, val) == 0)
		return VZ_OK;
	if (optional && errno == ENOENT)
		return VZ_OK;
	return vz_err_sys(vz_status_from_errno(errno), "limit %s: write %s to %s",
			  limit_names[limit], val, path);
}

static int apply_limits(struct vz_cgroup *cg, const int64_t *lim, const int *idx)
{
	char v[64];
	int rc = VZ_OK, v1 = cg->version == 1;

	if (lim[VZ_LIMIT_MEMORY]) {
		snprintf(v, sizeof(v), "%lld", (long long)lim[VZ_LIMIT_MEMORY]);
		rc = write_limit(cg, idx[CG_MEMORY], v1 ? "memory.limit_in_bytes" : "memory.max",
				 v, VZ_LIMIT_MEMORY, false);
		/* No swapping past the limit: swap would turn an OOM into a slow crawl. */
		if (!rc)
			rc = write_limit(cg, idx[CG_MEMORY],
					 v1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max",
					 v1 ? v : "0", VZ_LIMIT_MEMORY, true);
	}
	if (!rc && lim[VZ_LIMIT_PIDS]) {
		snprintf(v, sizeof(v), "%lld", (long long)lim[VZ_LIMIT_PIDS]);
		rc = write_limit(cg, idx[CG_PIDS], "pids.max", v, VZ_LIMIT_PIDS, false);
	}
	if (!rc && lim[VZ_LIMIT_CPU]) {
		/* millicores * 100 µs per 100 ms period: 1000 millicores = one full CPU. */
		long long quota = (long long)lim[VZ_LIMIT_CPU] * 100;
		if (v1) {
			rc = write_limit(cg, idx[CG_CPU], "cpu.cfs_period_us", "100000",
					 VZ_LIMIT_CPU, false);
			snprintf(v, sizeof(v), "%lld", quota);
			if (!rc)
				rc = write_limit(cg, idx[CG_CPU], "cpu.cfs_quota_us", v,
						 VZ_LIMIT_CPU, false);
		} else {
			snprintf(v, sizeof(v), "%lld 100000", quota);
			rc = write_limit(cg, idx[CG_CPU], "cpu.max", v, VZ_LIMIT_CPU, false);
		}
	}
	return rc;
}

/* The first limit in @lim that needs a cgroup, or 0. */
static int first_cg_limit(const int64_t *lim)
{
	for (int c = 0; c < CG_NCTRL; c++)
		if (lim[ctrl_limit[c]])
			return ctrl_limit[c];
	return 0;
}

static int add_dir(struct vz_cgroup *cg, const char *parent, const char *name, int limit,
		   bool needed)
{
	char *path;
	if (mkdir_ok(parent) < 0)
		goto fail;
	path = vz_asprintf("%s/%s", parent, name);
	if (!path)
		return VZ_ENOMEM;
	if (mkdir(path, 0755) < 0) {
		free(path);
		goto fail;
	}
	cg->paths[cg->ndirs++] = path;
	return VZ_OK;
fail:
	if (!needed)
		return 1; /* no accounting here; not an error */
	return vz_err_sys(vz_status_from_errno(errno), "limit %s: cannot create a cgroup in %s%s",
			  limit_names[limit], parent,
			  errno == EACCES || errno == EROFS ? " (cgroups are not delegated to this user)" : "");
}

static int create_v1(struct vz_cgroup *cg, const int64_t *lim, const char *name, int *idx)
{
	char parent[128];
	for (int c = 0; c < CG_NCTRL; c++) {
		bool needed = lim[ctrl_limit[c]] != 0;
		char root[64];
		int rc;

		idx[c] = -1;
		snprintf(root, sizeof(root), CG_ROOT "/%s", ctrl_names[c]);
		/* cpu is created only for a CPU limit; memory and pids always, for peak
		 * memory and OOM accounting. */
		if (c == CG_CPU && !needed)
			continue;
		if (!is_fs(root, CGROUP_SUPER_MAGIC)) {
			if (needed)
				return vz_err_set(VZ_ENOTSUP, 0,
						  "limit %s: the host mounts no %s cgroup controller",
						  limit_names[ctrl_limit[c]], ctrl_names[c]);
			continue;
		}
		snprintf(parent, sizeof(parent), "%s/" CG_BASE, root);
		rc = add_dir(cg, parent, name, ctrl_limit[c], needed);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			idx[c] = cg->ndirs - 1;
			if (c == CG_MEMORY)
				cg->memory_idx = idx[c];
		}
	}
	for (int i = 0; i < cg->ndirs; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->paths[i]);
		cg->procs_fds[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (cg->procs_fds[i] < 0)
			return vz_err_sys(VZ_ERROR, "cgroup: open %s", path);
	}
	return VZ_OK;
}

static int create_v2(struct vz_cgroup *cg, const int64_t *lim, const char *name, int *idx)
{
	int rc, limit = first_cg_limit(lim);

	for (int c = 0; c < CG_NCTRL; c++) {
		if (lim[ctrl_limit[c]] && !v2_has_controller(ctrl_names[c]))
			return vz_err_set(VZ_ENOTSUP, 0,
					  "limit %s: controller %s is not enabled in "
					  CG_ROOT "/cgroup.subtree_control",
					  limit_names[ctrl_limit[c]], ctrl_names[c]);
	}
	rc = add_dir(cg, CG_ROOT "/" CG_BASE, name, limit ? limit : VZ_LIMIT_MEMORY, limit != 0);
	if (rc)
		return rc < 0 ? rc : VZ_OK;
	/* Delegate what the root delegates to libvz's own directory; an error here shows
	 * up below as a missing interface file, naming the limit. */
	for (int c = 0; c < CG_NCTRL; c++) {
		char op[16];
		idx[c] = 0;
		snprintf(op, sizeof(op), "+%s", ctrl_names[c]);
		if (v2_has_controller(ctrl_names[c]))
			(void)vz_write_file_at(AT_FDCWD, CG_ROOT "/" CG_BASE "/cgroup.subtree_control", op);
	}
	cg->memory_idx = v2_has_controller("memory") ? 0 : -1;
	cg->dirfd = open(cg->paths[0], O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (cg->dirfd < 0)
		return vz_err_sys(VZ_ERROR, "cgroup: open %s", cg->paths[0]);
	return VZ_OK;
}

int vz_cgroup_create(struct vz_cgroup **out, const int64_t *limits)
{
	struct vz_cgroup *cg;
	char name[64];
	int idx[CG_NCTRL] = { -1, -1, -1 }, rc;
	int version = host_version();

	*out = NULL;
	if (!version) {
		int limit = first_cg_limit(limits);
		if (limit)
			return vz_err_set(VZ_ENOTSUP, 0, "limit %s: no cgroup file system at " CG_ROOT,
					  limit_names[limit]);
		return VZ_OK;
	}
	cg = vz_calloc(1, sizeof(*cg));
	if (!cg)
		return VZ_ENOMEM;
	cg->version = version;
	cg->dirfd = -1;
	cg->memory_idx = -1;
	for (int i = 0; i < VZ_CG_MAX_DIRS; i++)
		cg->procs_fds[i] = -1;
	snprintf(name, sizeof(name), "sb-%d-%u", (int)getpid(), atomic_fetch_add(&cg_seq, 1));
	rc = version == 2 ? create_v2(cg, limits, name, idx) : create_v1(cg, limits, name, idx);
	if (!rc && cg->ndirs)
		rc = apply_limits(cg, limits, idx);
	if (rc || !cg->ndirs) {
		vz_cgroup_destroy(cg);
		return rc;
	}
	*out = cg;
	return VZ_OK;
}

int vz_cgroup_join_child(const struct vz_cgroup *cg)
{
	if (!cg || cg->version != 1)
		return 0;
	for (int i = 0; i < cg->ndirs; i++) {
		if (write(cg->procs_fds[i], "0", 1) != 1)
			return -errno;
	}
	return 0;
}

static uint64_t read_key(const char *path, const char *key)
{
	char buf[2048], *p;
	size_t klen = strlen(key);
	if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
	return 0;
}

void vz_cgroup_stats(const struct vz_cgroup *cg, uint64_t *peak, uint64_t *oom_kills)
{
	char path[512], buf[64];
	const char *dir;

	*peak = *oom_kills = 0;
	if (!cg || cg->memory_idx < 0)
		return;
	dir = cg->paths[cg->memory_idx];
	snprintf(path, sizeof(path), "%s/%s", dir,
		 cg->version == 1 ? "memory.max_usage_in_bytes" : "memory.peak");
	if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0)
		*peak = strtoull(buf, NULL, 10);
	snprintf(path, sizeof(path), "%s/%s", dir,
		 cg->version == 1 ? "memory.oom_control" : "memory.events");
	*oom_kills = read_key(path, "oom_kill");
}

void vz_cgroup_destroy(struct vz_cgroup *cg)
{
	if (!cg)
		return;
	for (int i = cg->ndirs - 1; i >= 0; i--) {
		/* The sandbox's processes are reaped before this runs, but the kernel may
		 * need a moment to unlink the last exiting task from the group. */
		for (int tries = 0; rmdir(cg->paths[i]) < 0 && errno == EBUSY && tries < 200; tries++)
			usleep(500);
		free(cg->paths[i]);
		vz_close(&cg->procs_fds[i]);
	}
	vz_close(&cg->dirfd);
	free(cg);
}

void vz_cgroup_describe(char *buf, size_t len)
{
	int v = host_version();
	if (v == 2) {
		snprintf(buf, len, "cgroup v2 (%s%s%s)", v2_has_controller("memory") ? "memory " : "",
			 v2_has_controller("pids") ? "pids " : "", v2_has_controller("cpu") ? "cpu" : "");
	} else if (v == 1) {
		snprintf(buf, len, "cgroup v1 (%s%s%s)",
			 is_fs(CG_ROOT "/memory", CGROUP_SUPER_MAGIC) ? "memory " : "",
			 is_fs(CG_ROOT "/pids", CGROUP_SUPER_MAGIC) ? "pids " : "",
			 is_fs(CG_ROOT "/cpu", CGROUP_SUPER_MAGIC) ? "cpu" : "");
	} else {
		snprintf(buf, len, "no cgroups");
	}
}
