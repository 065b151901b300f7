/* SPDX-License-Identifier: MIT */
/* Checks at vz_sandbox_create() that need the file system: shared by both backends,
 * since a VM runs the same rootfs and argv as a container. */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/config.h"
#include "common/error.h"
#include "common/util.h"

/* Where `cmake --install` and tools/setup.sh put the default rootfs (set by CMake). */
#ifndef VZ_DEFAULT_ROOTFS
#define VZ_DEFAULT_ROOTFS "/usr/local/share/libvz/rootfs"
#endif

/* Open @path inside the directory @rootfd as the sandbox would see it: absolute
 * symlinks and ".." are confined to the rootfs (RESOLVE_IN_ROOT), so a symlink such as
 * /bin/true -> /bin/busybox resolves to the rootfs's busybox, not the host's. */
static int open_in_root(int rootfd, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* 0 if @path is an executable regular file inside the rootfs; else a recorded error. */
static int check_exe(int rootfd, const char *rootfs, const char *path, const char *argv0)
{
	struct stat st;
	vz_autoclose int fd = open_in_root(rootfd, path);

	if (fd < 0)
		return vz_err_sys(vz_status_from_errno(errno), "argv[0] %s: %s not found in rootfs %s",
				  argv0, path, rootfs);
	if (fstat(fd, &st) < 0)
		return vz_err_sys(VZ_ERROR, "argv[0] %s: stat %s in rootfs %s", argv0, path, rootfs);
	if (!S_ISREG(st.st_mode))
		return vz_err_set(VZ_EPERM, EACCES, "argv[0] %s: %s in rootfs %s is not a regular file",
				  argv0, path, rootfs);
	if (!(st.st_mode & 0111))
		return vz_err_set(VZ_EPERM, EACCES, "argv[0] %s: %s in rootfs %s is not executable",
				  argv0, path, rootfs);
	return VZ_OK;
}

/* The host path behind sandbox path @path when a bind covers it (the longest bind
 * target that is @path or one of its parents), else NULL. malloc'd. */
static char *bind_host_path(const vz_config *cfg, const char *path, bool *nomem)
{
	const struct vz_bind *best = NULL;
	size_t best_len = 0;

	*nomem = false;
	for (size_t i = 0; i < cfg->nbinds; i++) {
		const char *dst = cfg->binds[i].dst;
		size_t n = strlen(dst);
		while (n > 1 && dst[n - 1] == '/')
			n--;
		if (n == 1 && dst[0] == '/')
			n = 0;
		if (strncmp(path, dst, n) || (path[n] != '/' && path[n] != '\0') || (best && n < best_len))
			continue;
		best = &cfg->binds[i];
		best_len = n;
	}
	if (!best)
		return NULL;
	char *host = vz_asprintf("%s%s", best->src, path + best_len);
	*nomem = !host;
	return host;
}

/* 0 if @path names an executable regular file in the sandbox: in a bind that covers it
 * (the program may come with a bind), else in the rootfs. */
static int check_exe_any(const vz_config *cfg, int rootfd, const char *path, const char *argv0)
{
	struct stat st;
	bool nomem;
	vz_autofree char *host = bind_host_path(cfg, path, &nomem);

	if (nomem)
		return VZ_ENOMEM;
	if (!host)
		return check_exe(rootfd, cfg->rootfs, path, argv0);
	if (stat(host, &st) < 0)
		return vz_err_sys(vz_status_from_errno(errno), "argv[0] %s: %s not found in bind "
				  "source %s", argv0, path, host);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return vz_err_set(VZ_EPERM, EACCES, "argv[0] %s: %s (bind source %s) is not an "
				  "executable regular file", argv0, path, host);
	return VZ_OK;
}

/* Search PATH of the sandbox environment like execvp(), inside the rootfs. */
static int search_path(const vz_config *cfg, int rootfd, char **exe_out)
{
	const char *argv0 = cfg->argv[0];
	const char *path = vz_config_getenv(cfg, "PATH");
	const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin";
	int first_err = 0;

	while (*p) {
		const char *end = strchrnul(p, ':');
		char *cand = vz_asprintf("%.*s/%s", (int)(end - p), p, argv0);
		if (!cand)
			return VZ_ENOMEM;
		if (cand[0] == '/' && check_exe_any(cfg, rootfd, cand, argv0) == VZ_OK) {
			*exe_out = cand;
			return VZ_OK;
		}
		if (!first_err && cand[0] == '/' && vz_error_last()->code == VZ_EPERM)
			first_err = VZ_EPERM;
		free(cand);
		p = *end ? end + 1 : end;
	}
	if (first_err)
		return vz_err_set(VZ_EPERM, EACCES, "argv[0] %s: found in rootfs %s but not executable",
				  argv0, cfg->rootfs);
	return vz_err_set(VZ_ENOENT, ENOENT, "argv[0] %s not found in rootfs %s (PATH=%s)", argv0,
			  cfg->rootfs, path ? path : "");
}

/* Is @a the directory @b or below it? (both canonical) */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);
	if (n == 1)
		return true;
	return !strncmp(a, b, n) && (a[n] == '/' || a[n] == '\0');
}

