/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the readers of a VM template's state file (src/kvm/snapshot.h), a
 * file in a cache directory that anything with write access to it may have replaced:
 * vz_snap_check_payload and vz_snap_next/vz_snap_find (src/kvm/snapshot.c) and
 * vz_tmpl_check (src/kvm/template.c). Checked: they never read outside the bytes they
 * are given (ASan: every buffer is a heap copy of exactly its size, 8-aligned as the
 * mapped file is), a refusal says why in a NUL-terminated message within its capacity,
 * vz_tmpl_check over a valid header agrees with vz_snap_check_payload, and a payload
 * that passes is walked by vz_snap_next to its END section at its last byte with the
 * sections the check counted.
 *
 * Input: one control byte, then the rest R.
 *   bits 0-1  nvcpus (0-3), the vCPU sections expected (also the key's vCPU count)
 *   bits 2-4  ndev (0-7), the virtio sections expected
 *   bits 5-6  how the state file S is made:
 *             0, 3  wrapped: a valid header for the fixed key below, built here (format,
 *                   build, both checksums, memory file), then R as the payload at
 *                   VZ_SNAP_PAYLOAD_OFF
 *             1     raw: S is R as it is
 *             2     raw, fixed up: S is R with payload_len, payload_sum and hdr_sum set
 *                   to match (where R holds a header), so the key and memory checks
 *                   behind the checksums are reached
 *   bit 7     small capacities for the messages (0 to 16 bytes), else 160 and 768
 * The payload P is R when wrapped, else what S holds from VZ_SNAP_PAYLOAD_OFF (or R
 * when S is shorter). tests/fuzz/corpus/fuzz_snapshot holds valid inputs of each mode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "kvm/initramfs.h"
#include "kvm/snapshot.h"
#include "kvm/template.h"
#include "kvm/vm.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_snapshot: %s:%d: violated: %s\n", __FILE__, __LINE__, \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* template.c is linked whole: what its other functions need from sources this target
 * does not build (backend.c and the embedded guest init are much more; error.c is not
 * clean under clang's -Wformat-nonliteral). Of these, vz_tmpl_check calls only
 * vz_kvm_host_name (to name the KVM of a template made on another); the others must
 * not be reached. Weak, so that linking the real ones wins. */
__attribute__((weak)) const char *vz_kvm_host_name(enum vz_kvm_host h)
{
	return h == VZ_KVM_HOST_UNKNOWN ? "unknown KVM module" : "a KVM module (fuzz stub)";
}
__attribute__((weak)) const uint8_t vz_guest_init_start[1] = { 0 };
__attribute__((weak)) const uint8_t vz_guest_init_end[1] = { 0 };

static __attribute__((noreturn)) void unreached(const char *fn)
{
	fprintf(stderr, "fuzz_snapshot: %s called: not expected from the functions fuzzed\n", fn);
	abort();
}
__attribute__((weak)) int vz_err_set(int code, int os_errno, const char *fmt, ...)
{
	unreached(__func__);
}
__attribute__((weak)) int vz_err_sys(int code, const char *fmt, ...)
{
	unreached(__func__);
}
__attribute__((weak)) int vz_err_oom(void)
{
	unreached(__func__);
}
__attribute__((weak)) const vz_error *vz_error_last(void)
{
	unreached(__func__);
}

/* The key a start would compute; a fixed one, as any start has. */
#define FUZZ_RAM (64ull << 20)
#define FUZZ_MEM_INO 424242ull
#define FUZZ_MEM_MTIME_NS 1700000000123456789ull

static void fuzz_snapshot_key(struct vz_snap_key *k, uint32_t nvcpus)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->build, sizeof(k->build), "libvz fuzz build 0123456789abcdef");
	snprintf(k->kernel, sizeof(k->kernel),
		 "/fuzz/vmlinux (device 803, inode 77, 1234567 bytes, modified 1700000000.000000001)");
	k->ram_size = FUZZ_RAM;
	k->nvcpus = nvcpus;
	k->host = 1;
	k->cmdline_sum = 0x1111111111111111ull;
	k->devtab_sum = 0x2222222222222222ull;
	k->cpuid_sum = 0x3333333333333333ull;
	k->init_sum = 0x4444444444444444ull;
}

/* The memory file the header describes, as fstat() reports it. */
static void fuzz_mem_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_size = (off_t)FUZZ_RAM;
	st->st_ino = (ino_t)FUZZ_MEM_INO;
	st->st_mtim.tv_sec = (time_t)(FUZZ_MEM_MTIME_NS / 1000000000ull);
	st->st_mtim.tv_nsec = (long)(FUZZ_MEM_MTIME_NS % 1000000000ull);
}

