/* SPDX-License-Identifier: MIT */
/* virtio-console, multiport (see console.h). Queue numbering with multiport: port 0
 * receiveq 0 and transmitq 1, control receiveq 2 and transmitq 3, then port N's
 * receiveq 2N+2 and transmitq 2N+3. "Receive" is the guest's view: host -> guest. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kvm/snapshot.h"
#include "kvm/virtio/console.h"

#define F_MULTIPORT (1ull << 1)

enum {
	EV_DEVICE_READY = 0,
	EV_PORT_ADD = 1,
	EV_PORT_READY = 3,
	EV_CONSOLE_PORT = 4,
	EV_PORT_OPEN = 6,
	EV_PORT_NAME = 7,
};

struct ctl {
	uint32_t id;
	uint16_t event, value;
};

#define Q_CTL_RX 2
#define Q_CTL_TX 3

static unsigned rxq(unsigned port)
{
	return port == 0 ? 0 : 2 * port + 2;
}
static unsigned txq(unsigned port)
{
	return rxq(port) + 1;
}

static const char *const port_names[VZ_PORT_COUNT] = VZ_PORT_NAMES;

/* ---- control events, device -> driver ---- */

static void ev_add(struct vz_console *c, uint32_t id, uint16_t event, uint16_t value)
{
	if (c->ev_n >= VZ_CONSOLE_EVQ)
		return; /* cannot happen: at most a few per port are ever outstanding */
	unsigned i = (c->ev_head + c->ev_n++) % VZ_CONSOLE_EVQ;
	c->evq[i].id = id;
	c->evq[i].event = event;
	c->evq[i].value = value;
}

static void ev_flush(struct vz_console *c)
{
	struct vz_virtio_dev *d = &c->vdev;
	struct vz_vq *q = &d->vq[Q_CTL_RX];
	struct vz_vq_elem e;
	bool pushed = false;

	while (c->ev_n) {
		int r = vz_vq_pop(q, d->mem, &e);
		if (r < 0) {
			vz_virtio_fail(d);
			return;
		}
		if (r == 0 && !vz_vq_rearm(q))
			break;
		if (r == 0)
			continue;
		struct ctl m = { c->evq[c->ev_head].id, c->evq[c->ev_head].event,
				 c->evq[c->ev_head].value };
		uint32_t n = (uint32_t)vz_vq_write(&e, 0, &m, sizeof(m));
		if (m.event == EV_PORT_NAME && m.id < VZ_PORT_COUNT) {
			const char *name = port_names[m.id];
			n += (uint32_t)vz_vq_write(&e, sizeof(m), name, strlen(name));
		}
		vz_vq_push(q, e.head, n);
		pushed = true;
		c->ev_head = (c->ev_head + 1) % VZ_CONSOLE_EVQ;
		c->ev_n--;
	}
	if (pushed)
		vz_virtio_queue_done(d, Q_CTL_RX);
}

static void host_open(struct vz_console *c, unsigned port, bool open)
{
	if (c->port[port].host_open == open)
		return;
	c->port[port].host_open = open;
	ev_add(c, port, EV_PORT_OPEN, open);
}

static void ctl_in(struct vz_console *c, const struct ctl *m)
{
	switch (m->event) {
	case EV_DEVICE_READY:
		if (m->value != 1 || c->ports_added)
			break;
		c->ports_added = true;
		for (unsigned p = 0; p < VZ_PORT_COUNT; p++)
			ev_add(c, p, EV_PORT_ADD, 0);
		break;
	case EV_PORT_READY:
		if (m->id >= VZ_PORT_COUNT || m->value != 1)
			break;
		/* Our side of every port is open from the start, stdin's too when there is
		 * none (the job then tells the init not to read it): so a template's guest
		 * has it open, and a VM restored with a stdin needs no event that could
		 * race the init's first read. stdin closes at its end. The open comes
		 * before the name: the guest's driver handles control events in order, so a
		 * port whose name the init sees is already open (a read from a port whose
		 * host side is closed returns end of file). */
		host_open(c, m->id, true);
		ev_add(c, m->id, EV_PORT_NAME, 1);
		break;
	case EV_PORT_OPEN:
		if (m->id < VZ_PORT_COUNT)
			c->port[m->id].guest_open = m->value != 0;
		break;
	default:
		break; /* the rest are driver-bound only, or not used */
	}
}

