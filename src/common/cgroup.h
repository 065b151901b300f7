/* SPDX-License-Identifier: MIT */
/* Sandbox cgroups, v2 where /sys/fs/cgroup is cgroup2 and v1 where the host mounts the
 * legacy hierarchies. Shared by both backends: the container's init and the VMM process
 * join the same kind of group. libvz only creates, writes and removes groups below its
 * own `libvz` directory in each hierarchy.
 *
 * A group is named sb-<pid>-<starttime>-<pidns>-<seq>: the owner's pid, its start time
 * (field 22 of /proc/<pid>/stat), the inode of its pid namespace and a per-process
 * counter. The first vz_cgroup_create() of a process removes the groups whose owner is
 * gone (a host program killed before it could clean up). */
#ifndef VZ_COMMON_CGROUP_H
#define VZ_COMMON_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* v1: memory, pids, cpu, cpuacct, devices (fewer where hierarchies are co-mounted). */
#define VZ_CG_MAX_DIRS 5

/* vz_cgroup_create() flags. */
#define VZ_CG_DEVICES (1u << 0) /* only the device allow-list (cgroup.c) may be used */

struct vz_cgroup {
	int version;			/* 1 or 2 */
	int ndirs;			/* groups created (v1: one per hierarchy) */
	char *paths[VZ_CG_MAX_DIRS];	/* absolute paths of the groups */
	int procs_fds[VZ_CG_MAX_DIRS];	/* v1: cgroup.procs, written "0" by the child */
	int memory_idx;			/* index of the memory group, or -1 */
	int cpuacct_idx;		/* v1: index of the cpuacct group, or -1 */
	int dirfd;			/* v2: the group, for CLONE_INTO_CGROUP; else -1 */
	bool devices_enforced;		/* VZ_CG_DEVICES was asked for and is in force */
};

/* What the group counted, read after the sandbox ended; 0 where the host cannot say. */
struct vz_cgroup_usage {
	uint64_t peak_memory;		/* bytes */
	uint64_t oom_kills;
	uint64_t user_cpu_ns;		/* every process that ran in the group */
	uint64_t system_cpu_ns;
};

/* Create the sandbox's group(s) and apply the limits in @limits (indexed by vz_limit,
 * 0 = unset) and @flags (VZ_CG_*). When the host offers no usable cgroup and no cgroup
 * limit is set, *out is NULL and 0 is returned: the sandbox runs without accounting. A
 * limit that cannot be enforced is an error naming it.
 *
 * VZ_CG_DEVICES: v1, a group in the devices hierarchy (none mounted: not enforced); v2, a
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group. A caller without
 * privileges in the initial user namespace gets no rules (it cannot create device nodes
 * or open devices beyond their file permissions anyway). devices_enforced says which. */
int vz_cgroup_create(struct vz_cgroup **out, const int64_t *limits, unsigned flags);

/* Child side, async-signal-safe: join the v1 groups (v2 joins through clone3). Returns
 * 0 or -errno. */
int vz_cgroup_join_child(const struct vz_cgroup *cg);

/* The group's counters (peak memory, OOM kills, CPU time), read after the sandbox ended
 * and before vz_cgroup_destroy(). NULL @cg gives zeros. */
void vz_cgroup_stats(const struct vz_cgroup *cg, struct vz_cgroup_usage *usage);

/* Remove the groups (the sandbox's processes must be gone) and free. NULL is fine. */
void vz_cgroup_destroy(struct vz_cgroup *cg);

/* One-line description of the host's cgroup support for vz_backend_available(). */
void vz_cgroup_describe(char *buf, size_t len);

/* The device allow-list as a BPF_PROG_TYPE_CGROUP_DEVICE program, for v2 and the tests.
 * vz_cgroup_devices_load() returns the loaded program's fd (close-on-exec) or -1 with
 * errno; on EINVAL or EACCES the verifier's log is in @log (NUL-terminated) when @len
 * is not 0. vz_cgroup_devices_attach() loads it and attaches it to the v2 group @dirfd;
 * 0 or a negative vz_status with the error recorded. */
int vz_cgroup_devices_load(char *log, size_t len);
int vz_cgroup_devices_attach(int dirfd);

#endif
