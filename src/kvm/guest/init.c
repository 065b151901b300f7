/* SPDX-License-Identifier: MIT */
/* libvz's guest init: PID 1 of every VM libvz boots. Built static from this file (plus
 * the shared capability and seccomp code of src/security, so a VM's workload is
 * confined the same way a container's is) and embedded in libvz; the VM backend puts it at
 * /.vz/init in the initramfs and boots with rdinit=/.vz/init.
 *
 * It mounts the usual file systems, reads the job (job.h), applies hostname, network,
 * limits and stdio, runs the workload, relays stdin and signals from the VMM, and
 * reports boot, exec, set-up errors and the workload's end through the status device
 * (writes to /dev/port: each byte of one write goes to the next port of the window).
 * After the final report the VMM ends the VM at once: this process never exits. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <vz/error.h>
#include <vz/sandbox.h>

#include "security/security.h"
#include "kvm/devices.h"
#include "kvm/guest/job.h"

#define MAX_ARGS 4096

static int port_fd = -1;

/* ---- reports to the VMM ---- */

static void report(int cmd, int32_t v1, int32_t v2, const char *text)
{
	uint8_t rec[16] = { 0 };
	char buf[VZ_STATUS_TEXT];
	size_t n;

	if (text && *text) {
		n = strlen(text);
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, text, n);
		buf[n] = '\0';
		pwrite(port_fd, buf, n + 1, VZ_STATUS_PORT);
	}
	memcpy(rec, &v1, 4);
	memcpy(rec + 4, &v2, 4);
	rec[15] = (uint8_t)cmd;
	pwrite(port_fd, rec, sizeof(rec), VZ_STATUS_PORT + VZ_STATUS_V1);
}

__attribute__((noreturn)) static void hang(void)
{
	for (;;)
		pause();
}

/* A set-up step failed: the VMM turns this into the error vz_sandbox_start() returns. */
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int err, const char *fmt, ...)
{
	char text[VZ_STATUS_TEXT];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	report(VZ_STATUS_ERROR, err == ENOENT ? VZ_ENOENT : err == EACCES || err == EPERM ? VZ_EPERM
						  : VZ_ECHILD,
	       err, text);
	hang();
}

/* ---- the job ---- */

struct job {
	const char *exe, *cwd, *hostname;
	char *argv[MAX_ARGS + 1];
	char *envp[MAX_ARGS + 1];
	const char *robind[64];
	int nargs, nenv, nrobind;
	uid_t uid;
	gid_t gid;
	long pids, nofile;
	int in_tty, out_tty, err_tty;
	int loopback, readonly;
};

static void read_job(struct job *j)
{
	static char buf[1 << 20];
	ssize_t n, off = 0;
	int fd = open(VZ_JOB_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail(errno, "guest init: open %s: %s", VZ_JOB_PATH, strerror(errno));
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - (size_t)off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';
	memset(j, 0, sizeof(*j));
	j->cwd = "/";
	for (char *p = buf, *next; p < buf + off; p = next) {
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
		else if (!strcmp(p, "uid"))
			j->uid = (uid_t)strtoul(v, NULL, 10);
		else if (!strcmp(p, "gid"))
			j->gid = (gid_t)strtoul(v, NULL, 10);
		else if (!strcmp(p, "pids"))
			j->pids = strtol(v, NULL, 10);
		else if (!strcmp(p, "nofile"))
			j->nofile = strtol(v, NULL, 10);
		else if (!strcmp(p, "stdin"))
			j->in_tty = !strcmp(v, "tty");
		else if (!strcmp(p, "stdout"))
			j->out_tty = !strcmp(v, "tty");
		else if (!strcmp(p, "stderr"))
			j->err_tty = !strcmp(v, "tty");
		else if (!strcmp(p, "net"))
			j->loopback = !strcmp(v, "loopback");
		else if (!strcmp(p, "rootfs"))
			j->readonly = !strcmp(v, "ro");
		else if (!strcmp(p, "robind") && j->nrobind < 64)
			j->robind[j->nrobind++] = v;
	}
	if (!j->exe || !j->nargs)
		fail(EINVAL, "guest init: the job names no program");
}

/* ---- set-up ---- */

static void mount_or_fail(const char *src, const char *dst, const char *type, unsigned long fl,
			  const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, fl, data) < 0 && errno != EBUSY)
		fail(errno, "guest init: mount %s on %s: %s", type ? type : src, dst, strerror(errno));
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

