/* SPDX-License-Identifier: MIT */
/*
 * vz-bench: the modes. Each is a begin/end/stop triple over one life cycle of a sandbox.
 *
 *   libvz-container  vz_sandbox_create -> limit (memory, pids, cpu, wall) -> start -> wait
 *                    -> free: the whole life cycle, as a peer's time includes its tear-down
 *   libvz-vm         the same with VZ_BACKEND_VM (guest RAM = the memory limit), started
 *                    from a template (libvz's default) that is made once, untimed, before
 *                    the mode's first run of each configuration
 *   libvz-vm-cold    libvz-vm with VZ_VM_START_COLD: a full boot of the guest every start
 *   libvz-vm-NAME    libvz-vm with another rootfs (--alt-rootfs NAME=DIR)
 *   fork+exec        clone+execve of the rootfs's busybox on the host, waitpid: the floor
 *   bwrap            bubblewrap --unshare-all, the rootfs bound read-only as /
 *   crun, runc       OCI runtimes: the same namespaces and cgroup limits as libvz
 *   qemu-microvm     QEMU's microvm machine, the same kernel, the rootfs as initramfs; KVM
 *                    where it boots the guest, else TCG (emulation), and says which
 *   kvmtool          lkvm run, when --kvmtool gives its path
 * A peer's time runs from just before it is spawned until it has been reaped.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VZ_BENCH_DEFAULT_KERNEL
#define VZ_BENCH_DEFAULT_KERNEL ""
#endif

#define BENCH_CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC */
#define BENCH_TMPFS_MAGIC 0x01021994   /* TMPFS_MAGIC */
#define BENCH_UNIFIED "/sys/fs/cgroup/unified"

/* The limits libvz and the OCI runtimes set: the same cgroup work in each. */
static const int64_t bench_memory = 256LL << 20;
static const int64_t bench_pids = 64;
static const int64_t bench_cpu_millicores = 1000;

/* Printed by a guest's init (QEMU, kvmtool) when the workload exited 0. */
#define GUEST_OK "vz-bench-ok"

const struct workload bench_workloads[] = {
	{ "true", "/bin/true", { "/bin/true" }, 1, "/bin/true", DATA_NONE },
	{ "pipeline", "a small shell pipeline: sh -c 'seq 1 500 | sort -rn | head -n 3 | wc -l'",
	  { "/bin/sh", "-c", "seq 1 500 | sort -rn | head -n 3 | wc -l" }, 3,
	  "seq 1 500 | sort -rn | head -n 3 | wc -l", DATA_NONE },
	{ "touch64m", "touches 64 MiB: dd if=/dev/zero of=/dev/null bs=64M count=1 (one 64 MiB "
	  "buffer, every page written)",
	  { "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1" }, 5,
	  "dd if=/dev/zero of=/dev/null bs=64M count=1", DATA_NONE },
	/* The data workloads: libvz modes only, not in the default set (see main.c). Blocks
	 * read from /dev/zero are always full, so count=64 is 64 MiB without iflag=fullblock;
	 * bs=1048576 rather than 1M, which busybox and coreutils dd both take. */
	{ "stdout64m", "64 MiB of zeros through the sandbox's stdout, a pipe the harness reads "
	  "to its end and checks: dd if=/dev/zero bs=1048576 count=64",
	  { "/bin/dd", "if=/dev/zero", "bs=1048576", "count=64" }, 4,
	  "dd if=/dev/zero bs=1048576 count=64", DATA_STDOUT },
	{ "bind64m", "64 MiB of zeros written into a read-write bind mount of a fresh host "
	  "directory, checked on the host: dd if=/dev/zero of=" BENCH_BIND_PATH "/f bs=1048576 "
	  "count=64 conv=fsync",
	  { "/bin/dd", "if=/dev/zero", "of=" BENCH_BIND_PATH "/f", "bs=1048576", "count=64",
	    "conv=fsync" }, 6,
	  "dd if=/dev/zero of=" BENCH_BIND_PATH "/f bs=1048576 count=64 conv=fsync", DATA_BIND },
};
const size_t bench_nworkloads = sizeof(bench_workloads) / sizeof(bench_workloads[0]);

/* The memory run: says it is ready on stdout, then stays. The marker is put together by
 * the shell, so that a kernel that echoes its command line cannot send it early. */
#define READY_SCRIPT "r=ready; echo vz-bench-$r; exec sleep 3600"
const struct workload bench_ready_workload = {
	"ready", READY_SCRIPT, { "/bin/sh", "-c", READY_SCRIPT }, 3, READY_SCRIPT, DATA_NONE
};

static bool is_ready(const struct workload *w)
{
	return w == &bench_ready_workload;
}

/* Does mode m run workload w? The data workloads need libvz's API. */
bool wl_applies(const struct mode *m, const struct workload *w)
{
	return m->libvz || w->data == DATA_NONE;
}

