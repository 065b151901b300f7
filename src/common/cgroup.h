/* SPDX-License-Identifier: MIT */
/* Sandbox cgroups, v2 where /sys/fs/cgroup is cgroup2 and v1 where the host mounts the
 * legacy hierarchies. Shared by both backends: the container's init and the VMM process
 * join the same kind of group. libvz only creates, writes and removes groups below its
 * own `libvz` directory in each hierarchy. */
#ifndef VZ_COMMON_CGROUP_H
#define VZ_COMMON_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#define VZ_CG_MAX_DIRS 3

struct vz_cgroup {
	int version;			/* 1 or 2 */
	int ndirs;			/* groups created (v1: one per hierarchy) */
	char *paths[VZ_CG_MAX_DIRS];	/* absolute paths of the groups */
	int procs_fds[VZ_CG_MAX_DIRS];	/* v1: cgroup.procs, written "0" by the child */
	int memory_idx;			/* index of the memory group, or -1 */
	int dirfd;			/* v2: the group, for CLONE_INTO_CGROUP; else -1 */
};

/* Create the sandbox's group(s) and apply the limits in @limits (indexed by vz_limit,
 * 0 = unset). When the host offers no usable cgroup and no cgroup limit is set, *out is
 * NULL and 0 is returned: the sandbox runs without accounting. A limit that cannot be
 * enforced is an error naming it. */
int vz_cgroup_create(struct vz_cgroup **out, const int64_t *limits);

/* Child side, async-signal-safe: join the v1 groups (v2 joins through clone3). Returns
 * 0 or -errno. */
int vz_cgroup_join_child(const struct vz_cgroup *cg);

/* Peak memory in bytes and the number of OOM kills, read after the sandbox ended. */
void vz_cgroup_stats(const struct vz_cgroup *cg, uint64_t *peak, uint64_t *oom_kills);

/* Remove the groups (the sandbox's processes must be gone) and free. NULL is fine. */
void vz_cgroup_destroy(struct vz_cgroup *cg);

/* One-line description of the host's cgroup support for vz_backend_available(). */
void vz_cgroup_describe(char *buf, size_t len);

#endif
