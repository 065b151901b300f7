/* SPDX-License-Identifier: MIT */
/* The conformance suite: every scenario is written once over the public API and runs on
 * every backend this host offers (VZ_TEST_BACKEND=container|vm selects one). A backend
 * that is unavailable skips with its reason; a scenario that cannot mean the same on a
 * backend says why. */
#define _GNU_SOURCE /* posix_openpt, ptsname */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <vz/vz.h>

#include "harness.h"

static vz_backend cur;	      /* backend of the running case */
static const char *cur_feature; /* "container" or "kvm", for VZ_TEST_REQUIRE */

struct run {
	vz_result res;
	char out[65536], err[65536];
	size_t nout, nerr;
	int rc; /* first failing libvz call, or 0 */
};

struct opts {
	const char *rootfs;
	int64_t memory, pids, wall_ms;
	const char *env_name, *env_value, *cwd, *hostname;
	int uid, gid; /* -1 = default */
	int rootfs_mode;
	const char *bind_src, *bind_dst;
	unsigned bind_flags;
	const char *bind2_src, *bind2_dst; /* a second bind, read-only */
	const char *upper_dir;		   /* VZ_ROOTFS_PERSISTENT */
	const char *input;
	int stdin_inherit; /* stdin is the test process's own fd 0 */
	struct {
		const char *src, *dst;
		unsigned flags;
	} more[4]; /* further binds, each with its flags */
	/* Once stdout holds @ready: on_ready(ready_arg), then "go\n" on stdin and stdin
	 * closed (stdin is a pipe held open until then), for a host action while the
	 * sandbox runs. */
	const char *ready;
	void (*on_ready)(void *);
	void *ready_arg;
	/* Called after vz_sandbox_wait() returned, before vz_sandbox_free(). */
	void (*after_wait)(void *);
	void *after_wait_arg;
};

/* cgroup limits need root (or a delegated cgroup); an unprivileged run skips them. */
static int need_cgroups(void)
{
	if (geteuid() == 0)
		return 1;
	vz_test_skip(NULL, "cgroup limits need root or a cgroup delegated to uid %u",
		     (unsigned)geteuid());
	return 0;
}

static void drain(int fd, char *buf, size_t *len, size_t cap, int *open)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n <= 0) {
		*open = 0;
		return;
	}
	if (*len + (size_t)n < cap) {
		memcpy(buf + *len, tmp, (size_t)n);
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

/* Create, start, feed stdin, drain stdout and stderr with poll (never deadlocks on
 * large outputs), wait. */
static int run_argv(const struct opts *o, int argc, const char *const *argv, struct run *r)
{
	vz_config *cfg = NULL;
	vz_sandbox *sb = NULL;
	int rc, fo, fe, fi = -1, oo = 1, eo = 1;
	int wait_ms = o && o->wall_ms > 120000 ? (int)o->wall_ms : 120000;

	memset(r, 0, sizeof(*r));
	r->res.size = sizeof(r->res);
	if ((rc = vz_config_new(&cfg)) ||
	    (rc = vz_config_set_rootfs(cfg, o && o->rootfs ? o->rootfs : VZ_TEST_ROOTFS)) ||
	    (rc = vz_config_set_argv(cfg, argc, argv)) ||
	    (rc = vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_PIPE, -1)) ||
	    (rc = vz_config_set_stdio(cfg, VZ_STDERR, VZ_STDIO_PIPE, -1)) ||
	    (rc = vz_config_set_stdio(cfg, VZ_STDIN,
				      o && (o->input || o->on_ready) ? VZ_STDIO_PIPE
				      : o && o->stdin_inherit ? VZ_STDIO_INHERIT : VZ_STDIO_NULL, -1)))
		goto out;
	if (o && o->env_name && (rc = vz_config_setenv(cfg, o->env_name, o->env_value)))
		goto out;
	if (o && o->cwd && (rc = vz_config_set_cwd(cfg, o->cwd)))
		goto out;
	if (o && o->hostname && (rc = vz_config_set_hostname(cfg, o->hostname)))
		goto out;
	if (o && o->uid >= 0 && (o->uid || o->gid) && (rc = vz_config_set_user(cfg, (uint32_t)o->uid, (uint32_t)o->gid)))
		goto out;
	if (o && o->rootfs_mode && (rc = vz_config_set_rootfs_mode(cfg, o->rootfs_mode, o->upper_dir)))
		goto out;
	if (o && o->bind_src && (rc = vz_config_add_bind(cfg, o->bind_src, o->bind_dst, o->bind_flags)))
		goto out;
	if (o && o->bind2_src && (rc = vz_config_add_bind(cfg, o->bind2_src, o->bind2_dst, VZ_BIND_RO)))
		goto out;
	for (size_t i = 0; o && i < VZ_ARRAY_SIZE_T(o->more) && o->more[i].src; i++)
		if ((rc = vz_config_add_bind(cfg, o->more[i].src, o->more[i].dst, o->more[i].flags)))
			goto out;
	if ((rc = vz_sandbox_create(&sb, cur, cfg)))
		goto out;
	if ((o && o->memory && (rc = vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, o->memory))) ||
	    (o && o->pids && (rc = vz_sandbox_limit(sb, VZ_LIMIT_PIDS, o->pids))) ||
	    (rc = vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, o && o->wall_ms ? o->wall_ms : 120000)) ||
	    (rc = vz_sandbox_start(sb)))
		goto out;
	if (o && o->input) {
		fi = vz_sandbox_stdio_fd(sb, VZ_STDIN);
		if (write(fi, o->input, strlen(o->input)) < 0)
			rc = -1;
		vz_sandbox_close_stdio(sb, VZ_STDIN);
		fi = -1;
	} else if (o && o->on_ready) {
		fi = vz_sandbox_stdio_fd(sb, VZ_STDIN);
	}
	fo = vz_sandbox_stdio_fd(sb, VZ_STDOUT);
	fe = vz_sandbox_stdio_fd(sb, VZ_STDERR);
	while (oo || eo) {
		struct pollfd p[2] = { { oo ? fo : -1, POLLIN, 0 }, { eo ? fe : -1, POLLIN, 0 } };
		if (poll(p, 2, wait_ms) <= 0)
			break;
		if (p[0].revents)
			drain(fo, r->out, &r->nout, sizeof(r->out), &oo);
		if (fi >= 0 && strstr(r->out, o->ready)) {
			o->on_ready(o->ready_arg);
			if (write(fi, "go\n", 3) != 3)
				printf("#   stdin: %s\n", strerror(errno));
			vz_sandbox_close_stdio(sb, VZ_STDIN);
			fi = -1;
		}
		if (p[1].revents)
			drain(fe, r->err, &r->nerr, sizeof(r->err), &eo);
	}
	rc = vz_sandbox_wait(sb, wait_ms, &r->res);
	if (!rc && o && o->after_wait)
		o->after_wait(o->after_wait_arg);
out:
	if (rc)
		printf("#   libvz: %s\n", vz_error_last()->message);
	r->rc = rc;
	vz_sandbox_free(sb);
	vz_config_free(cfg);
	return rc;
}

static int run_sh(const struct opts *o, const char *script, struct run *r)
{
	const char *argv[] = { "/bin/sh", "-c", script };
	return run_argv(o, 3, argv, r);
}

#define EXPECT_EXIT(r, code)                                                                   \
	do {                                                                                   \
		CHECK_INT((r).rc, ==, 0);                                                      \
		CHECK_MSG((r).res.reason == VZ_REASON_EXITED, "reason %s (%s), stderr: %s",    \
			  vz_reason_name((r).res.reason), (r).res.message, (r).err);           \
		CHECK_INT((r).res.exit_code, ==, code);                                        \
	} while (0)

static void t_stdout_stderr_apart(void)
{
	struct run r;
	run_sh(NULL, "echo out; echo err >&2; echo out2", &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "out\nout2\n");
	CHECK_STR(r.err, "err\n");
}

static void t_stdin_pipe(void)
{
	struct run r;
	struct opts o = { .uid = -1, .input = "line one\nline two\n" };
	const char *argv[] = { "cat" };
	run_argv(&o, 1, argv, &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "line one\nline two\n");
}

static void t_large_output(void)
{
	struct run r;
	/* ~200 KiB on each stream at once: more than a pipe buffer, both must be drained. */
	run_sh(NULL, "i=0; while [ $i -lt 4000 ]; do echo 0123456789012345678901234567890123456789012; echo e0123456789012345678901234567890123456789012 >&2; i=$((i+1)); done; echo done", &r);
	EXPECT_EXIT(r, 0);
	CHECK(r.nout > 1000);
	CHECK(r.nerr > 1000);
}

static void t_exit_codes(void)
{
	static const int codes[] = { 0, 1, 42, 255 };
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(codes); i++) {
		char script[32];
		struct run r;
		snprintf(script, sizeof(script), "exit %d", codes[i]);
		run_sh(NULL, script, &r);
		EXPECT_EXIT(r, codes[i]);
		CHECK_INT(r.res.signal, ==, 0);
	}
}

static void t_exit_137_by_itself(void)
{
	struct run r;
	run_sh(NULL, "exit 137", &r);
	EXPECT_EXIT(r, 137);
}

static void t_signal_death(void)
{
	struct run r;
	run_sh(NULL, "kill -SEGV $$", &r);
	CHECK_INT(r.res.reason, ==, VZ_REASON_SIGNALED);
	CHECK_INT(r.res.signal, ==, SIGSEGV);
	CHECK_INT(r.res.exit_code, ==, 128 + SIGSEGV);
}

static void t_env_cwd_hostname_user(void)
{
	struct run r;
	struct opts o = { .uid = 1000, .gid = 1001, .env_name = "FOO", .env_value = "bar baz",
			  .cwd = "/tmp", .hostname = "box-1" };
	run_sh(&o, "echo \"$FOO|$(pwd)|$(hostname)|$(id -u):$(id -g)\"", &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "bar baz|/tmp|box-1|1000:1001\n");
}

static char *copy_rootfs(char *dir)
{
	char cmd[512];
	strcpy(dir, "/tmp/vz-conf-XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/", VZ_TEST_ROOTFS, dir);
	return system(cmd) == 0 ? dir : NULL;
}

static void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("#   could not remove %s\n", dir);
}

static void t_rootfs_unchanged(void)
{
	char dir[64], path[128], buf[64] = "";
	struct run r;
	struct opts o = { .uid = -1 };
	struct stat st;
	int fd;

	if (!CHECK(copy_rootfs(dir)))
		return;
	o.rootfs = dir;
	run_sh(&o, "echo new > /newfile && echo changed > /etc/hostname && rm /bin/true && "
		   "cat /newfile /etc/hostname", &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "new\nchanged\n");
	snprintf(path, sizeof(path), "%s/newfile", dir);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/bin/true", dir);
	CHECK(lstat(path, &st) == 0);
	snprintf(path, sizeof(path), "%s/etc/hostname", dir);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0);
	CHECK_STR(buf, "vz\n");
	if (fd >= 0)
		close(fd);
	rm_rf(dir);
}

static void t_readonly_rootfs(void)
{
	struct run r;
	struct opts o = { .uid = -1, .rootfs_mode = VZ_ROOTFS_READONLY };
	run_sh(&o, "touch /x 2>/dev/null && echo wrote-root; touch /tmp/y && echo tmp-ok", &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "tmp-ok\n");
}

