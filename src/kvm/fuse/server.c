/* SPDX-License-Identifier: MIT */
/* The FUSE server (see server.h for what it guarantees). Layout of this file: system
 * call helpers; the inode and handle tables; request decoding and reply building; one
 * function per operation; the dispatcher. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include "kvm/fuse/server.h"
#include "kvm/virtio/virtio.h"

#define NS 1000000000ull
#define TIMEOUT_S 1 /* entry and attribute cache validity: host-side changes show within 1 s */
#define INO_CAP (1u << 20)
#define FH_CAP (1u << 16)
#define ROOT_ID 1u
#define OUT_HDR ((uint32_t)sizeof(struct fuse_out_header))
#define IN_HDR ((uint32_t)sizeof(struct fuse_in_header))

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#define RENAME_WHITEOUT (1 << 2)
#endif

struct vz_fuse_inode {
	int fd;		/* O_PATH; -1 while the slot is free */
	uint32_t share; /* index in f->share */
	uint64_t nlookup; /* the guest kernel's references */
	uint32_t users;	  /* requests using fd right now */
	uint32_t hnext;	  /* hash chain (or free list) */
	uint64_t dev, ino;
	uint32_t mode; /* file type bits */
};

struct vz_fuse_handle {
	int fd; /* -1: free; -2: the synthetic root directory */
	uint32_t share;
	uint32_t users;
	uint32_t next_free;
	bool dir;
	bool release;	   /* released while in use: the last user closes */
	uint64_t next_off; /* a directory's: the offset its position stands at */
};

/* ---- system calls (return -errno) ---- */

static long sys_openat2(int dfd, const char *name, int flags, unsigned mode, uint64_t resolve)
{
	struct open_how how = { .flags = (uint64_t)flags, .mode = mode, .resolve = resolve };
	return vz_rsys6(SYS_openat2, dfd, (long)name, (long)&how, sizeof(how), 0, 0);
}
static long sys_fstatat(int dfd, const char *name, struct stat *st, int flags)
{
	return vz_rsys6(SYS_newfstatat, dfd, (long)name, (long)st, flags, 0, 0);
}
static long sys_openat(int dfd, const char *name, int flags, unsigned mode)
{
	return vz_rsys6(SYS_openat, dfd, (long)name, flags, mode, 0, 0);
}
#define sys6(n, a, b, c, d, e, g) vz_rsys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(g))

/* ---- tables ---- */

static uint32_t hash(uint32_t share, uint64_t dev, uint64_t ino, uint32_t n)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ dev * 0xc2b2ae3d27d4eb4full ^ share;
	return (uint32_t)(h >> 32) & (n - 1);
}

static void *map(size_t len)
{
	void *p = vz_r_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0);
	return vz_r_mmap_failed(p) ? NULL : p;
}

int vz_fuse_init(struct vz_fuse *f, const struct vz_fuse_share *shares, int n, int proc_fd)
{
	memset(f, 0, sizeof(*f));
	if (n < 0 || n > VZ_FUSE_MAX_SHARES)
		return -EINVAL;
	f->ino_cap = INO_CAP;
	f->nbucket = INO_CAP;
	f->fh_cap = FH_CAP;
	f->ino = map(sizeof(*f->ino) * INO_CAP);
	f->bucket = map(sizeof(*f->bucket) * INO_CAP);
	f->fh = map(sizeof(*f->fh) * FH_CAP);
	if (!f->ino || !f->bucket || !f->fh) {
		vz_fuse_destroy(f);
		return -ENOMEM;
	}
	/* Slot 0 is never used (0 means "none" in chains and to the guest); 1 is the root. */
	f->ino_next = ROOT_ID + 1;
	f->ino[0].fd = f->ino[ROOT_ID].fd = -1;
	f->ino[ROOT_ID].mode = S_IFDIR;
	f->ino[ROOT_ID].nlookup = 1;
	f->fh_next = 1;
	f->proc_fd = proc_fd;
	f->max_write = 1u << 20;
	f->can_chown = vz_rsys(SYS_geteuid, 0, 0, 0) == 0;
	for (int i = 0; i < n; i++)
		f->share[i] = shares[i];
	f->nshares = n;
	/* Path-based calls (the xattr family) name a node as "N", relative to this. */
	if (proc_fd >= 0)
		vz_rsys(SYS_fchdir, proc_fd, 0, 0);
	return 0;
}

void vz_fuse_destroy(struct vz_fuse *f)
{
	if (f->ino)
		for (uint32_t i = ROOT_ID + 1; i < f->ino_next; i++)
			if (f->ino[i].fd >= 0)
				vz_r_close(f->ino[i].fd);
	if (f->fh)
		for (uint32_t i = 1; i < f->fh_next; i++)
			if (f->fh[i].fd >= 0)
				vz_r_close(f->fh[i].fd);
	for (int i = 0; i < f->nshares; i++)
		if (f->share[i].fd >= 0)
			vz_r_close(f->share[i].fd);
	if (f->ino)
		vz_r_munmap(f->ino, sizeof(*f->ino) * f->ino_cap);
	if (f->bucket)
		vz_r_munmap(f->bucket, sizeof(*f->bucket) * f->nbucket);
	if (f->fh)
		vz_r_munmap(f->fh, sizeof(*f->fh) * f->fh_cap);
	f->ino = NULL;
	f->bucket = NULL;
	f->fh = NULL;
	f->nshares = 0;
}

/* A node the guest names, held for the request (put() it after). NULL for an unknown
 * node id or the synthetic root (*root set). */
static struct vz_fuse_inode *get(struct vz_fuse *f, uint64_t id, bool *root)
{
	struct vz_fuse_inode *i = NULL;

	*root = id == ROOT_ID;
	if (id <= ROOT_ID || id >= f->ino_cap)
		return NULL;
	vz_spin_lock(&f->lock);
	if (id < f->ino_next && f->ino[id].fd >= 0 && f->ino[id].nlookup) {
		i = &f->ino[id];
		i->users++;
	}
	vz_spin_unlock(&f->lock);
	return i;
}

static void unhash(struct vz_fuse *f, uint32_t idx)
{
	struct vz_fuse_inode *i = &f->ino[idx];
	uint32_t *p = &f->bucket[hash(i->share, i->dev, i->ino, f->nbucket)];
	while (*p && *p != idx)
		p = &f->ino[*p].hnext;
	if (*p == idx)
		*p = i->hnext;
}

/* Called with the lock held: free a slot nobody references any more. Returns the
 * descriptor to close (after the lock is dropped), or -1. */
