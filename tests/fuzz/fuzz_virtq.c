/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a split virtqueue (src/kvm/virtio/queue.c) over a guest memory image
 * the input chooses. The first 16 bytes place and size the queue; the rest is guest RAM:
 * 8 KiB at guest address 0, then 4 KiB at 4 GiB (the hole between), each between
 * PROT_NONE guard pages. The device side activates the queue, pops every chain, reads
 * its readable part, writes into its writable part (which may be the rings themselves)
 * and gives it back, as a device would, and checks what it was handed.
 *
 * Control bytes:
 *   0, 1    num: 1 << (b0 % 9), or with b1 bit 7 the raw 15 bits b0 | (b1 & 0x7f) << 8
 *   2       flags: 0 EVENT_IDX; 1, 2, 3 desc, avail, used in the high region;
 *           4 ask vz_vq_need_interrupt after every chain; 5 start at index (8, 9)
 *   3       the byte written into writable buffers
 *   4..9    le16 offsets of desc, avail and used into their region
 *   10, 11  le16 starting last_avail and used_idx (flag 5)
 *   12      rounds of "pop until empty, then rearm": 1 + b12 % 4
 *   13..15  unused */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvm/virtio/virtio.h"

#define CTL 16
#define R0_GPA 0ull
#define R0_LEN 8192ull
#define R1_GPA (1ull << 32)
#define R1_LEN 4096ull
#define GUARD (64 * 1024ull)
#define MAX_POPS 1024

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_virtq: %s:%d: violated: %s\n", __FILE__, __LINE__,   \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vz_gmem gm;
static struct vz_vq_elem elem;
static uint8_t scratch[4096], pattern[4096];

static void setup(void)
{
	size_t len = GUARD + R0_LEN + GUARD + R1_LEN + GUARD;
	uint8_t *m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	REQUIRE(m != MAP_FAILED);
	gm.r[0].gpa = R0_GPA;
	gm.r[0].len = R0_LEN;
	gm.r[0].host = m + GUARD;
	gm.r[1].gpa = R1_GPA;
	gm.r[1].len = R1_LEN;
	gm.r[1].host = m + GUARD + R0_LEN + GUARD;
	gm.n = 2;
	REQUIRE(!mprotect(gm.r[0].host, R0_LEN, PROT_READ | PROT_WRITE));
	REQUIRE(!mprotect(gm.r[1].host, R1_LEN, PROT_READ | PROT_WRITE));
}