/* Write "hi\n" to DIR/hello: the content a bind shows the sandbox. */
static void write_hello(const char *dir)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/hello", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "hi\n", 3) == 3);
	if (fd >= 0)
		close(fd);
}

static void t_binds(void)
{
	char dir[] = "/tmp/vz-bind-XXXXXX", path[128];
	struct run r;
	struct opts o = { .uid = -1, .bind_dst = "/data" };
	struct stat st;

	if (!CHECK(mkdtemp(dir)))
		return;
	write_hello(dir);
	o.bind_src = dir;
	o.bind_flags = VZ_BIND_RO;
	run_sh(&o, "cat /data/hello; touch /data/new 2>/dev/null && echo wrote", &r);
	if (r.rc == VZ_ENOTSUP) {
		vz_test_skip(NULL, "bind mounts: %s", vz_error_last()->message);
		rm_rf(dir);
		return;
	}
	EXPECT_EXIT(r, 1);
	CHECK_STR(r.out, "hi\n");
	o.bind_flags = VZ_BIND_RW;
	run_sh(&o, "echo inside > /data/new", &r);
	if (cur == VZ_BACKEND_VM && r.rc == VZ_ENOTSUP) {
		/* Read-only binds work (copied in); writes through to the host need a
		 * shared file system the VM backend does not have yet. */
		vz_test_skip(NULL, "vm: read-write binds: %s", vz_error_last()->message);
		rm_rf(dir);
		return;
	}
	EXPECT_EXIT(r, 0);
	snprintf(path, sizeof(path), "%s/new", dir);
	CHECK(stat(path, &st) == 0 && st.st_size == 7);
	rm_rf(dir);
}

static void t_memory_limit_oom(void)
{
	if (!need_cgroups())
		return;
	struct run r;
	/* A VM's memory limit is its RAM, and a guest kernel needs some for itself. */
	struct opts o = { .uid = -1, .memory = cur == VZ_BACKEND_VM ? 96 << 20 : 32 << 20,
			  .wall_ms = 300000 };
	const char *argv[] = { "tail", "/dev/zero" };
	run_argv(&o, 2, argv, &r);
	CHECK_INT(r.rc, ==, 0);
	CHECK_MSG(r.res.reason == VZ_REASON_OUT_OF_MEMORY, "reason %s", vz_reason_name(r.res.reason));
	CHECK(r.res.peak_memory_bytes > (16u << 20));
}


static void t_pids_limit_fork_bomb(void)
{
	if (!need_cgroups())
		return;
	struct run r;
	/* A VM first boots: its wall time must cover that (tens of seconds on kvm_pvm). */
	struct opts o = { .uid = -1, .pids = 16, .wall_ms = cur == VZ_BACKEND_VM ? 120000 : 3000 };
	/* Many more children than the limit allows; count the ones that started. */
	/* The children outlive the loop even where forks are slow (a VM on kvm_pvm). */
	run_sh(&o, "n=0; for i in $(seq 40); do sleep 60 & [ $? = 0 ] && n=$((n+1)); done 2>/dev/null;"
		   " echo $n; ls /proc | grep -c '^[0-9]'", &r);
	CHECK_INT(r.rc, ==, 0);
	CHECK_MSG(r.res.reason == VZ_REASON_EXITED || r.res.reason == VZ_REASON_TIMED_OUT,
		  "reason %s", vz_reason_name(r.res.reason));
	if (r.nout) {
		int started = atoi(r.out), procs = atoi(strchr(r.out, '\n') ? strchr(r.out, '\n') + 1 : "0");
		CHECK_MSG(started < 40, "all %d forks succeeded under a pids limit of 16", started);
		CHECK_MSG(procs <= 16, "%d processes under a pids limit of 16", procs);
	}
}


static void t_wall_time(void)
{
	struct run r;
	struct opts o = { .uid = -1, .wall_ms = 500 };
	const char *argv[] = { "sleep", "30" };
	run_argv(&o, 2, argv, &r);
	CHECK_INT(r.rc, ==, 0);
	CHECK_INT(r.res.reason, ==, VZ_REASON_TIMED_OUT);
	CHECK(r.res.wall_ns >= 400000000ull && r.res.wall_ns < 10000000000ull);
}

static void kill_case(int sig)
{
	vz_config *cfg;
	vz_sandbox *sb;
	vz_result res = { .size = sizeof(res) };
	const char *argv[] = { "sleep", "30" };

	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
	CHECK_OK(vz_config_set_argv(cfg, 2, argv));
	CHECK_OK(vz_sandbox_create(&sb, cur, cfg));
	CHECK_OK(vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, 120000));
	CHECK_OK(vz_sandbox_start(sb));
	CHECK_INT(vz_sandbox_wait(sb, 0, &res), ==, VZ_ETIMEDOUT);
	CHECK_OK(vz_sandbox_kill(sb, sig));
	CHECK_OK(vz_sandbox_wait(sb, 30000, &res));
	CHECK_INT(res.reason, ==, VZ_REASON_KILLED);
	CHECK_INT(res.signal, ==, sig);
	CHECK_INT(vz_sandbox_kill(sb, sig), ==, VZ_ESTATE);
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

static void t_kill_term(void)
{
	kill_case(SIGTERM);
}

static void t_kill_kill(void)
{
	kill_case(SIGKILL);
}

static void t_host_invisible(void)
{
	struct run r;
	char script[256];
	snprintf(script, sizeof(script),
		 "ls /proc | grep -c '^[0-9]'; [ -e /proc/%d ] && echo host-pid-visible; "
		 "ls /sys/class/net | tr '\\n' ' '; echo", (int)getpid());
	run_sh(NULL, script, &r);
	EXPECT_EXIT(r, 0);
	/* A VM's /proc lists its own kernel's threads too; none of the host's. */
	CHECK_MSG(atoi(r.out) <= (cur == VZ_BACKEND_VM ? 60 : 5), "%d processes visible: %s",
		  atoi(r.out), r.out);
	CHECK(strstr(r.out, "host-pid-visible") == NULL);
	CHECK_MSG(strstr(r.out, "\nlo \n") != NULL, "interfaces: %s", r.out);
}

static void t_privileged_ops_refused(void)
{
	struct run r;
	/* mount, module loading (insmod -> finit_module/init_module), kexec and ptrace of
	 * outsiders are all refused; busybox prints the errno text. */
	run_sh(NULL, "mount -t tmpfs none /mnt 2>&1; echo mount=$?; "
		     "insmod /bin/busybox 2>&1; echo insmod=$?; "
		     "echo 1 > /proc/sys/kernel/kexec_load_disabled 2>&1; echo kexec=$?; "
		     "echo c > /proc/sysrq-trigger 2>&1; echo sysrq=$?", &r);
	CHECK_INT(r.rc, ==, 0);
	CHECK_MSG(strstr(r.out, "mount=0") == NULL, "%s", r.out);
	CHECK_MSG(strstr(r.out, "insmod=0") == NULL, "%s", r.out);
	/* Refused for lack of privilege, not for some incidental reason. The seccomp
	 * filter's refusals of kexec_load and ptrace are checked syscall by syscall in
	 * unit_security. */
	CHECK_MSG(strstr(r.out, "mount: permission denied") != NULL, "%s", r.out);
	CHECK_MSG(strstr(r.out, "Operation not permitted") != NULL, "%s", r.out);
	CHECK_MSG(strstr(r.out, "kexec=0") == NULL, "%s", r.out);
	CHECK_MSG(strstr(r.out, "sysrq=0") == NULL, "%s", r.out);
}

/* Leak check: children, fds, mounts and libvz cgroups before and after. */
static int count_dir(const char *path, const char *match)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && (!match || strstr(e->d_name, match)))
			n++;
	closedir(d);
	return n;
}

/* Entries of /tmp named vz-*, but for those test programs make themselves (other test
 * programs may run at the same time: only what libvz would leave counts). */
static int count_vz_tmp(void)
{
	static const char *const tests[] = { "vz-conf", "vz-api", "vz-bench", "vz-bind",
					     "vz-unit", "vz-vmtest", "vz-fuzz" };
	DIR *d = opendir("/tmp");
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		bool test = false;
		if (strncmp(e->d_name, "vz-", 3))
			continue;
		for (size_t i = 0; i < VZ_ARRAY_SIZE_T(tests); i++)
			test = test || !strncmp(e->d_name, tests[i], strlen(tests[i]));
		n += !test;
	}
	closedir(d);
	return n;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int count_children(void)
{
	char path[64], buf[256];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	return buf[0] ? 1 : 0;
}

static int count_cgroups(void)
{
	char me[32];
	snprintf(me, sizeof(me), "sb-%d-", (int)getpid());
	return count_dir("/sys/fs/cgroup/libvz", me) + count_dir("/sys/fs/cgroup/memory/libvz", me) +
	       count_dir("/sys/fs/cgroup/pids/libvz", me) + count_dir("/sys/fs/cgroup/cpu/libvz", me) +
	       count_dir("/sys/fs/cgroup/cpuacct/libvz", me) +
	       count_dir("/sys/fs/cgroup/devices/libvz", me);
}

/* ---- Isolation: what a hostile workload tries against the host ---------------------- */

#define PROBE "/vzprobe/vz-probe"

static int dir_empty(const char *path)
{
	return count_dir(path, NULL) == 0;
}

/* The workload must never share a terminal session with the host: a program given the
 * caller's terminal pushed a command into the caller's shell with TIOCSTI (bubblewrap's
 * CVE-2017-5226). A child of the test leads a session whose controlling terminal is a
 * pty, runs the probe with that terminal as stdin, and reads back what the pty got. */
static void t_terminal_injection(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), status = 0;
	pid_t pid;

	if (!CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct opts o = { .uid = -1, .stdin_inherit = 1, .bind_src = VZ_TEST_PROBE_DIR,
				  .bind_dst = "/vzprobe", .bind_flags = VZ_BIND_RO };
		const char *argv[] = { PROBE, "tiocsti" };
		struct termios tio;
		struct run r;
		char buf[256];
		int slave;
		ssize_t n;

		setsid();
		slave = open(ptsname(master), O_RDWR); /* becomes the controlling terminal */
		if (slave < 0 || tcgetattr(slave, &tio) < 0)
			_exit(2);
		cfmakeraw(&tio);
		tcsetattr(slave, TCSANOW, &tio);
		dup2(slave, 0);
		run_argv(&o, 2, argv, &r);
		printf("#   probe: %s", r.out);
		if (r.rc || r.res.reason != VZ_REASON_EXITED)
			_exit(2);
		/* In raw mode pushed bytes are readable at once. */
		fcntl(slave, F_SETFL, O_NONBLOCK);
		n = read(slave, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			printf("#   the terminal received: %s\n", buf);
			_exit(1);
		}
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) != 1,
		  "the sandbox pushed input into the caller's terminal");
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "terminal case failed: status %#x",
		  status);
	close(master);
}

/* Attach @file to a free loop device; returns its number or -1. */
static int loop_attach(const char *file, int *loopfd)
{
	char dev[32];
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), n, fd;

	*loopfd = -1;
	if (ctl < 0)
		return -1;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -1;
	snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	*loopfd = open(dev, O_RDWR | O_CLOEXEC);
	fd = open(file, O_RDWR | O_CLOEXEC);
	if (*loopfd < 0 || fd < 0 || ioctl(*loopfd, LOOP_SET_FD, fd) < 0) {
		if (fd >= 0)
			close(fd);
		if (*loopfd >= 0)
			close(*loopfd);
		*loopfd = -1;
		return -1;
	}
	close(fd);
	return n;
}

