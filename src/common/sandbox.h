/* SPDX-License-Identifier: MIT */
/* The sandbox object behind the opaque vz_sandbox, shared by the backends. */
#ifndef VZ_COMMON_SANDBOX_H
#define VZ_COMMON_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <vz/sandbox.h>

#include "common/backend.h"
#include "common/config.h"
#include "common/proc.h"

#define VZ_LIMIT_MAX_KIND 6

enum vz_sb_state {
	VZ_SB_CREATED = 0,
	VZ_SB_PREPARED,	 /* vz_sandbox_prepare(): set up, the workload not yet run */
	VZ_SB_RUNNING,	 /* started, not yet reaped */
	VZ_SB_ENDED,	 /* result final (reaped, or see unreaped) */
	VZ_SB_FAILED,	 /* start failed; result says setup failed */
};

struct vz_cgroup;

struct vz_sandbox {
	const struct vz_backend_ops *ops;
	vz_config *cfg;
	char *exe; /* argv[0] resolved inside the sandbox (absolute) */
	int64_t limits[VZ_LIMIT_MAX_KIND]; /* by vz_limit; 0 = unset */
	int state;

	/* Start: stdio plan. child_stdio[i] is the fd the child installs as i (-1 = the
	 * caller's own); caller_stdio[i] is the caller's end of a pipe (-1 = none). */
	int child_stdio[3];
	int caller_stdio[3];

	struct vz_cgroup *cgroup; /* NULL when the host or caller gives none */
	struct vz_proc proc;
	uint64_t t_start_ns;	  /* set-up began (prepare or start): the phases' origin */
	uint64_t t_run_ns;	  /* vz_sandbox_start() entered: wall time and deadline */
	bool prepare;		  /* the backend's start stops before the workload */
	uint64_t t_exec_ns;	  /* the workload was executed */
	uint64_t deadline_ns;	  /* wall-time limit, or 0 */

	/* Ending: guarded by lock, so kill and wait may race from other threads. */
	pthread_mutex_t lock;
	int kill_sig;	   /* last signal sent through vz_sandbox_kill(), or 0 */
	bool timed_out;	   /* libvz killed it for its wall-time limit */
	vz_result result;  /* complete once state is ENDED or FAILED */
	/* ENDED from the child's final report (backend final_report): the child is still
	 * to be reaped and the cgroup removed, which vz_sandbox_free() does. */
	bool unreaped;
	bool report_gone; /* the status channel closed without a report */

	void *priv; /* backend-private */
};

/* Record a start-up phase that ended at @t_ns (name copied, truncated to 15 chars). */
void vz_sandbox_add_phase(struct vz_sandbox *sb, const char *name, uint64_t t_ns);

/* Make the persistent layer's upper/ and work/ below cfg->upper_dir, and the dir 0700
 * (both backends use the same layout, so one layer serves either). */
int vz_persistent_dirs(const vz_config *cfg);

#endif
