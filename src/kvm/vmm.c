/* SPDX-License-Identifier: MIT */
/* The VMM's run time, in the supervised child [kvmtool kvm-cpu.c; Firecracker vstate]:
 * create the VM and its vCPUs, load the guest, run one bare thread per vCPU, and end
 * the process as soon as the guest reports its workload's end, resets, or faults. The
 * main thread relays stdin and forwarded signals and watches the lifeline.
 *
 * Nothing here allocates from libc (see sys.h). Reports to the host go over the same
 * channels as the container backend's: phase marks and set-up errors on the sync pipe
 * until the workload runs (READY), the final outcome on the status socket. */
#include <errno.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <linux/futex.h>

#include <vz/error.h>
#include <vz/sandbox.h>

#include "common/ipc.h"
#include "common/util.h"
#include "kvm/guest/abi.h"
#include "kvm/snapshot.h"
#include "kvm/template.h"
#include "kvm/virtio/console.h"
#include "kvm/virtio/fs.h"
#include "kvm/vmm.h"

#define COM1 0x3f8

struct vz_vmm {
	struct vz_vm vm;
	const struct vz_kvm_plan *plan;
	struct vz_uart uart; /* the kernel console (crash text) */
	struct vz_console con; /* stdio and the control channel */
	struct vz_fs_dev fs;   /* the shares */
	char console_ring[VZ_UART_RING];
	int sync_fd, status_fd;
	volatile int ready;  /* the workload runs; sync_fd is closed */
	int awaiting_go;     /* prepared: booted, the job held until the host's VZ_IPC_GO */
	int saved;	     /* the template was written (or could not be) */
	uint64_t deadline_ns; /* wall-time limit (CLOCK_MONOTONIC), 0: none */
	volatile int ending; /* first ender wins */
};

static struct vz_vmm *g_vmm; /* this process's only VMM (the child is single-purpose) */
static int g_proc_fd = -1;   /* /proc/self/fd, kept from before vz_vmm_isolate() */
static int g_pagemap_fd = -1; /* /proc/self/pagemap, the same, when saving a template */

static long write_str(const char *path, const char *s)
{
	long fd = vz_r_open(path, O_WRONLY | O_CLOEXEC), n;
	if (fd < 0)
		return fd;
	n = vz_r_write((int)fd, s, strlen(s));
	vz_r_close((int)fd);
	return n < 0 ? n : 0;
}

/* "ID ID 1": keep this one identity inside a new user namespace. */
static long map_self(const char *path, unsigned id)
{
	char line[60], num[24];
	vz_utoa(num, id);
	line[0] = '\0';
	vz_strlcat(line, num, sizeof(line));
	vz_strlcat(line, " ", sizeof(line));
	vz_strlcat(line, num, sizeof(line));
	vz_strlcat(line, " 1\n", sizeof(line));
	return write_str(path, line);
}

/* The file server holds a descriptor per file the guest knows: as many as the kernel
 * allows (fs.nr_open), or at least the hard limit (raising it needs CAP_SYS_RESOURCE). */
static void raise_nofile(void)
{
	struct rlimit64 {
		uint64_t cur, max;
	} now, want;
	char buf[24] = "";
	long fd = vz_r_open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC), n = -1;
	uint64_t nr_open = 0;

	if (fd >= 0) {
		n = vz_r_read((int)fd, buf, sizeof(buf) - 1);
		vz_r_close((int)fd);
	}
	for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		nr_open = nr_open * 10 + (uint64_t)(buf[i] - '0');
	if (vz_rsys6(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&now, 0, 0) < 0)
		return;
	want.cur = want.max = nr_open > now.max ? nr_open : now.max;
	if (vz_rsys6(SYS_prlimit64, 0, RLIMIT_NOFILE, (long)&want, 0, 0, 0) < 0) {
		want.cur = want.max = now.max;
		vz_rsys6(SYS_prlimit64, 0, RLIMIT_NOFILE, (long)&want, 0, 0, 0);
	}
}

