/* SPDX-License-Identifier: MIT */
/* libvz's guest init: PID 1 of every VM libvz boots. Built static from this file (plus
 * the shared capability and seccomp code of src/security, so a VM's workload is
 * confined the same way a container's is) and embedded in libvz; the VM backend puts it at
 * /.vz/init in the initramfs and boots with rdinit=/.vz/init.
 *
 * It loads the drivers a modular guest kernel lacks (the modules the VMM put in its
 * initramfs), finds its virtio-console ports (guest/abi.h), reports that it runs, receives the
 * job on the control port, mounts the usual file systems, applies hostname, network,
 * limits and stdio, runs the workload, relays its stdin, stdout and stderr between
 * pipes and the ports, forwards signals from the VMM, and reports exec, set-up errors
 * and the workload's end. After the final report the VMM ends the VM at once: this
 * process never exits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/random.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vz/error.h>
#include <vz/sandbox.h>

#include "security/security.h"
#include "kvm/guest/abi.h"
#include "security/inroot.h"

#define MAX_ARGS 4096

static int ctl_fd = -1; /* the control port */

/* ---- the control channel ---- */

/* All of @len bytes, read or written, waiting (poll) where the fd is non-blocking. */
static int io_full(int fd, void *buf, size_t len, bool out)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = out ? POLLOUT : POLLIN };
			poll(&pf, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void report(int type, int32_t v1, int32_t v2, const char *text)
{
	uint8_t msg[sizeof(struct vz_msg_hdr) + 8 + VZ_MSG_TEXT_MAX];
	struct vz_msg_hdr h = { .type = (uint32_t)type, .len = 0 };
	size_t n = text ? strlen(text) : 0;

	if (n > VZ_MSG_TEXT_MAX)
		n = VZ_MSG_TEXT_MAX;
	if (type == VZ_MSG_ERROR || type == VZ_MSG_EXIT) {
		memcpy(msg + sizeof(h), &v1, 4);
		memcpy(msg + sizeof(h) + 4, &v2, 4);
		memcpy(msg + sizeof(h) + 8, text, n);
		h.len = (uint32_t)(8 + n);
	}
	memcpy(msg, &h, sizeof(h));
	io_full(ctl_fd, msg, sizeof(h) + h.len, true);
}

/* Step timings for "vz.trace" on the kernel command line: kept in memory (the UART is
 * slow) and written to /dev/kmsg when the workload has ended. */
static struct { const char *what; struct timespec t; } trace_pts[48];
static int trace_n, trace_on = -1;
static void trace(const char *what)
{
	if (trace_on < 0) {
		char b[2048] = "";
		int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;
		if (fd >= 0)
			close(fd);
		b[n > 0 ? n : 0] = '\0';
		trace_on = strstr(b, "vz.trace") != NULL;
	}
	if (!trace_on || trace_n >= 48)
		return;
	trace_pts[trace_n].what = what;
	clock_gettime(CLOCK_MONOTONIC, &trace_pts[trace_n++].t);
}
static void trace_dump(void)
{
	int fd;
	if (trace_on != 1 || (fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)) < 0)
		return;
	/* One record: /dev/kmsg lets a process write only a few in a row. */
	char line[1024] = "vz-trace (us):";
	size_t len = strlen(line);
	for (int i = 1; i < trace_n && len < sizeof(line) - 40; i++) {
		long us = (trace_pts[i].t.tv_sec - trace_pts[i - 1].t.tv_sec) * 1000000L +
			  (trace_pts[i].t.tv_nsec - trace_pts[i - 1].t.tv_nsec) / 1000;
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s %ld", trace_pts[i].what, us);
	}
	line[len++] = '\n';
	write(fd, line, len);
	close(fd);
}

__attribute__((noreturn)) static void hang(void)
{
	for (;;)
		pause();
}