/* Does the host's kernel log hold @marker? */
static int kmsg_has(const char *marker)
{
	char rec[8192];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), found = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, rec, sizeof(rec) - 1)) != 0) {
		if (n < 0) {
			if (errno == EPIPE) /* overwritten records: go on */
				continue;
			break;
		}
		rec[n] = '\0';
		found |= strstr(rec, marker) != NULL;
	}
	close(fd);
	return found;
}

/* Run as root, a workload once kept CAP_MKNOD with no device rule and no nodev: a node
 * for a host loop device gave read-write access to the file behind it, and one for
 * /dev/kmsg (char 1:11) wrote into the host's kernel log. */
static void t_host_devices(void)
{
	char file[] = "/tmp/vz-conf-loop-XXXXXX", script[512], marker[64], buf[64] = "";
	struct opts o = { .uid = -1, .bind_src = VZ_TEST_PROBE_DIR, .bind_dst = "/vzprobe",
			  .bind_flags = VZ_BIND_RO };
	int fd, loopfd, n;
	struct run r;

	if (geteuid() != 0) {
		vz_test_skip(NULL, "device nodes of the host: the case needs root on the host");
		return;
	}
	snprintf(marker, sizeof(marker), "vz-conformance-kmsg-%d-%ld", (int)getpid(),
		 (long)time(NULL));
	fd = mkstemp(file);
	if (!CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0))
		return;
	close(fd);
	n = loop_attach(file, &loopfd);
	if (n < 0)
		printf("#   no loop device here (%s): the kernel log half only\n", strerror(errno));
	snprintf(script, sizeof(script),
		 "%s mknod /tmp/k c 1 11 '<3>%s'; %s mknod /dev/k2 c 1 11 '<3>%s'; "
		 "[ %d -ge 0 ] && %s mknod /tmp/l b 7 %d ESCAPED; true",
		 PROBE, marker, PROBE, marker, n, PROBE, n < 0 ? 0 : n);
	run_sh(&o, script, &r);
	EXPECT_EXIT(r, 0);
	printf("#   %s", r.out);
	CHECK_MSG(!kmsg_has(marker), "the sandbox wrote into the host's kernel log");
	if (cur == VZ_BACKEND_CONTAINER)
		CHECK_MSG(strstr(r.out, "mknod: worked") == NULL, "a container made a device node");
	if (n >= 0) {
		fd = open(file, O_RDONLY);
		CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) >= 0);
		CHECK_MSG(strncmp(buf, "ESCAPED", 7) != 0,
			  "the sandbox wrote to a host loop device's file");
		if (fd >= 0)
			close(fd);
		ioctl(loopfd, LOOP_CLR_FD, 0);
		close(loopfd);
	}
	unlink(file);
}

/* Paths inside the rootfs resolve inside it: an absolute or climbing symlink in the image
 * (or planted by an earlier run in a persistent layer) must not make libvz create or
 * mount anything on the host. Here "evil" points at a host directory. */
static void t_symlinked_targets(void)
{
	char root[64], host[] = "/var/tmp/vz-conf-host-XXXXXX", data[] = "/tmp/vz-conf-data-XXXXXX";
	char link[128], path[160], upper[] = "/tmp/vz-conf-upper-XXXXXX";
	struct opts o = { .uid = -1, .bind_dst = "/evil/x", .bind_flags = VZ_BIND_RO };
	struct run r;

	if (!CHECK(copy_rootfs(root) && mkdtemp(host) && mkdtemp(data)))
		return;
	write_hello(data);
	o.rootfs = root;
	o.bind_src = data;
	/* Absolute: evil -> /tmp/vz-conf-host-..., a directory of the host. */
	snprintf(path, sizeof(path), "%s/evil", root);
	CHECK(symlink(host, path) == 0);
	run_sh(&o, "cat /evil/x/hello", &r);
	CHECK_MSG(dir_empty(host), "a bind target was created on the host through a symlink");
	if (cur == VZ_BACKEND_CONTAINER) {
		EXPECT_EXIT(r, 0);
		CHECK_STR(r.out, "hi\n");
	}
	/* Climbing: evil2 -> ../../../../../..<host>. */
	snprintf(link, sizeof(link), "../../../../../../../..%s", host);
	snprintf(path, sizeof(path), "%s/evil2", root);
	CHECK(symlink(link, path) == 0);
	o.bind_dst = "/evil2/x";
	run_sh(&o, "cat /evil2/x/hello", &r);
	CHECK_MSG(dir_empty(host), "a bind target was created on the host through ../");
	/* A mount point libvz makes: /sys -> a missing directory below the host's. */
	snprintf(path, sizeof(path), "%s/sys", root);
	snprintf(link, sizeof(link), "%s/sub", host);
	CHECK(rmdir(path) == 0 && symlink(link, path) == 0);
	o.bind_src = NULL;
	run_sh(&o, "ls /sys/kernel >/dev/null && echo sys-ok", &r);
	CHECK_MSG(dir_empty(host), "/sys was made on the host through a symlink");
	if (cur == VZ_BACKEND_CONTAINER) {
		EXPECT_EXIT(r, 0);
		CHECK_STR(r.out, "sys-ok\n");
	}
	/* A persistent layer: one run plants the symlink, the next binds through it. */
	if (CHECK(mkdtemp(upper))) {
		struct opts p = { .uid = -1, .rootfs_mode = VZ_ROOTFS_PERSISTENT, .upper_dir = upper };
		run_sh(&p, "ln -s /tmp/vz-conf-planted /planted && echo planted", &r);
		if (r.rc == VZ_ENOTSUP) {
			printf("#   persistent layer: %s\n", vz_error_last()->message);
		} else {
			EXPECT_EXIT(r, 0);
			p.bind_src = data;
			p.bind_dst = "/planted/x";
			p.bind_flags = VZ_BIND_RO;
			CHECK(mkdir("/tmp/vz-conf-planted", 0755) == 0 || errno == EEXIST);
			run_sh(&p, "cat /planted/x/hello", &r);
			CHECK_MSG(dir_empty("/tmp/vz-conf-planted"),
				  "a symlink planted in the persistent layer reached the host");
			EXPECT_EXIT(r, 0);
			CHECK_STR(r.out, "hi\n");
			rmdir("/tmp/vz-conf-planted/x");
			rmdir("/tmp/vz-conf-planted");
		}
		rm_rf(upper);
	}
	rm_rf(root);
	rm_rf(host);
	rm_rf(data);
}

/* The sandbox's PID 1 shows nothing of the host program: not its command line (a secret
 * there reached the workload), its environment, or its name. */
static void t_proc1_shows_no_host(void)
{
	char self[256] = "";
	struct run r;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *base = n > 0 ? strrchr(self, '/') + 1 : "conformance";

	run_sh(NULL, "tr '\\0' ' ' </proc/1/cmdline; echo; cat /proc/1/comm; "
		     "tr '\\0' '\\n' </proc/1/environ 2>/dev/null | grep -c '^PATH=' || true", &r);
	EXPECT_EXIT(r, 0);
	printf("#   /proc/1: %s", r.out);
	CHECK_MSG(strstr(r.out, base) == NULL, "the host's command line or name is visible: %s",
		  r.out);
	CHECK_MSG(strstr(r.out, "VZ_TEST") == NULL, "the host's environment is visible");
}

/* A persistent upper layer holds whatever a root workload made (a set-uid copy of a
 * shell, say): no other host user may reach it, and device nodes cannot be made there. */
static void t_persistent_upper_private(void)
{
	char upper[] = "/tmp/vz-conf-upper-XXXXXX", path[128];
	struct opts o = { .uid = -1, .rootfs_mode = VZ_ROOTFS_PERSISTENT, .upper_dir = upper,
			  .bind_src = VZ_TEST_PROBE_DIR, .bind_dst = "/vzprobe",
			  .bind_flags = VZ_BIND_RO };
	struct stat st;
	struct run r;
	int status = -1;
	pid_t pid;

	if (geteuid() != 0) {
		vz_test_skip(NULL, "persistent layer of a root workload: needs root on the host");
		return;
	}
	if (!CHECK(mkdtemp(upper) && chmod(upper, 0755) == 0))
		return;
	run_sh(&o, "cp /bin/busybox /suid && chmod 4755 /suid && echo made; "
		   PROBE " mknod /node c 1 3 || true", &r);
	if (r.rc == VZ_ENOTSUP) {
		vz_test_skip(NULL, "persistent rootfs: %s", vz_error_last()->message);
		rm_rf(upper);
		return;
	}
	EXPECT_EXIT(r, 0);
	CHECK_MSG(strstr(r.out, "made") != NULL, "%s", r.out);
	CHECK_MSG(strstr(r.out, "mknod: worked") == NULL, "a device node was made in the layer");
	CHECK(stat(upper, &st) == 0);
	CHECK_MSG((st.st_mode & 077) == 0, "upper dir mode %o: other users can reach it",
		  (unsigned)(st.st_mode & 07777));
	snprintf(path, sizeof(path), "%s/upper/suid", upper);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct stat s2;
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(stat(path, &s2) == 0 ? 1 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "uid 65534 reached %s (status %#x)", path, status);
	rm_rf(upper);
}

/* A rootfs path with ',' or ':', which overlayfs's option syntax reserves. */
static void t_rootfs_path_commas(void)
{
	char dir[64], odd[80], cmd[256];
	struct opts o = { .uid = -1 };
	struct run r;

	if (!CHECK(copy_rootfs(dir)))
		return;
	snprintf(odd, sizeof(odd), "%s,a:b", dir);
	CHECK(rename(dir, odd) == 0);
	o.rootfs = odd;
	run_sh(&o, "echo fine", &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "fine\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", odd);
	CHECK(system(cmd) == 0);
}

/* The size of @path now and 300 ms later: equal once nothing writes to it. */
struct growth {
	char path[128];
	off_t first, later;
};

static void watch_growth(void *arg)
{
	struct growth *g = arg;
	struct stat st;

	g->first = stat(g->path, &st) == 0 ? st.st_size : -1;
	usleep(300000);
	g->later = stat(g->path, &st) == 0 ? st.st_size : -1;
}

/* When vz_sandbox_wait() returns, nothing of the sandbox runs any more: a background
 * child that writes to a bind without end has stopped writing, although the result
 * arrives before the sandbox's teardown is complete. */
static void t_nothing_runs_after_result(void)
{
	char dir[] = "/tmp/vz-conf-bg-XXXXXX";
	struct growth g;
	struct opts o = { .uid = -1, .bind_dst = "/out", .after_wait = watch_growth,
			  .after_wait_arg = &g };
	struct run r;

	if (!CHECK(mkdtemp(dir) != NULL) || !CHECK(chmod(dir, 0777) == 0))
		return;
	o.bind_src = dir;
	snprintf(g.path, sizeof(g.path), "%s/f", dir);
	g.first = g.later = -2;
	run_sh(&o, "(while :; do echo x >>/out/f; done) </dev/null >/dev/null 2>&1 & "
		   "while [ ! -s /out/f ]; do :; done; exit 7", &r);
	EXPECT_EXIT(r, 7);
	CHECK_MSG(g.first > 0 && g.first == g.later,
		  "the background writer still ran after the result: %lld then %lld bytes",
		  (long long)g.first, (long long)g.later);
	unlink(g.path);
	rmdir(dir);
}