int vz_vmm_isolate(void)
{
	unsigned uid = (unsigned)vz_rsys(SYS_geteuid, 0, 0, 0), gid = (unsigned)vz_rsys(SYS_getegid, 0, 0, 0);
	long r;

	raise_nofile();
	/* Kept open: the FUSE server reopens the shares' files through it. */
	r = vz_r_open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r < 0)
		return (int)r;
	g_proc_fd = (int)r;
	/* For a template's memory file: which guest pages exist, swapped out or not. */
	r = vz_r_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	g_pagemap_fd = r >= 0 ? (int)r : -1;
	/* A mount namespace of our own; an unprivileged VMM gets one inside a user
	 * namespace that keeps its identity. */
	r = vz_rsys(SYS_unshare, CLONE_NEWNS, 0, 0);
	if (r == -EPERM) {
		if ((r = vz_rsys(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS, 0, 0)) < 0 ||
		    (r = write_str("/proc/self/setgroups", "deny")) < 0 ||
		    (r = map_self("/proc/self/uid_map", uid)) < 0 || (r = map_self("/proc/self/gid_map", gid)) < 0)
			return (int)r;
	}
	if (r < 0)
		return (int)r;
	if ((r = vz_rsys6(SYS_mount, 0, (long)"/", 0, MS_REC | MS_PRIVATE, 0, 0)) < 0)
		return (int)r;
	/* The root becomes an empty, read-only tmpfs: no path leads to the host's files any
	 * more; the shares, /dev/kvm and the streams are reached through descriptors only.
	 * The tmpfs is mounted on /proc (which exists: it was just opened) and pivoted to
	 * (pivot_root(".", ".") stacks the old root on it, and the detach drops it). */
	if ((r = vz_rsys6(SYS_mount, (long)"vz-vmm", (long)"/proc", (long)"tmpfs",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC, (long)"size=4k,mode=0555", 0)) < 0 ||
	    (r = vz_rsys(SYS_chdir, "/proc", 0, 0)) < 0 || (r = vz_rsys(SYS_pivot_root, ".", ".", 0)) < 0 ||
	    (r = vz_rsys(SYS_umount2, ".", MNT_DETACH, 0)) < 0 || (r = vz_rsys(SYS_chdir, "/", 0, 0)) < 0)
		return (int)r;
	vz_rsys6(SYS_mount, 0, (long)"/", 0, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0);
	/* Files the guest makes get the modes it asked for, not filtered by our umask. */
	vz_rsys(SYS_umask, 0, 0, 0);
	return 0;
}

/* Phase marks and set-up errors go over the sync pipe until the workload runs. */
static void send_phase(struct vz_vmm *v, const char *name)
{
	if (!v->ready)
		vz_ipc_phase(v->sync_fd, name);
}

/* The tail of the kernel console: from the guest init's last words or "Kernel panic" if
 * there are any. */
static void console_tail(struct vz_vmm *v, char *out, size_t len)
{
	struct vz_uart *c = &v->uart;
	uint64_t n = c->ring_pos < VZ_UART_RING ? c->ring_pos : VZ_UART_RING;
	uint64_t start = c->ring_pos - n;
	char buf[VZ_UART_RING + 1];
	char *p;

	for (uint64_t i = 0; i < n; i++)
		buf[i] = v->console_ring[(start + i) % VZ_UART_RING];
	buf[n] = '\0';
	/* The guest init's own last words, when it could not reach the VMM otherwise. */
	p = strstr(buf, "vz-guest-init:");
	if (!p)
		p = strstr(buf, "Kernel panic");
	if (!p) {
		size_t keep = len > 1 ? len - 1 : 0;
		p = n > keep ? buf + n - keep : buf;
	}
	out[0] = '\0';
	vz_strlcat(out, p, len);
	/* One line is easier to read in an error message. */
	for (char *q = out; *q; q++)
		if (*q == '\r' || *q == '\n')
			*q = ' ';
}

static void freeze(struct vz_vmm *v);

void vz_vm_end(struct vz_vm *vm, enum vz_vm_end why, const char *text)
{
	struct vz_vmm *v = (struct vz_vmm *)vm;
	char tail[320], msg[sizeof(((struct vz_ipc_msg *)0)->text)] = "";

	if (__atomic_exchange_n(&v->ending, 1, __ATOMIC_ACQ_REL)) {
		/* Another thread is ending the VM and calls exit_group. A vCPU waits here as
		 * a paused one, so the ender's freeze does not wait for it. */
		int tid = (int)vz_r_gettid();
		for (int i = 0; i < vm->nvcpus; i++)
			if (vm->vcpus[i].tid == tid) {
				__atomic_add_fetch(&vm->paused, 1, __ATOMIC_ACQ_REL);
				vz_rsys6(SYS_futex, (long)&vm->paused, FUTEX_WAKE, 1, 0, 0, 0);
			}
		for (;;)
			vz_rsys(SYS_pause, 0, 0, 0);
	}
	if (v->ready)
		freeze(v);
	vz_uart_flush(&v->uart);
	console_tail(v, tail, sizeof(tail));
	if (!v->ready && why != VZ_VM_END_ERROR)
		vz_strlcat(msg, "the guest failed while booting: ", sizeof(msg));
	vz_strlcat(msg, text, sizeof(msg));
	if (tail[0] && why != VZ_VM_END_ERROR) {
		vz_strlcat(msg, v->ready ? ": " : "; console: ", sizeof(msg));
		vz_strlcat(msg, tail, sizeof(msg));
	}
	if (!v->ready)
		vz_ipc_error(v->sync_fd, why == VZ_VM_END_ERROR ? VZ_ERROR : VZ_EGUEST, 0, msg, NULL, NULL);
	else
		vz_ipc_exit(v->status_fd, VZ_REASON_CRASHED, 0, msg);
	vz_r_exit_group(why == VZ_VM_END_ERROR ? 126 : 0);
}

static int32_t le32_at(const uint8_t *b, uint32_t len, uint32_t off)
{
	int32_t v = 0;
	if (off + 4 <= len)
		memcpy(&v, b + off, 4);
	return v;
}

