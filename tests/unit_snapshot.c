/* SPDX-License-Identifier: MIT */
/* VM templates' state file (src/kvm/snapshot.h): the payload's sections as the VMM
 * appends them (vz_snap_append), walks them (vz_snap_next, vz_snap_find) and checks
 * them (vz_snap_check_payload), and the host's check of a whole state file against the
 * key of a start and its memory file (vz_tmpl_check): a valid one passes, each kind of
 * mismatch or damage is refused with a message that names it. Then what
 * vz_tmpl_publish writes passes vz_tmpl_check. State files are built in memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vz/sandbox.h>

#include "harness.h"
#include "kvm/snapshot.h"
#include "kvm/template.h"
#include "kvm/vm.h"

#define RAM (256ull << 20)
#define NVCPUS 2
#define NDEV 2
#define MEM_INO 4711ull
#define MEM_SEC 1700000000ll
#define MEM_NSEC 123456789l

static uint8_t g_pay[1 << 16];

/* The key the start computes (vz_tmpl_key's shape, fixed values). */
static void want_key(struct vz_snap_key *k)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->build, sizeof(k->build), "libvz 9.9.9 build 00112233445566778899aabbccddeeff");
	snprintf(k->kernel, sizeof(k->kernel),
		 "/boot/vmlinux (device 803, inode 77, 1234567 bytes, modified 1700000000.000000001)");
	k->ram_size = RAM;
	k->nvcpus = NVCPUS;
	k->host = VZ_KVM_HOST_VMX;
	k->cmdline_sum = 0x1111111111111111ull;
	k->devtab_sum = 0x2222222222222222ull;
	k->cpuid_sum = 0x3333333333333333ull;
	k->init_sum = 0x4444444444444444ull;
}

/* The memory file as fstat() shows it. */
static void mem_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_size = (off_t)RAM;
	st->st_ino = (ino_t)MEM_INO;
	st->st_mtim.tv_sec = MEM_SEC;
	st->st_mtim.tv_nsec = MEM_NSEC;
}

/* A payload in the VMM's order: @nvm VM sections, @nvcpus vCPUs (@nmsrs MSRs each),
 * @ndev virtio devices, @ncon consoles, @nuart UARTs, END. Returns its length in g_pay
 * (0 if it did not fit). */
static size_t build(uint32_t nvm, uint32_t nvcpus, uint32_t ndev, uint32_t ncon, uint32_t nuart,
		    uint32_t nmsrs)
{
	struct vz_snap_buf b = { g_pay, 0, sizeof(g_pay) };

	memset(g_pay, 0xee, sizeof(g_pay));
	for (uint32_t i = 0; i < nvm; i++) {
		struct vz_snap_vm *vm = vz_snap_append(&b, VZ_SNAP_VM, sizeof(*vm));
		if (!vm)
			return 0;
		vm->clock.clock = 123456789;
	}
	for (uint32_t i = 0; i < nvcpus; i++) {
		uint32_t len = (uint32_t)(sizeof(struct vz_snap_vcpu) + sizeof(struct kvm_xsave) +
					  nmsrs * sizeof(struct kvm_msr_entry));
		struct vz_snap_vcpu *v = vz_snap_append(&b, VZ_SNAP_VCPU, len);
		if (!v)
			return 0;
		v->id = i;
		v->xsave_len = sizeof(struct kvm_xsave);
		v->nmsrs = nmsrs;
		v->regs.rip = 0x1000000 + i;
	}
	for (uint32_t i = 0; i < ndev; i++) {
		struct vz_snap_virtio *d = vz_snap_append(&b, VZ_SNAP_VIRTIO, sizeof(*d));
		if (!d)
			return 0;
		d->device_id = 3;
		d->nqueues = 2;
	}
	for (uint32_t i = 0; i < ncon; i++)
		if (!vz_snap_append(&b, VZ_SNAP_CONSOLE, sizeof(struct vz_snap_console)))
			return 0;
	for (uint32_t i = 0; i < nuart; i++)
		if (!vz_snap_append(&b, VZ_SNAP_UART, sizeof(struct vz_snap_uart)))
			return 0;
	return vz_snap_append(&b, VZ_SNAP_END, 0) ? b.len : 0;
}

/* A payload as the VMM saves it. */
static size_t payload(uint32_t nvcpus, uint32_t ndev, uint32_t nmsrs)
{
	return build(1, nvcpus, ndev, 1, 1, nmsrs);
}

/* A state file as vz_tmpl_publish writes it: header for @k, payload @p at
 * VZ_SNAP_PAYLOAD_OFF. malloc'd, *len bytes. */
