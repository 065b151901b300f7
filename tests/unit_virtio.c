/* SPDX-License-Identifier: MIT */
/* Unit tests of the virtio core (src/kvm/virtio): guest memory look-ups, split
 * virtqueues driven by a well-behaved and by a hostile driver, the virtio-mmio transport
 * and the console's control-message parser. No KVM: the "guest" is an mmap'd buffer in
 * two regions (1 MiB of low RAM at 0, 32 MiB at 4 GiB, the hole between), each between
 * PROT_NONE guard pages, so a read or write outside guest RAM faults; a small driver
 * written here lays out the rings and adds chains as Linux's virtio_ring does. */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "kvm/virtio/console.h"
#include "kvm/virtio/virtio.h"

/* ---- the fake guest ---- */

#define PAGE 4096ull
#define GUARD (64 * PAGE)
#define R0_GPA 0ull
#define R0_LEN (1ull << 20)
#define R1_GPA (1ull << 32)
#define R1_LEN (32ull << 20) /* MAP_NORESERVE: only the pages a test touches exist */

static uint8_t *g_map;
static size_t g_map_len;
static struct vz_gmem gm;

/* Map the guest once, then give every test zeroed RAM. */
static void guest_reset(void)
{
	if (!g_map) {
		g_map_len = GUARD + R0_LEN + GUARD + R1_LEN + GUARD;
		g_map = mmap(NULL, g_map_len, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (g_map == MAP_FAILED) {
			perror("mmap");
			abort();
		}
		gm.r[0].gpa = R0_GPA;
		gm.r[0].len = R0_LEN;
		gm.r[0].host = g_map + GUARD;
		gm.r[1].gpa = R1_GPA;
		gm.r[1].len = R1_LEN;
		gm.r[1].host = g_map + GUARD + R0_LEN + GUARD;
		gm.n = 2;
		if (mprotect(gm.r[0].host, R0_LEN, PROT_READ | PROT_WRITE) ||
		    mprotect(gm.r[1].host, R1_LEN, PROT_READ | PROT_WRITE)) {
			perror("mprotect");
			abort();
		}
	}
	memset(gm.r[0].host, 0, R0_LEN);
	madvise(gm.r[1].host, R1_LEN, MADV_DONTNEED); /* private anonymous: zero again */
}

/* The test's own view of guest memory (not vz_gmem_ptr, which is under test). */
static uint8_t *gp(uint64_t gpa)
{
	if (gpa < R0_GPA + R0_LEN) /* R0_GPA is 0 */
		return gm.r[0].host + (gpa - R0_GPA);
	if (gpa >= R1_GPA && gpa < R1_GPA + R1_LEN)
		return gm.r[1].host + (gpa - R1_GPA);
	fprintf(stderr, "test bug: gpa %#llx is not guest RAM\n", (unsigned long long)gpa);
	abort();
}
static void w16(uint64_t gpa, uint16_t v)
{
	memcpy(gp(gpa), &v, 2);
}
static void w32(uint64_t gpa, uint32_t v)
{
	memcpy(gp(gpa), &v, 4);
}
static void w64(uint64_t gpa, uint64_t v)
{
	memcpy(gp(gpa), &v, 8);
}
static uint16_t r16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, gp(gpa), 2);
	return v;
}
static uint32_t r32(uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, gp(gpa), 4);
	return v;
}

