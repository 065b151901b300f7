/* SPDX-License-Identifier: MIT */
/* The status device: the paravirtual channel from the guest init to the VMM (boot,
 * exec, set-up error, exit). A window of I/O ports so that one write(2) to /dev/port in
 * the guest carries a whole record; the guest controls every byte, so the record is
 * only ever read within the window and its text is terminated here. */
#include <string.h>

#include "kvm/devices.h"

static void status_io(struct vz_dev *dev, struct vz_vcpu *cpu, uint64_t off, uint8_t *data,
		      uint32_t len, bool write)
{
	struct vz_status_dev *s = dev->state;
	char text[VZ_STATUS_TEXT + 1];
	int32_t v1, v2;
	int cmd;

	(void)cpu;
	if (!write) {
		memset(data, 0, len);
		return;
	}
	vz_spin_lock(&s->lock);
	memcpy(s->win + off, data, len); /* the bus keeps off + len inside the window */
	if (off + len <= VZ_STATUS_CMD || !s->win[VZ_STATUS_CMD]) {
		vz_spin_unlock(&s->lock);
		return;
	}
	cmd = s->win[VZ_STATUS_CMD];
	memcpy(text, s->win, VZ_STATUS_TEXT);
	text[VZ_STATUS_TEXT] = '\0';
	memcpy(&v1, s->win + VZ_STATUS_V1, 4);
	memcpy(&v2, s->win + VZ_STATUS_V2, 4);
	memset(s->win, 0, sizeof(s->win));
	vz_spin_unlock(&s->lock);
	if (s->cmd)
		s->cmd(dev->vm, cmd, v1, v2, text);
}

static const struct vz_dev_ops status_ops = { .name = "vz-status", .io = status_io };

int vz_status_init(struct vz_status_dev *s, struct vz_vm *vm)
{
	memset(s->win, 0, sizeof(s->win));
	s->lock.v = 0;
	return vz_bus_add(&vm->pio, &status_ops, vm, VZ_STATUS_PORT, VZ_STATUS_LEN, s);
}
