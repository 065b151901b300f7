/* SPDX-License-Identifier: MIT */
/*
 * vz-bench-startup - how long a libvz container takes to run /bin/true, next to its peers.
 *
 * Usage: vz-bench-startup [--runs N] [--warmup W] [--rootfs DIR] [--no-peers]
 *                         [--json FILE] [--concurrency K]
 *
 * What one sample is: the wall time (CLOCK_MONOTONIC) of a whole life cycle of a sandbox
 * that runs /bin/true from the busybox rootfs.
 *   libvz      vz_sandbox_create -> vz_sandbox_limit (memory, pids, cpu) -> start -> until
 *              vz_sandbox_wait returns ("libvz"); and the same plus vz_sandbox_free
 *              ("libvz+free"). A peer's time includes its own tear-down (crun removes its
 *              cgroups and state before it exits), so "libvz+free" is the like-for-like row
 *              and the ratios are taken against it.
 *   fork+exec  posix_spawn of the rootfs's static busybox as "true" on the host, then
 *              waitpid: the floor every sandbox pays on top of.
 *   bwrap      bubblewrap, every namespace it can unshare, the rootfs bound read-only as /.
 *   crun       an OCI runtime with the same namespaces and the same cgroup limits.
 * Peers are started with posix_spawn and reaped with waitpid; their time runs from just
 * before posix_spawn to just after waitpid.
 *
 * Method:
 * - Interleaving: every round runs each mode once, in an order rotated by one every round.
 *   Drift during a long run (CPU frequency, page cache, namespace and cgroup clean-up that
 *   the kernel defers, other load) then lands on every mode alike instead of on whichever
 *   mode ran last, and no mode always runs right after the same other mode.
 * - Warm-up rounds run first and are discarded: the first runs pay for cold caches and
 *   for kernel objects created lazily.
 * - Medians and nearest-rank percentiles, not means: start-up times have a long right
 *   tail (an RCU grace period now and then when a task moves into a cgroup v1 hierarchy
 *   or a namespace goes away, scheduling on a small machine), and one outlier moves a
 *   mean but not a median; p90, p99 and max show the tail.
 * - A failed run is counted and its first error printed; its time is not a sample.
 * - libvz's own phase timings (vz_result.phases, named by the library) are collected per
 *   run, and their medians printed, to show where libvz's time goes.
 *
 * --concurrency K: one thread starts K sandboxes of a mode back to back, then waits for
 * each; one sample is the wall time of such a batch, shown as sandboxes per second
 * (defaults then: 20 batches after 2 warm-up batches).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vz/vz.h>

#ifndef VZ_BENCH_ROOTFS
#define VZ_BENCH_ROOTFS "rootfs"
#endif

#define BENCH_NAME "vz-bench-startup"
#define BENCH_CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC */
#define BENCH_TMPFS_MAGIC 0x01021994   /* TMPFS_MAGIC */
#define BENCH_UNIFIED "/sys/fs/cgroup/unified"

extern char **environ;

/* Set by SIGINT/SIGTERM/SIGHUP: finish the round, report what was measured, clean up. */
static volatile sig_atomic_t bench_stop;

enum {
	BENCH_MAX_MODES = 4,
	BENCH_MAX_PHASES = 24,
	BENCH_ERR_LEN = 512,
	BENCH_ID_LEN = 64,
	BENCH_PROGRESS_EVERY = 50,
	BENCH_MAX_CONCURRENCY = 1024,
	BENCH_WAIT_MS = 30000, /* a libvz run that lasts longer is killed and counted failed */
};

/* The limits both libvz and crun set: the same cgroup work in both. */
static const int64_t bench_memory = 256LL * 1024 * 1024;
static const int64_t bench_pids = 64;
static const int64_t bench_cpu_millicores = 1000;

/* The samples of one measured quantity, in the order they were taken. */
struct series {
	char name[32];
	uint64_t *ns;
	size_t n;
	size_t cap;
};

/* Median, percentiles and extremes of a series, in milliseconds. */
struct summary {
	size_t n;
	double median, p90, p99, min, max;
};

/* One life cycle in flight: what begin() made and end() must finish. */
struct slot {
	uint64_t t0;		 /* just before the first call of the life cycle */
	uint64_t t_start;	 /* libvz: just before vz_sandbox_start */
	uint64_t t_end;		 /* just after the end of the sandbox was seen */
	pid_t pid;		 /* a spawned peer */
	vz_sandbox *sb;		 /* a libvz sandbox */
	char id[BENCH_ID_LEN];	 /* crun's container id */
	char err[BENCH_ERR_LEN]; /* why this run failed */
};

struct bench;
struct mode;
typedef int (*mode_fn)(struct bench *b, struct mode *m, struct slot *s);
typedef void (*mode_after_fn)(struct bench *b, struct mode *m, struct slot *s);

struct mode {
	const char *name;
	char about[BENCH_ERR_LEN]; /* the isolation this mode gets, one line */
	char why[BENCH_ERR_LEN];   /* non-empty: the mode is skipped, and why */
	mode_fn begin;		   /* start one sandbox: sets t0 */
	mode_fn end;		   /* wait for it: sets t_end; 0 if it ran correctly */
	mode_after_fn after;	   /* checks after the timed part (or NULL) */
	char path[PATH_MAX];	   /* the program a peer spawns */
	char *argv[16];		   /* its arguments (crun builds its own per run) */
	posix_spawn_file_actions_t fa;
	bool fa_init;
	int errfd;		   /* memfd that catches a peer's stderr */
	struct series total;	   /* one sample per measured run (or batch) */
	struct series full;	   /* libvz: the same life cycle plus vz_sandbox_free */
	size_t failures;	   /* measured runs that failed */
	size_t warmup_failures;	   /* warm-up runs that failed */
	size_t leftovers;	   /* crun: state or cgroups left behind */
	char first_error[BENCH_ERR_LEN];
};