/* Are all n bytes 0? Word by word, without an early exit, so that it stays cheap. */
bool all_zero(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t acc = 0, v;
	size_t i = 0;

	for (; i + sizeof(v) <= n; i += sizeof(v)) {
		memcpy(&v, p + i, sizeof(v));
		acc |= v;
	}
	for (; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * The per-workload slots of a mode (libvz configs, OCI bundles, templates): the
 * selected workloads, then the memory run's, then /bin/true for the concurrency rounds
 * when it is not among the selected ones.
 */
static size_t nslots(const struct bench *b)
{
	for (size_t i = 0; i < b->nwl; i++) {
		if (b->wl[i] == &bench_workloads[0])
			return b->nwl + 1;
	}
	return b->nwl + 2;
}

static const struct workload *slot_wl(const struct bench *b, size_t i)
{
	return i < b->nwl ? b->wl[i] : i == b->nwl ? &bench_ready_workload : &bench_workloads[0];
}

static int wl_index(struct bench *b, const struct workload *w)
{
	for (size_t i = 0; i < b->nwl; i++) {
		if (b->wl[i] == w)
			return (int)i;
	}
	/* the ready workload's slot, or the concurrency's /bin/true after it */
	return (int)b->nwl + (w != &bench_ready_workload);
}

/* ---- libvz ----------------------------------------------------------------------------- */

static int vz_fail(struct run *r, const char *what)
{
	msg(r->err, sizeof(r->err), "%s: %s", what, vz_error_last()->message);
	return -1;
}

/* Where the first byte that is not 0 is (after all_zero said there is one). */
static size_t first_nonzero(const char *buf, size_t n)
{
	size_t i = 0;

	while (i < n && !buf[i])
		i++;
	return i;
}

/* bind64m: the host directory bound at BENCH_BIND_PATH, made fresh for every run (the
 * mode's config names it) and removed after it. */
static void bind_dir(struct bench *b, struct mode *m, char *dst, size_t len)
{
	msg(dst, len, "%s/bind-%s", b->tmp, m->name);
}

static int bind_make(struct bench *b, struct mode *m, struct run *r)
{
	char dir[PATH_MAX];

	bind_dir(b, m, dir, sizeof(dir));
	/* any uid the sandbox maps to may write into it; our tmp dir (0700) guards it */
	if (mkdir(dir, 0700) || chmod(dir, 0777))
		return msg(r->err, sizeof(r->err), "bind directory %s: %s", dir, strerror(errno));
	r->bind = true;
	return 0;
}

/* Did BENCH_DATA_BYTES of zeros arrive in the bind directory's file? (Not timed.) */
static int bind_check(struct bench *b, struct mode *m, struct run *r)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], buf[1 << 16];
	uint64_t at = 0;
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	bind_dir(b, m, dir, sizeof(dir));
	msg(path, sizeof(path), "%s/f", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return msg(r->err, sizeof(r->err), "bind64m: %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || (uint64_t)st.st_size != BENCH_DATA_BYTES) {
		msg(r->err, sizeof(r->err), "bind64m: %s has %lld bytes, %llu expected", path,
		    (long long)st.st_size, (unsigned long long)BENCH_DATA_BYTES);
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (!all_zero(buf, (size_t)n)) {
			msg(r->err, sizeof(r->err), "bind64m: %s: byte %llu is not 0", path,
			    (unsigned long long)(at + first_nonzero(buf, (size_t)n)));
			goto out;
		}
		at += (uint64_t)n;
	}
	if (n < 0 || at != BENCH_DATA_BYTES)
		msg(r->err, sizeof(r->err), "bind64m: reading %s: %s", path,
		    n < 0 ? strerror(errno) : "short read");
	else
		rc = 0;
out:
	close(fd);
	return rc;
}

static int bind_remove(struct bench *b, struct mode *m, struct run *r)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];

	r->bind = false;
	bind_dir(b, m, dir, sizeof(dir));
	msg(path, sizeof(path), "%s/f", dir);
	if ((unlink(path) && errno != ENOENT) || rmdir(dir))
		return msg(r->err, sizeof(r->err), "bind64m: removing %s: %s", dir, strerror(errno));
	return 0;
}

/*
 * stdout64m: read the sandbox's stdout to its end (by the run's deadline) and check that
 * exactly BENCH_DATA_BYTES came, all 0. It reads on past a wrong byte, so that the writer
 * never blocks on a full pipe. 0: the end was reached (err set if the data was wrong);
 * -1: gave up before the end (err says why).
 */
static int drain_stdout(struct run *r, char *err, size_t len)
{
	uint64_t deadline = r->t0 + (uint64_t)r->timeout_ms * 1000000u, got = 0;
	uint64_t bad = UINT64_MAX;
	char buf[1 << 16];

	if (r->readyfd < 0)
		return msg(err, len, "stdout64m: no stdout pipe");
	for (;;) {
		struct pollfd p = { .fd = r->readyfd, .events = POLLIN };
		uint64_t now = now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
		ssize_t n;

		if (bench_stop)
			return msg(err, len, "stdout64m: stopped");
		if (poll(&p, 1, left > 1000 ? 1000 : left) < 0 && errno != EINTR)
			return msg(err, len, "stdout64m: poll: %s", strerror(errno));
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (left == 0)
				return msg(err, len, "stdout64m: %llu bytes by the deadline, no end",
					   (unsigned long long)got);
			continue;
		}
		n = read(r->readyfd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return msg(err, len, "stdout64m: read: %s", strerror(errno));
		if (n == 0)
			break;
		if (bad == UINT64_MAX && !all_zero(buf, (size_t)n))
			bad = got + first_nonzero(buf, (size_t)n);
		got += (uint64_t)n;
	}
	if (got != BENCH_DATA_BYTES)
		msg(err, len, "stdout64m: %llu bytes arrived, %llu expected",
		    (unsigned long long)got, (unsigned long long)BENCH_DATA_BYTES);
	else if (bad != UINT64_MAX)
		msg(err, len, "stdout64m: byte %llu is not 0", (unsigned long long)bad);
	return 0;
}

/* create and limit (the first part of begin, or all of prep). */
static int vz_create(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	int64_t mem = m->backend == VZ_BACKEND_VM ? (int64_t)b->o.vm_ram_mib << 20 : bench_memory;

	if (vz_sandbox_create(&r->sb, m->backend, m->cfg[wl_index(b, w)]))
		return vz_fail(r, "vz_sandbox_create");
	if (vz_sandbox_limit(r->sb, VZ_LIMIT_MEMORY, mem) ||
	    vz_sandbox_limit(r->sb, VZ_LIMIT_PIDS, bench_pids) ||
	    vz_sandbox_limit(r->sb, VZ_LIMIT_CPU, bench_cpu_millicores))
		return vz_fail(r, "vz_sandbox_limit");
	if (!is_ready(w) && vz_sandbox_limit(r->sb, VZ_LIMIT_WALL_TIME, r->timeout_ms))
		return vz_fail(r, "vz_sandbox_limit");
	return 0;
}

/* libvz-prepared, untimed: create, limit, vz_sandbox_prepare(). */
static int vz_prep(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	if (w->data == DATA_BIND && bind_make(b, m, r))
		return -1;
	if (vz_create(b, m, w, r))
		return -1;
	if (vz_sandbox_prepare(r->sb))
		return vz_fail(r, "vz_sandbox_prepare");
	return 0;
}

static int vz_begin(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	if (m->prepared) {
		r->t0 = r->t_created = now_ns();
		goto start;
	}
	if (w->data == DATA_BIND && bind_make(b, m, r))
		return -1;
	r->t0 = now_ns();
	if (vz_create(b, m, w, r))
		return -1;
	r->t_created = now_ns();
start:
	if (vz_sandbox_start(r->sb))
		return vz_fail(r, "vz_sandbox_start");
	if ((is_ready(w) || w->data == DATA_STDOUT) &&
	    (r->readyfd = vz_sandbox_stdio_fd(r->sb, VZ_STDOUT)) < 0)
		return vz_fail(r, "vz_sandbox_stdio_fd");
	return 0;
}

/* Wait for the end; stdout64m reads and checks the output first (timed: the run ends
 * after its last byte and its exit), bind64m checks the file after the end (not timed). */
