/* SPDX-License-Identifier: MIT */
/* Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI learns its
 * CPUs, its I/O APIC and the ISA interrupt routing [MP spec chapter 4; kvmtool
 * x86/mptable.c shows the same minimal set]. The floating pointer sits at the start of
 * the EBDA (one of the places Linux scans); the table itself at 0xe0000 (reserved
 * in the e820), since 64 CPUs do not fit in the 1 KiB EBDA. */
#include <string.h>

#include "kvm/arch/x86_64/boot.h"

#define MP_TABLE_ADDR 0xe0000
#define APIC_BASE 0xfee00000u
#define IOAPIC_BASE 0xfec00000u

struct mpf {
	char sig[4];
	uint32_t physptr;
	uint8_t length, spec, checksum, feature[5];
} __attribute__((packed));

struct mpc {
	char sig[4];
	uint16_t length;
	uint8_t spec, checksum;
	char oem[8], product[12];
	uint32_t oemptr;
	uint16_t oemsize, count;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apicid, apicver, flags;
	uint32_t signature, features, reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *b++);
	return (uint8_t)-s;
}

int vz_x86_mptable(struct vz_vm *vm)
{
	size_t size = sizeof(struct mpc) + (size_t)vm->nvcpus * sizeof(struct mpc_cpu) +
		      sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
		      18 * sizeof(struct mpc_intsrc);
	struct mpf *f = vz_gpa(vm, VZ_BOOT_EBDA, sizeof(*f));
	uint8_t *t = vz_gpa(vm, MP_TABLE_ADDR, size), *p;
	struct mpc *h = (struct mpc *)t;
	uint8_t ioapic_id = (uint8_t)vm->nvcpus;
	uint16_t count = 0;

	if (!f || !t || vm->nvcpus > 254)
		return -1;
	memset(t, 0, size);
	p = t + sizeof(*h);
	for (int i = 0; i < vm->nvcpus; i++) {
		struct mpc_cpu c = { .type = 0, .apicid = (uint8_t)i, .apicver = 0x14,
				     .flags = (uint8_t)(1 | (i == 0 ? 2 : 0)),
				     .signature = 0x600, .features = 0x201 /* FPU, APIC */ };
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
		count++;
	}
	struct mpc_bus bus = { .type = 1, .busid = 0, .bustype = { 'I', 'S', 'A', ' ', ' ', ' ' } };
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	count++;
	struct mpc_ioapic io = { .type = 2, .apicid = ioapic_id, .apicver = 0x11, .flags = 1,
				 .addr = IOAPIC_BASE };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	count++;
	/* ISA IRQ n -> I/O APIC pin n, as KVM's default routing wires them. */
	for (uint8_t irq = 0; irq < 16; irq++) {
		struct mpc_intsrc s = { .type = 3, .irqtype = 0, .irqflag = 0, .srcbus = 0,
					.srcbusirq = irq, .dstapic = ioapic_id, .dstirq = irq };
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		count++;
	}
	/* Local interrupts: ExtINT on LINT0, NMI on LINT1, to every CPU. */
	struct mpc_intsrc l0 = { .type = 4, .irqtype = 3, .dstapic = 0xff, .dstirq = 0 };
	struct mpc_intsrc l1 = { .type = 4, .irqtype = 1, .dstapic = 0xff, .dstirq = 1 };
	memcpy(p, &l0, sizeof(l0));
	p += sizeof(l0);
	memcpy(p, &l1, sizeof(l1));
	p += sizeof(l1);
	count += 2;

	memcpy(h->sig, "PCMP", 4);
	h->length = (uint16_t)(p - t);
	h->spec = 4;
	memcpy(h->oem, "LIBVZ   ", 8);
	memcpy(h->product, "VM          ", 12);
	h->count = count;
	h->lapic = APIC_BASE;
	h->checksum = checksum(t, h->length);

	memset(f, 0, sizeof(*f));
	memcpy(f->sig, "_MP_", 4);
	f->physptr = MP_TABLE_ADDR;
	f->length = 1;
	f->spec = 4;
	f->checksum = checksum(f, sizeof(*f));
	return 0;
}
