/* SPDX-License-Identifier: MIT */
/* vz-bench: clock, samples and percentiles, JSON text, spawning, process-tree memory. */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ns_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * Format into a fixed buffer, truncating if it must (through vsnprintf, so that the
 * compiler does not flag each possible truncation). Returns -1, so that an error path can
 * end with "return msg(...)".
 */
int msg(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	return -1;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		fprintf(stderr, BENCH_NAME ": out of memory\n");
		exit(1);
	}
	return p;
}

void series_add(struct series *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->ns = xrealloc(s->ns, s->cap * sizeof(*s->ns));
	}
	s->ns[s->n++] = ns;
}

void series_free(struct series *s)
{
	free(s->ns);
	*s = (struct series){ 0 };
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

struct summary summarize(const struct series *s)
{
	struct summary r = { .n = s->n };
	size_t n = s->n;
	double sum = 0;
	uint64_t *v;

	if (!n)
		return r;
	v = xrealloc(NULL, n * sizeof(*v));
	memcpy(v, s->ns, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += ns_ms(v[i]);
	r.p50 = n % 2 ? ns_ms(v[n / 2]) : (ns_ms(v[n / 2 - 1]) + ns_ms(v[n / 2])) / 2;
	r.p90 = ns_ms(nearest_rank(v, n, 90));
	r.p99 = ns_ms(nearest_rank(v, n, 99));
	r.min = ns_ms(v[0]);
	r.max = ns_ms(v[n - 1]);
	r.mean = sum / (double)n;
	free(v);
	return r;
}

/* A JSON string (or null), escaped as RFC 8259 asks. */
void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Look a program up along $PATH, as a shell would. */
bool find_program(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		msg(out, len, "%s", name);
		return access(out, X_OK) == 0;
	}
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

int read_text(const char *path, char **out)
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

unsigned long next_seq(struct bench *b)
{
	unsigned long v;

	pthread_mutex_lock(&b->lock);
	v = ++b->seq;
	pthread_mutex_unlock(&b->lock);
	return v;
}

/* ---- spawning ------------------------------------------------------------------------ */

/*
 * Like posix_spawn, with one thing it cannot do: enter a mount namespace in the child. The child shares our memory and we are suspended until it has called execve
 * (CLONE_VFORK), as glibc's posix_spawn does; the namespace switch happens in the child,
 * whose file-system context is its own, so this works from any thread of a multithreaded
 * process (setns(CLONE_NEWNS) in the parent would not). All signals stay blocked from
 * before clone until the child's execve; an exec failure comes back in child_errno.
 */
struct child_ctx {
	const struct spawn *sp;
	sigset_t mask;
	int child_errno;
	const char *step;
};

static int move_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) < 0 ? -1 : 0;
}