static uint64_t fuzz_hdr_sum(const struct vz_snap_hdr *h)
{
	return vz_snap_sum(VZ_SNAP_SUM_INIT, h, offsetof(struct vz_snap_hdr, hdr_sum));
}

/* A whole state file (malloc'd, *len bytes): a valid header for @k, then @p as the
 * payload. */
static uint8_t *fuzz_snapshot_wrap(const struct vz_snap_key *k, const uint8_t *p, size_t n, size_t *len)
{
	uint8_t *s = calloc(1, VZ_SNAP_PAYLOAD_OFF + n);
	struct vz_snap_hdr h;

	REQUIRE(s);
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, VZ_SNAP_MAGIC, sizeof(h.magic));
	h.format = VZ_SNAP_FORMAT;
	h.hdr_len = sizeof(h);
	h.key = *k;
	h.payload_len = n;
	h.payload_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, p, n);
	h.mem_len = FUZZ_RAM;
	h.mem_ino = FUZZ_MEM_INO;
	h.mem_mtime_ns = FUZZ_MEM_MTIME_NS;
	h.hdr_sum = fuzz_hdr_sum(&h);
	memcpy(s, &h, sizeof(h));
	if (n)
		memcpy(s + VZ_SNAP_PAYLOAD_OFF, p, n);
	*len = VZ_SNAP_PAYLOAD_OFF + n;
	return s;
}

/* A refusal's message: NUL-terminated within @cap, not empty where there is room. */
static void check_why(const char *why, size_t cap, int rc)
{
	if (rc == 0 || !cap)
		return;
	REQUIRE(memchr(why, '\0', cap));
	if (cap > 1)
		REQUIRE(why[0] != '\0');
}

/* Walk @p with vz_snap_next; every section in bounds, each step forward and aligned. */
static void walk(const uint8_t *p, size_t n, int ok, uint32_t nvcpus, uint32_t ndev)
{
	uint32_t count[8] = { 0 }, last_tag = ~0u;
	size_t off = 0, prev, steps = 0;
	const struct vz_snap_sec *s;

	for (;;) {
		prev = off;
		if (!(s = vz_snap_next(p, n, &off))) {
			REQUIRE(off == prev); /* a refusal leaves the offset alone */
			break;
		}
		REQUIRE((const uint8_t *)s == p + prev && !(prev & 7));
		REQUIRE(n - prev >= sizeof(*s) && s->len <= n - prev - sizeof(*s));
		REQUIRE(off - prev == ((sizeof(*s) + s->len + 7) & ~(size_t)7));
		REQUIRE(off > prev && !(off & 7));
		REQUIRE(++steps <= n / sizeof(*s));
		count[s->tag < 8 ? s->tag : 7]++;
		last_tag = s->tag;
		if (ok && s->tag == VZ_SNAP_END) {
			/* The check passed: END is the last section and ends the payload. */
			REQUIRE(off == n && s->len == 0);
			REQUIRE(count[VZ_SNAP_VM] == 1 && count[VZ_SNAP_VCPU] == nvcpus &&
				count[VZ_SNAP_VIRTIO] == ndev && count[VZ_SNAP_CONSOLE] == 1 &&
				count[VZ_SNAP_UART] == 1 && count[6] == 0 && count[7] == 0);
		}
	}
	if (ok)
		REQUIRE(last_tag == VZ_SNAP_END && off == n);
	/* Offsets out of bounds or misaligned: nothing, and no arithmetic overflow. */
	static const size_t odd[] = { 1, 4, 7, SIZE_MAX, SIZE_MAX - 7, SIZE_MAX & ~(size_t)7 };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		off = odd[i];
		REQUIRE(!vz_snap_next(p, n, &off) && off == odd[i]);
	}
	off = n + 8;
	REQUIRE(!vz_snap_next(p, n, &off));
	off = n & ~(size_t)7;
	if (n - off < sizeof(*s))
		REQUIRE(!vz_snap_next(p, n, &off));
}

