/* SPDX-License-Identifier: MIT */
/* The shared cgroup code: stale groups of a killed host program are swept, CPU time
 * counts every process of the sandbox, and the device allow-list (the v2 BPF program,
 * loaded and enforced here through the unified hierarchy where the host has one; the
 * container's rules end to end). Needs root and the container backend.
 *
 * Run with --sweep-helper, the program only creates, starts and waits for one sandbox:
 * the fresh process whose first sandbox sweeps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vz/vz.h>

#include "common/cgroup.h"
#include "harness.h"

/* Every libvz parent directory a sandbox group can be in, v2 and v1. */
static const char *const cg_parents[] = {
	"/sys/fs/cgroup/libvz",		"/sys/fs/cgroup/memory/libvz",
	"/sys/fs/cgroup/pids/libvz",	"/sys/fs/cgroup/cpu/libvz",
	"/sys/fs/cgroup/cpuacct/libvz", "/sys/fs/cgroup/devices/libvz",
};

static int count_prefix(const char *prefix)
{
	int n = 0;
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(cg_parents); i++) {
		DIR *d = opendir(cg_parents[i]);
		struct dirent *de;
		if (!d)
			continue;
		while ((de = readdir(d)))
			n += de->d_type == DT_DIR && !strncmp(de->d_name, prefix, strlen(prefix));
		closedir(d);
	}
	return n;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n < 0 ? -1 : 0;
}

struct out {
	vz_result res;
	char text[4096];
	int rc;
};

/* Run `sh -c SCRIPT` in a container; stdout into o->text. */
static void run_sh(const char *script, int64_t cpu, int64_t wall_ms, struct out *o)
{
	const char *argv[] = { "sh", "-c", script };
	vz_config *cfg = NULL;
	vz_sandbox *sb = NULL;
	size_t len = 0;
	int fd;

	memset(o, 0, sizeof(*o));
	o->res.size = sizeof(o->res);
	if ((o->rc = vz_config_new(&cfg)) || (o->rc = vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS)) ||
	    (o->rc = vz_config_set_argv(cfg, 3, argv)) ||
	    (o->rc = vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_PIPE, -1)) ||
	    (o->rc = vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg)) ||
	    (cpu && (o->rc = vz_sandbox_limit(sb, VZ_LIMIT_CPU, cpu))) ||
	    (wall_ms && (o->rc = vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, wall_ms))) ||
	    (o->rc = vz_sandbox_start(sb)))
		goto out;
	fd = vz_sandbox_stdio_fd(sb, VZ_STDOUT);
	for (ssize_t n; fd >= 0 && (n = read(fd, o->text + len, sizeof(o->text) - 1 - len)) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (len += (size_t)n) == sizeof(o->text) - 1)
			break;
	}
	o->text[len] = '\0';
	o->rc = vz_sandbox_wait(sb, -1, &o->res);
out:
	if (o->rc)
		printf("# %s: %s\n", script, vz_error_last()->message);
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

/* ---- (a) the sweep ---- */

/* Child: start three sandboxes that sleep, report their inits' pids, die of SIGKILL. */
static void orphan_sandboxes(int report)
{
	const char *argv[] = { "sleep", "60" };
	pid_t pids[3] = { 0 };
	vz_config *cfg;

	if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS) ||
	    vz_config_set_argv(cfg, 2, argv))
		_exit(1);
	for (int i = 0; i < 3; i++) {
		vz_sandbox *sb;
		if (vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg) ||
		    vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20) || vz_sandbox_start(sb)) {
			printf("# orphan sandbox %d: %s\n", i, vz_error_last()->message);
			fflush(stdout);
			_exit(1);
		}
		pids[i] = vz_sandbox_pid(sb);
	}
	if (write(report, pids, sizeof(pids)) != sizeof(pids))
		_exit(1);
	kill(getpid(), SIGKILL);
	_exit(1);
}

/* Gone or a zombie nobody reaped yet. */
static int process_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 1;
	gone = !fgets(buf, sizeof(buf), f) || ((p = strrchr(buf, ')')) && p[1] && p[2] == 'Z');
	fclose(f);
	return gone;
}