static int vz_end(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	char data_err[BENCH_ERR_LEN] = "";
	int rc = -1;

	if (w->data == DATA_STDOUT && drain_stdout(r, data_err, sizeof(data_err)))
		vz_sandbox_kill(r->sb, SIGKILL);
	r->res = (vz_result){ .size = sizeof(r->res) };
	if (vz_sandbox_wait(r->sb, r->timeout_ms + 10000, &r->res)) {
		vz_fail(r, "vz_sandbox_wait");
	} else if (r->res.reason != VZ_REASON_EXITED || r->res.exit_code != 0) {
		msg(r->err, sizeof(r->err), "%s, exit code %d%s%s%s%s",
		    vz_reason_name(r->res.reason), (int)r->res.exit_code,
		    r->res.message[0] ? ": " : "", r->res.message, data_err[0] ? "; " : "",
		    data_err);
	} else if (data_err[0]) {
		msg(r->err, sizeof(r->err), "%s", data_err);
	} else {
		rc = 0;
	}
	r->t_waited = now_ns();
	vz_sandbox_free(r->sb);
	r->sb = NULL;
	r->readyfd = -1;
	r->t_end = now_ns();
	if (r->bind) {
		if (rc == 0)
			rc = bind_check(b, m, r);
		if (bind_remove(b, m, r))
			rc = -1;
	}
	return rc;
}

/* Kills a sandbox that still runs; its result (the phases: how it started) stays in
 * r->res. */
static void vz_stop(struct bench *b, struct mode *m, struct run *r)
{
	if (r->sb) {
		r->res = (vz_result){ .size = sizeof(r->res) };
		vz_sandbox_kill(r->sb, SIGKILL);
		vz_sandbox_wait(r->sb, 60000, &r->res);
		vz_sandbox_free(r->sb);
		r->sb = NULL;
		r->readyfd = -1;
	}
	if (r->bind)
		bind_remove(b, m, r);
}

static pid_t vz_root(struct run *r)
{
	return r->sb ? vz_sandbox_pid(r->sb) : -1;
}

/* A restored mode's run that did not restore: its result has no "restore" phase. */
bool booted_cold(const struct mode *m, const vz_result *res)
{
	if (!m->restore)
		return false;
	for (uint32_t i = 0; i < res->phase_count && i < VZ_MAX_PHASES; i++) {
		if (!strcmp(res->phases[i].name, "restore"))
			return false;
	}
	return true;
}

/*
 * Restored modes, untimed, once per configuration before its first run: make the
 * template its sandboxes start from (vz_sandbox_make_template on a sandbox created and
 * limited as the runs' are; a matching template already there is kept). A failure is
 * kept in the mode's tmpl slot; the runs then boot cold and are counted so.
 */
static void vz_warm(struct bench *b, struct mode *m, const struct workload *w)
{
	struct tmpl *t = &m->tmpl[wl_index(b, w)];
	struct run r = { .pid = -1, .pidfd = -1, .outfd = -1, .readyfd = -1,
			 .timeout_ms = (int64_t)b->o.timeout_s * 1000 };
	uint64_t t0;

	if (t->tried)
		return;
	t->tried = true;
	progress(b, true, "%s: making the template for %s (not timed)", m->name, w->name);
	if ((w->data == DATA_BIND && bind_make(b, m, &r)) || vz_create(b, m, w, &r)) {
		msg(t->error, sizeof(t->error), "%s", r.err);
	} else {
		t0 = now_ns();
		if (vz_sandbox_make_template(r.sb))
			msg(t->error, sizeof(t->error), "vz_sandbox_make_template: %s",
			    vz_error_last()->message);
		else
			t->made = true;
		t->ms = ns_ms(now_ns() - t0);
	}
	vz_sandbox_free(r.sb);
	r.sb = NULL;
	if (r.bind)
		bind_remove(b, m, &r);
	if (t->error[0])
		fprintf(stderr, BENCH_NAME ": %s, %s: no template, its runs will boot cold: %s\n",
			m->name, w->name, t->error);
}

/* How a libvz VM mode starts: the library's default (from a template) or always cold. */
enum vm_start_how { START_NONE, START_RESTORE, START_COLD };

static void vz_setup(struct bench *b, struct mode *m, vz_backend be, const char *rootfs,
		     enum vm_start_how how)
{
	const char *why = NULL;
	char bind[PATH_MAX];

	m->backend = be;
	m->rootfs = rootfs;
	m->restore = how == START_RESTORE;
	m->cold = how == START_COLD;
	bind_dir(b, m, bind, sizeof(bind));
	msg(m->version, sizeof(m->version), "libvz %s", vz_version_string());
	m->ops = (struct mode_ops){ .begin = vz_begin, .end = vz_end, .stop = vz_stop, .root = vz_root,
				    .warm = m->restore ? vz_warm : NULL };
	if (vz_backend_available(be, &why) != VZ_OK) {
		msg(m->why, sizeof(m->why), "backend unavailable: %s",
		    why ? why : vz_error_last()->message);
		return;
	}
	if (be == VZ_BACKEND_VM) {
		msg(b->host_kvm, sizeof(b->host_kvm), "%s", why ? why : "");
		msg(m->about, sizeof(m->about), "libvz's own KVM VMM: guest kernel %s, %u MiB RAM, "
		    "1 vCPU, rootfs shared through virtio-fs, libvz's guest init (limits, "
		    "seccomp, capabilities dropped); %s", b->kernel[0] ? b->kernel : "(default)",
		    b->o.vm_ram_mib, why ? why : "");
		if (rootfs != b->rootfs)
			msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about),
			    "; rootfs %s (--alt-rootfs)", rootfs);
		msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about), "; %s",
		    m->cold ? "VZ_VM_START_COLD: a full boot of the guest kernel every start" :
		    "started from a template (guest memory mapped copy-on-write), made once "
		    "ahead and not timed");
	} else {
		msg(m->about, sizeof(m->about), "user pid net ipc uts mnt cgroup namespaces, "
		    "overlay root, cgroup limits (memory, pids, cpu), seccomp, capabilities "
		    "dropped");
	}
	for (size_t i = 0; i < nslots(b); i++) {
		const struct workload *w = slot_wl(b, i);
		vz_config *cfg = NULL;

		if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, rootfs) ||
		    vz_config_set_argv(cfg, (size_t)w->argc, w->argv) ||
		    vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_NULL, -1) ||
		    vz_config_set_stdio(cfg, VZ_STDOUT, is_ready(w) || w->data == DATA_STDOUT ?
					VZ_STDIO_PIPE : VZ_STDIO_NULL, -1) ||
		    vz_config_set_stdio(cfg, VZ_STDERR, VZ_STDIO_NULL, -1) ||
		    (w->data == DATA_BIND &&
		     vz_config_add_bind(cfg, bind, BENCH_BIND_PATH, VZ_BIND_RW)) ||
		    (be == VZ_BACKEND_VM && b->o.kernel && vz_config_set_kernel(cfg, b->o.kernel)) ||
		    (m->restore && vz_config_set_vm_templates(cfg, b->templates)) ||
		    (m->cold && vz_config_set_vm_start(cfg, VZ_VM_START_COLD))) {
			msg(m->why, sizeof(m->why), "config: %s", vz_error_last()->message);
			vz_config_free(cfg);
			return;
		}
		m->cfg[i] = cfg;
	}
}