/* The text of an ERROR or EXIT message (after its two numbers), NUL-terminated. */
static void msg_text(const uint8_t *b, uint32_t len, char *out, size_t cap)
{
	uint32_t n = len > 8 ? len - 8 : 0;
	if (n > cap - 1)
		n = (uint32_t)cap - 1;
	if (n)
		memcpy(out, b + 8, n);
	out[n] = '\0';
	for (uint32_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = ' ';
}

/* Send the job, with the wall clock as of now in its time record (guest/abi.h). */
static void send_job(struct vz_vmm *v)
{
	uint8_t *job = (uint8_t *)v->plan->job; /* this process's own copy */
	struct timespec now;
	char num[24];

	if (v->plan->job_len >= VZ_JOB_TIME_OFF + sizeof(VZ_JOB_TIME_BLANK) - 1 &&
	    vz_rsys(SYS_clock_gettime, CLOCK_REALTIME, &now, 0) == 0) {
		char *t = (char *)job + VZ_JOB_TIME_OFF;
		size_t n = strlen(vz_utoa(num, (uint64_t)now.tv_sec));
		if (n <= 10)
			memcpy(t + 10 - n, num, n);
		n = strlen(vz_utoa(num, (uint64_t)now.tv_nsec));
		if (n <= 9)
			memcpy(t + 11 + 9 - n, num, n);
	}
	vz_console_set_job(&v->con, job, v->plan->job_len);
}

/* The guest init waits for its job: a prepared VM (or a template's) tells the host and
 * waits for the go (main_loop reads it); any other gets its job now. */
static void booted(struct vz_vmm *v)
{
	if (v->con.job || v->awaiting_go)
		return;
	if (v->plan->prepare) {
		struct vz_ipc_msg prepared = { .type = VZ_IPC_PREPARED };
		vz_ipc_send(v->sync_fd, &prepared);
		v->awaiting_go = 1;
	} else {
		send_job(v);
	}
}

/* Stop every vCPU outside KVM_RUN (they wait in vcpu_loop), or resume them. Returns
 * whether all stopped within a second: a vCPU thread blocked outside KVM_RUN (in a
 * device's blocking write, say) cannot be kicked. A vCPU calling this stops the others
 * (it is ending the VM). */
static bool pause_vcpus(struct vz_vm *vm, bool pause)
{
	int self = 0, tid = (int)vz_r_gettid();

	if (!pause) {
		__atomic_store_n(&vm->pause_req, 0, __ATOMIC_RELEASE);
		vz_rsys6(SYS_futex, (long)&vm->pause_req, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
		return true;
	}
	__atomic_store_n(&vm->pause_req, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].tid == tid)
			self = 1;
		else
			vz_r_tgkill((int)vz_r_getpid(), vm->vcpus[i].tid, VZ_VCPU_KICK_SIG);
	}
	for (int waited = 0; waited < 1000; waited++) {
		int n = __atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE);
		if (n >= vm->nvcpus - self)
			return true;
		struct timespec ts = { 0, 1000000 };
		vz_rsys6(SYS_futex, (long)&vm->paused, FUTEX_WAIT, n, (long)&ts, 0, 0);
	}
	return false;
}

/* Before the final report: no vCPU runs and the file server has answered everything
 * the guest asked, so once the host has the report nothing of the sandbox runs (no
 * late write into a bind); the VMM's own exit (the VM's teardown) comes after, off the
 * caller's path (backend final_report). Bounded (a second for the vCPUs, two for the
 * file server): a VMM that cannot stop its guest reports anyway, then exits. */
static void freeze(struct vz_vmm *v)
{
	pause_vcpus(&v->vm, true);
	for (int i = 0; i < 20000 && !vz_fs_idle(&v->fs); i++) {
		struct timespec ts = { 0, 100000 };
		vz_rsys(SYS_nanosleep, &ts, 0, 0);
	}
}

/* The files the host opened for the template: closed once written (or not), before the
 * guest runs on, so nothing the guest might make the VMM do can reach them again. */
static void close_template_files(struct vz_vmm *v)
{
	vz_r_close(v->plan->snap_state_fd);
	vz_r_close(v->plan->snap_mem_fd);
}

/* The virtio transport of the device in table slot @i. */
static struct vz_virtio_dev *slot_dev(struct vz_vmm *v, int i)
{
	return v->plan->devtab.slot[i].type == VZ_DEV_CONSOLE ? &v->con.vdev : &v->fs.vdev;
}

/* Write the template (snapshot.h): the VM stopped, its state and memory into the files
 * the host opened; the host checks and publishes them. When KVM refuses a state call,
 * the reason is written instead of the state, and the host marks such VMs as not
 * savable on this host; any other failure (a full disk) leaves the files empty. */
