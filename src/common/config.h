/* SPDX-License-Identifier: MIT */
/* The configuration record behind the opaque vz_config, shared by the backends. */
#ifndef VZ_COMMON_CONFIG_H
#define VZ_COMMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <vz/config.h>

struct vz_bind {
	char *src;	/* absolute host path */
	char *dst;	/* absolute path inside the sandbox */
	unsigned flags; /* VZ_BIND_* */
};

struct vz_stdio_spec {
	int mode; /* vz_stdio_mode */
	int fd;	  /* VZ_STDIO_FD: libvz's own close-on-exec duplicate, else -1 */
};

struct vz_config {
	char *rootfs;
	int rootfs_mode; /* vz_rootfs_mode */
	char *upper_dir; /* VZ_ROOTFS_PERSISTENT only */
	char **argv;	 /* NULL-terminated */
	char **env;	 /* NULL-terminated "NAME=value" */
	size_t env_len, env_cap; /* entries in env, and room for (NULL excluded) */
	/* Hash index of env by name: slot holds index + 1, 0 = empty; NULL = rebuild on
	 * next use. Keeps vz_config_setenv() O(1), so 100,000 variables take milliseconds. */
	size_t *env_slots;
	size_t env_nslots; /* power of two, > 2 * env_len */
	char *cwd;
	char *hostname;
	uint32_t uid, gid;
	struct vz_bind *binds;
	size_t nbinds;
	struct vz_stdio_spec stdio[3];
	int network; /* vz_network */
	int userns;  /* vz_userns_mode */
	char *kernel;
	char *kernel_cmdline;
	char *kernel_modules; /* the guest kernel's /lib/modules/RELEASE */
	int vm_start;	       /* vz_vm_start */
	char *vm_templates;    /* the template directory (NULL: the default) */
};

/* Deep copy (strings, arrays, duplicated fds). Records the error on failure. */
int vz_config_copy(const vz_config *src, vz_config **out);

/* Value of an environment variable in the configuration, or NULL. */
const char *vz_config_getenv(const vz_config *cfg, const char *name);

/* Checks shared by every backend at vz_sandbox_create(): with no rootfs set, fills in
 * $VZ_ROOTFS or the installed default (VZ_DEFAULT_ROOTFS); rootfs is a directory, argv
 * set and argv[0] an executable regular file inside the rootfs (resolved as the sandbox
 * would, symlinks confined to the rootfs), bind sources exist, cwd is absolute.
 * On success *exe_out receives argv[0]'s absolute path inside the sandbox (malloc'd). */
int vz_config_validate(vz_config *cfg, char **exe_out);

#endif