/* Whether every buffer of @e lies wholly inside one region of guest RAM. */
static int elem_inside(const struct vz_vq_elem *e)
{
	for (unsigned i = 0; i < (unsigned)e->nout + e->nin; i++) {
		uintptr_t b = (uintptr_t)e->iov[i].iov_base, l = e->iov[i].iov_len;
		int ok = 0;
		for (int r = 0; r < 2; r++) {
			uintptr_t h = (uintptr_t)gm.r[r].host;
			if (b >= h && b - h <= gm.r[r].len && l <= gm.r[r].len - (b - h))
				ok = 1;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* ---- a driver, after Linux's drivers/virtio/virtio_ring.c (split rings) ---- */

struct seg {
	uint64_t gpa;
	uint32_t len;
};

struct drv {
	struct vz_vq own, *q; /* the device side: own, or a transport's queue */
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* the driver's shadow of avail->idx */
	uint16_t last_used;
	uint16_t free_head, num_free;
	uint16_t next[VZ_VQ_MAX_SIZE]; /* free list, as desc_extra[].next */
};

static uint64_t used_event_gpa(const struct drv *d)
{
	return d->avail + 4 + 2ull * d->num;
}
static uint64_t avail_event_gpa(const struct drv *d)
{
	return d->used + 4 + 8ull * d->num;
}

static void desc_set(const struct drv *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint64_t at = d->desc + 16ull * i;
	w64(at, addr);
	w32(at + 8, len);
	w16(at + 12, flags);
	w16(at + 14, next);
}

/* Lay out a queue of @num; with @q (a transport's queue, set up through its registers)
 * only mirror it, else describe it to d->own and activate it (returns that result). */
static int drv_setup(struct drv *d, struct vz_vq *q, uint16_t num, uint64_t desc, uint64_t avail,
		     uint64_t used)
{
	memset(d, 0, sizeof(*d));
	d->q = q ? q : &d->own;
	d->num = num;
	d->desc = desc;
	d->avail = avail;
	d->used = used;
	for (unsigned i = 0; i < VZ_VQ_MAX_SIZE; i++)
		d->next[i] = (uint16_t)(i + 1);
	d->num_free = num;
	if (q)
		return 0;
	vz_vq_reset(&d->own);
	d->own.num = num;
	d->own.desc_gpa = desc;
	d->own.avail_gpa = avail;
	d->own.used_gpa = used;
	return vz_vq_activate(&d->own, &gm);
}

/* The usual place of a test queue in low RAM (fits num 256); buffers go from 0x10000. */
static int std_queue(struct drv *d, uint16_t num)
{
	return drv_setup(d, NULL, num, 0x1000, 0x2000, 0x3000);
}

/* Make chain @head visible to the device. */
static void drv_publish(struct drv *d, uint16_t head)
{
	w16(d->avail + 4 + 2ull * (d->avail_idx & (d->num - 1)), head);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	w16(d->avail + 2, ++d->avail_idx);
}

/* virtqueue_add_split(): @nout readable then @nin writable buffers. Returns the head. */
static uint16_t drv_add(struct drv *d, const struct seg *out, unsigned nout, const struct seg *in,
			unsigned nin)
{
	unsigned n = nout + nin;
	uint16_t head = d->free_head, i = head;

	if (n == 0 || n > d->num_free) {
		fprintf(stderr, "test bug: drv_add of %u with %u free\n", n, d->num_free);
		abort();
	}
	for (unsigned k = 0; k < n; k++) {
		const struct seg *s = k < nout ? &out[k] : &in[k - nout];
		uint16_t flags = (uint16_t)((k < nout ? 0 : VZ_VRING_DESC_F_WRITE) |
					    (k + 1 < n ? VZ_VRING_DESC_F_NEXT : 0));
		desc_set(d, i, s->gpa, s->len, flags, d->next[i]);
		i = d->next[i];
	}
	d->free_head = i;
	d->num_free = (uint16_t)(d->num_free - n);
	drv_publish(d, head);
	return head;
}

/* virtqueue_get_buf(): the next used chain's id (freed), or -1. */
static int drv_get(struct drv *d, uint32_t *len)
{
	uint64_t ent;
	uint16_t id, i;
	unsigned n = 1;

	if (r16(d->used + 2) == d->last_used)
		return -1;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	ent = d->used + 4 + 8ull * (d->last_used & (d->num - 1));
	id = (uint16_t)r32(ent);
	*len = r32(ent + 4);
	d->last_used++;
	for (i = id; r16(d->desc + 16ull * i + 12) & VZ_VRING_DESC_F_NEXT; n++)
		i = r16(d->desc + 16ull * i + 14);
	d->next[i] = d->free_head;
	d->free_head = id;
	d->num_free = (uint16_t)(d->num_free + n);
	return id;
}

static struct vz_vq_elem elem; /* 4 KiB of iovecs: kept off the stack */

/* One readable buffer through the device and back: add, pop, push, get. */
static int serve_one(struct drv *d, uint32_t len)
{
	struct seg s = { 0x10000, 64 };
	uint32_t got;
	uint16_t head = drv_add(d, &s, 1, NULL, 0);
	if (vz_vq_pop(d->q, &gm, &elem) != 1 || elem.head != head)
		return 0;
	vz_vq_push(d->q, elem.head, len);
	return drv_get(d, &got) == head && got == len;
}

/* ---- guest memory ---- */

static void test_gmem_ptr(void)
{
	guest_reset();
	CHECK(vz_gmem_ptr(&gm, 0, 16) == gm.r[0].host);
	CHECK(vz_gmem_ptr(&gm, 0, R0_LEN) == gm.r[0].host);
	CHECK(vz_gmem_ptr(&gm, R0_LEN - 8, 8) == gm.r[0].host + R0_LEN - 8);
	CHECK(vz_gmem_ptr(&gm, R1_GPA, R1_LEN) == gm.r[1].host);
	CHECK(vz_gmem_ptr(&gm, R1_GPA + R1_LEN - 1, 1) == gm.r[1].host + R1_LEN - 1);
	/* straddling a region's end, in the hole, past the end, wrapping around */
	CHECK(vz_gmem_ptr(&gm, R0_LEN - 8, 9) == NULL);
	CHECK(vz_gmem_ptr(&gm, 0, R0_LEN + 1) == NULL);
	CHECK(vz_gmem_ptr(&gm, R0_LEN, 1) == NULL);
	CHECK(vz_gmem_ptr(&gm, 0x80000000ull, 4) == NULL);
	CHECK(vz_gmem_ptr(&gm, R1_GPA - 4, 8) == NULL);
	CHECK(vz_gmem_ptr(&gm, R1_GPA - 1, 1) == NULL);
	CHECK(vz_gmem_ptr(&gm, R1_GPA + R1_LEN - 4, 8) == NULL);
	CHECK(vz_gmem_ptr(&gm, R1_GPA + R1_LEN, 1) == NULL);
	CHECK(vz_gmem_ptr(&gm, UINT64_MAX - 7, 16) == NULL); /* wraps to 8 */
	CHECK(vz_gmem_ptr(&gm, 16, UINT64_MAX) == NULL);
	CHECK(vz_gmem_ptr(&gm, R1_GPA + 16, UINT64_MAX - 8) == NULL);
	CHECK(vz_gmem_ptr(&gm, UINT64_MAX, 1) == NULL);
}

/* ---- normal chains ---- */

static void test_chain_read_write(void)
{
	struct drv d;
	const struct seg out[] = { { 0x10000, 10 }, { R1_GPA + 0x1000, 20 } };
	const struct seg in[] = { { 0x11000, 7 }, { R1_GPA + 0x2000, 100 } };
	uint8_t buf[256], src[256];
	uint32_t len;
	uint16_t head;

	guest_reset();
	CHECK_INT(std_queue(&d, 16), ==, 0);
	CHECK(d.q->ready && !d.q->broken);
	for (unsigned k = 0; k < 10; k++)
		gp(0x10000)[k] = (uint8_t)k;
	for (unsigned k = 0; k < 20; k++)
		gp(R1_GPA + 0x1000)[k] = (uint8_t)(10 + k);
	/* canaries around every buffer */
	const struct seg all[] = { out[0], out[1], in[0], in[1] };
	for (unsigned s = 0; s < 4; s++) {
		gp(all[s].gpa - 1)[0] = 0xee;
		gp(all[s].gpa + all[s].len)[0] = 0xee;
	}
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 0); /* empty */
	head = drv_add(&d, out, 2, in, 2);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK_INT(elem.head, ==, head);
	CHECK_INT(elem.nout, ==, 2);
	CHECK_INT(elem.nin, ==, 2);
	CHECK_INT(elem.out_len, ==, 30);
	CHECK_INT(elem.in_len, ==, 107);
	CHECK(elem.iov[0].iov_base == gp(0x10000) && elem.iov[0].iov_len == 10);
	CHECK(elem.iov[1].iov_base == gp(R1_GPA + 0x1000) && elem.iov[1].iov_len == 20);
	CHECK(elem.iov[2].iov_base == gp(0x11000) && elem.iov[2].iov_len == 7);
	CHECK(elem.iov[3].iov_base == gp(R1_GPA + 0x2000) && elem.iov[3].iov_len == 100);
	CHECK_INT(d.q->last_avail, ==, 1);

	/* reads: across the boundary, clipped at the end, past the end */
	memset(buf, 0, sizeof(buf));
	CHECK_INT(vz_vq_read(&elem, 5, buf, 10), ==, 10);
	for (unsigned k = 0; k < 10; k++)
		CHECK_INT(buf[k], ==, 5 + k);
	CHECK_INT(vz_vq_read(&elem, 0, buf, sizeof(buf)), ==, 30);
	for (unsigned k = 0; k < 30; k++)
		CHECK_INT(buf[k], ==, k);
	CHECK_INT(vz_vq_read(&elem, 29, buf, 5), ==, 1);
	CHECK_INT(buf[0], ==, 29);
	CHECK_INT(vz_vq_read(&elem, 30, buf, 5), ==, 0);
	CHECK_INT(vz_vq_read(&elem, 1000, buf, 5), ==, 0);
	CHECK_INT(vz_vq_read(&elem, 0, buf, 0), ==, 0);

	/* writes: across the boundary, clipped at the end; only the writable part */
	for (unsigned k = 0; k < sizeof(src); k++)
		src[k] = (uint8_t)(0x40 + k);
	CHECK_INT(vz_vq_write(&elem, 3, src, 10), ==, 10);
	for (unsigned k = 0; k < 4; k++)
		CHECK_INT(gp(0x11000)[3 + k], ==, 0x40 + k);
	for (unsigned k = 0; k < 6; k++)
		CHECK_INT(gp(R1_GPA + 0x2000)[k], ==, 0x44 + k);
	CHECK_INT(vz_vq_write(&elem, 0, src, sizeof(src)), ==, 107);
	for (unsigned k = 0; k < 7; k++)
		CHECK_INT(gp(0x11000)[k], ==, 0x40 + k);
	for (unsigned k = 0; k < 100; k++)
		CHECK_INT(gp(R1_GPA + 0x2000)[k], ==, (uint8_t)(0x47 + k));
	CHECK_INT(vz_vq_write(&elem, 106, src, 5), ==, 1);
	CHECK_INT(vz_vq_write(&elem, 107, src, 5), ==, 0);
	for (unsigned s = 0; s < 4; s++) {
		CHECK_MSG(gp(all[s].gpa - 1)[0] == 0xee, "canary before buffer %u", s);
		CHECK_MSG(gp(all[s].gpa + all[s].len)[0] == 0xee, "canary after buffer %u", s);
	}
	for (unsigned k = 0; k < 10; k++) /* the readable part is not written */
		CHECK_INT(gp(0x10000)[k], ==, k);

	/* push: the used entry, then the index */
	vz_vq_push(d.q, elem.head, 107);
	CHECK_INT(r16(d.used + 2), ==, 1);
	CHECK_INT(r32(d.used + 4), ==, head);
	CHECK_INT(r32(d.used + 8), ==, 107);
	CHECK_INT(drv_get(&d, &len), ==, head);
	CHECK_INT(len, ==, 107);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 0);
	CHECK(!d.q->broken);

	/* readable-only and writable-only chains */
	head = drv_add(&d, out, 1, NULL, 0);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(elem.head == head && elem.nout == 1 && elem.nin == 0 && elem.in_len == 0);
	CHECK_INT(vz_vq_write(&elem, 0, src, 4), ==, 0);
	vz_vq_push(d.q, head, 0);
	head = drv_add(&d, NULL, 0, in, 1);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(elem.head == head && elem.nout == 0 && elem.nin == 1 && elem.out_len == 0);
	CHECK_INT(vz_vq_read(&elem, 0, buf, 4), ==, 0);
	vz_vq_push(d.q, head, 7);
}

/* Several chains outstanding, given back out of order: the used ring has push order. */
static void test_chain_out_of_order(void)
{
	struct drv d;
	const struct seg s[] = { { 0x10000, 8 }, { 0x10100, 8 }, { 0x10200, 8 } };
	uint16_t h[3];
	uint32_t len;

	guest_reset();
	CHECK_INT(std_queue(&d, 4), ==, 0);
	h[0] = drv_add(&d, &s[0], 1, NULL, 0);
	h[1] = drv_add(&d, &s[1], 1, &s[2], 1);
	h[2] = drv_add(&d, NULL, 0, &s[2], 1);
	for (int k = 0; k < 3; k++) {
		CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
		CHECK_INT(elem.head, ==, h[k]);
	}
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 0);
	vz_vq_push(d.q, h[2], 3);
	vz_vq_push(d.q, h[0], 0);
	vz_vq_push(d.q, h[1], 8);
	CHECK_INT(r16(d.used + 2), ==, 3);
	CHECK_INT(drv_get(&d, &len), ==, h[2]);
	CHECK_INT(len, ==, 3);
	CHECK_INT(drv_get(&d, &len), ==, h[0]);
	CHECK_INT(len, ==, 0);
	CHECK_INT(drv_get(&d, &len), ==, h[1]);
	CHECK_INT(len, ==, 8);
	CHECK_INT(d.num_free, ==, 4);
}

/* A chain as long as the table, and a full ring (num chains outstanding). */
static void test_chain_full(void)
{
	struct drv d;
	struct seg s[8];
	uint32_t len;

	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	for (unsigned k = 0; k < 8; k++)
		s[k] = (struct seg){ 0x10000 + 0x100ull * k, 16 };
	uint16_t head = drv_add(&d, s, 4, s + 4, 4);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(elem.head == head && elem.nout == 4 && elem.nin == 4);
	CHECK(elem.out_len == 64 && elem.in_len == 64);
	vz_vq_push(d.q, head, 0);
	CHECK_INT(drv_get(&d, &len), ==, head);

	for (unsigned k = 0; k < 8; k++)
		drv_add(&d, &s[k], 1, NULL, 0);
	for (unsigned k = 0; k < 8; k++)
		CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 0);
	CHECK(!d.q->broken);
}