static void save_template(struct vz_vmm *v)
{
	const struct vz_kvm_plan *p = v->plan;
	struct vz_snap_buf b = { .cap = VZ_SNAP_PAYLOAD_MAX };
	char why[200] = "";
	bool kvm_refused = false;
	long r = 0;

	b.p = vz_r_mmap(NULL, b.cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vz_r_mmap_failed(b.p)) {
		b.p = NULL;
		goto failed;
	}
	if (!pause_vcpus(&v->vm, true))
		goto resume_failed;
	if (vz_vstate_save(&v->vm, &b, why, sizeof(why)) < 0) {
		kvm_refused = true;
		goto resume_failed;
	}
	for (int i = 0; i < p->devtab.n; i++) {
		struct vz_snap_virtio *sv = vz_snap_append(&b, VZ_SNAP_VIRTIO, sizeof(*sv));
		if (sv)
			vz_virtio_save(slot_dev(v, i), sv);
	}
	struct vz_snap_console *sc = vz_snap_append(&b, VZ_SNAP_CONSOLE, sizeof(*sc));
	struct vz_snap_uart *su = vz_snap_append(&b, VZ_SNAP_UART, sizeof(*su));
	if (sc)
		vz_console_save(&v->con, sc);
	if (su)
		vz_uart_save(&v->uart, su);
	if (!sc || !su || !vz_snap_append(&b, VZ_SNAP_END, 0))
		goto resume_failed;
	r = vz_vstate_save_memory(&v->vm, p->snap_mem_fd, g_pagemap_fd);
	for (size_t done = 0; r >= 0 && done < b.len;) {
		r = vz_rsys6(SYS_pwrite64, p->snap_state_fd, (long)(b.p + done), (long)(b.len - done),
			     (long)(VZ_SNAP_PAYLOAD_OFF + done), 0, 0);
		if (r == -EINTR)
			r = 0;
		else if (r == 0)
			r = -EIO;
		else if (r > 0)
			done += (size_t)r;
	}
	if (r < 0)
		goto resume_failed;
	vz_rsys(SYS_ftruncate, p->snap_state_fd, VZ_SNAP_PAYLOAD_OFF + b.len, 0);
	close_template_files(v);
	pause_vcpus(&v->vm, false);
	vz_r_munmap(b.p, b.cap);
	return;
resume_failed:
	vz_rsys(SYS_ftruncate, p->snap_mem_fd, 0, 0);
	vz_rsys(SYS_ftruncate, p->snap_state_fd, 0, 0);
	if (kvm_refused) {
		char rec[8 + sizeof(why)];
		size_t n = strlen(why);
		memcpy(rec, VZ_SNAP_FAIL_MAGIC, 8);
		memcpy(rec + 8, why, n);
		vz_rsys6(SYS_pwrite64, p->snap_state_fd, (long)rec, (long)(8 + n), VZ_SNAP_PAYLOAD_OFF, 0, 0);
	}
	close_template_files(v);
	pause_vcpus(&v->vm, false);
	vz_r_munmap(b.p, b.cap);
	return;
failed:
	vz_rsys(SYS_ftruncate, p->snap_mem_fd, 0, 0);
	vz_rsys(SYS_ftruncate, p->snap_state_fd, 0, 0);
	close_template_files(v);
}

/* Control messages from the guest init (main thread). */
static void on_msg(struct vz_console *con, uint32_t type, const uint8_t *b, uint32_t len)
{
	struct vz_vmm *v = con->owner;
	struct vz_ipc_msg ready = { .type = VZ_IPC_READY };
	char text[VZ_MSG_TEXT_MAX + 1];
	int32_t v1 = le32_at(b, len, 0), v2 = le32_at(b, len, 4);

	switch (type) {
	case VZ_MSG_BOOTED:
		send_phase(v, "boot");
		if (v->plan->snap_state_fd >= 0 && !v->saved) {
			v->saved = 1;
			save_template(v);
			send_phase(v, "snapshot");
		}
		booted(v);
		break;
	case VZ_MSG_EXEC:
		if (v->ready)
			break;
		send_phase(v, "init");
		vz_ipc_send(v->sync_fd, &ready);
		vz_r_close(v->sync_fd);
		v->sync_fd = -1;
		__atomic_store_n(&v->ready, 1, __ATOMIC_RELEASE);
		break;
	case VZ_MSG_ERROR:
		msg_text(b, len, text, sizeof(text));
		if (__atomic_exchange_n(&v->ending, 1, __ATOMIC_ACQ_REL))
			break;
		if (v->ready) { /* too late for an error: report it as the sandbox's end */
			freeze(v);
			vz_ipc_exit(v->status_fd, VZ_REASON_CRASHED, 0, text);
		}
		else
			vz_ipc_error(v->sync_fd, v1 < 0 && v1 >= VZ_ECHILD ? v1 : VZ_ECHILD, v2, text,
				     NULL, NULL);
		vz_r_exit_group(0);
		break;
	case VZ_MSG_EXIT:
		msg_text(b, len, text, sizeof(text));
		/* Everything the workload wrote reaches the host before its status. */
		vz_console_drain(&v->con);
		if (__atomic_exchange_n(&v->ending, 1, __ATOMIC_ACQ_REL))
			break;
		freeze(v);
		vz_uart_flush(&v->uart);
		vz_ipc_exit(v->status_fd,
			    v1 == VZ_REASON_EXITED || v1 == VZ_REASON_SIGNALED ||
					    v1 == VZ_REASON_OUT_OF_MEMORY ? v1 : VZ_REASON_CRASHED,
			    v2 >= 0 && v2 < 256 ? v2 : 255, text);
		vz_r_exit_group(0);
		break;
	default:
		vz_vm_end(&v->vm, VZ_VM_END_SHUTDOWN,
			  "the guest broke libvz's control protocol (malformed message)");
	}
}

/* ---- vCPU threads ---- */