static int spawn_child(void *arg)
{
	struct child_ctx *c = arg;
	const struct spawn *sp = c->sp;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int out = sp->out_fd >= 0 ? sp->out_fd : null;
	int err = sp->err_fd >= 0 ? sp->err_fd : out;

	c->step = "open /dev/null";
	if (null < 0)
		goto fail;
	/* its own process group, so that a time-out can stop what it started too */
	c->step = "setpgid";
	if (setpgid(0, 0))
		goto fail;
	c->step = "setns";
	if (sp->ns_fd >= 0 && setns(sp->ns_fd, CLONE_NEWNS))
		goto fail;
	c->step = "dup2";
	if (move_fd(null, 0) || move_fd(out, 1) || move_fd(err, 2))
		goto fail;
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (s != SIGKILL && s != SIGSTOP && sigaction(s, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
			signal(s, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &c->mask, NULL);
	c->step = "execve";
	execve(sp->path, sp->argv, environ);
fail:
	c->child_errno = errno;
	_exit(127);
}

int spawn_start(const struct spawn *sp, pid_t *pid, int *pidfd, char *err, size_t len)
{
	enum { STACK = 64 * 1024 };
	struct child_ctx c = { .sp = sp };
	sigset_t all;
	char *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	int fd = -1, status;

	if (stack == MAP_FAILED)
		return msg(err, len, "mmap a stack: %s", strerror(errno));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &c.mask);
	*pid = clone(spawn_child, stack + STACK, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
		     &c, &fd);
	pthread_sigmask(SIG_SETMASK, &c.mask, NULL);
	munmap(stack, STACK);
	if (*pid < 0)
		return msg(err, len, "clone for %s: %s", sp->path, strerror(errno));
	if (c.child_errno) {
		while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
			;
		close(fd);
		*pid = -1;
		return msg(err, len, "%s %s: %s", c.step, sp->path, strerror(c.child_errno));
	}
	*pidfd = fd;
	return 0;
}

/* Wait for a spawned program: 0 and its status; -1 with errno ETIMEDOUT past timeout. */
int spawn_wait(pid_t pid, int pidfd, int64_t timeout_ms, int *status)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		uint64_t now = now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
		int rc = poll(&p, 1, left);

		if (rc > 0)
			break;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

void describe_status(int status, const char *who, char *err, size_t len)
{
	if (WIFEXITED(status))
		msg(err, len, "%s exited with %d", who, WEXITSTATUS(status));
	else
		msg(err, len, "%s killed by signal %d (%s)", who, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
}

/* Append the last line or so of what a program wrote (fd: a memfd) to err. */
void append_output(int fd, char *err, size_t len)
{
	char buf[320];
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = size > 0 ? pread(fd, buf, sizeof(buf) - 1, from) : -1;
	size_t used = strlen(err);

	if (n <= 0 || used >= len)
		return;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		/* one line of plain ASCII: the JSON must stay valid UTF-8 */
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = ' ';
		else if ((unsigned char)buf[i] >= 0x7f)
			buf[i] = '?';
	}
	msg(err + used, len - used, ": %s", buf);
}

/* SIGKILL a spawned program and its process group (spawn_child made it the leader), and
 * reap it. */
void kill_reap(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Run a helper command to its end (set-up, never timed); 0 if it exited 0. */
int run_cmd(const struct spawn *sp, int64_t timeout_ms, char *err, size_t len)
{
	int fd = memfd_create("vz-bench-cmd", MFD_CLOEXEC), pidfd = -1, status;
	struct spawn s = *sp;
	pid_t pid;
	int rc = -1;

	if (fd < 0)
		return msg(err, len, "memfd_create: %s", strerror(errno));
	if (s.out_fd < 0)
		s.out_fd = fd;
	if (spawn_start(&s, &pid, &pidfd, err, len))
		goto out;
	if (spawn_wait(pid, pidfd, timeout_ms, &status)) {
		msg(err, len, "%s: %s", sp->path, errno == ETIMEDOUT ? "timed out" : strerror(errno));
		kill_reap(pid);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
	} else {
		describe_status(status, sp->path, err, len);
		append_output(fd, err, len);
	}
	close(pidfd);
out:
	close(fd);
	return rc;
}

/* First line of a command's output (a version string); "" if it fails. */
int first_line(char *const *argv, char *out, size_t len)
{
	int fd = memfd_create("vz-bench-version", MFD_CLOEXEC);
	char err[BENCH_ERR_LEN], path[PATH_MAX];
	struct spawn sp = { .path = path, .argv = argv, .out_fd = fd, .err_fd = -1, .ns_fd = -1 };
	ssize_t n;

	out[0] = '\0';
	if (fd < 0 || !find_program(argv[0], path, sizeof(path)) ||
	    run_cmd(&sp, 10000, err, sizeof(err)) ||
	    (n = pread(fd, out, len - 1, 0)) <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(fd);
	return 0;
}

/* ---- memory of a process tree ---------------------------------------------------------- */

/* The memory cgroup of a process: "v1:/path" (a v1 memory hierarchy wins on a hybrid
 * host) or "v2:/path"; "" if none is found. */
static void memory_cgroup(pid_t pid, char *out, size_t len)
{
	char path[64], v2[PATH_MAX] = "", *buf = NULL, *line, *save = NULL;

	out[0] = '\0';
	msg(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_text(path, &buf))
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctls = strchr(line, ':'), *cg = ctls ? strchr(ctls + 1, ':') : NULL;
		char *tok, *tsave = NULL;

		if (!cg)
			continue;
		*ctls++ = '\0';
		*cg++ = '\0';
		if (!strcmp(line, "0") && !*ctls)
			msg(v2, sizeof(v2), "v2:%s", cg);
		for (tok = strtok_r(ctls, ",", &tsave); tok; tok = strtok_r(NULL, ",", &tsave)) {
			if (!strcmp(tok, "memory")) {
				msg(out, len, "v1:%s", cg);
				free(buf);
				return;
			}
		}
	}
	msg(out, len, "%s", v2);
	free(buf);
}

static int64_t cgroup_usage_kib(const char *cg)
{
	char path[PATH_MAX], *buf = NULL;
	long long v;

	if (!strncmp(cg, "v1:", 3))
		msg(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", cg + 3);
	else
		msg(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", cg + 3);
	if (read_text(path, &buf))
		return -1;
	v = strtoll(buf, NULL, 10);
	free(buf);
	return v < 0 ? -1 : v / 1024;
}

/* Rss and Pss of one process (smaps_rollup); with ram_bytes, also the Rss and Pss of the
 * one mapping of exactly that size (a VMM's guest RAM) from smaps. */
static int proc_memory(pid_t pid, uint64_t *rss, uint64_t *pss, uint64_t ram_bytes,
		       uint64_t *ram_rss, uint64_t *ram_pss)
{
	char path[64], line[256];
	FILE *f;
	bool in_ram = false;

	msg(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		uint64_t v;

		if (sscanf(line, "Rss: %" SCNu64, &v) == 1)
			*rss += v;
		else if (sscanf(line, "Pss: %" SCNu64, &v) == 1)
			*pss += v;
	}
	fclose(f);
	if (!ram_bytes)
		return 0;
	msg(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		uint64_t v;

		if (sscanf(line, "Size: %" SCNu64 " kB", &v) == 1)
			in_ram = v == ram_bytes / 1024;
		else if (in_ram && sscanf(line, "Rss: %" SCNu64 " kB", &v) == 1)
			*ram_rss += v;
		else if (in_ram && sscanf(line, "Pss: %" SCNu64 " kB", &v) == 1)
			*ram_pss += v;
	}
	fclose(f);
	return 0;
}

/*
 * Memory of the process tree under root: the sum of Pss (each shared page split among
 * the processes that map it: what the tree costs the host) and of Rss, and the memory
 * cgroup's charge if a process of the tree sits in a memory cgroup other than ours (the
 * deepest such one).
 */
int tree_memory(pid_t root, struct memory *mem, uint64_t ram_bytes)
{
	enum { MAXP = 4096 };
	pid_t *tree = xrealloc(NULL, MAXP * sizeof(*tree));
	char own[PATH_MAX], cg[PATH_MAX], best[PATH_MAX] = "";
	size_t n = 1;
	bool grew = true;

	tree[0] = root;
	/* Grow the set to a fixed point: /proc lists parents before children mostly, but not
	 * always (pid wrap), so rescan until nothing is added. */
	while (grew && n < MAXP) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		grew = false;
		if (!d)
			break;
		while ((e = readdir(d)) && n < MAXP) {
			char path[300], *buf = NULL, *rp;
			pid_t pid = (pid_t)atoi(e->d_name), ppid;
			bool have = false, parent = false;

			if (pid <= 0)
				continue;
			for (size_t i = 0; i < n && !have; i++)
				have = tree[i] == pid;
			if (have)
				continue;
			msg(path, sizeof(path), "/proc/%d/stat", (int)pid);
			if (read_text(path, &buf))
				continue;
			rp = strrchr(buf, ')');
			if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1) {
				for (size_t i = 0; i < n && !parent; i++)
					parent = tree[i] == ppid;
			}
			free(buf);
			if (parent) {
				tree[n++] = pid;
				grew = true;
			}
		}
		closedir(d);
	}
	memory_cgroup(getpid(), own, sizeof(own));
	mem->processes = 0;
	mem->rss_kib = mem->pss_kib = mem->guest_ram_rss_kib = mem->guest_ram_pss_kib = 0;
	for (size_t i = 0; i < n; i++) {
		if (proc_memory(tree[i], &mem->rss_kib, &mem->pss_kib, ram_bytes,
				&mem->guest_ram_rss_kib, &mem->guest_ram_pss_kib) == 0)
			mem->processes++;
		memory_cgroup(tree[i], cg, sizeof(cg));
		if (cg[0] && strcmp(cg, own) && strlen(cg) > strlen(best))
			msg(best, sizeof(best), "%s", cg);
	}
	free(tree);
	mem->cgroup_kib = best[0] ? cgroup_usage_kib(best) : -1;
	if (!mem->processes)
		return msg(mem->error, sizeof(mem->error), "process %d is gone", (int)root);
	mem->measured = true;
	return 0;
}