static int run_helper(void)
{
	pid_t pid;
	int status = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "unit_cgroup", "--sweep-helper", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* Move @pid into the first group named @prefix* found (v2, else v1 memory). */
static int join_group(const char *prefix, pid_t pid)
{
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(cg_parents); i++) {
		DIR *d = opendir(cg_parents[i]);
		struct dirent *de;
		char path[600], num[16];
		int fd, len, rc = -1;

		while (d && (de = readdir(d))) {
			if (de->d_type != DT_DIR || strncmp(de->d_name, prefix, strlen(prefix)))
				continue;
			snprintf(path, sizeof(path), "%s/%s/cgroup.procs", cg_parents[i],
				 de->d_name);
			len = snprintf(num, sizeof(num), "%d", (int)pid);
			fd = open(path, O_WRONLY | O_CLOEXEC);
			rc = fd >= 0 && write(fd, num, (size_t)len) == len ? 0 : -1;
			if (fd >= 0)
				close(fd);
			break;
		}
		if (d)
			closedir(d);
		if (!rc)
			return 0;
	}
	return -1;
}

static void t_sweep_dead_owner(void)
{
	char prefix[32], keep[64], decoy[64], path[128];
	pid_t child, straggler, inits[3] = { 0 };
	int p[2], status = 0, before, nkeep = 0, ndecoy = 0;

	if (!CHECK(pipe(p) == 0))
		return;
	fflush(stdout);
	child = fork();
	if (child == 0) {
		close(p[0]);
		orphan_sandboxes(p[1]);
	}
	close(p[1]);
	if (!CHECK(child > 0))
		return;
	CHECK_INT(read(p[0], inits, sizeof(inits)), ==, sizeof(inits));
	close(p[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status 0x%x", status);
	snprintf(prefix, sizeof(prefix), "sb-%d-", (int)child);
	before = count_prefix(prefix);
	CHECK_MSG(before >= 3, "%d groups named %s* after the owner died", before, prefix);
	/* The inits end with their host (they see its end of the status socket close). A
	 * process that outlives them in a group (a VMM, say) is what the sweep must kill:
	 * put one of ours there. */
	fflush(stdout);
	straggler = fork();
	if (straggler == 0) {
		alarm(60);
		for (;;)
			pause();
	}
	CHECK(straggler > 0 && join_group(prefix, straggler) == 0);

	/* Left alone: another name, and one that only starts like a sandbox's. Only in
	 * the parents that exist (a hybrid host's /sys/fs/cgroup is a tmpfs). */
	snprintf(keep, sizeof(keep), "keep-me-%d", (int)getpid());
	snprintf(decoy, sizeof(decoy), "%skeep", prefix);
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(cg_parents); i++) {
		if (access(cg_parents[i], F_OK) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", cg_parents[i], keep);
		nkeep += mkdir(path, 0755) == 0;
		snprintf(path, sizeof(path), "%s/%s", cg_parents[i], decoy);
		ndecoy += mkdir(path, 0755) == 0;
	}
	CHECK(nkeep > 0 && ndecoy > 0);

	status = run_helper();
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "helper status 0x%x", status);
	CHECK_MSG(count_prefix(prefix) == ndecoy, "%d groups named %s* left (%d decoys)",
		  count_prefix(prefix) - ndecoy, prefix, ndecoy);
	CHECK_INT(count_prefix(keep), ==, nkeep);
	for (int i = 0; i < 3; i++)
		CHECK_MSG(process_gone(inits[i]), "sandbox init %d is gone", (int)inits[i]);
	for (int tries = 0; straggler > 0 && tries < 500; tries++) {
		if (waitpid(straggler, &status, WNOHANG) == straggler) {
			CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
				  "straggler status 0x%x", status);
			straggler = 0;
		}
		usleep(10000);
	}
	if (!CHECK_MSG(straggler <= 0, "the process in a dead owner's group was not killed")) {
		kill(straggler, SIGKILL);
		waitpid(straggler, &status, 0);
	}
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(cg_parents); i++) {
		snprintf(path, sizeof(path), "%s/%s", cg_parents[i], keep);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/%s", cg_parents[i], decoy);
		rmdir(path);
	}
	CHECK_INT(count_prefix(keep), ==, 0);
	for (int i = 0; i < 3; i++)
		if (inits[i] > 0 && !process_gone(inits[i]))
			kill(inits[i], SIGKILL);
}