/* A set-up step failed: the VMM turns this into the error vz_sandbox_start() returns. */
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int err, const char *fmt, ...)
{
	char text[VZ_MSG_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	report(VZ_MSG_ERROR, err == ENOENT ? VZ_ENOENT : err == EACCES || err == EPERM ? VZ_EPERM
						  : VZ_ECHILD,
	       err, text);
	hang();
}

/* ---- the job ---- */

struct job {
	const char *exe, *cwd, *hostname, *time, *seed;
	char *argv[MAX_ARGS + 1];
	char *envp[MAX_ARGS + 1];
	struct {
		char share[8];
		int ro;
		const char *dst;
	} bind[64];
	int nargs, nenv, nbind;
	uid_t uid;
	gid_t gid;
	long pids, nofile;
	int in_tty, out_tty, err_tty;
	int loopback, readonly, persistent;
};

static void read_job(struct job *j)
{
	static char buf[VZ_MSG_JOB_MAX + 1];
	struct vz_msg_hdr h;
	size_t off;

	if (io_full(ctl_fd, &h, sizeof(h), false) < 0 || h.type != VZ_MSG_JOB || h.len > VZ_MSG_JOB_MAX ||
	    io_full(ctl_fd, buf, h.len, false) < 0)
		fail(EPROTO, "guest init: no job on the control port");
	off = h.len;
	buf[off] = '\0';
	memset(j, 0, sizeof(*j));
	j->cwd = "/";
	for (char *p = buf, *next; p < buf + (ssize_t)off; p = next) {
		char *v = strchr(p, '=');
		next = p + strlen(p) + 1; /* before the key is cut off at its '=' */
		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(p, "exe"))
			j->exe = v;
		else if (!strcmp(p, "arg") && j->nargs < MAX_ARGS)
			j->argv[j->nargs++] = v;
		else if (!strcmp(p, "env") && j->nenv < MAX_ARGS)
			j->envp[j->nenv++] = v;
		else if (!strcmp(p, "cwd"))
			j->cwd = v;
		else if (!strcmp(p, "hostname"))
			j->hostname = v;
		else if (!strcmp(p, "time"))
			j->time = v;
		else if (!strcmp(p, "seed"))
			j->seed = v;
		else if (!strcmp(p, "uid"))
			j->uid = (uid_t)strtoul(v, NULL, 10);
		else if (!strcmp(p, "gid"))
			j->gid = (gid_t)strtoul(v, NULL, 10);
		else if (!strcmp(p, "pids"))
			j->pids = strtol(v, NULL, 10);
		else if (!strcmp(p, "nofile"))
			j->nofile = strtol(v, NULL, 10);
		else if (!strcmp(p, "stdin"))
			j->in_tty = !strcmp(v, "port");
		else if (!strcmp(p, "stdout"))
			j->out_tty = !strcmp(v, "port");
		else if (!strcmp(p, "stderr"))
			j->err_tty = !strcmp(v, "port");
		else if (!strcmp(p, "net"))
			j->loopback = !strcmp(v, "loopback");
		else if (!strcmp(p, "rootfs")) {
			j->readonly = !strcmp(v, "ro");
			j->persistent = !strcmp(v, "persistent");
		} else if (!strcmp(p, "bind") && j->nbind < 64) {
			/* share:ro|rw:destination */
			char *a = strchr(v, ':'), *b = a ? strchr(a + 1, ':') : NULL;
			if (!b || a - v >= (long)sizeof(j->bind[0].share))
				fail(EINVAL, "guest init: bad bind record %s", v);
			memcpy(j->bind[j->nbind].share, v, (size_t)(a - v));
			j->bind[j->nbind].share[a - v] = '\0';
			j->bind[j->nbind].ro = !strncmp(a + 1, "ro:", 3);
			j->bind[j->nbind].dst = b + 1;
			j->nbind++;
		}
	}
	if (!j->exe || !j->nargs)
		fail(EINVAL, "guest init: the job names no program");
}

/* ---- set-up ---- */

/* The host's wall clock and randomness, first thing: a guest restored from a template
 * goes on from the template's clock and random state, which every VM of that template
 * shares. Mixed in and credited, then the kernel's generator is reseeded from its pool. */
