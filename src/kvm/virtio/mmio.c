/* SPDX-License-Identifier: MIT */
/* virtio over MMIO, version 2 (no legacy) [virtio 1.2 section 4.2.2]. Register accesses
 * arrive on the vCPU thread that trapped them; the device's lock orders them against
 * the thread that serves the queues. Registers are 32 bits wide and must be accessed
 * so; the configuration space from 0x100 takes any width. */
#include <errno.h>
#include <string.h>

#include "kvm/snapshot.h"
#include "kvm/virtio/virtio.h"

enum {
	R_MAGIC = 0x000,
	R_VERSION = 0x004,
	R_DEVICE_ID = 0x008,
	R_VENDOR_ID = 0x00c,
	R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014,
	R_DRV_FEATURES = 0x020,
	R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050,
	R_INTERRUPT_STATUS = 0x060,
	R_INTERRUPT_ACK = 0x064,
	R_STATUS = 0x070,
	R_QUEUE_DESC_LOW = 0x080,
	R_QUEUE_DESC_HIGH = 0x084,
	R_QUEUE_DRIVER_LOW = 0x090,
	R_QUEUE_DRIVER_HIGH = 0x094,
	R_QUEUE_DEVICE_LOW = 0x0a0,
	R_QUEUE_DEVICE_HIGH = 0x0a4,
	R_SHM_SEL = 0x0ac,
	R_SHM_LEN_LOW = 0x0b0,
	R_SHM_LEN_HIGH = 0x0b4,
	R_SHM_BASE_LOW = 0x0b8,
	R_SHM_BASE_HIGH = 0x0bc,
	R_CONFIG_GENERATION = 0x0fc,
	R_CONFIG = 0x100,
};

#define MAGIC 0x74726976 /* "virt" */
#define VENDOR 0x5a56	 /* "VZ" */

static uint64_t offered(const struct vz_virtio_dev *d)
{
	return d->ops->features | VZ_VIRTIO_F_VERSION_1 | VZ_VIRTIO_F_EVENT_IDX;
}

void vz_virtio_init(struct vz_virtio_dev *d, const struct vz_virtio_ops *ops, void *priv,
		    const struct vz_gmem *mem, int irq_fd)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->mem = mem;
	d->irq_fd = irq_fd;
	for (unsigned i = 0; i < VZ_VIRTIO_MAX_QUEUES; i++)
		d->kick_fd[i] = -1;
}

bool vz_virtio_running(const struct vz_virtio_dev *d)
{
	return (d->status & VZ_VIRTIO_S_DRIVER_OK) &&
	       !(d->status & (VZ_VIRTIO_S_NEEDS_RESET | VZ_VIRTIO_S_FAILED));
}

void vz_virtio_interrupt(struct vz_virtio_dev *d, uint32_t why)
{
	uint64_t one = 1;
	__atomic_or_fetch(&d->isr, why, __ATOMIC_SEQ_CST);
	if (d->irq_fd >= 0)
		vz_r_write(d->irq_fd, &one, sizeof(one));
}

void vz_virtio_queue_done(struct vz_virtio_dev *d, unsigned q)
{
	if (q < VZ_VIRTIO_MAX_QUEUES && vz_vq_need_interrupt(&d->vq[q]))
		vz_virtio_interrupt(d, VZ_VIRTIO_ISR_QUEUE);
}

int vz_virtio_next(struct vz_virtio_dev *d, unsigned qi, struct vz_vq_elem *e)
{
	struct vz_vq *q = &d->vq[qi];
	int r = vz_virtio_running(d) ? vz_vq_pop(q, d->mem, e) : 0;

	if (r < 0)
		vz_virtio_fail(d);
	if (r == 0 && vz_virtio_running(d) && vz_vq_rearm(q))
		r = vz_vq_pop(q, d->mem, e);
	return r;
}

void vz_virtio_fail(struct vz_virtio_dev *d)
{
	if (d->status & VZ_VIRTIO_S_NEEDS_RESET)
		return;
	d->status |= VZ_VIRTIO_S_NEEDS_RESET;
	d->config_gen++;
	vz_virtio_interrupt(d, VZ_VIRTIO_ISR_CONFIG);
}

static void reset(struct vz_virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned i = 0; i < VZ_VIRTIO_MAX_QUEUES; i++)
		vz_vq_reset(&d->vq[i]);
	d->status = 0;
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = 0;
	d->driver_features = 0;
	__atomic_store_n(&d->isr, 0, __ATOMIC_SEQ_CST);
}

static struct vz_vq *sel_queue(struct vz_virtio_dev *d)
{
	return d->queue_sel < d->ops->nqueues && d->queue_sel < VZ_VIRTIO_MAX_QUEUES
		       ? &d->vq[d->queue_sel]
		       : NULL;
}