static uint8_t *state(const struct vz_snap_key *k, const uint8_t *p, size_t n, size_t *len)
{
	uint8_t *s = calloc(1, VZ_SNAP_PAYLOAD_OFF + n);
	struct vz_snap_hdr h;

	if (!s)
		abort();
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, VZ_SNAP_MAGIC, sizeof(h.magic));
	h.format = VZ_SNAP_FORMAT;
	h.hdr_len = sizeof(h);
	h.key = *k;
	h.payload_len = n;
	h.payload_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, p, n);
	h.mem_len = RAM;
	h.mem_ino = MEM_INO;
	h.mem_mtime_ns = (uint64_t)MEM_SEC * 1000000000ull + MEM_NSEC;
	h.hdr_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, &h, offsetof(struct vz_snap_hdr, hdr_sum));
	memcpy(s, &h, sizeof(h));
	memcpy(s + VZ_SNAP_PAYLOAD_OFF, p, n);
	*len = VZ_SNAP_PAYLOAD_OFF + n;
	return s;
}

/* The valid state of the wanted key (2 vCPUs with 4 MSRs, 2 devices). */
static uint8_t *valid(size_t *len)
{
	struct vz_snap_key k;
	want_key(&k);
	return state(&k, g_pay, payload(NVCPUS, NDEV, 4), len);
}

static struct vz_snap_hdr *hdr(uint8_t *s)
{
	return (struct vz_snap_hdr *)s;
}

/* After editing the header or the payload: the checksums made right again, so that
 * only the edit is wrong. The payload length follows @len. */
static void reseal(uint8_t *s, size_t len)
{
	struct vz_snap_hdr *h = hdr(s);
	h->payload_len = len - VZ_SNAP_PAYLOAD_OFF;
	h->payload_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, s + VZ_SNAP_PAYLOAD_OFF, h->payload_len);
	h->hdr_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, h, offsetof(struct vz_snap_hdr, hdr_sum));
}

/* vz_tmpl_check against the wanted key and memory file (@mem: NULL for the right one). */
static int check(const uint8_t *s, size_t len, const struct stat *mem, char *why, size_t cap)
{
	struct vz_snap_key k;
	struct stat st;
	want_key(&k);
	mem_stat(&st);
	snprintf(why, cap, "(untouched)");
	return vz_tmpl_check(s, len, &k, mem ? mem : &st, NDEV, why, cap);
}

/* Refused, with every one of the words (separated by '|') in the message. */
#define REFUSED(s, len, mem, words)                                                                \
	do {                                                                                       \
		char why_[768], w_[256];                                                           \
		int rc_ = check((s), (len), (mem), why_, sizeof(why_));                            \
		CHECK_MSG(rc_ == -1, "accepted, expected a refusal naming \"%s\"", words);         \
		snprintf(w_, sizeof(w_), "%s", words);                                             \
		for (char *sv_, *t_ = strtok_r(w_, "|", &sv_); t_; t_ = strtok_r(NULL, "|", &sv_)) \
			CHECK_MSG(strstr(why_, t_), "message \"%s\" lacks \"%s\"", why_, t_);      \
	} while (0)

static void test_valid(void)
{
	size_t len;
	uint8_t *s = valid(&len);
	char why[768];

	CHECK_INT(check(s, len, NULL, why, sizeof(why)), ==, 0);
	CHECK_STR(why, "(untouched)");
	/* As the payload alone, and with no MSRs, no devices, one vCPU. */
	CHECK_INT(vz_snap_check_payload(s + VZ_SNAP_PAYLOAD_OFF, len - VZ_SNAP_PAYLOAD_OFF, NVCPUS,
					NDEV, why, sizeof(why)),
		  ==, 0);
	size_t n = payload(1, 0, 0);
	CHECK(n > 0);
	CHECK_INT(vz_snap_check_payload(g_pay, n, 1, 0, why, sizeof(why)), ==, 0);
	/* The same payload for another count of vCPUs or devices is refused. */
	CHECK_INT(vz_snap_check_payload(g_pay, n, 2, 0, why, sizeof(why)), ==, -1);
	CHECK_MSG(strstr(why, "sections missing"), "why: %s", why);
	CHECK_INT(vz_snap_check_payload(g_pay, n, 1, 1, why, sizeof(why)), ==, -1);
	CHECK_MSG(strstr(why, "sections missing"), "why: %s", why);
	free(s);
}

