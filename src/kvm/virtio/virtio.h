/* SPDX-License-Identifier: MIT */
/* The virtio core and its MMIO transport [virtio 1.2 sections 2.7 (split virtqueues) and
 * 4.2 (virtio over MMIO, version 2); kvmtool virtio/core.c, Firecracker devices/virtio].
 *
 * Everything the guest writes is hostile input: a queue's rings are checked against
 * guest RAM once when the driver makes the queue ready, and every descriptor the device
 * reads is copied once, then checked (address and length inside guest RAM, index inside
 * the table, chains no longer than the queue, readable before writable, no indirect
 * tables: the feature is not offered). A queue that breaks a rule is marked broken and
 * the device asks the driver for a reset (DEVICE_NEEDS_RESET); nothing the guest writes
 * makes the VMM read or write outside guest RAM.
 *
 * Nothing here allocates; the code runs in the VMM (see sys.h) and, for the unit tests
 * and the fuzz target, in an ordinary process over a plain buffer as guest memory. */
#ifndef VZ_KVM_VIRTIO_H
#define VZ_KVM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/sys.h"

/* ---- guest memory: up to two regions (RAM below the MMIO hole and above 4 GiB) ---- */
struct vz_gmem {
	struct {
		uint64_t gpa, len;
		uint8_t *host;
	} r[2];
	int n;
};

/* Host address of [gpa, gpa + len) if it lies wholly in one region, else NULL. */
void *vz_gmem_ptr(const struct vz_gmem *m, uint64_t gpa, uint64_t len);

/* ---- device status and feature bits ---- */
#define VZ_VIRTIO_S_ACK 1u
#define VZ_VIRTIO_S_DRIVER 2u
#define VZ_VIRTIO_S_DRIVER_OK 4u
#define VZ_VIRTIO_S_FEATURES_OK 8u
#define VZ_VIRTIO_S_NEEDS_RESET 0x40u
#define VZ_VIRTIO_S_FAILED 0x80u

#define VZ_VIRTIO_F_EVENT_IDX (1ull << 29)
#define VZ_VIRTIO_F_VERSION_1 (1ull << 32)

#define VZ_VIRTIO_ISR_QUEUE 1u
#define VZ_VIRTIO_ISR_CONFIG 2u

/* ---- split virtqueue ---- */
#define VZ_VQ_MAX_SIZE 256 /* QueueNumMax of every queue; also the longest chain */

#define VZ_VRING_DESC_F_NEXT 1
#define VZ_VRING_DESC_F_WRITE 2
#define VZ_VRING_DESC_F_INDIRECT 4

struct vz_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* Everything a queue is, as plain data (snapshots copy it). Host pointers are derived
 * from the guest addresses at activation and are not part of the saved state. */
struct vz_vq {
	uint16_t num; /* size the driver chose (a power of two, at most VZ_VQ_MAX_SIZE) */
	bool ready, broken, event_idx;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;	 /* next avail entry the device takes */
	uint16_t used_idx;	 /* next used entry the device writes */
	uint16_t signalled_used; /* used_idx at the last interrupt decision */
	bool signalled_valid;
	/* derived at activation */
	struct vz_vring_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
	volatile uint8_t *used;	  /* flags, idx, ring[num] of {id, len}, avail_event */
};

/* One chain taken from the avail ring: iov[0, nout) are driver-readable (the request),
 * iov[nout, nout + nin) device-writable (the reply); zero-length buffers are skipped. */
struct vz_vq_elem {
	uint16_t head;
	uint16_t nout, nin;
	uint32_t out_len, in_len;
	struct iovec iov[VZ_VQ_MAX_SIZE];
};

/* Check the rings of @q (num and the three addresses set by the driver) against @m and
 * derive the host pointers. Returns 0, or -EINVAL (num not a power of two or too big,
 * rings misaligned or outside guest RAM). */
int vz_vq_activate(struct vz_vq *q, const struct vz_gmem *m);
/* Only derive the host pointers of @q from its (already set) size and addresses, keeping
 * its indices: a restored queue. Returns 0 or -EINVAL as vz_vq_activate. */
int vz_vq_map(struct vz_vq *q, const struct vz_gmem *m);
/* Forget everything (device reset). */
void vz_vq_reset(struct vz_vq *q);
/* Take the next chain. Returns 1 with @e filled, 0 if the ring is empty, -EINVAL if the
 * driver broke a rule (the queue is then broken and stays so until reset). */