static void t_nothing_left(void)
{
	if (!need_cgroups())
		return;
	int fds = count_dir("/proc/self/fd", NULL), mounts = count_lines("/proc/self/mountinfo");
	int tmp = count_vz_tmp();
	struct run r;
	struct opts wall = { .uid = -1, .wall_ms = 300 };
	vz_config *cfg;
	vz_sandbox *sb;
	const char *argv[] = { "sleep", "30" };


	run_sh(NULL, "true", &r);
	run_sh(&wall, "sleep 30", &r);
	run_sh(NULL, "kill -SEGV $$", &r);
	/* free while running */
	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
	CHECK_OK(vz_config_set_argv(cfg, 2, argv));
	CHECK_OK(vz_sandbox_create(&sb, cur, cfg));
	CHECK_OK(vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20));
	CHECK_OK(vz_sandbox_start(sb));
	vz_sandbox_free(sb);
	vz_config_free(cfg);

	CHECK_INT(count_children(), ==, 0);
	CHECK_INT(count_dir("/proc/self/fd", NULL), ==, fds);
	CHECK_INT(count_lines("/proc/self/mountinfo"), ==, mounts);
	CHECK_INT(count_cgroups(), ==, 0);
	CHECK_INT(count_vz_tmp(), ==, tmp);
}

/* A prepared sandbox (vz_sandbox_prepare): set up ahead (a VM booted), run by
 * vz_sandbox_start() with the same result; its wall time counts from the start; the
 * calls that need a started sandbox refuse a prepared one; freed unstarted, it leaves
 * nothing and its program never ran. */
static vz_sandbox *prepared(const char *script, int64_t wall_ms, int *rc)
{
	const char *argv[] = { "/bin/sh", "-c", script };
	vz_config *cfg = NULL;
	vz_sandbox *sb = NULL;

	*rc = -1;
	if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS) ||
	    vz_config_set_argv(cfg, 3, argv) ||
	    vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_PIPE, -1) ||
	    vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_NULL, -1) ||
	    vz_sandbox_create(&sb, cur, cfg) ||
	    (geteuid() == 0 && vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20)) ||
	    (wall_ms && vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, wall_ms))) {
		printf("#   set-up: %s\n", vz_error_last()->message);
		vz_config_free(cfg);
		return sb;
	}
	vz_config_free(cfg);
	*rc = vz_sandbox_prepare(sb);
	return sb;
}

static void t_prepare(void)
{
	vz_result res = { .size = sizeof(res) };
	char out[64] = "";
	vz_sandbox *sb;
	ssize_t n;
	int rc, fd, found = 0;

	sb = prepared("echo ran; exit 5", 0, &rc);
	if (!CHECK_MSG(rc == VZ_OK, "prepare: %s", vz_error_last()->message)) {
		vz_sandbox_free(sb);
		return;
	}
	/* What needs a started sandbox refuses; stdio is there already. */
	CHECK_INT(vz_sandbox_prepare(sb), ==, VZ_ESTATE);
	CHECK_INT(vz_sandbox_limit(sb, VZ_LIMIT_PIDS, 10), ==, VZ_ESTATE);
	CHECK_INT(vz_sandbox_wait(sb, 0, &res), ==, VZ_ESTATE);
	CHECK_INT(vz_sandbox_kill(sb, SIGTERM), ==, VZ_ESTATE);
	CHECK((fd = vz_sandbox_stdio_fd(sb, VZ_STDOUT)) >= 0);
	CHECK_OK(vz_sandbox_start(sb));
	CHECK_INT(vz_sandbox_start(sb), ==, VZ_ESTATE);
	n = fd >= 0 ? read(fd, out, sizeof(out) - 1) : -1;
	out[n > 0 ? n : 0] = '\0';
	CHECK_OK(vz_sandbox_wait(sb, 120000, &res));
	CHECK_INT(res.reason, ==, VZ_REASON_EXITED);
	CHECK_INT(res.exit_code, ==, 5);
	CHECK_STR(out, "ran\n");
	for (uint32_t i = 0; i < res.phase_count; i++)
		found |= !strcmp(res.phases[i].name, "prepared");
	CHECK_MSG(found, "no \"prepared\" phase");
	vz_sandbox_free(sb);

	/* The wall-time limit runs from the start, not from prepare: a limit that has
	 * passed since prepare (a VM's guest init takes seconds after the start on
	 * kvm_pvm, hence its longer limit). */
	{
		int64_t wall = cur == VZ_BACKEND_VM ? 8000 : 1000;
		sb = prepared("sleep 0.4; exit 3", wall, &rc);
		CHECK_OK(rc);
		usleep((useconds_t)(wall + 200) * 1000);
		CHECK_OK(vz_sandbox_start(sb));
		CHECK_OK(vz_sandbox_wait(sb, 120000, &res));
		CHECK_MSG(res.reason == VZ_REASON_EXITED && res.exit_code == 3, "%s %d",
			  vz_reason_name(res.reason), res.exit_code);
		CHECK_MSG(res.wall_ns < (uint64_t)wall * 1000000ull,
			  "wall %llu ns counted from prepare", (unsigned long long)res.wall_ns);
		vz_sandbox_free(sb);
	}

	/* Freed unstarted: nothing left; the program never ran. */
	if (geteuid() == 0) {
		char dir[] = "/tmp/vz-conf-prep-XXXXXX", script[128];
		struct stat st;
		if (CHECK(mkdtemp(dir) != NULL)) {
			vz_config *cfg;
			const char *argv[] = { "/bin/sh", "-c", "touch /out/ran" };
			CHECK_OK(vz_config_new(&cfg));
			CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
			CHECK_OK(vz_config_set_argv(cfg, 3, argv));
			CHECK_OK(vz_config_add_bind(cfg, dir, "/out", VZ_BIND_RW));
			CHECK_OK(vz_sandbox_create(&sb, cur, cfg));
			CHECK_OK(vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20));
			CHECK_OK(vz_sandbox_prepare(sb));
			vz_sandbox_free(sb);
			vz_config_free(cfg);
			snprintf(script, sizeof(script), "%s/ran", dir);
			CHECK_MSG(stat(script, &st) < 0, "the program of a sandbox freed unstarted ran");
			rmdir(dir);
		}
		CHECK_INT(count_children(), ==, 0);
		CHECK_INT(count_cgroups(), ==, 0);
	}
}

static void t_result_fields(void)
{
	struct run r;
	run_sh(NULL, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", &r);
	EXPECT_EXIT(r, 0);
	CHECK(r.res.wall_ns > 0);
	CHECK(r.res.user_cpu_ns + r.res.system_cpu_ns > 0);
	CHECK(r.res.peak_memory_bytes > 0);
	CHECK(r.res.phase_count >= 3);
	for (uint32_t i = 0; i < r.res.phase_count; i++)
		CHECK(r.res.phases[i].name[0] != '\0');
}

#define NCONC 100
#define NTHREADS 4
static void *conc_worker(void *arg)
{
	int base = (int)(intptr_t)arg, *bad = calloc(1, sizeof(int));
	vz_sandbox *sbs[NCONC / NTHREADS] = { 0 };
	vz_config *cfg;

	if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS))
		return (*bad = NCONC, bad);
	for (int i = 0; i < NCONC / NTHREADS; i++) {
		char script[32];
		const char *argv[] = { "/bin/sh", "-c", script };
		snprintf(script, sizeof(script), "sleep 0.2; exit %d", (base + i) % 256);
		if (vz_config_set_argv(cfg, 3, argv) || vz_sandbox_create(&sbs[i], cur, cfg) ||
		    vz_sandbox_limit(sbs[i], VZ_LIMIT_MEMORY, 64 << 20) ||
		    vz_sandbox_limit(sbs[i], VZ_LIMIT_WALL_TIME, 120000) || vz_sandbox_start(sbs[i])) {
			printf("#   sandbox %d: %s\n", base + i, vz_error_last()->message);
			(*bad)++;
		}
	}
	for (int i = 0; i < NCONC / NTHREADS; i++) {
		vz_result res = { .size = sizeof(res) };
		if (!sbs[i])
			continue;
		if (vz_sandbox_wait(sbs[i], 120000, &res) || res.reason != VZ_REASON_EXITED ||
		    res.exit_code != (base + i) % 256) {
			printf("#   sandbox %d: %s code %d\n", base + i, vz_reason_name(res.reason), res.exit_code);
			(*bad)++;
		}
		vz_sandbox_free(sbs[i]);
	}
	vz_config_free(cfg);
	return bad;
}

static void t_concurrent_100(void)
{
	if (!need_cgroups())
		return;
	if (cur == VZ_BACKEND_VM) {
		vz_test_skip(NULL, "vm: 100 guests need 100 x guest RAM and boot; tests/vm.c runs "
			     "ten VMs at once instead");
		return;
	}
	pthread_t th[NTHREADS];
	int bad = 0;
	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, conc_worker, (void *)(intptr_t)(t * (NCONC / NTHREADS) + 1));
	for (int t = 0; t < NTHREADS; t++) {
		void *p;
		pthread_join(th[t], &p);
		bad += *(int *)p;
		free(p);
	}
	CHECK_INT(bad, ==, 0);
	CHECK_INT(count_cgroups(), ==, 0);
}

/* ---- At scale: a leak census after many mixed sandboxes; many threads at once ------- */

/* Where the whole machine is emulated (the testbed), fewer: the counts are in the
 * case's output. */
static int scaled(int n)
{
	const char *e = getenv("VZ_TEST_SLOW_IO");
	return e && !strcmp(e, "1") ? n / 10 : n;
}

/* One sandbox of kind @i % 8, ended as that kind ends; 0 if its result was right. */
static int mixed_one(int i)
{
	static const char *const scripts[] = {
		"exit 0", "exit 3", "kill -SEGV $$", "sleep 5", "exit 9", "touch /never",
		"sleep 5", "echo x",
	};
	const int kind = i % 8;
	const char *argv[] = { "/bin/sh", "-c", scripts[kind] };
	vz_result res = { .size = sizeof(res) };
	vz_config *cfg = NULL;
	vz_sandbox *sb = NULL;
	char out[8] = "";
	int bad = 1;

	if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS) ||
	    vz_config_set_argv(cfg, 3, argv) ||
	    vz_config_set_stdio(cfg, VZ_STDOUT, kind == 7 ? VZ_STDIO_PIPE : VZ_STDIO_NULL, -1) ||
	    vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_NULL, -1) ||
	    vz_sandbox_create(&sb, cur, cfg) || vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20) ||
	    vz_sandbox_limit(sb, VZ_LIMIT_PIDS, 16) ||
	    (kind == 3 && vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, 50)))
		goto out;
	/* 4 and 5 are prepared; 5 is freed unstarted, 6 freed while it runs. */
	if ((kind == 4 || kind == 5) && vz_sandbox_prepare(sb))
		goto out;
	if (kind == 5) {
		bad = 0;
		goto out;
	}
	if (vz_sandbox_start(sb))
		goto out;
	if (kind == 6) {
		bad = 0;
		goto out;
	}
	if (kind == 7 && read(vz_sandbox_stdio_fd(sb, VZ_STDOUT), out, sizeof(out) - 1) < 0)
		goto out;
	if (vz_sandbox_wait(sb, 60000, &res))
		goto out;
	switch (kind) {
	case 0: case 4: case 7:
		bad = res.reason != VZ_REASON_EXITED || res.exit_code != (kind == 4 ? 9 : 0) ||
		      (kind == 7 && strcmp(out, "x\n"));
		break;
	case 1:
		bad = res.reason != VZ_REASON_EXITED || res.exit_code != 3;
		break;
	case 2:
		bad = res.reason != VZ_REASON_SIGNALED || res.signal != SIGSEGV;
		break;
	case 3:
		bad = res.reason != VZ_REASON_TIMED_OUT;
		break;
	}