static void test_truncated(void)
{
	size_t len;
	uint8_t *s = valid(&len);

	REFUSED(s, 0, NULL, "truncated|0 bytes");
	REFUSED(s, sizeof(struct vz_snap_hdr) - 1, NULL, "truncated");
	/* A whole header, then less than the payload's offset. */
	REFUSED(s, VZ_SNAP_PAYLOAD_OFF - 1, NULL, "truncated or overlong");
	/* The payload one byte short, or one byte long, of what the header says. */
	REFUSED(s, len - 1, NULL, "truncated or overlong");
	uint8_t *t = realloc(s, len + 1);
	CHECK(t);
	if (!t) {
		free(s);
		return;
	}
	t[len] = 0;
	REFUSED(t, len + 1, NULL, "truncated or overlong");
	free(t);
}

static void test_magic_format(void)
{
	size_t len;
	uint8_t *s = valid(&len);

	s[0] ^= 0x20;
	REFUSED(s, len, NULL, "not a libvz template");
	s[0] ^= 0x20;
	/* The reader's "failed" magic in the header's place is not a template either. */
	memcpy(s, VZ_SNAP_FAIL_MAGIC, 8);
	REFUSED(s, len, NULL, "not a libvz template");
	memcpy(s, VZ_SNAP_MAGIC, 8);
	hdr(s)->format = VZ_SNAP_FORMAT + 1;
	reseal(s, len);
	REFUSED(s, len, NULL, "format 2|reads format 1");
	hdr(s)->format = VZ_SNAP_FORMAT;
	hdr(s)->hdr_len = sizeof(struct vz_snap_hdr) + 8;
	reseal(s, len);
	REFUSED(s, len, NULL, "format 1 (header 1240 bytes)");
	free(s);
}

static void test_build(void)
{
	size_t len;
	uint8_t *s = valid(&len);
	char why[768];

	snprintf(hdr(s)->key.build, sizeof(hdr(s)->key.build), "libvz 9.9.8 build ffee");
	reseal(s, len);
	REFUSED(s, len, NULL, "made by libvz 9.9.8 build ffee|this is libvz 9.9.9");
	/* The build is compared before the header's checksum: it says which build made it
	 * even when this one would lay the header out otherwise. */
	hdr(s)->hdr_sum ^= 1;
	REFUSED(s, len, NULL, "made by libvz 9.9.8");
	/* A build string that fills its field, without a NUL: named, not read past. */
	memset(hdr(s)->key.build, 'B', sizeof(hdr(s)->key.build));
	reseal(s, len);
	CHECK_INT(check(s, len, NULL, why, sizeof(why)), ==, -1);
	char *b = strstr(why, "made by B");
	CHECK_MSG(b && strspn(b + 8, "B") == sizeof(hdr(s)->key.build) && !strncmp(b + 8 + 96, "; this is", 9),
		  "why: %s", why);
	free(s);
}

static void test_header_damaged(void)
{
	size_t len;
	uint8_t *s = valid(&len);

	hdr(s)->key.kernel[3] ^= 1; /* after the checksum was made */
	REFUSED(s, len, NULL, "header is damaged|checksum");
	hdr(s)->key.kernel[3] ^= 1;
	hdr(s)->hdr_sum ^= 1ull << 63;
	REFUSED(s, len, NULL, "header is damaged");
	hdr(s)->hdr_sum ^= 1ull << 63;
	hdr(s)->mem_mtime_ns++; /* the fields after the key are covered too */
	REFUSED(s, len, NULL, "header is damaged");
	free(s);
}

/* Each field of the key, changed in a header that is otherwise right. */
static void test_key_mismatch(void)
{
	size_t len;
	uint8_t *s = valid(&len);
	struct vz_snap_key good = hdr(s)->key, *k = &hdr(s)->key;

#define MISMATCH(edit, words)                                                                      \
	do {                                                                                       \
		*k = good;                                                                         \
		edit;                                                                              \
		reseal(s, len);                                                                    \
		REFUSED(s, len, NULL, words);                                                      \
	} while (0)
	MISMATCH(k->kernel[strlen(k->kernel) - 2] = '2', "guest kernel /boot/vmlinux|now it is /boot/vmlinux");
	MISMATCH(snprintf(k->modules, sizeof(k->modules), "/lib/modules/6.1"),
		 "guest kernel modules /lib/modules/6.1|now (none)");
	MISMATCH(k->ram_size = 512ull << 20, "512 MiB|not 256");
	MISMATCH(k->nvcpus = 1, "1 vCPUs, not 2");
	MISMATCH(k->host = VZ_KVM_HOST_PVM, "another kind of KVM|kvm_pvm");
	MISMATCH(k->host = 77, "another kind of KVM");
	MISMATCH(k->cmdline_sum++, "kernel command line");
	MISMATCH(k->devtab_sum++, "device layout");
	MISMATCH(k->cpuid_sum ^= 1ull << 40, "CPUID");
	MISMATCH(k->init_sum++, "guest init");
#undef MISMATCH
	*k = good;
	reseal(s, len);
	char why[768];
	CHECK_INT(check(s, len, NULL, why, sizeof(why)), ==, 0);
	free(s);
}