static void mounts(void)
{
	mount_or_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_fail("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
	mount_or_fail("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_or_fail("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
	mount_or_fail("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

static void set_raw(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
}

static int open_tty(const char *path, int flags)
{
	int fd = open(path, flags | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "guest init: open %s: %s", path, strerror(errno));
	set_raw(fd);
	return fd;
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

static void readonly_mounts(const struct job *j)
{
	for (int i = 0; i < j->nrobind; i++)
		if (mount(j->robind[i], j->robind[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, j->robind[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			fail(errno, "guest init: read-only bind %s: %s", j->robind[i], strerror(errno));
	if (j->readonly && mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		fail(errno, "guest init: remount / read-only: %s", strerror(errno));
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

/* stdin relay: bytes from the stdin UART, unescaped, into the workload's pipe. */
struct relay {
	int tty, pipe_w;
	int esc;
	uint8_t buf[65536];
	size_t len;
	int eof;
};

static void relay_flush(struct relay *r)
{
	while (r->len && r->pipe_w >= 0) {
		ssize_t n = write(r->pipe_w, r->buf, r->len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			r->len = 0; /* the reader is gone (EPIPE): discard */
			break;
		}
		memmove(r->buf, r->buf + n, r->len - (size_t)n);
		r->len -= (size_t)n;
	}
	if (!r->len && r->eof && r->pipe_w >= 0) {
		close(r->pipe_w);
		r->pipe_w = -1;
	}
}

static void relay_read(struct relay *r)
{
	uint8_t in[4096];
	ssize_t n = read(r->tty, in, sizeof(r->buf) - r->len < sizeof(in) ? sizeof(r->buf) - r->len
									 : sizeof(in));
	for (ssize_t i = 0; i < n; i++) {
		if (r->esc) {
			r->esc = 0;
			if (in[i] == VZ_STDIN_ESC_EOF)
				r->eof = 1;
			else
				r->buf[r->len++] = 0xff;
		} else if (in[i] == VZ_STDIN_ESC) {
			r->esc = 1;
		} else if (!r->eof) {
			r->buf[r->len++] = in[i];
		}
	}
	relay_flush(r);
}

/* stdout/stderr relay: the workload writes into pipes; the init reads them straight
 * into the VMM's output window (devices.h) and rings the stream's port. */
static uint8_t *outwin;

static void outwin_map(void)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	void *p;

	if (fd < 0)
		fail(errno, "guest init: open /dev/mem: %s", strerror(errno));
	p = mmap(NULL, VZ_OUT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)VZ_OUT_GPA);
	close(fd);
	if (p == MAP_FAILED)
		fail(errno, "guest init: map the output window: %s", strerror(errno));
	outwin = p;
}

/* Move what the pipe of stream @ch holds to the host. 0 at end of file. */
static ssize_t relay_out(int ch, int fd)
{
	ssize_t n = read(fd, outwin + VZ_OUT_DATA(ch), VZ_OUT_MAX);
	if (n > 0) {
		uint32_t len = (uint32_t)n;
		uint8_t ring = 1;
		__atomic_store_n((uint32_t *)(outwin + 4 * ch), len, __ATOMIC_RELEASE);
		pwrite(port_fd, &ring, 1, VZ_OUT_PORT + ch);
	}
	return n;
}

static int out_pipe(int *read_end)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		fail(errno, "guest init: pipe: %s", strerror(errno));
	*read_end = p[0];
	return p[1];
}

int main(void)
{
	static struct job j;
	static struct relay rl;
	int out_fd, err_fd, in_fd, ctl_fd, sfd, outr[2] = { -1, -1 };
	unsigned long oom_before;
	sigset_t all;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 && errno != EBUSY)
		return 1; /* no way to report: the kernel panics, the VMM reports the crash */
	port_fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
	if (port_fd < 0)
		return 2;
	report(VZ_STATUS_BOOTED, 0, 0, NULL);
	mounts();
	read_job(&j);
	if (j.hostname && sethostname(j.hostname, strlen(j.hostname)) < 0)
		fail(errno, "guest init: sethostname: %s", strerror(errno));
	if (j.loopback)
		loopback_up();
	if (j.pids)
		pids_limit(j.pids);
	protect_proc();

	ctl_fd = open_tty("/dev/ttyS3", O_RDONLY | O_NONBLOCK);
	if (j.out_tty || j.err_tty)
		outwin_map();
	out_fd = j.out_tty ? out_pipe(&outr[0]) : open("/dev/null", O_WRONLY | O_CLOEXEC);
	err_fd = j.err_tty ? out_pipe(&outr[1]) : open("/dev/null", O_WRONLY | O_CLOEXEC);
	rl.tty = rl.pipe_w = -1;
	if (j.in_tty) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			fail(errno, "guest init: pipe: %s", strerror(errno));
		in_fd = p[0];
		rl.pipe_w = p[1];
		fcntl(rl.pipe_w, F_SETFL, O_NONBLOCK);
		rl.tty = open_tty("/dev/ttyS0", O_RDONLY | O_NONBLOCK);
	} else {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (out_fd < 0 || err_fd < 0 || in_fd < 0)
		fail(errno, "guest init: open /dev/null: %s", strerror(errno));
	readonly_mounts(&j);

	sigemptyset(&all);
	sigaddset(&all, SIGCHLD);
	sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
	oom_before = oom_kills();
	pid = spawn(&j, in_fd, out_fd, err_fd);
	close(in_fd);
	close(out_fd); /* the workload holds the write ends now */
	close(err_fd);
	report(VZ_STATUS_EXEC, 0, 0, NULL);

	for (;;) {
		struct pollfd pf[5] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = ctl_fd, .events = POLLIN },
			{ .fd = rl.pipe_w >= 0 && !rl.eof ? rl.tty : -1,
			  .events = rl.len < sizeof(rl.buf) ? POLLIN : 0 },
			{ .fd = outr[0], .events = POLLIN },
			{ .fd = outr[1], .events = POLLIN },
		};
		struct signalfd_siginfo si;
		int status;
		pid_t w;

		if (rl.len && rl.pipe_w >= 0)
			relay_flush(&rl);
		if (poll(pf, 5, rl.len ? 10 : -1) < 0 && errno != EINTR)
			continue;
		for (int ch = 0; ch < 2; ch++)
			if (pf[3 + ch].revents && relay_out(ch, outr[ch]) <= 0) {
				close(outr[ch]);
				outr[ch] = -1;
			}
		while (read(sfd, &si, sizeof(si)) > 0)
			;
		if (pf[1].revents & POLLIN) {
			uint8_t c[2];
			while (read(ctl_fd, c, 2) == 2)
				if (c[0] == VZ_CTL_SIGNAL && c[1] > 0 && c[1] < 65)
					kill(pid, c[1]);
		}
		if (pf[2].revents & POLLIN)
			relay_read(&rl);
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
			if (oom_kills() > oom_before &&
			    ((reason == VZ_REASON_SIGNALED && value == SIGKILL) ||
			     (reason == VZ_REASON_EXITED && value != 0)))
				reason = VZ_REASON_OUT_OF_MEMORY, value = SIGKILL;
			/* What the workload wrote before it ended; descendants that still hold
			 * the pipes do not keep the sandbox alive. */
			for (int ch = 0; ch < 2; ch++)
				if (outr[ch] >= 0) {
					fcntl(outr[ch], F_SETFL, O_NONBLOCK);
					while (relay_out(ch, outr[ch]) > 0)
						;
				}
			report(VZ_STATUS_EXIT, reason, value,
			       reason == VZ_REASON_OUT_OF_MEMORY ? "killed by the guest kernel's OOM killer" : NULL);
			hang();
		}
	}
}
