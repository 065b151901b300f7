/* SPDX-License-Identifier: MIT */
/* The read-only backend table and the run-time capability query [krun krun_has_feature]. */
#include <stdio.h>
#include <string.h>

#include "common/backend.h"
#include "common/error.h"

static const struct vz_backend_ops *const backends[] = {
#ifdef VZ_WITH_CONTAINER
	&vz_container_backend,
#endif
#ifdef VZ_WITH_KVM
	&vz_kvm_backend,
#endif
};

const struct vz_backend_ops *vz_backend_lookup(vz_backend id)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i]->id == id)
			return backends[i];
	return NULL;
}

const char *vz_backend_name(vz_backend backend)
{
	switch (backend) {
	case VZ_BACKEND_CONTAINER:
		return "container";
	case VZ_BACKEND_VM:
		return "vm";
	}
	return NULL;
}

int vz_backend_available(vz_backend backend, const char **why)
{
	static _Thread_local char reason[512];
	const struct vz_backend_ops *ops = vz_backend_lookup(backend);
	int rc;

	reason[0] = '\0';
	if (why)
		*why = reason;
	if (!ops) {
		if (vz_backend_name(backend)) {
			snprintf(reason, sizeof(reason), "the %s backend is not built into this libvz",
				 vz_backend_name(backend));
			return vz_err_set(VZ_ENOTSUP, 0, "%s", reason);
		}
		snprintf(reason, sizeof(reason), "unknown backend %d", (int)backend);
		return vz_err_set(VZ_EINVAL, 0, "%s", reason);
	}
	rc = ops->probe(reason, sizeof(reason));
	if (rc)
		vz_err_set(rc, vz_error_last()->os_errno, "%s backend unavailable: %s", ops->name,
			   reason);
	return rc;
}

const char *vz_reason_name(int reason)
{
	switch (reason) {
	case VZ_REASON_NONE:
		return "none";
	case VZ_REASON_EXITED:
		return "exited";
	case VZ_REASON_SIGNALED:
		return "signaled";
	case VZ_REASON_TIMED_OUT:
		return "timed out";
	case VZ_REASON_OUT_OF_MEMORY:
		return "out of memory";
	case VZ_REASON_KILLED:
		return "killed";
	case VZ_REASON_CRASHED:
		return "crashed";
	case VZ_REASON_SETUP_FAILED:
		return "setup failed";
	default:
		return "unknown";
	}
}
