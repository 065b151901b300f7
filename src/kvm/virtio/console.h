/* SPDX-License-Identifier: MIT */
/* virtio-console with multiport [virtio 1.2 section 5.3]: the guest init's control
 * channel and the workload's stdin, stdout and stderr (ports in guest/abi.h).
 *
 * Threads: the VMM's main thread serves the control queues, the control port and stdin
 * (vz_console_pollfds / vz_console_handle in its poll loop); one bare thread per output
 * stream takes the guest's buffers and writes them to the host with blocking writes, so
 * a host that stops reading leaves the guest's buffers unreturned and the writer in the
 * guest blocks: nothing is dropped and nothing piles up in the VMM. vCPU threads touch
 * only the transport's registers. Everything holds the device's lock while it touches
 * queue state, and no lock while it waits on the host. */
#ifndef VZ_KVM_VIRTIO_CONSOLE_H
#define VZ_KVM_VIRTIO_CONSOLE_H

#include <poll.h>

#include "kvm/devmgr.h"
#include "kvm/guest/abi.h"
#include "kvm/virtio/virtio.h"

#define VZ_CONSOLE_NQUEUES (2 * (VZ_PORT_COUNT + 1))
#define VZ_CONSOLE_POLLFDS 7
#define VZ_CONSOLE_EVQ 32
#define VZ_CONSOLE_STACK (64 * 1024)

struct vz_console;

/* A complete control message from the guest (main thread, no lock held). */
typedef void (*vz_console_msg_fn)(struct vz_console *c, uint32_t type, const uint8_t *body,
				  uint32_t len);

struct vz_console {
	struct vz_virtio_dev vdev;
	struct vz_devrun run;
	vz_console_msg_fn on_msg;
	void *owner;
	struct {
		int fd;		/* host side: the stream's fd (-1: none) */
		bool guest_open; /* the guest has the port open */
		bool host_open;	 /* we told the guest our side is open */
	} port[VZ_PORT_COUNT];
	/* device -> driver control events waiting for a buffer in the control receiveq */
	struct {
		uint32_t id;
		uint16_t event, value;
	} evq[VZ_CONSOLE_EVQ];
	unsigned ev_head, ev_n;
	bool ports_added;
	/* host -> guest on the control port: the job, then small messages */
	const uint8_t *job;
	uint32_t job_len, job_off;
	bool job_sent;
	uint8_t out[4096];
	uint32_t out_len;
	/* guest -> host on the control port: bytes of the message being assembled */
	uint8_t in[sizeof(struct vz_msg_hdr) + VZ_MSG_GUEST_MAX];
	uint32_t in_len;
	bool in_bad;
	/* stdin */
	bool in_eof;
	/* output threads */
	volatile int busy[VZ_PORT_COUNT];
	volatile uint32_t gen; /* bumped at every device reset */
	void *stack[VZ_PORT_COUNT];
	volatile int tid[VZ_PORT_COUNT];
};

/* Set up the device over guest memory @mem. @fds are the host ends of stdin, stdout and
 * stderr (-1: none); @job is sent once the guest opens the control port (it must stay
 * valid; NULL: later, through vz_console_set_job). @on_msg receives the guest's control messages. */
void vz_console_init(struct vz_console *c, const struct vz_gmem *mem, const int fds[3],
		     const uint8_t *job, uint32_t job_len, vz_console_msg_fn on_msg, void *owner);
/* Start the output threads (after vz_devmgr_attach). Returns 0 or -errno. */
int vz_console_start(struct vz_console *c);
/* Fill up to VZ_CONSOLE_POLLFDS entries of @pf for the main loop; returns how many. */
int vz_console_pollfds(struct vz_console *c, struct pollfd *pf);
/* Serve what the poll found (the same entries, after poll). */
void vz_console_handle(struct vz_console *c, const struct pollfd *pf, int n);
/* A console set up with no job (a prepared VM): send @job now (main thread). Once. */
void vz_console_set_job(struct vz_console *c, const uint8_t *job, uint32_t job_len);
/* Queue a signal for the workload (main thread). */
void vz_console_signal(struct vz_console *c, int signo);
/* Wait until the guest's output buffers queued so far have reached the host. */
void vz_console_drain(struct vz_console *c);

/* Templates (snapshot.h). Save: the ports' and control events' state, with the lock
 * held (the transport is saved separately). Restore, into a console set up afresh with
 * this start's streams: the guest's view is the template's, but whether stdin is open
 * is this start's (an event tells the guest if it differs). Returns 0 or -EINVAL.
 * Resume, once the VM's state is back: deliver queued control events and raise a
 * pending interrupt again. */
struct vz_snap_console;
void vz_console_save(struct vz_console *c, struct vz_snap_console *s);
int vz_console_restore(struct vz_console *c, const struct vz_snap_console *s);
void vz_console_resume(struct vz_console *c);

/* The control message parser, alone (for the fuzz target): feed @len bytes of the
 * guest's control stream; complete messages go to c->on_msg. Returns false once the
 * stream is malformed (an unknown type or an oversized message): the caller ends the VM. */
bool vz_console_feed(struct vz_console *c, const uint8_t *buf, uint32_t len);

#endif
