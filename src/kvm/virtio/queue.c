/* SPDX-License-Identifier: MIT */
/* Split virtqueues, device side [virtio 1.2 section 2.7]. See virtio.h for the rules
 * every guest-written value is held to. Layout in guest memory, little-endian:
 *   descriptor table  num x {le64 addr; le32 len; le16 flags; le16 next}     align 16
 *   avail ring        le16 flags; le16 idx; le16 ring[num]; le16 used_event   align 2
 *   used ring         le16 flags; le16 idx; {le32 id; le32 len} ring[num];
 *                     le16 avail_event                                        align 4 */
#include <errno.h>
#include <string.h>

#include "kvm/virtio/virtio.h"

#define AVAIL_F_NO_INTERRUPT 1

void *vz_gmem_ptr(const struct vz_gmem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->n && i < 2; i++) {
		uint64_t base = m->r[i].gpa, size = m->r[i].len;
		if (gpa >= base && gpa - base <= size && len <= size - (gpa - base))
			return m->r[i].host + (gpa - base);
	}
	return NULL;
}

void vz_vq_reset(struct vz_vq *q)
{
	memset(q, 0, sizeof(*q));
}

int vz_vq_map(struct vz_vq *q, const struct vz_gmem *m)
{
	uint64_t n = q->num;

	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	if (n == 0 || n > VZ_VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = vz_gmem_ptr(m, q->desc_gpa, 16 * n);
	q->avail = vz_gmem_ptr(m, q->avail_gpa, 6 + 2 * n);
	q->used = vz_gmem_ptr(m, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -EINVAL;
	}
	return 0;
}

int vz_vq_activate(struct vz_vq *q, const struct vz_gmem *m)
{
	if (vz_vq_map(q, m) < 0)
		return -EINVAL;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = false;
	q->broken = false;
	q->ready = true;
	return 0;
}

static uint16_t avail_idx(const struct vz_vq *q)
{
	return __atomic_load_n(&q->avail[1], __ATOMIC_ACQUIRE);
}

static int broken(struct vz_vq *q)
{
	q->broken = true;
	return -EINVAL;
}

int vz_vq_pop(struct vz_vq *q, const struct vz_gmem *m, struct vz_vq_elem *e)
{
	uint16_t idx, head, i;
	uint64_t out = 0, in = 0;
	unsigned nseg = 0;
	bool writable = false;

	if (!q->ready || q->broken || !q->desc)
		return q->broken ? -EINVAL : 0;
	idx = avail_idx(q);
	if (idx == q->last_avail)
		return 0;
	/* The driver can never have more chains outstanding than the ring holds. */
	if ((uint16_t)(idx - q->last_avail) > q->num)
		return broken(q);
	head = __atomic_load_n(&q->avail[2 + (q->last_avail & (q->num - 1))], __ATOMIC_RELAXED);
	if (head >= q->num)
		return broken(q);
	e->head = head;
	e->nout = e->nin = 0;
	i = head;
	for (unsigned steps = 0;; steps++) {
		struct vz_vring_desc d;
		void *p;

		/* A chain longer than the table has a loop in it. */
		if (steps >= q->num)
			return broken(q);
		/* One copy: the guest may rewrite the table while it is read. */
		memcpy(&d, (const void *)&q->desc[i], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (d.flags & VZ_VRING_DESC_F_INDIRECT)
			return broken(q); /* not offered */
		if (d.flags & VZ_VRING_DESC_F_WRITE) {
			in += d.len;
			writable = true;
		} else {
			if (writable)
				return broken(q); /* readable after writable (even an empty one) */
			out += d.len;
		}
		if (out + in > UINT32_MAX)
			return broken(q);
		if (d.len) {
			if (!(p = vz_gmem_ptr(m, d.addr, d.len)))
				return broken(q);
			e->iov[nseg].iov_base = p;
			e->iov[nseg].iov_len = d.len;
			nseg++;
			if (d.flags & VZ_VRING_DESC_F_WRITE)
				e->nin++;
			else
				e->nout++;
		}
		if (!(d.flags & VZ_VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->num)
			return broken(q);
		i = d.next;
	}
	e->out_len = (uint32_t)out;
	e->in_len = (uint32_t)in;
	q->last_avail++;
	return 1;
}

void vz_vq_push(struct vz_vq *q, uint16_t head, uint32_t len)
{
	volatile uint8_t *ent;
	uint32_t v[2] = { head, len };

	if (!q->ready || !q->used)
		return;
	ent = q->used + 4 + 8 * (uint64_t)(q->used_idx & (q->num - 1));
	memcpy((void *)ent, v, sizeof(v));
	q->used_idx++;
	/* The entry before the index that publishes it. */
	__atomic_store_n((volatile uint16_t *)(q->used + 2), q->used_idx, __ATOMIC_RELEASE);
}

bool vz_vq_need_interrupt(struct vz_vq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;

	if (!q->ready || !q->used)
		return false;
	/* The used index must be visible before the driver's wishes are read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(__atomic_load_n(&q->avail[0], __ATOMIC_RELAXED) & AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* vring_need_event(): has used_idx passed used_event since the last decision? */
	uint16_t event = __atomic_load_n(&q->avail[2 + q->num], __ATOMIC_RELAXED);
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool vz_vq_rearm(struct vz_vq *q)
{
	if (!q->ready || !q->used || q->broken)
		return false;
	if (q->event_idx)
		__atomic_store_n((volatile uint16_t *)(q->used + 4 + 8 * (uint64_t)q->num), q->last_avail,
				 __ATOMIC_RELAXED);
	/* avail_event before the re-read of avail idx (a store then a load: a full fence). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(q) != q->last_avail;
}

/* Copy @len bytes between @buf and the iovecs from byte @off of them: into them when
 * @to_iov, else out. Returns what was copied. */
static size_t iov_copy(const struct iovec *v, unsigned n, size_t off, uint8_t *buf, size_t len,
		       bool to_iov)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = v[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t k = l - off < len - done ? l - off : len - done;
		uint8_t *iov = (uint8_t *)v[i].iov_base + off;
		memcpy(to_iov ? iov : buf + done, to_iov ? buf + done : iov, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t vz_iov_read(const struct iovec *v, unsigned n, size_t off, void *dst, size_t len)
{
	return iov_copy(v, n, off, dst, len, false);
}

size_t vz_iov_write(const struct iovec *v, unsigned n, size_t off, const void *src, size_t len)
{
	return iov_copy(v, n, off, (uint8_t *)(uintptr_t)src, len, true);
}

size_t vz_vq_read(const struct vz_vq_elem *e, size_t off, void *dst, size_t len)
{
	return vz_iov_read(e->iov, e->nout, off, dst, len);
}

size_t vz_vq_write(struct vz_vq_elem *e, size_t off, const void *src, size_t len)
{
	return vz_iov_write(e->iov + e->nout, e->nin, off, src, len);
}
