/* SPDX-License-Identifier: MIT */
/* The opaque configuration builder: every setter copies its input, checks what it can
 * on its own, and names the setter and value in its error. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/error.h"
#include "common/util.h"

#define VZ_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define VZ_CMDLINE_MAX 1024

#define CHECK_CFG(cfg, fn)                                                                     \
	do {                                                                                   \
		if (!(cfg))                                                                    \
			return vz_err_set(VZ_EINVAL, 0, fn ": config is NULL");                \
	} while (0)

static int set_str(char **slot, const char *value)
{
	char *copy = NULL;
	if (value && !(copy = vz_strdup(value)))
		return VZ_ENOMEM;
	free(*slot);
	*slot = copy;
	return VZ_OK;
}

static int check_abs_path(const char *fn, const char *what, const char *path)
{
	if (!path)
		return vz_err_set(VZ_EINVAL, 0, "%s: %s is NULL", fn, what);
	if (path[0] != '/')
		return vz_err_set(VZ_EINVAL, 0, "%s: %s \"%s\" is not an absolute path", fn, what,
				  path);
	if (strlen(path) >= 4096)
		return vz_err_set(VZ_EINVAL, 0, "%s: %s is longer than PATH_MAX", fn, what);
	return VZ_OK;
}

int vz_config_new(vz_config **out)
{
	vz_config *cfg;

	if (!out)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_new: out is NULL");
	*out = NULL;
	cfg = vz_calloc(1, sizeof(*cfg));
	if (!cfg)
		return VZ_ENOMEM;
	cfg->env = vz_calloc(2, sizeof(char *));
	if (!cfg->env || !(cfg->env[0] = vz_strdup(VZ_DEFAULT_PATH)) ||
	    !(cfg->cwd = vz_strdup("/")) || !(cfg->hostname = vz_strdup("vz"))) {
		vz_config_free(cfg);
		return vz_err_oom();
	}
	cfg->env_len = cfg->env_cap = 1;
	for (int i = 0; i < 3; i++)
		cfg->stdio[i] = (struct vz_stdio_spec){ VZ_STDIO_INHERIT, -1 };
	*out = cfg;
	return VZ_OK;
}

void vz_config_free(vz_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->rootfs);
	free(cfg->upper_dir);
	vz_strv_free(cfg->argv);
	vz_strv_free(cfg->env);
	free(cfg->env_slots);
	free(cfg->cwd);
	free(cfg->hostname);
	for (size_t i = 0; i < cfg->nbinds; i++) {
		free(cfg->binds[i].src);
		free(cfg->binds[i].dst);
	}
	free(cfg->binds);
	for (int i = 0; i < 3; i++)
		vz_close(&cfg->stdio[i].fd);
	free(cfg->kernel);
	free(cfg->kernel_cmdline);
	free(cfg->kernel_modules);
	free(cfg->vm_templates);
	free(cfg);
}

int vz_config_set_rootfs(vz_config *cfg, const char *path)
{
	CHECK_CFG(cfg, "vz_config_set_rootfs");
	int rc = check_abs_path("vz_config_set_rootfs", "rootfs", path);
	return rc ? rc : set_str(&cfg->rootfs, path);
}

int vz_config_set_rootfs_mode(vz_config *cfg, vz_rootfs_mode mode, const char *upper_dir)
{
	CHECK_CFG(cfg, "vz_config_set_rootfs_mode");
	switch (mode) {
	case VZ_ROOTFS_EPHEMERAL:
	case VZ_ROOTFS_READONLY:
		if (upper_dir)
			return vz_err_set(VZ_EINVAL, 0,
					  "vz_config_set_rootfs_mode: an upper dir is only for "
					  "VZ_ROOTFS_PERSISTENT");
		break;
	case VZ_ROOTFS_PERSISTENT: {
		int rc = check_abs_path("vz_config_set_rootfs_mode", "upper dir", upper_dir);
		if (rc)
			return rc;
		break;
	}
	default:
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_rootfs_mode: unknown mode %d",
				  (int)mode);
	}
	if (set_str(&cfg->upper_dir, upper_dir))
		return VZ_ENOMEM;
	cfg->rootfs_mode = mode;
	return VZ_OK;
}

int vz_config_set_argv(vz_config *cfg, int argc, const char *const *argv)
{
	char **v;

	CHECK_CFG(cfg, "vz_config_set_argv");
	if (argc < 1 || !argv)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_argv: argv is empty");
	if (!argv[0] || !argv[0][0])
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_argv: argv[0] is empty");
	for (int i = 1; i < argc; i++)
		if (!argv[i])
			return vz_err_set(VZ_EINVAL, 0, "vz_config_set_argv: argv[%d] is NULL", i);
	v = vz_calloc((size_t)argc + 1, sizeof(*v));
	if (!v)
		return VZ_ENOMEM;
	for (int i = 0; i < argc; i++) {
		if (!(v[i] = vz_strdup(argv[i]))) {
			vz_strv_free(v);
			return VZ_ENOMEM;
		}
	}
	vz_strv_free(cfg->argv);
	cfg->argv = v;
	return VZ_OK;
}

static size_t env_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	return (size_t)h;
}

/* Name length of entry "NAME=value". */
static size_t env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static void env_index_put(vz_config *cfg, size_t i)
{
	size_t mask = cfg->env_nslots - 1;
	size_t at = env_hash(cfg->env[i], env_name_len(cfg->env[i])) & mask;
	while (cfg->env_slots[at])
		at = (at + 1) & mask;
	cfg->env_slots[at] = i + 1;
}