/* ---- spawned peers ----------------------------------------------------------------------- */

/* Find a peer's program (m->path) and its version (the first line of `PROGRAM ARG`);
 * -1 with m->why naming the package to install. */
static int peer_find(struct mode *m, const char *program, const char *package,
		     const char *version_arg)
{
	char *ver[] = { m->path, (char *)version_arg, NULL };

	if (!find_program(program, m->path, sizeof(m->path)))
		return msg(m->why, sizeof(m->why), package ? "not installed (Debian: %s)" :
			   "%s: not an executable", package ? package : program);
	first_line(ver, m->version, sizeof(m->version));
	return 0;
}

/* Start argv with stdout+stderr into a fresh memfd (or, for the memory run, a pipe). */
static int peer_spawn(struct mode *m, const struct workload *w, struct run *r, char **argv,
		      int ns_fd)
{
	struct spawn sp = { .path = m->path, .argv = argv, .out_fd = -1, .err_fd = -1,
			    .ns_fd = ns_fd };
	int pipefd[2] = { -1, -1 }, rc;

	r->outfd = memfd_create("vz-bench-out", MFD_CLOEXEC);
	if (r->outfd < 0)
		return msg(r->err, sizeof(r->err), "memfd_create: %s", strerror(errno));
	sp.out_fd = sp.err_fd = r->outfd;
	if (is_ready(w)) {
		if (pipe2(pipefd, O_CLOEXEC))
			return msg(r->err, sizeof(r->err), "pipe: %s", strerror(errno));
		sp.out_fd = pipefd[1];
		r->readyfd = pipefd[0];
	}
	r->t0 = now_ns();
	rc = spawn_start(&sp, &r->pid, &r->pidfd, r->err, sizeof(r->err));
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return rc;
}

/* Reap a peer within the deadline; a peer that overstays is stopped and fails. */
static int peer_wait(struct bench *b, struct mode *m, struct run *r, int *status)
{
	if (spawn_wait(r->pid, r->pidfd, r->timeout_ms, status) == 0) {
		r->t_end = now_ns();
		r->pid = -1;
		return 0;
	}
	r->t_end = now_ns();
	msg(r->err, sizeof(r->err), "%s: %s", m->name,
	    errno == ETIMEDOUT ? "did not end in time" : strerror(errno));
	m->ops.stop(b, m, r);
	return -1;
}

static void peer_close(struct run *r)
{
	if (r->pidfd >= 0)
		close(r->pidfd);
	if (r->outfd >= 0)
		close(r->outfd);
	r->pidfd = r->outfd = -1;
}

static int peer_end(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	int status, rc = -1;

	(void)w;
	if (peer_wait(b, m, r, &status) == 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			rc = 0;
		} else {
			describe_status(status, m->name, r->err, sizeof(r->err));
			append_output(r->outfd, r->err, sizeof(r->err));
		}
	}
	peer_close(r);
	return rc;
}

static void peer_stop(struct bench *b, struct mode *m, struct run *r)
{
	(void)b, (void)m;
	if (r->pid > 0) {
		kill_reap(r->pid);
		r->pid = -1;
	}
	peer_close(r);
}

static pid_t peer_root(struct run *r)
{
	return r->pid;
}

/* fork+exec: the rootfs's static busybox, which picks the applet by argv[0]'s base name
 * and whose sh runs applets before looking at $PATH: the same programs, on the host. */
static int floor_begin(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	(void)b;
	return peer_spawn(m, w, r, (char **)w->argv, -1);
}

static void floor_setup(struct bench *b, struct mode *m)
{
	msg(m->path, sizeof(m->path), "%s/bin/busybox", b->rootfs);
	msg(m->about, sizeof(m->about), "no isolation: clone+execve of %s on the host, then "
	    "waitpid: the floor every sandbox pays on top of", m->path);
	msg(m->version, sizeof(m->version), "-");
	m->ops = (struct mode_ops){ .begin = floor_begin, .end = peer_end, .stop = peer_stop, .root = peer_root };
}

/* bubblewrap: argv is the fixed head and the workload. */
static int bwrap_begin(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	char *argv[32] = { "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", b->rootfs,
			   "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--" };
	size_t n = 13;

	for (int i = 0; i < w->argc; i++)
		argv[n++] = (char *)w->argv[i];
	return peer_spawn(m, w, r, argv, -1);
}

static void bwrap_setup(struct bench *b, struct mode *m)
{
	m->ops = (struct mode_ops){ .begin = bwrap_begin, .end = peer_end, .stop = peer_stop, .root = peer_root };
	if (peer_find(m, "bwrap", "bubblewrap", "--version"))
		return;
	msg(m->about, sizeof(m->about), "--unshare-all: user pid net ipc uts cgroup mnt "
	    "namespaces, rootfs bound read-only as /; no cgroup limits, no seccomp, no overlay");
	(void)b;
}

/* ---- OCI runtimes (crun, runc) -------------------------------------------------------------- */

/* "runtime --root STATE" then the rest. */
static void oci_argv(struct bench *b, struct mode *m, char **argv, char *state, size_t len)
{
	msg(state, len, "%s/%s-state", b->tmp, m->name);
	argv[0] = (char *)m->name;
	argv[1] = "--root";
	argv[2] = state;
}

static void oci_bundle_dir(struct bench *b, struct mode *m, const struct workload *w, char *dst,
			   size_t len)
{
	msg(dst, len, "%s/%s-%s", b->tmp, m->name, w->name);
}

static int oci_begin(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	char state[PATH_MAX], bundle[PATH_MAX], *argv[12];

	oci_argv(b, m, argv, state, sizeof(state));
	oci_bundle_dir(b, m, w, bundle, sizeof(bundle));
	r->seq = next_seq(b);
	msg(r->id, sizeof(r->id), "vz-bench-%d-%lu", (int)getpid(), r->seq);
	argv[3] = "run";
	argv[4] = "--bundle";
	argv[5] = bundle;
	argv[6] = r->id;
	argv[7] = NULL;
	return peer_spawn(m, w, r, argv, m->ns_fd);
}

