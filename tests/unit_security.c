/* SPDX-License-Identifier: MIT */
/* The container child's security pieces: default seccomp filter, capability drop,
 * no_new_privs.
 *
 * A filter and a capability drop cannot be undone, so every case runs its checks in a
 * forked child, which reports through its exit status (failed CHECKs print from there).
 * The denied calls get harmless arguments that would fail with some error other than
 * EPERM without the filter, so EPERM proves the filter answered, and a broken filter
 * cannot do damage. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "security/security.h"
#include "harness.h"

/* Run @fn in a forked child; return the child's wait status. */
static int in_child_status(void (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int before = vzt_failed;

		alarm(60);
		fn();
		fflush(stdout);
		_exit(vzt_failed != before);
	}
	if (!CHECK(pid > 0))
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

static void in_child(void (*fn)(void))
{
	int status = in_child_status(fn);

	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}

static void install(void)
{
	CHECK_INT(vz_sec_seccomp_install(), ==, 0);
}

/* Read a hex field ("CapBnd:") of /proc/self/status-style text. */
static int status_hex(const char *text, const char *key, uint64_t *out)
{
	const char *p = strstr(text, key);

	if (!p)
		return -1;
	*out = strtoull(p + strlen(key), NULL, 16);
	return 0;
}

static void read_status(char *buf, size_t len)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (CHECK(fd >= 0)) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
}

static uint64_t status_field(const char *key)
{
	char buf[8192];
	uint64_t v = UINT64_MAX;

	read_status(buf, sizeof(buf));
	CHECK_MSG(status_hex(buf, key, &v) == 0, "no %s in /proc/self/status", key);
	return v;
}

/* A raw syscall that must fail with @err. */
#define EXPECT_ERR(err, ...)                                                                   \
	do {                                                                                   \
		errno = 0;                                                                     \
		long rc_ = syscall(__VA_ARGS__);                                               \
		int e_ = errno;                                                                \
		CHECK_MSG(rc_ == -1 && e_ == (err), "syscall(%s) = %ld, errno %d, want %d",    \
			  #__VA_ARGS__, rc_, e_, (err));                                         \
	} while (0)

static void seccomp_mode_body(void)
{
	install();
	CHECK_INT(status_field("Seccomp:"), ==, 2);
	CHECK_INT(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), ==, 1);
	/* A second filter stacks; installing twice is allowed. */
	CHECK_INT(vz_sec_seccomp_install(), ==, 0);
	CHECK_INT(vz_sec_seccomp_load(NULL, 0), ==, -EINVAL);
}

static void seccomp_mode(void)
{
	in_child(seccomp_mode_body);
}

static void denied_eperm_body(void)
{
	install();
	EXPECT_ERR(EPERM, SYS_mount, "none", "/nonexistent-vz", "tmpfs", 0, NULL);
	EXPECT_ERR(EPERM, SYS_umount2, "/nonexistent-vz", 0);
	EXPECT_ERR(EPERM, SYS_pivot_root, "/nonexistent-vz", "/nonexistent-vz");
	EXPECT_ERR(EPERM, SYS_fsopen, NULL, 0);
	EXPECT_ERR(EPERM, SYS_open_tree, -1, "", 0);
	EXPECT_ERR(EPERM, SYS_kexec_load, 0, 0, NULL, ~0ul);
	EXPECT_ERR(EPERM, SYS_init_module, NULL, 0, "");
	EXPECT_ERR(EPERM, SYS_finit_module, -1, "", 0);
	EXPECT_ERR(EPERM, SYS_delete_module, "vz-no-such-module", O_NONBLOCK);
	EXPECT_ERR(EPERM, SYS_bpf, -1, NULL, 0);
	EXPECT_ERR(EPERM, SYS_perf_event_open, NULL, 0, -1, -1, 0);
	EXPECT_ERR(EPERM, SYS_io_uring_setup, 0, NULL);
	EXPECT_ERR(EPERM, SYS_userfaultfd, ~0u);
	EXPECT_ERR(EPERM, SYS_keyctl, -1, 0, 0, 0, 0);
	EXPECT_ERR(EPERM, SYS_add_key, NULL, NULL, NULL, 0, 0);
	EXPECT_ERR(EPERM, SYS_request_key, NULL, NULL, NULL, 0);
	EXPECT_ERR(EPERM, SYS_unshare, CLONE_NEWUSER);
	EXPECT_ERR(EPERM, SYS_setns, -1, 0);
	EXPECT_ERR(EPERM, SYS_clock_settime, CLOCK_REALTIME, NULL);
	EXPECT_ERR(EPERM, SYS_reboot, 0, 0, 0, NULL); /* bad magic: harmless */
	EXPECT_ERR(EPERM, SYS_swapon, "/nonexistent-vz", 0);
	EXPECT_ERR(EPERM, SYS_open_by_handle_at, -1, NULL, 0);
	EXPECT_ERR(EPERM, SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0);
	EXPECT_ERR(EPERM, SYS_kcmp, getpid(), getpid(), -1, 0, 0);
	EXPECT_ERR(EPERM, SYS_personality, ADDR_NO_RANDOMIZE);
	EXPECT_ERR(EPERM, 460, 0, NULL, 0, 0); /* lsm_set_self_attr, newer than the headers */
}