/* ---- (b) CPU time of a sandbox killed for its wall time ---- */

static void t_cpu_time_of_killed_sandbox(void)
{
	struct out o;
	uint64_t cpu;

	run_sh("while :; do :; done", 500, 1500, &o);
	CHECK_INT(o.rc, ==, 0);
	CHECK_STR(vz_reason_name(o.res.reason), vz_reason_name(VZ_REASON_TIMED_OUT));
	cpu = o.res.user_cpu_ns + o.res.system_cpu_ns;
	printf("# user %.1f ms, system %.1f ms, wall %.1f ms\n", (double)o.res.user_cpu_ns / 1e6,
	       (double)o.res.system_cpu_ns / 1e6, (double)o.res.wall_ns / 1e6);
	CHECK_MSG(cpu >= 300000000ull, "user+system %.1f ms < 300 ms", (double)cpu / 1e6);
	/* 0.5 CPU for 1.5 s: not much more than 750 ms either. */
	CHECK_MSG(cpu <= 1200000000ull, "user+system %.1f ms > 1200 ms", (double)cpu / 1e6);
}

/* ---- (c) the v2 device program ---- */

static const struct dev_case {
	unsigned type, access;
	unsigned major, minor;
	int allow;
} dev_cases[] = {
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 1, 3, 1 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_MKNOD, 1, 5, 1 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 1, 9, 1 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_WRITE, 5, 2, 1 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 136, 7, 1 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_MKNOD, 1, 11, 0 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 1, 1, 0 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 5, 1, 0 },
	{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 10, 232, 0 },
	{ BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_MKNOD, 7, 0, 0 },
	{ BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 1, 3, 0 },
	{ BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_WRITE, 136, 0, 0 },
};

static void t_bpf_program_loads(void)
{
	char log[8192];
	int fd = vz_cgroup_devices_load(log, sizeof(log));

	if (!CHECK_MSG(fd >= 0, "BPF_PROG_LOAD: %s; verifier: %s", strerror(errno), log))
		return;
	/* BPF_PROG_TEST_RUN does not run this program type (Linux 6.x); where it does,
	 * check the decisions. */
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(dev_cases); i++) {
		const struct dev_case *c = &dev_cases[i];
		struct bpf_cgroup_dev_ctx ctx = { .access_type = c->access << 16 | c->type,
						  .major = c->major, .minor = c->minor };
		union bpf_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.test.prog_fd = (uint32_t)fd;
		attr.test.ctx_in = (uintptr_t)&ctx;
		attr.test.ctx_size_in = sizeof(ctx);
		if (syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof(attr)) < 0) {
			printf("# BPF_PROG_TEST_RUN: %s (errno %d): the verifier's acceptance is "
			       "checked\n", strerror(errno), errno);
			break;
		}
		CHECK_MSG((int)attr.test.retval == c->allow, "%c %u:%u access %u: %u, expected %d",
			  c->type == BPF_DEVCG_DEV_CHAR ? 'c' : 'b', c->major, c->minor, c->access,
			  attr.test.retval, c->allow);
	}
	close(fd);
}