/* Zero-length buffers are accepted and left out of the element. */
static void test_chain_zero_length(void)
{
	struct drv d;
	const struct seg out[] = { { 0x10000, 0 }, { 0x10100, 8 }, { 0x10200, 0 } };
	const struct seg in[] = { { 0x10300, 0 }, { 0x10400, 8 }, { 0x10500, 0 } };
	const struct seg none[] = { { 0x10000, 0 }, { 0x10100, 0 } };

	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	uint16_t head = drv_add(&d, out, 3, in, 3);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(elem.head == head && elem.nout == 1 && elem.nin == 1);
	CHECK(elem.out_len == 8 && elem.in_len == 8);
	CHECK(elem.iov[0].iov_base == gp(0x10100) && elem.iov[1].iov_base == gp(0x10400));
	vz_vq_push(d.q, head, 0);
	head = drv_add(&d, none, 2, NULL, 0);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(elem.head == head && elem.nout == 0 && elem.nin == 0);
	CHECK(!d.q->broken);
}

/* The 16-bit indexes wrap: run last_avail and used_idx up to 65530, then go across
 * 65535 -> 0 with the ring full. */
static void test_index_wrap(void)
{
	struct drv d;
	struct seg s[8];
	uint16_t h[8];
	uint32_t len;
	int ok = 1;

	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	for (unsigned k = 0; k < 65530 && ok; k++)
		ok = serve_one(&d, k & 0xff);
	CHECK(ok);
	CHECK_INT(d.q->last_avail, ==, 65530);
	CHECK_INT(d.q->used_idx, ==, 65530);
	CHECK_INT(r16(d.used + 2), ==, 65530);
	for (unsigned k = 0; k < 8; k++) {
		s[k] = (struct seg){ 0x10000 + 0x100ull * k, (uint32_t)(k + 1) };
		h[k] = drv_add(&d, &s[k], 1, NULL, 0);
	}
	CHECK_INT(r16(d.avail + 2), ==, 2); /* 65530 + 8 */
	for (unsigned k = 0; k < 8; k++) {
		CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
		CHECK_INT(elem.head, ==, h[k]);
		CHECK_INT(elem.out_len, ==, k + 1);
	}
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 0);
	CHECK_INT(d.q->last_avail, ==, 2);
	for (unsigned k = 8; k-- > 0;)
		vz_vq_push(d.q, h[k], k);
	CHECK_INT(r16(d.used + 2), ==, 2);
	for (unsigned k = 8; k-- > 0;) {
		CHECK_INT(drv_get(&d, &len), ==, h[k]);
		CHECK_INT(len, ==, k);
	}
	CHECK(serve_one(&d, 1));
	CHECK(!d.q->broken);
}

/* ---- a hostile driver ---- */

/* The queue must refuse the next chain, stay broken, and have written nothing. */
static void expect_broken(struct drv *d, const char *what)
{
	uint16_t used = r16(d->used + 2), la = d->q->last_avail;
	int r = vz_vq_pop(d->q, &gm, &elem);

	CHECK_MSG(r == -EINVAL, "%s: vz_vq_pop = %d, not -EINVAL", what, r);
	CHECK_MSG(d->q->broken, "%s: queue not marked broken", what);
	CHECK_MSG(vz_vq_pop(d->q, &gm, &elem) == -EINVAL, "%s: broken queue pops again", what);
	CHECK_MSG(d->q->last_avail == la, "%s: last_avail moved", what);
	CHECK_MSG(r16(d->used + 2) == used, "%s: used ring written", what);
	CHECK_MSG(!vz_vq_rearm(d->q), "%s: a broken queue rearms", what);
}

/* A one-descriptor chain at @addr/@len/@flags on a fresh queue of 8. */
static void one_desc(uint64_t addr, uint32_t len, uint16_t flags, const char *what)
{
	struct drv d;
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, addr, len, flags, 0);
	drv_publish(&d, 0);
	expect_broken(&d, what);
}

static void test_hostile_addresses(void)
{
	one_desc(R0_LEN, 8, 0, "past low RAM");
	one_desc(R0_LEN + 0x1000, 8, VZ_VRING_DESC_F_WRITE, "past low RAM, writable");
	one_desc(0x80000000ull, 8, 0, "in the hole");
	one_desc(0xfee00000ull, 4, VZ_VRING_DESC_F_WRITE, "at the LAPIC");
	one_desc(R1_GPA + R1_LEN, 1, 0, "past high RAM");
	one_desc(1ull << 40, 1, 0, "far past RAM");
	one_desc(R0_LEN - 8, 16, 0, "straddling low RAM's end");
	one_desc(R0_LEN - 1, 2, VZ_VRING_DESC_F_WRITE, "straddling low RAM's end by one");
	one_desc(R1_GPA - 8, 16, 0, "straddling the hole into high RAM");
	one_desc(R1_GPA + R1_LEN - 8, 9, VZ_VRING_DESC_F_WRITE, "straddling high RAM's end");
	one_desc(UINT64_MAX - 7, 16, 0, "addr + len wraps to low RAM");
	one_desc(UINT64_MAX, 0xffffffffu, VZ_VRING_DESC_F_WRITE, "addr + len wraps, huge");
	one_desc(0, 0xffffffffu, 0, "huge length");
	one_desc(R1_GPA, 0xffffffffu, VZ_VRING_DESC_F_WRITE, "huge length in high RAM");
	one_desc(0, (uint32_t)R0_LEN + 1, 0, "a byte more than low RAM");

	/* a bad buffer after good ones in the same chain */
	struct drv d;
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 3, 0x10000, 16, VZ_VRING_DESC_F_NEXT, 5);
	desc_set(&d, 5, 0x10100, 16, VZ_VRING_DESC_F_NEXT | VZ_VRING_DESC_F_WRITE, 6);
	desc_set(&d, 6, 0x80000000ull, 16, VZ_VRING_DESC_F_WRITE, 0);
	drv_publish(&d, 3);
	expect_broken(&d, "third buffer in the hole");
}

static void test_hostile_chains(void)
{
	struct drv d;

	/* a loop: 0 -> 1 -> 0 */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x10000, 16, VZ_VRING_DESC_F_NEXT, 1);
	desc_set(&d, 1, 0x10100, 16, VZ_VRING_DESC_F_NEXT, 0);
	drv_publish(&d, 0);
	expect_broken(&d, "loop 0 -> 1 -> 0");

	/* a descriptor pointing at itself, writable (no readable-after-writable to hit) */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 2, 0x10000, 16, VZ_VRING_DESC_F_NEXT | VZ_VRING_DESC_F_WRITE, 2);
	drv_publish(&d, 2);
	expect_broken(&d, "self loop");

	/* a long loop of the biggest table: 256 distinct descriptors, then back */
	guest_reset();
	CHECK_INT(std_queue(&d, 256), ==, 0);
	for (unsigned i = 0; i < 256; i++)
		desc_set(&d, (uint16_t)i, 0x10000, 1, VZ_VRING_DESC_F_NEXT,
			 (uint16_t)((i + 1) & 255));
	drv_publish(&d, 0);
	expect_broken(&d, "loop over the whole table");

	/* next outside the table */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x10000, 16, VZ_VRING_DESC_F_NEXT, 8);
	drv_publish(&d, 0);
	expect_broken(&d, "next == num");
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x10000, 16, VZ_VRING_DESC_F_NEXT, 0xffff);
	drv_publish(&d, 0);
	expect_broken(&d, "next == 0xffff");

	/* head outside the table */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x10000, 16, 0, 0);
	drv_publish(&d, 8);
	expect_broken(&d, "head == num");
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	drv_publish(&d, 0xffff);
	expect_broken(&d, "head == 0xffff");

	/* readable after writable */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x10000, 16, VZ_VRING_DESC_F_NEXT, 1);
	desc_set(&d, 1, 0x10100, 16, VZ_VRING_DESC_F_NEXT | VZ_VRING_DESC_F_WRITE, 2);
	desc_set(&d, 2, 0x10200, 16, 0, 0);
	drv_publish(&d, 0);
	expect_broken(&d, "readable after writable");

	/* indirect tables are not offered, even a well-formed one */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	w64(0x20000, 0x10000);
	w32(0x20008, 16);
	desc_set(&d, 0, 0x20000, 16, VZ_VRING_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_broken(&d, "indirect");
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x10000, 16, VZ_VRING_DESC_F_NEXT, 1);
	desc_set(&d, 1, 0x20000, 16, VZ_VRING_DESC_F_INDIRECT | VZ_VRING_DESC_F_WRITE, 0);
	drv_publish(&d, 0);
	expect_broken(&d, "indirect as the second buffer");
}