/* "runtime --root STATE VERB ARGS...", to its end (clean-up: failures are ignored). */
static void oci_cmd(struct bench *b, struct mode *m, char *const *tail)
{
	char state[PATH_MAX], err[BENCH_ERR_LEN], *argv[12];
	struct spawn sp = { .path = m->path, .argv = argv, .out_fd = -1, .err_fd = -1,
			    .ns_fd = m->ns_fd };
	size_t n = 3;

	oci_argv(b, m, argv, state, sizeof(state));
	while (*tail && n < 11)
		argv[n++] = *tail++;
	argv[n] = NULL;
	if (run_cmd(&sp, 30000, err, sizeof(err)))
		fprintf(stderr, BENCH_NAME ": %s %s: %s\n", m->name, argv[3], err);
}

/* A container that is still running: kill it through the runtime, reap the runtime, and
 * delete what is left. */
static void oci_stop(struct bench *b, struct mode *m, struct run *r)
{
	int status;

	if (r->pid > 0) {
		oci_cmd(b, m, (char *[]){ "kill", r->id, "KILL", NULL });

		if (spawn_wait(r->pid, r->pidfd, 10000, &status))
			kill_reap(r->pid);
		r->pid = -1;
	}
	if (r->id[0])
		oci_cmd(b, m, (char *[]){ "delete", "-f", r->id, NULL });
	peer_close(r);
}

/* A runtime that failed may have left its container's state and cgroups: delete them. */
static int oci_end(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	int rc = peer_end(b, m, w, r);

	if (rc && r->id[0])
		oci_cmd(b, m, (char *[]){ "delete", "-f", r->id, NULL });
	return rc;
}

/*
 * Replace, in the heap string *buf, the text from the first `from` up to and including
 * the first `to` after it by `with`. The runtime's generated spec is edited this way:
 * this program depends on libc only, and the few edits are anchored on keys `spec`
 * always writes.
 */
static int text_splice(char **buf, const char *from, char to, const char *with)
{
	char *a = strstr(*buf, from), *z, *out;
	size_t head, tail, wl = strlen(with);

	if (!a || !(z = strchr(a + strlen(from), to)))
		return -1;
	z++;
	head = (size_t)(a - *buf);
	tail = strlen(z);
	out = xrealloc(NULL, head + wl + tail + 1);
	memcpy(out, *buf, head);
	memcpy(out + head, with, wl);
	memcpy(out + head + wl, z, tail + 1);
	free(*buf);
	*buf = out;
	return 0;
}

static bool section_has(const char *buf, const char *from, char to, const char *what)
{
	const char *a = strstr(buf, from), *z, *w;

	if (!a || !(z = strchr(a + strlen(from), to)))
		return false;
	w = strstr(a, what);
	return w && w < z;
}

/* JSON-escape into a buffer (paths and argv only; no control characters expected). */
static void json_into(char *dst, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			dst[o++] = '\\';
		dst[o++] = *s;
	}
	dst[o] = '\0';
}

/*
 * Edit `spec`'s config.json: run the workload with no terminal on the read-only rootfs,
 * with libvz's limits, and with a cgroup namespace (spec leaves it out; libvz has one),
 * so that both create the same namespaces and do the same cgroup work.
 */
static int oci_edit(char **buf, const char *rootfs, const struct workload *w, char *why,
		    size_t len)
{
	char esc[PATH_MAX * 2], root[PATH_MAX * 2 + 64], args[1024], res[256], lim[200], a[256];
	const char *anchor = "\"resources\"";
	size_t o;

	json_into(esc, sizeof(esc), rootfs);
	msg(root, sizeof(root), "\"root\": {\"path\": \"%s\", \"readonly\": true}", esc);
	o = (size_t)snprintf(args, sizeof(args), "\"args\": [");
	for (int i = 0; i < w->argc && o < sizeof(args); i++) {
		json_into(a, sizeof(a), w->argv[i]);
		o += (size_t)snprintf(args + o, sizeof(args) - o, "%s\"%s\"", i ? ", " : "", a);
	}
	if (o + 2 >= sizeof(args))
		return msg(why, len, "workload too long");
	strcat(args, "]");
	msg(lim, sizeof(lim), "\"memory\": {\"limit\": %" PRId64 "}, \"pids\": {\"limit\": %"
	    PRId64 "}, \"cpu\": {\"quota\": %" PRId64 ", \"period\": 100000}", bench_memory,
	    bench_pids, bench_cpu_millicores * 100);
	if (text_splice(buf, "\"terminal\"", ',', "\"terminal\": false,") ||
	    text_splice(buf, "\"args\"", ']', args) || text_splice(buf, "\"root\"", '}', root))
		return msg(why, len, "spec output not understood");
	if (strstr(*buf, anchor)) {
		msg(res, sizeof(res), "%s: {%s%s", anchor, lim,
		    strstr(*buf, "\"resources\": {}") ? "" : ",");
	} else {
		anchor = "\"linux\"";
		msg(res, sizeof(res), "%s: {\"resources\": {%s},", anchor, lim);
	}
	if (text_splice(buf, anchor, '{', res))
		return msg(why, len, "spec output has no \"linux\"");
	if (!section_has(*buf, "\"namespaces\"", ']', "cgroup") &&
	    text_splice(buf, "\"namespaces\"", '[', "\"namespaces\": [{\"type\": \"cgroup\"},"))
		return msg(why, len, "spec output has no \"namespaces\"");
	return 0;
}

static int oci_bundle(struct bench *b, struct mode *m, const struct workload *w)
{
	char bundle[PATH_MAX], path[PATH_MAX + 16], *buf = NULL;
	char *argv[] = { (char *)m->name, "spec", "--bundle", bundle, NULL };
	struct spawn sp = { .path = m->path, .argv = argv, .out_fd = -1, .err_fd = -1, .ns_fd = -1 };
	FILE *f;
	int rc = -1;

	oci_bundle_dir(b, m, w, bundle, sizeof(bundle));
	if (mkdir(bundle, 0700))
		return msg(m->why, sizeof(m->why), "mkdir %s: %s", bundle, strerror(errno));
	if (run_cmd(&sp, 30000, m->why, sizeof(m->why)))
		return -1;
	msg(path, sizeof(path), "%s/config.json", bundle);
	if (read_text(path, &buf))
		return msg(m->why, sizeof(m->why), "%s: %s", path, strerror(errno));
	if (oci_edit(&buf, b->rootfs, w, m->why, sizeof(m->why)) == 0) {
		f = fopen(path, "we");
		if (!f)
			msg(m->why, sizeof(m->why), "open %s: %s", path, strerror(errno));
		else if ((fputs(buf, f) < 0) | (fclose(f) != 0))
			msg(m->why, sizeof(m->why), "write %s: %s", path, strerror(errno));
		else
			rc = 0;
	}
	free(buf);
	return rc;
}

