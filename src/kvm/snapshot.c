/* SPDX-License-Identifier: MIT */
/* Saving and restoring a VM's KVM state and memory (see snapshot.h), in the VMM: raw
 * system calls, buffers from mmap, nothing from libc's allocator.
 *
 * The order of the state calls is KVM's [Documentation/virt/kvm/api.rst; Firecracker
 * vstate/vcpu.rs save_state and restore_state]: KVM_GET_MP_STATE first (it may change
 * the LAPIC's state), KVM_GET_VCPU_EVENTS last and only while every vCPU is stopped; on
 * restore CPUID before SREGS, the LAPIC before the MSRs (the TSC deadline needs the
 * timer mode), the events last. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common/ipc.h"
#include "kvm/snapshot.h"
#include "kvm/sys.h"
#include "kvm/vm.h"

/* ---- the payload's sections (also the host's check and the fuzz target's) ---- */

const struct vz_snap_sec *vz_snap_next(const uint8_t *p, size_t len, size_t *off)
{
	const struct vz_snap_sec *s;

	if (*off > len || len - *off < sizeof(*s) || (*off & 7))
		return NULL;
	s = (const struct vz_snap_sec *)(p + *off);
	if (s->len > len - *off - sizeof(*s))
		return NULL;
	*off += (sizeof(*s) + s->len + 7) & ~(size_t)7;
	return s;
}

static void why_set(char *why, size_t cap, const char *a, uint64_t n)
{
	char num[24];
	if (!cap)
		return;
	why[0] = '\0';
	vz_strlcat(why, a, cap);
	if (n != ~0ull) {
		vz_strlcat(why, " ", cap);
		vz_strlcat(why, vz_utoa(num, n), cap);
	}
}

int vz_snap_check_payload(const uint8_t *p, size_t len, uint32_t nvcpus, uint32_t ndev,
			  char *why, size_t cap)
{
	uint32_t seen_vcpu = 0, seen_dev = 0, seen_vm = 0, seen_con = 0, seen_uart = 0;
	size_t off = 0, at;
	const struct vz_snap_sec *s;

	for (;;) {
		at = off;
		if (!(s = vz_snap_next(p, len, &off))) {
			why_set(why, cap, "a section runs past the end at byte", at);
			return -1;
		}
		const uint8_t *body = (const uint8_t *)(s + 1);
		switch (s->tag) {
		case VZ_SNAP_END:
			if (s->len || off != len) {
				why_set(why, cap, "bytes after the end section, at", off);
				return -1;
			}
			if (seen_vm != 1 || seen_vcpu != nvcpus || seen_dev != ndev || seen_con != 1 ||
			    seen_uart != 1) {
				why_set(why, cap, "sections missing: the state holds vCPUs:", seen_vcpu);
				return -1;
			}
			return 0;
		case VZ_SNAP_VM:
			if (s->len != sizeof(struct vz_snap_vm) || seen_vm++) {
				why_set(why, cap, "bad VM section at", at);
				return -1;
			}
			break;
		case VZ_SNAP_VCPU: {
			struct vz_snap_vcpu v;
			if (s->len < sizeof(v)) {
				why_set(why, cap, "short vCPU section at", at);
				return -1;
			}
			memcpy(&v, body, sizeof(v));
			if (v.id != seen_vcpu || v.xsave_len < sizeof(struct kvm_xsave) ||
			    v.xsave_len > (1u << 20) || v.nmsrs > VZ_SNAP_MAX_MSRS ||
			    s->len != sizeof(v) + v.xsave_len +
					      (uint64_t)v.nmsrs * sizeof(struct kvm_msr_entry)) {
				why_set(why, cap, "bad vCPU section for vCPU", seen_vcpu);
				return -1;
			}
			seen_vcpu++;
			break;
		}
		case VZ_SNAP_VIRTIO: {
			struct vz_snap_virtio v;
			if (s->len != sizeof(v) || seen_dev >= ndev) {
				why_set(why, cap, "bad or extra virtio section at", at);
				return -1;
			}
			memcpy(&v, body, sizeof(v));
			if (v.nqueues > VZ_SNAP_MAX_QUEUES) {
				why_set(why, cap, "virtio section with queues:", v.nqueues);
				return -1;
			}
			seen_dev++;
			break;
		}
		case VZ_SNAP_CONSOLE:
			if (s->len != sizeof(struct vz_snap_console) || seen_con++) {
				why_set(why, cap, "bad console section at", at);
				return -1;
			}
			break;
		case VZ_SNAP_UART:
			if (s->len != sizeof(struct vz_snap_uart) || seen_uart++) {
				why_set(why, cap, "bad UART section at", at);
				return -1;
			}
			break;
		default:
			why_set(why, cap, "unknown section tag", s->tag);
			return -1;
		}
	}
}