static void handle_io(struct vz_vcpu *c)
{
	struct kvm_run *r = c->run;
	uint64_t off = r->io.data_offset;
	uint32_t size = r->io.size, count = r->io.count;

	/* KVM fills these, but the run page is shared memory: check before use. */
	if (size == 0 || size > 8 || off > c->run_size || (uint64_t)size * count > c->run_size - off)
		return;
	for (uint32_t i = 0; i < count; i++)
		vz_bus_access(&c->vm->pio, c, r->io.port, (uint8_t *)r + off + (uint64_t)i * size, size,
			      r->io.direction == KVM_EXIT_IO_OUT);
}

static void hex(char *out, size_t len, const char *label, uint64_t v, int digits)
{
	char b[24];
	int n = 0;
	vz_strlcat(out, label, len);
	for (int i = digits - 1; i >= 0; i--)
		b[n++] = "0123456789abcdef"[(v >> (i * 4)) & 0xf];
	b[n] = '\0';
	vz_strlcat(out, b, len);
}

/* Finish, in the VMM, what the host's instruction emulator refuses (kvm_pvm emulates
 * guest kernel mode and fails on a few instructions, DESIGN.md section 4). Returns true
 * if the guest can go on. Only instructions whose effect the VMM can give exactly:
 *   fwait (9b): waits for pending x87 exceptions; Linux runs it in kernel mode only to
 *     discard a task's delayed ones at exec (fpu__drop), so completing it means
 *     stepping over it;
 *   int3 (cc): raise #BP as the CPU would, with the return address after it. */
static bool complete_emulation(struct vz_vcpu *c)
{
	struct kvm_run *r = c->run;
	struct kvm_regs regs = { 0 };
	uint8_t op;

	if (r->internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    !(r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) ||
	    r->emulation_failure.insn_size < 1 || vz_r_ioctl(c->fd, KVM_GET_REGS, &regs) < 0)
		return false;
	op = r->emulation_failure.insn_bytes[0];
	if (op == 0x9b) {
		regs.rip += 1;
		return vz_r_ioctl(c->fd, KVM_SET_REGS, &regs) == 0;
	}
	if (op == 0xcc) {
		struct kvm_vcpu_events ev;
		if (vz_r_ioctl(c->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return false;
		regs.rip += 1;
		ev.exception.injected = 1;
		ev.exception.nr = 3; /* #BP */
		ev.exception.has_error_code = 0;
		ev.flags = 0;
		return vz_r_ioctl(c->fd, KVM_SET_REGS, &regs) == 0 &&
		       vz_r_ioctl(c->fd, KVM_SET_VCPU_EVENTS, &ev) == 0;
	}
	return false;
}

/* KVM gave up on the guest: say where, so a guest kernel problem can be traced. */
static void internal_error(struct vz_vcpu *c)
{
	struct kvm_run *r = c->run;
	struct kvm_regs regs = { 0 };
	char text[256] = "";

	vz_strlcat(text, r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				 ? "KVM could not emulate a guest instruction"
				 : "KVM internal error", sizeof(text));
	if (vz_r_ioctl(c->fd, KVM_GET_REGS, &regs) == 0)
		hex(text, sizeof(text), " at rip 0x", regs.rip, 16);
	if (r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		vz_strlcat(text, ", bytes", sizeof(text));
		for (unsigned i = 0; i < r->emulation_failure.insn_size && i < 15; i++)
			hex(text, sizeof(text), " ", r->emulation_failure.insn_bytes[i], 2);
	}
	vz_vm_end(c->vm, VZ_VM_END_SHUTDOWN, text);
}

/* Out of KVM_RUN by a signal: take the kick signal (it stays pending otherwise, and
 * KVM_RUN would return at once forever), and wait here while a pause is asked for. */
static void kicked(struct vz_vcpu *c)
{
	struct vz_vm *vm = c->vm;
	uint64_t set = 1ull << (VZ_VCPU_KICK_SIG - 1);
	struct timespec zero = { 0, 0 };

	while (vz_rsys6(SYS_rt_sigtimedwait, (long)&set, 0, (long)&zero, 8, 0, 0) == VZ_VCPU_KICK_SIG)
		;
	if (!__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE))
		return;
	__atomic_add_fetch(&vm->paused, 1, __ATOMIC_ACQ_REL);
	vz_rsys6(SYS_futex, (long)&vm->paused, FUTEX_WAKE, 1, 0, 0, 0);
	while (__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE))
		vz_rsys6(SYS_futex, (long)&vm->pause_req, FUTEX_WAIT, 1, 0, 0, 0);
	__atomic_sub_fetch(&vm->paused, 1, __ATOMIC_ACQ_REL);
}