struct opts {
	size_t runs, warmup, concurrency;
	bool runs_set, warmup_set, peers;
	const char *rootfs, *json;
};

struct bench {
	struct opts o;
	char rootfs[PATH_MAX];
	char vz_why[BENCH_ERR_LEN]; /* what vz_backend_available says of this host */
	bool keep;		    /* the current round is measured, not warm-up */
	vz_config *cfg;
	struct mode modes[BENCH_MAX_MODES];
	size_t nmodes;
	struct series phase[BENCH_MAX_PHASES]; /* libvz start-up phases, by name */
	size_t nphase;
	struct series vz_pre;  /* vz_sandbox_create and _limit, before start */
	struct series vz_free; /* vz_sandbox_free after a finished run */
	/* crun: a temporary bundle and state root, and the mount namespace it runs in */
	char tmp[PATH_MAX], bundle[PATH_MAX], state[PATH_MAX];
	int host_ns, crun_ns, cwd_fd;
	unsigned long seq;
	const char *crun_note;
};

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Format a message or a path into a fixed buffer, truncating if it must. Through
 * vsnprintf, so that the compiler does not flag each possible truncation of a message.
 * Returns -1, so that an error path can end with "return msg(...)".
 */
static int __attribute__((format(printf, 3, 4))) msg(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	return -1;
}

static double ns_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		fprintf(stderr, BENCH_NAME ": out of memory\n");
		exit(1);
	}
	return p;
}

static void series_add(struct series *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->ns = xrealloc(s->ns, s->cap * sizeof(*s->ns));
	}
	s->ns[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p% of all samples at or below it. */
static uint64_t nearest_rank(const uint64_t *sorted, size_t n, unsigned p)
{
	size_t rank = (p * n + 99) / 100;

	return sorted[rank ? rank - 1 : 0];
}

static struct summary summarize(const struct series *s)
{
	struct summary r = { .n = s->n };
	uint64_t *v;
	size_t n = s->n;

	if (!n)
		return r;
	v = xrealloc(NULL, n * sizeof(*v));
	memcpy(v, s->ns, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	r.median = n % 2 ? ns_ms(v[n / 2]) : (ns_ms(v[n / 2 - 1]) + ns_ms(v[n / 2])) / 2;
	r.p90 = ns_ms(nearest_rank(v, n, 90));
	r.p99 = ns_ms(nearest_rank(v, n, 99));
	r.min = ns_ms(v[0]);
	r.max = ns_ms(v[n - 1]);
	free(v);
	return r;
}

/* Escape s as the inside of a JSON string into dst; -1 if it does not fit. */
static int json_escape(char *dst, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int w;

		if (c == '"' || c == '\\')
			w = snprintf(dst + o, len - o, "\\%c", c);
		else if (c < 0x20)
			w = snprintf(dst + o, len - o, "\\u%04x", c);
		else
			w = snprintf(dst + o, len - o, "%c", c);
		if (w < 0 || (size_t)w >= len - o)
			return -1;
		o += (size_t)w;
	}
	if (o >= len)
		return -1;
	dst[o] = '\0';
	return 0;
}

/* Look a program up along $PATH, as a shell would. */
static bool find_program(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t dl = strcspn(path, ":");
		int w = snprintf(out, len, "%.*s/%s", (int)dl, dl ? path : ".", name);

		if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
			return true;
		path += dl + (path[dl] == ':');
	}
	return false;
}

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	size_t n = 0, cap = 4096;
	char *buf;

	if (!f)
		return -1;
	buf = xrealloc(NULL, cap);
	for (;;) {
		size_t r = fread(buf + n, 1, cap - n - 1, f);

		n += r;
		if (r == 0)
			break;
		if (cap - n - 1 == 0)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	fclose(f);
	*out = buf;
	return 0;
}

/* ---- spawned peers -------------------------------------------------------------------- */

/* A peer's stdin and stdout are /dev/null; its stderr goes to a memfd we read on failure. */
static int spawn_setup(struct mode *m, const char *program)
{
	msg(m->path, sizeof(m->path), "%s", program);
	m->errfd = memfd_create("vz-bench-stderr", MFD_CLOEXEC);
	if (m->errfd < 0 || posix_spawn_file_actions_init(&m->fa) != 0) {
		msg(m->why, sizeof(m->why), "memfd/posix_spawn set-up: %s", strerror(errno));
		return -1;
	}
	m->fa_init = true;
	if (posix_spawn_file_actions_addopen(&m->fa, 0, "/dev/null", O_RDONLY, 0) ||
	    posix_spawn_file_actions_addopen(&m->fa, 1, "/dev/null", O_WRONLY, 0) ||
	    posix_spawn_file_actions_adddup2(&m->fa, m->errfd, 2)) {
		msg(m->why, sizeof(m->why), "posix_spawn file actions failed");
		return -1;
	}
	return 0;
}

/* Empty the stderr catcher before a run (outside the timed part). */
static void spawn_reset_err(struct mode *m)
{
	if (m->errfd >= 0) {
		if (ftruncate(m->errfd, 0) == 0)
			lseek(m->errfd, 0, SEEK_SET);
	}
}

static int spawn_argv(struct mode *m, struct slot *s, char *const *argv)
{
	int rc;

	s->t0 = now_ns();
	rc = posix_spawn(&s->pid, m->path, &m->fa, NULL, argv, environ);
	if (rc != 0) {
		s->pid = -1;
		msg(s->err, sizeof(s->err), "posix_spawn %s: %s", m->path, strerror(rc));
		return -1;
	}
	return 0;
}