int vz_vq_pop(struct vz_vq *q, const struct vz_gmem *m, struct vz_vq_elem *e);
/* Give chain @head back with @len bytes written into its writable part. */
void vz_vq_push(struct vz_vq *q, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last call
 * (EVENT_IDX's used_event, or the avail ring's NO_INTERRUPT flag). */
bool vz_vq_need_interrupt(struct vz_vq *q);
/* Ask to be notified at the next chain the driver adds (EVENT_IDX's avail_event), then
 * say whether one is there already, so a caller that stops on an empty ring calls this
 * and goes on if it returns true. */
bool vz_vq_rearm(struct vz_vq *q);
/* Copy between a buffer and bytes [@off, @off + @len) of an iovec array; return the
 * bytes copied. */
size_t vz_iov_read(const struct iovec *v, unsigned n, size_t off, void *dst, size_t len);
size_t vz_iov_write(const struct iovec *v, unsigned n, size_t off, const void *src, size_t len);
/* Copy @len bytes of @e's readable part from byte @off into @dst; returns bytes copied. */
size_t vz_vq_read(const struct vz_vq_elem *e, size_t off, void *dst, size_t len);
/* Copy @len bytes into @e's writable part at byte @off; returns bytes copied. */
size_t vz_vq_write(struct vz_vq_elem *e, size_t off, const void *src, size_t len);

/* ---- virtio-mmio transport, version 2 ---- */
#define VZ_VIRTIO_MMIO_SIZE 0x1000
#define VZ_VIRTIO_MAX_QUEUES 16
#define VZ_VIRTIO_MMIO_NOTIFY 0x50 /* QueueNotify: the ioeventfd doorbell of every queue */

struct vz_virtio_dev;

/* What a device type provides; all callbacks run with the device's lock held. */
struct vz_virtio_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features; /* besides VERSION_1 and EVENT_IDX, which the transport adds */
	uint16_t nqueues;
	uint32_t config_len;
	/* A read-only configuration space of config_len bytes; or, if NULL, config_read. */
	const void *config;
	/* Device configuration space, byte-addressed (fill @data / take it). */
	void (*config_read)(struct vz_virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(struct vz_virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len);
	/* The driver set DRIVER_OK: queues are ready to use. */
	void (*activate)(struct vz_virtio_dev *d);
	/* The driver reset the device: forget per-run state. */
	void (*reset)(struct vz_virtio_dev *d);
	/* A trapped QueueNotify write for queue @q (optional: without it the transport
	 * wakes the queue's kick_fd, as the ioeventfd would have). */
	void (*notify)(struct vz_virtio_dev *d, unsigned q);
};

/* A device's transport state; plain data besides the pointers and descriptors. */
struct vz_virtio_dev {
	const struct vz_virtio_ops *ops;
	void *priv;
	const struct vz_gmem *mem;
	vz_spinlock lock;
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t driver_features;
	uint32_t config_gen;
	volatile uint32_t isr;
	struct vz_vq vq[VZ_VIRTIO_MAX_QUEUES];
	int irq_fd; /* eventfd bound to the device's IRQ (KVM_IRQFD); -1 in tests */
	int kick_fd[VZ_VIRTIO_MAX_QUEUES]; /* ioeventfd of each queue (KVM_IOEVENTFD), or -1 */
};

void vz_virtio_init(struct vz_virtio_dev *d, const struct vz_virtio_ops *ops, void *priv,
		    const struct vz_gmem *mem, int irq_fd);
/* One register access of @len bytes at @off (a vz_dev_ops io handler's body). */
void vz_virtio_mmio_access(struct vz_virtio_dev *d, uint64_t off, uint8_t *data, uint32_t len,
			   bool write);
/* Raise the device's interrupt with ISR bit @why. */
void vz_virtio_interrupt(struct vz_virtio_dev *d, uint32_t why);
/* After pushing to @q: interrupt the driver if it wants one. */
void vz_virtio_queue_done(struct vz_virtio_dev *d, unsigned q);
/* A queue broke a rule: mark the device as needing a reset and tell the driver. */
void vz_virtio_fail(struct vz_virtio_dev *d);
/* Whether the driver has finished initialising (DRIVER_OK) and no reset is pending. */
bool vz_virtio_running(const struct vz_virtio_dev *d);
/* A worker's next chain of queue @qi, with d->lock held: 1 and @e filled, 0 when the
 * queue is empty (notifications re-armed, the race with the driver's next buffer
 * closed) or the device is not running, -1 when the driver broke the queue (the
 * device then needs a reset). */
int vz_virtio_next(struct vz_virtio_dev *d, unsigned qi, struct vz_vq_elem *e);

/* Templates (snapshot.h): copy the transport's state out, under the device's lock, and
 * back into a device set up afresh (same type, its descriptors and memory new). Restore
 * returns -EINVAL if the state is not this device's or a ready queue's rings do not lie
 * in guest RAM. After a restore, vz_virtio_resume raises the interrupt again if the
 * saved state had one pending (an edge raised while saving may be lost). */
struct vz_snap_virtio;
void vz_virtio_save(struct vz_virtio_dev *d, struct vz_snap_virtio *s);
int vz_virtio_restore(struct vz_virtio_dev *d, const struct vz_snap_virtio *s);
void vz_virtio_resume(struct vz_virtio_dev *d);

#endif