static void denied_eperm(void)
{
	in_child(denied_eperm_body);
}

static void ptrace_denied_body(void)
{
	long rc;

	install();
	errno = 0;
	rc = ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
	CHECK_MSG(rc == -1 && errno == EPERM, "ptrace = %ld, errno %d", rc, errno);
	if (rc == 0) {
		/* A broken filter: do not leave the test runner stopped. */
		ptrace(PTRACE_DETACH, getppid(), NULL, NULL);
		kill(getppid(), SIGCONT);
	}
}

static void ptrace_denied(void)
{
	in_child(ptrace_denied_body);
}

static void enosys_body(void)
{
	struct clone_args args = { .exit_signal = SIGCHLD };
	long rc;

	install();
	/* Valid arguments: only the filter can make this ENOSYS. */
	errno = 0;
	rc = syscall(SYS_clone3, &args, sizeof(args));
	if (rc == 0)
		_exit(0);
	CHECK_MSG(rc == -1 && errno == ENOSYS, "clone3 = %ld, errno %d", rc, errno);
	if (rc > 0)
		waitpid((pid_t)rc, NULL, 0);
	/* x32 numbering of getpid. */
	EXPECT_ERR(ENOSYS, 0x40000000 | SYS_getpid);
}

static void clone3_and_x32_enosys(void)
{
	in_child(enosys_body);
}

static void *thread_fn(void *arg)
{
	return arg;
}

static void fork_works_body(void)
{
	pthread_t t;
	void *ret = NULL;
	int status = 0;
	pid_t pid;

	install();
	pid = fork();
	if (pid == 0)
		_exit(42);
	CHECK(pid > 0);
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
	/* glibc creates threads with clone3 and must fall back to clone. */
	CHECK_INT(pthread_create(&t, NULL, thread_fn, &status), ==, 0);
	CHECK_INT(pthread_join(t, &ret), ==, 0);
	CHECK(ret == &status);
}

static void fork_and_threads_work(void)
{
	in_child(fork_works_body);
}

static void clone_ns_body(void)
{
	static const unsigned long ns[] = { CLONE_NEWNET, CLONE_NEWUSER, CLONE_NEWNS,
					    CLONE_NEWPID, CLONE_NEWUTS, CLONE_NEWIPC,
					    CLONE_NEWCGROUP };
	install();
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(ns); i++) {
		long rc;

		errno = 0;
		rc = syscall(SYS_clone, ns[i] | SIGCHLD, 0, NULL, NULL, 0);
		if (rc == 0)
			_exit(0);
		CHECK_MSG(rc == -1 && errno == EPERM, "clone(%#lx) = %ld, errno %d", ns[i], rc,
			  errno);
		if (rc > 0)
			waitpid((pid_t)rc, NULL, 0);
	}
}

static void clone_ns_denied(void)
{
	in_child(clone_ns_body);
}

static void ordinary_body(void)
{
	pid_t pid = getpid();
	char buf[8192];
	int fds[2];
	void *p;

	install();
	CHECK_INT(syscall(SYS_getpid), ==, pid);
	read_status(buf, sizeof(buf));
	CHECK(strstr(buf, "Name:") != NULL);
	CHECK_INT(pipe2(fds, O_CLOEXEC), ==, 0);
	CHECK_INT(write(fds[1], "vz", 2), ==, 2);
	CHECK_INT(read(fds[0], buf, 2), ==, 2);
	close(fds[0]);
	close(fds[1]);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK_INT(munmap(p, 4096), ==, 0);
	/* name_to_handle_at stays allowed: any answer but EPERM (EOVERFLOW asks for room). */
	{
		struct file_handle fh = { .handle_bytes = 0 };
		int mount_id;

		errno = 0;
		CHECK(name_to_handle_at(AT_FDCWD, "/", &fh, &mount_id, 0) == 0 || errno != EPERM);
	}
	/* The personality query and PER_LINUX stay allowed. */
	CHECK_INT(syscall(SYS_personality, 0xffffffffu), !=, -1);
	CHECK_INT(syscall(SYS_personality, 0), !=, -1);
}