/* ---- saving (in the VMM, every vCPU stopped) ---- */

void *vz_snap_append(struct vz_snap_buf *b, uint32_t tag, uint32_t len)
{
	size_t need = (sizeof(struct vz_snap_sec) + len + 7) & ~(size_t)7;
	struct vz_snap_sec *s;

	if (!b->p || need > b->cap - b->len)
		return NULL;
	s = (struct vz_snap_sec *)(b->p + b->len);
	memset(s, 0, need);
	s->tag = tag;
	s->len = len;
	b->len += need;
	return s + 1;
}

/* The MSRs KVM saves and restores for its guests (KVM_GET_MSR_INDEX_LIST). */
static uint32_t msr_list(int kvm_fd, uint32_t *idx)
{
	static struct {
		struct kvm_msr_list l;
		uint32_t i[VZ_SNAP_MAX_MSRS];
	} m;
	m.l.nmsrs = VZ_SNAP_MAX_MSRS;
	if (vz_r_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &m) < 0)
		return 0;
	memcpy(idx, m.i, m.l.nmsrs * sizeof(*idx));
	return m.l.nmsrs;
}

/* Read @n MSRs into @out; one KVM refuses to read is left out (KVM_GET_MSRS stops at
 * the first it cannot read). Returns how many were read. */
static uint32_t get_msrs(int fd, const uint32_t *idx, uint32_t n, struct kvm_msr_entry *out)
{
	static struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[VZ_SNAP_MAX_MSRS];
	} m;
	uint32_t got = 0, at = 0;

	while (at < n) {
		memset(&m, 0, sizeof(m));
		m.h.nmsrs = n - at;
		for (uint32_t i = 0; i < n - at; i++)
			m.e[i].index = idx[at + i];
		long r = vz_r_ioctl(fd, KVM_GET_MSRS, &m);
		if (r < 0)
			break;
		memcpy(out + got, m.e, (size_t)r * sizeof(*out));
		got += (uint32_t)r;
		at += (uint32_t)r + 1; /* skip the one that failed */
	}
	return got;
}

static int fail_call(char *why, size_t cap, const char *call, long err)
{
	why_set(why, cap, call, ~0ull);
	vz_strlcat(why, " failed (errno ", cap);
	char num[24];
	vz_strlcat(why, vz_utoa(num, (uint64_t)-err), cap);
	vz_strlcat(why, ")", cap);
	return -1;
}

int vz_vstate_save(struct vz_vm *vm, struct vz_snap_buf *b, char *why, size_t cap)
{
	static uint32_t idx[VZ_SNAP_MAX_MSRS];
	struct vz_snap_vm *s = vz_snap_append(b, VZ_SNAP_VM, sizeof(*s));
	uint32_t nidx = msr_list(vm->kvm_fd, idx);
	long xsz = vz_r_ioctl_val(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	long r;

	if (xsz < (long)sizeof(struct kvm_xsave))
		xsz = sizeof(struct kvm_xsave);
	xsz = (xsz + 7) & ~7l;
	if (!s)
		return fail_call(why, cap, "state buffer", -ENOSPC);
	if (!nidx) /* no MSRs would be a template that cannot run */
		return fail_call(why, cap, "KVM_GET_MSR_INDEX_LIST", -E2BIG);
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_GET_PIT2, &s->pit)) < 0)
		return fail_call(why, cap, "KVM_GET_PIT2", r);
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_GET_CLOCK, &s->clock)) < 0)
		return fail_call(why, cap, "KVM_GET_CLOCK", r);
	for (uint32_t i = 0; i < 3; i++) {
		s->chip[i].chip_id = i;
		if ((r = vz_r_ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->chip[i])) < 0)
			return fail_call(why, cap, "KVM_GET_IRQCHIP", r);
	}
	for (int i = 0; i < vm->nvcpus; i++) {
		int fd = vm->vcpus[i].fd;
		uint32_t len = (uint32_t)(sizeof(struct vz_snap_vcpu) + (size_t)xsz +
					  nidx * sizeof(struct kvm_msr_entry));
		struct vz_snap_vcpu *v = vz_snap_append(b, VZ_SNAP_VCPU, len);
		struct kvm_msr_entry *msrs;
		uint8_t *xsave;
		if (!v)
			return fail_call(why, cap, "state buffer", -ENOSPC);
		xsave = (uint8_t *)(v + 1);
		msrs = (struct kvm_msr_entry *)(xsave + xsz);
		v->id = (uint32_t)i;
		v->xsave_len = (uint32_t)xsz;
		if ((r = vz_r_ioctl(fd, KVM_GET_MP_STATE, &v->mp)) < 0)
			return fail_call(why, cap, "KVM_GET_MP_STATE", r);
		if ((r = vz_r_ioctl(fd, KVM_GET_REGS, &v->regs)) < 0)
			return fail_call(why, cap, "KVM_GET_REGS", r);
		if ((r = vz_r_ioctl(fd, KVM_GET_SREGS, &v->sregs)) < 0)
			return fail_call(why, cap, "KVM_GET_SREGS", r);
		r = vz_r_ioctl(fd, xsz > (long)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
			       xsave);
		if (r < 0)
			return fail_call(why, cap, "KVM_GET_XSAVE", r);
		if ((r = vz_r_ioctl(fd, KVM_GET_XCRS, &v->xcrs)) < 0)
			return fail_call(why, cap, "KVM_GET_XCRS", r);
		if ((r = vz_r_ioctl(fd, KVM_GET_DEBUGREGS, &v->dregs)) < 0)
			return fail_call(why, cap, "KVM_GET_DEBUGREGS", r);
		if ((r = vz_r_ioctl(fd, KVM_GET_LAPIC, &v->lapic)) < 0)
			return fail_call(why, cap, "KVM_GET_LAPIC", r);
		v->nmsrs = get_msrs(fd, idx, nidx, msrs);
		if (!v->nmsrs && nidx)
			return fail_call(why, cap, "KVM_GET_MSRS", -EIO);
		if ((r = vz_r_ioctl(fd, KVM_GET_VCPU_EVENTS, &v->events)) < 0)
			return fail_call(why, cap, "KVM_GET_VCPU_EVENTS", r);
		/* Give back the MSRs' room that went unused. */
		struct vz_snap_sec *sec = (struct vz_snap_sec *)v - 1;
		uint32_t used = (uint32_t)(sizeof(*v) + (size_t)xsz + v->nmsrs * sizeof(*msrs));
		b->len -= ((sizeof(*sec) + sec->len + 7) & ~(size_t)7) - ((sizeof(*sec) + used + 7) & ~(size_t)7);
		sec->len = used;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;
	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return false;
	return true;
}