static int spawn_begin(struct bench *b, struct mode *m, struct slot *s)
{
	return spawn_argv(m, s, m->argv);
}

/* Append what the peer wrote to stderr (the first line or so) to its error. */
static void append_stderr(struct mode *m, char *err, size_t len)
{
	char buf[256];
	ssize_t n = m->errfd >= 0 ? pread(m->errfd, buf, sizeof(buf) - 1, 0) : -1;
	size_t used = strlen(err);

	if (n <= 0 || used >= len)
		return;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = i == n - 1 ? '\0' : ' ';
	}
	msg(err + used, len - used, ": %s", buf);
}

static int spawn_end(struct bench *b, struct mode *m, struct slot *s)
{
	int status;

	while (waitpid(s->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			s->t_end = now_ns();
			msg(s->err, sizeof(s->err), "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	s->t_end = now_ns();
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		msg(s->err, sizeof(s->err), "%s exited with %d", m->name, WEXITSTATUS(status));
	else
		msg(s->err, sizeof(s->err), "%s killed by signal %d (%s)", m->name,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	append_stderr(m, s->err, sizeof(s->err));
	return -1;
}

/* fork+exec floor: the rootfs's own static busybox, run on the host as "true". */
static void floor_setup(struct bench *b, struct mode *m)
{
	char busybox[PATH_MAX];

	m->name = "fork+exec";
	msg(busybox, sizeof(busybox), "%s/bin/busybox", b->rootfs);
	msg(m->about, sizeof(m->about),
	    "no isolation: posix_spawn(%s, \"true\") on the host + waitpid", busybox);
	if (spawn_setup(m, busybox))
		return;
	m->argv[0] = "true";
	m->argv[1] = NULL;
	m->begin = spawn_begin;
	m->end = spawn_end;
}

static void bwrap_setup(struct bench *b, struct mode *m)
{
	static const char *const args[] = { "bwrap", "--unshare-all", "--die-with-parent",
		"--ro-bind", NULL /* rootfs */, "/", "--proc", "/proc", "--dev", "/dev",
		"--tmpfs", "/tmp", "/bin/true", NULL };
	char path[PATH_MAX];

	m->name = "bwrap";
	if (!find_program("bwrap", path, sizeof(path))) {
		msg(m->why, sizeof(m->why), "not installed");
		return;
	}
	msg(m->about, sizeof(m->about),
	    "%s --unshare-all: user (%s) pid net ipc uts cgroup mnt namespaces; rootfs "
	    "bound read-only as /; no cgroup limits, no seccomp, no overlay",
	    path, geteuid() == 0 ? "maps 0->0, root keeps all caps inside" : "unprivileged");
	if (spawn_setup(m, path))
		return;
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
		m->argv[i] = (char *)args[i];
	m->argv[4] = b->rootfs;
	m->begin = spawn_begin;
	m->end = spawn_end;
}

/* ---- crun --------------------------------------------------------------------------- */

/*
 * Replace, in the heap string *buf, the text from the first `from` up to and including
 * the first `to` after it by `with`. crun's generated spec is edited this way: libvz
 * and this program depend on libc only, so there is no JSON library to lean on, and the
 * few edits are anchored on keys crun spec always writes.
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

/* Does the text from `from` to the next `to` contain `what`? */
static bool section_has(const char *buf, const char *from, char to, const char *what)
{
	const char *a = strstr(buf, from), *z, *w;

	if (!a || !(z = strchr(a + strlen(from), to)))
		return false;
	w = strstr(a, what);
	return w && w < z;
}

/*
 * Edit crun spec's config.json: run /bin/true with no terminal on the read-only rootfs,
 * with libvz's limits, and with a cgroup namespace too (crun spec leaves it out; libvz
 * has one), so that both create the same namespaces and do the same cgroup work.
 */
static int crun_edit(char **buf, const char *rootfs, char *why, size_t len)
{
	char esc[PATH_MAX * 2], root[PATH_MAX * 2 + 64], res[256], lim[200];
	const char *anchor = "\"resources\"";

	if (json_escape(esc, sizeof(esc), rootfs))
		return msg(why, len, "rootfs path too long");
	msg(root, sizeof(root), "\"root\": {\"path\": \"%s\", \"readonly\": true}", esc);
	msg(lim, sizeof(lim), "\"memory\": {\"limit\": %" PRId64 "}, \"pids\": {\"limit\": %"
	    PRId64 "}, \"cpu\": {\"quota\": %" PRId64 ", \"period\": 100000}", bench_memory,
	    bench_pids, bench_cpu_millicores * 100);
	if (text_splice(buf, "\"terminal\"", ',', "\"terminal\": false,") ||
	    text_splice(buf, "\"args\"", ']', "\"args\": [\"/bin/true\"]") ||
	    text_splice(buf, "\"root\"", '}', root))
		return msg(why, len, "crun spec output not understood");
	/* Into the existing resources object (crun spec puts a devices rule there). */
	if (strstr(*buf, anchor)) {
		msg(res, sizeof(res), "%s: {%s%s", anchor, lim,
		    strstr(*buf, "\"resources\": {}") ? "" : ",");
	} else {
		anchor = "\"linux\"";
		msg(res, sizeof(res), "%s: {\"resources\": {%s},", anchor, lim);
	}
	if (text_splice(buf, anchor, '{', res))
		return msg(why, len, "crun spec output has no \"linux\"");
	if (!section_has(*buf, "\"namespaces\"", ']', "cgroup") &&
	    text_splice(buf, "\"namespaces\"", '[', "\"namespaces\": [{\"type\": \"cgroup\"},"))
		return msg(why, len, "crun spec output has no \"namespaces\"");
	return 0;
}

/* Run a helper command to its end (set-up only, not timed); 0 if it exited 0. */
static int run_cmd(struct bench *b, struct mode *m, char *const *argv, char *err, size_t len)
{
	struct slot s = { .pid = -1 };

	spawn_reset_err(m);
	if (spawn_argv(m, &s, argv) || spawn_end(b, m, &s)) {
		msg(err, len, "%s", s.err);
		return -1;
	}
	return 0;
}

/* Temporary bundle and state directories, and the bundle's edited config.json. */
static int crun_bundle(struct bench *b, struct mode *m)
{
	char *argv[] = { "crun", "spec", "-b", b->bundle, NULL };
	char path[PATH_MAX + 16], *buf = NULL;
	FILE *f;
	int rc = -1;

	msg(b->tmp, sizeof(b->tmp), "/tmp/vz-bench-XXXXXX");
	if (!mkdtemp(b->tmp)) {
		b->tmp[0] = '\0';
		return msg(m->why, sizeof(m->why), "mkdtemp: %s", strerror(errno));
	}
	msg(b->bundle, sizeof(b->bundle), "%s/bundle", b->tmp);
	msg(b->state, sizeof(b->state), "%s/state", b->tmp);
	if (mkdir(b->bundle, 0700) || mkdir(b->state, 0700))
		return msg(m->why, sizeof(m->why), "mkdir: %s", strerror(errno));
	if (run_cmd(b, m, argv, m->why, sizeof(m->why)))
		return -1;
	msg(path, sizeof(path), "%s/config.json", b->bundle);
	if (read_file(path, &buf))
		return msg(m->why, sizeof(m->why), "%s: %s", path, strerror(errno));
	if (crun_edit(&buf, b->rootfs, m->why, sizeof(m->why)) == 0) {
		f = fopen(path, "we");
		if (f && fputs(buf, f) >= 0 && fclose(f) == 0)
			rc = 0;
		else
			msg(m->why, sizeof(m->why), "write %s: %s", path, strerror(errno));
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
	    read_file(BENCH_UNIFIED "/cgroup.controllers", &buf))
		return false;
	busy = buf[strspn(buf, " \n")] != '\0';
	free(buf);
	return busy;
}

/* Go back to the host's mount namespace after a crun spawn; staying outside is fatal. */
static void ns_return(struct bench *b)
{
	if (setns(b->host_ns, CLONE_NEWNS) || fchdir(b->cwd_fd)) {
		fprintf(stderr, BENCH_NAME ": cannot return to the host mount namespace: %s\n",
			strerror(errno));
		exit(1);
	}
}

/*
 * crun refuses a hybrid cgroup host whose v2 hierarchy has any controller enabled
 * ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"); on this
 * kind of host that is only hugetlb, which neither crun nor libvz limits. So crun runs in
 * a private mount namespace made once here, in which
 * /sys/fs/cgroup/unified/cgroup.controllers is /dev/null (reads empty). crun then does its
 * ordinary work: a cgroup in every hierarchy, the limits written, all removed at exit.
 * The host is not changed. (setns also resets the cwd, hence cwd_fd.)
 */
static int crun_private_ns(struct bench *b, struct mode *m)
{
	b->host_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	b->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->host_ns < 0 || b->cwd_fd < 0 || unshare(CLONE_NEWNS))
		goto fail;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("/dev/null", BENCH_UNIFIED "/cgroup.controllers", NULL, MS_BIND, NULL) ||
	    (b->crun_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0) {
		int e = errno;

		ns_return(b);
		errno = e;
		goto fail;
	}
	ns_return(b);
	b->crun_note = "hybrid cgroup host: crun runs in a private mount namespace in which "
		       BENCH_UNIFIED "/cgroup.controllers reads empty (see the source)";
	return 0;
fail:
	msg(m->why, sizeof(m->why), "hybrid cgroups with v2 controllers, which crun "
	    "refuses, and no private mount namespace to hide them: %s", strerror(errno));
	return -1;
}

static int crun_begin(struct bench *b, struct mode *m, struct slot *s)
{
	char *argv[] = { "crun", "--root", b->state, "run", "--bundle", b->bundle, s->id, NULL };
	int rc;

	msg(s->id, sizeof(s->id), "vz-bench-%ld-%lu", (long)getpid(), ++b->seq);
	if (b->crun_ns >= 0 && setns(b->crun_ns, CLONE_NEWNS)) {
		s->t0 = s->t_end = now_ns();
		msg(s->err, sizeof(s->err), "setns into crun's namespace: %s", strerror(errno));
		return -1;
	}
	/* posix_spawn returns once crun runs: the way back overlaps crun's own work. */
	rc = spawn_argv(m, s, argv);
	if (b->crun_ns >= 0)
		ns_return(b);
	return rc;
}

/* After each run (not timed): crun run must have removed its state and its cgroups. */
static void crun_after(struct bench *b, struct mode *m, struct slot *s)
{
	static const char *const hier[] = { "cpu", "cpuacct", "cpuset", "memory", "devices",
		"freezer", "blkio", "pids", "net_cls", "perf_event", "hugetlb", "systemd",
		"unified", "." };
	char path[PATH_MAX + BENCH_ID_LEN];
	struct stat st;

	for (size_t i = 0; i <= sizeof(hier) / sizeof(hier[0]); i++) {
		if (i == 0)
			msg(path, sizeof(path), "%s/%s", b->state, s->id);
		else
			msg(path, sizeof(path), "/sys/fs/cgroup/%s/%s", hier[i - 1], s->id);
		if (stat(path, &st))
			continue;
		if (m->leftovers++ == 0)
			fprintf(stderr, BENCH_NAME ": crun left %s behind\n", path);
	}
}

static void crun_setup(struct bench *b, struct mode *m)
{
	char path[PATH_MAX];

	m->name = "crun";
	if (!find_program("crun", path, sizeof(path))) {
		msg(m->why, sizeof(m->why), "not installed");
		return;
	}
	msg(m->about, sizeof(m->about),
	    "%s run: pid net ipc uts mnt + cgroup namespaces, read-only root, crun spec's "
	    "default capabilities and masked paths, no seccomp; cgroup limits as libvz",
	    path);
	if (spawn_setup(m, path) || crun_bundle(b, m))
		return;
	if (hybrid_with_controllers() && crun_private_ns(b, m))
		return;
	m->begin = crun_begin;
	m->end = spawn_end;
	m->after = crun_after;
}

/* Remove the bundle and the state root; anything crun left there is counted. */
static void crun_cleanup(struct bench *b, struct mode *m)
{
	char path[PATH_MAX + 16];
	DIR *d;
	struct dirent *e;

	if (!b->tmp[0])
		return;
	d = opendir(b->state);
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			m->leftovers++;
			fprintf(stderr, BENCH_NAME ": crun state left: %s/%s\n", b->state,
				e->d_name);
		}
	}
	if (d)
		closedir(d);
	msg(path, sizeof(path), "%s/config.json", b->bundle);
	unlink(path);
	rmdir(b->bundle);
	rmdir(b->state);
	if (rmdir(b->tmp))
		fprintf(stderr, BENCH_NAME ": %s not removed: %s\n", b->tmp, strerror(errno));
}

/* ---- libvz ---------------------------------------------------------------------------- */

static int vz_fail(struct slot *s, const char *call)
{
	const vz_error *e = vz_error_last();

	s->t_end = now_ns();
	msg(s->err, sizeof(s->err), "%s: %s (%s)", call, e->message, vz_strerror(e->code));
	vz_sandbox_free(s->sb);
	s->sb = NULL;
	return -1;
}

static int vz_begin(struct bench *b, struct mode *m, struct slot *s)
{
	const struct {
		vz_limit kind;
		int64_t value;
	} limits[] = {
		{ VZ_LIMIT_MEMORY, bench_memory },
		{ VZ_LIMIT_PIDS, bench_pids },
		{ VZ_LIMIT_CPU, bench_cpu_millicores },
	};

	s->t0 = now_ns();
	if (vz_sandbox_create(&s->sb, VZ_BACKEND_CONTAINER, b->cfg) != VZ_OK)
		return vz_fail(s, "vz_sandbox_create");
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (vz_sandbox_limit(s->sb, limits[i].kind, limits[i].value) != VZ_OK)
			return vz_fail(s, "vz_sandbox_limit");
	}
	s->t_start = now_ns();
	if (vz_sandbox_start(s->sb) != VZ_OK)
		return vz_fail(s, "vz_sandbox_start");
	return 0;
}

