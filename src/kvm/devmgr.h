/* SPDX-License-Identifier: MIT */
/* The device manager [kvmtool virtio_ops and device__register; Firecracker
 * device_manager::mmio]: one table says which virtio-mmio devices a VM has, at which
 * MMIO range and IRQ. The host process fills it while it plans the VM (before the
 * clone), writes the kernel's `virtio_mmio.device=SIZE@BASE:IRQ` words from it, and the
 * VMM creates exactly those devices from the same table, so the two cannot disagree.
 *
 * At run time every device gets from the manager: its MMIO range on the bus, an irqfd
 * for its IRQ (KVM_IRQFD: the device raises the interrupt by writing an eventfd, from
 * any thread, without a VM exit) and one ioeventfd per queue on QueueNotify
 * (KVM_IOEVENTFD with the queue index as datamatch: a guest's kick wakes the device's
 * thread without stopping the vCPU in the VMM). */
#ifndef VZ_KVM_DEVMGR_H
#define VZ_KVM_DEVMGR_H

#include <stddef.h>
#include <stdint.h>

#include "kvm/virtio/virtio.h"

struct vz_vm;

/* Where virtio-mmio devices live: in the 32-bit hole, below the IOAPIC and the LAPIC. */
#define VZ_DEVMGR_MMIO_BASE 0xd0000000ull
#define VZ_DEVMGR_MMIO_END 0xd0100000ull
#define VZ_DEVMGR_MAX 16

enum vz_devtype {
	VZ_DEV_CONSOLE = 1, /* virtio-console: stdio and the control channel (console.c) */
	VZ_DEV_FS = 2,      /* virtio-fs: the shares (fs.c, fuse/server.c) */
};

struct vz_devslot {
	enum vz_devtype type;
	uint64_t base, len;
	uint32_t irq;
};

/* The plan's device table: plain data, filled before the clone. */
struct vz_devtab {
	struct vz_devslot slot[VZ_DEVMGR_MAX];
	int n;
};

/* Add a device of @type; its range and IRQ come from the allocators. Returns the slot
 * index, or -ENOSPC when the MMIO window or the free IRQs are used up. */
int vz_devtab_add(struct vz_devtab *t, enum vz_devtype type);
/* Append " virtio_mmio.device=4K@0xBASE:IRQ" for every slot to the NUL-terminated
 * @cmdline of capacity @cap. Returns 0, or -ENOSPC if it does not fit (nothing added). */
int vz_devtab_cmdline(const struct vz_devtab *t, char *cmdline, size_t cap);

/* ---- run time (in the VMM) ---- */

/* A running device: its transport and what the manager gave it. */
struct vz_devrun {
	const struct vz_devslot *slot;
	struct vz_virtio_dev *dev;
};

/* Put @dev on the VM: its MMIO range on the bus, an irqfd for its IRQ (set as
 * dev->irq_fd) and an ioeventfd per queue (dev->kick_fd). Returns 0 or -errno. */
int vz_devmgr_attach(struct vz_vm *vm, const struct vz_devslot *slot, struct vz_virtio_dev *dev,
		     struct vz_devrun *run);

#endif