/* Write guest RAM to @fd at its own offsets, leaving holes where pages were never
 * touched (mincore) or hold only zeros. Returns 0 or -errno. */
long vz_vstate_save_memory(struct vz_vm *vm, int fd, int pagemap_fd)
{
	static unsigned char vec[512]; /* one 2 MiB chunk of 4 KiB pages */
	static uint64_t pm[512];
	const uint64_t chunk = 512 * 4096ull;
	long r = vz_rsys(SYS_ftruncate, fd, vm->ram_size, 0);

	if (r < 0)
		return r;
	for (uint64_t at = 0; at < vm->ram_size; at += chunk) {
		uint64_t n = vm->ram_size - at < chunk ? vm->ram_size - at : chunk;
		uint64_t pages = (n + 4095) / 4096, run = 0, run_len = 0;
		/* A page that exists: present or swapped out (pagemap bits 63 and 62);
		 * mincore alone would take a swapped-out page for one never touched. */
		long got = pagemap_fd >= 0 ? vz_rsys6(SYS_pread64, pagemap_fd, (long)pm, (long)(pages * 8),
						      (long)(((uintptr_t)(vm->ram + at) / 4096) * 8), 0, 0)
					   : -1;
		if (got == (long)(pages * 8)) {
			for (uint64_t pg = 0; pg < pages; pg++)
				vec[pg] = (pm[pg] >> 62) & 3 ? 1 : 0;
		} else if (vz_rsys(SYS_mincore, vm->ram + at, n, vec) < 0 || pagemap_fd >= 0) {
			memset(vec, 1, sizeof(vec)); /* read them all: zero pages are still holes */
		}
		for (uint64_t pg = 0; pg <= pages; pg++) {
			bool data = pg < pages && (vec[pg] & 1) && !all_zero(vm->ram + at + pg * 4096, 4096);
			if (data) {
				if (!run_len)
					run = at + pg * 4096;
				run_len += 4096;
				continue;
			}
			for (uint64_t done = 0; run_len && done < run_len;) {
				r = vz_rsys6(SYS_pwrite64, fd, (long)(vm->ram + run + done),
					     (long)(run_len - done), (long)(run + done), 0, 0);
				if (r == -EINTR)
					continue;
				if (r <= 0)
					return r < 0 ? r : -EIO;
				done += (uint64_t)r;
			}
			run_len = 0;
		}
	}
	return 0;
}

/* ---- restoring (in the VMM, before any vCPU runs) ---- */