static void test_memory_file(void)
{
	size_t len;
	uint8_t *s = valid(&len);
	struct stat m;

	mem_stat(&m);
	m.st_size = (off_t)(RAM - 4096);
	REFUSED(s, len, &m, "memory file is 268431360 bytes, not 268435456");
	mem_stat(&m);
	m.st_ino++;
	REFUSED(s, len, &m, "memory file was changed");
	mem_stat(&m);
	m.st_mtim.tv_sec++;
	REFUSED(s, len, &m, "memory file was changed");
	mem_stat(&m);
	m.st_mtim.tv_nsec--;
	REFUSED(s, len, &m, "memory file was changed");
	/* A memory file that matches the header but not the guest's RAM. */
	hdr(s)->mem_len = RAM / 2;
	reseal(s, len);
	mem_stat(&m);
	m.st_size = (off_t)(RAM / 2);
	REFUSED(s, len, &m, "memory file does not hold 256 MiB");
	free(s);
}

static void test_payload_damaged(void)
{
	size_t len;
	uint8_t *s = valid(&len);

	s[VZ_SNAP_PAYLOAD_OFF + 100] ^= 1;
	REFUSED(s, len, NULL, "state is damaged|checksum");
	s[VZ_SNAP_PAYLOAD_OFF + 100] ^= 1;
	s[len - 1] ^= 0x80; /* the END section's last byte */
	REFUSED(s, len, NULL, "state is damaged");
	s[len - 1] ^= 0x80;
	hdr(s)->payload_sum++;
	hdr(s)->hdr_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, s, offsetof(struct vz_snap_hdr, hdr_sum));
	REFUSED(s, len, NULL, "state is damaged");
	free(s);
}

/* The offset of the @nth section of @tag in the payload @p (-1: none). */
static long sec_at(const uint8_t *p, size_t n, uint32_t tag, uint32_t nth)
{
	size_t off = 0, at;
	const struct vz_snap_sec *s;
	for (at = off; (s = vz_snap_next(p, n, &off)); at = off)
		if (s->tag == tag && nth-- == 0)
			return (long)at;
	return -1;
}

/* A payload of the wanted shape, edited by @edit (the file's length may change). */
typedef size_t (*edit_fn)(uint8_t *p, size_t n);

static void malformed(edit_fn edit, const char *words)
{
	struct vz_snap_key k;
	size_t n = payload(NVCPUS, NDEV, 4), len;

	want_key(&k);
	n = edit(g_pay, n);
	uint8_t *s = state(&k, g_pay, n, &len);
	REFUSED(s, len, NULL, words);
	free(s);
}

static struct vz_snap_sec *sec(uint8_t *p, size_t n, uint32_t tag, uint32_t nth)
{
	long at = sec_at(p, n, tag, nth);
	return at < 0 ? NULL : (struct vz_snap_sec *)(p + at);
}