static int reap(struct vz_fuse *f, struct vz_fuse_inode *i)
{
	int fd;
	uint32_t idx = (uint32_t)(i - f->ino);

	if (i->nlookup || i->users || i->fd < 0 || idx <= ROOT_ID)
		return -1;
	unhash(f, idx);
	fd = i->fd;
	i->fd = -1;
	i->hnext = f->ino_free;
	f->ino_free = idx;
	return fd;
}

static void put(struct vz_fuse *f, struct vz_fuse_inode *i)
{
	int fd;
	if (!i)
		return;
	vz_spin_lock(&f->lock);
	i->users--;
	fd = reap(f, i);
	vz_spin_unlock(&f->lock);
	if (fd >= 0)
		vz_r_close(fd);
}

/* Enter @fd (an O_PATH descriptor the caller owns) as a node of @share, or find the node
 * the same file already has; either way the guest's lookup count goes up by one and
 * @fd is consumed. Returns the node id, or 0 when the table is full. */
static uint32_t enter(struct vz_fuse *f, uint32_t share, int fd, const struct stat *st)
{
	uint32_t b = hash(share, st->st_dev, st->st_ino, f->nbucket), idx;
	int drop = -1;

	vz_spin_lock(&f->lock);
	for (idx = f->bucket[b]; idx; idx = f->ino[idx].hnext) {
		struct vz_fuse_inode *i = &f->ino[idx];
		if (i->share == share && i->dev == st->st_dev && i->ino == st->st_ino && i->fd >= 0) {
			i->nlookup++;
			drop = fd;
			break;
		}
	}
	if (!idx) {
		if (f->ino_free) {
			idx = f->ino_free;
			f->ino_free = f->ino[idx].hnext;
		} else if (f->ino_next < f->ino_cap) {
			idx = f->ino_next++;
		}
		if (idx) {
			f->ino[idx] = (struct vz_fuse_inode){ .fd = fd, .share = share, .nlookup = 1,
							      .dev = st->st_dev, .ino = st->st_ino,
							      .mode = st->st_mode & S_IFMT, .hnext = f->bucket[b] };
			f->bucket[b] = idx;
		} else {
			drop = fd;
		}
	}
	vz_spin_unlock(&f->lock);
	if (drop >= 0)
		vz_r_close(drop);
	return idx;
}

static void forget(struct vz_fuse *f, uint64_t id, uint64_t n)
{
	int fd = -1;
	if (id <= ROOT_ID || id >= f->ino_cap)
		return;
	vz_spin_lock(&f->lock);
	if (id < f->ino_next && f->ino[id].fd >= 0) {
		struct vz_fuse_inode *i = &f->ino[id];
		i->nlookup = n >= i->nlookup ? 0 : i->nlookup - n;
		fd = reap(f, i);
	}
	vz_spin_unlock(&f->lock);
	if (fd >= 0)
		vz_r_close(fd);
}

static uint64_t fh_new(struct vz_fuse *f, int fd, uint32_t share, bool dir)
{
	uint32_t idx = 0;
	vz_spin_lock(&f->lock);
	if (f->fh_free) {
		idx = f->fh_free;
		f->fh_free = f->fh[idx].next_free;
	} else if (f->fh_next < f->fh_cap) {
		idx = f->fh_next++;
	}
	if (idx)
		f->fh[idx] = (struct vz_fuse_handle){ .fd = fd, .share = share, .dir = dir };
	vz_spin_unlock(&f->lock);
	return idx;
}

static struct vz_fuse_handle *fh_get(struct vz_fuse *f, uint64_t id, bool dir)
{
	struct vz_fuse_handle *h = NULL;
	if (!id || id >= f->fh_cap)
		return NULL;
	vz_spin_lock(&f->lock);
	if (id < f->fh_next && f->fh[id].fd != -1 && !f->fh[id].release && f->fh[id].dir == dir) {
		h = &f->fh[id];
		h->users++;
	}
	vz_spin_unlock(&f->lock);
	return h;
}

static int fh_reap(struct vz_fuse *f, struct vz_fuse_handle *h)
{
	int fd;
	if (!h->release || h->users)
		return -1;
	fd = h->fd;
	h->fd = -1;
	h->release = false;
	h->next_free = f->fh_free;
	f->fh_free = (uint32_t)(h - f->fh);
	return fd;
}

static void fh_put(struct vz_fuse *f, struct vz_fuse_handle *h, bool release)
{
	int fd;
	if (!h)
		return;
	vz_spin_lock(&f->lock);
	h->users--;
	if (release)
		h->release = true;
	fd = fh_reap(f, h);
	vz_spin_unlock(&f->lock);
	if (fd >= 0)
		vz_r_close(fd);
}

/* ---- requests and replies ---- */

struct req {
	struct vz_fuse *f;
	const struct fuse_in_header *h;
	const uint8_t *arg; /* after the header, in the scratch copy */
	uint32_t arg_len;   /* bytes of it that were copied */
	const struct iovec *in;
	unsigned nin;
	uint32_t in_len;
	const struct iovec *out;
	unsigned nout;
	uint32_t out_len;
	uint8_t *scratch; /* after the copied request */
	uint32_t scratch_len;
};

static uint32_t put_out(const struct req *r, uint32_t off, const void *src, uint32_t len)
{
	return (uint32_t)vz_iov_write(r->out, r->nout, off, src, len);
}

/* The part [off, off + len) of an iovec array, as an iovec array in @dst (at most @max
 * entries). Returns the number of entries. */
