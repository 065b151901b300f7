/* SPDX-License-Identifier: MIT */
/* The part of an i8042 keyboard controller a guest uses to reboot: the status port
 * reads "input buffer empty" and command 0xFE (pulse reset) ends the VM. Linux reboots
 * this way when no ACPI is present, e.g. after a panic with panic=-1. */
#include <string.h>

#include "kvm/devices.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define I8042_CMD_RESET 0xfe

static void i8042_io(struct vz_dev *dev, struct vz_vcpu *cpu, uint64_t off, uint8_t *data,
		     uint32_t len, bool write)
{
	(void)cpu;
	(void)off;
	if (!write) {
		memset(data, 0, len); /* no data, input buffer empty */
		return;
	}
	if (dev->base == I8042_CMD && data[0] == I8042_CMD_RESET)
		vz_vm_end(dev->vm, VZ_VM_END_RESET, "the guest reset the machine");
}

static const struct vz_dev_ops i8042_ops = { .name = "i8042", .io = i8042_io };

int vz_i8042_init(struct vz_vm *vm)
{
	if (vz_bus_add(&vm->pio, &i8042_ops, vm, I8042_DATA, 1, NULL) < 0)
		return -1;
	return vz_bus_add(&vm->pio, &i8042_ops, vm, I8042_CMD, 1, NULL);
}