/* avail->idx may run at most num ahead of what the device took. */
static void test_hostile_avail_idx(void)
{
	static const uint16_t ahead[] = { 9, 16, 0x8000, 0xffff };
	struct drv d;

	for (unsigned k = 0; k < VZ_ARRAY_SIZE_T(ahead); k++) {
		guest_reset();
		CHECK_INT(std_queue(&d, 8), ==, 0);
		for (uint16_t i = 0; i < 8; i++) {
			desc_set(&d, i, 0x10000, 16, 0, 0);
			w16(d.avail + 4 + 2u * i, i); /* every ring slot a valid head */
		}
		w16(d.avail + 2, ahead[k]);
		char what[64];
		snprintf(what, sizeof(what), "avail idx %u ahead of 8", ahead[k]);
		expect_broken(&d, what);
	}
	/* the same after wrapping: last_avail 65534, idx 65534 + 9 = 7 */
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	for (unsigned k = 0; k < 65534; k++)
		serve_one(&d, 0);
	for (uint16_t i = 0; i < 8; i++)
		w16(d.avail + 4 + 2u * i, d.free_head);
	w16(d.avail + 2, (uint16_t)(d.avail_idx + 9));
	expect_broken(&d, "avail idx 9 ahead across the wrap");
}

/* The total of a chain must fit 32 bits (used->len and vz_vq_elem's lengths). */
static void test_hostile_total_length(void)
{
	static struct seg s[256];
	const uint32_t big = 32u << 20; /* 128 x 32 MiB = 4 GiB, the same high RAM each */
	struct drv d;

	for (unsigned k = 0; k < 256; k++)
		s[k] = (struct seg){ R1_GPA, big };

	guest_reset();
	CHECK_INT(std_queue(&d, 256), ==, 0);
	drv_add(&d, s, 128, NULL, 0);
	expect_broken(&d, "readable total of 4 GiB");

	guest_reset();
	CHECK_INT(std_queue(&d, 256), ==, 0);
	drv_add(&d, s, 64, s, 64);
	expect_broken(&d, "readable + writable total of 4 GiB");

	guest_reset();
	CHECK_INT(std_queue(&d, 256), ==, 0);
	drv_add(&d, NULL, 0, s, 200);
	expect_broken(&d, "writable total of 6.25 GiB");

	/* one byte less fits */
	guest_reset();
	CHECK_INT(std_queue(&d, 256), ==, 0);
	s[127].len = big - 1;
	uint16_t head = drv_add(&d, s, 100, s + 100, 28);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK_INT(elem.head, ==, head);
	CHECK_INT(elem.nout + elem.nin, ==, 128);
	CHECK(elem.out_len == 100u * big && elem.in_len == 28u * big - 1);
	CHECK((uint64_t)elem.out_len + elem.in_len == 0xffffffffull);
	CHECK(elem_inside(&elem));
	CHECK(!d.q->broken);
}

/* A broken queue stays broken until reset, and works again after reactivation. */
static void test_broken_until_reset(void)
{
	struct drv d;

	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	desc_set(&d, 0, 0x80000000ull, 16, 0, 0);
	drv_publish(&d, 0);
	expect_broken(&d, "hole");
	desc_set(&d, 0, 0x10000, 16, 0, 0); /* repaired: still refused */
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, -EINVAL);
	vz_vq_reset(d.q);
	CHECK(!d.q->broken && !d.q->ready);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 0);
	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	CHECK(serve_one(&d, 5));
}

/* Ring placement and size are checked once, at activation. */
static void test_activate(void)
{
	const uint64_t E = R0_LEN;
	const struct {
		uint16_t num;
		uint64_t desc, avail, used;
		int ok;
		const char *what;
	} tc[] = {
		{ 8, 0x1000, 0x2000, 0x3000, 1, "ordinary" },
		{ 1, 0x1000, 0x2000, 0x3000, 1, "num 1" },
		{ 256, 0x1000, 0x2000, 0x3000, 1, "num 256" },
		{ 8, R1_GPA, R1_GPA + 0x1000, R1_GPA + 0x2000, 1, "in high RAM" },
		{ 8, 0x1000, 0x1002, 0x1004, 1, "overlapping (the guest's business)" },
		{ 0, 0x1000, 0x2000, 0x3000, 0, "num 0" },
		{ 3, 0x1000, 0x2000, 0x3000, 0, "num 3" },
		{ 12, 0x1000, 0x2000, 0x3000, 0, "num 12" },
		{ 255, 0x1000, 0x2000, 0x3000, 0, "num 255" },
		{ 257, 0x1000, 0x2000, 0x3000, 0, "num 257" },
		{ 512, 0x1000, 0x2000, 0x3000, 0, "num 512" },
		{ 32768, 0x1000, 0x2000, 0x3000, 0, "num 32768" },
		{ 8, 0x1008, 0x2000, 0x3000, 0, "desc aligned 8" },
		{ 8, 0x1001, 0x2000, 0x3000, 0, "desc odd" },
		{ 8, 0x1000, 0x2001, 0x3000, 0, "avail odd" },
		{ 8, 0x1000, 0x2000, 0x3002, 0, "used aligned 2" },
		{ 8, 0x1000, 0x2000, 0x3001, 0, "used odd" },
		{ 8, E, 0x2000, 0x3000, 0, "desc past low RAM" },
		{ 8, 0x1000, E, 0x3000, 0, "avail past low RAM" },
		{ 8, 0x1000, 0x2000, E, 0, "used past low RAM" },
		{ 8, 0x80000000ull, 0x2000, 0x3000, 0, "desc in the hole" },
		{ 8, 0x1000, 0x80000000ull, 0x3000, 0, "avail in the hole" },
		{ 8, 0x1000, 0x2000, 0x80000000ull, 0, "used in the hole" },
		{ 8, R1_GPA + R1_LEN, 0x2000, 0x3000, 0, "desc past high RAM" },
		{ 8, 0xfffffffffffffff0ull, 0x2000, 0x3000, 0, "desc wraps" },
		{ 8, 0x1000, 0xfffffffffffffffeull, 0x3000, 0, "avail wraps" },
		{ 8, 0x1000, 0x2000, 0xfffffffffffffffcull, 0, "used wraps" },
		/* exact fits at the end of low RAM: desc 16n, avail 6 + 2n, used 6 + 8n */
		{ 8, E - 128, E - 22, E - 72, 1, "rings end at low RAM's end" },
		{ 8, E - 112, 0x2000, 0x3000, 0, "desc 16 past the end" },
		{ 8, 0x1000, E - 20, 0x3000, 0, "avail's used_event past the end" },
		{ 8, 0x1000, 0x2000, E - 68, 0, "used's avail_event past the end" },
		{ 8, R1_GPA - 64, 0x2000, 0x3000, 0, "desc from the hole into high RAM" },
		{ 8, 0x1000, 0x2000, R1_GPA + R1_LEN - 68, 0, "used past high RAM's end" },
		{ 256, E - 4096, E - 518, E - 2056, 1, "num 256 rings at the end" },
		{ 256, E - 4096, E - 516, E - 2056, 0, "num 256 avail 2 past the end" },
		{ 256, E - 4096, E - 518, E - 2052, 0, "num 256 used 2 past the end" },
	};

	guest_reset();
	for (unsigned k = 0; k < VZ_ARRAY_SIZE_T(tc); k++) {
		struct vz_vq q;
		vz_vq_reset(&q);
		q.num = tc[k].num;
		q.desc_gpa = tc[k].desc;
		q.avail_gpa = tc[k].avail;
		q.used_gpa = tc[k].used;
		q.broken = true; /* activation starts the queue afresh */
		int r = vz_vq_activate(&q, &gm);
		if (tc[k].ok) {
			CHECK_MSG(r == 0 && q.ready && !q.broken, "%s: refused (%d)", tc[k].what,
				  r);
			CHECK_MSG(q.desc == (void *)gp(tc[k].desc), "%s: desc pointer", tc[k].what);
			CHECK_MSG(q.avail == (void *)gp(tc[k].avail), "%s: avail pointer",
				  tc[k].what);
			CHECK_MSG(q.used == (void *)gp(tc[k].used), "%s: used pointer", tc[k].what);
			CHECK_MSG(vz_vq_pop(&q, &gm, &elem) == 0, "%s: empty ring pops",
				  tc[k].what);
		} else {
			CHECK_MSG(r == -EINVAL, "%s: accepted (%d)", tc[k].what, r);
			CHECK_MSG(!q.ready, "%s: ready", tc[k].what);
			CHECK_MSG(!q.desc && !q.avail && !q.used, "%s: pointers left", tc[k].what);
			/* an unusable queue is inert */
			CHECK_MSG(vz_vq_pop(&q, &gm, &elem) <= 0, "%s: pops", tc[k].what);
			vz_vq_push(&q, 0, 0);
			CHECK_MSG(!vz_vq_need_interrupt(&q), "%s: interrupts", tc[k].what);
			CHECK_MSG(!vz_vq_rearm(&q), "%s: rearms", tc[k].what);
		}
	}
}

/* ---- notification suppression ---- */

