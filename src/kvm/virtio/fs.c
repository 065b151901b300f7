/* SPDX-License-Identifier: MIT */
/* virtio-fs: queues to the FUSE server (see fs.h). A request chain is the FUSE request
 * (driver-readable) followed by room for the reply (device-writable). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "kvm/virtio/fs.h"

#define Q_HIPRIO 0
#define Q_REQUEST 1
#define STACK (64 * 1024)
#define AREA (STACK + sizeof(struct vz_vq_elem) + VZ_FUSE_BUF)

/* struct virtio_fs_config */
static const struct {
	char tag[36];
	uint32_t num_request_queues;
} fs_config = { VZ_FS_TAG, 1 };

static void dev_reset(struct vz_virtio_dev *d)
{
	struct vz_fs_dev *fs = d->priv;
	fs->gen++;
}

static const struct vz_virtio_ops fs_ops = {
	.name = "virtio-fs",
	.device_id = 26,
	.nqueues = 2,
	.config_len = sizeof(fs_config),
	.config = &fs_config,
	.reset = dev_reset,
};

int vz_fs_init(struct vz_fs_dev *d, const struct vz_gmem *mem, const struct vz_fuse_share *shares,
	       int n, int proc_fd)
{
	memset(d, 0, sizeof(*d));
	vz_virtio_init(&d->vdev, &fs_ops, d, mem, -1);
	return vz_fuse_init(&d->fuse, shares, n, proc_fd);
}

static void worker(void *arg)
{
	struct vz_fs_thread *th = arg;
	struct vz_fs_dev *fs = th->dev;
	unsigned k = (unsigned)(th - fs->th);
	struct vz_virtio_dev *d = &fs->vdev;
	unsigned qi = fs->th[k].queue;
	struct vz_vq *q = &d->vq[qi];
	struct vz_vq_elem *e = (struct vz_vq_elem *)((uint8_t *)fs->th[k].mem + STACK);
	uint8_t *buf = (uint8_t *)(e + 1);
	int kick = fs->vdev.kick_fd[qi];

	for (;;) {
		uint32_t gen, len;
		bool more = false;
		int r;

		vz_spin_lock(&d->lock);
		r = vz_virtio_next(d, qi, e);
		if (r > 0)
			more = __atomic_load_n(&q->avail[1], __ATOMIC_ACQUIRE) != q->last_avail;
		gen = fs->gen;
		__atomic_store_n(&th->busy, r > 0, __ATOMIC_RELEASE);
		vz_spin_unlock(&d->lock);
		if (r <= 0) {
			uint64_t x;
			vz_r_read(kick, &x, sizeof(x));
			continue;
		}
		if (more) { /* wake a sibling for the rest */
			uint64_t one = 1;
			vz_r_write(kick, &one, sizeof(one));
		}
		len = vz_fuse_request(&fs->fuse, e->iov, e->nout, e->out_len, e->iov + e->nout, e->nin,
				      e->in_len, buf);
		vz_spin_lock(&d->lock);
		if (gen == fs->gen) {
			vz_vq_push(q, e->head, len);
			vz_virtio_queue_done(d, qi);
		}
		__atomic_store_n(&th->busy, 0, __ATOMIC_RELEASE);
		vz_spin_unlock(&d->lock);
	}
}

int vz_fs_start(struct vz_fs_dev *d)
{
	for (unsigned k = 0; k < 1 + VZ_FS_THREADS; k++) {
		long r;
		d->th[k].mem = vz_r_mmap(NULL, AREA, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (vz_r_mmap_failed(d->th[k].mem))
			return (int)(long)d->th[k].mem;
		d->th[k].queue = k == 0 ? Q_HIPRIO : Q_REQUEST;
		d->th[k].dev = d;
		r = vz_thread_spawn((uint8_t *)d->th[k].mem + STACK, &d->th[k].tid, worker, &d->th[k]);
		if (r < 0)
			return (int)r;
	}
	return 0;
}

bool vz_fs_idle(struct vz_fs_dev *d)
{
	struct vz_virtio_dev *v = &d->vdev;
	bool idle = true;

	vz_spin_lock(&v->lock);
	for (unsigned k = 0; k < 1 + VZ_FS_THREADS; k++)
		if (__atomic_load_n(&d->th[k].busy, __ATOMIC_ACQUIRE))
			idle = false;
	for (unsigned q = 0; q < 2; q++) {
		const struct vz_vq *vq = &v->vq[q];
		if (vz_virtio_running(v) && vq->ready && !vq->broken &&
		    __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE) != vq->last_avail)
			idle = false;
	}
	vz_spin_unlock(&v->lock);
	return idle;
}
