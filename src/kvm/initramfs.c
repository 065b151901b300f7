/* SPDX-License-Identifier: MIT */
/* The guest's initramfs, built in memory by the host process at start: a cpio "newc"
 * archive [Documentation/driver-api/early-userspace/buffer-format.rst] that holds
 * libvz's guest init (/.vz/init) and nothing else (the rootfs and the binds reach the
 * guest through virtio-fs); and the job message the VMM sends the init on the control
 * port (guest/abi.h). Both live in anonymous mappings that grow with mremap. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/config.h"
#include "common/error.h"
#include "common/util.h"
#include "kvm/guest/abi.h"
#include "kvm/initramfs.h"

static int grow(struct vz_cpio *c, size_t need)
{
	size_t cap = c->cap ? c->cap : (size_t)1 << 20;
	void *p;

	if (c->len + need <= c->cap)
		return VZ_OK;
	if (c->len + need > c->max)
		return vz_err_set(VZ_EINVAL, 0, "vm: more than %zu KiB of job or initramfs", c->max >> 10);
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

/* ---- the job ---- */

static int vz_getrandom_full(uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

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
	uint8_t seed[VZ_JOB_SEED_LEN];
	char hex[2 * VZ_JOB_SEED_LEN + 1];
	/* First, at a fixed place: the wall clock, which the VMM writes in as it sends the
	 * job (a template's guest clock, or a long boot's, is behind). */
	int rc = rec(j, "time", VZ_JOB_TIME_BLANK);

	/* Fresh randomness for the guest's pool: two VMs restored from one template would
	 * otherwise go on from the same random state. */
	if (!rc && vz_getrandom_full(seed, sizeof(seed)) < 0)
		rc = vz_err_sys(VZ_ERROR, "vm: getrandom");
	for (size_t i = 0; !rc && i < sizeof(seed); i++)
		snprintf(hex + 2 * i, 3, "%02x", seed[i]);
	if (!rc)
		rc = rec(j, "seed", hex);
	if (!rc)
		rc = rec(j, "exe", s->exe);

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
		rc = rec(j, "stdin", s->stdio_tty[0] ? "port" : "null");
	if (!rc)
		rc = rec(j, "stdout", s->stdio_tty[1] ? "port" : "null");
	if (!rc)
		rc = rec(j, "stderr", s->stdio_tty[2] ? "port" : "null");
	if (!rc)
		rc = rec(j, "net", cfg->network == VZ_NET_NONE ? "none" : "loopback");
	if (!rc)
		rc = rec(j, "rootfs", cfg->rootfs_mode == VZ_ROOTFS_READONLY     ? "ro"
				      : cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT ? "persistent"
										 : "rw");
	for (size_t i = 0; !rc && i < cfg->nbinds; i++) {
		/* "b<i>:ro|rw:<destination>", the share named as in backend.c */
		char v[4200];
		snprintf(v, sizeof(v), "b%zu:%s:%s", i, (cfg->binds[i].flags & VZ_BIND_RO) ? "ro" : "rw",
			 cfg->binds[i].dst);
		rc = rec(j, "bind", v);
	}
	return rc;
}

int vz_job_build(struct vz_cpio *job, const struct vz_initramfs_spec *s)
{
	struct vz_msg_hdr h = { .type = VZ_MSG_JOB };
	int rc;

	job->max = sizeof(h) + VZ_MSG_JOB_MAX;
	if ((rc = grow(job, sizeof(h))))
		return rc;
	job->len = sizeof(h);
	if ((rc = build_job(job, s))) {
		if (job->len + 64 > job->max)
			return vz_err_set(VZ_EINVAL, 0, "vm: argv and environment take more than the "
					  "%u KiB a VM's job may hold", VZ_MSG_JOB_MAX >> 10);
		return rc;
	}
	h.len = (uint32_t)(job->len - sizeof(h));
	memcpy(job->buf, &h, sizeof(h));
	return VZ_OK;
}

/* One module file of the guest kernel's tree, read into the archive. */
static int add_module(struct vz_cpio *c, const char *dir, const struct vz_kmod *m, size_t i)
{
	char path[4096], name[VZ_KMOD_NAME_MAX + 64];
	struct stat st;
	ssize_t got;
	int fd, rc, n;

	n = m->path[0] == '/' ? snprintf(path, sizeof(path), "%.*s", (int)m->path_len, m->path)
			      : snprintf(path, sizeof(path), "%s/%.*s", dir, (int)m->path_len, m->path);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vz_err_set(VZ_EINVAL, 0, "vm: module path %.*s... is too long", 64, m->path);
	snprintf(name, sizeof(name), "%s/%02zu-%s.ko%s", VZ_MODULES_DIR + 1, i, m->name,
		 vz_kmod_suffix(m->path, m->path_len));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return vz_err_sys(vz_status_from_errno(errno), "vm: guest kernel module %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vz_err_set(VZ_EINVAL, errno, "vm: guest kernel module %s is not a file", path);
	}
	if ((rc = header(c, name, S_IFREG | 0600, 0, 0, 0, (uint64_t)st.st_size, 0))) {
		close(fd);
		return rc;
	}
	got = vz_read_full(fd, c->buf + c->len, (size_t)st.st_size);
	close(fd);
	if (got != (ssize_t)st.st_size)
		return got < 0 ? vz_err_sys(VZ_ERROR, "vm: read %s", path)
			       : vz_err_set(VZ_ERROR, 0, "vm: %s shrank while read", path);
	c->len += (size_t)got;
	pad4(c);
	return VZ_OK;
}

int vz_initramfs_build(struct vz_cpio *c, const struct vz_initramfs_spec *s)
{
	size_t nmods = s->kmods ? s->kmods->n : 0;
	int rc;

	if ((rc = header(c, ".vz", S_IFDIR | 0700, 0, 0, 0, 0, 0)) ||
	    (rc = add_data(c, VZ_INIT_PATH + 1, S_IFREG | 0700, s->init, s->init_len)))
		return rc;
	if (nmods && (rc = header(c, VZ_MODULES_DIR + 1, S_IFDIR | 0700, 0, 0, 0, 0, 0)))
		return rc;
	for (size_t i = 0; i < nmods; i++)
		if ((rc = add_module(c, s->kmod_dir, &s->kmods->m[i], i + 1)))
			return rc;
	return header(c, "TRAILER!!!", 0, 0, 0, 0, 0, 0);
}

void vz_cpio_release(struct vz_cpio *c)
{
	if (c->buf)
		munmap(c->buf, c->cap);
	c->buf = NULL;
	c->len = c->cap = 0;
}