static void ctl_tx(struct vz_console *c)
{
	struct vz_virtio_dev *d = &c->vdev;
	struct vz_vq *q = &d->vq[Q_CTL_TX];
	struct vz_vq_elem e;
	bool pushed = false;
	int r;

	for (;;) {
		while ((r = vz_vq_pop(q, d->mem, &e)) > 0) {
			struct ctl m;
			if (vz_vq_read(&e, 0, &m, sizeof(m)) == sizeof(m))
				ctl_in(c, &m);
			vz_vq_push(q, e.head, 0);
			pushed = true;
		}
		if (r < 0) {
			vz_virtio_fail(d);
			return;
		}
		if (!vz_vq_rearm(q))
			break;
	}
	if (pushed)
		vz_virtio_queue_done(d, Q_CTL_TX);
}

/* ---- the control port ---- */

/* Host -> guest: the job first, then queued small messages, into the guest's buffers. */
static void control_out(struct vz_console *c)
{
	struct vz_virtio_dev *d = &c->vdev;
	struct vz_vq *q = &d->vq[rxq(VZ_PORT_CONTROL)];
	struct vz_vq_elem e;
	bool pushed = false;

	if (!c->port[VZ_PORT_CONTROL].guest_open)
		return; /* the guest's driver drops data for a port nobody has open */
	while ((c->job && c->job_off < c->job_len) || (c->job_sent && c->out_len)) {
		int r = vz_vq_pop(q, d->mem, &e);
		if (r < 0) {
			vz_virtio_fail(d);
			return;
		}
		if (r == 0) {
			if (vz_vq_rearm(q))
				continue;
			break;
		}
		uint32_t n;
		if (c->job_off < c->job_len) {
			n = (uint32_t)vz_vq_write(&e, 0, c->job + c->job_off, c->job_len - c->job_off);
			c->job_off += n;
			if (c->job_off == c->job_len)
				c->job_sent = true;
		} else {
			n = (uint32_t)vz_vq_write(&e, 0, c->out, c->out_len);
			memmove(c->out, c->out + n, c->out_len - n);
			c->out_len -= n;
		}
		vz_vq_push(q, e.head, n);
		pushed = true;
	}
	if (pushed)
		vz_virtio_queue_done(d, rxq(VZ_PORT_CONTROL));
}

bool vz_console_feed(struct vz_console *c, const uint8_t *buf, uint32_t len)
{
	const uint32_t hsz = sizeof(struct vz_msg_hdr);

	while (len && !c->in_bad) {
		struct vz_msg_hdr h;
		uint32_t want = hsz;

		if (c->in_len >= hsz) {
			memcpy(&h, c->in, hsz);
			want = hsz + h.len;
		}
		uint32_t k = want - c->in_len < len ? want - c->in_len : len;
		memcpy(c->in + c->in_len, buf, k);
		c->in_len += k;
		buf += k;
		len -= k;
		if (c->in_len < hsz)
			break;
		memcpy(&h, c->in, hsz);
		if (h.len > VZ_MSG_GUEST_MAX || h.type < VZ_MSG_BOOTED || h.type > VZ_MSG_EXIT) {
			c->in_bad = true;
			break;
		}
		if (c->in_len == hsz + h.len) {
			c->in_len = 0;
			if (c->on_msg)
				c->on_msg(c, h.type, c->in + hsz, h.len);
		}
	}
	return !c->in_bad;
}

/* Guest -> host: take what the guest sent (under the lock), parse it after. */
static uint32_t control_in(struct vz_console *c, uint8_t *buf, uint32_t cap)
{
	struct vz_virtio_dev *d = &c->vdev;
	struct vz_vq *q = &d->vq[txq(VZ_PORT_CONTROL)];
	struct vz_vq_elem e;
	uint32_t got = 0;
	bool pushed = false;

	/* A whole chain or none: the driver's buffers are at most a page. */
	while (cap - got >= 4096) {
		int r = vz_vq_pop(q, d->mem, &e);
		if (r < 0) {
			vz_virtio_fail(d);
			break;
		}
		if (r == 0) {
			if (vz_vq_rearm(q))
				continue;
			break;
		}
		got += (uint32_t)vz_vq_read(&e, 0, buf + got, cap - got);
		vz_vq_push(q, e.head, 0);
		pushed = true;
	}
	if (pushed)
		vz_virtio_queue_done(d, txq(VZ_PORT_CONTROL));
	return got;
}

/* ---- stdin ---- */