static void vcpu_loop(void *arg)
{
	struct vz_vcpu *c = arg;
	struct vz_vm *vm = c->vm;

	for (;;) {
		long rc = vz_r_ioctl_val(c->fd, KVM_RUN, 0);
		struct kvm_run *r = c->run;

		if (rc < 0) {
			if (rc == -EINTR)
				kicked(c);
			if (rc == -EINTR || rc == -EAGAIN)
				continue;
			vz_vm_end(vm, VZ_VM_END_ERROR, "KVM_RUN failed");
		}
		switch (r->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(c);
			break;
		case KVM_EXIT_MMIO:
			if (r->mmio.len <= 8)
				vz_bus_access(&vm->mmio, c, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
					      r->mmio.is_write);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			vz_vm_end(vm, VZ_VM_END_SHUTDOWN, "the guest stopped with a triple fault");
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			vz_vm_end(vm, VZ_VM_END_RESET, "the guest reset the machine");
			break;
		case KVM_EXIT_HLT:
			vz_vm_end(vm, VZ_VM_END_SHUTDOWN, "the guest halted");
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			if (!complete_emulation(c))
				internal_error(c);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			vz_vm_end(vm, VZ_VM_END_ERROR, "KVM could not enter the guest (bad vCPU state)");
			break;
		default:
			vz_vm_end(vm, VZ_VM_END_SHUTDOWN, "unexpected KVM exit");
			break;
		}
	}
}

/* ---- set-up ---- */

static int fail(struct vz_vmm *v, long err, const char *what)
{
	vz_ipc_error(v->sync_fd, VZ_ERROR, (int)-err, what, NULL, NULL);
	return 126;
}

static int create_vm(struct vz_vmm *v)
{
	const struct vz_kvm_plan *p = v->plan;
	struct vz_vm *vm = &v->vm;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = 0xfffbc000;
	long r;

	vm->kvm_fd = p->kvm_fd;
	vm->host = p->host;
	vm->ram_size = p->ram_size;
	vm->low_size = p->ram_size < VZ_MMIO_HOLE_START ? p->ram_size : VZ_MMIO_HOLE_START;
	vm->high_size = p->ram_size - vm->low_size;
	if ((r = vz_r_ioctl_val(p->kvm_fd, KVM_CREATE_VM, 0)) < 0)
		return fail(v, r, "KVM_CREATE_VM");
	vm->vm_fd = (int)r;
	/* Only VMX needs these two pages; elsewhere the calls may be refused harmlessly. */
	r = vz_r_ioctl_val(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000);
	if (r < 0 && p->host == VZ_KVM_HOST_VMX)
		return fail(v, r, "KVM_SET_TSS_ADDR");
	r = vz_r_ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (r < 0 && p->host == VZ_KVM_HOST_VMX)
		return fail(v, r, "KVM_SET_IDENTITY_MAP_ADDR");
	if ((r = vz_r_ioctl_val(vm->vm_fd, KVM_CREATE_IRQCHIP, 0)) < 0)
		return fail(v, r, "KVM_CREATE_IRQCHIP");
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) < 0)
		return fail(v, r, "KVM_CREATE_PIT2");
	/* Guest RAM: reserved, not committed; pages appear as the guest touches them. A
	 * restored VM maps the template's memory file copy-on-write: its pages are read as
	 * the guest touches them and shared with every VM of the template until written. */
	if (p->restore)
		vm->ram = vz_r_mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
				    p->restore_mem_fd, 0);
	else
		vm->ram = vz_r_mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vz_r_mmap_failed(vm->ram))
		return fail(v, (long)vm->ram, "mmap guest RAM");
	vm->mem.r[0].gpa = 0;
	vm->mem.r[0].len = vm->low_size;
	vm->mem.r[0].host = vm->ram;
	vm->mem.r[1].gpa = VZ_HIGH_RAM_START;
	vm->mem.r[1].len = vm->high_size;
	vm->mem.r[1].host = vm->ram + vm->low_size;
	vm->mem.n = vm->high_size ? 2 : 1;
	struct kvm_userspace_memory_region low = { .slot = 0, .guest_phys_addr = 0,
						   .memory_size = vm->low_size,
						   .userspace_addr = (uint64_t)(uintptr_t)vm->ram };
	if ((r = vz_r_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &low)) < 0)
		return fail(v, r, "KVM_SET_USER_MEMORY_REGION");
	if (vm->high_size) {
		struct kvm_userspace_memory_region high = {
			.slot = 1, .guest_phys_addr = VZ_HIGH_RAM_START, .memory_size = vm->high_size,
			.userspace_addr = (uint64_t)(uintptr_t)(vm->ram + vm->low_size) };
		if ((r = vz_r_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &high)) < 0)
			return fail(v, r, "KVM_SET_USER_MEMORY_REGION (above 4 GiB)");
	}
	return 0;
}