/* (Re)build the index for at least @want entries. Returns false without memory. */
static bool env_index_build(vz_config *cfg, size_t want)
{
	size_t n = 16;
	while (n <= 2 * want)
		n *= 2;
	free(cfg->env_slots);
	cfg->env_nslots = 0;
	cfg->env_slots = calloc(n, sizeof(size_t));
	if (!cfg->env_slots)
		return false;
	cfg->env_nslots = n;
	for (size_t i = 0; i < cfg->env_len; i++)
		env_index_put(cfg, i);
	return true;
}

/* Index of @name in env, -1 if unset, -2 without memory for the index. */
static ssize_t env_find(vz_config *cfg, const char *name, size_t len)
{
	size_t mask, at;

	if (!cfg->env_slots && !env_index_build(cfg, cfg->env_len))
		return -2;
	mask = cfg->env_nslots - 1;
	for (at = env_hash(name, len) & mask; cfg->env_slots[at]; at = (at + 1) & mask) {
		const char *e = cfg->env[cfg->env_slots[at] - 1];
		if (!strncmp(e, name, len) && e[len] == '=')
			return (ssize_t)(cfg->env_slots[at] - 1);
	}
	return -1;
}

int vz_config_setenv(vz_config *cfg, const char *name, const char *value)
{
	size_t len;
	ssize_t at;
	char *entry = NULL;

	CHECK_CFG(cfg, "vz_config_setenv");
	if (!name || !name[0] || strchr(name, '='))
		return vz_err_set(VZ_EINVAL, 0, "vz_config_setenv: bad variable name \"%s\"",
				  name ? name : "(null)");
	len = strlen(name);
	if ((at = env_find(cfg, name, len)) == -2)
		return vz_err_oom();
	if (value && !(entry = vz_asprintf("%s=%s", name, value)))
		return VZ_ENOMEM;
	if (at >= 0) {
		free(cfg->env[at]);
		if (entry) {
			cfg->env[at] = entry;
		} else {
			/* Removal shifts later entries: the index is rebuilt on next use. */
			memmove(&cfg->env[at], &cfg->env[at + 1],
				(cfg->env_len - (size_t)at) * sizeof(char *));
			cfg->env_len--;
			free(cfg->env_slots);
			cfg->env_slots = NULL;
		}
		return VZ_OK;
	}
	if (!entry)
		return VZ_OK;
	if (cfg->env_len + 1 > cfg->env_cap) {
		size_t cap = cfg->env_cap < 8 ? 16 : cfg->env_cap * 2;
		char **grown = realloc(cfg->env, (cap + 1) * sizeof(char *));
		if (!grown) {
			free(entry);
			return vz_err_oom();
		}
		cfg->env = grown;
		cfg->env_cap = cap;
	}
	cfg->env[cfg->env_len++] = entry;
	cfg->env[cfg->env_len] = NULL;
	if (2 * cfg->env_len >= cfg->env_nslots) {
		if (!env_index_build(cfg, 2 * cfg->env_len)) {
			cfg->env[--cfg->env_len] = NULL;
			free(entry);
			return vz_err_oom();
		}
	} else {
		env_index_put(cfg, cfg->env_len - 1);
	}
	return VZ_OK;
}

int vz_config_clearenv(vz_config *cfg)
{
	CHECK_CFG(cfg, "vz_config_clearenv");
	for (size_t i = 0; cfg->env && cfg->env[i]; i++) {
		free(cfg->env[i]);
		cfg->env[i] = NULL;
	}
	cfg->env_len = 0;
	free(cfg->env_slots);
	cfg->env_slots = NULL;
	cfg->env_nslots = 0;
	return VZ_OK;
}

int vz_config_set_cwd(vz_config *cfg, const char *path)
{
	CHECK_CFG(cfg, "vz_config_set_cwd");
	int rc = check_abs_path("vz_config_set_cwd", "cwd", path);
	return rc ? rc : set_str(&cfg->cwd, path);
}