static unsigned slice(const struct iovec *v, unsigned n, uint64_t off, uint64_t len,
		      struct iovec *dst, unsigned max)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len && k < max; i++) {
		uint64_t l = v[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;
		dst[k].iov_base = (uint8_t *)v[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

static uint32_t reply(const struct req *r, int err, const void *body, uint32_t len)
{
	struct fuse_out_header oh = { .len = OUT_HDR + (err ? 0 : len), .error = err,
				      .unique = r->h->unique };
	if (r->out_len < OUT_HDR)
		return 0;
	if (err || r->out_len - OUT_HDR < len)
		oh.len = OUT_HDR;
	if (!err && r->out_len - OUT_HDR < len)
		oh.error = -EINVAL; /* the guest gave too little room for the reply */
	if (oh.len > OUT_HDR)
		put_out(r, OUT_HDR, body, len);
	put_out(r, 0, &oh, OUT_HDR);
	return oh.len;
}

static uint32_t err(const struct req *r, long e)
{
	return reply(r, (int)(e < 0 ? e : -EIO), NULL, 0);
}

/* A fixed argument of @len bytes at @off of the arguments, or NULL if the request is
 * shorter. */
static const void *arg(const struct req *r, uint32_t off, uint32_t len)
{
	return off <= r->arg_len && len <= r->arg_len - off ? r->arg + off : NULL;
}

/* A NUL-terminated string at @off, or NULL. */
static const char *str(const struct req *r, uint32_t off, uint32_t *next)
{
	if (off >= r->arg_len)
		return NULL;
	const char *s = (const char *)r->arg + off;
	size_t n = strnlen(s, r->arg_len - off);
	if (n == r->arg_len - off)
		return NULL;
	if (next)
		*next = off + (uint32_t)n + 1;
	return s;
}

/* A name the guest may use for a directory entry: one component. */
static const char *name_at(const struct req *r, uint32_t off, uint32_t *next)
{
	const char *s = str(r, off, next);
	if (!s || !*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 255)
		return NULL;
	return s;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino, .size = (uint64_t)st->st_size, .blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec, .mtime = (uint64_t)st->st_mtim.tv_sec,
		.ctime = (uint64_t)st->st_ctim.tv_sec, .atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtimensec = (uint32_t)st->st_mtim.tv_nsec, .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
		.mode = st->st_mode, .nlink = (uint32_t)st->st_nlink, .uid = st->st_uid, .gid = st->st_gid,
		.rdev = (uint32_t)st->st_rdev, .blksize = (uint32_t)st->st_blksize,
	};
}

static void root_attr(struct fuse_attr *a)
{
	*a = (struct fuse_attr){ .ino = ROOT_ID, .mode = S_IFDIR | 0555, .nlink = 2, .blksize = 4096 };
}

static long stat_fd(int fd, struct stat *st)
{
	return sys_fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

/* Look @name up below @parent (a share's inode) and enter it. */
static long lookup_in(struct vz_fuse *f, const struct vz_fuse_inode *parent, const char *name,
		      struct fuse_entry_out *e)
{
	struct stat st;
	long fd = sys_openat2(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
			      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	long rc;
	uint32_t id;

	if (fd < 0)
		return fd;
	if ((rc = stat_fd((int)fd, &st)) < 0) {
		vz_r_close((int)fd);
		return rc;
	}
	if (!(id = enter(f, parent->share, (int)fd, &st)))
		return -ENFILE;
	*e = (struct fuse_entry_out){ .nodeid = id, .entry_valid = TIMEOUT_S, .attr_valid = TIMEOUT_S };
	fill_attr(&e->attr, &st);
	return 0;
}

/* A share's root, entered as a node (the synthetic root's children). */
static long lookup_share(struct vz_fuse *f, const char *name, struct fuse_entry_out *e)
{
	for (int s = 0; s < f->nshares; s++) {
		if (strcmp(f->share[s].name, name))
			continue;
		struct stat st;
		long rc, fd = vz_rsys6(SYS_fcntl, f->share[s].fd, F_DUPFD_CLOEXEC, 3, 0, 0, 0);
		uint32_t id;
		if (fd < 0)
			return fd;
		if ((rc = stat_fd((int)fd, &st)) < 0) {
			vz_r_close((int)fd);
			return rc;
		}
		if (!(id = enter(f, (uint32_t)s, (int)fd, &st)))
			return -ENFILE;
		*e = (struct fuse_entry_out){ .nodeid = id, .entry_valid = TIMEOUT_S, .attr_valid = TIMEOUT_S };
		fill_attr(&e->attr, &st);
		return 0;
	}
	return -ENOENT;
}

/* ---- operations ---- */

static uint32_t op_init(struct req *r)
{
	const struct fuse_init_in *in = arg(r, 0, 16); /* major, minor, readahead, flags */
	struct fuse_init_out o = { 0 };
	uint32_t want = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS | FUSE_ATOMIC_O_TRUNC;

	if (!in)
		return err(r, -EINVAL);
	if (in->major != FUSE_KERNEL_VERSION)
		return err(r, -EPROTO);
	o.major = FUSE_KERNEL_VERSION;
	o.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
	o.max_readahead = in->max_readahead;
	o.flags = in->flags & want;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = r->f->max_write;
	o.time_gran = 1;
	o.max_pages = (uint16_t)(r->f->max_write / 4096);
	/* Before 7.23 the reply was shorter; the kernel reads what its minor defines. */
	return reply(r, 0, &o, in->minor < 23 ? 24 : sizeof(o));
}

static uint32_t op_lookup(struct req *r)
{
	const char *name = name_at(r, 0, NULL);
	struct fuse_entry_out e;
	bool root;
	struct vz_fuse_inode *p = get(r->f, r->h->nodeid, &root);
	long rc;

	if (!name)
		rc = -EINVAL;
	else if (root)
		rc = lookup_share(r->f, name, &e);
	else if (!p)
		rc = -EBADF;
	else if (!S_ISDIR(p->mode))
		rc = -ENOTDIR;
	else
		rc = lookup_in(r->f, p, name, &e);
	put(r->f, p);
	return rc ? err(r, rc) : reply(r, 0, &e, sizeof(e));
}

static uint32_t op_forget(struct req *r)
{
	const struct fuse_forget_in *in = arg(r, 0, sizeof(*in));
	if (in)
		forget(r->f, r->h->nodeid, in->nlookup);
	return 0;
}

static uint32_t op_batch_forget(struct req *r)
{
	const struct fuse_batch_forget_in *in = arg(r, 0, sizeof(*in));
	if (!in)
		return 0;
	for (uint32_t i = 0; i < in->count; i++) {
		const struct fuse_forget_one *one =
			arg(r, (uint32_t)sizeof(*in) + i * (uint32_t)sizeof(*one), sizeof(*one));
		if (!one)
			break;
		forget(r->f, one->nodeid, one->nlookup);
	}
	return 0;
}

static uint32_t attr_reply(struct req *r, int fd)
{
	struct fuse_attr_out o = { .attr_valid = TIMEOUT_S };
	struct stat st;
	long rc = stat_fd(fd, &st);
	if (rc < 0)
		return err(r, rc);
	fill_attr(&o.attr, &st);
	return reply(r, 0, &o, sizeof(o));
}

static uint32_t op_getattr(struct req *r)
{
	bool root;
	struct vz_fuse_inode *i = get(r->f, r->h->nodeid, &root);
	uint32_t n;

	if (root) {
		struct fuse_attr_out o = { .attr_valid = TIMEOUT_S };
		root_attr(&o.attr);
		return reply(r, 0, &o, sizeof(o));
	}
	if (!i)
		return err(r, -EBADF);
	n = attr_reply(r, i->fd);
	put(r->f, i);
	return n;
}

/* A node the request may change: held (put() it), or NULL with *e set. */
static struct vz_fuse_inode *writable(struct req *r, uint64_t id, long *e)
{
	bool root;
	struct vz_fuse_inode *i = get(r->f, id, &root);
	if (!i) {
		*e = root ? -EPERM : -EBADF;
		return NULL;
	}
	if (r->f->share[i->share].ro) {
		put(r->f, i);
		*e = -EROFS;
		return NULL;
	}
	return i;
}

static uint32_t op_setattr(struct req *r)
{
	const struct fuse_setattr_in *in = arg(r, 0, sizeof(*in));
	long rc = 0;
	char pn[24];
	struct vz_fuse_inode *i;
	uint32_t n;

	if (!in)
		return err(r, -EINVAL);
	if (!(i = writable(r, r->h->nodeid, &rc)))
		return err(r, rc);
	vz_utoa(pn, (unsigned)(i->fd));
	if (in->valid & FATTR_MODE)
		rc = sys6(SYS_fchmodat, r->f->proc_fd, pn, in->mode & 07777, 0, 0, 0);
	if (!rc && (in->valid & (FATTR_UID | FATTR_GID)))
		rc = sys6(SYS_fchownat, i->fd, "", (in->valid & FATTR_UID) ? in->uid : (uint32_t)-1,
			  (in->valid & FATTR_GID) ? in->gid : (uint32_t)-1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, 0);
	if (!rc && (in->valid & FATTR_SIZE)) {
		struct vz_fuse_handle *h = (in->valid & FATTR_FH) ? fh_get(r->f, in->fh, false) : NULL;
		if (h && h->share != i->share) {
			fh_put(r->f, h, false);
			rc = -EBADF;
		} else if (h) {
			rc = vz_rsys(SYS_ftruncate, h->fd, in->size, 0);
			fh_put(r->f, h, false);
		} else if (!S_ISREG(i->mode)) {
			rc = S_ISDIR(i->mode) ? -EISDIR : -EINVAL;
		} else {
			long fd = sys_openat(r->f->proc_fd, pn, O_WRONLY | O_CLOEXEC, 0);
			rc = fd < 0 ? fd : vz_rsys(SYS_ftruncate, fd, in->size, 0);
			if (fd >= 0)
				vz_r_close((int)fd);
		}
	}
	if (!rc && (in->valid & (FATTR_ATIME | FATTR_MTIME))) {
		struct timespec ts[2] = {
			{ .tv_sec = (long)in->atime, .tv_nsec = in->atimensec },
			{ .tv_sec = (long)in->mtime, .tv_nsec = in->mtimensec },
		};
		if (!(in->valid & FATTR_ATIME))
			ts[0].tv_nsec = UTIME_OMIT;
		else if (in->valid & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		if (!(in->valid & FATTR_MTIME))
			ts[1].tv_nsec = UTIME_OMIT;
		else if (in->valid & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		if (ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW && ts[0].tv_nsec >= (long)NS)
			rc = -EINVAL;
		else if (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW && ts[1].tv_nsec >= (long)NS)
			rc = -EINVAL;
		else if (S_ISLNK(i->mode))
			rc = 0; /* a symlink's own times cannot be set through its descriptor */
		else
			rc = sys6(SYS_utimensat, r->f->proc_fd, pn, ts, 0, 0, 0);
	}
	n = rc ? err(r, rc) : attr_reply(r, i->fd);
	put(r->f, i);
	return n;
}

static uint32_t op_readlink(struct req *r)
{
	bool root;
	struct vz_fuse_inode *i = get(r->f, r->h->nodeid, &root);
	long n;

	if (!i)
		return err(r, root ? -EINVAL : -EBADF);
	n = sys6(SYS_readlinkat, i->fd, "", r->scratch, r->scratch_len < 4096 ? r->scratch_len : 4096, 0, 0);
	put(r->f, i);
	return n < 0 ? err(r, n) : reply(r, 0, r->scratch, (uint32_t)n);
}

/* After a node was made under @p: give a new node the guest's owner (@chown; never
 * for a link, which names an inode that already had one) and answer with its entry. */
static uint32_t made(struct req *r, struct vz_fuse_inode *p, const char *name, long rc, bool chown)
{
	struct fuse_entry_out e;
	if (!rc && chown && r->f->can_chown)
		sys6(SYS_fchownat, p->fd, name, r->h->uid, r->h->gid, AT_SYMLINK_NOFOLLOW, 0);
	if (!rc)
		rc = lookup_in(r->f, p, name, &e);
	put(r->f, p);
	return rc ? err(r, rc) : reply(r, 0, &e, sizeof(e));
}

static struct vz_fuse_inode *dir_for_change(struct req *r, uint64_t id, long *e)
{
	struct vz_fuse_inode *p = writable(r, id, e);
	if (p && !S_ISDIR(p->mode)) {
		put(r->f, p);
		*e = -ENOTDIR;
		return NULL;
	}
	return p;
}

static uint32_t op_symlink(struct req *r)
{
	uint32_t next;
	const char *name = name_at(r, 0, &next);
	const char *target = name ? str(r, next, NULL) : NULL;
	long rc;
	struct vz_fuse_inode *p;

	if (!name || !target || !*target)
		return err(r, -EINVAL);
	if (!(p = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	return made(r, p, name, vz_rsys(SYS_symlinkat, target, p->fd, name), true);
}

static uint32_t op_mknod(struct req *r)
{
	const struct fuse_mknod_in *in = arg(r, 0, sizeof(*in));
	const char *name = in ? name_at(r, sizeof(*in), NULL) : NULL;
	long rc;
	struct vz_fuse_inode *p;
	uint32_t type = in ? in->mode & S_IFMT : 0;

	if (!name)
		return err(r, -EINVAL);
	/* No device nodes on the host: only files, FIFOs, sockets, and overlay's whiteout. */
	if (!(type == S_IFREG || type == S_IFIFO || type == S_IFSOCK || (type == S_IFCHR && in->rdev == 0)))
		return err(r, -EPERM);
	if (!(p = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	return made(r, p, name, sys6(SYS_mknodat, p->fd, name, in->mode & (S_IFMT | 07777), 0, 0, 0), true);
}

static uint32_t op_mkdir(struct req *r)
{
	const struct fuse_mkdir_in *in = arg(r, 0, sizeof(*in));
	const char *name = in ? name_at(r, sizeof(*in), NULL) : NULL;
	long rc;
	struct vz_fuse_inode *p;

	if (!name)
		return err(r, -EINVAL);
	if (!(p = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	return made(r, p, name, vz_rsys(SYS_mkdirat, p->fd, name, in->mode & 07777), true);
}

static uint32_t op_unlink(struct req *r, int flags)
{
	const char *name = name_at(r, 0, NULL);
	long rc;
	struct vz_fuse_inode *p;

	if (!name)
		return err(r, -EINVAL);
	if (!(p = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	rc = vz_rsys(SYS_unlinkat, p->fd, name, flags);
	put(r->f, p);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t do_rename(struct req *r, uint64_t newdir, uint32_t flags, uint32_t off)
{
	uint32_t next;
	const char *from = name_at(r, off, &next);
	const char *to = from ? name_at(r, next, NULL) : NULL;
	struct vz_fuse_inode *a, *b = NULL;
	long rc = 0;

	if (!from || !to || (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)))
		return err(r, -EINVAL);
	if (!(a = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	if (!(b = dir_for_change(r, newdir, &rc))) {
		put(r->f, a);
		return err(r, rc);
	}
	if (a->share != b->share)
		rc = -EXDEV;
	else
		rc = sys6(SYS_renameat2, a->fd, from, b->fd, to, flags, 0);
	put(r->f, a);
	put(r->f, b);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t op_link(struct req *r)
{
	const struct fuse_link_in *in = arg(r, 0, sizeof(*in));
	const char *name = in ? name_at(r, sizeof(*in), NULL) : NULL;
	struct vz_fuse_inode *p, *old;
	char pn[24];
	long rc;

	if (!name)
		return err(r, -EINVAL);
	if (!(p = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	if (!(old = writable(r, in->oldnodeid, &rc))) {
		put(r->f, p);
		return err(r, rc);
	}
	if (old->share != p->share || S_ISDIR(old->mode)) {
		rc = old->share != p->share ? -EXDEV : -EPERM;
	} else {
		vz_utoa(pn, (unsigned)(old->fd));
		rc = sys6(SYS_linkat, r->f->proc_fd, pn, p->fd, name, AT_SYMLINK_FOLLOW, 0);
	}
	put(r->f, old);
	return made(r, p, name, rc, false);
}

/* Flags a guest may open a file with; the server adds O_CLOEXEC. (Never O_NOFOLLOW:
 * files are reopened through their /proc/self/fd magic link, which must be followed;
 * the link names exactly the inode the server holds.) */
static int open_flags(uint32_t flags)
{
	return (int)(flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT |
			      O_NOATIME | O_LARGEFILE)) | O_CLOEXEC;
}

static bool wants_write(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND));
}

static uint32_t op_open(struct req *r, bool dir)
{
	const struct fuse_open_in *in = arg(r, 0, sizeof(*in));
	struct fuse_open_out o = { 0 };
	bool root;
	struct vz_fuse_inode *i = get(r->f, r->h->nodeid, &root);
	char pn[24];
	long fd;

	if (!in) {
		put(r->f, i);
		return err(r, -EINVAL);
	}
	if (root && dir) {
		o.fh = fh_new(r->f, -2, 0, true);
		return o.fh ? reply(r, 0, &o, sizeof(o)) : err(r, -ENFILE);
	}
	if (!i)
		return err(r, root ? -EISDIR : -EBADF);
	/* Only regular files and directories are opened on the host: never a device node
	 * or a FIFO that a share happens to hold. */
	if (dir ? !S_ISDIR(i->mode) : !S_ISREG(i->mode)) {
		fd = dir ? -ENOTDIR : S_ISDIR(i->mode) ? -EISDIR : -EACCES;
	} else if (!dir && wants_write(in->flags) && r->f->share[i->share].ro) {
		fd = -EROFS;
	} else {
		vz_utoa(pn, (unsigned)(i->fd));
		fd = sys_openat(r->f->proc_fd, pn,
				dir ? O_RDONLY | O_DIRECTORY | O_CLOEXEC : open_flags(in->flags), 0);
	}
	if (fd >= 0) {
		o.fh = fh_new(r->f, (int)fd, i->share, dir);
		if (!o.fh) {
			vz_r_close((int)fd);
			fd = -ENFILE;
		}
	}
	put(r->f, i);
	return fd < 0 ? err(r, fd) : reply(r, 0, &o, sizeof(o));
}

/* CREATE: a new regular file, opened. A name that exists already (the guest's cache
 * may be stale, or the guest hostile) is opened only if it is a regular file and the
 * guest did not ask for O_EXCL; it keeps its owner. A FIFO or device node in a share is
 * never opened on the host, by this way either. */
static uint32_t op_create(struct req *r)
{
	const struct fuse_create_in *in = arg(r, 0, sizeof(*in));
	const char *name = in ? name_at(r, sizeof(*in), NULL) : NULL;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out = { 0 };
	const uint64_t beneath = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	struct vz_fuse_inode *p;
	long rc, fd;

	if (!name)
		return err(r, -EINVAL);
	if (!(p = dir_for_change(r, r->h->nodeid, &rc)))
		return err(r, rc);
	fd = sys_openat2(p->fd, name, open_flags(in->flags) | O_CREAT | O_EXCL | O_NOFOLLOW,
			 in->mode & 07777, beneath);
	if (fd >= 0 && r->f->can_chown)
		sys6(SYS_fchownat, p->fd, name, r->h->uid, r->h->gid, AT_SYMLINK_NOFOLLOW, 0);
	if (fd == -EEXIST && !(in->flags & O_EXCL)) {
		struct stat st;
		char pn[24];
		long pfd = sys_openat2(p->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, beneath);
		if (pfd < 0) {
			fd = pfd;
		} else {
			if ((fd = stat_fd((int)pfd, &st)) == 0) {
				vz_utoa(pn, (unsigned)((int)pfd));
				fd = S_ISREG(st.st_mode) ? sys_openat(r->f->proc_fd, pn, open_flags(in->flags), 0)
				     : S_ISDIR(st.st_mode) ? -EISDIR
							   : -EACCES;
			}
			vz_r_close((int)pfd);
		}
	}
	if (fd < 0) {
		put(r->f, p);
		return err(r, fd);
	}
	rc = lookup_in(r->f, p, name, &out.e);
	if (!rc && !(out.o.fh = fh_new(r->f, (int)fd, p->share, false))) {
		forget(r->f, out.e.nodeid, 1);
		rc = -ENFILE;
	}
	if (rc)
		vz_r_close((int)fd);
	put(r->f, p);
	return rc ? err(r, rc) : reply(r, 0, &out, sizeof(out));
}

static uint32_t op_read(struct req *r)
{
	const struct fuse_read_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, false) : NULL;
	struct iovec v[VZ_FUSE_IOV_MAX];
	struct fuse_out_header oh = { .unique = r->h->unique };
	uint32_t room = r->out_len > OUT_HDR ? r->out_len - OUT_HDR : 0, size;
	unsigned n;
	long got;

	if (r->out_len < OUT_HDR) {
		fh_put(r->f, h, false);
		return 0; /* no room even for a header: nothing can be answered */
	}
	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	size = in->size < room ? in->size : room;
	n = slice(r->out, r->nout, OUT_HDR, size, v, VZ_FUSE_IOV_MAX);
	got = size ? vz_rsys6(SYS_preadv, h->fd, (long)v, n, (long)in->offset, 0, 0) : 0;
	fh_put(r->f, h, false);
	if (got < 0)
		return err(r, got);
	oh.len = OUT_HDR + (uint32_t)got;
	put_out(r, 0, &oh, OUT_HDR);
	return oh.len;
}

static uint32_t op_write(struct req *r)
{
	const struct fuse_write_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, false) : NULL;
	struct iovec v[VZ_FUSE_IOV_MAX];
	struct fuse_write_out o = { 0 };
	uint32_t at = IN_HDR + (uint32_t)sizeof(*in);
	unsigned n;
	long put_n;

	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	if (r->f->share[h->share].ro) {
		fh_put(r->f, h, false);
		return err(r, -EROFS);
	}
	if (in->size > r->in_len - at || in->size > r->f->max_write) {
		fh_put(r->f, h, false);
		return err(r, -EINVAL);
	}
	n = slice(r->in, r->nin, at, in->size, v, VZ_FUSE_IOV_MAX);
	put_n = in->size ? vz_rsys6(SYS_pwritev, h->fd, (long)v, n, (long)in->offset, 0, 0) : 0;
	fh_put(r->f, h, false);
	if (put_n < 0)
		return err(r, put_n);
	o.size = (uint32_t)put_n;
	return reply(r, 0, &o, sizeof(o));
}

static uint32_t op_statfs(struct req *r)
{
	struct fuse_statfs_out o = { 0 };
	struct statfs s;
	bool root;
	struct vz_fuse_inode *i = get(r->f, r->h->nodeid, &root);
	long rc;
	int fd = i ? i->fd : root && r->f->nshares ? r->f->share[0].fd : -1;

	rc = fd >= 0 ? vz_rsys(SYS_fstatfs, fd, &s, 0) : root ? -ENOSYS : -EBADF;
	put(r->f, i);
	if (rc < 0)
		return err(r, rc);
	o.st = (struct fuse_kstatfs){ .blocks = s.f_blocks, .bfree = s.f_bfree, .bavail = s.f_bavail,
				      .files = s.f_files, .ffree = s.f_ffree, .bsize = (uint32_t)s.f_bsize,
				      .namelen = (uint32_t)s.f_namelen, .frsize = (uint32_t)s.f_frsize };
	return reply(r, 0, &o, sizeof(o));
}

static uint32_t op_release(struct req *r, bool dir)
{
	const struct fuse_release_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, dir) : NULL;
	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	fh_put(r->f, h, true);
	return reply(r, 0, NULL, 0);
}

static uint32_t op_fsync(struct req *r, bool dir)
{
	const struct fuse_fsync_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, dir) : NULL;
	long rc;
	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	rc = h->fd >= 0 ? vz_rsys((in->fsync_flags & 1) ? SYS_fdatasync : SYS_fsync, h->fd, 0, 0) : 0;
	fh_put(r->f, h, false);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t op_flush(struct req *r)
{
	const struct fuse_flush_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, false) : NULL;
	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	fh_put(r->f, h, false);
	return reply(r, 0, NULL, 0);
}

/* The host's file capabilities: a guest must never give a host file privileges. */
static bool xattr_refused(const char *name)
{
	return !strcmp(name, "security.capability");
}

static uint32_t op_setxattr(struct req *r)
{
	const struct fuse_setxattr_in *in = arg(r, 0, FUSE_COMPAT_SETXATTR_IN_SIZE);
	uint32_t next;
	const char *name = in ? str(r, FUSE_COMPAT_SETXATTR_IN_SIZE, &next) : NULL;
	const void *val = name ? arg(r, next, in->size) : NULL;
	struct vz_fuse_inode *i;
	char pn[24];
	long rc;

	if (!val)
		return err(r, -EINVAL);
	if (xattr_refused(name))
		return err(r, -EPERM);
	if (!(i = writable(r, r->h->nodeid, &rc)))
		return err(r, rc);
	vz_utoa(pn, (unsigned)(i->fd));
	/* Relative to the working directory, which is /proc/self/fd (vz_fuse_init's caller). */
	rc = S_ISREG(i->mode) || S_ISDIR(i->mode)
		     ? sys6(SYS_setxattr, pn, name, val, in->size, in->flags, 0)
		     : -EPERM;
	put(r->f, i);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t xattr_get(struct req *r, bool list)
{
	const struct fuse_getxattr_in *in = arg(r, 0, sizeof(*in));
	const char *name = list ? "" : in ? str(r, sizeof(*in), NULL) : NULL;
	bool root;
	struct vz_fuse_inode *i = get(r->f, r->h->nodeid, &root);
	char pn[24];
	uint32_t size;
	long n;

	if (!in || !name) {
		put(r->f, i);
		return err(r, -EINVAL);
	}
	if (!i && root && list) {
		struct fuse_getxattr_out o = { .size = 0 };
		return in->size ? reply(r, 0, NULL, 0) : reply(r, 0, &o, sizeof(o));
	}
	if (!i)
		return err(r, root ? -ENODATA : -EBADF);
	size = in->size < r->scratch_len ? in->size : r->scratch_len;
	vz_utoa(pn, (unsigned)(i->fd));
	if (!S_ISREG(i->mode) && !S_ISDIR(i->mode))
		n = list ? 0 : -ENODATA;
	else if (list)
		n = sys6(SYS_listxattr, pn, size ? r->scratch : NULL, size, 0, 0, 0);
	else
		n = sys6(SYS_getxattr, pn, name, size ? r->scratch : NULL, size, 0, 0);
	put(r->f, i);
	if (n < 0)
		return err(r, n);
	if (!in->size) {
		struct fuse_getxattr_out o = { .size = (uint32_t)n };
		return reply(r, 0, &o, sizeof(o));
	}
	return reply(r, 0, r->scratch, (uint32_t)n);
}

static uint32_t op_removexattr(struct req *r)
{
	const char *name = str(r, 0, NULL);
	struct vz_fuse_inode *i;
	char pn[24];
	long rc;

	if (!name)
		return err(r, -EINVAL);
	if (xattr_refused(name))
		return err(r, -EPERM);
	if (!(i = writable(r, r->h->nodeid, &rc)))
		return err(r, rc);
	vz_utoa(pn, (unsigned)(i->fd));
	rc = S_ISREG(i->mode) || S_ISDIR(i->mode) ? vz_rsys(SYS_removexattr, pn, name, 0) : -EPERM;
	put(r->f, i);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t op_access(struct req *r)
{
	const struct fuse_access_in *in = arg(r, 0, sizeof(*in));
	bool root;
	struct vz_fuse_inode *i = get(r->f, r->h->nodeid, &root);
	long rc = 0;

	/* The guest checks permissions itself (virtio-fs mounts with default_permissions);
	 * the server only says what it will refuse regardless. */
	if (!in)
		rc = -EINVAL;
	else if (root)
		rc = (in->mask & W_OK) ? -EROFS : 0;
	else if (!i)
		rc = -EBADF;
	else if ((in->mask & W_OK) && r->f->share[i->share].ro)
		rc = -EROFS;
	put(r->f, i);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t op_fallocate(struct req *r)
{
	const struct fuse_fallocate_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, false) : NULL;
	long rc;
	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	rc = r->f->share[h->share].ro ? -EROFS
				       : sys6(SYS_fallocate, h->fd, in->mode, in->offset, in->length, 0, 0);
	fh_put(r->f, h, false);
	return reply(r, (int)rc, NULL, 0);
}

static uint32_t op_lseek(struct req *r)
{
	const struct fuse_lseek_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, false) : NULL;
	struct fuse_lseek_out o = { 0 };
	long rc;
	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	rc = in->whence == SEEK_DATA || in->whence == SEEK_HOLE || in->whence == SEEK_SET ||
			     in->whence == SEEK_END || in->whence == SEEK_CUR
		     ? vz_rsys(SYS_lseek, h->fd, in->offset, in->whence)
		     : -EINVAL;
	fh_put(r->f, h, false);
	if (rc < 0)
		return err(r, rc);
	o.offset = (uint64_t)rc;
	return reply(r, 0, &o, sizeof(o));
}

/* ---- directories ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Append one entry (plus, for READDIRPLUS, its entry_out) at *pos; false if it does not
 * fit in @cap. */
static bool emit(uint8_t *buf, uint32_t *pos, uint32_t cap, bool plus, const struct fuse_entry_out *e,
		 uint64_t ino, uint64_t off, uint32_t type, const char *name, uint32_t nlen)
{
	uint32_t base = plus ? (uint32_t)sizeof(struct fuse_entry_out) : 0;
	uint32_t rec = base + (uint32_t)FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);
	struct fuse_dirent d = { .ino = ino, .off = off, .namelen = nlen, .type = type };

	if (rec > cap - *pos)
		return false;
	memset(buf + *pos, 0, rec);
	if (plus)
		memcpy(buf + *pos, e, sizeof(*e));
	memcpy(buf + *pos + base, &d, FUSE_NAME_OFFSET);
	memcpy(buf + *pos + base + FUSE_NAME_OFFSET, name, nlen);
	*pos += rec;
	return true;
}

static uint32_t readdir_root(struct req *r, uint64_t off, uint32_t cap, bool plus)
{
	uint32_t pos = 0;
	struct fuse_entry_out zero = { 0 };

	for (uint64_t k = off; k < 2 + (uint64_t)r->f->nshares; k++) {
		const char *name = k == 0 ? "." : k == 1 ? ".." : r->f->share[k - 2].name;
		struct fuse_entry_out e = zero;
		uint32_t need = (plus ? (uint32_t)sizeof(e) : 0) +
				(uint32_t)FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + strlen(name));
		if (need > cap - pos)
			break;
		uint32_t type = DT_DIR;
		if (plus && k >= 2 && lookup_share(r->f, name, &e) < 0)
			e = zero;
		if (k >= 2) {
			struct stat st;
			if (stat_fd(r->f->share[k - 2].fd, &st) == 0)
				type = (st.st_mode & S_IFMT) >> 12; /* the DT_ value of a file type */
		}
		emit(r->scratch, &pos, cap, plus, &e, k < 2 ? ROOT_ID : e.attr.ino ? e.attr.ino : k,
		     k + 1, type, name, (uint32_t)strlen(name));
	}
	return reply(r, 0, r->scratch, pos);
}

static uint32_t op_readdir(struct req *r, bool plus)
{
	const struct fuse_read_in *in = arg(r, 0, sizeof(*in));
	struct vz_fuse_handle *h = in ? fh_get(r->f, in->fh, true) : NULL;
	uint32_t room = r->out_len > OUT_HDR ? r->out_len - OUT_HDR : 0;
	uint32_t cap, pos = 0, half;
	bool root;
	struct vz_fuse_inode *dir = NULL;
	long n;

	if (!h)
		return err(r, in ? -EBADF : -EINVAL);
	/* Scratch holds the getdents buffer in its second half, the reply in its first. */
	half = r->scratch_len / 2;
	cap = in->size < room ? in->size : room;
	if (cap > half)
		cap = half;
	if (h->fd == -2) {
		uint32_t rc = readdir_root(r, in->offset, cap, plus);
		fh_put(r->f, h, false);
		return rc;
	}
	if (plus && !(dir = get(r->f, r->h->nodeid, &root))) {
		fh_put(r->f, h, false);
		return err(r, -EBADF);
	}
	/* Continue where the last reply ended without seeking: a seek on a directory whose
	 * offsets are positions (tmpfs and ramfs before Linux 6.6) skips entries once some
	 * were deleted meanwhile, as `rm -r` does while it lists. So the server never reads
	 * more than it can send: each getdents64 gets a buffer small enough that all it
	 * returns fits in the reply (a FUSE entry is at most 4/3 of the kernel's, 20/3
	 * with READDIRPLUS's entry_out), and the directory's position stays the guest's. */
	n = 0;
	if (in->offset != h->next_off) {
		n = vz_rsys(SYS_lseek, h->fd, in->offset, SEEK_SET);
		h->next_off = in->offset;
	}
	for (bool full = false; n >= 0 && !full;) {
		uint32_t left = cap - pos, want = plus ? left * 24 / 160 : left * 3 / 4;
		if (want > half)
			want = half;
		/* One entry with a 255-byte name needs 280 bytes. A reply buffer too small for
		 * the bound above (never the guest kernel's page) still gets what fits of the
		 * first read; what does not is read again after a seek. */
		if (want < 280 && pos)
			break;
		if (want < 280)
			want = 280;
		n = vz_rsys(SYS_getdents64, h->fd, r->scratch + half, want);
		if (n <= 0)
			break;
		for (long p = 0; p < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(r->scratch + half + p);
			uint32_t nlen = (uint32_t)strnlen(d->d_name, d->d_reclen - offsetof(struct linux_dirent64, d_name));
			struct fuse_entry_out e = { 0 };
			uint32_t need = (plus ? (uint32_t)sizeof(e) : 0) +
					(uint32_t)FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);
			bool dots = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");

			if (need > cap - pos) { /* only after a read of 280 bytes (above): go back */
				vz_rsys(SYS_lseek, h->fd, (long)h->next_off, SEEK_SET);
				/* Not even one entry fits: the buffer is too small (as getdents says). */
				n = pos ? 0 : -EINVAL;
				full = true;
				break;
			}
			/* A lookup only for what is sent: each counts as a reference the guest holds. */
			if (plus && !dots && lookup_in(r->f, dir, d->d_name, &e) < 0)
				memset(&e, 0, sizeof(e));
			emit(r->scratch, &pos, cap, plus, &e, d->d_ino, (uint64_t)d->d_off, d->d_type, d->d_name,
			     nlen);
			h->next_off = (uint64_t)d->d_off;
			p += d->d_reclen;
		}
	}
	if (n < 0 && pos)
		n = 0; /* what was read is sent; the error comes again at the next request */
	put(r->f, dir);
	fh_put(r->f, h, false);
	if (n < 0)
		return err(r, n);
	return reply(r, 0, r->scratch, pos);
}

/* ---- dispatch ---- */

uint32_t vz_fuse_request(struct vz_fuse *f, const struct iovec *in, unsigned nin, uint32_t in_len,
			 const struct iovec *out, unsigned nout, uint32_t out_len, uint8_t *buf)
{
	struct fuse_in_header h;
	struct req r = { .f = f, .h = &h, .in = in, .nin = nin, .in_len = in_len, .out = out,
			 .nout = nout, .out_len = out_len };
	uint32_t copy = 0, want;

	if (in_len < IN_HDR)
		return 0; /* not even a header: nothing to answer to */
	/* One copy of the header and the arguments (a WRITE's data stays where it is): the
	 * guest may change its buffers while they are read. */
	want = in_len < VZ_FUSE_BUF / 2 ? in_len : VZ_FUSE_BUF / 2;
	copy = (uint32_t)vz_iov_read(in, nin, 0, buf, want);
	if (copy < IN_HDR)
		return 0;
	memcpy(&h, buf, IN_HDR);
	/* The header's own length may not claim more than the chain holds. */
	r.arg = buf + IN_HDR;
	r.arg_len = (h.len < copy ? h.len : copy) > IN_HDR ? (h.len < copy ? h.len : copy) - IN_HDR : 0;
	r.scratch = buf + VZ_FUSE_BUF / 2;
	r.scratch_len = VZ_FUSE_BUF / 2;

	switch (h.opcode) {
	case FUSE_INIT:
		return op_init(&r);
	case FUSE_DESTROY:
		return reply(&r, 0, NULL, 0);
	case FUSE_LOOKUP:
		return op_lookup(&r);
	case FUSE_FORGET:
		return op_forget(&r);
	case FUSE_BATCH_FORGET:
		return op_batch_forget(&r);
	case FUSE_GETATTR:
		return op_getattr(&r);
	case FUSE_SETATTR:
		return op_setattr(&r);
	case FUSE_READLINK:
		return op_readlink(&r);
	case FUSE_SYMLINK:
		return op_symlink(&r);
	case FUSE_MKNOD:
		return op_mknod(&r);
	case FUSE_MKDIR:
		return op_mkdir(&r);
	case FUSE_UNLINK:
		return op_unlink(&r, 0);
	case FUSE_RMDIR:
		return op_unlink(&r, AT_REMOVEDIR);
	case FUSE_RENAME: {
		const struct fuse_rename_in *a = arg(&r, 0, sizeof(*a));
		return a ? do_rename(&r, a->newdir, 0, sizeof(*a)) : err(&r, -EINVAL);
	}
	case FUSE_RENAME2: {
		const struct fuse_rename2_in *a = arg(&r, 0, sizeof(*a));
		return a ? do_rename(&r, a->newdir, a->flags, sizeof(*a)) : err(&r, -EINVAL);
	}
	case FUSE_LINK:
		return op_link(&r);
	case FUSE_OPEN:
		return op_open(&r, false);
	case FUSE_OPENDIR:
		return op_open(&r, true);
	case FUSE_CREATE:
		return op_create(&r);
	case FUSE_READ:
		return op_read(&r);
	case FUSE_WRITE:
		return op_write(&r);
	case FUSE_STATFS:
		return op_statfs(&r);
	case FUSE_RELEASE:
		return op_release(&r, false);
	case FUSE_RELEASEDIR:
		return op_release(&r, true);
	case FUSE_FSYNC:
		return op_fsync(&r, false);
	case FUSE_FSYNCDIR:
		return op_fsync(&r, true);
	case FUSE_FLUSH:
		return op_flush(&r);
	case FUSE_SETXATTR:
		return op_setxattr(&r);
	case FUSE_GETXATTR:
		return xattr_get(&r, false);
	case FUSE_LISTXATTR:
		return xattr_get(&r, true);
	case FUSE_REMOVEXATTR:
		return op_removexattr(&r);
	case FUSE_ACCESS:
		return op_access(&r);
	case FUSE_FALLOCATE:
		return op_fallocate(&r);
	case FUSE_LSEEK:
		return op_lseek(&r);
	case FUSE_READDIR:
		return op_readdir(&r, false);
	case FUSE_READDIRPLUS:
		return op_readdir(&r, true);
	case FUSE_INTERRUPT:
		return 0; /* requests are not interruptible here; no reply is expected */
	default:
		return err(&r, -ENOSYS);
	}
}
