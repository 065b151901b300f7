/* SPDX-License-Identifier: MIT */
/* The guest's root file system, built in memory by the host process at start: a cpio
 * "newc" archive [Documentation/driver-api/early-userspace/buffer-format.rst] of the
 * rootfs directory, the read-only binds, libvz's guest init (/.vz/init) and the job
 * (/.vz/job, see guest/job.h). The archive lives in an anonymous mapping that grows
 * with mremap and is capped, so a rootfs too large for the guest fails with a clear
 * error instead of exhausting host memory. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/config.h"
#include "common/error.h"
#include "common/util.h"
#include "kvm/guest/job.h"
#include "kvm/initramfs.h"

#define MAX_DEPTH 64

static int grow(struct vz_cpio *c, size_t need)
{
	size_t cap = c->cap ? c->cap : (size_t)1 << 20;
	void *p;

	if (c->len + need <= c->cap)
		return VZ_OK;
	if (c->len + need > c->max)
		return vz_err_set(VZ_EINVAL, 0,
				  "the rootfs does not fit in the VM: more than %zu MiB of files for "
				  "%llu MiB of guest RAM (raise the memory limit, or use a smaller rootfs)",
				  c->max >> 20, (unsigned long long)(c->ram >> 20));
	while (cap < c->len + need)
		cap *= 2;
	if (cap > c->max)
		cap = c->max;
	p = c->buf ? mremap(c->buf, c->cap, cap, MREMAP_MAYMOVE)
		   : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return vz_err_sys(VZ_ENOMEM, "initramfs: map %zu bytes", cap);
	c->buf = p;
	c->cap = cap;
	return VZ_OK;
}

static void pad4(struct vz_cpio *c)
{
	while (c->len & 3)
		c->buf[c->len++] = 0;
}

/* Header and name; the caller appends @size bytes of data, then pad4(). */
static int header(struct vz_cpio *c, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
		  uint64_t mtime, uint64_t size, uint32_t rdev)
{
	size_t nlen = strlen(name) + 1;
	int rc;

	if (size > 0xffffffffu)
		return vz_err_set(VZ_EINVAL, 0, "initramfs: %s is larger than 4 GiB", name);
	if ((rc = grow(c, 110 + nlen + 3 + size + 3)))
		return rc;
	c->len += (size_t)snprintf((char *)c->buf + c->len, 111,
				   "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
				   ++c->ino, mode, uid, gid, 1u, (uint32_t)mtime, (uint32_t)size, 0u,
				   0u, major(rdev), minor(rdev), (uint32_t)nlen, 0u);
	memcpy(c->buf + c->len, name, nlen);
	c->len += nlen;
	pad4(c);
	return VZ_OK;
}

static int add_data(struct vz_cpio *c, const char *name, uint32_t mode, const void *data,
		    size_t len)
{
	int rc = header(c, name, mode, 0, 0, 0, len, 0);
	if (rc)
		return rc;
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	pad4(c);
	return VZ_OK;
}

/* One file system object, @name relative to the archive root. */
static int add_node(struct vz_cpio *c, int dirfd, const char *leaf, const char *name,
		    const struct stat *st, int depth);

static int add_dir(struct vz_cpio *c, int fd, const char *name, int depth)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX];
	int rc = VZ_OK;

	if (depth > MAX_DEPTH)
		return vz_err_set(VZ_EINVAL, 0, "initramfs: %s nests deeper than %d levels", name,
				  MAX_DEPTH);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return vz_err_sys(VZ_ERROR, "initramfs: read directory /%s", name);
	}
	while (!rc && (errno = 0, e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (depth == 0 && !strcmp(e->d_name, ".vz"))
			continue; /* ours */
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", name, *name ? "/" : "",
				     e->d_name) >= sizeof(path)) {
			rc = vz_err_set(VZ_EINVAL, 0, "initramfs: path too long under /%s", name);
			break;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = vz_err_sys(VZ_ERROR, "initramfs: stat /%s", path);
			break;
		}
		rc = add_node(c, dirfd(d), e->d_name, path, &st, depth + 1);
	}
	if (!rc && errno)
		rc = vz_err_sys(VZ_ERROR, "initramfs: read directory /%s", name);
	closedir(d);
	return rc;
}