static void host_time_and_seed(const struct job *j)
{
	if (j->time) {
		char *dot;
		struct timespec ts = { .tv_sec = (time_t)strtoll(j->time, &dot, 10) };
		if (*dot == '.')
			ts.tv_nsec = strtol(dot + 1, NULL, 10);
		if (ts.tv_sec > 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000)
			clock_settime(CLOCK_REALTIME, &ts);
	}
	if (j->seed) {
		struct {
			int entropy_count, buf_size;
			uint8_t buf[VZ_JOB_SEED_LEN];
		} e = { 0 };
		size_t n = strlen(j->seed) / 2;
		int fd;
		for (size_t i = 0; i < n && i < sizeof(e.buf); i++) {
			char b[3] = { j->seed[2 * i], j->seed[2 * i + 1], 0 };
			e.buf[i] = (uint8_t)strtoul(b, NULL, 16);
		}
		e.buf_size = (int)(n < sizeof(e.buf) ? n : sizeof(e.buf));
		e.entropy_count = e.buf_size * 8;
		if ((fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC)) >= 0) {
			if (ioctl(fd, RNDADDENTROPY, &e) < 0)
				write(fd, e.buf, (size_t)e.buf_size);
			ioctl(fd, RNDRESEEDCRNG);
			close(fd);
		}
	}
}

/* Read-only views of the kernel's global knobs, as the container backend gives. */
static void protect_proc(void)
{
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus" };
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0)
			continue; /* absent in this kernel */
		mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		      NULL);
	}
}

/* ---- the root file system ----
 * The shares arrive through virtio-fs, tag "vz", at /.vz/fs: root (the rootfs, read-only
 * in the VMM's server), upper (the persistent layer), b0.. (the binds). The guest's root
 * is an overlay on the rootfs share, its upper layer a tmpfs (or the persistent share),
 * so the rootfs directory on the host is never written; the binds, /proc, /sys, /dev
 * and /tmp go onto mount points resolved inside the new root (security/inroot.h), as
 * the container backend places them. Then the new root replaces the initramfs. */
#define FS "/.vz/fs"
#define NEWROOT "/.vz/root"

static void mount_in(int rootfd, const char *dst, bool dir, const char *src, const char *type,
		     unsigned long fl, const char *data)
{
	char p[VZ_FD_PATH];
	int fd = vz_mount_point(rootfd, dst, dir);

	if (fd < 0)
		fail(errno, "guest init: mount point %s: %s", dst, strerror(errno));
	if (mount(src, vz_fd_path(p, fd), type, fl, data) < 0)
		fail(errno, "guest init: mount %s on %s: %s", type ? type : src, dst, strerror(errno));
	close(fd);
}

/* A bind made read-only: the mount on @dst (reopened: the mount point's descriptor
 * names what is under the new mount). */