/* Is this a hybrid cgroup host whose v2 hierarchy has a controller enabled? */
static bool hybrid_with_controllers(void)
{
	struct statfs root, unified;
	char *buf = NULL;
	bool busy;

	if (statfs("/sys/fs/cgroup", &root) || root.f_type != BENCH_TMPFS_MAGIC ||
	    statfs(BENCH_UNIFIED, &unified) || unified.f_type != BENCH_CGROUP2_MAGIC ||
	    read_text(BENCH_UNIFIED "/cgroup.controllers", &buf))
		return false;
	busy = buf[strspn(buf, " \n")] != '\0';
	free(buf);
	return busy;
}

/*
 * crun refuses a hybrid cgroup host whose v2 hierarchy has any controller enabled
 * ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"); on such
 * a host that is typically only hugetlb, which neither crun nor libvz limits. So crun
 * runs in a private mount namespace, made once here, in which
 * /sys/fs/cgroup/unified/cgroup.controllers reads empty; crun then does its ordinary
 * work (a cgroup in every hierarchy, limits written, all removed at exit). The host is
 * not changed. The spawn helper enters that namespace in the child.
 */
static int crun_private_ns(struct bench *b, struct mode *m)
{
	const char *step = "unshare(CLONE_NEWNS)";
	int ns = -1, e;

	if (unshare(CLONE_NEWNS))
		goto fail;
	step = "make / private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		goto back;
	step = "bind /dev/null over " BENCH_UNIFIED "/cgroup.controllers";
	if (mount("/dev/null", BENCH_UNIFIED "/cgroup.controllers", NULL, MS_BIND, NULL))
		goto back;
	step = "open /proc/self/ns/mnt";
	if ((ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0)
		goto back;
	if (setns(b->host_ns, CLONE_NEWNS) || fchdir(b->cwd_fd)) {
		fprintf(stderr, BENCH_NAME ": cannot return to the host mount namespace: %s\n",
			strerror(errno));
		exit(1);
	}
	m->ns_fd = ns;
	msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about),
	    "; hybrid cgroup host: runs in a private mount namespace in which "
	    BENCH_UNIFIED "/cgroup.controllers reads empty (crun refuses v2 controllers in "
	    "hybrid mode)");
	return 0;
back:
	e = errno;
	if (setns(b->host_ns, CLONE_NEWNS) || fchdir(b->cwd_fd)) {
		fprintf(stderr, BENCH_NAME ": cannot return to the host mount namespace: %s\n",
			strerror(errno));
		exit(1);
	}
	errno = e;
fail:
	return msg(m->why, sizeof(m->why), "hybrid cgroups with v2 controllers, which crun "
		   "refuses, and no private mount namespace to hide them: %s: %s", step,
		   strerror(errno));
}

static void oci_setup(struct bench *b, struct mode *m)
{
	const char *name = m->name;
	char state[PATH_MAX];

	m->ns_fd = -1;
	m->ops = (struct mode_ops){ .begin = oci_begin, .end = oci_end, .stop = oci_stop, .root = peer_root };
	if (peer_find(m, name, name, "--version"))
		return;
	msg(m->about, sizeof(m->about), "%s run: pid net ipc uts mnt cgroup namespaces, read-only "
	    "root, spec's default seccomp-less profile, the same cgroup limits as libvz", name);
	msg(state, sizeof(state), "%s/%s-state", b->tmp, name);
	if (mkdir(state, 0700)) {
		msg(m->why, sizeof(m->why), "mkdir %s: %s", state, strerror(errno));
		return;
	}
	for (size_t i = 0; i < nslots(b); i++) {
		if (i < b->nwl && !wl_applies(m, b->wl[i]))
			continue;
		if (oci_bundle(b, m, slot_wl(b, i)))
			return;
	}
	if (!strcmp(name, "crun") && hybrid_with_controllers())
		crun_private_ns(b, m);
}

/* ---- guests: QEMU microvm, kvmtool ------------------------------------------------------------ */

/*
 * The guest's init is the rootfs's busybox sh, given the workload on the kernel command
 * line: it mounts devtmpfs, runs the workload with its output discarded, says GUEST_OK on
 * the serial console if it exited 0, and reboots (reboot=t: a triple fault, which ends
 * QEMU under -no-reboot and kvmtool too). Everything after "--" goes to init.
 */
static char *guest_cmdline(struct mode *m, const struct workload *w)
{
	char *out = NULL;

	if (is_ready(w)) {
		if (asprintf(&out, "%s rdinit=/bin/sh -- -c \"mount -t devtmpfs dev /dev; %s; reboot "
			     "-f\"", m->cmd_base, w->script) < 0)
			out = NULL;
	} else if (asprintf(&out, "%s rdinit=/bin/sh -- -c \"mount -t devtmpfs dev /dev; (%s) "
			    ">/dev/null 2>&1 && o=ok && echo vz-bench-$o; reboot -f\"", m->cmd_base,
			    w->script) < 0) {
		out = NULL;
	}
	return out;
}

static int qemu_begin(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	char ram[16], *cmd = guest_cmdline(m, w);
	bool kvm = !strcmp(m->accel, "kvm");
	char *argv[] = { "qemu-system-x86_64", "-M", "microvm", "-accel", m->accel, "-cpu",
			 kvm ? "host" : "max", "-m", ram, "-smp", "1", "-nodefaults",
			 "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
			 "-kernel", m->kernel, "-initrd", b->initramfs, "-append", cmd, NULL };
	int rc;

	if (!cmd)
		return msg(r->err, sizeof(r->err), "out of memory");
	msg(ram, sizeof(ram), "%u", b->o.vm_ram_mib);
	rc = peer_spawn(m, w, r, argv, -1);
	free(cmd);
	return rc;
}

static int kvmtool_begin(struct bench *b, struct mode *m, const struct workload *w,
			 struct run *r)
{
	char ram[16], *cmd = guest_cmdline(m, w);
	char *argv[] = { "lkvm", "run", "--kernel", m->kernel, "--initrd", b->initramfs, "--mem",
			 ram, "--cpus", "1", "--console", "serial", "--params", cmd, NULL };
	int rc;

	if (!cmd)
		return msg(r->err, sizeof(r->err), "out of memory");
	msg(ram, sizeof(ram), "%u", b->o.vm_ram_mib);
	rc = peer_spawn(m, w, r, argv, -1);
	free(cmd);
	return rc;
}

/* Does what the program wrote from offset *from on contain `what`? Moves *from to the
 * end (less an overlap for a match cut in two), so a poll loop reads each byte once. */
static bool output_has_from(int fd, off_t *from, const char *what)
{
	off_t size = lseek(fd, 0, SEEK_END), start = *from;
	size_t wl = strlen(what);
	char *buf;
	bool found = false;

	if (size <= start)
		return false;
	start = start > (off_t)wl ? start - (off_t)wl : 0;
	buf = xrealloc(NULL, (size_t)(size - start));
	if (pread(fd, buf, (size_t)(size - start), start) == size - start)
		found = memmem(buf, (size_t)(size - start), what, wl) != NULL;
	free(buf);
	*from = size;
	return found;
}

