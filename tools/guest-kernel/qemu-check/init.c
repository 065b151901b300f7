/*
 * Minimal static /init for checking libvz's guest kernel.
 *
 * Stage 1 (no argument): mount /proc and /dev, print the boot uptime, the
 * CPU flags the kernel uses and the CPUID user mode sees, run a few system
 * calls (getpid, write, fork + wait, pipe, clock_gettime through the vDSO,
 * an AF_UNIX socketpair, a tmpfs mount, unshare of namespaces), time a
 * trivial system call, check YMM state across task switches, then execve()
 * itself with the arguments "stage2" and the failure count.
 * Stage 2: print that exec worked, then report the result: the status byte is
 * written to I/O port 0xf4 with outb after ioperm (QEMU's isa-debug-exit turns it
 * into its exit code: (status << 1) | 1), and if the VM is still running the
 * kernel is asked to reboot (on x86 without ACPI: 0xFE to port 0x64).
 *
 * Every line starts with "vzcheck: " so the host script can find it.
 * Build: gcc -static -O2 -o init init.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_PORT 0xf4

static int failures;

static void out(const char *fmt, ...)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "vzcheck: ");
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* Raw write(2): one of the system calls under test. */
	if (write(1, buf, n) != n)
		failures++;
}

static void check(int ok, const char *what)
{
	if (!ok) {
		failures++;
		out("FAIL %s (errno %d: %s)", what, errno, strerror(errno));
	} else {
		out("ok   %s", what);
	}
}

static void console(void)
{
	/* The kernel opens /dev/console for init if the initramfs has it;
	 * otherwise fall back to ttyS0 on devtmpfs. */
	if (fcntl(1, F_GETFD) == -1) {
		mkdir("/dev", 0755);
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
		int fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
		if (fd < 0)
			fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
}

static void finish(void)
{
	unsigned char status = failures ? 1 : 0;

	out("%s (%d failures)", failures ? "FAIL" : "PASS", failures);
	tcdrain(1);	/* the console drains by interrupt: let it finish first */
	/* The guest kernel has no /dev/port: the port is written directly (ioperm). */
	if (ioperm(EXIT_PORT, 1, 1) == 0)
		__asm__ volatile("outb %0, %1" : : "a"(status), "Nd"((unsigned short)EXIT_PORT));
	else
		out("ioperm(0x%x): %s", EXIT_PORT, strerror(errno));
	sync();
	reboot(RB_AUTOBOOT);
	out("reboot failed: %s", strerror(errno));
	for (;;)
		pause();
}

static double uptime(void)
{
	char buf[64] = "";
	int fd = open("/proc/uptime", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
	}
	return atof(buf);
}

/* The CPU features the guest kernel ended up using (for the host script). */
static void print_cpu_flags(void)
{
	static char buf[16384];
	ssize_t n = 0, r;
	int fd = open("/proc/cpuinfo", O_RDONLY);

	if (fd < 0)
		return;
	while (n < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	char *f = strstr(buf, "\nflags");
	if (!f)
		return;
	f = strchr(f, ':');
	char *end = f ? strchr(f, '\n') : NULL;
	if (f && end) {
		*end = 0;
		out("cpu flags%s", f + 1);
	}
}

/* What user mode sees: on kvm_pvm guest user code runs natively, so this can
 * differ from the kernel's view above. */
static void print_user_cpuid(void)
{
	unsigned a, b, c, d, b7 = 0, c7 = 0, d7 = 0;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	unsigned c1 = c, d1 = d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b7), "=c"(c7), "=d"(d7) : "a"(7), "c"(0));
	out("user cpuid 1: ecx=%08x edx=%08x  7.0: ebx=%08x ecx=%08x edx=%08x", c1, d1,
	    b7, c7, d7);
	if (c1 & (1u << 27)) {		/* OSXSAVE: XGETBV is allowed */
		unsigned lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		out("user xgetbv(0) = %08x%08x", hi, lo);
	}
}

/*
 * If user mode may use AVX (CPUID OSXSAVE + XCR0 YMM), check that the upper
 * halves of the YMM registers survive guest context switches: two processes
 * put different values in ymm0 and yield to each other. Reported as a note,
 * not a failure: on kvm_pvm guest user code sees the host's XCR0 while a
 * kernel booted with "noxsave" only saves the legacy (FXSAVE) state.
 */