int vz_config_set_hostname(vz_config *cfg, const char *hostname)
{
	CHECK_CFG(cfg, "vz_config_set_hostname");
	if (!hostname || !hostname[0] || strlen(hostname) > 64)
		return vz_err_set(VZ_EINVAL, 0,
				  "vz_config_set_hostname: host name must have 1 to 64 characters");
	for (const char *p = hostname; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return vz_err_set(VZ_EINVAL, 0,
					  "vz_config_set_hostname: invalid character in \"%s\"",
					  hostname);
	}
	return set_str(&cfg->hostname, hostname);
}

int vz_config_set_user(vz_config *cfg, uint32_t uid, uint32_t gid)
{
	CHECK_CFG(cfg, "vz_config_set_user");
	if (uid == UINT32_MAX || gid == UINT32_MAX)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_user: %u is not a valid id",
				  UINT32_MAX);
	cfg->uid = uid;
	cfg->gid = gid;
	return VZ_OK;
}

static bool path_has_dotdot(const char *p)
{
	/* A ".." component could climb out of the new root while it is being built. */
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '/' || c[2] == '\0'))
			return true;
	return false;
}

int vz_config_add_bind(vz_config *cfg, const char *host_path, const char *sandbox_path,
		       unsigned flags)
{
	struct vz_bind *grown, b = { 0 };
	int rc;

	CHECK_CFG(cfg, "vz_config_add_bind");
	if ((rc = check_abs_path("vz_config_add_bind", "host path", host_path)) ||
	    (rc = check_abs_path("vz_config_add_bind", "sandbox path", sandbox_path)))
		return rc;
	if (!strcmp(sandbox_path, "/") || path_has_dotdot(sandbox_path))
		return vz_err_set(VZ_EINVAL, 0,
				  "vz_config_add_bind: sandbox path \"%s\" must name a directory "
				  "below / without \"..\"", sandbox_path);
	if (flags & ~(unsigned)VZ_BIND_RO)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_add_bind: unknown flags 0x%x", flags);
	b.flags = flags;
	if (!(b.src = vz_strdup(host_path)) || !(b.dst = vz_strdup(sandbox_path))) {
		free(b.src);
		return VZ_ENOMEM;
	}
	grown = realloc(cfg->binds, (cfg->nbinds + 1) * sizeof(*grown));
	if (!grown) {
		free(b.src);
		free(b.dst);
		return vz_err_oom();
	}
	grown[cfg->nbinds++] = b;
	cfg->binds = grown;
	return VZ_OK;
}

int vz_config_set_stdio(vz_config *cfg, vz_stream stream, vz_stdio_mode mode, int fd)
{
	int dup = -1;

	CHECK_CFG(cfg, "vz_config_set_stdio");
	if ((int)stream < 0 || (int)stream > 2)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_stdio: unknown stream %d",
				  (int)stream);
	switch (mode) {
	case VZ_STDIO_INHERIT:
	case VZ_STDIO_NULL:
	case VZ_STDIO_PIPE:
		break;
	case VZ_STDIO_FD:
		if (fd < 0)
			return vz_err_set(VZ_EINVAL, 0, "vz_config_set_stdio: stream %d: fd %d is "
					  "not a file descriptor (must be >= 0)", (int)stream, fd);
		if ((dup = vz_dup_cloexec(fd, 3)) < 0)
			return vz_err_sys(VZ_EINVAL, "vz_config_set_stdio: stream %d: fd %d",
					  (int)stream, fd);
		break;
	default:
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_stdio: unknown mode %d", (int)mode);
	}
	vz_close(&cfg->stdio[stream].fd);
	cfg->stdio[stream].mode = mode;
	cfg->stdio[stream].fd = dup;
	return VZ_OK;
}

int vz_config_set_network(vz_config *cfg, vz_network mode)
{
	CHECK_CFG(cfg, "vz_config_set_network");
	if (mode != VZ_NET_LOOPBACK && mode != VZ_NET_NONE && mode != VZ_NET_HOST)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_network: unknown mode %d",
				  (int)mode);
	cfg->network = mode;
	return VZ_OK;
}

int vz_config_set_userns(vz_config *cfg, vz_userns_mode mode)
{
	CHECK_CFG(cfg, "vz_config_set_userns");
	if (mode != VZ_USERNS_AUTO && mode != VZ_USERNS_ON && mode != VZ_USERNS_OFF)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_userns: unknown mode %d", (int)mode);
	cfg->userns = mode;
	return VZ_OK;
}

int vz_config_set_kernel(vz_config *cfg, const char *path)
{
	CHECK_CFG(cfg, "vz_config_set_kernel");
	int rc = check_abs_path("vz_config_set_kernel", "kernel", path);
	return rc ? rc : set_str(&cfg->kernel, path);
}