static size_t drop_uart(uint8_t *p, size_t n)
{
	return build(1, NVCPUS, NDEV, 1, 0, 4);
}
static size_t drop_vm(uint8_t *p, size_t n)
{
	return build(0, NVCPUS, NDEV, 1, 1, 4);
}
static size_t drop_dev(uint8_t *p, size_t n)
{
	return build(1, NVCPUS, NDEV - 1, 1, 1, 4);
}
static size_t drop_vcpu1(uint8_t *p, size_t n)
{
	long at = sec_at(p, n, VZ_SNAP_VCPU, 1), next = sec_at(p, n, VZ_SNAP_VIRTIO, 0);
	memmove(p + at, p + next, n - (size_t)next);
	return n - (size_t)(next - at);
}
static size_t unknown_tag(uint8_t *p, size_t n)
{
	sec(p, n, VZ_SNAP_CONSOLE, 0)->tag = 6;
	return n;
}
static size_t past_end(uint8_t *p, size_t n)
{
	/* The UART's length reaches past the payload's end. */
	sec(p, n, VZ_SNAP_UART, 0)->len = 64;
	return n;
}
static size_t huge_len(uint8_t *p, size_t n)
{
	sec(p, n, VZ_SNAP_VM, 0)->len = 0xfffffff8u;
	return n;
}
static size_t after_end(uint8_t *p, size_t n)
{
	memset(p + n, 0, 8); /* a second END after the first */
	return n + 8;
}
static size_t end_with_body(uint8_t *p, size_t n)
{
	struct vz_snap_sec *e = (struct vz_snap_sec *)(p + n - 8);
	e->len = 8;
	memset(p + n, 0, 8);
	return n + 8;
}
static size_t no_end(uint8_t *p, size_t n)
{
	return n - 8;
}
static size_t two_vms(uint8_t *p, size_t n)
{
	return build(2, NVCPUS, NDEV, 1, 1, 4);
}
static size_t vm_short(uint8_t *p, size_t n)
{
	sec(p, n, VZ_SNAP_VM, 0)->len -= 8;
	return n;
}
static size_t dev_as_vm(uint8_t *p, size_t n)
{
	sec(p, n, VZ_SNAP_VIRTIO, 1)->tag = VZ_SNAP_VM; /* the length of a virtio section */
	return n;
}
static size_t vcpu_id(uint8_t *p, size_t n)
{
	struct vz_snap_vcpu *v = (struct vz_snap_vcpu *)(sec(p, n, VZ_SNAP_VCPU, 1) + 1);
	v->id = 0;
	return n;
}
static size_t vcpu_xsave_small(uint8_t *p, size_t n)
{
	struct vz_snap_vcpu *v = (struct vz_snap_vcpu *)(sec(p, n, VZ_SNAP_VCPU, 0) + 1);
	v->xsave_len -= 64;
	v->nmsrs += 4; /* the same length in all */
	return n;
}
static size_t vcpu_xsave_huge(uint8_t *p, size_t n)
{
	struct vz_snap_vcpu *v = (struct vz_snap_vcpu *)(sec(p, n, VZ_SNAP_VCPU, 0) + 1);
	v->xsave_len = 0xffffff00u;
	return n;
}
static size_t vcpu_msrs(uint8_t *p, size_t n)
{
	struct vz_snap_vcpu *v = (struct vz_snap_vcpu *)(sec(p, n, VZ_SNAP_VCPU, 0) + 1);
	v->nmsrs = VZ_SNAP_MAX_MSRS + 1;
	return n;
}
static size_t vcpu_len(uint8_t *p, size_t n)
{
	struct vz_snap_vcpu *v = (struct vz_snap_vcpu *)(sec(p, n, VZ_SNAP_VCPU, 0) + 1);
	v->nmsrs = 3; /* 16 bytes fewer than the section holds */
	return n;
}
static size_t vcpu_short(uint8_t *p, size_t n)
{
	sec(p, n, VZ_SNAP_UART, 0)->tag = VZ_SNAP_VCPU;
	return n;
}
static size_t extra_dev(uint8_t *p, size_t n)
{
	return build(1, NVCPUS, NDEV + 1, 1, 1, 4);
}
static size_t extra_vcpu(uint8_t *p, size_t n)
{
	return build(1, NVCPUS + 1, NDEV, 1, 1, 4);
}
static size_t queues(uint8_t *p, size_t n)
{
	struct vz_snap_virtio *d = (struct vz_snap_virtio *)(sec(p, n, VZ_SNAP_VIRTIO, 1) + 1);
	d->nqueues = VZ_SNAP_MAX_QUEUES + 1;
	return n;
}
static size_t two_consoles(uint8_t *p, size_t n)
{
	return build(1, NVCPUS, NDEV, 2, 1, 4);
}
static size_t two_uarts(uint8_t *p, size_t n)
{
	return build(1, NVCPUS, NDEV, 1, 2, 4);
}
static size_t no_console(uint8_t *p, size_t n)
{
	return build(1, NVCPUS, NDEV, 0, 1, 4);
}
static size_t uart_len(uint8_t *p, size_t n)
{
	sec(p, n, VZ_SNAP_UART, 0)->len = 12;
	return n;
}
static size_t empty(uint8_t *p, size_t n)
{
	return 0;
}