static int avx_usable(void)
{
	unsigned a, b, c, d, lo, hi;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

static int ymm_survives(unsigned char fill)
{
	unsigned char in[32], back[32];
	int i, ok = 1;

	memset(in, fill, sizeof(in));
	__asm__ volatile("vmovdqu %0, %%ymm0" : : "m"(in) : "xmm0");
	for (i = 0; i < 200 && ok; i++) {
		sched_yield();
		__asm__ volatile("vmovdqu %%ymm0, %0" : "=m"(back) : : "memory");
		ok = memcmp(in, back, sizeof(in)) == 0;
	}
	return ok;
}

static void check_ymm(void)
{
	int status;
	pid_t pid;

	if (!avx_usable()) {
		out("note AVX not usable in user mode; YMM check skipped");
		return;
	}
	pid = fork();
	if (pid == 0)
		_exit(ymm_survives(0x5a) ? 0 : 1);
	int ok = ymm_survives(0xa5);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		ok = 0;
	out("%s YMM upper halves %s across guest context switches", ok ? "ok  " : "note",
	    ok ? "preserved" : "NOT preserved (user AVX state is corrupted by task switches)");
}

static void stage1(char *self)
{
	struct timespec ts;
	int p[2], sv[2], status;
	char c = 0;
	pid_t pid;

	mkdir("/proc", 0555);
	check(mount("proc", "/proc", "proc", 0, NULL) == 0, "mount /proc");
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY)
		check(0, "mount /dev (devtmpfs)");
	out("init started, uptime %.3f s", uptime());

	print_cpu_flags();
	print_user_cpuid();
	check(getpid() == 1, "getpid() == 1");
	check(syscall(SYS_getppid) == 0, "getppid() == 0 (raw syscall)");
	check(clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec >= 0,
	      "clock_gettime (vDSO)");
	{
		/* Cost of a trivial system call (on kvm_pvm: #PF + emulation). */
		struct timespec a, b;
		double ns;
		long i, n = 0;

		clock_gettime(CLOCK_MONOTONIC, &a);
		do {	/* at least 50 ms: the clock may tick coarsely (TCG) */
			for (i = 0; i < 100; i++)
				syscall(SYS_getppid);
			n += 100;
			clock_gettime(CLOCK_MONOTONIC, &b);
			ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
		} while (ns < 50e6 && n < 10000000);
		out("note getppid() takes %.2f us (%ld calls)", ns / n / 1e3, n);
	}

	pid = fork();
	if (pid == 0)
		_exit(42);
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 42,
	      "fork + waitpid (exit 42)");

	check(pipe(p) == 0 && write(p[1], "x", 1) == 1 && read(p[0], &c, 1) == 1 &&
		      c == 'x',
	      "pipe");
	check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 &&
		      write(sv[0], "y", 1) == 1 && read(sv[1], &c, 1) == 1 && c == 'y',
	      "AF_UNIX socketpair");
	mkdir("/tmp", 01777);
	check(mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") == 0, "mount tmpfs");

	pid = fork();
	if (pid == 0) {
		/* In a new PID namespace the first child is PID 1 there. */
		if (unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID) != 0)
			_exit(2);
		pid_t inner = fork();
		if (inner == 0)
			_exit(getpid() == 1 ? 0 : 3);
		int st;
		if (inner < 0 || waitpid(inner, &st, 0) != inner)
			_exit(4);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 5);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "unshare(UTS|IPC|NET|PID) + fork");
	check_ymm();

	char nfail[16];
	snprintf(nfail, sizeof(nfail), "%d", failures);
	char *argv[] = { self, "stage2", nfail, NULL };
	char *envp[] = { "VZCHECK=1", NULL };
	execve(self, argv, envp);
	check(0, "execve");
	finish();
}

int main(int argc, char **argv)
{
	console();
	if (argc > 2 && strcmp(argv[1], "stage2") == 0) {
		const char *e = getenv("VZCHECK");

		failures = atoi(argv[2]);	/* carried over from stage 1 */
		check(e && strcmp(e, "1") == 0, "execve of itself (stage2)");
		out("uptime at end %.3f s", uptime());
		finish();
	}
	stage1(argv[0][0] == '/' ? argv[0] : "/init");
	return 0;
}