static void remount_ro(int rootfd, const char *dst)
{
	char p[VZ_FD_PATH];
	int fd = vz_open_in(rootfd, dst, 0);

	if (fd < 0 || mount(NULL, vz_fd_path(p, fd), NULL,
			    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		fail(errno, "guest init: make %s read-only: %s", dst, strerror(errno));
	close(fd);
}

static void build_root(const struct job *j)
{
	char lower[64], opts[256];
	int rootfd;
	struct stat st;

	mkdir("/.vz", 0700);
	mkdir(FS, 0700);
	mkdir(NEWROOT, 0755);
	trace("root-start");
	if (mount("vz", FS, "virtiofs", MS_NOSUID | MS_NODEV, NULL) < 0)
		fail(errno, "guest init: mount the shared file system: %s%s", strerror(errno),
		     errno == ENODEV ? " (the guest kernel lacks VIRTIO_FS or FUSE_FS)" : "");
	trace("virtiofs");
	snprintf(lower, sizeof(lower), "%s/root", FS);
	if (j->persistent) {
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper/upper,workdir=%s/upper/work",
			 lower, FS, FS);
	} else {
		mkdir("/.vz/rw", 0700);
		if (mount("tmpfs", "/.vz/rw", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
		    mkdir("/.vz/rw/upper", 0755) < 0 || mkdir("/.vz/rw/work", 0700) < 0)
			fail(errno, "guest init: the writable layer: %s", strerror(errno));
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=/.vz/rw/upper,workdir=/.vz/rw/work", lower);
	}
	/* nodev, nosuid: as the container's root (a node or set-uid file of the image or of
	 * the layer gains nothing). */
	if (mount("overlay", NEWROOT, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		fail(errno, "guest init: mount the root overlay: %s%s", strerror(errno),
		     errno == ENODEV ? " (the guest kernel lacks OVERLAY_FS)" : "");
	trace("overlay");
	if ((rootfd = open(NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		fail(errno, "guest init: open the new root: %s", strerror(errno));
	/* The system's mounts first, the binds last (as the container: a bind may go
	 * below /tmp or /dev). */
	mount_in(rootfd, "/proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_in(rootfd, "/sys", true, "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
	mount_in(rootfd, "/dev", true, "devtmpfs", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
	mount_in(rootfd, "/dev/pts", true, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "newinstance,ptmxmode=0666");
	mount_in(rootfd, "/dev/shm", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_in(rootfd, "/tmp", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	for (int i = 0; i < j->nbind; i++) {
		char src[64];
		snprintf(src, sizeof(src), "%s/%s", FS, j->bind[i].share);
		if (stat(src, &st) < 0)
			fail(errno, "guest init: bind %s: %s", j->bind[i].dst, strerror(errno));
		mount_in(rootfd, j->bind[i].dst, S_ISDIR(st.st_mode), src, NULL,
			 MS_BIND | MS_NOSUID | MS_NODEV, NULL);
		if (j->bind[i].ro)
			remount_ro(rootfd, j->bind[i].dst);
	}
	close(rootfd);
	trace("sysmounts");
	/* The shares stay reachable only through the mounts made from them. */
	umount2(FS, MNT_DETACH);
	/* Replace the initramfs (switch_root: it cannot be pivoted away). */
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		fail(errno, "guest init: enter the new root: %s", strerror(errno));
	if (j->readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
				 NULL) < 0)
		fail(errno, "guest init: remount / read-only: %s", strerror(errno));
}

static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail(errno, "guest init: socket: %s", strerror(errno));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
		fail(errno, "guest init: bring up lo: %s", strerror(errno));
	close(s);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -1 : 0;
}

/* pids limit: a cgroup v2 group for the workload inside the guest. */
#define CG "/sys/fs/cgroup"
static void pids_limit(long pids)
{
	char v[32];
	if (mount("cgroup2", CG, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail(errno, "guest init: mount cgroup2: %s", strerror(errno));
	if (write_file(CG "/cgroup.subtree_control", "+pids") < 0 ||
	    (mkdir(CG "/workload", 0755) < 0 && errno != EEXIST))
		fail(errno, "guest init: create the pids cgroup: %s", strerror(errno));
	snprintf(v, sizeof(v), "%ld", pids);
	if (write_file(CG "/workload/pids.max", v) < 0)
		fail(errno, "guest init: set pids.max: %s", strerror(errno));
}

static unsigned long oom_kills(void)
{
	char buf[8192], *p;
	int fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\noom_kill ");
	return p ? strtoul(p + 10, NULL, 10) : 0;
}

/* The rootfs lives in the guest's page cache (virtio-fs): a guest short of memory
 * evicts program text and reads it again, for minutes, long before the kernel's OOM
 * killer sees no progress. A PSI trigger [Documentation/accounting/psi.rst] tells the
 * init when every task stalled on memory for 3 s of a 5 s window; the init then ends
 * the workload as out of memory, as an OOM kill would. (Shorter windows also caught a
 * plain read of a file larger than RAM on kvm_pvm, where the guest kernel's reclaim
 * runs emulated.) -1 if PSI is missing. */
static int memory_pressure_trigger(void)
{
	static const char trig[] = "full 3000000 5000000";
	int fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && write(fd, trig, sizeof(trig)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* ---- the workload ---- */

struct errmsg {
	int err;
	char what[120];
};

__attribute__((noreturn)) static void child_fail(int pipe_w, const char *what)
{
	struct errmsg m = { .err = errno };
	snprintf(m.what, sizeof(m.what), "%s", what);
	write(pipe_w, &m, sizeof(m));
	_exit(127);
}

static pid_t spawn(const struct job *j, int in_fd, int out_fd, int err_fd)
{
	int p[2];
	struct errmsg m;
	pid_t pid;
	ssize_t n;
	sigset_t none;

	if (pipe2(p, O_CLOEXEC) < 0)
		fail(errno, "guest init: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail(errno, "guest init: fork: %s", strerror(errno));
	if (pid == 0) {
		char what[160];
		close(p[0]);
		setsid();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
			child_fail(p[1], "install stdio");
		if (j->pids && write_file(CG "/workload/cgroup.procs", "0") < 0)
			child_fail(p[1], "join the pids cgroup");
		if (j->nofile) {
			struct rlimit rl = { (rlim_t)j->nofile, (rlim_t)j->nofile };
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				child_fail(p[1], "limit open files: setrlimit");
		}
		if (chdir(j->cwd) < 0) {
			snprintf(what, sizeof(what), "cwd %s", j->cwd);
			child_fail(p[1], what);
		}
		if (vz_sec_caps_drop() < 0)
			child_fail(p[1], "drop capabilities");
		if (setgroups(0, NULL) < 0 || setresgid(j->gid, j->gid, j->gid) < 0)
			child_fail(p[1], "setresgid");
		if (setresuid(j->uid, j->uid, j->uid) < 0)
			child_fail(p[1], "setresuid");
		if ((errno = -vz_sec_seccomp_install()) != 0)
			child_fail(p[1], "install seccomp filter");
		execve(j->exe, (char *const *)j->argv, (char *const *)j->envp);
		snprintf(what, sizeof(what), "execve %s", j->exe);
		child_fail(p[1], what);
	}
	close(p[1]);
	do
		n = read(p[0], &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof(m)) {
		m.what[sizeof(m.what) - 1] = '\0';
		waitpid(pid, NULL, 0);
		errno = m.err;
		fail(m.err, "%s: %s", m.what, strerror(m.err));
	}
	return pid;
}

/* ---- stdio relays: pipes of the workload <-> the console's ports ---- */

/* One direction: bytes read from @from wait in @buf until @to takes them. Both fds are
 * non-blocking; the main loop polls whichever side the relay waits for. */
struct relay {
	int from, to;
	uint8_t buf[65536];
	size_t len, off;
	int eof;
};

static void relay_init(struct relay *r, int from, int to)
{
	r->from = from;
	r->to = to;
	r->len = r->off = 0;
	r->eof = from < 0;
	if (from >= 0)
		fcntl(from, F_SETFL, O_NONBLOCK);
	if (to >= 0)
		fcntl(to, F_SETFL, O_NONBLOCK);
}

static short relay_events(const struct relay *r, int *fd)
{
	if (r->len > r->off) {
		*fd = r->to;
		return POLLOUT;
	}
	*fd = r->eof ? -1 : r->from;
	return POLLIN;
}

/* Move what can move without blocking. At the end of input with nothing left to write,
 * the write side is closed (for stdin: the workload reads end of file). */
static void relay_step(struct relay *r)
{
	for (;;) {
		if (r->len > r->off) {
			ssize_t n = r->to >= 0 ? write(r->to, r->buf + r->off, r->len - r->off) : -1;
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) /* the reader is gone: discard */
				r->off = r->len;
			else
				r->off += (size_t)n;
			continue;
		}
		r->len = r->off = 0;
		if (r->eof)
			break;
		ssize_t n = read(r->from, r->buf, sizeof(r->buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			r->eof = 1;
			break;
		}
		r->len = (size_t)n;
	}
	if (r->from >= 0) {
		close(r->from);
		r->from = -1;
	}
	if (r->to >= 0 && r->eof && !r->len) {
		close(r->to);
		r->to = -1;
	}
}

/* After the workload ended: what its output pipes hold goes out in full (blocking on
 * the port, which the host drains), without waiting for descendants that still hold
 * the pipes open. */
static void relay_finish(struct relay *r)
{
	for (;;) {
		relay_step(r); /* returns with the pipe empty for now, at its end, or the port full */
		if (r->len <= r->off || r->to < 0)
			return;
		struct pollfd pf = { .fd = r->to, .events = POLLOUT };
		poll(&pf, 1, -1);
	}
}

/* ---- the ports ---- */

/* Until the control port is open, the kernel console is the only way to say why the
 * VM ends: the VMM puts its tail in the error the caller gets. */
static _Noreturn void console_fail(const char *fmt, ...)
{
	char msg[512] = "\nvz-guest-init: ";
	size_t n = strlen(msg);
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n - 1, fmt, ap);
	va_end(ap);
	strcat(msg, "\n");
	if ((fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC)) >= 0)
		write(fd, msg, strlen(msg));
	_exit(3);
}

/* Same module name: '-' and '_' are one character to the kernel. */
static bool same_modname(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return true;
}

/* A modular guest kernel: load /.vz/modules/NN-NAME.ko* in NN order, each with the
 * NAME.PARAM=VALUE words of the kernel command line (virtio_mmio.device=..., which
 * the kernel leaves to whoever loads virtio_mmio), as modprobe would. */
static void load_modules(void)
{
	static char cmdline[4096], params[4096];
	struct dirent **ents = NULL;
	ssize_t clen = 0;
	int n, fd;

	if ((n = scandir(VZ_MODULES_DIR, &ents, NULL, alphasort)) <= 0)
		return; /* none: the kernel has the drivers built in */
	if ((fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC)) >= 0) {
		clen = read(fd, cmdline, sizeof(cmdline) - 1);
		close(fd);
	}
	cmdline[clen > 0 ? clen : 0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *file = ents[i]->d_name, *name, *end;
		char path[320];
		size_t nlen, plen = 0;
		int flags = 0, mfd;

		if (file[0] == '.')
			continue;
		name = strchr(file, '-') ? strchr(file, '-') + 1 : file;
		end = strstr(name, ".ko");
		nlen = end ? (size_t)(end - name) : strlen(name);
		if (end && end[3])
			flags |= 4; /* MODULE_INIT_COMPRESSED_FILE: .ko.xz, .ko.zst, .ko.gz */
		params[0] = '\0';
		for (char *w = cmdline; *w;) {
			size_t wlen = strcspn(w, " \n");
			if (wlen > nlen + 1 && w[nlen] == '.' && same_modname(w, name, nlen) &&
			    plen + wlen - nlen < sizeof(params) - 1) {
				if (plen)
					params[plen++] = ' ';
				memcpy(params + plen, w + nlen + 1, wlen - nlen - 1);
				plen += wlen - nlen - 1;
				params[plen] = '\0';
			}
			w += wlen;
			w += strspn(w, " \n");
		}
		snprintf(path, sizeof(path), "%s/%s", VZ_MODULES_DIR, file);
		if ((mfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			console_fail("open %s: %s", path, strerror(errno));
		if (syscall(SYS_finit_module, mfd, params, flags) < 0 && errno != EEXIST)
			console_fail("cannot load the guest kernel module %.*s (%s): %s%s", (int)nlen,
				     name, file, strerror(errno),
				     flags && (errno == EOPNOTSUPP || errno == ENOEXEC)
					     ? " (a compressed module: the kernel needs "
					       "CONFIG_MODULE_DECOMPRESS)"
					     : "");
		close(mfd);
		unlink(path); /* its memory back to the guest */
		free(ents[i]);
	}
	free(ents);
}

/* /dev/vportNpM of each port of guest/abi.h, found by the names the VMM gives them. The
 * names arrive just after the ports appear: wait for them (10 s: boots on kvm_pvm are
 * slow, but this step is not). */
static void find_ports(char paths[VZ_PORT_COUNT][64])
{
	static const char *const names[VZ_PORT_COUNT] = VZ_PORT_NAMES;
	int found = 0;

	for (int tries = 0; tries < 10000 && found < VZ_PORT_COUNT; tries++) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *de;

		found = 0;
		for (int i = 0; i < VZ_PORT_COUNT; i++)
			paths[i][0] = '\0';
		while (d && (de = readdir(d))) {
			char p[320], name[64];
			ssize_t n;
			int fd;
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", de->d_name);
			if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			n = read(fd, name, sizeof(name) - 1);
			close(fd);
			if (n <= 0)
				continue;
			name[n] = '\0';
			name[strcspn(name, "\n")] = '\0';
			for (int i = 0; i < VZ_PORT_COUNT; i++)
				if (!strcmp(name, names[i]) && !paths[i][0]) {
					snprintf(paths[i], sizeof(paths[i]), "/dev/%.50s", de->d_name);
					found++;
				}
		}
		if (d)
			closedir(d);
		if (found < VZ_PORT_COUNT)
			usleep(1000);
	}
	/* No channel to report on: say why, then end (the kernel panics, the VMM reports
	 * it with the console's tail). */
	if (found < VZ_PORT_COUNT)
		console_fail("no libvz console ports: the guest kernel needs VIRTIO_MMIO, "
			     "VIRTIO_MMIO_CMDLINE_DEVICES, VIRTIO_CONSOLE, FUSE_FS, VIRTIO_FS and "
			     "OVERLAY_FS, built in (=y, as tools/guest-kernel/vz-guest.config has "
			     "them) or as modules from the directory given with "
			     "vz_config_set_kernel_modules()");
}

static int open_port(const char *path, int flags)
{
	int fd;
	/* devtmpfs makes the node as the port appears; it may lag the sysfs name. */
	for (int tries = 0; (fd = open(path, flags | O_NOCTTY | O_CLOEXEC)) < 0 && errno == ENOENT &&
			    tries < 1000;
	     tries++)
		usleep(1000);
	if (fd < 0 && ctl_fd >= 0)
		fail(errno, "guest init: open %s: %s", path, strerror(errno));
	return fd;
}

static int null_fd(int flags)
{
	int fd = open("/dev/null", flags | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "guest init: open /dev/null: %s", strerror(errno));
	return fd;
}

static void pipe_or_fail(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		fail(errno, "guest init: pipe: %s", strerror(errno));
}

/* Signals from the VMM, read from the control port without blocking. */
static void control_in(pid_t pid)
{
	static uint8_t buf[4096];
	static size_t len;
	ssize_t n;

	while ((n = read(ctl_fd, buf + len, sizeof(buf) - len)) > 0) {
		len += (size_t)n;
		for (;;) {
			struct vz_msg_hdr h;
			if (len < sizeof(h))
				break;
			memcpy(&h, buf, sizeof(h));
			if (h.len > sizeof(buf) - sizeof(h)) {
				len = 0; /* cannot come from libvz's VMM: drop the stream */
				break;
			}
			if (len < sizeof(h) + h.len)
				break;
			if (h.type == VZ_MSG_SIGNAL && h.len >= 4) {
				int32_t sig;
				memcpy(&sig, buf + sizeof(h), 4);
				if (sig > 0 && sig < 65)
					kill(pid, sig);
			}
			memmove(buf, buf + sizeof(h) + h.len, len - sizeof(h) - h.len);
			len -= sizeof(h) + h.len;
		}
	}
}

int main(void)
{
	static struct job j;
	static struct relay rin, rout, rerr;
	static char ports[VZ_PORT_COUNT][64];
	int port_fd[VZ_PORT_COUNT], psi_fd, thrashed = 0;
	int out_fd, err_fd, in_fd, sfd, p[2];
	unsigned long oom_before;
	sigset_t all;
	pid_t pid;

	/* It mounts over /dev, /sys and /proc: never anywhere but as a VM's PID 1. */
	if (getpid() != 1) {
		static const char msg[] = "vz-guest-init: runs only as PID 1 of a libvz VM\n";
		write(2, msg, sizeof(msg) - 1);
		return 1;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	mkdir("/dev", 0755);
	mkdir("/sys", 0755);
	mkdir("/proc", 0755);
	/* Until the control port is open there is no way to report: a failure here ends
	 * this process, the kernel panics, and the VMM reports the panic. */
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 && errno != EBUSY)
		return 1;
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0 &&
	    errno != EBUSY)
		return 2;
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 && errno != EBUSY)
		return 3;
	load_modules();
	find_ports(ports);
	ctl_fd = open_port(ports[VZ_PORT_CONTROL], O_RDWR);
	if (ctl_fd < 0)
		return 4;
	report(VZ_MSG_BOOTED, 0, 0, NULL);
	read_job(&j);
	trace("job");
	host_time_and_seed(&j);
	trace("time+seed");
	fcntl(ctl_fd, F_SETFL, O_NONBLOCK);
	/* The stdio ports, opened while the initramfs's /dev is at hand. */
	for (int i = VZ_PORT_STDIN; i <= VZ_PORT_STDERR; i++)
		port_fd[i] = (i == VZ_PORT_STDIN ? j.in_tty : i == VZ_PORT_STDOUT ? j.out_tty : j.err_tty)
				     ? open_port(ports[i], i == VZ_PORT_STDIN ? O_RDONLY : O_WRONLY)
				     : -1;
	trace("ports");
	build_root(&j);
	trace("root");
	if (j.hostname && sethostname(j.hostname, strlen(j.hostname)) < 0)
		fail(errno, "guest init: sethostname: %s", strerror(errno));
	trace("hostname");
	if (j.loopback)
		loopback_up();
	trace("loopback");
	if (j.pids)
		pids_limit(j.pids);
	trace("pids");
	protect_proc();
	trace("protect_proc");

	/* stdio: pipes for the workload (so it can reopen /dev/stdout and friends, which a
	 * port, opened once, would refuse), relayed to and from the ports. */
	rin.from = rin.to = rout.from = rout.to = rerr.from = rerr.to = -1;
	rin.eof = rout.eof = rerr.eof = 1;
	if (j.in_tty) {
		pipe_or_fail(p);
		in_fd = p[0];
		relay_init(&rin, port_fd[VZ_PORT_STDIN], p[1]);
	} else {
		in_fd = null_fd(O_RDONLY);
	}
	if (j.out_tty) {
		pipe_or_fail(p);
		out_fd = p[1];
		relay_init(&rout, p[0], port_fd[VZ_PORT_STDOUT]);
	} else {
		out_fd = null_fd(O_WRONLY);
	}
	if (j.err_tty) {
		pipe_or_fail(p);
		err_fd = p[1];
		relay_init(&rerr, p[0], port_fd[VZ_PORT_STDERR]);
	} else {
		err_fd = null_fd(O_WRONLY);
	}
	sigemptyset(&all);
	sigaddset(&all, SIGCHLD);
	sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
	trace("stdio");
	oom_before = oom_kills();
	psi_fd = memory_pressure_trigger();
	trace("psi");
	pid = spawn(&j, in_fd, out_fd, err_fd);
	trace("spawn");
	close(in_fd);
	close(out_fd); /* the workload holds the pipes' other ends now */
	close(err_fd);
	report(VZ_MSG_EXEC, 0, 0, NULL);
	trace("exec-report");

	for (;;) {
		struct pollfd pf[6] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = ctl_fd, .events = POLLIN },
			[5] = { .fd = psi_fd, .events = POLLPRI },
		};
		struct relay *rl[3] = { &rin, &rout, &rerr };
		struct signalfd_siginfo si;
		int status;
		pid_t w;

		for (int i = 0; i < 3; i++)
			pf[2 + i].events = relay_events(rl[i], &pf[2 + i].fd);
		if (poll(pf, 6, -1) < 0 && errno != EINTR)
			continue;
		if ((pf[5].revents & POLLPRI) && !thrashed) {
			thrashed = 1;
			kill(-pid, SIGKILL);
		}
		for (int i = 0; i < 3; i++)
			if (pf[2 + i].revents)
				relay_step(rl[i]);
		while (read(sfd, &si, sizeof(si)) > 0)
			;
		if (pf[1].revents & POLLIN)
			control_in(pid);
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			int reason, value;
			if (w != pid)
				continue;
			if (WIFEXITED(status)) {
				reason = VZ_REASON_EXITED;
				value = WEXITSTATUS(status);
			} else {
				reason = VZ_REASON_SIGNALED;
				value = WTERMSIG(status);
			}
			/* The guest's OOM killer: a SIGKILL, or a shell reporting its child's
			 * death, with the kernel's counter moved. */
			if ((oom_kills() > oom_before || thrashed) &&
			    ((reason == VZ_REASON_SIGNALED && value == SIGKILL) ||
			     (reason == VZ_REASON_EXITED && value != 0)))
				reason = VZ_REASON_OUT_OF_MEMORY, value = SIGKILL;
			/* What the workload wrote before it ended; descendants that still hold
			 * the pipes do not keep the sandbox alive. The VMM passes all of it to
			 * the host before it reports the end. */
			trace("exited");
			relay_finish(&rout);
			relay_finish(&rerr);
			trace("drained");
			trace_dump();
			report(VZ_MSG_EXIT, reason, value,
			       reason != VZ_REASON_OUT_OF_MEMORY ? NULL
			       : thrashed ? "killed by libvz's guest init: the guest ran out of memory "
					    "(every task stalled on memory for 3 s of 5 s)"
					  : "killed by the guest kernel's OOM killer");
			hang();
		}
	}
}
