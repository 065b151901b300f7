/* SPDX-License-Identifier: MIT */
/* libvz's FUSE server: host directories passed through to the guest over virtio-fs
 * [FUSE protocol 7.38, linux/fuse.h; the design of virtiofsd's passthrough_ll].
 *
 * One file system, whose root (FUSE node 1) is a synthetic read-only directory listing
 * the shares by name ("root", "upper", "b0", ...). Each share is a host directory (or
 * file) opened by the host process before the VMM started; the server holds an O_PATH
 * descriptor per inode the guest knows and reaches everything through descriptors:
 *   - a name from the guest is one component (no '/', never "." or ".."), looked up
 *     with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) below
 *     its parent's descriptor, symlinks never followed (the guest reads them and
 *     resolves them itself, inside its own tree);
 *   - a file is opened again through /proc/self/fd/N (a descriptor of that directory
 *     kept from before the VMM lost its view of the host), only if it is a regular file
 *     or a directory: device nodes and FIFOs of a share are never opened on the host;
 *   - renames and links across shares fail with EXDEV;
 *   - a read-only share refuses every change with EROFS here, whatever the guest's
 *     mount says;
 *   - device nodes cannot be made (only overlay's whiteouts, char 0:0), and the host's
 *     file capabilities (security.capability) cannot be set.
 * The VMM runs it in a mount namespace whose root is an empty tmpfs, so no path at all
 * leads to the host's files (vmm.c).
 *
 * Nothing here uses libc's allocator, stdio or errno: tables live in anonymous
 * mappings, and system calls go through vz_rsys (the VMM's threads are bare, sys.h).
 * Several threads may serve requests at once. */
#ifndef VZ_KVM_FUSE_SERVER_H
#define VZ_KVM_FUSE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/sys.h"

#define VZ_FUSE_MAX_SHARES 40
#define VZ_FUSE_NAME_MAX 16

struct vz_fuse_share {
	char name[VZ_FUSE_NAME_MAX];
	int fd;	 /* O_PATH descriptor of the share's root (owned by the server after init) */
	bool ro; /* refuse every change with EROFS */
};

struct vz_fuse_inode;
struct vz_fuse_handle;

struct vz_fuse {
	struct vz_fuse_share share[VZ_FUSE_MAX_SHARES];
	int nshares;
	int proc_fd; /* /proc/self/fd, also the process's working directory */
	vz_spinlock lock;
	struct vz_fuse_inode *ino; /* table; index = FUSE node id; 1 is the synthetic root */
	uint32_t ino_cap, ino_next, ino_free;
	uint32_t *bucket; /* hash of (share, dev, ino) -> index */
	uint32_t nbucket;
	struct vz_fuse_handle *fh; /* open files and directories; index = FUSE fh */
	uint32_t fh_cap, fh_next, fh_free;
	uint32_t max_write;
	bool can_chown; /* the server may give created files the guest's owner */
};

/* Take the shares (their descriptors become the server's) and map the tables. Returns
 * 0 or -errno. @proc_fd is an O_PATH descriptor of /proc/self/fd; it becomes the
 * process's working directory (the xattr calls exist only with paths). */
int vz_fuse_init(struct vz_fuse *f, const struct vz_fuse_share *shares, int n, int proc_fd);
/* Close every descriptor and unmap the tables. */
void vz_fuse_destroy(struct vz_fuse *f);

/* Serve one request: @in (@nin buffers, @in_len bytes) holds the request as the guest
 * wrote it, @out (@nout buffers, @out_len bytes) receives the reply. Returns the reply's
 * length (0: the request takes no reply, as FORGET). @buf is scratch space of
 * VZ_FUSE_BUF bytes owned by the calling thread. */
#define VZ_FUSE_BUF (160 * 1024)
#define VZ_FUSE_IOV_MAX 256
uint32_t vz_fuse_request(struct vz_fuse *f, const struct iovec *in, unsigned nin, uint32_t in_len,
			 const struct iovec *out, unsigned nout, uint32_t out_len, uint8_t *buf);

#endif
