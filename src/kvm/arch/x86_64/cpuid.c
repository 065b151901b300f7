/* SPDX-License-Identifier: MIT */
/* CPUID for the guest: what KVM says it supports, minus what the host kind cannot run.
 * On kvm_pvm guest kernel code is emulated, and the emulator refuses some instructions
 * (cmpxchg16b, xsave/xrstor, ...): the guest must not see those features, or its
 * kernel takes code paths that die as KVM emulation errors. kvm_pvm applies the VMM's
 * CPUID only in part (leaves 1 and 7 mostly come from the host), so the filter here is
 * backed by clearcpuid= on the guest command line (backend.c); hardware KVM gets KVM's
 * list unchanged. */
#include <string.h>

#include "kvm/arch/x86_64/boot.h"

/* Leaf 1 ECX bits kept on kvm_pvm: SSE3, SSSE3, SSE4.1, SSE4.2, hypervisor. */
#define PVM_L1_ECX ((1u << 0) | (1u << 9) | (1u << 19) | (1u << 20) | (1u << 31))
/* Leaf 0x80000001: EDX syscall, NX, LM; ECX LAHF/SAHF. */
#define PVM_X1_EDX ((1u << 11) | (1u << 20) | (1u << 29))
#define PVM_X1_ECX (1u << 0)
#define CPUID_HYPERVISOR (1u << 31)

int vz_x86_cpuid_fetch(int kvm_fd, struct kvm_cpuid2 *tmpl, uint32_t cap)
{
	long r;
	tmpl->nent = cap;
	r = vz_r_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, tmpl);
	return r < 0 ? (int)r : 0;
}

static void drop_leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent;) {
		if (c->entries[i].function == fn) {
			memmove(&c->entries[i], &c->entries[i + 1],
				(c->nent - i - 1) * sizeof(c->entries[0]));
			c->nent--;
		} else {
			i++;
		}
	}
}

void vz_x86_cpuid_filter(struct kvm_cpuid2 *c, enum vz_kvm_host host)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1)
			e->ecx |= CPUID_HYPERVISOR;
		if (host != VZ_KVM_HOST_PVM)
			continue;
		switch (e->function) {
		case 1:
			e->ecx &= PVM_L1_ECX;
			break;
		case 7: /* structured extended features: none (no SMEP/SMAP/FSGSBASE/AVX2...) */
			e->ebx = e->ecx = e->edx = 0;
			if (e->index == 0)
				e->eax = 0;
			break;
		case 0x40000001: /* KVM paravirtual features */
			/* With two or more vCPUs, a vCPU hangs in the PV IPI hypercall on
			 * kvm_pvm; plain APIC IPIs work. (kvm_pvm does honour the KVM and
			 * extended leaves, unlike leaves 1 and 7.) */
			e->eax &= ~((1u << 11) /* PV_SEND_IPI */ | (1u << 13) /* PV_SCHED_YIELD */);
			break;
		case 0x80000001:
			e->edx &= PVM_X1_EDX | 0x0183fbffu; /* the leaf-1 EDX mirror bits too */
			e->edx &= ~(1u << 26 | 1u << 27); /* 1 GiB pages, RDTSCP */
			e->ecx &= PVM_X1_ECX;
			break;
		default:
			break;
		}
	}
	if (host == VZ_KVM_HOST_PVM) {
		drop_leaf(c, 0xd);  /* XSAVE state */
		drop_leaf(c, 0x14); /* processor trace */
		drop_leaf(c, 0x12); /* SGX */
	}
}

void vz_x86_cpuid_for_vcpu(struct kvm_cpuid2 *dst, const struct kvm_cpuid2 *src, int id)
{
	dst->nent = src->nent;
	dst->padding = 0;
	memcpy(dst->entries, src->entries, src->nent * sizeof(src->entries[0]));
	for (uint32_t i = 0; i < dst->nent; i++) {
		struct kvm_cpuid_entry2 *e = &dst->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)id << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)id;
	}
}