static void test_payload_malformed(void)
{
	malformed(drop_uart, "state is malformed: sections missing");
	malformed(drop_vm, "sections missing");
	malformed(drop_dev, "sections missing: the state holds vCPUs: 2");
	malformed(no_console, "sections missing");
	malformed(drop_vcpu1, "sections missing: the state holds vCPUs: 1");
	malformed(no_end, "a section runs past the end at byte");
	malformed(empty, "a section runs past the end at byte 0");
	malformed(unknown_tag, "unknown section tag 6");
	malformed(past_end, "a section runs past the end at byte");
	malformed(huge_len, "a section runs past the end at byte 0");
	malformed(after_end, "bytes after the end section");
	malformed(end_with_body, "bytes after the end section");
	malformed(two_vms, "bad VM section at 1728");
	malformed(vm_short, "bad VM section at 0");
	malformed(dev_as_vm, "bad VM section at");
	malformed(vcpu_id, "bad vCPU section for vCPU 1");
	malformed(vcpu_xsave_small, "bad vCPU section for vCPU 0");
	malformed(vcpu_xsave_huge, "bad vCPU section for vCPU 0");
	malformed(vcpu_msrs, "bad vCPU section for vCPU 0");
	malformed(vcpu_len, "bad vCPU section for vCPU 0");
	malformed(vcpu_short, "short vCPU section at");
	malformed(extra_dev, "bad or extra virtio section at");
	/* An extra vCPU is counted, and refused at the end (as "missing": the count differs). */
	malformed(extra_vcpu, "the state holds vCPUs: 3");
	malformed(queues, "virtio section with queues: 17");
	malformed(two_consoles, "bad console section at");
	malformed(two_uarts, "bad UART section at");
	malformed(uart_len, "bad UART section at");
}

/* A payload longer than VZ_SNAP_PAYLOAD_MAX is refused before it is read. */
static void test_payload_too_long(void)
{
	struct vz_snap_key k;
	size_t len = VZ_SNAP_PAYLOAD_OFF + VZ_SNAP_PAYLOAD_MAX + 8;
	uint8_t *s = calloc(1, len), *v;
	size_t vlen;

	CHECK(s);
	if (!s)
		return;
	want_key(&k);
	v = state(&k, g_pay, payload(NVCPUS, NDEV, 0), &vlen);
	memcpy(s, v, vlen);
	free(v);
	reseal(s, len);
	REFUSED(s, len, NULL, "truncated or overlong|4198408 bytes");
	free(s);
}

/* vz_snap_next: in bounds, aligned, or nothing (the offset left as it was). */
static void test_next_bounds(void)
{
	static uint64_t buf64[8]; /* 64 bytes, 8-aligned */
	uint8_t *p = (uint8_t *)buf64;
	struct vz_snap_sec *s0 = (struct vz_snap_sec *)p;
	const struct vz_snap_sec *s;
	size_t off;

	memset(buf64, 0, sizeof(buf64));
	/* 5 bytes of body: the next section starts at 16. */
	s0->tag = VZ_SNAP_UART;
	s0->len = 5;
	off = 0;
	s = vz_snap_next(p, 64, &off);
	CHECK(s == s0);
	CHECK_INT(off, ==, 16);
	/* The whole buffer as one section: exactly to the end, then nothing. */
	s0->len = 56;
	off = 0;
	CHECK(vz_snap_next(p, 64, &off) == s0);
	CHECK_INT(off, ==, 64);
	CHECK(!vz_snap_next(p, 64, &off));
	CHECK_INT(off, ==, 64);
	/* One byte more than there is. */
	s0->len = 57;
	off = 0;
	CHECK(!vz_snap_next(p, 64, &off));
	CHECK_INT(off, ==, 0);
	s0->len = 0xffffffffu;
	CHECK(!vz_snap_next(p, 64, &off));
	CHECK_INT(off, ==, 0);
	/* The padding of the last section may go past the end: then nothing more. */
	s0->len = 12;
	off = 0;
	CHECK(vz_snap_next(p, 20, &off) == s0);
	CHECK_INT(off, ==, 24);
	CHECK(!vz_snap_next(p, 20, &off));
	CHECK_INT(off, ==, 24);
	/* Too little left for a section header; misaligned; far out. */
	off = 60;
	CHECK(!vz_snap_next(p, 64, &off));
	off = 56;
	CHECK(!vz_snap_next(p, 63, &off));
	off = 56;
	CHECK(vz_snap_next(p, 64, &off) == (const struct vz_snap_sec *)(p + 56));
	off = 4;
	CHECK(!vz_snap_next(p, 64, &off));
	CHECK_INT(off, ==, 4);
	off = SIZE_MAX & ~(size_t)7;
	CHECK(!vz_snap_next(p, 64, &off));
	off = 0;
	CHECK(!vz_snap_next(p, 0, &off));
	CHECK(!vz_snap_next(p, 7, &off));
	/* The check reports the offset where the walk stopped. */
	char why[64];
	s0->len = 57;
	CHECK_INT(vz_snap_check_payload(p, 64, 0, 0, why, sizeof(why)), ==, -1);
	CHECK_STR(why, "a section runs past the end at byte 0");
}