/* In a forked child inside the v2 group @procs (its cgroup.procs). */
static int devices_child(const char *procs)
{
	char dir[] = "/tmp/vz-unit-cgroup-XXXXXX", path[64], c;
	struct stat st;
	int fails = 0, fd;

#define EXPECT(cond, what)                                                                     \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			printf("#   %s: no (errno: %s)\n", what, strerror(errno));             \
			fails++;                                                               \
		}                                                                              \
	} while (0)
	EXPECT((fd = open(procs, O_WRONLY | O_CLOEXEC)) >= 0 && write(fd, "0", 1) == 1,
	       "join the group");
	close(fd);
	EXPECT(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/b", dir);
	EXPECT(mknod(path, S_IFBLK | 0600, makedev(7, 0)) < 0 && errno == EPERM,
	       "mknod b 7:0 refused");
	unlink(path);
	snprintf(path, sizeof(path), "%s/c", dir);
	EXPECT(mknod(path, S_IFCHR | 0600, makedev(1, 11)) < 0 && errno == EPERM,
	       "mknod c 1:11 refused");
	unlink(path);
	snprintf(path, sizeof(path), "%s/null", dir);
	EXPECT(mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod c 1:3 allowed");
	unlink(path);
	/* An overlayfs whiteout is exempt in the kernel. */
	snprintf(path, sizeof(path), "%s/whiteout", dir);
	EXPECT(mknod(path, S_IFCHR | 0600, makedev(0, 0)) == 0, "mknod c 0:0 (whiteout) allowed");
	unlink(path);
	rmdir(dir);
	EXPECT((fd = open("/dev/null", O_RDWR)) >= 0 && write(fd, "x", 1) == 1, "write /dev/null");
	close(fd);
	EXPECT((fd = open("/dev/zero", O_RDONLY)) >= 0 && read(fd, &c, 1) == 1, "read /dev/zero");
	close(fd);
	EXPECT((fd = open("/dev/ptmx", O_RDWR | O_NOCTTY)) >= 0, "open /dev/ptmx");
	close(fd);
	if (stat("/dev/kmsg", &st) == 0)
		EXPECT(open("/dev/kmsg", O_RDONLY) < 0 && errno == EPERM, "open /dev/kmsg refused");
	if (stat("/dev/loop0", &st) == 0 && S_ISBLK(st.st_mode))
		EXPECT(open("/dev/loop0", O_RDONLY) < 0 && errno == EPERM,
		       "open /dev/loop0 refused");
#undef EXPECT
	fflush(stdout);
	return fails;
}

/* Fork a child that joins the group whose cgroup.procs is @procs and checks there. */
static void in_group(const char *procs)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(30);
		_exit(devices_child(procs) ? 1 : 0);
	}
	if (!CHECK(pid > 0))
		return;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child in %s: status 0x%x",
		  procs, status);
}

/* The program attached as vz_cgroup_create() attaches it on v2, to a group of our own in
 * the host's v2 hierarchy (also a hybrid host's /sys/fs/cgroup/unified: the kernel runs
 * the program of a task's v2 group whether or not v1 controllers are mounted). */
static void t_bpf_program_enforces(void)
{
	const char *roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char dir[128], procs[160];
	int dirfd, rc;

	dir[0] = '\0';
	for (size_t i = 0; i < VZ_ARRAY_SIZE_T(roots) && !dir[0]; i++) {
		struct statfs sfs;
		if (statfs(roots[i], &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
			snprintf(dir, sizeof(dir), "%s/vz-unit-cgroup-%d", roots[i], (int)getpid());
	}
	if (!dir[0]) {
		vz_test_skip(NULL, "no cgroup v2 hierarchy mounted");
		return;
	}
	if (!CHECK_MSG(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno)))
		return;
	dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	CHECK(dirfd >= 0);
	rc = vz_cgroup_devices_attach(dirfd);
	CHECK_MSG(rc == 0, "attach: %s", vz_error_last()->message);
	close(dirfd);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	if (rc == 0)
		in_group(procs);
	for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY && tries < 200; tries++)
		usleep(1000);
	CHECK_MSG(access(dir, F_OK) < 0, "%s removed", dir);
}

/* ---- (d) the container's device rules ---- */

/* The group of this process's one running sandbox below @parent, or "". */
static void find_group(const char *parent, char *out, size_t len)
{
	char prefix[32];
	DIR *d = opendir(parent);
	struct dirent *de;

	out[0] = '\0';
	snprintf(prefix, sizeof(prefix), "sb-%d-", (int)getpid());
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && !strncmp(de->d_name, prefix, strlen(prefix)))
			snprintf(out, len, "%s/%s", parent, de->d_name);
	if (d)
		closedir(d);
}

/* Read the sandbox's stdout until @mark. */
static int read_until(int fd, char *buf, size_t cap, const char *mark)
{
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, mark) && len < cap - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (poll(&pfd, 1, 10000) <= 0)
			return -1;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, mark) ? 0 : -1;
}

/* The container runs with the allow-list: inside, mknod fails and the devices it has
 * work; outside, its group holds the rules (v1 devices.list, v2 one device program), and
 * a process that joins the group can neither create nor open any other device. The
 * container itself cannot show the refusal any more: it has no CAP_MKNOD and every
 * place it can write is nodev. */