/* The persistent layer must be a directory apart from the image: overlayfs refuses
 * layers inside one another, and libvz would otherwise create its upper/ and work/ in
 * the image it promises never to write. */
static int check_upper(const vz_config *cfg)
{
	struct stat st;
	vz_autofree char *upper = NULL, *root = NULL;

	if (stat(cfg->upper_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return vz_err_set(VZ_ENOENT, ENOENT, "upper dir %s: not an existing directory",
				  cfg->upper_dir);
	upper = realpath(cfg->upper_dir, NULL);
	root = realpath(cfg->rootfs, NULL);
	if (!upper || !root)
		return vz_err_sys(vz_status_from_errno(errno), "upper dir %s or rootfs %s: resolve",
				  cfg->upper_dir, cfg->rootfs);
	if (!strcmp(upper, root))
		return vz_err_set(VZ_EINVAL, 0, "upper dir %s is the rootfs itself: the writable "
				  "layer must be a directory outside the rootfs", cfg->upper_dir);
	if (path_within(upper, root))
		return vz_err_set(VZ_EINVAL, 0, "upper dir %s is inside the rootfs %s: the writable "
				  "layer must be a directory outside it", cfg->upper_dir, cfg->rootfs);
	if (path_within(root, upper))
		return vz_err_set(VZ_EINVAL, 0, "rootfs %s is inside the upper dir %s: the writable "
				  "layer must be a directory apart from it", cfg->rootfs, cfg->upper_dir);
	return VZ_OK;
}

static int check_binds(const vz_config *cfg)
{
	struct stat st;
	for (size_t i = 0; i < cfg->nbinds; i++)
		if (stat(cfg->binds[i].src, &st) < 0)
			return vz_err_sys(vz_status_from_errno(errno), "bind %s -> %s: source %s",
					  cfg->binds[i].src, cfg->binds[i].dst, cfg->binds[i].src);
	return VZ_OK;
}

/* No rootfs configured: take $VZ_ROOTFS, else the installed default, and store the
 * choice in @cfg (the sandbox's own copy), so the backends see an ordinary rootfs.
 * secure_getenv: a set-uid host must not let its caller pick the image. */
static int default_rootfs(vz_config *cfg)
{
	const char *env = secure_getenv("VZ_ROOTFS");
	struct stat st;

	if (env && *env) {
		if (env[0] != '/')
			return vz_err_set(VZ_EINVAL, 0, "rootfs: $VZ_ROOTFS \"%s\" is not absolute",
					  env);
		if (stat(env, &st) < 0)
			return vz_err_sys(vz_status_from_errno(errno),
					  "rootfs %s (from $VZ_ROOTFS)", env);
	} else if (stat(VZ_DEFAULT_ROOTFS, &st) < 0) {
		return vz_err_sys(vz_status_from_errno(errno),
				  "no rootfs: none set with vz_config_set_rootfs(), $VZ_ROOTFS "
				  "is not set, and the default rootfs %s (from tools/setup.sh)",
				  VZ_DEFAULT_ROOTFS);
	} else {
		env = VZ_DEFAULT_ROOTFS;
	}
	cfg->rootfs = vz_strdup(env);
	return cfg->rootfs ? VZ_OK : VZ_ENOMEM;
}

int vz_config_validate(vz_config *cfg, char **exe_out)
{
	struct stat st;
	vz_autoclose int rootfd = -1;
	int rc;

	*exe_out = NULL;
	if (!cfg->rootfs && (rc = default_rootfs(cfg)))
		return rc;
	if (!cfg->argv)
		return vz_err_set(VZ_EINVAL, 0, "argv is not set (vz_config_set_argv)");
	rootfd = open(cfg->rootfs, O_PATH | O_CLOEXEC);
	if (rootfd < 0)
		return vz_err_sys(vz_status_from_errno(errno), "rootfs %s", cfg->rootfs);
	if (fstat(rootfd, &st) < 0 || !S_ISDIR(st.st_mode))
		return vz_err_set(VZ_EINVAL, ENOTDIR, "rootfs %s: not a directory", cfg->rootfs);
	if (cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT && (rc = check_upper(cfg)))
		return rc;
	if ((rc = check_binds(cfg)))
		return rc;
	if (strchr(cfg->argv[0], '/')) {
		if (cfg->argv[0][0] != '/')
			return vz_err_set(VZ_EINVAL, 0,
					  "argv[0] %s: a path must be absolute inside the sandbox",
					  cfg->argv[0]);
		if ((rc = check_exe_any(cfg, rootfd, cfg->argv[0], cfg->argv[0])))
			return rc;
		*exe_out = vz_strdup(cfg->argv[0]);
		return *exe_out ? VZ_OK : VZ_ENOMEM;
	}
	return search_path(cfg, rootfd, exe_out);
}