/* vz_snap_find, as the restore uses it: a body in bounds, at least the size asked. */
static void find_all(const uint8_t *p, size_t n, int ok, uint32_t nvcpus)
{
	static const uint32_t sizes[] = { 0, 1, sizeof(struct vz_snap_vm), sizeof(struct vz_snap_vcpu),
					  sizeof(struct vz_snap_virtio), 0xffffffffu };
	for (uint32_t tag = 0; tag <= 6; tag++)
		for (uint32_t nth = 0; nth < 3; nth++)
			for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
				const uint8_t *b = vz_snap_find(p, n, tag, nth, sizes[i]);
				if (!b)
					continue;
				REQUIRE(b >= p + sizeof(struct vz_snap_sec) && b <= p + n);
				REQUIRE((size_t)(p + n - b) >= sizes[i]);
			}
	if (!ok)
		return;
	REQUIRE(vz_snap_find(p, n, VZ_SNAP_VM, 0, sizeof(struct vz_snap_vm)));
	REQUIRE(!vz_snap_find(p, n, VZ_SNAP_VM, 1, 0));
	for (uint32_t i = 0; i < nvcpus; i++) {
		const struct vz_snap_vcpu *v = vz_snap_find(p, n, VZ_SNAP_VCPU, i, sizeof(*v));
		REQUIRE(v && v->id == i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t nvcpus, ndev, mode;
	size_t rn, sn, pn, cap_p, cap_s;
	uint8_t *r, *s = NULL;
	const uint8_t *p;
	struct vz_snap_key key;
	struct stat mem;
	char why_p[160], why_s[768];
	int rc_p, rc_s;

	if (size < 1)
		return 0;
	nvcpus = data[0] & 3;
	ndev = (data[0] >> 2) & 7;
	mode = (data[0] >> 5) & 3;
	cap_p = data[0] & 0x80 ? size % 17 : sizeof(why_p);
	cap_s = data[0] & 0x80 ? (size / 17) % 17 : sizeof(why_s);
	rn = size - 1;
	/* A copy of exactly its size (malloc(0) may give NULL: keep one byte then). */
	r = malloc(rn ? rn : 1);
	REQUIRE(r);
	if (rn)
		memcpy(r, data + 1, rn);
	fuzz_snapshot_key(&key, nvcpus);
	fuzz_mem_stat(&mem);

	if (mode == 1 || mode == 2) {
		s = r;
		sn = rn;
		if (mode == 2 && sn >= sizeof(struct vz_snap_hdr)) {
			struct vz_snap_hdr h;
			memcpy(&h, s, sizeof(h));
			if (sn >= VZ_SNAP_PAYLOAD_OFF) {
				h.payload_len = sn - VZ_SNAP_PAYLOAD_OFF;
				h.payload_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, s + VZ_SNAP_PAYLOAD_OFF,
							    h.payload_len);
			}
			h.hdr_sum = fuzz_hdr_sum(&h);
			memcpy(s, &h, sizeof(h));
		}
		p = sn > VZ_SNAP_PAYLOAD_OFF ? s + VZ_SNAP_PAYLOAD_OFF : r;
		pn = sn > VZ_SNAP_PAYLOAD_OFF ? sn - VZ_SNAP_PAYLOAD_OFF : rn;
	} else {
		p = r;
		pn = rn;
		s = fuzz_snapshot_wrap(&key, r, rn, &sn);
	}

	/* (a) the payload alone */
	memset(why_p, 0x5a, sizeof(why_p));
	rc_p = vz_snap_check_payload(p, pn, nvcpus, ndev, why_p, cap_p);
	REQUIRE(rc_p == 0 || rc_p == -1);
	check_why(why_p, cap_p, rc_p);
	if (!cap_p)
		REQUIRE((uint8_t)why_p[0] == 0x5a);
	walk(p, pn, rc_p == 0, nvcpus, ndev);
	find_all(p, pn, rc_p == 0, nvcpus);

	/* (b) the whole state file */
	memset(why_s, 0x5a, sizeof(why_s));
	rc_s = vz_tmpl_check(s, sn, &key, &mem, ndev, why_s, cap_s);
	REQUIRE(rc_s == 0 || rc_s == -1);
	check_why(why_s, cap_s, rc_s);
	if (!cap_s)
		REQUIRE((uint8_t)why_s[0] == 0x5a);
	if (mode == 0 || mode == 3) {
		/* The header is valid: only the payload decides. */
		REQUIRE(rc_s == rc_p || pn > VZ_SNAP_PAYLOAD_MAX);
		if (rc_s < 0 && cap_s == sizeof(why_s) && pn <= VZ_SNAP_PAYLOAD_MAX)
			REQUIRE(strstr(why_s, "its state is malformed: "));
	}
	if (rc_s == 0) /* a template that passes has the payload that passes */
		REQUIRE(sn > VZ_SNAP_PAYLOAD_OFF && vz_snap_check_payload(s + VZ_SNAP_PAYLOAD_OFF,
									   sn - VZ_SNAP_PAYLOAD_OFF,
									   nvcpus, ndev, NULL, 0) == 0);
	if (s != r)
		free(s);
	free(r);
	return 0;
}
