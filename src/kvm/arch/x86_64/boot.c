/* SPDX-License-Identifier: MIT */
/* Direct kernel boot, no firmware [Documentation/x86/boot.rst; the PVH boot ABI of
 * xen/include/public/arch-x86/hvm/start_info.h; read in kvmtool x86/kvm.c and
 * Firecracker arch/x86_64 for the register state]. Both kinds of image are entered in
 * 32-bit protected mode with paging off: a vmlinux at its PVH entry with %ebx pointing at
 * hvm_start_info, a bzImage at code32_start with %esi pointing at boot_params. */
#include <string.h>

#include "kvm/arch/x86_64/boot.h"

#define E820_RAM 1
#define E820_RESERVED 2

struct e820 {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

/* PVH start_info (version 1), module and memory map entries. */
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};
#define HVM_START_MAGIC 0x336ec578

static int memory_map(const struct vz_vm *vm, struct e820 *e)
{
	int n = 0;
	e[n++] = (struct e820){ 0, VZ_BOOT_EBDA, E820_RAM };
	e[n++] = (struct e820){ VZ_BOOT_EBDA, 0x100000 - VZ_BOOT_EBDA, E820_RESERVED };
	e[n++] = (struct e820){ 0x100000, vm->low_size - 0x100000, E820_RAM };
	if (vm->high_size)
		e[n++] = (struct e820){ VZ_HIGH_RAM_START, vm->high_size, E820_RAM };
	return n;
}

uint64_t vz_x86_initrd_addr(const struct vz_kimg *k, uint64_t low_size, uint64_t initrd_len)
{
	uint64_t top = low_size, floor, addr;

	if (k->kind == VZ_KIMG_BZIMAGE) {
		uint64_t base = k->pref_address > VZ_BOOT_BZ_LOAD ? k->pref_address : VZ_BOOT_BZ_LOAD;
		if (k->initrd_max && top > (uint64_t)k->initrd_max + 1)
			top = (uint64_t)k->initrd_max + 1;
		floor = base + k->init_size;
	} else {
		floor = k->load_end;
	}
	/* Leave the kernel room above its image for its early allocations. */
	floor = (floor + (16ull << 20) + 0xfffff) & ~0xfffffull;
	if (initrd_len > top)
		return 0;
	addr = (top - initrd_len) & ~0xfffull;
	return addr >= floor ? addr : 0;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t sflag)
{
	*s = (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				   .present = 1, .dpl = 0, .db = 1, .s = sflag, .l = 0, .g = 1 };
}

static int boot_regs(struct vz_vm *vm, uint64_t rip, uint64_t rbx, uint64_t rsi)
{
	static const uint64_t gdt[] = {
		0, 0,
		0x00cf9b000000ffffull, /* 0x10: code, flat, 32-bit */
		0x00cf93000000ffffull, /* 0x18: data, flat */
		0x00008b0000000067ull, /* 0x20: 32-bit TSS, busy */
	};
	struct kvm_sregs sr;
	struct kvm_regs r = { .rip = rip, .rbx = rbx, .rsi = rsi, .rflags = 2 };
	int fd = vm->vcpus[0].fd;
	void *g = vz_gpa(vm, VZ_BOOT_GDT, sizeof(gdt));

	if (!g || vz_r_ioctl(fd, KVM_GET_SREGS, &sr) < 0)
		return -1;
	memcpy(g, gdt, sizeof(gdt));
	set_seg(&sr.cs, 0x10, 0xb, 1);
	set_seg(&sr.ds, 0x18, 0x3, 1);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb,
				      .present = 1, .s = 0 };
	sr.ldt = (struct kvm_segment){ .selector = 0, .type = 2, .present = 1, .limit = 0xffff };
	sr.gdt.base = VZ_BOOT_GDT;
	sr.gdt.limit = sizeof(gdt) - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = 0x11; /* PE | ET */
	sr.cr3 = 0;
	sr.cr4 = 0;
	sr.efer = 0;
	if (vz_r_ioctl(fd, KVM_SET_SREGS, &sr) < 0 || vz_r_ioctl(fd, KVM_SET_REGS, &r) < 0)
		return -1;
	return 0;
}