/* Phases are kept by the names libvz gives them, in the order they first appear. */
static void record_phases(struct bench *b, const vz_result *res)
{
	for (uint32_t i = 0; i < res->phase_count && i < VZ_MAX_PHASES; i++) {
		const vz_phase *p = &res->phases[i];
		size_t k;

		for (k = 0; k < b->nphase; k++) {
			if (!strncmp(b->phase[k].name, p->name, sizeof(p->name)))
				break;
		}
		if (k == b->nphase) {
			if (b->nphase == BENCH_MAX_PHASES)
				continue;
			msg(b->phase[k].name, sizeof(b->phase[k].name), "%.*s",
			    (int)sizeof(p->name), p->name);
			b->nphase++;
		}
		series_add(&b->phase[k], p->ns);
	}
}

/* Wait (bounded, so that a hung sandbox is a failure and not a hung benchmark). */
static int vz_wait(struct slot *s, vz_result *res)
{
	int rc = vz_sandbox_wait(s->sb, BENCH_WAIT_MS, res);

	s->t_end = now_ns();
	if (rc == VZ_ETIMEDOUT) {
		vz_sandbox_kill(s->sb, SIGKILL);
		vz_sandbox_wait(s->sb, -1, res);
		msg(s->err, sizeof(s->err), "did not end within %d ms", BENCH_WAIT_MS);
		return -1;
	}
	if (rc != VZ_OK) {
		msg(s->err, sizeof(s->err), "vz_sandbox_wait: %s", vz_error_last()->message);
		return -1;
	}
	if (res->reason != VZ_REASON_EXITED || res->exit_code != 0) {
		msg(s->err, sizeof(s->err), "%s, exit code %d%s%.*s",
		    vz_reason_name(res->reason), res->exit_code, res->message[0] ? ": " : "",
		    (int)sizeof(res->message), res->message);
		return -1;
	}
	return 0;
}