static uint32_t reg_read(struct vz_virtio_dev *d, uint64_t off)
{
	struct vz_vq *q = sel_queue(d);
	uint64_t f = offered(d);

	switch (off) {
	case R_MAGIC:
		return MAGIC;
	case R_VERSION:
		return 2;
	case R_DEVICE_ID:
		return d->ops->device_id;
	case R_VENDOR_ID:
		return VENDOR;
	case R_DEV_FEATURES:
		return d->dev_feat_sel == 0 ? (uint32_t)f : d->dev_feat_sel == 1 ? (uint32_t)(f >> 32) : 0;
	case R_QUEUE_NUM_MAX:
		return q ? VZ_VQ_MAX_SIZE : 0;
	case R_QUEUE_READY:
		return q ? q->ready : 0;
	case R_INTERRUPT_STATUS:
		return __atomic_load_n(&d->isr, __ATOMIC_SEQ_CST);
	case R_STATUS:
		return d->status;
	case R_SHM_LEN_LOW:
	case R_SHM_LEN_HIGH:
		return ~0u; /* no shared memory regions */
	case R_CONFIG_GENERATION:
		return d->config_gen;
	default:
		return 0;
	}
}

static void set_status(struct vz_virtio_dev *d, uint32_t v)
{
	uint32_t now = d->status & ~VZ_VIRTIO_S_NEEDS_RESET;

	if (v == 0) {
		reset(d);
		return;
	}
	/* NEEDS_RESET is the device's to set. The driver only ever adds bits until it
	 * resets; anything else is ignored. */
	v &= ~VZ_VIRTIO_S_NEEDS_RESET;
	if ((v & now) != now)
		return;
	/* FEATURES_OK only if the driver accepted what it was offered, and VERSION_1. */
	if ((v & VZ_VIRTIO_S_FEATURES_OK) && !(now & VZ_VIRTIO_S_FEATURES_OK) &&
	    ((d->driver_features & ~offered(d)) || !(d->driver_features & VZ_VIRTIO_F_VERSION_1)))
		v &= ~(VZ_VIRTIO_S_FEATURES_OK | VZ_VIRTIO_S_DRIVER_OK);
	/* DRIVER_OK only after the features were agreed. */
	if (!(v & VZ_VIRTIO_S_FEATURES_OK))
		v &= ~VZ_VIRTIO_S_DRIVER_OK;
	d->status = v | (d->status & VZ_VIRTIO_S_NEEDS_RESET);
	if (!(now & VZ_VIRTIO_S_DRIVER_OK) && (v & VZ_VIRTIO_S_DRIVER_OK)) {
		for (unsigned i = 0; i < d->ops->nqueues && i < VZ_VIRTIO_MAX_QUEUES; i++)
			d->vq[i].event_idx = d->driver_features & VZ_VIRTIO_F_EVENT_IDX;
		if (d->ops->activate)
			d->ops->activate(d);
	}
}

static void set_addr(uint64_t *a, uint32_t v, bool high)
{
	*a = high ? (*a & 0xffffffffull) | ((uint64_t)v << 32) : (*a & ~0xffffffffull) | v;
}

static void reg_write(struct vz_virtio_dev *d, uint64_t off, uint32_t v)
{
	struct vz_vq *q = sel_queue(d);
	/* Queue layout may change only while the queue is not ready. */
	bool q_open = q && !q->ready;

	switch (off) {
	case R_DEV_FEATURES_SEL:
		d->dev_feat_sel = v;
		break;
	case R_DRV_FEATURES_SEL:
		d->drv_feat_sel = v;
		break;
	case R_DRV_FEATURES:
		if (d->status & VZ_VIRTIO_S_FEATURES_OK)
			break;
		if (d->drv_feat_sel == 0)
			d->driver_features = (d->driver_features & ~0xffffffffull) | v;
		else if (d->drv_feat_sel == 1)
			d->driver_features = (d->driver_features & 0xffffffffull) | ((uint64_t)v << 32);
		break;
	case R_QUEUE_SEL:
		d->queue_sel = v;
		break;
	case R_QUEUE_NUM:
		if (q_open)
			q->num = v <= VZ_VQ_MAX_SIZE ? (uint16_t)v : 0;
		break;
	case R_QUEUE_READY:
		if (!q)
			break;
		if (v == 1 && !q->ready) {
			if (vz_vq_activate(q, d->mem) < 0)
				vz_virtio_fail(d);
		} else if (v == 0) {
			q->ready = false;
		}
		break;
	case R_QUEUE_NOTIFY:
		/* Normally an ioeventfd catches this before it exits to the VMM. */
		if (v < d->ops->nqueues && v < VZ_VIRTIO_MAX_QUEUES && vz_virtio_running(d)) {
			uint64_t one = 1;
			if (d->ops->notify)
				d->ops->notify(d, v);
			else if (d->kick_fd[v] >= 0)
				vz_r_write(d->kick_fd[v], &one, sizeof(one));
		}
		break;
	case R_INTERRUPT_ACK:
		__atomic_and_fetch(&d->isr, ~v, __ATOMIC_SEQ_CST);
		break;
	case R_STATUS:
		set_status(d, v);
		break;
	case R_QUEUE_DESC_LOW:
	case R_QUEUE_DESC_HIGH:
		if (q_open)
			set_addr(&q->desc_gpa, v, off == R_QUEUE_DESC_HIGH);
		break;
	case R_QUEUE_DRIVER_LOW:
	case R_QUEUE_DRIVER_HIGH:
		if (q_open)
			set_addr(&q->avail_gpa, v, off == R_QUEUE_DRIVER_HIGH);
		break;
	case R_QUEUE_DEVICE_LOW:
	case R_QUEUE_DEVICE_HIGH:
		if (q_open)
			set_addr(&q->used_gpa, v, off == R_QUEUE_DEVICE_HIGH);
		break;
	case R_SHM_SEL:
	default:
		break; /* read-only or unknown registers ignore writes */
	}
}