static void test_find(void)
{
	size_t n = payload(NVCPUS, NDEV, 2);
	const struct vz_snap_vcpu *v;

	CHECK(vz_snap_find(g_pay, n, VZ_SNAP_VM, 0, sizeof(struct vz_snap_vm)));
	CHECK(!vz_snap_find(g_pay, n, VZ_SNAP_VM, 0, sizeof(struct vz_snap_vm) + 1));
	CHECK(!vz_snap_find(g_pay, n, VZ_SNAP_VM, 1, 0));
	v = vz_snap_find(g_pay, n, VZ_SNAP_VCPU, 1, sizeof(*v));
	CHECK(v && v->id == 1 && v->nmsrs == 2);
	CHECK(!vz_snap_find(g_pay, n, VZ_SNAP_VCPU, NVCPUS, 0));
	CHECK(vz_snap_find(g_pay, n, VZ_SNAP_VIRTIO, NDEV - 1, sizeof(struct vz_snap_virtio)));
	CHECK(!vz_snap_find(g_pay, n, 9, 0, 0));
	/* Nothing after END is found; a truncated payload finds only what is whole. */
	memset(g_pay + n, 0, 16);
	((struct vz_snap_sec *)(g_pay + n))->tag = VZ_SNAP_UART;
	((struct vz_snap_sec *)(g_pay + n))->len = 8;
	CHECK(vz_snap_find(g_pay, n, VZ_SNAP_UART, 0, 0));
	CHECK(!vz_snap_find(g_pay, n + 16, VZ_SNAP_UART, 1, 0));
	CHECK(!vz_snap_find(g_pay, 100, VZ_SNAP_VCPU, 0, 0));
	CHECK(!vz_snap_find(g_pay, sizeof(struct vz_snap_vm) + 7, VZ_SNAP_VM, 0, 0));
}

static void test_append(void)
{
	static uint64_t buf64[4];
	struct vz_snap_buf b = { (uint8_t *)buf64, 0, sizeof(buf64) }, none = { NULL, 0, 0 };
	uint8_t *body;

	memset(buf64, 0xff, sizeof(buf64));
	body = vz_snap_append(&b, VZ_SNAP_UART, 3);
	CHECK(body == (uint8_t *)buf64 + 8);
	CHECK_INT(b.len, ==, 16);
	CHECK(body && !body[0] && !body[3] && !body[7]); /* zeroed with its padding */
	CHECK(!vz_snap_append(&b, VZ_SNAP_VM, 17)); /* 8 + 17 + pad = 32 > 16 left */
	CHECK_INT(b.len, ==, 16);
	CHECK(vz_snap_append(&b, VZ_SNAP_END, 8));
	CHECK_INT(b.len, ==, 32);
	CHECK(!vz_snap_append(&b, VZ_SNAP_END, 0));
	CHECK(!vz_snap_append(&none, VZ_SNAP_END, 0));
	CHECK(!vz_snap_append(&b, VZ_SNAP_VM, 0xffffffffu));
}

/* Messages fit any capacity, NUL-terminated; capacity 0 writes nothing. */
static void test_why_capacity(void)
{
	size_t n = payload(1, 0, 0), len;
	char why[16];
	struct vz_snap_key k;
	struct stat m;

	memset(why, 'x', sizeof(why));
	CHECK_INT(vz_snap_check_payload(g_pay, n, 2, 0, why, 0), ==, -1);
	CHECK(why[0] == 'x');
	CHECK_INT(vz_snap_check_payload(g_pay, n, 2, 0, why, 1), ==, -1);
	CHECK(why[0] == '\0' && why[1] == 'x');
	CHECK_INT(vz_snap_check_payload(g_pay, n, 2, 0, why, 9), ==, -1);
	CHECK_STR(why, "sections");
	CHECK(why[9] == 'x');
	CHECK_INT(vz_snap_check_payload(g_pay, n, 2, 0, NULL, 0), ==, -1);
	/* vz_tmpl_check: a payload message cut short, still terminated. */
	want_key(&k);
	mem_stat(&m);
	uint8_t *s = state(&k, g_pay, n, &len);
	memset(why, 'x', sizeof(why));
	CHECK_INT(vz_tmpl_check(s, len, &k, &m, NDEV, why, 0), ==, -1);
	CHECK(why[0] == 'x');
	CHECK_INT(vz_tmpl_check(s, len, &k, &m, NDEV, why, sizeof(why)), ==, -1);
	CHECK_STR(why, "its state is ma");
	free(s);
}

/* What vz_tmpl_publish writes (the header over the VMM's payload) passes the check,
 * and the VMM's report that it could not save is recorded, not published. */