static int vz_end(struct bench *b, struct mode *m, struct slot *s)
{
	vz_result res;
	uint64_t t_free;
	int rc;

	memset(&res, 0, sizeof(res));
	res.size = sizeof(res);
	rc = vz_wait(s, &res);
	vz_sandbox_free(s->sb);
	s->sb = NULL;
	t_free = now_ns();
	if (rc == 0 && b->keep && !b->o.concurrency) {
		series_add(&b->vz_pre, s->t_start - s->t0);
		record_phases(b, &res);
		series_add(&b->vz_free, t_free - s->t_end);
		series_add(&m->full, t_free - s->t0);
	}
	return rc;
}

static void vz_setup(struct bench *b, struct mode *m)
{
	const char *argv[] = { "/bin/true" };
	const char *why = NULL;

	m->name = "libvz";
	m->errfd = -1;
	msg(m->about, sizeof(m->about), "VZ_BACKEND_CONTAINER with its defaults: all "
	    "namespaces, ephemeral overlay root; cgroup limits memory, pids, cpu");
	if (vz_backend_available(VZ_BACKEND_CONTAINER, &why) != VZ_OK) {
		msg(m->why, sizeof(m->why), "container backend unavailable: %s",
		    why ? why : vz_error_last()->message);
		return;
	}
	msg(b->vz_why, sizeof(b->vz_why), "%s", why ? why : "");
	if (vz_config_new(&b->cfg) || vz_config_set_rootfs(b->cfg, b->rootfs) ||
	    vz_config_set_argv(b->cfg, 1, argv) ||
	    vz_config_set_stdio(b->cfg, VZ_STDIN, VZ_STDIO_NULL, -1) ||
	    vz_config_set_stdio(b->cfg, VZ_STDOUT, VZ_STDIO_NULL, -1) ||
	    vz_config_set_stdio(b->cfg, VZ_STDERR, VZ_STDIO_NULL, -1)) {
		msg(m->why, sizeof(m->why), "config: %s", vz_error_last()->message);
		return;
	}
	msg(m->full.name, sizeof(m->full.name), "libvz+free");
	m->begin = vz_begin;
	m->end = vz_end;
}