out:
	if (bad)
		printf("#   sandbox %d (kind %d): %s; result %s %d\n", i, kind,
		       vz_error_last()->message, vz_reason_name(res.reason), res.exit_code);
	vz_sandbox_free(sb);
	vz_config_free(cfg);
	return bad;
}

struct census {
	int children, fds, mounts, cgroups, tmp;
};

static void census_take(struct census *c)
{
	c->children = count_children();
	c->fds = count_dir("/proc/self/fd", NULL);
	c->mounts = count_lines("/proc/self/mountinfo");
	c->cgroups = count_cgroups();
	c->tmp = count_vz_tmp();
}

static void census_check(const struct census *before)
{
	struct census after;

	census_take(&after);
	CHECK_INT(after.children, ==, 0);
	CHECK_INT(after.fds, ==, before->fds);
	CHECK_INT(after.mounts, ==, before->mounts);
	CHECK_INT(after.cgroups, ==, 0);
	CHECK_INT(after.tmp, ==, before->tmp);
}

/* 2,000 sandboxes of eight kinds (exit 0, exit 3, a crash, a time-out, prepared then
 * started, prepared and freed unstarted, freed while running, output through a pipe),
 * each result checked; then processes, descriptors, mounts, cgroups and temporary
 * files are as before. */
static void t_census_2000_mixed(void)
{
	struct census before;
	int n = scaled(2000), bad = 0;

	if (!need_cgroups())
		return;
	if (cur == VZ_BACKEND_VM) {
		vz_test_skip(NULL, "vm: 2,000 guest boots take hours; tests/vm.c covers VM "
			     "leaks (panic, kill during boot, ten at once)");
		return;
	}
	census_take(&before);
	for (int i = 0; i < n; i++)
		bad += mixed_one(i);
	printf("#   %d sandboxes, %d wrong\n", n, bad);
	CHECK_INT(bad, ==, 0);
	census_check(&before);
}

/* 1,000 sandboxes from 32 threads at once: none lost, none failed, every exit code
 * right, nothing left after. */
#define C32_THREADS 32
static atomic_int c32_next, c32_bad, c32_n;

static void *c32_worker(void *arg)
{
	(void)arg;
	for (int i; (i = atomic_fetch_add(&c32_next, 1)) < c32_n;) {
		char script[32];
		const char *argv[] = { "/bin/sh", "-c", script };
		vz_result res = { .size = sizeof(res) };
		vz_config *cfg = NULL;
		vz_sandbox *sb = NULL;
		int ok;

		snprintf(script, sizeof(script), "exit %d", i % 256);
		ok = !vz_config_new(&cfg) && !vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS) &&
		     !vz_config_set_argv(cfg, 3, argv) &&
		     !vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_NULL, -1) &&
		     !vz_sandbox_create(&sb, cur, cfg) &&
		     !vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20) && !vz_sandbox_start(sb) &&
		     !vz_sandbox_wait(sb, 300000, &res) && res.reason == VZ_REASON_EXITED &&
		     res.exit_code == i % 256;
		if (!ok) {
			printf("#   sandbox %d: %s; result %s %d\n", i, vz_error_last()->message,
			       vz_reason_name(res.reason), res.exit_code);
			atomic_fetch_add(&c32_bad, 1);
		}
		vz_sandbox_free(sb);
		vz_config_free(cfg);
	}
	return NULL;
}

static void t_concurrent_1000_32_threads(void)
{
	pthread_t th[C32_THREADS];
	struct census before;
	int started = 0;

	if (!need_cgroups())
		return;
	if (cur == VZ_BACKEND_VM) {
		vz_test_skip(NULL, "vm: 1,000 guests need 1,000 boots; tests/vm.c runs ten VMs "
			     "at once instead");
		return;
	}
	census_take(&before);
	atomic_store(&c32_next, 0);
	atomic_store(&c32_bad, 0);
	atomic_store(&c32_n, scaled(1000));
	for (int t = 0; t < C32_THREADS; t++)
		started += pthread_create(&th[t], NULL, c32_worker, NULL) == 0;
	CHECK_INT(started, ==, C32_THREADS);
	for (int t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	printf("#   %d sandboxes from %d threads, %d wrong\n", atomic_load(&c32_n), started,
	       atomic_load(&c32_bad));
	CHECK_INT(atomic_load(&c32_bad), ==, 0);
	census_check(&before);
}

/* ---- File systems: semantics through binds and layers, and escapes through binds ---- */

#define FSPROBE "/vzprobe/vz-fsprobe"

/* Where the kernel that copies the data is emulated, the file system cases move less
 * of it: a VM on kvm_pvm (a software hypervisor that emulates the guest kernel's
 * instructions, its copies included), and any run where VZ_TEST_SLOW_IO=1 says the
 * whole machine is emulated (the kvm_amd testbed runs under QEMU's TCG). Returns the
 * reason, or NULL for the full sizes. */
static const char *slow_io(void)
{
	const char *e = getenv("VZ_TEST_SLOW_IO");
	if (e && !strcmp(e, "1"))
		return "VZ_TEST_SLOW_IO=1 (an emulated machine)";
	if (cur == VZ_BACKEND_VM && access("/sys/module/kvm_pvm", F_OK) == 0)
		return "kvm_pvm (guest kernel copies are emulated)";
	return NULL;
}

/* The value of the line "KEY=value" in @out, in @val ("" when there is none). */
static const char *field(const char *out, const char *key, char *val, size_t cap)
{
	size_t n = strlen(key);

	val[0] = '\0';
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, n) && p[n] == '=') {
			const char *v = p + n + 1, *e = strchr(v, '\n');
			size_t len = e ? (size_t)(e - v) : strlen(v);
			if (len >= cap)
				len = cap - 1;
			memcpy(val, v, len);
			val[len] = '\0';
			break;
		}
	}
	return val;
}

#define CHECK_FIELD(out, key, want)                                                            \
	do {                                                                                   \
		char v_[512];                                                                  \
		const char *k_ = (key), *w_ = (want);                                          \
		field(out, k_, v_, sizeof(v_));                                                \
		vzt_check(!strcmp(v_, w_), VZT_LOC, "%s=\"%s\", expected \"%s\"", k_, v_, w_);  \
	} while (0)

/* The whole of a host file in @buf (NUL-terminated); -1 if it cannot be read. */
static ssize_t read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return n;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644), ok;

	ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* What a host shell command prints (malloc'd, never NULL). */
static char *host_output(const char *cmd)
{
	size_t cap = 1 << 16, n = 0, got;
	char *buf = malloc(cap);
	FILE *f = popen(cmd, "r");

	while (buf && f && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *more = realloc(buf, cap *= 2);
			if (!more)
				break;
			buf = more;
		}
	}
	if (f)
		pclose(f);
	if (!buf)
		return strdup("");
	buf[n] = '\0';
	return buf;
}

/* Every entry under @dir: type and mode, links, owner, size, inode, mtime, ctime, a
 * symlink's target and a file's checksum (FNV-1a). Equal strings: a byte-for-byte equal
 * tree, atime aside. In C: the testbed's host side has busybox's find, without -printf. */
static char *snap_buf;
static size_t snap_len, snap_cap, snap_base;

static int snap_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char target[512] = "", line[1024];
	uint64_t h = 1469598103934665603ull;
	int n;

	(void)type;
	(void)ftw;
	if (S_ISLNK(st->st_mode)) {
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		target[k > 0 ? k : 0] = '\0';
	} else if (S_ISREG(st->st_mode)) {
		unsigned char buf[65536];
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t k;
		while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < k; i++)
				h = (h ^ buf[i]) * 1099511628211ull;
		if (fd < 0)
			h = 0;
		else
			close(fd);
	}
	n = snprintf(line, sizeof(line), "%s %o %lu %u:%u %lld %lu %lld.%09ld %lld.%09ld %s %016llx\n",
		     path + snap_base, (unsigned)st->st_mode, (unsigned long)st->st_nlink,
		     (unsigned)st->st_uid, (unsigned)st->st_gid, (long long)st->st_size,
		     (unsigned long)st->st_ino, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		     (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, target, (unsigned long long)h);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (snap_len + (size_t)n + 1 > snap_cap) {
		char *more = realloc(snap_buf, snap_cap = (snap_len + (size_t)n + 1) * 2);
		if (!more)
			return -1;
		snap_buf = more;
	}
	memcpy(snap_buf + snap_len, line, (size_t)n + 1);
	snap_len += (size_t)n;
	return 0;
}

/* Two snapshots must be equal; otherwise the first line that differs is reported. */
#define CHECK_SAME_TREE(before, after, what)                                                   \
	do {                                                                                   \
		const char *b_ = (before), *a_ = (after);                                      \
		size_t i_ = 0, l_ = 0;                                                         \
		for (; b_[i_] && b_[i_] == a_[i_]; i_++)                                       \
			if (b_[i_] == '\n')                                                     \
				l_ = i_ + 1;                                                   \
		vzt_check(!b_[i_] && !a_[i_], VZT_LOC, "%s changed on the host: was \"%.*s\", now \"%.*s\"", \
			  what, (int)strcspn(b_ + l_, "\n"), b_ + l_, (int)strcspn(a_ + l_, "\n"),  \
			  a_ + l_);                                                            \
	} while (0)

/* The snapshot of @dir (malloc'd, never NULL). */
static char *snapshot(const char *dir)
{
	char *out;

	snap_buf = NULL;
	snap_len = snap_cap = 0;
	snap_base = strlen(dir);
	if (nftw(dir, snap_entry, 16, FTW_PHYS) < 0 || !snap_buf) {
		free(snap_buf);
		return strdup("(no snapshot)");
	}
	out = snap_buf;
	snap_buf = NULL;
	return out;
}

/* The sha256 of @path, or of what the host command @gen prints, as hex. */
static void host_sha256(const char *path, const char *gen, char sum[65])
{
	char cmd[512], *out;

	if (gen)
		snprintf(cmd, sizeof(cmd), "%s | sha256sum", gen);
	else
		snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	out = host_output(cmd);
	snprintf(sum, 65, "%.64s", out);
	free(out);
}

/* The lines of @out that hold @match (all of them: NULL), as TAP notes. */
static void print_notes(const char *out, const char *match)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		int len = strchr(p, '\n') ? (int)(strchr(p, '\n') - p) : (int)strlen(p);
		const char *m = match ? strstr(p, match) : p;
		if (m && m - p <= len)
			printf("#   %.*s\n", len, p);
	}
}

/* One pass of the file system checks in DIR ($2), its lines labelled $1. $P, $MB, $NF
 * come from the caller. */