static int boot_pvh(struct vz_vm *vm, const struct vz_boot *b, uint64_t initrd_at, const char **why)
{
	const struct vz_kimg *k = b->kimg;
	struct hvm_start_info *si = vz_gpa(vm, VZ_BOOT_INFO, sizeof(*si));
	struct hvm_modlist_entry *mod = vz_gpa(vm, VZ_BOOT_MODLIST, sizeof(*mod));
	struct hvm_memmap_entry *mm = vz_gpa(vm, VZ_BOOT_MEMMAP, 8 * sizeof(*mm));
	struct e820 e[8];
	int n = memory_map(vm, e);

	for (int i = 0; i < k->nseg; i++) {
		uint8_t *dst = vz_gpa(vm, k->seg[i].paddr, k->seg[i].memsz);
		if (!dst) {
			*why = "the kernel does not fit in guest RAM";
			return -1;
		}
		memcpy(dst, k->data + k->seg[i].off, k->seg[i].filesz); /* the rest is zero RAM */
	}
	*si = (struct hvm_start_info){ .magic = HVM_START_MAGIC, .version = 1,
				       .cmdline_paddr = VZ_BOOT_CMDLINE,
				       .memmap_paddr = VZ_BOOT_MEMMAP, .memmap_entries = (uint32_t)n };
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ e[i].addr, e[i].size, e[i].type, 0 };
	if (b->initrd_len) {
		*mod = (struct hvm_modlist_entry){ .paddr = initrd_at, .size = b->initrd_len };
		si->nr_modules = 1;
		si->modlist_paddr = VZ_BOOT_MODLIST;
	}
	if (boot_regs(vm, k->entry, VZ_BOOT_INFO, 0) < 0) {
		*why = "cannot set the boot vCPU's registers";
		return -1;
	}
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static int boot_bzimage(struct vz_vm *vm, const struct vz_boot *b, uint64_t initrd_at,
			const char **why)
{
	const struct vz_kimg *k = b->kimg;
	uint8_t *bp = vz_gpa(vm, VZ_BOOT_INFO, 4096);
	size_t hdr_end = 0x202 + k->data[0x201], pm_len = k->size - k->setup_size;
	uint8_t *pm = vz_gpa(vm, VZ_BOOT_BZ_LOAD, pm_len);
	struct e820 e[8];
	int n = memory_map(vm, e);

	if (!pm || vm->low_size < VZ_BOOT_BZ_LOAD + k->init_size) {
		*why = "the kernel does not fit in guest RAM";
		return -1;
	}
	memcpy(pm, k->data + k->setup_size, pm_len);
	memset(bp, 0, 4096);
	if (hdr_end > k->setup_size || hdr_end > 0x290)
		hdr_end = 0x290;
	memcpy(bp + 0x1f1, k->data + 0x1f1, hdr_end - 0x1f1);
	bp[0x210] = 0xff;	      /* type_of_loader: undefined */
	bp[0x211] |= 0x80;	      /* loadflags: CAN_USE_HEAP */
	bp[0x224] = 0x00;	      /* heap_end_ptr = 0xfe00 */
	bp[0x225] = 0xfe;
	bp[0x1fa] = bp[0x1fb] = 0xff; /* vid_mode: normal */
	put32(bp + 0x214, VZ_BOOT_BZ_LOAD);
	put32(bp + 0x228, VZ_BOOT_CMDLINE);
	put32(bp + 0x218, (uint32_t)initrd_at);
	put32(bp + 0x21c, (uint32_t)b->initrd_len);
	bp[0x1e8] = (uint8_t)n;
	memcpy(bp + 0x2d0, e, (size_t)n * sizeof(e[0]));
	if (boot_regs(vm, VZ_BOOT_BZ_LOAD, 0, VZ_BOOT_INFO) < 0) {
		*why = "cannot set the boot vCPU's registers";
		return -1;
	}
	return 0;
}

int vz_x86_boot_setup(struct vz_vm *vm, const struct vz_boot *b, const char **why)
{
	size_t clen = strlen(b->cmdline) + 1;
	uint64_t initrd_at = 0;
	char *cl = vz_gpa(vm, VZ_BOOT_CMDLINE, VZ_BOOT_CMDLINE_MAX);

	if (clen > VZ_BOOT_CMDLINE_MAX || !cl) {
		*why = "the kernel command line is too long";
		return -1;
	}
	memcpy(cl, b->cmdline, clen);
	if (b->initrd_len) {
		uint8_t *dst;
		initrd_at = vz_x86_initrd_addr(b->kimg, vm->low_size, b->initrd_len);
		dst = initrd_at ? vz_gpa(vm, initrd_at, b->initrd_len) : NULL;
		if (!dst) {
			*why = "the initramfs does not fit in guest RAM next to the kernel";
			return -1;
		}
		memcpy(dst, b->initrd, b->initrd_len);
	}
	if (vz_x86_mptable(vm) < 0) {
		*why = "cannot write the MP table";
		return -1;
	}
	return b->kimg->kind == VZ_KIMG_PVH ? boot_pvh(vm, b, initrd_at, why)
					    : boot_bzimage(vm, b, initrd_at, why);
}