static void test_event_idx(void)
{
	struct drv d;

	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	d.q->event_idx = true;
	/* the first decision after activation always interrupts */
	CHECK(serve_one(&d, 1));
	CHECK(vz_vq_need_interrupt(d.q));

	/* used_event 2: interrupt once used idx goes past 2 (2 -> 3) */
	w16(used_event_gpa(&d), 2);
	CHECK(serve_one(&d, 1)); /* used idx 2 */
	CHECK(!vz_vq_need_interrupt(d.q));
	CHECK(serve_one(&d, 1)); /* 3 */
	CHECK(vz_vq_need_interrupt(d.q));
	CHECK(serve_one(&d, 1)); /* 4: already past it, and signalled */
	CHECK(serve_one(&d, 1)); /* 5 */
	CHECK(!vz_vq_need_interrupt(d.q));
	/* a batch that jumps over used_event */
	w16(used_event_gpa(&d), 6);
	CHECK(serve_one(&d, 1)); /* 6 */
	CHECK(serve_one(&d, 1)); /* 7 */
	CHECK(serve_one(&d, 1)); /* 8 */
	CHECK(vz_vq_need_interrupt(d.q));
	/* used_event far ahead */
	w16(used_event_gpa(&d), 100);
	CHECK(serve_one(&d, 1));
	CHECK(!vz_vq_need_interrupt(d.q));
	/* with EVENT_IDX the avail ring's NO_INTERRUPT flag means nothing */
	w16(d.avail, 1);
	w16(used_event_gpa(&d), d.q->used_idx);
	CHECK(serve_one(&d, 1));
	CHECK(vz_vq_need_interrupt(d.q));

	/* without EVENT_IDX: the flag alone decides, used_event is not read */
	d.q->event_idx = false;
	w16(d.avail, 1);
	w16(used_event_gpa(&d), d.q->used_idx);
	CHECK(serve_one(&d, 1));
	CHECK(!vz_vq_need_interrupt(d.q));
	w16(d.avail, 0);
	w16(used_event_gpa(&d), 0x7000);
	CHECK(serve_one(&d, 1));
	CHECK(vz_vq_need_interrupt(d.q));
	CHECK(vz_vq_need_interrupt(d.q)); /* nothing new, but the flag says yes */
}

static void test_rearm(void)
{
	struct drv d;
	const struct seg s = { 0x10000, 8 };

	guest_reset();
	CHECK_INT(std_queue(&d, 8), ==, 0);
	d.q->event_idx = true;
	w16(avail_event_gpa(&d), 0xabcd);
	CHECK(!vz_vq_rearm(d.q));
	CHECK_INT(r16(avail_event_gpa(&d)), ==, 0);
	drv_add(&d, &s, 1, NULL, 0);
	drv_add(&d, &s, 1, NULL, 0);
	drv_add(&d, &s, 1, NULL, 0);
	CHECK(vz_vq_rearm(d.q)); /* three pending */
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(vz_vq_rearm(d.q));
	CHECK_INT(r16(avail_event_gpa(&d)), ==, 2);
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(!vz_vq_rearm(d.q));
	CHECK_INT(r16(avail_event_gpa(&d)), ==, 3);
	drv_add(&d, &s, 1, NULL, 0); /* added after the rearm: seen by the next */
	CHECK(vz_vq_rearm(d.q));
	CHECK_INT(r16(avail_event_gpa(&d)), ==, 3);

	/* without EVENT_IDX avail_event is not written, pending chains still reported */
	d.q->event_idx = false;
	w16(avail_event_gpa(&d), 0xabcd);
	CHECK(vz_vq_rearm(d.q));
	CHECK_INT(vz_vq_pop(d.q, &gm, &elem), ==, 1);
	CHECK(!vz_vq_rearm(d.q));
	CHECK_INT(r16(avail_event_gpa(&d)), ==, 0xabcd);
}

/* ---- the virtio-mmio transport ---- */

enum {
	M_MAGIC = 0x000,
	M_VERSION = 0x004,
	M_DEVICE_ID = 0x008,
	M_VENDOR_ID = 0x00c,
	M_DEV_FEATURES = 0x010,
	M_DEV_FEATURES_SEL = 0x014,
	M_DRV_FEATURES = 0x020,
	M_DRV_FEATURES_SEL = 0x024,
	M_QUEUE_SEL = 0x030,
	M_QUEUE_NUM_MAX = 0x034,
	M_QUEUE_NUM = 0x038,
	M_QUEUE_READY = 0x044,
	M_QUEUE_NOTIFY = 0x050,
	M_INTERRUPT_STATUS = 0x060,
	M_INTERRUPT_ACK = 0x064,
	M_STATUS = 0x070,
	M_QUEUE_DESC_LOW = 0x080,
	M_QUEUE_DESC_HIGH = 0x084,
	M_QUEUE_DRIVER_LOW = 0x090,
	M_QUEUE_DRIVER_HIGH = 0x094,
	M_QUEUE_DEVICE_LOW = 0x0a0,
	M_QUEUE_DEVICE_HIGH = 0x0a4,
	M_SHM_LEN_LOW = 0x0b0,
	M_CONFIG_GENERATION = 0x0fc,
	M_CONFIG = 0x100,
};

#define DUMMY_F_LOW (1ull << 5)
#define DUMMY_F_HIGH (1ull << 35)

static struct {
	uint8_t cfg[8];
	int activated, resets, notified, notifies, cfg_reads, cfg_writes, cfg_oob;
	uint32_t last_off, last_len;
} dummy;

static void dummy_config_read(struct vz_virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	dummy.cfg_reads++;
	dummy.last_off = off;
	dummy.last_len = len;
	if (off > sizeof(dummy.cfg) || len > sizeof(dummy.cfg) - off) {
		dummy.cfg_oob++;
		return;
	}
	memcpy(data, dummy.cfg + off, len);
}
static void dummy_config_write(struct vz_virtio_dev *d, uint32_t off, const uint8_t *data,
			       uint32_t len)
{
	dummy.cfg_writes++;
	dummy.last_off = off;
	dummy.last_len = len;
	if (off > sizeof(dummy.cfg) || len > sizeof(dummy.cfg) - off) {
		dummy.cfg_oob++;
		return;
	}
	memcpy(dummy.cfg + off, data, len);
}
static void dummy_activate(struct vz_virtio_dev *d)
{
	dummy.activated++;
}
static void dummy_reset(struct vz_virtio_dev *d)
{
	dummy.resets++;
}
static void dummy_notify(struct vz_virtio_dev *d, unsigned q)
{
	dummy.notifies++;
	dummy.notified = (int)q;
}

static const struct vz_virtio_ops dummy_ops = {
	.name = "dummy",
	.device_id = 42,
	.features = DUMMY_F_LOW | DUMMY_F_HIGH,
	.nqueues = 2,
	.config_len = 8,
	.config_read = dummy_config_read,
	.config_write = dummy_config_write,
	.activate = dummy_activate,
	.reset = dummy_reset,
	.notify = dummy_notify,
};

static struct vz_virtio_dev vdev;