/* ---- the runner ----------------------------------------------------------------------- */

static void record(struct bench *b, struct mode *m, int rc, uint64_t ns, const char *err)
{
	if (rc == 0) {
		if (b->keep)
			series_add(&m->total, ns);
		return;
	}
	if (b->keep)
		m->failures++;
	else
		m->warmup_failures++;
	if (!m->first_error[0])
		msg(m->first_error, sizeof(m->first_error), "%s", err);
}

static void slot_init(struct slot *s)
{
	s->pid = -1;
	s->sb = NULL;
	s->t0 = s->t_start = s->t_end = 0;
	s->err[0] = '\0';
}

static void run_one(struct bench *b, struct mode *m, struct slot *s)
{
	int rc;

	slot_init(s);
	spawn_reset_err(m);
	rc = m->begin(b, m, s);
	if (rc == 0)
		rc = m->end(b, m, s);
	if (rc == 0 && m->after)
		m->after(b, m, s);
	record(b, m, rc, s->t_end - s->t0, s->err);
}

/* K life cycles at once from this thread: start all, then wait for each in turn. */
static void run_batch(struct bench *b, struct mode *m, struct slot *slots)
{
	size_t k = b->o.concurrency, started;
	const char *err = NULL;
	uint64_t t0, t1;

	spawn_reset_err(m);
	t0 = now_ns();
	for (started = 0; started < k; started++) {
		slot_init(&slots[started]);
		if (m->begin(b, m, &slots[started])) {
			err = slots[started].err;
			break;
		}
	}
	for (size_t i = 0; i < started; i++) {
		if (m->end(b, m, &slots[i]) && !err)
			err = slots[i].err;
	}
	t1 = now_ns();
	for (size_t i = 0; i < started && m->after; i++)
		m->after(b, m, &slots[i]);
	record(b, m, err ? -1 : 0, t1 - t0, err);
}

static void progress(struct bench *b, size_t done, size_t total)
{
	size_t fails = 0;

	if (done % BENCH_PROGRESS_EVERY && done != total)
		return;
	for (size_t i = 0; i < b->nmodes; i++)
		fails += b->modes[i].failures + b->modes[i].warmup_failures;
	fprintf(stderr, BENCH_NAME ": round %zu/%zu (%zu warm-up), %zu failed so far\n", done,
		total, b->o.warmup, fails);
}

/* Round r runs every mode once, starting at mode r mod n: see "Interleaving" above. */
static void run_rounds(struct bench *b)
{
	size_t total = b->o.warmup + b->o.runs;
	struct slot *slots = xrealloc(NULL, (b->o.concurrency ? b->o.concurrency : 1) *
					    sizeof(*slots));

	for (size_t r = 0; r < total && !bench_stop; r++) {
		b->keep = r >= b->o.warmup;
		for (size_t k = 0; k < b->nmodes; k++) {
			struct mode *m = &b->modes[(r + k) % b->nmodes];

			if (m->why[0])
				continue;
			if (b->o.concurrency)
				run_batch(b, m, slots);
			else
				run_one(b, m, slots);
		}
		progress(b, r + 1, total);
	}
	free(slots);
	if (bench_stop)
		fprintf(stderr, BENCH_NAME ": stopped by signal %d; reporting what was measured\n",
			(int)bench_stop);
}

/* ---- the report ----------------------------------------------------------------------- */

static void print_header(struct bench *b)
{
	struct utsname u;

	uname(&u);
	printf(BENCH_NAME ": /bin/true in %s\n", b->rootfs);
	printf("  %zu measured %s per mode after %zu warm-up; modes interleaved round-robin, "
	       "order rotated every round\n", b->o.runs,
	       b->o.concurrency ? "batches" : "runs", b->o.warmup);
	if (b->o.concurrency)
		printf("  concurrency: %zu sandboxes started at once from one thread, then "
		       "waited for\n", b->o.concurrency);
	printf("  host: %s %s %s, %ld CPUs online; libvz %s\n", u.sysname, u.release, u.machine,
	       sysconf(_SC_NPROCESSORS_ONLN), VZ_VERSION_STRING);
	printf("  limits (libvz, crun): memory %" PRId64 " MiB, pids %" PRId64 ", cpu %" PRId64
	       " millicores\n", bench_memory >> 20, bench_pids, bench_cpu_millicores);
	printf("modes:\n");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		printf("  %-10s %s\n", m->name, m->why[0] ? m->why : m->about);
	}
	if (b->vz_why[0])
		printf("  libvz container backend on this host: %s\n", b->vz_why);
	if (b->crun_note)
		printf("  note: %s\n", b->crun_note);
	printf("\n");
}

