/* SPDX-License-Identifier: MIT */
/* Port I/O and MMIO buses [kvmtool ioport.c/mmio.c]: a short table of devices, each a
 * range and an ops table. Lookups are linear: a VM has a handful of devices. */
#include <string.h>

#include "kvm/vm.h"

int vz_bus_add(struct vz_bus *bus, const struct vz_dev_ops *ops, struct vz_vm *vm,
	       uint64_t base, uint64_t len, void *state)
{
	if (bus->ndevs >= VZ_BUS_MAX_DEVS || !len || base + len < base)
		return -1;
	for (int i = 0; i < bus->ndevs; i++) {
		const struct vz_dev *d = &bus->devs[i];
		if (base < d->base + d->len && d->base < base + len)
			return -1; /* overlap */
	}
	bus->devs[bus->ndevs++] = (struct vz_dev){
		.ops = ops, .vm = vm, .base = base, .len = len, .state = state,
	};
	return 0;
}

bool vz_bus_access(struct vz_bus *bus, struct vz_vcpu *cpu, uint64_t addr, uint8_t *data,
		   uint32_t len, bool write)
{
	for (int i = 0; i < bus->ndevs; i++) {
		struct vz_dev *d = &bus->devs[i];
		/* The whole access must fall inside the device: no straddling. */
		if (addr >= d->base && len <= d->len && addr - d->base <= d->len - len) {
			d->ops->io(d, cpu, addr - d->base, data, len, write);
			return true;
		}
	}
	if (!write)
		memset(data, 0xff, len);
	return false;
}

void *vz_gpa(struct vz_vm *vm, uint64_t gpa, uint64_t len)
{
	return vz_gmem_ptr(&vm->mem, gpa, len);
}
