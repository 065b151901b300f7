/* SPDX-License-Identifier: MIT */
/* The backend seam [crun libcrun_cgroup_manager, custom_handler_s]: the public API in
 * sandbox.c does state checks, limits, waiting, killing and clean-up once; a backend
 * only validates its options and spawns the supervised child process. */
#ifndef VZ_COMMON_BACKEND_H
#define VZ_COMMON_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vz/sandbox.h>

struct vz_sandbox;

struct vz_backend_ops {
	vz_backend id;
	const char *name;
	/* Can this host run the backend? 0, or a negative vz_status with the error
	 * recorded; either way a one-line description goes to @why. */
	int (*probe)(char *why, size_t len);
	/* Backend-specific checks of the (already copied) configuration at create. */
	int (*validate)(struct vz_sandbox *sb);
	/* Optional: adjust the limits the sandbox's cgroup gets (a copy of the
	 * sandbox's, indexed by vz_limit; 0 = unset), e.g. when a limit is enforced
	 * elsewhere or the backend's own process needs room beside the workload. */
	void (*cgroup_limits)(struct vz_sandbox *sb, int64_t *limits);
	/* VZ_CG_* flags for the sandbox's cgroup (common/cgroup.h): VZ_CG_DEVICES confines
	 * the workload to the device allow-list. */
	unsigned cgroup_flags;
	/* Plan and clone the supervised child (see proc.h). Return once the workload has
	 * been executed or set-up failed; on failure nothing of the attempt remains. With
	 * sb->prepare, return once the child is set up and waits (vz_proc_wait_go);
	 * vz_proc_go() then runs the workload. */
	int (*start)(struct vz_sandbox *sb);
	/* The backend's start honours sb->prepare (vz_sandbox_prepare). */
	bool can_prepare;
	/* vz_sandbox_make_template (NULL: not supported by this backend). */
	int (*make_template)(struct vz_sandbox *sb);
	/* The child's exit report (VZ_IPC_EXIT on the status channel) comes only once no
	 * process of the sandbox can act any more: vz_sandbox_wait() may take the result
	 * from it and leave the reaping (and the kernel's teardown) to vz_sandbox_free(). */
	bool final_report;
	/* Optional: after the child has been reaped, adjust the result (e.g. a guest
	 * panic text) and release backend resources of the run. */
	void (*finish)(struct vz_sandbox *sb, vz_result *res);
	/* Optional: free backend-private state (sb->priv). Always succeeds. */
	void (*destroy)(struct vz_sandbox *sb);
};

/* The backend table; NULL if @id is unknown or not compiled in. */
const struct vz_backend_ops *vz_backend_lookup(vz_backend id);

#ifdef VZ_WITH_CONTAINER
extern const struct vz_backend_ops vz_container_backend;
#endif
#ifdef VZ_WITH_KVM
extern const struct vz_backend_ops vz_kvm_backend;
#endif

#endif
