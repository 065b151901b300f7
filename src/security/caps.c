/* SPDX-License-Identifier: MIT */
/* Capability drop and no_new_privs for the workload's process, right before execve.
 *
 * The bounding set is what matters across execve: a uid-0 workload gets permitted =
 * bounding set when it execs, so cutting the bounding set limits root in the container
 * for good. The current sets are cut too, so that the remaining set-up steps already run
 * with the final privileges, and the ambient set is cleared so that a non-root workload
 * inherits nothing.
 *
 * Only raw prctl/capget/capset calls: async-signal-safe, no libcap, no /proc (which may
 * be the container's by now, or absent). */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "security/security.h"

/* Docker's documented default, bit for bit. */
_Static_assert(VZ_SEC_DEFAULT_CAPS == UINT64_C(0xa00425fb), "default capability set changed");

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

int vz_sec_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* Drop every bounding-set capability outside @keep. PR_CAPBSET_READ answers EINVAL past
 * the kernel's last capability, which ends the loop without reading cap_last_cap from
 * /proc. Reading first skips capabilities already gone: dropping needs CAP_SETPCAP even
 * for those, and a process without it may already have a small enough set. */
static int bounding_limit(uint64_t keep)
{
	for (int cap = 0; cap <= VZ_SEC_CAP_LIMIT; cap++) {
		int present;

		if (keep & VZ_SEC_CAP(cap))
			continue;
		present = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
		if (present < 0)
			return errno == EINVAL ? 0 : -errno;
		if (present && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static int ambient_clear(void)
{
	/* EINVAL: a kernel before 4.3, which has no ambient set to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/* Intersect permitted, effective and inheritable with @keep. Only ever removes bits, which
 * capset allows without privileges. Version 3 covers capabilities 0-63 in two words. */
static int sets_limit(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		uint32_t word = (uint32_t)(keep >> (32 * i));

		data[i].permitted &= word;
		data[i].effective &= word;
		data[i].inheritable &= word;
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

int vz_sec_caps_limit(uint64_t keep)
{
	int rc;

	/* Bounding set first: dropping from it needs CAP_SETPCAP in the effective set,
	 * which sets_limit() may remove when @keep lacks it. */
	rc = bounding_limit(keep);
	if (rc < 0)
		return rc;
	rc = ambient_clear();
	if (rc < 0)
		return rc;
	return sets_limit(keep);
}

int vz_sec_caps_drop(void)
{
	return vz_sec_caps_limit(VZ_SEC_DEFAULT_CAPS);
}
