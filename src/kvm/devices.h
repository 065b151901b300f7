/* SPDX-License-Identifier: MIT */
/* The VMM's devices: 16550A UARTs, the status device the guest init reports through,
 * and the i8042's reset line. Each lives in its own file behind struct vz_dev_ops. */
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

/* ---- The status device (status.c) ----
 * Port I/O window the guest init writes through /dev/port (each byte of a write goes to
 * the next port). Layout of the 256-port window at VZ_STATUS_PORT:
 *   +0x00..+0xdf  text (NUL-terminated or full)
 *   +0xe0..+0xe3  value1, little-endian; +0xe4..+0xe7 value2
 *   +0xef         command: writing it acts on the window, then clears it. */
#define VZ_STATUS_PORT 0x600
#define VZ_STATUS_TEXT 0xe0
#define VZ_STATUS_V1 0xe0
#define VZ_STATUS_V2 0xe4
#define VZ_STATUS_CMD 0xef
#define VZ_STATUS_LEN 0x100

enum vz_status_cmd {
	VZ_STATUS_BOOTED = 1, /* the guest init runs */
	VZ_STATUS_EXEC = 2,   /* the workload has been executed */
	VZ_STATUS_ERROR = 3,  /* set-up failed: value1 = vz_status, value2 = errno, text */
	VZ_STATUS_EXIT = 4,   /* the workload ended: value1 = vz_reason, value2 = code/signal */
};

struct vz_status_dev {
	vz_spinlock lock;
	uint8_t win[VZ_STATUS_LEN];
	/* Called on the vCPU thread for each command, with the window's values. */
	void (*cmd)(struct vz_vm *vm, int cmd, int32_t v1, int32_t v2, const char *text);
};

int vz_status_init(struct vz_status_dev *s, struct vz_vm *vm);

/* ---- Output window (outwin.c) ----
 * The workload's stdout and stderr, relayed by the guest init in bulk: guest memory
 * outside RAM (mapped by the init through /dev/mem) holds one 64 KiB buffer per stream
 * and a header with each buffer's length; a byte written to port VZ_OUT_PORT + stream
 * hands the buffer to the VMM, which writes it to the host before the port write
 * completes. One exit per 64 KiB instead of one per byte through a UART. */
#define VZ_OUT_GPA 0xd0000000ull
#define VZ_OUT_SIZE 0x21000ull
#define VZ_OUT_DATA(ch) (0x1000ull + (uint64_t)(ch) * 0x10000ull)
#define VZ_OUT_MAX 0x10000u
#define VZ_OUT_PORT 0x700
#define VZ_OUT_STREAMS 2

struct vz_outwin {
	uint8_t *mem; /* VZ_OUT_SIZE bytes, a memory slot of the guest */
	int fds[VZ_OUT_STREAMS];
};

int vz_outwin_init(struct vz_outwin *w, struct vz_vm *vm, int out_fd, int err_fd);

/* ---- i8042: only what a guest needs to reboot (i8042.c) ---- */
int vz_i8042_init(struct vz_vm *vm);

#endif
