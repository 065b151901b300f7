/* SPDX-License-Identifier: MIT */
/* A 16550A UART [kvmtool hw/serial.c; QEMU hw/char/serial.c, read for the register
 * semantics]: the guest's stdout, stderr and kernel console leave through three of
 * them, stdin (and libvz's control records) enter through the first. Transmission is
 * instant (THR is always empty); bytes are batched and flushed to the host when the
 * guest driver stops transmitting or polls the status, so a line costs one write(2). */
#include <string.h>

#include "kvm/devices.h"
#include "kvm/snapshot.h"

#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xc0
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02

static uint32_t rx_count(const struct vz_uart *u)
{
	return u->rx_tail - u->rx_head;
}

/* Write out what the guest has transmitted. Called with the lock held; a blocking
 * host pipe blocks the vCPU, which is the flow control we want. */
static void tx_flush(struct vz_uart *u)
{
	uint32_t off = 0;

	while (off < u->tx_len) {
		long n = u->out_fd >= 0 ? vz_r_write(u->out_fd, u->tx + off, u->tx_len - off)
					: (long)(u->tx_len - off);
		if (n == -4 /* EINTR */)
			continue;
		if (n <= 0) {
			/* The reader went away (EPIPE) or the fd is bad: drop output from now on,
			 * as a closed terminal would. */
			u->out_fd = -1;
			break;
		}
		off += (uint32_t)n;
	}
	u->tx_len = 0;
}

static void tx_byte(struct vz_uart *u, uint8_t c)
{
	if (u->ring) {
		u->ring[u->ring_pos % VZ_UART_RING] = (char)c;
		u->ring_pos++;
	}
	if (u->out_fd < 0)
		return;
	u->tx[u->tx_len++] = c;
	if (u->tx_len == sizeof(u->tx))
		tx_flush(u);
}

static void irq_line(struct vz_uart *u, int level)
{
	struct kvm_irq_level l = { .irq = (uint32_t)u->irq, .level = (uint32_t)level };
	vz_r_ioctl(u->vm->vm_fd, KVM_IRQ_LINE, &l);
	u->irq_level = level;
}

/* Recompute the interrupt identification and drive the IRQ line. ISA interrupts are
 * edge-triggered: a new event while the line is already high (more data, THR empty
 * again) must lower and raise it, or the guest never hears of it. */
static void update_irq(struct vz_uart *u, bool event)
{
	uint8_t iir = UART_IIR_NONE;

	if ((u->ier & UART_IER_RDI) && rx_count(u))
		iir = UART_IIR_RDI;
	else if ((u->ier & UART_IER_THRI) && u->thri_pending)
		iir = UART_IIR_THRI;
	u->iir = iir;
	if (iir == UART_IIR_NONE) {
		if (u->irq_level)
			irq_line(u, 0);
		return;
	}
	if (u->irq_level && event)
		irq_line(u, 0);
	if (!u->irq_level)
		irq_line(u, 1);
}