static int create_vcpus(struct vz_vmm *v)
{
	const struct vz_kvm_plan *p = v->plan;
	struct vz_vm *vm = &v->vm;
	size_t csize = sizeof(struct kvm_cpuid2) + p->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = vz_r_mmap(NULL, csize, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long r;

	if (vz_r_mmap_failed(cpuid))
		return fail(v, (long)cpuid, "mmap");
	vm->nvcpus = p->nvcpus;
	for (int i = 0; i < p->nvcpus; i++) {
		struct vz_vcpu *c = &vm->vcpus[i];
		c->vm = vm;
		c->id = i;
		if ((r = vz_r_ioctl_val(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i)) < 0)
			return fail(v, r, "KVM_CREATE_VCPU");
		c->fd = (int)r;
		c->run_size = p->vcpu_mmap_size;
		c->run = vz_r_mmap(NULL, c->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		if (vz_r_mmap_failed(c->run))
			return fail(v, (long)c->run, "mmap vCPU run area");
		vz_x86_cpuid_for_vcpu(cpuid, p->cpuid, i);
		if ((r = vz_r_ioctl(c->fd, KVM_SET_CPUID2, cpuid)) < 0)
			return fail(v, r, "KVM_SET_CPUID2");
		/* Inside KVM_RUN only the kick signal is let through (pause_vcpus). */
		uint64_t set = ~(1ull << (VZ_VCPU_KICK_SIG - 1));
		uint8_t mask[sizeof(struct kvm_signal_mask) + 8]; /* the set right after len */
		((struct kvm_signal_mask *)mask)->len = 8;
		memcpy(mask + sizeof(struct kvm_signal_mask), &set, 8);
		if ((r = vz_r_ioctl(c->fd, KVM_SET_SIGNAL_MASK, mask)) < 0)
			return fail(v, r, "KVM_SET_SIGNAL_MASK");
		c->stack = vz_r_mmap(NULL, VZ_VCPU_STACK, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (vz_r_mmap_failed(c->stack))
			return fail(v, (long)c->stack, "mmap vCPU stack");
	}
	vz_r_munmap(cpuid, csize);
	return 0;
}

static int create_devices(struct vz_vmm *v)
{
	const struct vz_kvm_plan *p = v->plan;
	struct vz_vm *vm = &v->vm;
	int fds[3] = { p->in_fd, p->out_fd, p->err_fd };
	long r;

	if (vz_uart_init(&v->uart, vm, COM1, 4, p->console_fd, v->console_ring) || vz_i8042_init(vm))
		return fail(v, -EINVAL, "set up devices");
	for (int i = 0; i < p->devtab.n; i++) {
		const struct vz_devslot *slot = &p->devtab.slot[i];
		switch (slot->type) {
		case VZ_DEV_CONSOLE:
			/* The job goes when the guest init has booted (booted()), so a template
			 * can be saved before and a prepared VM can wait. */
			vz_console_init(&v->con, &vm->mem, fds, NULL, 0, on_msg, v);
			if ((r = vz_devmgr_attach(vm, slot, &v->con.vdev, &v->con.run)) < 0)
				return fail(v, r, "set up virtio-console");
			if ((r = vz_console_start(&v->con)) < 0)
				return fail(v, r, "start the console's threads");
			break;
		case VZ_DEV_FS:
			if ((r = vz_fs_init(&v->fs, &vm->mem, p->shares, p->nshares, g_proc_fd)) < 0)
				return fail(v, r, "set up virtio-fs");
			if ((r = vz_devmgr_attach(vm, slot, &v->fs.vdev, &v->fs.run)) < 0)
				return fail(v, r, "attach virtio-fs");
			if ((r = vz_fs_start(&v->fs)) < 0)
				return fail(v, r, "start the file server's threads");
			break;
		}
	}
	return 0;
}

/* ---- the main thread: the console's control side and stdin, signals, lifeline ---- */

/* Signals are held back until the guest init runs the workload: before, there is no
 * process to deliver them to. */
static void main_loop(struct vz_vmm *v, int sig_fd)
{
	uint64_t held_sigs = 0;

	for (;;) {
		int ready = __atomic_load_n(&v->ready, __ATOMIC_ACQUIRE);
		struct pollfd pf[2 + VZ_CONSOLE_POLLFDS] = {
			/* POLLHUP: the host process is gone; POLLIN: a prepared VM's go */
			{ .fd = v->status_fd, .events = v->awaiting_go ? POLLIN : 0 },
			{ .fd = sig_fd, .events = POLLIN },
		};
		int n;

		for (int sig = 1; ready && held_sigs && sig < 64; sig++)
			if (held_sigs & (1ull << sig)) {
				vz_console_signal(&v->con, sig);
				held_sigs &= ~(1ull << sig);
			}
		n = vz_console_pollfds(&v->con, pf + 2);
		/* Until the workload runs, vz_sandbox_start() waits and watches the limit. */
		int r = poll(pf, (nfds_t)(2 + n), vz_poll_ms(ready ? v->deadline_ns : 0, vz_now_ns()));
		if (r == 0 && ready && v->deadline_ns) {
			/* Wall time is up: the sandbox ends here, whatever the guest does. */
			if (!__atomic_exchange_n(&v->ending, 1, __ATOMIC_ACQ_REL)) {
				freeze(v);
				vz_ipc_exit(v->status_fd, VZ_REASON_TIMED_OUT, SIGKILL, "");
				vz_r_exit_group(0);
			}
			continue;
		}
		if (r < 0)
			continue;
		if (v->awaiting_go && (pf[0].revents & POLLIN)) {
			struct vz_ipc_msg go;
			if (vz_r_read(v->status_fd, &go, sizeof(go)) != sizeof(go) ||
			    go.type != VZ_IPC_GO)
				vz_r_exit_group(125); /* freed unstarted, or not libvz */
			v->awaiting_go = 0;
			v->deadline_ns = go.t_ns;
			send_job(v);
		}
		if (pf[0].revents & (POLLHUP | POLLERR))
			vz_r_exit_group(125);
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (vz_r_read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD || si.ssi_signo == SIGPIPE ||
				    si.ssi_signo == SIGWINCH || si.ssi_signo == SIGURG)
					continue;
				if (!__atomic_load_n(&v->ready, __ATOMIC_ACQUIRE)) {
					if (si.ssi_signo < 64)
						held_sigs |= 1ull << si.ssi_signo;
					continue;
				}
				vz_console_signal(&v->con, (int)si.ssi_signo);
			}
		}
		vz_console_handle(&v->con, pf + 2, n);
	}
}

static int start_vcpus(struct vz_vmm *v)
{
	for (int i = 0; i < v->vm.nvcpus; i++) {
		struct vz_vcpu *c = &v->vm.vcpus[i];
		long r = vz_thread_spawn((char *)c->stack + VZ_VCPU_STACK, &c->tid, vcpu_loop, c);
		if (r < 0)
			return fail(v, r, "start vCPU thread");
	}
	return 0;
}

/* A VM from a template: its devices' state, then the VM's and the vCPUs', then the
 * guest goes on where the template's stopped, with its init waiting for the job. */
static int restore(struct vz_vmm *v)
{
	const struct vz_kvm_plan *p = v->plan;
	const uint8_t *b = p->restore;
	size_t len = p->restore_len;
	const struct vz_snap_console *sc = vz_snap_find(b, len, VZ_SNAP_CONSOLE, 0, sizeof(*sc));
	const struct vz_snap_uart *su = vz_snap_find(b, len, VZ_SNAP_UART, 0, sizeof(*su));
	char why[240] = VZ_RESTORE_FAILED ": ";
	int rc;

	for (int i = 0; i < p->devtab.n; i++) {
		const struct vz_snap_virtio *sv = vz_snap_find(b, len, VZ_SNAP_VIRTIO, (uint32_t)i, sizeof(*sv));
		if (!sv || vz_virtio_restore(slot_dev(v, i), sv) < 0)
			return fail(v, -EINVAL, VZ_RESTORE_FAILED ": a device's state does not fit");
	}
	if (!sc || !su || vz_console_restore(&v->con, sc) < 0)
		return fail(v, -EINVAL, VZ_RESTORE_FAILED ": the console's state does not fit");
	vz_uart_restore(&v->uart, su);
	if (vz_vstate_restore(&v->vm, b, len, why + strlen(why), sizeof(why) - strlen(why)) < 0) {
		vz_ipc_error(v->sync_fd, VZ_ERROR, 0, why, NULL, NULL);
		return 126;
	}
	/* The host's copy of the state is not needed any more. */
	vz_r_munmap(p->restore_map, p->restore_map_len);
	vz_r_munmap((void *)p->kimg->data, p->kimg->size);
	vz_r_close(p->restore_mem_fd);
	vz_console_resume(&v->con);
	vz_virtio_resume(&v->fs.vdev);
	send_phase(v, "restore");
	if ((rc = start_vcpus(v)))
		return rc;
	booted(v);
	return 0;
}

int vz_vmm_main(const struct vz_child_chan *ch, void *arg)
{
	const struct vz_kvm_plan *p = arg;
	struct vz_vmm *v;
	struct vz_boot boot = { .kimg = p->kimg, .initrd = p->initrd, .initrd_len = p->initrd_len,
				.cmdline = p->cmdline };
	const char *why = NULL;
	uint64_t all = ~0ull;
	int sig_fd, rc;

	v = vz_r_mmap(NULL, sizeof(*v), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vz_r_mmap_failed(v)) {
		vz_ipc_error(ch->sync_fd, VZ_ENOMEM, ENOMEM, "VMM: mmap", NULL, NULL);
		return 126;
	}
	g_vmm = v;
	v->plan = p;
	v->sync_fd = ch->sync_fd;
	v->status_fd = ch->status_fd;
	v->deadline_ns = p->prepare ? 0 : p->deadline_ns;
	/* Every signal arrives through signalfd on the main thread, to be forwarded to the
	 * workload; vCPU threads inherit the mask. SIGKILL still ends the VMM at once. */
	vz_rsys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0);
	sig_fd = (int)vz_rsys6(SYS_signalfd4, -1, (long)&all, 8, SFD_CLOEXEC | SFD_NONBLOCK, 0, 0);
	if (sig_fd < 0)
		return fail(v, sig_fd, "signalfd");
	if ((rc = create_vm(v)) || (rc = create_vcpus(v)) || (rc = create_devices(v)))
		return rc;
	if (p->restore) {
		if ((rc = restore(v)))
			return rc;
		main_loop(v, sig_fd);
		return 0;
	}
	send_phase(v, "kvm");
	if (vz_x86_boot_setup(&v->vm, &boot, &why) < 0) {
		vz_ipc_error(v->sync_fd, VZ_EINVAL, 0, why, NULL, NULL);
		return 126;
	}
	/* The host's copies of the initramfs and the kernel file are not needed here any
	 * more; unmapped, they stop counting in the VMM's resident memory. */
	vz_r_munmap((void *)p->initrd, p->initrd_map_len);
	vz_r_munmap((void *)p->kimg->data, p->kimg->size);
	send_phase(v, "load");
	if ((rc = start_vcpus(v)))
		return rc;
	main_loop(v, sig_fd);
	return 0;
}
