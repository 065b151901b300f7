/* SPDX-License-Identifier: MIT */
/* The device table and the wiring of each device into KVM (see devmgr.h). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/ipc.h"
#include "kvm/devmgr.h"
#include "kvm/vm.h"

/* ISA IRQs the MP table describes (0-15) and nothing else uses: 0 is the PIT, 1 and 12
 * the i8042, 2 the cascade, 4 the kernel console's UART, 8 the RTC. Edge-triggered,
 * as irqfd delivers them: each write of the eventfd is one edge. */
static const uint8_t free_irqs[] = { 5, 6, 7, 9, 10, 11, 13, 14, 15 };

int vz_devtab_add(struct vz_devtab *t, enum vz_devtype type)
{
	uint64_t base = VZ_DEVMGR_MMIO_BASE + (uint64_t)t->n * VZ_VIRTIO_MMIO_SIZE;

	if (t->n >= VZ_DEVMGR_MAX || (size_t)t->n >= sizeof(free_irqs) ||
	    base + VZ_VIRTIO_MMIO_SIZE > VZ_DEVMGR_MMIO_END)
		return -ENOSPC;
	t->slot[t->n] = (struct vz_devslot){ .type = type, .base = base, .len = VZ_VIRTIO_MMIO_SIZE,
					     .irq = free_irqs[t->n] };
	return t->n++;
}

static void put_hex(char *b, uint64_t v)
{
	char tmp[17];
	int n = 0;
	do
		tmp[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && n < 16);
	while (n)
		*b++ = tmp[--n];
	*b = '\0';
}

int vz_devtab_cmdline(const struct vz_devtab *t, char *cmdline, size_t cap)
{
	size_t start = strlen(cmdline);

	for (int i = 0; i < t->n; i++) {
		char num[24];
		vz_strlcat(cmdline, " virtio_mmio.device=", cap);
		vz_utoa(num, t->slot[i].len >> 10);
		vz_strlcat(cmdline, num, cap);
		vz_strlcat(cmdline, "K@0x", cap);
		put_hex(num, t->slot[i].base);
		vz_strlcat(cmdline, num, cap);
		vz_strlcat(cmdline, ":", cap);
		vz_utoa(num, t->slot[i].irq);
		vz_strlcat(cmdline, num, cap);
		if (strlen(cmdline) + 1 >= cap) { /* truncated (or exactly full: refused too) */
			cmdline[start] = '\0';
			return -ENOSPC;
		}
	}
	return 0;
}

static void mmio_io(struct vz_dev *d, struct vz_vcpu *cpu, uint64_t off, uint8_t *data,
		    uint32_t len, bool write)
{
	(void)cpu;
	vz_virtio_mmio_access(d->state, off, data, len, write);
}

static const struct vz_dev_ops virtio_mmio_ops = { .name = "virtio-mmio", .io = mmio_io };

int vz_devmgr_attach(struct vz_vm *vm, const struct vz_devslot *slot, struct vz_virtio_dev *dev,
		     struct vz_devrun *run)
{
	long r;
	int efd;

	run->slot = slot;
	run->dev = dev;
	if ((r = vz_bus_add(&vm->mmio, &virtio_mmio_ops, vm, slot->base, slot->len, dev)) < 0)
		return (int)r;
	if ((efd = (int)vz_rsys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0)) < 0)
		return efd;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = slot->irq };
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd)) < 0)
		return (int)r;
	dev->irq_fd = efd;
	for (unsigned q = 0; q < dev->ops->nqueues && q < VZ_VIRTIO_MAX_QUEUES; q++) {
		/* Blocking: device threads sleep in read() on it. */
		if ((efd = (int)vz_rsys(SYS_eventfd2, 0, EFD_CLOEXEC, 0)) < 0)
			return efd;
		struct kvm_ioeventfd io = { .datamatch = q, .addr = slot->base + VZ_VIRTIO_MMIO_NOTIFY,
					    .len = 4, .fd = efd, .flags = KVM_IOEVENTFD_FLAG_DATAMATCH };
		if ((r = vz_r_ioctl(vm->vm_fd, KVM_IOEVENTFD, &io)) < 0)
			return (int)r;
		dev->kick_fd[q] = efd;
	}
	return 0;
}