void vz_virtio_mmio_access(struct vz_virtio_dev *d, uint64_t off, uint8_t *data, uint32_t len,
			   bool write)
{
	if (off >= R_CONFIG) {
		uint32_t c = (uint32_t)(off - R_CONFIG);
		bool inside = off - R_CONFIG < d->ops->config_len && len <= d->ops->config_len - c;
		vz_spin_lock(&d->lock);
		if (!write) {
			memset(data, 0, len);
			if (inside && d->ops->config)
				memcpy(data, (const uint8_t *)d->ops->config + c, len);
			else if (inside && d->ops->config_read)
				d->ops->config_read(d, c, data, len);
		} else if (inside && d->ops->config_write) {
			d->ops->config_write(d, c, data, len);
		}
		vz_spin_unlock(&d->lock);
		return;
	}
	if (len != 4 || (off & 3)) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	vz_spin_lock(&d->lock);
	if (write) {
		uint32_t v;
		memcpy(&v, data, 4);
		reg_write(d, off, v);
	} else {
		uint32_t v = reg_read(d, off);
		memcpy(data, &v, 4);
	}
	vz_spin_unlock(&d->lock);
}

void vz_virtio_save(struct vz_virtio_dev *d, struct vz_snap_virtio *s)
{
	memset(s, 0, sizeof(*s));
	vz_spin_lock(&d->lock);
	s->device_id = d->ops->device_id;
	s->nqueues = d->ops->nqueues;
	s->status = d->status;
	s->dev_feat_sel = d->dev_feat_sel;
	s->drv_feat_sel = d->drv_feat_sel;
	s->queue_sel = d->queue_sel;
	s->config_gen = d->config_gen;
	s->isr = __atomic_load_n(&d->isr, __ATOMIC_SEQ_CST);
	s->driver_features = d->driver_features;
	for (unsigned i = 0; i < VZ_VIRTIO_MAX_QUEUES && i < VZ_SNAP_MAX_QUEUES; i++) {
		const struct vz_vq *q = &d->vq[i];
		s->vq[i] = (struct vz_snap_vq){
			.num = q->num, .last_avail = q->last_avail, .used_idx = q->used_idx,
			.signalled_used = q->signalled_used, .ready = q->ready, .broken = q->broken,
			.event_idx = q->event_idx, .signalled_valid = q->signalled_valid,
			.desc_gpa = q->desc_gpa, .avail_gpa = q->avail_gpa, .used_gpa = q->used_gpa,
		};
	}
	vz_spin_unlock(&d->lock);
}

int vz_virtio_restore(struct vz_virtio_dev *d, const struct vz_snap_virtio *s)
{
	int rc = 0;

	if (s->device_id != d->ops->device_id || s->nqueues != d->ops->nqueues)
		return -EINVAL;
	vz_spin_lock(&d->lock);
	d->status = s->status;
	d->dev_feat_sel = s->dev_feat_sel;
	d->drv_feat_sel = s->drv_feat_sel;
	d->queue_sel = s->queue_sel;
	d->config_gen = s->config_gen;
	__atomic_store_n(&d->isr, s->isr, __ATOMIC_SEQ_CST);
	d->driver_features = s->driver_features;
	for (unsigned i = 0; i < VZ_VIRTIO_MAX_QUEUES && i < VZ_SNAP_MAX_QUEUES; i++) {
		struct vz_vq *q = &d->vq[i];
		const struct vz_snap_vq *v = &s->vq[i];
		vz_vq_reset(q);
		q->num = v->num;
		q->last_avail = v->last_avail;
		q->used_idx = v->used_idx;
		q->signalled_used = v->signalled_used;
		q->broken = v->broken;
		q->event_idx = v->event_idx;
		q->signalled_valid = v->signalled_valid;
		q->desc_gpa = v->desc_gpa;
		q->avail_gpa = v->avail_gpa;
		q->used_gpa = v->used_gpa;
		if (v->ready) {
			if (vz_vq_map(q, d->mem) < 0)
				rc = -EINVAL;
			else
				q->ready = true;
		}
	}
	vz_spin_unlock(&d->lock);
	return rc;
}

void vz_virtio_resume(struct vz_virtio_dev *d)
{
	uint64_t one = 1;
	if (__atomic_load_n(&d->isr, __ATOMIC_SEQ_CST) && d->irq_fd >= 0)
		vz_r_write(d->irq_fd, &one, sizeof(one));
}