static bool output_has(int fd, const char *what)
{
	off_t from = 0;

	return output_has_from(fd, &from, what);
}

/*
 * A guest run succeeded if the VMM exited 0 and the guest said GUEST_OK. A VMM that
 * reports a KVM emulation failure stays paused rather than exiting: watch for that and
 * stop it at once instead of waiting out the deadline.
 */
static int guest_end(struct bench *b, struct mode *m, const struct workload *w, struct run *r)
{
	uint64_t deadline = now_ns() + (uint64_t)r->timeout_ms * 1000000u;
	off_t seen_err = 0, seen_emu = 0;
	int status, rc = -1;

	(void)w;
	for (;;) {
		uint64_t now = now_ns();
		int64_t left = now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000u);
		int64_t slice = left < 100 ? left : 100;

		if (spawn_wait(r->pid, r->pidfd, slice, &status) == 0) {
			r->t_end = now_ns();
			r->pid = -1;
			break;
		}
		if (errno != ETIMEDOUT) {
			r->t_end = now_ns();
			msg(r->err, sizeof(r->err), "%s: wait: %s", m->name, strerror(errno));
			peer_stop(b, m, r);
			return -1;
		}
		if (left == 0 || output_has_from(r->outfd, &seen_err, "KVM internal error") ||
		    output_has_from(r->outfd, &seen_emu, "KVM emulation failure")) {
			r->t_end = now_ns();
			msg(r->err, sizeof(r->err), "%s: %s", m->name,
			    left == 0 ? "did not end in time" : "KVM emulation failure");
			append_output(r->outfd, r->err, sizeof(r->err));
			peer_stop(b, m, r);
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(status, m->name, r->err, sizeof(r->err));
		append_output(r->outfd, r->err, sizeof(r->err));
	} else if (!output_has(r->outfd, GUEST_OK)) {
		msg(r->err, sizeof(r->err), "%s: the workload failed or the guest did not finish",
		    m->name);
		append_output(r->outfd, r->err, sizeof(r->err));
	} else {
		rc = 0;
	}
	peer_close(r);
	return rc;
}

/* The rootfs as a newc cpio archive, made once with cpio(1): the guests' initramfs. */
static int make_initramfs(struct bench *b, char *why, size_t len)
{
	char script[PATH_MAX * 3];
	char *argv[] = { "sh", "-c", script, NULL };
	char sh[PATH_MAX], cpio[PATH_MAX];
	struct spawn sp = { .path = sh, .argv = argv, .out_fd = -1, .err_fd = -1, .ns_fd = -1 };

	if (b->initramfs[0])
		return 0;
	if (!find_program("cpio", cpio, sizeof(cpio)) || !find_program("sh", sh, sizeof(sh)))
		return msg(why, len, "cpio is not installed (Debian: cpio)");
	msg(b->initramfs, sizeof(b->initramfs), "%s/rootfs.cpio", b->tmp);
	msg(script, sizeof(script), "cd '%s' && find . | LC_ALL=C sort | cpio -o -H newc --quiet "
	    "-R 0:0 > '%s'", b->rootfs, b->initramfs);
	if (run_cmd(&sp, 120000, why, len)) {
		b->initramfs[0] = '\0';
		return -1;
	}
	return 0;
}

/* The kernel command line of a guest peer, before the workload: libvz's console-free
 * defaults, with the words a kvm_pvm host needs when the peer uses KVM there. */
static void guest_cmd_base(struct bench *b, struct mode *m, bool kvm)
{
	const char *pvm = "vzpvm noxsave nopku nopcid noreplace-smp percpu_alloc=page "
			  "clearcpuid=popcnt,smap,smep,cx16,fsgsbase,rdpid,rdrand,rdseed,umip,"
			  "pcid,invpcid,avx,avx2,xsaveopt,xsavec,xsaves,rep_good,erms,fsrm";

	free(m->cmd_base);
	if (asprintf(&m->cmd_base, "console=ttyS0 quiet panic=-1 reboot=t tsc=reliable "
		     "no_timer_check nomodeset%s%s", kvm && b->pvm ? " " : "",
		     kvm && b->pvm ? pvm : "") < 0) {
		fprintf(stderr, BENCH_NAME ": out of memory\n");
		exit(1);
	}
}

/*
 * Which accelerator QEMU uses: KVM if one run of /bin/true boots and exits on it, else
 * TCG (QEMU's emulator), with the reason KVM did not do. The test run is not measured.
 */
static void qemu_pick_accel(struct bench *b, struct mode *m)
{
	struct run r = { .pid = -1, .pidfd = -1, .outfd = -1, .readyfd = -1,
			 .timeout_ms = (int64_t)b->o.timeout_s * 1000 };
	char kvm_err[BENCH_ERR_LEN] = "";

	if (access("/dev/kvm", R_OK | W_OK) == 0) {
		msg(m->accel, sizeof(m->accel), "kvm");
		guest_cmd_base(b, m, true);
		if (qemu_begin(b, m, &bench_workloads[0], &r) == 0 &&
		    guest_end(b, m, &bench_workloads[0], &r) == 0) {
			msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about),
			    "; accel KVM (-cpu host)");
			return;
		}
		peer_close(&r);
		msg(kvm_err, sizeof(kvm_err), "%s", r.err);
	} else {
		msg(kvm_err, sizeof(kvm_err), "/dev/kvm: %s", strerror(errno));
	}
	msg(m->accel, sizeof(m->accel), "tcg");
	guest_cmd_base(b, m, false);
	msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about),
	    "; accel TCG (emulation, -cpu max) because KVM could not boot the guest: %.200s",
	    kvm_err);
}

static bool is_bzimage(const char *path)
{
	char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes = fd >= 0 && pread(fd, magic, 4, 0x202) == 4 && !memcmp(magic, "HdrS", 4);

	if (fd >= 0)
		close(fd);
	return yes;
}

static void qemu_setup(struct bench *b, struct mode *m)
{
	m->ops = (struct mode_ops){ .begin = qemu_begin, .end = guest_end, .stop = peer_stop, .root = peer_root };
	if (peer_find(m, "qemu-system-x86_64", "qemu-system-x86", "--version"))
		return;
	if (!b->kernel[0]) {
		msg(m->why, sizeof(m->why), "no guest kernel found (--kernel, VZ_KERNEL)");
		return;
	}
	if (make_initramfs(b, m->why, sizeof(m->why)))
		return;
	msg(m->kernel, sizeof(m->kernel), "%s", b->kernel);
	msg(m->about, sizeof(m->about), "-M microvm, 1 vCPU, %u MiB, the same kernel (PVH entry), "
	    "the same rootfs as a cpio initramfs, busybox sh as init (no libvz guest init: no "
	    "limits, seccomp or capability drop in the guest)", b->o.vm_ram_mib);
	qemu_pick_accel(b, m);
}