static const char fs_checks_sh[] =
	"t() {\n"
	"L=$1; D=$2; s0=$(date +%s)\n"
	"cd $D || { echo $L.cd=failed; return; }\n"
	"ts() { echo \"$L.time.$1=$(( $(date +%s) - s0 ))\"; }\n"
	/* 1 GiB sparse: size, the bytes at the end */
	"truncate -s 1073741824 sparse && printf END | dd of=sparse bs=1 seek=1073741821 conv=notrunc 2>/dev/null\n"
	"echo \"$L.sparse=$(stat -c %s sparse) $(dd if=sparse bs=1 skip=1073741821 count=3 2>/dev/null)\"\n"
	"echo \"$L.sparse.blocks=$(stat -c %b sparse)\"; ts sparse\n"
	/* a large file of known content (the host makes the same), read back */
	"seq 20000000 | head -c $((MB * 1048576)) > big\n"
	"echo \"$L.big=$(stat -c %s big) $(sha256sum big | cut -d' ' -f1)\"; ts big\n"
	/* many files in one directory */
	"mkdir many && i=0 && while [ $i -lt $NF ]; do true > many/f$i || break; i=$((i+1)); done\n"
	"echo \"$L.many=$(ls many | wc -l)\"\n"
	"rm -r many && [ ! -e many ] && echo $L.many.removed=yes; ts many\n"
	/* hard link, symlinks, rename over a file */
	"echo linked > a && ln a b && echo \"$L.link=$(stat -c %h a) $(stat -c %h b) $([ \"$(stat -c %i a)\" = \"$(stat -c %i b)\" ] && echo same-inode)\"\n"
	"echo target > t && ln -s t rel && ln -s $D/t abs && echo \"$L.symlink=$(readlink rel) $(readlink abs) $(cat rel) $(cat abs)\"\n"
	"echo old > o && echo new > n && mv n o && echo \"$L.rename=$(cat o) $([ -e n ] && echo n-left || echo n-gone)\"\n"
	/* locks between two processes of the sandbox: flock and fcntl */
	"for k in flock posix; do\n"
	"  $P hold $k lk.$k r.$k d.$k &\n"
	"  w=0; while [ ! -e r.$k ] && [ $w -lt 3000 ]; do usleep 10000; w=$((w+1)); done\n"
	"  echo \"$L.$k.held=$($P try $k lk.$k)\"\n"
	"  : > d.$k; wait\n"
	"  echo \"$L.$k.after=$($P try $k lk.$k)\"\n"
	"done\n"
	/* a write through a shared mapping, read with cat */
	"printf 'aaaaaaaaaaaaaaaa\\n' > m && echo \"$L.mmap=$($P mmap m MMAPPED)\" && echo \"$L.mmap.cat=$(cat m)\"\n"
	"ts all; cd /\n"
	"}\n";

/* What one pass left in @dir on the host (@dst: its path in the sandbox), and what it
 * printed under @label. */
static void check_fs_pass(const char *out, const char *label, const char *dir, const char *dst,
			  int mb, int nfiles, const char *sum)
{
	char key[64], path[256], want[256], buf[256], got[65];
	struct stat st, st2;
	int fd;

#define KEY(s) (snprintf(key, sizeof(key), "%s.%s", label, s), key)
#define PATH(s) (snprintf(path, sizeof(path), "%s/%s", dir, s), path)
	CHECK_FIELD(out, KEY("sparse"), "1073741824 END");
	if (CHECK_MSG(stat(PATH("sparse"), &st) == 0, "%s: %s", path, strerror(errno))) {
		CHECK_INT(st.st_size, ==, 1ll << 30);
		CHECK_MSG(st.st_blocks < (64 << 20) / 512, "%s: %lld blocks: not sparse", path,
			  (long long)st.st_blocks);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && pread(fd, buf, 3, (1ll << 30) - 3) == 3 && !memcmp(buf, "END", 3));
	if (fd >= 0)
		close(fd);

	snprintf(want, sizeof(want), "%d %s", mb << 20, sum);
	CHECK_FIELD(out, KEY("big"), want);
	host_sha256(PATH("big"), NULL, got);
	CHECK_MSG(!strcmp(got, sum), "%s on the host: sha256 %s, expected %s", path, got, sum);

	snprintf(want, sizeof(want), "%d", nfiles);
	CHECK_FIELD(out, KEY("many"), want);
	CHECK_FIELD(out, KEY("many.removed"), "yes");
	CHECK(lstat(PATH("many"), &st) < 0 && errno == ENOENT);

	CHECK_FIELD(out, KEY("link"), "2 2 same-inode");
	if (CHECK(stat(PATH("a"), &st) == 0) && CHECK(stat(PATH("b"), &st2) == 0)) {
		CHECK_INT(st.st_nlink, ==, 2);
		CHECK_INT(st.st_ino, ==, st2.st_ino);
	}

	snprintf(want, sizeof(want), "t %s/t target target", dst);
	CHECK_FIELD(out, KEY("symlink"), want);
	memset(buf, 0, sizeof(buf));
	CHECK(readlink(PATH("rel"), buf, sizeof(buf) - 1) > 0);
	CHECK_STR(buf, "t");
	memset(buf, 0, sizeof(buf));
	CHECK(readlink(PATH("abs"), buf, sizeof(buf) - 1) > 0);
	snprintf(want, sizeof(want), "%s/t", dst);
	CHECK_STR(buf, want);

	CHECK_FIELD(out, KEY("rename"), "new n-gone");
	read_text(PATH("o"), buf, sizeof(buf));
	CHECK_STR(buf, "new\n");
	CHECK(lstat(PATH("n"), &st) < 0 && errno == ENOENT);

	CHECK_FIELD(out, KEY("flock.held"), "try flock: busy");
	CHECK_FIELD(out, KEY("flock.after"), "try flock: locked");
	CHECK_FIELD(out, KEY("posix.held"), "try posix: busy");
	CHECK_FIELD(out, KEY("posix.after"), "try posix: locked");

	CHECK_FIELD(out, KEY("mmap"), "mmap: worked");
	CHECK_FIELD(out, KEY("mmap.cat"), "MMAPPEDaaaaaaaaa");
	read_text(PATH("m"), buf, sizeof(buf));
	CHECK_STR(buf, "MMAPPEDaaaaaaaaa\n");
#undef KEY
#undef PATH
}

/* File system semantics where the sandbox writes: a read-write bind and the root's
 * writable layer (a persistent one, so the host can look at it; on a VM both go through
 * the VMM's FUSE server, the layer under the guest's overlay). */