static const struct vz_snap_sec *find(const uint8_t *p, size_t len, uint32_t tag, uint32_t nth)
{
	size_t off = 0;
	const struct vz_snap_sec *s;
	while ((s = vz_snap_next(p, len, &off)) && s->tag != VZ_SNAP_END)
		if (s->tag == tag && nth-- == 0)
			return s;
	return NULL;
}

const void *vz_snap_find(const uint8_t *p, size_t len, uint32_t tag, uint32_t nth, uint32_t size)
{
	const struct vz_snap_sec *s = find(p, len, tag, nth);
	return s && s->len >= size ? s + 1 : NULL;
}

/* Write @n MSRs; one KVM refuses is skipped (KVM_SET_MSRS stops at the first). */
static void set_msrs(int fd, const struct kvm_msr_entry *e, uint32_t n)
{
	static struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[VZ_SNAP_MAX_MSRS];
	} m;
	uint32_t at = 0;

	while (at < n) {
		memset(&m, 0, sizeof(m));
		m.h.nmsrs = n - at;
		memcpy(m.e, e + at, (n - at) * sizeof(*e));
		long r = vz_r_ioctl(fd, KVM_SET_MSRS, &m);
		if (r < 0)
			break;
		at += (uint32_t)r + 1;
	}
}

int vz_vstate_restore(struct vz_vm *vm, const uint8_t *p, size_t len, char *why, size_t cap)
{
	const struct vz_snap_vm *s = vz_snap_find(p, len, VZ_SNAP_VM, 0, sizeof(*s));
	struct kvm_clock_data clock;
	long r;

	if (!s)
		return fail_call(why, cap, "the VM section", -EINVAL);
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_SET_PIT2, &s->pit)) < 0)
		return fail_call(why, cap, "KVM_SET_PIT2", r);
	for (int i = 0; i < 3; i++)
		if ((r = vz_r_ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->chip[i])) < 0)
			return fail_call(why, cap, "KVM_SET_IRQCHIP", r);
	/* The guest's clock goes on from where it was saved (its monotonic time does not
	 * jump); the guest init sets the wall clock from the job. */
	clock = s->clock;
	clock.flags = 0;
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock)) < 0)
		return fail_call(why, cap, "KVM_SET_CLOCK", r);
	for (int i = 0; i < vm->nvcpus; i++) {
		const struct vz_snap_sec *sec = find(p, len, VZ_SNAP_VCPU, (uint32_t)i);
		const struct vz_snap_vcpu *v;
		const uint8_t *xsave;
		int fd = vm->vcpus[i].fd;
		if (!sec || sec->len < sizeof(*v))
			return fail_call(why, cap, "a vCPU section", -EINVAL);
		v = (const struct vz_snap_vcpu *)(sec + 1);
		if (v->nmsrs > VZ_SNAP_MAX_MSRS || v->xsave_len < sizeof(struct kvm_xsave) ||
		    v->xsave_len > (1u << 20) ||
		    sec->len != sizeof(*v) + v->xsave_len + (uint64_t)v->nmsrs * sizeof(struct kvm_msr_entry))
			return fail_call(why, cap, "a vCPU section", -EINVAL);
		xsave = (const uint8_t *)(v + 1);
		if ((r = vz_r_ioctl(fd, KVM_SET_MP_STATE, &v->mp)) < 0)
			return fail_call(why, cap, "KVM_SET_MP_STATE", r);
		if ((r = vz_r_ioctl(fd, KVM_SET_REGS, &v->regs)) < 0)
			return fail_call(why, cap, "KVM_SET_REGS", r);
		if ((r = vz_r_ioctl(fd, KVM_SET_SREGS, &v->sregs)) < 0)
			return fail_call(why, cap, "KVM_SET_SREGS", r);
		if ((r = vz_r_ioctl(fd, KVM_SET_XSAVE, xsave)) < 0)
			return fail_call(why, cap, "KVM_SET_XSAVE", r);
		if ((r = vz_r_ioctl(fd, KVM_SET_XCRS, &v->xcrs)) < 0)
			return fail_call(why, cap, "KVM_SET_XCRS", r);
		if ((r = vz_r_ioctl(fd, KVM_SET_DEBUGREGS, &v->dregs)) < 0)
			return fail_call(why, cap, "KVM_SET_DEBUGREGS", r);
		if ((r = vz_r_ioctl(fd, KVM_SET_LAPIC, &v->lapic)) < 0)
			return fail_call(why, cap, "KVM_SET_LAPIC", r);
		set_msrs(fd, (const struct kvm_msr_entry *)(xsave + v->xsave_len), v->nmsrs);
		if ((r = vz_r_ioctl(fd, KVM_SET_VCPU_EVENTS, &v->events)) < 0)
			return fail_call(why, cap, "KVM_SET_VCPU_EVENTS", r);
	}
	return 0;
}
