/* SPDX-License-Identifier: MIT */
/* Kernel modules for a guest kernel that has libvz's drivers as modules (a distribution
 * kernel): which files of its module tree the guest init must load, and in what order,
 * read from the tree's modules.dep and modules.builtin. Runs in the host process at
 * create; the parser is pure (no allocation, no error state) so it can be fuzzed. */
#ifndef VZ_KVM_MODULES_H
#define VZ_KVM_MODULES_H

#include <stddef.h>

#define VZ_KMODS_MAX 32
#define VZ_KMOD_NAME_MAX 56

struct vz_kmod {
	const char *path; /* into the modules.dep text, relative to the tree (or absolute) */
	size_t path_len;
	char name[VZ_KMOD_NAME_MAX]; /* normalized: '-' as '_', no suffix */
};

/* In load order: every module after those it depends on. */
struct vz_kmods {
	struct vz_kmod m[VZ_KMODS_MAX];
	size_t n;
};

/* The drivers libvz's guest needs, by module name and the kernel option behind it. */
struct vz_kmod_need {
	const char *name, *option;
};
extern const struct vz_kmod_need vz_kmods_needed[];
extern const size_t vz_kmods_nneeded;

/* Resolve vz_kmods_needed against @dep (modules.dep, `PATH: DEP DEP...` lines) and
 * @builtin (modules.builtin, one PATH per line; may be empty): a needed module listed
 * as built in is skipped, any other is looked up in @dep with everything it depends on.
 * Neither text needs a terminating NUL. Returns 0, or -1 with a sentence in @why: a
 * needed driver that is neither built in nor a module, a dependency with no line of
 * its own, a cycle, more than VZ_KMODS_MAX modules, a name too long. */
int vz_kmods_resolve(const char *dep, size_t dep_len, const char *builtin, size_t builtin_len,
		     struct vz_kmods *out, char *why, size_t why_len);

/* The compression suffix of a module path (".xz", ".zst", ".gz") or "" for a plain .ko. */
const char *vz_kmod_suffix(const char *path, size_t len);

#endif