static void t_fs_semantics(void)
{
	char data[] = "/tmp/vz-conf-fsdata-XXXXXX", upper[] = "/tmp/vz-conf-fsupper-XXXXXX";
	char script[4096], gen[64], sum[65], layer[128];
	const char *slow = slow_io();
	int mb = slow ? 8 : 100, nfiles = slow ? 2000 : 10000;
	struct opts o = { .uid = -1, .bind_src = data, .bind_dst = "/data", .bind_flags = VZ_BIND_RW,
			  .bind2_src = VZ_TEST_PROBE_DIR, .bind2_dst = "/vzprobe",
			  .rootfs_mode = VZ_ROOTFS_PERSISTENT, .upper_dir = upper,
			  .wall_ms = cur == VZ_BACKEND_VM ? 1500000 : 300000 };
	struct run r;
	int failed0 = vzt_failed;

	if (!CHECK(mkdtemp(data) && mkdtemp(upper)))
		return;
	if (cur == VZ_BACKEND_VM) {
		/* The VMM's FUSE server holds a descriptor for every inode the guest knows,
		 * and a guest forgets few: this limit bounds how many files a guest can see. */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
			printf("#   RLIMIT_NOFILE (the VMM inherits it): %llu, hard %llu\n",
			       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	}
	if (slow)
		printf("#   %s: 8 MiB instead of 100 MiB, 2,000 files instead of 10,000\n", slow);
	snprintf(gen, sizeof(gen), "seq 20000000 | head -c %d", mb << 20);
	host_sha256(NULL, gen, sum);
	snprintf(script, sizeof(script), "P=" FSPROBE "; MB=%d; NF=%d\n%s"
		 "t bind /data\nmkdir /w && t root /w\necho done=yes\n", mb, nfiles, fs_checks_sh);
	run_sh(&o, script, &r);
	if (r.rc == VZ_ENOTSUP) {
		vz_test_skip(NULL, "binds or a persistent layer: %s", vz_error_last()->message);
	} else {
		EXPECT_EXIT(r, 0);
		print_notes(r.out, ".time.");
		CHECK_FIELD(r.out, "done", "yes");
		check_fs_pass(r.out, "bind", data, "/data", mb, nfiles, sum);
		snprintf(layer, sizeof(layer), "%s/upper/w", upper);
		check_fs_pass(r.out, "root", layer, "/w", mb, nfiles, sum);
		if (vzt_failed != failed0) {
			print_notes(r.out, NULL);
			print_notes(r.err, NULL);
		}
	}
	rm_rf(data);
	rm_rf(upper);
}

/* What a bind's mode allows: a read-write bind's writes reach the host; a read-only one
 * refuses every change and its host directory stays byte-for-byte the same; a single
 * file binds either way; a persistent layer keeps a run's changes for the next run and
 * never touches the rootfs. */
static void t_bind_modes(void)
{
	char rw[] = "/tmp/vz-conf-rw-XXXXXX", ro[] = "/tmp/vz-conf-ro-XXXXXX";
	char files[] = "/tmp/vz-conf-files-XXXXXX", upper[] = "/tmp/vz-conf-upper-XXXXXX";
	char root[64], rwf[128], rof[128], path[256], buf[256];
	char *ro_before = NULL, *root_before = NULL, *after;
	struct opts o = { .uid = -1, .bind_src = rw, .bind_dst = "/rw", .bind_flags = VZ_BIND_RW,
			  .bind2_src = ro, .bind2_dst = "/ro", .rootfs_mode = VZ_ROOTFS_PERSISTENT,
			  .upper_dir = upper };
	struct run r;
	int failed0 = vzt_failed;

	if (!CHECK(mkdtemp(rw) && mkdtemp(ro) && mkdtemp(files) && mkdtemp(upper) && copy_rootfs(root)))
		return;
	o.rootfs = root;
	write_hello(rw);
	write_hello(ro);
	snprintf(path, sizeof(path), "%s/sub", ro);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/sub/x", ro);
	CHECK(write_text(path, "x\n"));
	snprintf(path, sizeof(path), "%s/empty", ro);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/ln", ro);
	CHECK(symlink("hello", path) == 0);
	snprintf(rwf, sizeof(rwf), "%s/rw.txt", files);
	snprintf(rof, sizeof(rof), "%s/ro.txt", files);
	CHECK(write_text(rwf, "rwfile\n") && write_text(rof, "rofile\n"));
	o.more[0].src = rwf;
	o.more[0].dst = "/rwfile";
	o.more[0].flags = VZ_BIND_RW;
	o.more[1].src = rof;
	o.more[1].dst = "/rofile";
	o.more[1].flags = VZ_BIND_RO;
	ro_before = snapshot(ro);
	root_before = snapshot(root);

	run_sh(&o, "echo inside > /rw/new && echo rw.new=ok\n"
		   "echo more >> /rw/hello && echo rw.append=ok\n"
		   "mkdir /rw/d && mv /rw/new /rw/d/moved && cp /rw/d/moved /rw/new && echo rw.ops=ok\n"
		   "n=0; for op in 'echo x > /ro/hello' 'echo x >> /ro/hello' 'echo x > /ro/new' "
		   "'mkdir /ro/d' 'rm /ro/hello' 'rm -f /ro/ln' 'rm -r /ro/sub' 'rmdir /ro/empty' "
		   "'mv /ro/hello /ro/moved' 'mv /ro/hello /tmp/moved' 'touch /ro/hello' "
		   "'touch /ro/new2' 'chmod 600 /ro/hello' 'chown 1:1 /ro/hello' 'ln -s x /ro/l' "
		   "'ln /ro/hello /ro/hl' 'truncate -s 0 /ro/hello' 'echo x > /ro/sub/x' "
		   "'mkfifo /ro/f'; do\n"
		   "  if eval \"$op\" 2>/dev/null; then echo \"ro.worked=$op\"; else n=$((n+1)); fi\n"
		   "done; echo ro.refused=$n\n"
		   "echo \"ro.hello=$(cat /ro/hello)\"\n"
		   "echo \"rofile=$(cat /rofile)\"\n"
		   "echo x > /rofile 2>/dev/null && echo rofile.write=worked\n"
		   "echo \"rwfile=$(cat /rwfile)\"\n"
		   "echo changed > /rwfile && echo \"rwfile.after=$(cat /rwfile)\"\n"
		   "echo persisted > /made-in-run1 && echo changed > /etc/hostname && mkdir /etc/newdir && "
		   "rm /bin/true && echo layer=ok\n", &r);
	if (r.rc == VZ_ENOTSUP) {
		vz_test_skip(NULL, "binds or a persistent layer: %s", vz_error_last()->message);
		goto out;
	}
	EXPECT_EXIT(r, 0);
	CHECK_FIELD(r.out, "rw.new", "ok");
	CHECK_FIELD(r.out, "rw.append", "ok");
	CHECK_FIELD(r.out, "rw.ops", "ok");
	CHECK_MSG(!strstr(r.out, "ro.worked="), "a change in the read-only bind worked: %s", r.out);
	CHECK_FIELD(r.out, "ro.refused", "19");
	CHECK_FIELD(r.out, "ro.hello", "hi");
	CHECK_FIELD(r.out, "rofile", "rofile");
	CHECK_MSG(!strstr(r.out, "rofile.write=worked"), "the read-only file bind was written");
	CHECK_FIELD(r.out, "rwfile", "rwfile");
	CHECK_FIELD(r.out, "rwfile.after", "changed");
	CHECK_FIELD(r.out, "layer", "ok");
	/* On the host. */
	snprintf(path, sizeof(path), "%s/new", rw);
	read_text(path, buf, sizeof(buf));
	CHECK_STR(buf, "inside\n");
	snprintf(path, sizeof(path), "%s/d/moved", rw);
	read_text(path, buf, sizeof(buf));
	CHECK_STR(buf, "inside\n");
	snprintf(path, sizeof(path), "%s/hello", rw);
	read_text(path, buf, sizeof(buf));
	CHECK_STR(buf, "hi\nmore\n");
	after = snapshot(ro);
	CHECK_SAME_TREE(ro_before, after, "the read-only bind");
	free(after);
	read_text(rof, buf, sizeof(buf));
	CHECK_STR(buf, "rofile\n");
	read_text(rwf, buf, sizeof(buf));
	CHECK_STR(buf, "changed\n");
	/* The layer's layout is the same on both backends: upper/ and work/. */
	snprintf(path, sizeof(path), "%s/upper/made-in-run1", upper);
	read_text(path, buf, sizeof(buf));
	CHECK_STR(buf, "persisted\n");
	after = snapshot(root);
	CHECK_SAME_TREE(root_before, after, "run 1: the rootfs directory");
	free(after);
	if (vzt_failed != failed0) {
		print_notes(r.out, NULL);
		print_notes(r.err, NULL);
	}

	/* Run 2 on the same layer: what run 1 made, changed and removed (a whiteout). */
	memset(o.more, 0, sizeof(o.more));
	o.bind_src = o.bind2_src = NULL;
	run_sh(&o, "cat /made-in-run1 /etc/hostname; [ -d /etc/newdir ] && echo newdir; "
		   "[ -e /bin/true ] || echo true-gone", &r);
	EXPECT_EXIT(r, 0);
	CHECK_STR(r.out, "persisted\nchanged\nnewdir\ntrue-gone\n");
	after = snapshot(root);
	CHECK_SAME_TREE(root_before, after, "run 2: the rootfs directory");
	free(after);
out:
	free(ro_before);
	free(root_before);
	rm_rf(rw);
	rm_rf(ro);
	rm_rf(files);
	rm_rf(upper);
	rm_rf(root);
}

/* The host swaps a bind's source directory for a symlink while the sandbox runs. */
struct swap {
	const char *dir, *moved, *target;
	int done;
};

static void swap_bind_source(void *arg)
{
	struct swap *s = arg;

	s->done = rename(s->dir, s->moved) == 0 && symlink(s->target, s->dir) == 0;
}

/* A workload tries to reach the host's files through its binds: `..` past a bind's root,
 * symlinks it makes or the host placed there, /proc's magic links, a link or rename
 * between binds, device nodes and FIFOs, and a bind source swapped for a symlink after
 * start. A marker file in a host directory that no bind contains must never be read. */
static void t_share_escapes(void)
{
	char host[] = "/tmp/vz-conf-hostonly-XXXXXX", d1[] = "/tmp/vz-conf-esc1-XXXXXX";
	char d2[] = "/tmp/vz-conf-esc2-XXXXXX", ro[] = "/tmp/vz-conf-escro-XXXXXX";
	char sw[] = "/tmp/vz-conf-escsw-XXXXXX", moved[64], loopfile[] = "/tmp/vz-conf-escloop-XXXXXX";
	char secret[96], kmsg[96], path[256], link[256], buf[512], script[4096], root[512];
	struct opts o = { .uid = -1, .bind_src = d1, .bind_dst = "/data", .bind_flags = VZ_BIND_RW,
			  .bind2_src = VZ_TEST_PROBE_DIR, .bind2_dst = "/vzprobe",
			  .ready = "\nswap-now\n", .on_ready = swap_bind_source };
	struct swap sws = { .dir = sw, .moved = moved };
	int failed0 = vzt_failed, devices = geteuid() == 0, loopn = -1, loopfd = -1, fifo_r = -1, fifo_w = -1, fd;
	struct stat st;
	struct run r;

	if (!CHECK(mkdtemp(host) && mkdtemp(d1) && mkdtemp(d2) && mkdtemp(ro) && mkdtemp(sw)))
		return;
	snprintf(moved, sizeof(moved), "%s.orig", sw);
	sws.target = host;
	o.ready_arg = &sws;
	o.more[0].src = d2;
	o.more[0].dst = "/data2";
	o.more[1].src = ro;
	o.more[1].dst = "/ro";
	o.more[1].flags = VZ_BIND_RO;
	o.more[2].src = sw;
	o.more[2].dst = "/swap";
	snprintf(secret, sizeof(secret), "vz-host-only-secret-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(kmsg, sizeof(kmsg), "<3>vz-conformance-share-kmsg-%d-%ld", (int)getpid(),
		 (long)time(NULL));
	snprintf(path, sizeof(path), "%s/marker", host);
	CHECK(write_text(path, secret));
	write_hello(ro);
	snprintf(path, sizeof(path), "%s/hello", sw);
	CHECK(write_text(path, "original\n"));
	/* The host's symlinks in the bind: absolute to the host-only directory, climbing
	 * to it, and to its marker. */
	snprintf(path, sizeof(path), "%s/hostlink", d1);
	CHECK(symlink(host, path) == 0);
	snprintf(path, sizeof(path), "%s/hostrel", d1);
	snprintf(link, sizeof(link), "../../../../../../../..%s", host);
	CHECK(symlink(link, path) == 0);
	snprintf(path, sizeof(path), "%s/hostfile", d1);
	snprintf(link, sizeof(link), "%s/marker", host);
	CHECK(symlink(link, path) == 0);
	/* The host's device nodes and FIFO in the read-only bind. */
	if (devices) {
		snprintf(path, sizeof(path), "%s/null", ro);
		CHECK(mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0);
		snprintf(path, sizeof(path), "%s/kmsg", ro);
		CHECK(mknod(path, S_IFCHR | 0666, makedev(1, 11)) == 0);
		fd = mkstemp(loopfile);
		if (CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0 &&
			  pwrite(fd, secret, strlen(secret), 0) == (ssize_t)strlen(secret)))
			loopn = loop_attach(loopfile, &loopfd);
		if (fd >= 0)
			close(fd);
		if (loopn >= 0) {
			snprintf(path, sizeof(path), "%s/loop", ro);
			CHECK(mknod(path, S_IFBLK | 0666, makedev(7, loopn)) == 0);
		} else {
			printf("#   no loop device here: no block node in the bind\n");
		}
		snprintf(path, sizeof(path), "%s/fifo", ro);
		CHECK(mkfifo(path, 0666) == 0);
		/* A host reader, and a host writer that put something in it. */
		fifo_r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		fifo_w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		CHECK(fifo_r >= 0 && fifo_w >= 0 && write(fifo_w, "fifo-from-host\n", 15) == 15);
	} else {
		printf("#   not root: no device nodes or FIFO placed by the host\n");
	}
	snprintf(script, sizeof(script),
		 "P=" FSPROBE "; H=%s\n"
		 "echo \"root=$(ls / | tr '\\n' ' ')\"\n"
		 "echo \"dotdot=$(cd /data/../../.. && ls | tr '\\n' ' ')\"\n"
		 "echo \"dotdot.pwd=$(cd /data/../../.. && pwd -P)\"\n"
		 "cat /data/../../..$H/marker 2>&1\n"
		 "ln -s / /data/toroot && ln -s ../../../../etc /data/toetc && echo links=made\n"
		 "echo \"toroot=$(ls /data/toroot/ | tr '\\n' ' ')\"\n"
		 "echo \"toetc=$(cat /data/toetc/hostname)\"\n"
		 "cat /data/toroot$H/marker /data/toetc/..$H/marker 2>&1\n"
		 "cat /data/hostlink/marker /data/hostrel/marker /data/hostfile 2>&1\n"
		 "echo \"hostlink=$(readlink /data/hostlink)\"\n"
		 "echo \"hostls=$(ls /data/hostlink/ /data/hostrel/ 2>/dev/null | tr '\\n' ' ')\"\n"
		 "echo \"selfroot=$(ls /proc/self/root/ | tr '\\n' ' ')\"\n"
		 "cat /proc/self/root$H/marker 2>&1\n"
		 "exec 3</data\n"
		 "echo \"fd3=$(readlink /proc/self/fd/3)\"\n"
		 "echo \"fd3up=$(ls /proc/self/fd/3/../../.. | tr '\\n' ' ')\"\n"
		 "cat /proc/self/fd/3/../../..$H/marker /proc/self/fd/3/hostlink/marker 2>&1\n"
		 "echo \"fds=$(for f in /proc/self/fd/*; do readlink $f; done | tr '\\n' ' ')\"\n"
		 "exec 3<&-\n"
		 "echo x > /data/f\n"
		 "ln /data/f /data2/f 2>&1; echo \"ln.across=$?\"\n"
		 "echo \"rename.across=$($P rename /data/f /data2/f)\"\n"
		 "ln /ro/hello /data/rolink 2>&1; echo \"ln.fromro=$?\"\n"
		 "echo \"rename.fromro=$($P rename /ro/hello /data/fromro)\"\n"
		 "mknod /ro/newnode c 1 3 2>&1; echo \"mknod.ro=$?\"\n"
		 "mknod /data/newnode c 1 3 2>&1; echo \"mknod.rw=$?\"\n"
		 "mknod /data/newblk b 7 0 2>&1; echo \"mknod.rwblk=$?\"\n"
		 "for n in null kmsg loop; do [ -e /ro/$n ] || continue; $P open /ro/$n r; "
		 "$P open /ro/$n w '%s'; done\n"
		 "[ -e /ro/fifo ] && { $P open /ro/fifo r; $P open /ro/fifo w FIFO-FROM-SANDBOX; }\n"
		 "echo; echo swap-now; read go\n"
		 "echo \"swap=$(ls /swap | tr '\\n' ' ')\"\n"
		 "echo \"swap.hello=$(cat /swap/hello)\"\n"
		 "cat /swap/marker 2>&1\n"
		 "echo after > /swap/after && echo swap.write=ok\n", host, kmsg);
	run_sh(&o, script, &r);
	if (r.rc == VZ_ENOTSUP) {
		vz_test_skip(NULL, "binds: %s", vz_error_last()->message);
		goto out;
	}
	EXPECT_EXIT(r, 0);
	print_notes(r.out, NULL);
	/* The marker never shows; every way up leads to the sandbox's own root. */
	CHECK_MSG(!strstr(r.out, secret) && !strstr(r.err, secret), "the host-only marker was read");
	field(r.out, "root", root, sizeof(root));
	CHECK_MSG(strstr(root, "vzprobe") && strstr(root, "data2"), "root=%s", root);
	CHECK_FIELD(r.out, "dotdot", root);
	CHECK_FIELD(r.out, "dotdot.pwd", "/");
	CHECK_FIELD(r.out, "links", "made");
	CHECK_FIELD(r.out, "toroot", root);
	CHECK_FIELD(r.out, "toetc", "vz");
	CHECK_FIELD(r.out, "hostlink", host);
	CHECK_FIELD(r.out, "hostls", "");
	CHECK_FIELD(r.out, "selfroot", root);
	CHECK_FIELD(r.out, "fd3", "/data");
	CHECK_FIELD(r.out, "fd3up", root);
	field(r.out, "fds", buf, sizeof(buf));
	CHECK_MSG(!strstr(buf, "/tmp/vz-conf"), "a descriptor names a host path: %s", buf);
	/* On the host: the sandbox's symlinks are there as written, nothing followed. */
	snprintf(path, sizeof(path), "%s/toroot", d1);
	memset(link, 0, sizeof(link));
	CHECK(readlink(path, link, sizeof(link) - 1) > 0);
	CHECK_STR(link, "/");
	snprintf(path, sizeof(path), "%s/toetc", d1);
	memset(link, 0, sizeof(link));
	CHECK(readlink(path, link, sizeof(link) - 1) > 0);
	CHECK_STR(link, "../../../../etc");
	/* Between binds: neither a link nor a rename (EXDEV), from the read-only one neither. */
	CHECK_MSG(strcmp(field(r.out, "ln.across", buf, sizeof(buf)), "0"), "ln across binds worked");
	CHECK_FIELD(r.out, "rename.across", "rename: Invalid cross-device link");
	CHECK_MSG(strcmp(field(r.out, "ln.fromro", buf, sizeof(buf)), "0"),
		  "ln from the read-only bind worked");
	CHECK_MSG(strstr(field(r.out, "rename.fromro", buf, sizeof(buf)), "rename: ") &&
		  !strstr(buf, "worked"), "rename.fromro=%s", buf);
	snprintf(path, sizeof(path), "%s/f", d2);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/hello", ro);
	read_text(path, buf, sizeof(buf));
	CHECK_STR(buf, "hi\n");
	/* No device node made anywhere; the host's cannot be opened. */
	CHECK_MSG(strcmp(field(r.out, "mknod.ro", buf, sizeof(buf)), "0"), "mknod in the read-only bind");
	CHECK_MSG(strcmp(field(r.out, "mknod.rw", buf, sizeof(buf)), "0"), "mknod c in the bind");
	CHECK_MSG(strcmp(field(r.out, "mknod.rwblk", buf, sizeof(buf)), "0"), "mknod b in the bind");
	snprintf(path, sizeof(path), "%s/newnode", ro);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/newnode", d1);
	CHECK_MSG(lstat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)),
		  "a device node was made in the bind on the host");
	snprintf(path, sizeof(path), "%s/newblk", d1);
	CHECK_MSG(lstat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)),
		  "a block device node was made in the bind on the host");
	if (devices) {
		CHECK_MSG(!strstr(r.out, "open r /ro/null: worked") && !strstr(r.out, "open w /ro/null: worked"),
			  "the host's char 1:3 opened in the bind");
		CHECK_MSG(!strstr(r.out, "open r /ro/kmsg: worked") && !strstr(r.out, "open w /ro/kmsg: worked"),
			  "the host's char 1:11 opened in the bind");
		CHECK_MSG(!strstr(r.out, "open r /ro/loop: worked") && !strstr(r.out, "open w /ro/loop: worked"),
			  "the host's loop device node opened in the bind");
		CHECK_MSG(!kmsg_has(kmsg + 3), "the sandbox wrote into the host's kernel log");
		if (loopn >= 0) {
			fd = open(loopfile, O_RDONLY | O_CLOEXEC);
			CHECK(fd >= 0 && read(fd, buf, strlen(secret)) == (ssize_t)strlen(secret) &&
			      !memcmp(buf, secret, strlen(secret)));
			if (fd >= 0)
				close(fd);
		}
		/* A FIFO is no device: nodev leaves it alone. In a container it is the host's
		 * own pipe; in a VM the guest kernel makes one of its own and nothing reaches
		 * the VMM. What crossed is reported, and must not cross into a VM. */
		memset(buf, 0, sizeof(buf));
		CHECK(read(fifo_r, buf, sizeof(buf) - 1) >= 0 || errno == EAGAIN);
		printf("#   fifo: the host's reader got \"%s\"; the sandbox read the host's data: %s\n",
		       strtok(buf, "\n") ? buf : "", strstr(r.out, "fifo-from-host") ? "yes" : "no");
		if (cur == VZ_BACKEND_VM) {
			CHECK_MSG(!strstr(buf, "FIFO-FROM-SANDBOX") && !strstr(r.out, "fifo-from-host"),
				  "data crossed a FIFO between the guest and the host");
		}
	}
	/* The swapped source: the sandbox kept the original directory. */
	CHECK_MSG(sws.done, "swapping %s for a symlink failed: %s", sw, strerror(errno));
	CHECK_FIELD(r.out, "swap", "hello ");
	CHECK_FIELD(r.out, "swap.hello", "original");
	CHECK_FIELD(r.out, "swap.write", "ok");
	snprintf(path, sizeof(path), "%s/after", moved);
	read_text(path, buf, sizeof(buf));
	CHECK_STR(buf, "after\n");
	snprintf(path, sizeof(path), "%s/after", host);
	CHECK_MSG(lstat(path, &st) < 0 && errno == ENOENT, "a write reached the swapped-in host dir");
	if (vzt_failed != failed0)
		print_notes(r.err, NULL);