static void stdin_in(struct vz_console *c)
{
	struct vz_virtio_dev *d = &c->vdev;
	struct vz_vq *q = &d->vq[rxq(VZ_PORT_STDIN)];
	struct vz_vq_elem e;
	int r = vz_vq_pop(q, d->mem, &e);

	if (r < 0) {
		vz_virtio_fail(d);
		return;
	}
	if (r == 0)
		return;
	long n = e.nin ? vz_rsys(SYS_readv, c->port[VZ_PORT_STDIN].fd, &e.iov[e.nout], e.nin) : 0;
	if (n == -EINTR || n == -EAGAIN)
		n = 0;
	else if (n <= 0) { /* end of input, or an error treated alike */
		c->in_eof = true;
		host_open(c, VZ_PORT_STDIN, false);
		ev_flush(c);
		n = 0;
	}
	/* A buffer given back empty is harmless: the guest's driver re-adds it. */
	vz_vq_push(q, e.head, (uint32_t)n);
	vz_virtio_queue_done(d, rxq(VZ_PORT_STDIN));
}

/* Whether a buffer for stdin waits (and, if not, ask to be told of the next one). */
static bool stdin_room(struct vz_console *c)
{
	struct vz_vq *q = &c->vdev.vq[rxq(VZ_PORT_STDIN)];
	if (!q->ready || q->broken)
		return false;
	return __atomic_load_n(&q->avail[1], __ATOMIC_ACQUIRE) != q->last_avail || vz_vq_rearm(q);
}

/* ---- output threads ---- */

struct out_arg {
	struct vz_console *c;
	unsigned port;
};
static struct out_arg out_args[VZ_PORT_COUNT];

static void write_all(int fd, const struct iovec *iov, unsigned n)
{
	struct iovec v[VZ_VQ_MAX_SIZE];

	if (fd < 0 || !n)
		return;
	memcpy(v, iov, n * sizeof(*v));
	while (n) {
		long w = vz_rsys(SYS_writev, fd, v, n);
		if (w == -EINTR || w == -EAGAIN) {
			struct timespec ts = { 0, 1000000 };
			vz_rsys(SYS_nanosleep, &ts, 0, 0);
			continue;
		}
		if (w < 0)
			return; /* the reader is gone (EPIPE) or the fd is bad: drop */
		while (n && (size_t)w >= v[0].iov_len) {
			w -= (long)v[0].iov_len;
			memmove(v, v + 1, --n * sizeof(*v));
		}
		if (n) {
			v[0].iov_base = (uint8_t *)v[0].iov_base + w;
			v[0].iov_len -= (size_t)w;
		}
	}
}

static void out_thread(void *arg)
{
	struct out_arg *a = arg;
	struct vz_console *c = a->c;
	struct vz_virtio_dev *d = &c->vdev;
	unsigned qi = txq(a->port);
	struct vz_vq *q = &d->vq[qi];
	int kick = c->vdev.kick_fd[qi];
	static struct vz_vq_elem elems[VZ_PORT_COUNT];
	struct vz_vq_elem *e = &elems[a->port];

	for (;;) {
		uint32_t gen;
		int r;

		vz_spin_lock(&d->lock);
		r = vz_virtio_next(d, qi, e);
		gen = c->gen;
		__atomic_store_n(&c->busy[a->port], r > 0, __ATOMIC_RELEASE);
		vz_spin_unlock(&d->lock);
		if (r <= 0) {
			uint64_t x;
			vz_r_read(kick, &x, sizeof(x));
			continue;
		}
		write_all(c->port[a->port].fd, e->iov, e->nout);
		vz_spin_lock(&d->lock);
		if (gen == c->gen) { /* not reset meanwhile: the chain is still the guest's */
			vz_vq_push(q, e->head, 0);
			vz_virtio_queue_done(d, qi);
		}
		__atomic_store_n(&c->busy[a->port], 0, __ATOMIC_RELEASE);
		vz_spin_unlock(&d->lock);
	}
}

/* ---- the device ---- */

/* struct virtio_console_config: le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr */
static const uint8_t console_config[12] = { [4] = VZ_PORT_COUNT };

static void dev_reset(struct vz_virtio_dev *d)
{
	struct vz_console *c = d->priv;
	c->gen++;
	c->ev_n = c->ev_head = 0;
	c->ports_added = false;
	for (unsigned p = 0; p < VZ_PORT_COUNT; p++)
		c->port[p].guest_open = c->port[p].host_open = false;
}

static const struct vz_virtio_ops console_ops = {
	.name = "virtio-console",
	.device_id = 3,
	.features = F_MULTIPORT,
	.nqueues = VZ_CONSOLE_NQUEUES,
	.config_len = sizeof(console_config),
	.config = console_config,
	.reset = dev_reset,
};