static void ordinary_calls_work(void)
{
	in_child(ordinary_body);
}

/* Give @sig its default action with the raw system call. A sanitizer runtime (ASan's
 * handle_segv) catches SIGSEGV, SIGBUS and SIGFPE with handlers that report a crash and
 * exit with status 1, and its sigaction() interceptor may ignore a program's change to
 * them; the kernel's own rt_sigaction goes past both. */
static void default_action(int sig)
{
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} ksa = { SIG_DFL, 0, NULL, 0 };

	CHECK_INT(syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask)), ==, 0);
}

static void i386_body(void)
{
	struct rlimit no_core = { 0, 0 };
	long ret = 20; /* i386 getpid */

	setrlimit(RLIMIT_CORE, &no_core);
	/* A kernel without IA32 emulation (or with it off: ia32_emulation=0) answers int 0x80
	 * with a general protection fault, SIGSEGV: that must kill this child by the signal,
	 * as it does without sanitizers, so that the parent sees a skip, not a crash. */
	default_action(SIGSEGV);
	default_action(SIGBUS);
	default_action(SIGILL);
	default_action(SIGFPE);
	install();
	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	CHECK_MSG(0, "i386 syscall returned %ld", ret);
}

static void i386_abi_killed(void)
{
	int status = in_child_status(i386_body);

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) {
		vz_test_skip(NULL, "kernel without IA32 emulation (int 0x80 raised SIGSEGV)");
		return;
	}
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "child status 0x%x", status);
}

static uint64_t host_bnd;

static void caps_body(void)
{
	uint64_t want = VZ_SEC_DEFAULT_CAPS & host_bnd;

	CHECK_INT(vz_sec_caps_drop(), ==, 0);
	CHECK_INT(status_field("CapBnd:"), ==, want);
	CHECK_INT(status_field("CapEff:") & ~want, ==, 0);
	CHECK_INT(status_field("CapPrm:") & ~want, ==, 0);
	CHECK_INT(status_field("CapInh:") & ~want, ==, 0);
	CHECK_INT(status_field("CapAmb:"), ==, 0);
	CHECK_INT(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0), ==, 0);
	CHECK_INT(prctl(PR_CAPBSET_READ, CAP_SYS_PTRACE, 0, 0, 0), ==, 0);
	CHECK_INT(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), ==, !!(host_bnd & 1));
	/* Idempotent, and the filter still loads without CAP_SYS_ADMIN (no_new_privs). */
	CHECK_INT(vz_sec_caps_drop(), ==, 0);
	install();
	CHECK_INT(status_field("NoNewPrivs:"), ==, 1);
}

static int need_root(void)
{
	if (geteuid() != 0) {
		vz_test_skip("root", "capability drop needs root");
		return 0;
	}
	host_bnd = status_field("CapBnd:");
	return 1;
}

static void caps_drop_default(void)
{
	if (need_root())
		in_child(caps_body);
}

/* After the drop and the filter, root's execve gets exactly the default set. */
static void exec_body(void)
{
	char *const argv[] = { "cat", "/proc/self/status", NULL };
	char buf[8192];
	size_t len = 0;
	ssize_t n;
	uint64_t eff = UINT64_MAX;
	int fds[2];
	pid_t pid;

	CHECK_INT(vz_sec_caps_drop(), ==, 0);
	install();
	CHECK_INT(pipe2(fds, 0), ==, 0);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execv("/bin/cat", argv);
		_exit(127);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	waitpid(pid, NULL, 0);
	CHECK_MSG(status_hex(buf, "CapEff:", &eff) == 0, "no CapEff from cat: %s", buf);
	CHECK_INT(eff, ==, VZ_SEC_DEFAULT_CAPS & host_bnd);
}

static void exec_after_drop(void)
{
	if (need_root())
		in_child(exec_body);
}

static const struct vzt_case cases[] = {
	VZT_CASE(seccomp_mode),
	VZT_CASE(denied_eperm),
	VZT_CASE(ptrace_denied),
	VZT_CASE(clone3_and_x32_enosys),
	VZT_CASE(fork_and_threads_work),
	VZT_CASE(clone_ns_denied),
	VZT_CASE(ordinary_calls_work),
	VZT_CASE(i386_abi_killed),
	VZT_CASE(caps_drop_default),
	VZT_CASE(exec_after_drop),
};

VZ_TEST_MAIN(cases)