static int add_node(struct vz_cpio *c, int dirfd, const char *leaf, const char *name,
		    const struct stat *st, int depth)
{
	uint32_t mode = (uint32_t)st->st_mode;
	int rc;

	if (S_ISDIR(st->st_mode)) {
		int fd = openat(dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return vz_err_sys(VZ_ERROR, "initramfs: open directory /%s", name);
		if (*name && (rc = header(c, name, mode, st->st_uid, st->st_gid,
					  (uint64_t)st->st_mtime, 0, 0))) {
			close(fd);
			return rc;
		}
		return add_dir(c, fd, name, depth);
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, leaf, target, sizeof(target));
		if (n < 0 || n == (ssize_t)sizeof(target))
			return vz_err_sys(VZ_ERROR, "initramfs: read link /%s", name);
		if ((rc = header(c, name, mode, st->st_uid, st->st_gid, (uint64_t)st->st_mtime,
				 (uint64_t)n, 0)))
			return rc;
		memcpy(c->buf + c->len, target, (size_t)n);
		c->len += (size_t)n;
		pad4(c);
		return VZ_OK;
	}
	if (S_ISREG(st->st_mode)) {
		vz_autoclose int fd = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		size_t off = 0, size = (size_t)st->st_size;
		if (fd < 0)
			return vz_err_sys(VZ_ERROR, "initramfs: open /%s", name);
		if ((rc = header(c, name, mode, st->st_uid, st->st_gid, (uint64_t)st->st_mtime, size, 0)))
			return rc;
		while (off < size) {
			ssize_t n = pread(fd, c->buf + c->len + off, size - off, (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return vz_err_sys(VZ_ERROR, "initramfs: read /%s", name);
			off += (size_t)n;
		}
		c->len += size;
		pad4(c);
		return VZ_OK;
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode))
		return header(c, name, mode, st->st_uid, st->st_gid, (uint64_t)st->st_mtime, 0,
			      (uint32_t)st->st_rdev);
	return VZ_OK; /* sockets have no meaning in a copy */
}

/* Every parent of @rel ("a/b/c" -> "a", "a/b") as a directory, so a bind target exists. */
static int add_parents(struct vz_cpio *c, const char *rel)
{
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s", rel);
	for (char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if ((rc = header(c, path, S_IFDIR | 0755, 0, 0, 0, 0, 0)))
			return rc;
		*s = '/';
	}
	return VZ_OK;
}

static int add_tree(struct vz_cpio *c, const char *src, const char *rel)
{
	struct stat st;
	int rc;

	if (lstat(src, &st) < 0)
		return vz_err_sys(vz_status_from_errno(errno), "initramfs: %s", src);
	if (*rel && (rc = add_parents(c, rel)))
		return rc;
	if (!*rel) { /* the root itself */
		int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return vz_err_sys(vz_status_from_errno(errno), "initramfs: open %s", src);
		return add_dir(c, fd, "", 0);
	}
	return add_node(c, AT_FDCWD, src, rel, &st, 1);
}

/* ---- the job ---- */

static int rec(struct vz_cpio *j, const char *key, const char *val)
{
	size_t k = strlen(key), v = strlen(val);
	int rc = grow(j, k + v + 2);
	if (rc)
		return rc;
	memcpy(j->buf + j->len, key, k);
	j->buf[j->len + k] = '=';
	memcpy(j->buf + j->len + k + 1, val, v + 1);
	j->len += k + v + 2;
	return VZ_OK;
}

static int recn(struct vz_cpio *j, const char *key, long long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", v);
	return rec(j, key, b);
}

static int build_job(struct vz_cpio *j, const struct vz_initramfs_spec *s)
{
	const vz_config *cfg = s->cfg;
	int rc = rec(j, "exe", s->exe);

	for (char **a = cfg->argv; !rc && *a; a++)
		rc = rec(j, "arg", *a);
	for (char **e = cfg->env; !rc && e && *e; e++)
		rc = rec(j, "env", *e);
	if (!rc && cfg->cwd)
		rc = rec(j, "cwd", cfg->cwd);
	if (!rc && cfg->hostname)
		rc = rec(j, "hostname", cfg->hostname);
	if (!rc)
		rc = recn(j, "uid", cfg->uid);
	if (!rc)
		rc = recn(j, "gid", cfg->gid);
	if (!rc && s->pids)
		rc = recn(j, "pids", s->pids);
	if (!rc && s->nofile)
		rc = recn(j, "nofile", s->nofile);
	if (!rc)
		rc = rec(j, "stdin", s->stdio_tty[0] ? "tty" : "null");
	if (!rc)
		rc = rec(j, "stdout", s->stdio_tty[1] ? "tty" : "null");
	if (!rc)
		rc = rec(j, "stderr", s->stdio_tty[2] ? "tty" : "null");
	if (!rc)
		rc = rec(j, "net", cfg->network == VZ_NET_NONE ? "none" : "loopback");
	if (!rc)
		rc = rec(j, "rootfs", cfg->rootfs_mode == VZ_ROOTFS_READONLY ? "ro" : "rw");
	for (size_t i = 0; !rc && i < cfg->nbinds; i++)
		rc = rec(j, "robind", cfg->binds[i].dst);
	return rc;
}

int vz_initramfs_build(struct vz_cpio *c, const struct vz_initramfs_spec *s)
{
	struct vz_cpio job = { .max = 1 << 24 };
	const vz_config *cfg = s->cfg;
	int rc;

	rc = add_tree(c, cfg->rootfs, "");
	for (size_t i = 0; !rc && i < cfg->nbinds; i++)
		rc = add_tree(c, cfg->binds[i].src, cfg->binds[i].dst + 1);
	if (!rc && !(rc = build_job(&job, s)) && !(rc = header(c, ".vz", S_IFDIR | 0700, 0, 0, 0, 0, 0)) &&
	    !(rc = add_data(c, VZ_INIT_PATH + 1, S_IFREG | 0700, s->init, s->init_len)) &&
	    !(rc = add_data(c, VZ_JOB_PATH + 1, S_IFREG | 0600, job.buf, job.len)))
		rc = header(c, "TRAILER!!!", 0, 0, 0, 0, 0, 0);
	vz_cpio_release(&job);
	return rc;
}

void vz_cpio_release(struct vz_cpio *c)
{
	if (c->buf)
		munmap(c->buf, c->cap);
	c->buf = NULL;
	c->len = c->cap = 0;
}