static void t_container_devices(void)
{
	const char *script = "mknod /tmp/b b 7 0 2>/dev/null && echo MKNOD-B;"
			     "mknod /tmp/c c 1 11 2>/dev/null && echo MKNOD-C;"
			     "echo zero $(head -c1 /dev/zero | wc -c);"
			     "echo x > /dev/null && echo NULL-OK;"
			     "(exec 3<>/dev/ptmx) && echo PTMX-OK;"
			     "echo DONE; exec sleep 30";
	const char *argv[] = { "sh", "-c", script };
	char out[4096], group[512], path[600], list[1024], expect[1024] = "";
	vz_result res = { .size = sizeof(res) };
	vz_config *cfg = NULL;
	vz_sandbox *sb = NULL;
	struct statfs sfs;
	bool v2 = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;

	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
	CHECK_OK(vz_config_set_argv(cfg, 3, argv));
	CHECK_OK(vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_PIPE, -1));
	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg));
	CHECK_OK(vz_sandbox_start(sb));
	if (vzt_failed)
		goto out;
	CHECK_MSG(read_until(vz_sandbox_stdio_fd(sb, VZ_STDOUT), out, sizeof(out), "DONE\n") == 0,
		  "the workload's report: %s", out);
	for (char *l = out, *nl; *l; l = nl ? nl + 1 : l + strlen(l)) {
		nl = strchr(l, '\n');
		printf("# %.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
	}
	CHECK_MSG(!strstr(out, "MKNOD-B"), "mknod b 7 0 succeeded in the container");
	CHECK_MSG(!strstr(out, "MKNOD-C"), "mknod c 1 11 succeeded in the container");
	CHECK(strstr(out, "zero 1\n"));
	CHECK(strstr(out, "NULL-OK"));
	CHECK(strstr(out, "PTMX-OK"));

	find_group(v2 ? "/sys/fs/cgroup/libvz" : "/sys/fs/cgroup/devices/libvz", group,
		   sizeof(group));
	if (!CHECK_MSG(group[0], "no %s group for the sandbox", v2 ? "v2" : "devices"))
		goto out;
	if (v2) {
		union bpf_attr attr;
		int fd = open(group, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

		memset(&attr, 0, sizeof(attr));
		attr.query.target_fd = (uint32_t)fd;
		attr.query.attach_type = BPF_CGROUP_DEVICE;
		CHECK_MSG(syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) == 0,
			  "BPF_PROG_QUERY %s: %s", group, strerror(errno));
		CHECK_INT(attr.query.prog_cnt, ==, 1);
		close(fd);
	} else {
		static const char *const rules[] = { "1:3", "1:5", "1:7", "1:8", "1:9",
						     "5:0", "5:2", "136:*" };
		for (size_t i = 0; i < VZ_ARRAY_SIZE_T(rules); i++)
			snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect),
				 "c %s rwm\n", rules[i]);
		snprintf(path, sizeof(path), "%s/devices.list", group);
		CHECK_MSG(read_text(path, list, sizeof(list)) == 0, "read %s", path);
		CHECK_STR(list, expect);
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", group);
	in_group(path);
out:
	if (sb) {
		vz_sandbox_kill(sb, SIGKILL);
		CHECK_OK(vz_sandbox_wait(sb, -1, &res));
	}
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

static const struct vzt_case cases[] = {
	VZT_CASE(t_sweep_dead_owner),
	VZT_CASE(t_cpu_time_of_killed_sandbox),
	VZT_CASE(t_bpf_program_loads),
	VZT_CASE(t_bpf_program_enforces),
	VZT_CASE(t_container_devices),
};

int main(int argc, char **argv)
{
	const char *why = NULL;

	if (argc > 1 && !strcmp(argv[1], "--sweep-helper")) {
		struct out o;
		run_sh("true", 0, 0, &o);
		return o.rc || o.res.reason != VZ_REASON_EXITED;
	}
	if (geteuid() != 0)
		vz_test_skip_all("container", "the cgroup tests need root");
	if (vz_backend_available(VZ_BACKEND_CONTAINER, &why) < 0)
		vz_test_skip_all("container", "%s", why ? why : "container backend unavailable");
	return vz_test_run(cases, VZ_ARRAY_SIZE_T(cases), argc, argv);
}
