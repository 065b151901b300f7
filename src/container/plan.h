/* SPDX-License-Identifier: MIT */
/* The container execution plan [bwrap SetupOp list]: everything the child needs,
 * resolved by the parent before clone, so the child only executes it with
 * async-signal-safe calls (the host program may be multithreaded). */
#ifndef VZ_CONTAINER_PLAN_H
#define VZ_CONTAINER_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cgroup.h"
#include "common/config.h"
#include "common/proc.h"
#include "security/inroot.h"

#define VZ_CTR_PATH_MAX 4096

struct vz_ctr_plan {
	const vz_config *cfg;
	const char *exe;	 /* argv[0] resolved inside the rootfs */
	int rootfd;		 /* O_PATH of the rootfs directory (overlay lower / bind source) */
	char rootfd_path[32];	 /* "/proc/self/fd/N" */
	const char *upper_base;	 /* directory holding upper/ and work/ ("" = scratch tmpfs) */
	bool userns;		 /* own user namespace, ids mapped to the caller's */
	bool mask_proc;		 /* no user namespace: /proc/sys etc. must be read-only */
	/* The host process's argv and environment strings, which PID 1 (a copy of the
	 * host process that never executes anything) overwrites: /proc/1/cmdline and
	 * /proc/1/environ would show them to the workload. 0 when unknown. */
	uintptr_t host_args[2], host_env[2];
	char uid_map[48], gid_map[48];
	const int *stdio;	 /* fds to install as 0-2, -1 = keep the caller's */
	uint64_t deadline_ns;	 /* wall-time limit enforced by init, or 0 */
	bool prepare;		 /* init waits for VZ_IPC_GO (and its deadline) first */
	int64_t nofile;		 /* RLIMIT_NOFILE, or 0 */
};

struct vz_sandbox;

/* Parent side: fill @plan from the sandbox (opens rootfd; creates a persistent
 * layer's directories). */
int vz_ctr_plan_build(struct vz_ctr_plan *plan, struct vz_sandbox *sb);
void vz_ctr_plan_release(struct vz_ctr_plan *plan);

/* Child side. Each step returns 0, or -1 after reporting the failed step over ch. */
int vz_ctr_setup_ids(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch);
int vz_ctr_setup_net(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch);
int vz_ctr_setup_rootfs(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch);
int vz_ctr_setup_dev(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch,
		     int rootfd);

/* PID 1: fork the workload, reap, forward signals, report, exit. Never returns. */
__attribute__((noreturn)) void vz_ctr_init(const struct vz_ctr_plan *plan,
					   const struct vz_child_chan *ch);
/* The workload's last steps before execve. Never returns. */
__attribute__((noreturn)) void vz_ctr_exec(const struct vz_ctr_plan *plan,
					   const struct vz_child_chan *ch);

/* Async-signal-safe path join into a buffer of VZ_CTR_PATH_MAX. */
char *vz_ctr_path(char *buf, const char *a, const char *b);

/* Report a failed step "what arg" with errno and return -1. */
int vz_ctr_fail(const struct vz_child_chan *ch, const char *what, const char *arg);

#endif