int vz_config_set_kernel_cmdline(vz_config *cfg, const char *extra)
{
	CHECK_CFG(cfg, "vz_config_set_kernel_cmdline");
	if (extra && strlen(extra) > VZ_CMDLINE_MAX)
		return vz_err_set(VZ_EINVAL, 0,
				  "vz_config_set_kernel_cmdline: longer than %d bytes",
				  VZ_CMDLINE_MAX);
	return set_str(&cfg->kernel_cmdline, extra);
}

int vz_config_set_kernel_modules(vz_config *cfg, const char *dir)
{
	CHECK_CFG(cfg, "vz_config_set_kernel_modules");
	int rc = check_abs_path("vz_config_set_kernel_modules", "module directory", dir);
	return rc ? rc : set_str(&cfg->kernel_modules, dir);
}

int vz_config_set_vm_start(vz_config *cfg, vz_vm_start mode)
{
	CHECK_CFG(cfg, "vz_config_set_vm_start");
	if (mode != VZ_VM_START_RESTORE && mode != VZ_VM_START_COLD)
		return vz_err_set(VZ_EINVAL, 0, "vz_config_set_vm_start: unknown mode %d", (int)mode);
	cfg->vm_start = mode;
	return VZ_OK;
}

int vz_config_set_vm_templates(vz_config *cfg, const char *dir)
{
	CHECK_CFG(cfg, "vz_config_set_vm_templates");
	int rc = check_abs_path("vz_config_set_vm_templates", "template directory", dir);
	return rc ? rc : set_str(&cfg->vm_templates, dir);
}

const char *vz_config_getenv(const vz_config *cfg, const char *name)
{
	size_t len = strlen(name);
	/* A linear scan when there is no index yet: the config is const here. */
	if (!cfg->env_slots) {
		for (size_t i = 0; i < cfg->env_len; i++)
			if (!strncmp(cfg->env[i], name, len) && cfg->env[i][len] == '=')
				return cfg->env[i] + len + 1;
		return NULL;
	}
	ssize_t at = env_find((vz_config *)cfg, name, len);
	return at >= 0 ? cfg->env[at] + len + 1 : NULL;
}

static int copy_strs(const vz_config *src, vz_config *dst)
{
	if ((src->rootfs && !(dst->rootfs = vz_strdup(src->rootfs))) ||
	    (src->upper_dir && !(dst->upper_dir = vz_strdup(src->upper_dir))) ||
	    (src->argv && !(dst->argv = vz_strv_dup(src->argv))) ||
	    !(dst->env = vz_strv_dup(src->env)) || !(dst->cwd = vz_strdup(src->cwd)) ||
	    !(dst->hostname = vz_strdup(src->hostname)) ||
	    (src->kernel && !(dst->kernel = vz_strdup(src->kernel))) ||
	    (src->kernel_cmdline && !(dst->kernel_cmdline = vz_strdup(src->kernel_cmdline))) ||
	    (src->kernel_modules && !(dst->kernel_modules = vz_strdup(src->kernel_modules))) ||
	    (src->vm_templates && !(dst->vm_templates = vz_strdup(src->vm_templates))))
		return VZ_ENOMEM;
	return VZ_OK;
}

int vz_config_copy(const vz_config *src, vz_config **out)
{
	vz_config *dst = vz_calloc(1, sizeof(*dst));

	if (!dst)
		return VZ_ENOMEM;
	*dst = (vz_config){ .rootfs_mode = src->rootfs_mode, .uid = src->uid, .gid = src->gid,
			    .network = src->network, .userns = src->userns,
			    .vm_start = src->vm_start };
	for (int i = 0; i < 3; i++)
		dst->stdio[i] = (struct vz_stdio_spec){ src->stdio[i].mode, -1 };
	if (copy_strs(src, dst))
		goto fail;
	dst->env_len = dst->env_cap = src->env_len;
	if (src->nbinds && !(dst->binds = vz_calloc(src->nbinds, sizeof(*dst->binds))))
		goto fail;
	for (size_t i = 0; i < src->nbinds; i++, dst->nbinds++) {
		dst->binds[i].flags = src->binds[i].flags;
		if (!(dst->binds[i].src = vz_strdup(src->binds[i].src)) ||
		    !(dst->binds[i].dst = vz_strdup(src->binds[i].dst)))
			goto fail_bind;
	}
	for (int i = 0; i < 3; i++) {
		if (src->stdio[i].fd >= 0 && (dst->stdio[i].fd = vz_dup_cloexec(src->stdio[i].fd, 3)) < 0) {
			vz_err_sys(VZ_ERROR, "copy config: duplicate stdio fd %d", src->stdio[i].fd);
			goto fail_code;
		}
	}
	*out = dst;
	return VZ_OK;
fail_bind:
	dst->nbinds++;
fail:
	vz_err_oom();
fail_code:
	vz_config_free(dst);
	return vz_error_last()->code;
}