static uint8_t uart_read(struct vz_uart *u, uint64_t off)
{
	uint8_t v = 0;

	switch (off) {
	case 0:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		if (rx_count(u)) {
			v = u->rx[u->rx_head % sizeof(u->rx)];
			u->rx_head++;
			if (!rx_count(u) && u->rx_efd >= 0)
				vz_r_eventfd_write(u->rx_efd); /* room again: ask for more */
		}
		break;
	case 1:
		return (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
	case 2:
		v = u->iir | ((u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0);
		if (u->iir == UART_IIR_THRI)
			u->thri_pending = false;
		tx_flush(u);
		break;
	case 3:
		return u->lcr;
	case 4:
		return u->mcr;
	case 5:
		v = UART_LSR_THRE | UART_LSR_TEMT | (rx_count(u) ? UART_LSR_DR : 0);
		tx_flush(u);
		break;
	case 6:
		if (u->mcr & UART_MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			return (uint8_t)(((u->mcr & 1) << 5) | ((u->mcr & 2) << 3) |
					 ((u->mcr & 4) << 4) | ((u->mcr & 8) << 4));
		return 0xb0; /* DCD, DSR, CTS */
	case 7:
		return u->scr;
	}
	update_irq(u, false);
	return v;
}

static void uart_write(struct vz_uart *u, uint64_t off, uint8_t v)
{
	switch (off) {
	case 0:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = v;
			return;
		}
		if (u->mcr & UART_MCR_LOOP) {
			if (rx_count(u) < sizeof(u->rx)) {
				u->rx[u->rx_tail % sizeof(u->rx)] = v;
				u->rx_tail++;
			}
		} else {
			tx_byte(u, v);
		}
		u->thri_pending = true; /* sent at once: THR is empty again */
		break;
	case 1:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = v;
			return;
		}
		if ((v & UART_IER_THRI) && !(u->ier & UART_IER_THRI))
			u->thri_pending = true;
		u->ier = v & 0x0f;
		tx_flush(u);
		break;
	case 2:
		u->fcr = v;
		if (v & UART_FCR_CLEAR_RX)
			u->rx_head = u->rx_tail;
		break;
	case 3:
		u->lcr = v;
		return;
	case 4:
		u->mcr = v & 0x1f;
		break;
	case 7:
		u->scr = v;
		return;
	default:
		return;
	}
	update_irq(u, true);
}

static void uart_io(struct vz_dev *dev, struct vz_vcpu *cpu, uint64_t off, uint8_t *data,
		    uint32_t len, bool write)
{
	struct vz_uart *u = dev->state;

	(void)cpu;
	if (len != 1) { /* the driver uses byte accesses only */
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	vz_spin_lock(&u->lock);
	if (write)
		uart_write(u, off, data[0]);
	else
		data[0] = uart_read(u, off);
	vz_spin_unlock(&u->lock);
}

static const struct vz_dev_ops uart_ops = { .name = "uart", .io = uart_io };

int vz_uart_init(struct vz_uart *u, struct vz_vm *vm, uint16_t port, int irq, int out_fd,
		 char *ring)
{
	memset(u, 0, sizeof(*u));
	u->vm = vm;
	u->irq = irq;
	u->out_fd = out_fd;
	u->rx_efd = -1;
	u->ring = ring;
	u->iir = UART_IIR_NONE;
	u->mcr = 0x08; /* OUT2 */
	return vz_bus_add(&vm->pio, &uart_ops, vm, port, 8, u);
}

uint32_t vz_uart_push(struct vz_uart *u, const uint8_t *buf, uint32_t len)
{
	uint32_t n = 0;

	vz_spin_lock(&u->lock);
	while (n < len && rx_count(u) < sizeof(u->rx)) {
		u->rx[u->rx_tail % sizeof(u->rx)] = buf[n++];
		u->rx_tail++;
	}
	if (n)
		update_irq(u, true);
	vz_spin_unlock(&u->lock);
	return n;
}

uint32_t vz_uart_room(struct vz_uart *u)
{
	uint32_t room;
	vz_spin_lock(&u->lock);
	room = (uint32_t)sizeof(u->rx) - rx_count(u);
	vz_spin_unlock(&u->lock);
	return room;
}

void vz_uart_flush(struct vz_uart *u)
{
	vz_spin_lock(&u->lock);
	tx_flush(u);
	vz_spin_unlock(&u->lock);
}

void vz_uart_save(struct vz_uart *u, struct vz_snap_uart *s)
{
	memset(s, 0, sizeof(*s));
	vz_spin_lock(&u->lock);
	*s = (struct vz_snap_uart){ .ier = u->ier, .iir = u->iir, .lcr = u->lcr, .mcr = u->mcr,
				    .scr = u->scr, .dll = u->dll, .dlm = u->dlm, .fcr = u->fcr,
				    .thri_pending = u->thri_pending, .irq_level = u->irq_level };
	vz_spin_unlock(&u->lock);
}

void vz_uart_restore(struct vz_uart *u, const struct vz_snap_uart *s)
{
	vz_spin_lock(&u->lock);
	u->ier = s->ier;
	u->iir = s->iir;
	u->lcr = s->lcr;
	u->mcr = s->mcr;
	u->scr = s->scr;
	u->dll = s->dll;
	u->dlm = s->dlm;
	u->fcr = s->fcr;
	u->thri_pending = s->thri_pending;
	u->irq_level = s->irq_level;
	vz_spin_unlock(&u->lock);
}
