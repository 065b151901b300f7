/* SPDX-License-Identifier: MIT */
/* x86-64 boot without firmware: guest memory layout, the kernel image and initrd in
 * RAM, boot information (PVH start_info or Linux boot_params), MP table, CPUID, and the
 * boot vCPU's registers. */
#ifndef VZ_KVM_ARCH_X86_64_BOOT_H
#define VZ_KVM_ARCH_X86_64_BOOT_H

#include "kvm/kernel.h"
#include "kvm/vm.h"

/* Fixed guest-physical layout below 1 MiB (all inside RAM we reserve in the e820). */
#define VZ_BOOT_GDT 0x500
#define VZ_BOOT_INFO 0x7000	/* PVH hvm_start_info or bzImage boot_params (4 KiB) */
#define VZ_BOOT_MEMMAP 0x8000	/* PVH memory map */
#define VZ_BOOT_MODLIST 0x9000	/* PVH module list (the initrd) */
#define VZ_BOOT_CMDLINE 0x20000 /* command line, up to VZ_BOOT_CMDLINE_MAX */
#define VZ_BOOT_CMDLINE_MAX 4096
#define VZ_BOOT_EBDA 0x9fc00 /* MP table lives here; e820 RAM ends here */
#define VZ_BOOT_BZ_LOAD 0x100000 /* protected-mode part of a bzImage */

struct vz_boot {
	const struct vz_kimg *kimg;
	const uint8_t *initrd;
	uint64_t initrd_len;
	const char *cmdline;
};

/* Where the initrd goes for this kernel and RAM size: top of low RAM, under the kernel's
 * limit and above what the kernel occupies. 0 if it does not fit. */
uint64_t vz_x86_initrd_addr(const struct vz_kimg *k, uint64_t low_size, uint64_t initrd_len);

/* Copy kernel, initrd, command line and boot tables into guest RAM and set the boot
 * vCPU's registers. Returns 0 or -1 with a static reason in *why. */
int vz_x86_boot_setup(struct vz_vm *vm, const struct vz_boot *b, const char **why);

/* Build the MP table for vm->nvcpus CPUs and the I/O APIC at VZ_BOOT_EBDA. */
int vz_x86_mptable(struct vz_vm *vm);

/* CPUID for every vCPU from KVM's supported list, with what the host kind cannot run
 * hidden. @tmpl has room for @cap entries. Returns 0 or -errno. */
int vz_x86_cpuid_fetch(int kvm_fd, struct kvm_cpuid2 *tmpl, uint32_t cap);
void vz_x86_cpuid_filter(struct kvm_cpuid2 *c, enum vz_kvm_host host);
/* Per-vCPU copy with the APIC id patched in (@dst has room for @src's entries). */
void vz_x86_cpuid_for_vcpu(struct kvm_cpuid2 *dst, const struct kvm_cpuid2 *src, int id);

#endif