static void print_row(const struct bench *b, const char *name, const struct series *s,
		      size_t fails, double ref)
{
	struct summary r = summarize(s);

	printf("%-12s %5zu %5zu", name, r.n, fails);
	if (!r.n) {
		printf("   (no successful run)\n");
		return;
	}
	printf(" %9.3f %9.3f %9.3f %9.3f %9.3f", r.median, r.p90, r.p99, r.min, r.max);
	if (b->o.concurrency)
		printf(" %9.1f", (double)b->o.concurrency / (r.median / 1e3));
	if (ref > 0)
		printf(" %7.2fx", r.median / ref);
	printf("\n");
}

static void print_table(const struct bench *b)
{
	const struct mode *vz = &b->modes[0];
	const struct series *ref_series = vz->full.n ? &vz->full : &vz->total;
	double ref = ref_series->n ? summarize(ref_series).median : 0;

	printf("%-12s %5s %5s %9s %9s %9s %9s %9s%s %8s\n", "mode",
	       b->o.concurrency ? "batch" : "runs", "fail", "median", "p90", "p99", "min",
	       "max", b->o.concurrency ? "  sbox/s" : "", "ratio");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		if (m->why[0]) {
			printf("%-12s %s\n", m->name, m->why);
			continue;
		}
		print_row(b, m->name, &m->total, m->failures, ref);
		if (m->full.n)
			print_row(b, m->full.name, &m->full, m->failures, ref);
	}
	printf("(times in ms%s; ratio = a mode's median / the median of %s)\n",
	       b->o.concurrency ? " per batch; sbox/s = sandboxes per second at the median" : "",
	       ref_series == &vz->full ? "libvz+free, the like-for-like row" :
	       b->o.concurrency ? "libvz, whose batches include vz_sandbox_free" : "libvz");
}

static void print_failures(const struct bench *b)
{
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		if (m->warmup_failures)
			printf("%s: %zu warm-up runs failed\n", m->name, m->warmup_failures);
		if (m->first_error[0])
			printf("%s: first failure: %s\n", m->name, m->first_error);
		if (m->leftovers)
			printf("%s: %zu leftover state/cgroup entries\n", m->name, m->leftovers);
	}
}

static void print_phase(const char *name, const struct series *s, const char *note)
{
	struct summary r = summarize(s);

	printf("  %-16s %9.3f ms  (p90 %.3f, max %.3f, %zu runs)%s\n", name, r.median, r.p90,
	       r.max, r.n, note);
}

/* libvz's phases are timed from vz_sandbox_start; create and limit come before that. */
static void print_phases(const struct bench *b)
{
	double sum = summarize(&b->vz_pre).median;

	if (!b->nphase)
		return;
	printf("\nlibvz phases (medians; names from vz_result.phases, timed by libvz from "
	       "vz_sandbox_start):\n");
	print_phase("create+limit", &b->vz_pre, "  [timed here, before start]");
	for (size_t i = 0; i < b->nphase; i++) {
		print_phase(b->phase[i].name, &b->phase[i], "");
		sum += summarize(&b->phase[i]).median;
	}
	printf("  %-16s %9.3f ms  (the libvz row's median: %.3f)\n", "sum of medians", sum,
	       summarize(&b->modes[0].total).median);
	print_phase("vz_sandbox_free", &b->vz_free, "  [timed here, after wait]");
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	char buf[2 * BENCH_ERR_LEN + 2 * PATH_MAX];

	if (!s || json_escape(buf, sizeof(buf), s))
		fputs("null", f);
	else
		fprintf(f, "\"%s\"", buf);
}

static void json_series(FILE *f, const char *key, const struct series *s)
{
	struct summary r = summarize(s);

	fprintf(f, "\"%s\": {\"n\": %zu, \"summary_ms\": {\"median\": %.6f, \"p90\": %.6f, "
		"\"p99\": %.6f, \"min\": %.6f, \"max\": %.6f}, \"samples_ns\": [", key, r.n,
		r.median, r.p90, r.p99, r.min, r.max);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", s->ns[i]);
	fprintf(f, "]}");
}

static void json_mode(FILE *f, const struct mode *m)
{
	fprintf(f, "    {\"name\": ");
	json_str(f, m->name);
	fprintf(f, ", \"available\": %s, \"skipped_because\": ", m->why[0] ? "false" : "true");
	json_str(f, m->why[0] ? m->why : NULL);
	fprintf(f, ", \"isolation\": ");
	json_str(f, m->about);
	fprintf(f, ",\n     \"failures\": %zu, \"warmup_failures\": %zu, \"leftovers\": %zu, "
		"\"first_error\": ", m->failures, m->warmup_failures, m->leftovers);
	json_str(f, m->first_error[0] ? m->first_error : NULL);
	fprintf(f, ",\n     ");
	json_series(f, "time", &m->total);
	if (m->full.n) {
		fprintf(f, ",\n     ");
		json_series(f, "time_with_free", &m->full);
	}
	fprintf(f, "}");
}

static void json_body(FILE *f, const struct bench *b)
{
	fprintf(f, "{\n  \"benchmark\": \"" BENCH_NAME "\", \"libvz_version\": \"%s\",\n"
		"  \"rootfs\": ", VZ_VERSION_STRING);
	json_str(f, b->rootfs);
	fprintf(f, ", \"runs\": %zu, \"warmup\": %zu, \"concurrency\": %zu,\n  \"limits\": "
		"{\"memory_bytes\": %" PRId64 ", \"pids\": %" PRId64 ", \"cpu_millicores\": %"
		PRId64 "},\n  \"modes\": [\n", b->o.runs, b->o.warmup, b->o.concurrency,
		bench_memory, bench_pids, bench_cpu_millicores);
	for (size_t i = 0; i < b->nmodes; i++) {
		json_mode(f, &b->modes[i]);
		fprintf(f, "%s\n", i + 1 < b->nmodes ? "," : "");
	}
	fprintf(f, "  ],\n  \"libvz_phases\": [");
	for (size_t i = 0; i < b->nphase; i++) {
		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		json_str(f, b->phase[i].name);
		fprintf(f, ", ");
		json_series(f, "time", &b->phase[i]);
		fprintf(f, "}");
	}
	fprintf(f, "\n  ],\n  ");
	json_series(f, "libvz_create_limit", &b->vz_pre);
	fprintf(f, ",\n  ");
	json_series(f, "libvz_free", &b->vz_free);
	fprintf(f, "\n}\n");
}