void vz_console_init(struct vz_console *c, const struct vz_gmem *mem, const int fds[3],
		     const uint8_t *job, uint32_t job_len, vz_console_msg_fn on_msg, void *owner)
{
	memset(c, 0, sizeof(*c));
	vz_virtio_init(&c->vdev, &console_ops, c, mem, -1);
	c->port[VZ_PORT_CONTROL].fd = -1;
	c->port[VZ_PORT_STDIN].fd = fds[0];
	c->port[VZ_PORT_STDOUT].fd = fds[1];
	c->port[VZ_PORT_STDERR].fd = fds[2];
	c->in_eof = fds[0] < 0;
	c->job = job;
	c->job_len = job_len;
	c->on_msg = on_msg;
	c->owner = owner;
}

int vz_console_start(struct vz_console *c)
{
	for (unsigned p = VZ_PORT_STDOUT; p <= VZ_PORT_STDERR; p++) {
		c->stack[p] = vz_r_mmap(NULL, VZ_CONSOLE_STACK, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (vz_r_mmap_failed(c->stack[p]))
			return (int)(long)c->stack[p];
		out_args[p] = (struct out_arg){ c, p };
		long r = vz_thread_spawn((char *)c->stack[p] + VZ_CONSOLE_STACK, &c->tid[p], out_thread,
					 &out_args[p]);
		if (r < 0)
			return (int)r;
	}
	return 0;
}

/* Main-loop entries: 0 control receiveq, 1 control transmitq, 2 port 0 receiveq,
 * 3 port 0 transmitq, 4 stdin receiveq, 5 stdin's host fd, 6 stdin transmitq. */
int vz_console_pollfds(struct vz_console *c, struct pollfd *pf)
{
	const int *kick = c->vdev.kick_fd;
	bool want_in;

	vz_spin_lock(&c->vdev.lock);
	want_in = !c->in_eof && c->port[VZ_PORT_STDIN].guest_open && vz_virtio_running(&c->vdev) &&
		  stdin_room(c);
	vz_spin_unlock(&c->vdev.lock);
	pf[0] = (struct pollfd){ .fd = kick[Q_CTL_RX], .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = kick[Q_CTL_TX], .events = POLLIN };
	pf[2] = (struct pollfd){ .fd = kick[rxq(VZ_PORT_CONTROL)], .events = POLLIN };
	pf[3] = (struct pollfd){ .fd = kick[txq(VZ_PORT_CONTROL)], .events = POLLIN };
	pf[4] = (struct pollfd){ .fd = kick[rxq(VZ_PORT_STDIN)], .events = POLLIN };
	pf[5] = (struct pollfd){ .fd = want_in ? c->port[VZ_PORT_STDIN].fd : -1, .events = POLLIN };
	pf[6] = (struct pollfd){ .fd = kick[txq(VZ_PORT_STDIN)], .events = POLLIN };
	return VZ_CONSOLE_POLLFDS;
}

static void discard(struct vz_console *c, unsigned qi)
{
	struct vz_virtio_dev *d = &c->vdev;
	struct vz_vq_elem e;
	bool pushed = false;
	int r;
	while ((r = vz_vq_pop(&d->vq[qi], d->mem, &e)) > 0) {
		vz_vq_push(&d->vq[qi], e.head, 0);
		pushed = true;
	}
	if (r < 0)
		vz_virtio_fail(d);
	if (pushed)
		vz_virtio_queue_done(d, qi);
}

void vz_console_handle(struct vz_console *c, const struct pollfd *pf, int n)
{
	static uint8_t buf[64 * 1024];
	struct vz_virtio_dev *d = &c->vdev;
	uint32_t got = 0;
	uint64_t x;

	for (int i = 0; i < n; i++)
		if (i != 5 && (pf[i].revents & POLLIN))
			vz_r_read(pf[i].fd, &x, sizeof(x));
	vz_spin_lock(&d->lock);
	if (vz_virtio_running(d)) {
		ctl_tx(c);
		ev_flush(c);
		if (c->port[VZ_PORT_CONTROL].guest_open)
			control_out(c);
		got = control_in(c, buf, sizeof(buf));
		discard(c, txq(VZ_PORT_STDIN)); /* nothing is read from the guest on stdin */
		if (pf[5].revents)
			stdin_in(c);
	}
	vz_spin_unlock(&d->lock);
	if (got && !vz_console_feed(c, buf, got) && c->on_msg)
		c->on_msg(c, 0, NULL, 0); /* malformed stream: type 0 tells the owner */
}

void vz_console_signal(struct vz_console *c, int signo)
{
	struct vz_msg_hdr h = { VZ_MSG_SIGNAL, 4 };
	uint32_t s = (uint32_t)signo;

	vz_spin_lock(&c->vdev.lock);
	if (c->out_len + sizeof(h) + 4 <= sizeof(c->out)) {
		memcpy(c->out + c->out_len, &h, sizeof(h));
		memcpy(c->out + c->out_len + sizeof(h), &s, 4);
		c->out_len += sizeof(h) + 4;
	}
	if (vz_virtio_running(&c->vdev))
		control_out(c);
	vz_spin_unlock(&c->vdev.lock);
}

void vz_console_set_job(struct vz_console *c, const uint8_t *job, uint32_t job_len)
{
	vz_spin_lock(&c->vdev.lock);
	if (!c->job) {
		c->job = job;
		c->job_len = job_len;
		c->job_off = 0;
		if (vz_virtio_running(&c->vdev))
			control_out(c);
	}
	vz_spin_unlock(&c->vdev.lock);
}

void vz_console_drain(struct vz_console *c)
{
	struct vz_virtio_dev *d = &c->vdev;

	for (;;) {
		bool idle = true;
		vz_spin_lock(&d->lock);
		for (unsigned p = VZ_PORT_STDOUT; p <= VZ_PORT_STDERR; p++) {
			struct vz_vq *q = &d->vq[txq(p)];
			if (c->busy[p] || (vz_virtio_running(d) && q->ready && !q->broken &&
					   __atomic_load_n(&q->avail[1], __ATOMIC_ACQUIRE) != q->last_avail))
				idle = false;
		}
		vz_spin_unlock(&d->lock);
		if (idle)
			return;
		for (unsigned p = VZ_PORT_STDOUT; p <= VZ_PORT_STDERR; p++) {
			uint64_t one = 1;
			vz_r_write(c->vdev.kick_fd[txq(p)], &one, sizeof(one));
		}
		struct timespec ts = { 0, 200000 };
		vz_rsys(SYS_nanosleep, &ts, 0, 0);
	}
}

void vz_console_save(struct vz_console *c, struct vz_snap_console *s)
{
	memset(s, 0, sizeof(*s));
	vz_spin_lock(&c->vdev.lock);
	for (unsigned p = 0; p < VZ_PORT_COUNT; p++) {
		s->guest_open[p] = c->port[p].guest_open;
		s->host_open[p] = c->port[p].host_open;
	}
	s->ports_added = c->ports_added;
	s->in_eof = c->in_eof;
	s->ev_head = c->ev_head;
	s->ev_n = c->ev_n;
	for (unsigned i = 0; i < VZ_CONSOLE_EVQ; i++) {
		s->evq[i].id = c->evq[i].id;
		s->evq[i].event = c->evq[i].event;
		s->evq[i].value = c->evq[i].value;
	}
	vz_spin_unlock(&c->vdev.lock);
}

int vz_console_restore(struct vz_console *c, const struct vz_snap_console *s)
{
	if (s->ev_head >= VZ_CONSOLE_EVQ || s->ev_n > VZ_CONSOLE_EVQ)
		return -EINVAL;
	vz_spin_lock(&c->vdev.lock);
	for (unsigned p = 0; p < VZ_PORT_COUNT; p++) {
		c->port[p].guest_open = s->guest_open[p];
		c->port[p].host_open = s->host_open[p];
	}
	c->ports_added = s->ports_added;
	c->ev_head = s->ev_head;
	c->ev_n = s->ev_n;
	for (unsigned i = 0; i < VZ_CONSOLE_EVQ; i++) {
		c->evq[i].id = s->evq[i].id;
		c->evq[i].event = s->evq[i].event;
		c->evq[i].value = s->evq[i].value;
	}
	/* A template's stdin is open (see EV_PORT_READY) and stays so: this start's job
	 * says whether the init reads it. */
	vz_spin_unlock(&c->vdev.lock);
	return 0;
}

void vz_console_resume(struct vz_console *c)
{
	vz_spin_lock(&c->vdev.lock);
	if (vz_virtio_running(&c->vdev)) {
		ev_flush(c);
		control_out(c);
	}
	vz_spin_unlock(&c->vdev.lock);
	vz_virtio_resume(&c->vdev);
}