/* Whether host range [p, p + len) lies wholly inside one region. */
static int inside(const void *p, uint64_t len)
{
	for (int r = 0; r < 2; r++) {
		uintptr_t h = (uintptr_t)gm.r[r].host, b = (uintptr_t)p;
		if (b >= h && b - h <= gm.r[r].len && len <= gm.r[r].len - (b - h))
			return 1;
	}
	return 0;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* What the device may rely on in a chain vz_vq_pop returned. */
static void check_elem(const struct vz_vq *q, const struct vz_vq_elem *e)
{
	uint64_t out = 0, in = 0;

	REQUIRE(e->head < q->num);
	REQUIRE((unsigned)e->nout + e->nin <= q->num);
	for (unsigned i = 0; i < (unsigned)e->nout + e->nin; i++) {
		REQUIRE(e->iov[i].iov_len > 0);
		REQUIRE(inside(e->iov[i].iov_base, e->iov[i].iov_len));
		if (i < e->nout)
			out += e->iov[i].iov_len;
		else
			in += e->iov[i].iov_len;
	}
	REQUIRE(out == e->out_len && in == e->in_len);
	REQUIRE(out + in <= UINT32_MAX);
}

/* Serve one chain as a device does: read the request, write a reply, give it back. */
static void serve(struct vz_vq *q, struct vz_vq_elem *e, int per_chain_irq)
{
	uint32_t n, w = 0;

	check_elem(q, e);
	n = e->out_len < sizeof(scratch) ? e->out_len : (uint32_t)sizeof(scratch);
	REQUIRE(vz_vq_read(e, 0, scratch, n) == n);
	if (e->out_len > 100)
		REQUIRE(vz_vq_read(e, e->out_len - 100, scratch, 200) == 100);
	REQUIRE(vz_vq_read(e, e->out_len, scratch, 1) == 0);
	n = e->in_len < sizeof(pattern) ? e->in_len : (uint32_t)sizeof(pattern);
	w = (uint32_t)vz_vq_write(e, 0, pattern, n);
	REQUIRE(w == n);
	if (e->in_len > 100)
		REQUIRE(vz_vq_write(e, e->in_len - 100, pattern, 200) == 100);
	REQUIRE(vz_vq_write(e, e->in_len, pattern, 1) == 0);
	vz_vq_push(q, e->head, w);
	if (per_chain_irq)
		(void)vz_vq_need_interrupt(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t c[CTL] = { 0 };
	struct vz_vq q;
	size_t img;
	int pops = 0;

	if (!gm.n)
		setup();
	memcpy(c, data, size < CTL ? size : CTL);
	img = size > CTL ? size - CTL : 0;
	memset(gm.r[0].host, 0, R0_LEN);
	memset(gm.r[1].host, 0, R1_LEN);
	memcpy(gm.r[0].host, data + CTL, img < R0_LEN ? img : R0_LEN);
	if (img > R0_LEN)
		memcpy(gm.r[1].host, data + CTL + R0_LEN,
		       img - R0_LEN < R1_LEN ? img - R0_LEN : R1_LEN);
	memset(pattern, c[3], sizeof(pattern));

	vz_vq_reset(&q);
	q.num = (c[1] & 0x80) ? (uint16_t)(c[0] | (c[1] & 0x7f) << 8)
			      : (uint16_t)(1u << (c[0] % 9));
	q.desc_gpa = ((c[2] & 2) ? R1_GPA : R0_GPA) + le16(c + 4);
	q.avail_gpa = ((c[2] & 4) ? R1_GPA : R0_GPA) + le16(c + 6);
	q.used_gpa = ((c[2] & 8) ? R1_GPA : R0_GPA) + le16(c + 8);
	if (vz_vq_activate(&q, &gm) < 0) {
		REQUIRE(!q.ready && !q.desc && !q.avail && !q.used);
		REQUIRE(vz_vq_pop(&q, &gm, &elem) == 0);
		return 0;
	}
	REQUIRE(q.num && q.num <= VZ_VQ_MAX_SIZE && !(q.num & (q.num - 1)));
	REQUIRE(inside(q.desc, 16ull * q.num));
	REQUIRE(inside((const void *)q.avail, 6 + 2ull * q.num));
	REQUIRE(inside((const void *)q.used, 6 + 8ull * q.num));
	q.event_idx = c[2] & 1;
	if (c[2] & 0x20)
		q.last_avail = q.used_idx = le16(c + 10);

	for (int round = 0; round < 1 + c[12] % 4; round++) {
		for (;;) {
			uint16_t before = q.last_avail;
			int r = vz_vq_pop(&q, &gm, &elem);
			if (r < 0) {
				REQUIRE(q.broken && q.last_avail == before);
				REQUIRE(vz_vq_pop(&q, &gm, &elem) < 0);
				REQUIRE(!vz_vq_rearm(&q));
				break;
			}
			if (r == 0) {
				REQUIRE(q.last_avail == before);
				/* the rings may overlap: the rearm's write can add work */
				if (!vz_vq_rearm(&q) || ++pops > MAX_POPS)
					break;
				continue;
			}
			REQUIRE(r == 1 && q.last_avail == (uint16_t)(before + 1));
			serve(&q, &elem, c[2] & 0x10);
			if (++pops > MAX_POPS)
				break;
		}
		(void)vz_vq_need_interrupt(&q);
	}
	return 0;
}