static int write_json(const struct bench *b)
{
	FILE *f = fopen(b->o.json, "we");

	if (!f) {
		fprintf(stderr, BENCH_NAME ": %s: %s\n", b->o.json, strerror(errno));
		return -1;
	}
	json_body(f, b);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, BENCH_NAME ": writing %s failed\n", b->o.json);
		return -1;
	}
	return 0;
}

/* ---- options and main ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: " BENCH_NAME " [--runs N] [--warmup W] [--rootfs DIR] [--no-peers]\n"
		"                        [--json FILE] [--concurrency K]\n"
		"  --runs N         measured runs per mode (default 300; with --concurrency: "
		"batches, default 20)\n"
		"  --warmup W       discarded runs first (default 20; with --concurrency 2)\n"
		"  --rootfs DIR     busybox rootfs (default " VZ_BENCH_ROOTFS ")\n"
		"  --no-peers       measure libvz only\n"
		"  --json FILE      write every sample and the summary to FILE\n"
		"  --concurrency K  start K sandboxes at once, report sandboxes per second\n");
}

static int parse_size(const char *arg, size_t min, size_t max, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		fprintf(stderr, BENCH_NAME ": %s: expected a number from %zu to %zu\n", arg, min,
			max);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "rootfs", required_argument, NULL, 'r' },
		{ "no-peers", no_argument, NULL, 'P' },
		{ "json", required_argument, NULL, 'j' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .runs = 300, .warmup = 20, .peers = true, .rootfs = VZ_BENCH_ROOTFS };
	while ((c = getopt_long(argc, argv, "n:w:r:j:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_size(optarg, 1, 10000000, &o->runs))
				return -1;
			o->runs_set = true;
			break;
		case 'w':
			if (parse_size(optarg, 0, 10000000, &o->warmup))
				return -1;
			o->warmup_set = true;
			break;
		case 'c':
			if (parse_size(optarg, 1, BENCH_MAX_CONCURRENCY, &o->concurrency))
				return -1;
			break;
		case 'r':
			o->rootfs = optarg;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'P':
			o->peers = false;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	return optind == argc ? 0 : (usage(stderr), -1);
}

static int setup(struct bench *b)
{
	char busybox[PATH_MAX + 16];

	b->host_ns = b->crun_ns = b->cwd_fd = -1;
	if (!realpath(b->o.rootfs, b->rootfs)) {
		fprintf(stderr, BENCH_NAME ": rootfs %s: %s\n", b->o.rootfs, strerror(errno));
		return -1;
	}
	msg(busybox, sizeof(busybox), "%s/bin/busybox", b->rootfs);
	if (access(busybox, X_OK)) {
		fprintf(stderr, BENCH_NAME ": rootfs %s has no bin/busybox (build it with "
			"tools/mkrootfs.sh %s)\n", b->rootfs, b->rootfs);
		return -1;
	}
	for (size_t i = 0; i < BENCH_MAX_MODES; i++)
		b->modes[i].errfd = -1;
	vz_setup(b, &b->modes[b->nmodes++]);
	if (b->o.peers) {
		floor_setup(b, &b->modes[b->nmodes++]);
		bwrap_setup(b, &b->modes[b->nmodes++]);
		crun_setup(b, &b->modes[b->nmodes++]);
	}
	return 0;
}

static void teardown(struct bench *b)
{
	for (size_t i = 0; i < b->nmodes; i++) {
		struct mode *m = &b->modes[i];

		if (m->fa_init)
			posix_spawn_file_actions_destroy(&m->fa);
		if (m->errfd >= 0)
			close(m->errfd);
		free(m->total.ns);
		free(m->full.ns);
	}
	for (size_t i = 0; i < b->nphase; i++)
		free(b->phase[i].ns);
	free(b->vz_pre.ns);
	free(b->vz_free.ns);
	vz_config_free(b->cfg);
	if (b->host_ns >= 0)
		close(b->host_ns);
	if (b->crun_ns >= 0)
		close(b->crun_ns);
	if (b->cwd_fd >= 0)
		close(b->cwd_fd);
}

static void on_signal(int sig)
{
	bench_stop = sig;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int main(int argc, char **argv)
{
	static struct bench b;
	int rc = 0;

	if (parse_opts(argc, argv, &b.o))
		return 2;
	if (b.o.concurrency && !b.o.runs_set)
		b.o.runs = 20;
	if (b.o.concurrency && !b.o.warmup_set)
		b.o.warmup = 2;
	if (setup(&b)) {
		teardown(&b);
		return 1;
	}
	print_header(&b);
	fflush(stdout);
	catch_signals();
	run_rounds(&b);
	if (b.o.peers)
		crun_cleanup(&b, &b.modes[3]);
	print_table(&b);
	print_failures(&b);
	print_phases(&b);
	if (b.o.json && write_json(&b))
		rc = 1;
	for (size_t i = 0; i < b.nmodes; i++) {
		if (b.modes[i].failures || b.modes[i].leftovers)
			rc = 1;
	}
	teardown(&b);
	return rc;
}