static void kvmtool_setup(struct bench *b, struct mode *m)
{
	const char *kernel = b->o.kvmtool_kernel ? b->o.kvmtool_kernel : b->kernel;

	m->ops = (struct mode_ops){ .begin = kvmtool_begin, .end = guest_end, .stop = peer_stop, .root = peer_root };
	if (!b->o.kvmtool) {
		msg(m->why, sizeof(m->why), "no --kvmtool PATH given (not in Debian's archive)");
		return;
	}
	if (peer_find(m, b->o.kvmtool, NULL, "version"))
		return;
	if (!kernel[0] || !is_bzimage(kernel)) {
		msg(m->why, sizeof(m->why), "kvmtool boots a bzImage; %s is not one (give "
		    "--kvmtool-kernel)", kernel[0] ? kernel : "no kernel");
		return;
	}
	if (make_initramfs(b, m->why, sizeof(m->why)))
		return;
	msg(m->kernel, sizeof(m->kernel), "%s", kernel);
	msg(m->accel, sizeof(m->accel), "kvm");
	guest_cmd_base(b, m, true);
	msg(m->about, sizeof(m->about), "lkvm run, 1 vCPU, %u MiB, kernel %s, the same rootfs as a "
	    "cpio initramfs, busybox sh as init", b->o.vm_ram_mib, kernel);
}

/* ---- all modes ------------------------------------------------------------------------------- */

/* The guest kernel libvz will boot: --kernel, $VZ_KERNEL, then the installed default. */
static void find_kernel(struct bench *b)
{
	const char *k = b->o.kernel ? b->o.kernel : getenv("VZ_KERNEL");

	if (!k || !*k)
		k = VZ_BENCH_DEFAULT_KERNEL;
	if (*k && access(k, R_OK) == 0)
		msg(b->kernel, sizeof(b->kernel), "%s", k);
}

static bool wanted(struct bench *b, const char *name)
{
	const char *p = b->o.only;
	size_t len = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t dl = strcspn(p, ",");

		if (dl == len && !strncmp(p, name, len))
			return true;
		p += dl + (p[dl] == ',');
	}
	return false;
}

void modes_setup(struct bench *b)
{
	struct mode *m;

	find_kernel(b);
	b->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	for (size_t i = 0; i < BENCH_MAX_MODES; i++)
		b->modes[i].ns_fd = -1;
#define ADD(NAME, CLASS, fn, ...)                                                             \
	do {                                                                                  \
		m = &b->modes[b->nmodes++];                                                   \
		m->name = NAME;                                                               \
		m->cls = CLASS;                                                               \
		if (wanted(b, NAME))                                                          \
			fn(b, m, ##__VA_ARGS__);                                              \
		else                                                                          \
			msg(m->why, sizeof(m->why), "not selected (--only)");                  \
	} while (0)
	/* libvz modes stay libvz modes when not selected: peers are paired with them */
	if (b->o.container) {
		ADD("libvz-container", CLASS_CONTAINER, vz_setup, VZ_BACKEND_CONTAINER, b->rootfs,
		    START_NONE);
		m->libvz = true;
		/* The same sandboxes, each prepared (vz_sandbox_prepare) before its timed
		 * start, as a server keeping some ready would have them. */
		ADD("libvz-prepared", CLASS_CONTAINER, vz_setup, VZ_BACKEND_CONTAINER, b->rootfs,
		    START_NONE);
		m->libvz = true;
		m->prepared = true;
		m->ops.prep = vz_prep;
		msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about),
		    "; prepared ahead (vz_sandbox_prepare, not timed): timed from "
		    "vz_sandbox_start to the end of vz_sandbox_free");
	}
	/* libvz-vm (restored) first: it is the VM peers' pair */
	if (b->o.vm) {
		ADD("libvz-vm", CLASS_VM, vz_setup, VZ_BACKEND_VM, b->rootfs, START_RESTORE);
		m->libvz = true;
		/* what libvz-vm measured before templates: a full boot every start */
		ADD("libvz-vm-cold", CLASS_VM, vz_setup, VZ_BACKEND_VM, b->rootfs, START_COLD);
		m->libvz = true;
	}
	/* the same VM made ready ahead (restored from the template, as libvz-vm starts):
	 * the timed part is the job alone, which the way the guest came up leaves alike */
	if (b->o.vm) {
		ADD("libvz-vm-prepared", CLASS_VM, vz_setup, VZ_BACKEND_VM, b->rootfs,
		    START_RESTORE);
		m->libvz = true;
		m->prepared = true;
		m->ops.prep = vz_prep;
		msg(m->about + strlen(m->about), sizeof(m->about) - strlen(m->about),
		    "; made ready ahead (vz_sandbox_prepare, not timed): timed from "
		    "vz_sandbox_start to the end of vz_sandbox_free");
	}
	if (b->o.vm && b->o.alt_name) {
		ADD(b->alt_mode, CLASS_VM, vz_setup, VZ_BACKEND_VM, b->alt_rootfs, START_RESTORE);
		m->libvz = true;
	}
	if (b->o.peers && b->o.container) {
		ADD("fork+exec", CLASS_CONTAINER, floor_setup);
		ADD("bwrap", CLASS_CONTAINER, bwrap_setup);
		ADD("crun", CLASS_CONTAINER, oci_setup);
		ADD("runc", CLASS_CONTAINER, oci_setup);
	}
	if (b->o.peers && b->o.vm) {
		ADD("qemu-microvm", CLASS_VM, qemu_setup);
		ADD("kvmtool", CLASS_VM, kvmtool_setup);
	}
#undef ADD
}

void modes_teardown(struct bench *b)
{
	for (size_t i = 0; i < b->nmodes; i++) {
		struct mode *m = &b->modes[i];

		for (size_t k = 0; k < BENCH_MAX_WORKLOADS + 2; k++)
			vz_config_free(m->cfg[k]);
		for (size_t k = 0; k < BENCH_MAX_WORKLOADS; k++) {
			series_free(&m->lat[k].total);
			for (size_t p = 0; p < m->lat[k].nphase; p++)
				series_free(&m->lat[k].phase[p]);
		}
		for (size_t k = 0; k < m->nconc; k++) {
			series_free(&m->conc[k].latency);
			series_free(&m->conc[k].makespan);
		}
		if (m->ns_fd >= 0)
			close(m->ns_fd);
		free(m->cmd_base);
	}
}
