/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the console's control-message parser (vz_console_feed in
 * src/kvm/virtio/console.c), fed the guest's byte stream in pieces the input chooses,
 * and checked against a reference parse of the whole stream at once: the same messages,
 * in order, with the same bodies, whatever the pieces; false from the piece that
 * completes the first bad header on, and nothing delivered or changed after it.
 *
 * Input: byte 0 is L (its low 4 bits); the next L bytes are piece sizes (b + 1, used in
 * turn; L = 0: one piece); the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/virtio/console.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_console_ctl: %s:%d: violated: %s\n", __FILE__,       \
				__LINE__, #c);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR ((uint32_t)sizeof(struct vz_msg_hdr))

static struct vz_console con, snap;
static const uint8_t *stream;
static struct {
	size_t off;
	uint32_t type, len;
} ref[4096];
static size_t nref, ndelivered;
static int bad_seen; /* the parser has returned false */

static void on_msg(struct vz_console *c, uint32_t type, const uint8_t *body, uint32_t len)
{
	REQUIRE(c == &con);
	REQUIRE(!bad_seen);
	REQUIRE(ndelivered < nref);
	REQUIRE(type == ref[ndelivered].type && len == ref[ndelivered].len);
	REQUIRE(type >= VZ_MSG_BOOTED && type <= VZ_MSG_EXIT && len <= VZ_MSG_GUEST_MAX);
	REQUIRE(!memcmp(body, stream + ref[ndelivered].off + HDR, len));
	ndelivered++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vz_gmem none;
	const int fds[3] = { -1, -1, -1 };
	size_t nsizes, n, at = 0, bad_end = SIZE_MAX;

	if (!size)
		return 0;
	nsizes = data[0] & 15;
	if (size < 1 + nsizes)
		return 0;
	stream = data + 1 + nsizes;
	n = size - 1 - nsizes;

	/* the reference: whole messages up to the first bad header */
	nref = 0;
	while (at + HDR <= n) {
		struct vz_msg_hdr h;
		memcpy(&h, stream + at, HDR);
		if (h.type < VZ_MSG_BOOTED || h.type > VZ_MSG_EXIT || h.len > VZ_MSG_GUEST_MAX) {
			bad_end = at + HDR;
			break;
		}
		if (h.len > n - at - HDR)
			break;
		REQUIRE(nref < sizeof(ref) / sizeof(ref[0]));
		ref[nref].off = at;
		ref[nref].type = h.type;
		ref[nref].len = h.len;
		nref++;
		at += HDR + h.len;
	}

	vz_console_init(&con, &none, fds, NULL, 0, on_msg, NULL);
	ndelivered = 0;
	bad_seen = 0;
	at = 0;
	for (size_t k = 0; at < n || k == 0; k++) {
		size_t piece = nsizes ? (size_t)data[1 + k % nsizes] + 1 : n;
		if (piece > n - at)
			piece = n - at;
		if (bad_seen)
			memcpy(&snap, &con, sizeof(con));
		bool ok = vz_console_feed(&con, stream + at, (uint32_t)piece);
		at += piece;
		REQUIRE(ok == (at < bad_end));
		if (bad_seen)
			REQUIRE(!memcmp(&snap, &con, sizeof(con)));
		if (!ok)
			bad_seen = 1;
		if (!piece)
			break;
	}
	REQUIRE(ndelivered == nref);
	REQUIRE(con.in_len <= sizeof(con.in));
	return 0;
}