static void test_publish(void)
{
	char root[] = "/tmp/vz-unit-snapshot-XXXXXX", path[512], why[768], slot[17];
	struct vz_tmpl t;
	struct stat mst;
	size_t n = payload(NVCPUS, NDEV, 3);
	int fd;

	if (!mkdtemp(root)) {
		CHECK_MSG(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	for (int round = 0; round < 2; round++) {
		memset(&t, 0, sizeof(t));
		t.lock_fd = t.mem_fd = -1;
		want_key(&t.key);
		t.key.ram_size = 16ull << 20;
		snprintf(t.slot, sizeof(t.slot), "00112233445566%02d", round);
		t.root = strdup(root);
		t.slot_dir = malloc(strlen(root) + 32);
		t.tmp_dir = malloc(strlen(root) + 32);
		if (!t.root || !t.slot_dir || !t.tmp_dir)
			abort();
		sprintf(t.slot_dir, "%s/%s", root, t.slot);
		sprintf(t.tmp_dir, "%s/.tmp-%s-1-0", root, t.slot);
		CHECK(mkdir(t.tmp_dir, 0700) == 0);
		snprintf(path, sizeof(path), "%s/state", t.tmp_dir);
		t.save_state_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		snprintf(path, sizeof(path), "%s/memory", t.tmp_dir);
		t.save_mem_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		CHECK(t.save_state_fd >= 0 && t.save_mem_fd >= 0);
		CHECK(ftruncate(t.save_mem_fd, (off_t)t.key.ram_size) == 0);
		if (round == 0) {
			CHECK(pwrite(t.save_state_fd, g_pay, n, VZ_SNAP_PAYLOAD_OFF) == (ssize_t)n);
			CHECK_INT(vz_tmpl_publish(&t, NDEV), ==, 0);
		} else {
			static const char fail[] = VZ_SNAP_FAIL_MAGIC "KVM_GET_NESTED_STATE failed";
			CHECK(pwrite(t.save_state_fd, fail, sizeof(fail) - 1, VZ_SNAP_PAYLOAD_OFF) ==
			      (ssize_t)sizeof(fail) - 1);
			CHECK_INT(vz_tmpl_publish(&t, NDEV), <, 0);
		}
		snprintf(slot, sizeof(slot), "%s", t.slot);
		vz_tmpl_release(&t); /* clears t */
		snprintf(path, sizeof(path), "%s/%s/state", root, slot);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (round == 0) {
			/* Published: read back and checked as a start would. */
			uint8_t *s = malloc(VZ_SNAP_PAYLOAD_OFF + n + 1);
			ssize_t got = fd >= 0 && s ? pread(fd, s, VZ_SNAP_PAYLOAD_OFF + n + 1, 0) : -1;
			CHECK_INT(got, ==, (ssize_t)(VZ_SNAP_PAYLOAD_OFF + n));
			snprintf(path, sizeof(path), "%s/%s/memory", root, slot);
			CHECK(stat(path, &mst) == 0 && (mst.st_mode & 0777) == 0400);
			struct vz_snap_key k;
			want_key(&k);
			k.ram_size = 16ull << 20;
			if (got > 0) {
				CHECK_INT(vz_tmpl_check(s, (size_t)got, &k, &mst, NDEV, why, sizeof(why)), ==, 0);
				k.ram_size = RAM;
				CHECK_INT(vz_tmpl_check(s, (size_t)got, &k, &mst, NDEV, why, sizeof(why)), ==, -1);
				CHECK_MSG(strstr(why, "16 MiB of guest memory, not 256"), "why: %s", why);
			}
			free(s);
		} else {
			/* Not published; the reason kept beside the slot. */
			CHECK(fd < 0);
			snprintf(path, sizeof(path), "%s/%s.unsupported", root, slot);
			FILE *f = fopen(path, "re");
			char line[128] = "";
			CHECK(f && fgets(line, sizeof(line), f));
			CHECK_STR(line, "KVM_GET_NESTED_STATE failed\n");
			if (f)
				fclose(f);
		}
		if (fd >= 0)
			close(fd);
	}
	CHECK_INT(vz_vm_templates_drop(root), ==, 0);
	CHECK(rmdir(root) == 0);
}

static const struct vzt_case cases[] = {
	VZT_CASE(test_valid),		  VZT_CASE(test_truncated),	   VZT_CASE(test_magic_format),
	VZT_CASE(test_build),		  VZT_CASE(test_header_damaged),   VZT_CASE(test_key_mismatch),
	VZT_CASE(test_memory_file),	  VZT_CASE(test_payload_damaged),  VZT_CASE(test_payload_malformed),
	VZT_CASE(test_payload_too_long),  VZT_CASE(test_next_bounds),	   VZT_CASE(test_find),
	VZT_CASE(test_append),		  VZT_CASE(test_why_capacity),	   VZT_CASE(test_publish),
};

VZ_TEST_MAIN(cases)