static uint32_t rd(uint64_t off)
{
	uint8_t b[4] = { 0xaa, 0xaa, 0xaa, 0xaa };
	uint32_t v;
	vz_virtio_mmio_access(&vdev, off, b, 4, false);
	memcpy(&v, b, 4);
	return v;
}
static void wr(uint64_t off, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	vz_virtio_mmio_access(&vdev, off, b, 4, true);
}
static void wr_feat(uint64_t f)
{
	wr(M_DRV_FEATURES_SEL, 0);
	wr(M_DRV_FEATURES, (uint32_t)f);
	wr(M_DRV_FEATURES_SEL, 1);
	wr(M_DRV_FEATURES, (uint32_t)(f >> 32));
}
static void wr_queue(uint32_t sel, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(M_QUEUE_SEL, sel);
	wr(M_QUEUE_NUM, num);
	wr(M_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(M_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(M_QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr(M_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr(M_QUEUE_DEVICE_LOW, (uint32_t)used);
	wr(M_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
}
static uint64_t irq_count(int fd)
{
	uint64_t n = 0;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static int mmio_start(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	guest_reset();
	memset(&dummy, 0, sizeof(dummy));
	dummy.notified = -1;
	for (unsigned k = 0; k < 8; k++)
		dummy.cfg[k] = (uint8_t)(0x10 + k);
	vz_virtio_init(&vdev, &dummy_ops, &dummy, &gm, fd);
	return fd;
}

static void test_mmio_identity_and_features(void)
{
	const uint64_t offered =
		DUMMY_F_LOW | DUMMY_F_HIGH | VZ_VIRTIO_F_VERSION_1 | VZ_VIRTIO_F_EVENT_IDX;
	int fd = mmio_start();

	CHECK(fd >= 0);
	CHECK_INT(rd(M_MAGIC), ==, 0x74726976);
	CHECK_INT(rd(M_VERSION), ==, 2);
	CHECK_INT(rd(M_DEVICE_ID), ==, 42);
	CHECK_INT(rd(M_VENDOR_ID), ==, 0x5a56);
	CHECK_INT(rd(M_STATUS), ==, 0);
	CHECK_INT(rd(M_SHM_LEN_LOW), ==, 0xffffffffu);
	wr(M_DEV_FEATURES_SEL, 0);
	CHECK_INT(rd(M_DEV_FEATURES), ==, (uint32_t)offered);
	wr(M_DEV_FEATURES_SEL, 1);
	CHECK_INT(rd(M_DEV_FEATURES), ==, (uint32_t)(offered >> 32));
	wr(M_DEV_FEATURES_SEL, 2);
	CHECK_INT(rd(M_DEV_FEATURES), ==, 0);
	wr(M_DEV_FEATURES_SEL, 0xffffffffu);
	CHECK_INT(rd(M_DEV_FEATURES), ==, 0);

	wr(M_STATUS, VZ_VIRTIO_S_ACK);
	wr(M_STATUS, VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER);
	CHECK_INT(rd(M_STATUS), ==, VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER);
	const uint32_t want = VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER | VZ_VIRTIO_S_FEATURES_OK;
	/* a legacy driver (no VERSION_1): refused */
	wr_feat(DUMMY_F_LOW | VZ_VIRTIO_F_EVENT_IDX);
	wr(M_STATUS, want);
	CHECK_INT(rd(M_STATUS) & VZ_VIRTIO_S_FEATURES_OK, ==, 0);
	/* a feature not offered, low or high half: refused */
	wr_feat(VZ_VIRTIO_F_VERSION_1 | (1ull << 6));
	wr(M_STATUS, want);
	CHECK_INT(rd(M_STATUS) & VZ_VIRTIO_S_FEATURES_OK, ==, 0);
	wr_feat(VZ_VIRTIO_F_VERSION_1 | (1ull << 36));
	wr(M_STATUS, want);
	CHECK_INT(rd(M_STATUS) & VZ_VIRTIO_S_FEATURES_OK, ==, 0);
	wr_feat(VZ_VIRTIO_F_VERSION_1 | (1ull << 63) | DUMMY_F_HIGH);
	wr(M_STATUS, want);
	CHECK_INT(rd(M_STATUS) & VZ_VIRTIO_S_FEATURES_OK, ==, 0);
	/* a subset of what was offered, with VERSION_1: accepted */
	wr_feat(VZ_VIRTIO_F_VERSION_1 | DUMMY_F_HIGH | VZ_VIRTIO_F_EVENT_IDX);
	wr(M_STATUS, want);
	CHECK_INT(rd(M_STATUS), ==, want);
	CHECK(vdev.driver_features ==
	      (VZ_VIRTIO_F_VERSION_1 | DUMMY_F_HIGH | VZ_VIRTIO_F_EVENT_IDX));
	/* features are frozen once accepted */
	wr_feat(VZ_VIRTIO_F_VERSION_1 | (1ull << 6));
	CHECK(vdev.driver_features ==
	      (VZ_VIRTIO_F_VERSION_1 | DUMMY_F_HIGH | VZ_VIRTIO_F_EVENT_IDX));
	CHECK(!vz_virtio_running(&vdev));
	wr(M_STATUS, want | VZ_VIRTIO_S_DRIVER_OK);
	CHECK(vz_virtio_running(&vdev));
	CHECK_INT(dummy.activated, ==, 1);
	CHECK_INT(irq_count(fd), ==, 0);
	close(fd);
}

static void test_mmio_queues(void)
{
	const uint64_t desc = R1_GPA + 0x10000, avail = 0x2000, used = R1_GPA + 0x20000;
	const uint32_t ok = VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER | VZ_VIRTIO_S_FEATURES_OK;
	struct drv d;
	int fd = mmio_start();

	wr(M_STATUS, VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER);
	wr_feat(VZ_VIRTIO_F_VERSION_1 | VZ_VIRTIO_F_EVENT_IDX);
	wr(M_STATUS, ok);

	/* queues past nqueues do not exist */
	wr(M_QUEUE_SEL, 2);
	CHECK_INT(rd(M_QUEUE_NUM_MAX), ==, 0);
	wr(M_QUEUE_NUM, 8);
	wr(M_QUEUE_READY, 1);
	CHECK_INT(rd(M_QUEUE_READY), ==, 0);
	CHECK(!vdev.vq[2].ready && vdev.vq[2].num == 0);
	wr(M_QUEUE_SEL, 0xffffffffu);
	wr(M_QUEUE_READY, 1);
	CHECK_INT(rd(M_QUEUE_NUM_MAX), ==, 0);
	CHECK_INT(vdev.status & VZ_VIRTIO_S_NEEDS_RESET, ==, 0);

	/* queue 0, rings above 4 GiB (both address halves used) */
	wr_queue(0, 16, desc, avail, used);
	CHECK_INT(rd(M_QUEUE_NUM_MAX), ==, VZ_VQ_MAX_SIZE);
	CHECK_INT(rd(M_QUEUE_READY), ==, 0);
	CHECK(vdev.vq[0].num == 16 && vdev.vq[0].desc_gpa == desc);
	CHECK(vdev.vq[0].avail_gpa == avail && vdev.vq[0].used_gpa == used);
	wr(M_QUEUE_READY, 1);
	CHECK_INT(rd(M_QUEUE_READY), ==, 1);
	CHECK(vdev.vq[0].ready && vdev.vq[0].desc == (void *)gp(desc));
	CHECK(vdev.vq[0].used == (void *)gp(used));
	/* the layout of a ready queue is fixed */
	wr(M_QUEUE_NUM, 8);
	wr(M_QUEUE_DESC_LOW, 0x5000);
	wr(M_QUEUE_DRIVER_HIGH, 1);
	wr(M_QUEUE_DEVICE_LOW, 0x6000);
	CHECK(vdev.vq[0].num == 16 && vdev.vq[0].desc_gpa == desc);
	CHECK(vdev.vq[0].avail_gpa == avail && vdev.vq[0].used_gpa == used);
	/* queue 1 in low RAM */
	wr_queue(1, 8, 0x4000, 0x5000, 0x6000);
	wr(M_QUEUE_READY, 1);
	CHECK(vdev.vq[1].ready);

	/* notify before DRIVER_OK is not passed on */
	wr(M_QUEUE_NOTIFY, 0);
	CHECK_INT(dummy.notifies, ==, 0);
	wr(M_STATUS, ok | VZ_VIRTIO_S_DRIVER_OK);
	CHECK_INT(dummy.activated, ==, 1);
	CHECK(vdev.vq[0].event_idx && vdev.vq[1].event_idx);
	CHECK(!vdev.vq[2].event_idx);
	wr(M_QUEUE_NOTIFY, 1);
	CHECK(dummy.notifies == 1 && dummy.notified == 1);
	wr(M_QUEUE_NOTIFY, 2);
	wr(M_QUEUE_NOTIFY, 0x10000);
	CHECK_INT(dummy.notifies, ==, 1);

	/* a request through queue 0, and its interrupt */
	drv_setup(&d, &vdev.vq[0], 16, desc, avail, used);
	const struct seg s = { 0x10000, 32 };
	uint16_t head = drv_add(&d, &s, 1, NULL, 0);
	wr(M_QUEUE_NOTIFY, 0);
	CHECK(dummy.notifies == 2 && dummy.notified == 0);
	CHECK_INT(vz_vq_pop(&vdev.vq[0], vdev.mem, &elem), ==, 1);
	CHECK_INT(elem.head, ==, head);
	vz_vq_push(&vdev.vq[0], head, 0);
	vz_virtio_queue_done(&vdev, 0);
	CHECK_INT(rd(M_INTERRUPT_STATUS), ==, VZ_VIRTIO_ISR_QUEUE);
	CHECK_INT(irq_count(fd), ==, 1);
	wr(M_INTERRUPT_ACK, VZ_VIRTIO_ISR_QUEUE);
	CHECK_INT(rd(M_INTERRUPT_STATUS), ==, 0);
	vz_virtio_queue_done(&vdev, 99); /* no such queue: nothing */
	CHECK_INT(rd(M_INTERRUPT_STATUS), ==, 0);

	/* QueueReady 0 stops the queue and opens its layout again */
	wr(M_QUEUE_SEL, 0);
	wr(M_QUEUE_READY, 0);
	CHECK_INT(rd(M_QUEUE_READY), ==, 0);
	CHECK_INT(vz_vq_pop(&vdev.vq[0], vdev.mem, &elem), ==, 0);
	wr(M_QUEUE_NUM, 8);
	CHECK_INT(vdev.vq[0].num, ==, 8);

	/* reset */
	wr(M_STATUS, 0);
	CHECK_INT(dummy.resets, ==, 1);
	CHECK_INT(rd(M_STATUS), ==, 0);
	CHECK_INT(rd(M_INTERRUPT_STATUS), ==, 0);
	CHECK(!vdev.vq[0].ready && !vdev.vq[1].ready && vdev.vq[0].num == 0);
	CHECK(vdev.vq[1].desc == NULL && !vdev.vq[1].event_idx);
	CHECK(vdev.driver_features == 0 && vdev.queue_sel == 0);
	CHECK(!vz_virtio_running(&vdev));
	close(fd);
}

/* A queue the driver describes badly is refused, and the device asks for a reset. */
static void test_mmio_bad_queue(void)
{
	static const struct {
		uint32_t num;
		uint64_t desc, avail, used;
		const char *what;
	} bad[] = {
		{ 8, 0x1008, 0x2000, 0x3000, "desc misaligned" },
		{ 8, 0x1000, 0x2001, 0x3000, "avail odd" },
		{ 8, 0x1000, 0x2000, 0x3002, "used misaligned" },
		{ 8, 0x80000000ull, 0x2000, 0x3000, "desc in the hole" },
		{ 8, 0x1000, 0x2000, R1_GPA + R1_LEN, "used past RAM" },
		{ 6, 0x1000, 0x2000, 0x3000, "num 6" },
		{ 0, 0x1000, 0x2000, 0x3000, "num 0" },
		{ 512, 0x1000, 0x2000, 0x3000, "num 512" },
		{ 0x10008, 0x1000, 0x2000, 0x3000, "num 0x10008 (8 if truncated)" },
	};
	const uint32_t ok = VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER | VZ_VIRTIO_S_FEATURES_OK;

	for (unsigned k = 0; k < VZ_ARRAY_SIZE_T(bad); k++) {
		int fd = mmio_start();
		wr(M_STATUS, VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER);
		wr_feat(VZ_VIRTIO_F_VERSION_1);
		wr(M_STATUS, ok);
		wr_queue(0, 8, 0x8000, 0x9000, 0xa000);
		wr(M_QUEUE_READY, 1);
		CHECK(vdev.vq[0].ready);
		uint32_t gen = rd(M_CONFIG_GENERATION);
		wr_queue(1, bad[k].num, bad[k].desc, bad[k].avail, bad[k].used);
		wr(M_QUEUE_READY, 1);
		CHECK_MSG(rd(M_QUEUE_READY) == 0, "%s: queue ready", bad[k].what);
		CHECK_MSG(!vdev.vq[1].ready, "%s: queue ready", bad[k].what);
		CHECK_MSG(rd(M_STATUS) & VZ_VIRTIO_S_NEEDS_RESET, "%s: no NEEDS_RESET",
			  bad[k].what);
		CHECK_MSG(rd(M_INTERRUPT_STATUS) & VZ_VIRTIO_ISR_CONFIG, "%s: no config interrupt",
			  bad[k].what);
		CHECK_MSG(irq_count(fd) == 1, "%s: interrupt not raised", bad[k].what);
		CHECK_MSG(rd(M_CONFIG_GENERATION) != gen, "%s: config generation", bad[k].what);
		/* the driver going on regardless gets nowhere */
		wr(M_STATUS, ok | VZ_VIRTIO_S_DRIVER_OK);
		CHECK_MSG(rd(M_STATUS) & VZ_VIRTIO_S_NEEDS_RESET, "%s: NEEDS_RESET lost",
			  bad[k].what);
		CHECK_MSG(!vz_virtio_running(&vdev), "%s: running", bad[k].what);
		wr(M_QUEUE_NOTIFY, 0);
		CHECK_MSG(dummy.notifies == 0, "%s: notified", bad[k].what);
		/* a second failure is not a second interrupt */
		vz_virtio_fail(&vdev);
		CHECK_MSG(irq_count(fd) == 0, "%s: second interrupt", bad[k].what);
		/* reset clears it all */
		wr(M_STATUS, 0);
		CHECK_MSG(rd(M_STATUS) == 0 && rd(M_INTERRUPT_STATUS) == 0, "%s: reset",
			  bad[k].what);
		CHECK_MSG(!vdev.vq[0].ready, "%s: reset", bad[k].what);
		close(fd);
	}
}

static void test_mmio_access_width(void)
{
	uint8_t b[8];
	int fd = mmio_start();

	/* registers are 32 bits wide, at 32-bit aligned offsets */
	memset(b, 0, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_MAGIC, b, 2, false);
	CHECK(b[0] == 0xff && b[1] == 0xff && b[2] == 0);
	memset(b, 0, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_MAGIC, b, 1, false);
	CHECK(b[0] == 0xff && b[1] == 0);
	memset(b, 0, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_MAGIC, b, 8, false);
	for (unsigned k = 0; k < 8; k++)
		CHECK_INT(b[k], ==, 0xff);
	memset(b, 0, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_MAGIC + 2, b, 4, false);
	CHECK(b[0] == 0xff && b[3] == 0xff);
	memset(b, 0, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_VERSION + 1, b, 4, false);
	CHECK(b[0] == 0xff && b[3] == 0xff);
	/* unknown and write-only registers read 0 */
	CHECK_INT(rd(0x0f0), ==, 0);
	CHECK_INT(rd(M_QUEUE_NOTIFY), ==, 0);

	/* writes of another width, or misaligned, do nothing */
	wr(M_STATUS, VZ_VIRTIO_S_ACK);
	b[0] = 0;
	b[1] = 0;
	vz_virtio_mmio_access(&vdev, M_STATUS, b, 2, true); /* would be a reset */
	vz_virtio_mmio_access(&vdev, M_STATUS, b, 1, true);
	memset(b, 0, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_STATUS, b, 8, true);
	CHECK_INT(rd(M_STATUS), ==, VZ_VIRTIO_S_ACK);
	CHECK_INT(dummy.resets, ==, 0);
	uint32_t v = VZ_VIRTIO_S_ACK | VZ_VIRTIO_S_DRIVER;
	memcpy(b, &v, 4);
	vz_virtio_mmio_access(&vdev, M_STATUS + 1, b, 4, true);
	CHECK_INT(rd(M_STATUS), ==, VZ_VIRTIO_S_ACK);
	vz_virtio_mmio_access(&vdev, M_QUEUE_SEL + 2, b, 4, true);
	CHECK_INT(vdev.queue_sel, ==, 0);
	close(fd);
}

static void test_mmio_config(void)
{
	uint8_t b[8];
	int fd = mmio_start();

	/* inside: any width */
	CHECK_INT(rd(M_CONFIG), ==, 0x13121110);
	CHECK_INT(rd(M_CONFIG + 4), ==, 0x17161514);
	memset(b, 0xaa, sizeof(b));
	vz_virtio_mmio_access(&vdev, M_CONFIG + 7, b, 1, false);
	CHECK(b[0] == 0x17 && b[1] == 0xaa);
	vz_virtio_mmio_access(&vdev, M_CONFIG + 1, b, 2, false);
	CHECK(b[0] == 0x11 && b[1] == 0x12);
	vz_virtio_mmio_access(&vdev, M_CONFIG, b, 8, false);
	for (unsigned k = 0; k < 8; k++)
		CHECK_INT(b[k], ==, 0x10 + k);
	int reads = dummy.cfg_reads;

	/* at or beyond config_len, or straddling it: zeros, the device is not asked */
	static const struct {
		uint64_t off;
		uint32_t len;
	} out[] = {
		{ M_CONFIG + 8, 1 },
		{ M_CONFIG + 8, 4 },
		{ M_CONFIG + 7, 2 },
		{ M_CONFIG + 5, 4 },
		{ M_CONFIG + 1, 8 },
		{ M_CONFIG + 0xefc, 4 },
		{ M_CONFIG + (1ull << 32), 4 }, /* offset 0 if truncated to 32 bits */
		{ M_CONFIG + (1ull << 32) + 4, 4 },
		{ UINT64_MAX - 3, 4 },
	};
	for (unsigned k = 0; k < VZ_ARRAY_SIZE_T(out); k++) {
		memset(b, 0xaa, sizeof(b));
		vz_virtio_mmio_access(&vdev, out[k].off, b, out[k].len, false);
		int zero = 1;
		for (unsigned i = 0; i < out[k].len; i++)
			zero &= b[i] == 0;
		CHECK_MSG(zero, "config read at %#llx len %u not zero",
			  (unsigned long long)out[k].off, out[k].len);
		CHECK_MSG(out[k].len == 8 || b[out[k].len] == 0xaa, "config read at %#llx overran",
			  (unsigned long long)out[k].off);
		memset(b, 0x55, sizeof(b));
		vz_virtio_mmio_access(&vdev, out[k].off, b, out[k].len, true);
	}
	CHECK_INT(dummy.cfg_reads, ==, reads);
	CHECK_INT(dummy.cfg_writes, ==, 0);
	CHECK_INT(dummy.cfg_oob, ==, 0);

	/* writes inside reach the device */
	b[0] = 0xa0;
	b[1] = 0xa1;
	vz_virtio_mmio_access(&vdev, M_CONFIG + 6, b, 2, true);
	CHECK(dummy.cfg_writes == 1 && dummy.last_off == 6 && dummy.last_len == 2);
	CHECK(dummy.cfg[6] == 0xa0 && dummy.cfg[7] == 0xa1);
	CHECK_INT(rd(M_CONFIG + 4), ==, 0xa1a01514);
	CHECK_INT(dummy.cfg_oob, ==, 0);
	close(fd);
}

/* ---- the console's control-message parser ---- */

struct msg {
	uint32_t type, len;
	uint8_t body[VZ_MSG_GUEST_MAX];
};
static struct msg got[16];
static int ngot, got_overflow, got_wrong_console;
static struct vz_console con;

static void on_msg(struct vz_console *c, uint32_t type, const uint8_t *body, uint32_t len)
{
	if (c != &con || c->owner != &ngot)
		got_wrong_console++;
	if (ngot >= (int)VZ_ARRAY_SIZE_T(got) || len > VZ_MSG_GUEST_MAX) {
		got_overflow++;
		return;
	}
	got[ngot].type = type;
	got[ngot].len = len;
	memcpy(got[ngot].body, body, len);
	ngot++;
}

static void con_start(void)
{
	const int fds[3] = { -1, -1, -1 };
	guest_reset();
	vz_console_init(&con, &gm, fds, NULL, 0, on_msg, &ngot);
	ngot = got_overflow = got_wrong_console = 0;
}

static size_t put_msg(uint8_t *buf, size_t n, uint32_t type, const void *body, uint32_t len)
{
	struct vz_msg_hdr h = { type, len };
	memcpy(buf + n, &h, sizeof(h));
	if (len)
		memcpy(buf + n + sizeof(h), body, len);
	return n + sizeof(h) + len;
}

static void test_console_feed_split(void)
{
	const uint8_t exit_body[] = { 1, 0, 0, 0, 42, 0, 0, 0, 'b', 'y', 'e' };
	uint8_t buf[128];
	size_t n = 0, ends[3];
	const uint32_t order[3] = { VZ_MSG_BOOTED, VZ_MSG_EXEC, VZ_MSG_EXIT };
	uint32_t seed = 12345;
	int ok = 1;

	n = put_msg(buf, n, VZ_MSG_BOOTED, NULL, 0);
	ends[0] = n;
	n = put_msg(buf, n, VZ_MSG_EXEC, NULL, 0);
	ends[1] = n;
	n = put_msg(buf, n, VZ_MSG_EXIT, exit_body, sizeof(exit_body));
	ends[2] = n;

	/* one cut at every byte, and each byte alone */
	for (size_t cut = 0; cut <= n + 1; cut++) {
		con_start();
		int complete = 0;
		if (cut <= n) {
			ok &= vz_console_feed(&con, buf, (uint32_t)cut);
			for (int k = 0; k < 3; k++)
				complete += ends[k] <= cut;
			CHECK_MSG(ngot == complete, "cut %zu: %d messages before the rest, not %d",
				  cut, ngot, complete);
			ok &= vz_console_feed(&con, buf + cut, (uint32_t)(n - cut));
		} else {
			for (size_t k = 0; k < n; k++)
				ok &= vz_console_feed(&con, buf + k, 1);
		}
		CHECK_MSG(ngot == 3, "cut %zu: %d messages", cut, ngot);
		if (ngot == 3) {
			CHECK(got[0].type == VZ_MSG_BOOTED && got[0].len == 0);
			CHECK(got[1].type == VZ_MSG_EXEC && got[1].len == 0);
			CHECK(got[2].type == VZ_MSG_EXIT && got[2].len == sizeof(exit_body));
			CHECK(!memcmp(got[2].body, exit_body, sizeof(exit_body)));
		}
	}
	/* random cuts, three rounds of the stream */
	for (int round = 0; round < 200; round++) {
		con_start();
		for (int rep = 0; rep < 3; rep++) {
			size_t at = 0;
			while (at < n) {
				seed = seed * 1103515245u + 12345u;
				size_t k = 1 + (seed >> 16) % 9;
				if (k > n - at)
					k = n - at;
				ok &= vz_console_feed(&con, buf + at, (uint32_t)k);
				at += k;
			}
		}
		CHECK_MSG(ngot == 9, "round %d: %d messages", round, ngot);
		for (int k = 0; k < ngot; k++)
			CHECK_INT(got[k].type, ==, order[k % 3]);
	}
	CHECK(ok);
	CHECK_INT(got_overflow, ==, 0);
	CHECK_INT(got_wrong_console, ==, 0);
}

/* Once the stream is bad, more input (good messages, then junk) changes nothing. */
static void feed_after_bad(uint8_t *buf, size_t cap)
{
	static struct vz_console before;
	size_t n = 0;
	int had = ngot;

	while (n + 2 * sizeof(struct vz_msg_hdr) <= cap / 2)
		n = put_msg(buf, n, VZ_MSG_EXEC, NULL, 0);
	for (size_t k = n; k < cap; k++)
		buf[k] = (uint8_t)(k * 13);
	memcpy(&before, &con, sizeof(con));
	CHECK(!vz_console_feed(&con, buf, (uint32_t)cap));
	for (size_t k = 0; k < cap; k += 7)
		CHECK(!vz_console_feed(&con, buf + k, (uint32_t)(cap - k < 7 ? cap - k : 7)));
	CHECK_INT(ngot, ==, had);
	CHECK_MSG(!memcmp(&before, &con, sizeof(con)),
		  "the parser changed state after the bad header");
}

static void test_console_feed_limits(void)
{
	static uint8_t body[VZ_MSG_GUEST_MAX + 1], buf[2 * (VZ_MSG_GUEST_MAX + 64)];
	size_t n;

	for (unsigned k = 0; k < sizeof(body); k++)
		body[k] = (uint8_t)(k * 7);

	/* the biggest message there may be, an ERROR with text */
	con_start();
	n = put_msg(buf, 0, VZ_MSG_ERROR, body, VZ_MSG_GUEST_MAX);
	CHECK(vz_console_feed(&con, buf, (uint32_t)n));
	CHECK(ngot == 1 && got[0].type == VZ_MSG_ERROR && got[0].len == VZ_MSG_GUEST_MAX);
	CHECK(!memcmp(got[0].body, body, VZ_MSG_GUEST_MAX));

	/* a byte more: refused as soon as the header is in, before its body */
	con_start();
	n = put_msg(buf, 0, VZ_MSG_BOOTED, NULL, 0);
	size_t bad_at = n;
	n = put_msg(buf, n, VZ_MSG_ERROR, body, VZ_MSG_GUEST_MAX + 1);
	for (size_t k = 0; k < bad_at + sizeof(struct vz_msg_hdr) - 1; k++)
		CHECK_MSG(vz_console_feed(&con, buf + k, 1), "byte %zu refused", k);
	CHECK(!vz_console_feed(&con, buf + bad_at + 7, 1));
	CHECK_INT(ngot, ==, 1);
	CHECK(!vz_console_feed(&con, buf + bad_at + 8, (uint32_t)(n - bad_at - 8)));
	size_t m = put_msg(buf, 0, VZ_MSG_EXEC, NULL, 0);
	CHECK(!vz_console_feed(&con, buf, (uint32_t)m));
	CHECK_INT(ngot, ==, 1);

	/* lengths that would wrap or overrun the assembly buffer */
	static const uint32_t lens[] = { 0xffffffffu, 0xfffffff8u, 0x80000000u, 4096 };
	for (unsigned k = 0; k < VZ_ARRAY_SIZE_T(lens); k++) {
		con_start();
		struct vz_msg_hdr h = { VZ_MSG_EXIT, lens[k] };
		memcpy(buf, &h, sizeof(h));
		memset(buf + sizeof(h), 0x41, 2048);
		CHECK_MSG(!vz_console_feed(&con, buf, sizeof(h) + 2048), "len %#x accepted",
			  lens[k]);
		CHECK_INT(ngot, ==, 0);
		feed_after_bad(buf, sizeof(buf));
	}

	/* unknown types: nothing delivered then or after */
	static const uint32_t types[] = { 0, VZ_MSG_EXIT + 1, VZ_MSG_JOB, VZ_MSG_SIGNAL,
					  0xffffffffu };
	for (unsigned k = 0; k < VZ_ARRAY_SIZE_T(types); k++) {
		con_start();
		n = put_msg(buf, 0, types[k], NULL, 0);
		n = put_msg(buf, n, VZ_MSG_BOOTED, NULL, 0);
		CHECK_MSG(!vz_console_feed(&con, buf, (uint32_t)n), "type %#x accepted", types[k]);
		CHECK_MSG(ngot == 0, "type %#x: %d delivered", types[k], ngot);
		m = put_msg(buf, 0, VZ_MSG_EXEC, NULL, 0);
		CHECK(!vz_console_feed(&con, buf, (uint32_t)m));
		CHECK(!vz_console_feed(&con, buf, 0));
		CHECK_INT(ngot, ==, 0);
		feed_after_bad(buf, sizeof(buf));
	}
	/* an empty feed of a good stream is fine */
	con_start();
	CHECK(vz_console_feed(&con, buf, 0));
	CHECK_INT(got_overflow, ==, 0);
	CHECK_INT(got_wrong_console, ==, 0);
}

static const struct vzt_case cases[] = {
	VZT_CASE(test_gmem_ptr),
	VZT_CASE(test_chain_read_write),
	VZT_CASE(test_chain_out_of_order),
	VZT_CASE(test_chain_full),
	VZT_CASE(test_chain_zero_length),
	VZT_CASE(test_index_wrap),
	VZT_CASE(test_hostile_addresses),
	VZT_CASE(test_hostile_chains),
	VZT_CASE(test_hostile_avail_idx),
	VZT_CASE(test_hostile_total_length),
	VZT_CASE(test_broken_until_reset),
	VZT_CASE(test_activate),
	VZT_CASE(test_event_idx),
	VZT_CASE(test_rearm),
	VZT_CASE(test_mmio_identity_and_features),
	VZT_CASE(test_mmio_queues),
	VZT_CASE(test_mmio_bad_queue),
	VZT_CASE(test_mmio_access_width),
	VZT_CASE(test_mmio_config),
	VZT_CASE(test_console_feed_split),
	VZT_CASE(test_console_feed_limits),
};

VZ_TEST_MAIN(cases)
