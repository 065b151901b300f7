/* SPDX-License-Identifier: MIT */
/* virtio-fs [virtio 1.2 section 5.11]: the transport of the FUSE server (fuse/server.h).
 * One device with the tag "vz", a high-priority queue (FORGET) and one request queue,
 * served by bare threads of the VMM: one for the high-priority queue and
 * VZ_FS_THREADS for requests, each taking a chain, serving it with no lock held, and
 * giving it back. */
#ifndef VZ_KVM_VIRTIO_FS_H
#define VZ_KVM_VIRTIO_FS_H

#include "kvm/devmgr.h"
#include "kvm/fuse/server.h"
#include "kvm/virtio/virtio.h"

#define VZ_FS_TAG "vz"
#define VZ_FS_THREADS 2

struct vz_fs_dev;

struct vz_fs_thread {
	void *mem; /* stack, then the thread's chain and scratch buffer */
	volatile int tid;
	volatile int busy; /* serving a chain */
	unsigned queue;
	struct vz_fs_dev *dev;
};

struct vz_fs_dev {
	struct vz_virtio_dev vdev;
	struct vz_devrun run;
	struct vz_fuse fuse;
	volatile uint32_t gen; /* bumped at every device reset */
	struct vz_fs_thread th[1 + VZ_FS_THREADS];
};

/* Set up the device over @mem with the server's shares (their descriptors become the
 * server's); @proc_fd as for vz_fuse_init. Returns 0 or -errno. */
int vz_fs_init(struct vz_fs_dev *d, const struct vz_gmem *mem, const struct vz_fuse_share *shares,
	       int n, int proc_fd);
/* Start the threads (after vz_devmgr_attach). Returns 0 or -errno. */
int vz_fs_start(struct vz_fs_dev *d);
/* Whether no request is being served or waits in a queue (with the guest stopped: the
 * file server has done everything the guest asked of it). */
bool vz_fs_idle(struct vz_fs_dev *d);

#endif
