/* SPDX-License-Identifier: MIT */
/* The VMM's legacy devices: the 16550A UART of the kernel console and the i8042's
 * reset line. Each lives in its own file behind struct vz_dev_ops; the virtio devices
 * are in virtio/ and reach the VM through the device manager (devmgr.h). */
#ifndef VZ_KVM_DEVICES_H
#define VZ_KVM_DEVICES_H

#include "kvm/vm.h"

/* ---- 16550A UART (serial.c) ---- */
#define VZ_UART_RING 4096

struct vz_uart {
	vz_spinlock lock;
	struct vz_vm *vm;
	int irq, irq_level;
	uint8_t ier, iir, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending;
	uint8_t rx[4096]; /* host -> guest; indices run freely, modulo the size */
	uint32_t rx_head, rx_tail;
	int rx_efd;	  /* eventfd written when the guest has emptied rx (or -1) */
	uint8_t tx[4096]; /* guest -> host, batched */
	uint32_t tx_len;
	int out_fd; /* host fd for the guest's output, -1 to drop it */
	char *ring; /* optional: last VZ_UART_RING bytes sent, for crash reports */
	uint64_t ring_pos;
};

int vz_uart_init(struct vz_uart *u, struct vz_vm *vm, uint16_t port, int irq, int out_fd,
		 char *ring);
/* Queue host bytes for the guest to read; returns how many fitted. */
uint32_t vz_uart_push(struct vz_uart *u, const uint8_t *buf, uint32_t len);
uint32_t vz_uart_room(struct vz_uart *u);
void vz_uart_flush(struct vz_uart *u);

/* Templates (snapshot.h): the registers and the IRQ line's level, with the lock held.
 * The restored line level matches the restored irqchip's. */
struct vz_snap_uart;
void vz_uart_save(struct vz_uart *u, struct vz_snap_uart *s);
void vz_uart_restore(struct vz_uart *u, const struct vz_snap_uart *s);

/* ---- i8042: only what a guest needs to reboot (i8042.c) ---- */
int vz_i8042_init(struct vz_vm *vm);

#endif