out:
	if (fifo_r >= 0)
		close(fifo_r);
	if (fifo_w >= 0)
		close(fifo_w);
	if (loopfd >= 0) {
		ioctl(loopfd, LOOP_CLR_FD, 0);
		close(loopfd);
	}
	if (devices)
		unlink(loopfile);
	if (sws.done)
		unlink(sw);
	rm_rf(sws.done ? moved : sw);
	rm_rf(host);
	rm_rf(d1);
	rm_rf(d2);
	rm_rf(ro);
}

typedef void (*scenario)(void);
static const struct {
	const char *name;
	scenario fn;
} scenarios[] = {
#define S(f) { #f, f }
	S(t_stdout_stderr_apart), S(t_stdin_pipe), S(t_large_output), S(t_exit_codes),
	S(t_exit_137_by_itself), S(t_signal_death), S(t_env_cwd_hostname_user),
	S(t_rootfs_unchanged), S(t_readonly_rootfs), S(t_binds), S(t_memory_limit_oom),
	S(t_pids_limit_fork_bomb), S(t_wall_time), S(t_kill_term), S(t_kill_kill),
	S(t_host_invisible), S(t_privileged_ops_refused), S(t_result_fields),
	S(t_terminal_injection), S(t_host_devices), S(t_symlinked_targets),
	S(t_proc1_shows_no_host), S(t_persistent_upper_private), S(t_rootfs_path_commas),
	S(t_nothing_left), S(t_nothing_runs_after_result), S(t_prepare), S(t_concurrent_100), S(t_census_2000_mixed),
	S(t_concurrent_1000_32_threads), S(t_fs_semantics), S(t_bind_modes),
	S(t_share_escapes),
#undef S
};

static const struct {
	vz_backend backend;
	const char *name, *feature;
} backends[] = {
	{ VZ_BACKEND_CONTAINER, "container", "container" },
	{ VZ_BACKEND_VM, "vm", "kvm" },
};

int main(int argc, char **argv)
{
	const char *only = getenv("VZ_TEST_BACKEND");
	const char *filter = argc > 1 ? argv[1] : NULL;
	size_t n = 0;

	/* VMs start from templates, made by this run's first VM of each kind. */
	vzt_private_templates();

	printf("1..%zu\n", VZ_ARRAY_SIZE_T(backends) * VZ_ARRAY_SIZE_T(scenarios));
	for (size_t b = 0; b < VZ_ARRAY_SIZE_T(backends); b++) {
		const char *why = NULL;
		int avail;
		cur = backends[b].backend;
		cur_feature = backends[b].feature;
		avail = vz_backend_available(cur, &why);
		for (size_t s = 0; s < VZ_ARRAY_SIZE_T(scenarios); s++) {
			int before = vzt_failed;
			n++;
			vzt_planned++;
			if ((only && strcmp(only, backends[b].name)) || (filter && !strstr(scenarios[s].name, filter))) {
				printf("ok %zu - %s %s # SKIP not selected\n", n, backends[b].name, scenarios[s].name);
				vzt_skipped++;
				continue;
			}
			if (avail) {
				if (vz_test_required(cur_feature))
					vzt_check(0, VZT_LOC, "required backend %s unavailable: %s", backends[b].name, why);
				else
					vzt_skipped++;
				printf("%s %zu - %s %s # SKIP %s\n", vzt_failed == before ? "ok" : "not ok", n,
				       backends[b].name, scenarios[s].name, why);
				continue;
			}
			vzt_case_skipped = 0;
			fflush(stdout);
			scenarios[s].fn();
			if (vzt_case_skipped && vzt_failed == before) {
				vzt_skipped++;
				printf("ok %zu - %s %s # SKIP %s\n", n, backends[b].name, scenarios[s].name, vzt_skip_reason);
			} else {
				printf("%s %zu - %s %s\n", vzt_failed == before ? "ok" : "not ok", n,
				       backends[b].name, scenarios[s].name);
			}
			fflush(stdout);
		}
	}
	if (vzt_failed)
		return 1;
	return vzt_skipped == vzt_planned ? 77 : 0;
}
