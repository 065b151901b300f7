/* SPDX-License-Identifier: MIT */
/*
 * vz-bench: the measurements.
 *
 * Latency: for each workload, rounds in which every mode runs once, in an order rotated
 * by one every round, so that drift (CPU frequency, page cache, clean-up the kernel
 * defers, other load) lands on every mode alike and no mode always follows the same
 * other one. Warm-up rounds come first and are not kept. VM-class modes take their own
 * (smaller) number of runs: they are the first rounds' VM members. The data workloads
 * (stdout64m, bind64m) run in libvz modes only, and in latency runs only.
 *
 * Memory: --memory-sandboxes sandboxes per mode, started at once, run a program that
 * prints a marker and sleeps; once every marker has arrived, the host process tree of
 * each is measured while all of them still run (so that pages they share, such as a
 * restored VM's template pages, are split among them), and the mean is kept.
 *
 * Concurrency: K threads each run one life cycle of /bin/true; all are released at once
 * through a gate once every one is waiting at it; each sandbox's latency runs from the
 * release to its own end, the round's makespan from the release to the last end (failed
 * sandboxes included), and throughput is K / makespan.
 *
 * Restored libvz VM modes make their template before a configuration's first run (the
 * mode's warm op, untimed); a run of theirs that booted cold anyway is counted.
 */
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t bench_stop;

void progress(struct bench *b, bool force, const char *fmt, ...)
{
	uint64_t now = now_ns();
	unsigned secs = (unsigned)((now - b->t_begin) / 1000000000u);
	char line[256];
	va_list ap;

	if (!force && now - b->last_progress < (b->tty ? 200000000u : 10000000000u))
		return;
	b->last_progress = now;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (b->tty)
		fprintf(stderr, "\r\033[K" BENCH_NAME " [%u:%02u] %s%s", secs / 60, secs % 60, line,
			force ? "\n" : "");
	else
		fprintf(stderr, BENCH_NAME " [%u:%02u] %s\n", secs / 60, secs % 60, line);
}

static void run_init(struct run *r)
{
	*r = (struct run){ .pid = -1, .pidfd = -1, .outfd = -1, .readyfd = -1 };
}

/* Everything a run may still hold, whether it failed in begin, end or neither. */
static void run_release(struct bench *b, struct mode *m, struct run *r)
{
	if (r->sb || r->bind || r->pid > 0 || r->pidfd >= 0 || r->outfd >= 0)
		m->ops.stop(b, m, r);
	if (r->readyfd >= 0 && !m->libvz)
		close(r->readyfd);
	r->readyfd = -1;
}

static size_t total_runs(const struct bench *b, const struct mode *m, size_t *warm)
{
	*warm = m->cls == CLASS_VM ? b->o.vm_warmup : b->o.warmup;
	return *warm + (m->cls == CLASS_VM ? b->o.vm_runs : b->o.runs);
}

static struct series *phase_series(struct lat *l, const char *name)
{
	for (size_t i = 0; i < l->nphase; i++) {
		if (!strcmp(l->phase_name[i], name))
			return &l->phase[i];
	}
	if (l->nphase == BENCH_MAX_PHASES)
		return NULL;
	msg(l->phase_name[l->nphase], sizeof(l->phase_name[0]), "%s", name);
	return &l->phase[l->nphase++];
}

static void add_phase(struct lat *l, const char *name, uint64_t ns)
{
	struct series *s = phase_series(l, name);

	if (s)
		series_add(s, ns);
}

static void note_failure(char *first, size_t len, const struct run *r)
{
	if (!first[0])
		msg(first, len, "%s", r->err[0] ? r->err : "failed (no reason given)");
}

static void run_one(struct bench *b, struct mode *m, size_t k, bool keep)
{
	struct lat *l = &m->lat[k];
	struct run r;
	int rc;

	if (m->ops.warm)
		m->ops.warm(b, m, b->wl[k]);
	run_init(&r);
	r.timeout_ms = (int64_t)b->o.timeout_s * 1000;
	rc = m->ops.prep ? m->ops.prep(b, m, b->wl[k], &r) : 0;
	if (rc == 0)
		rc = m->ops.begin(b, m, b->wl[k], &r);
	if (rc == 0)
		rc = m->ops.end(b, m, b->wl[k], &r);
	run_release(b, m, &r);
	if (rc) {
		if (keep)
			l->failures++;
		else
			l->warmup_failures++;
		note_failure(l->first_error, sizeof(l->first_error), &r);
		return;
	}
	if (!keep)
		return;
	series_add(&l->total, r.t_end - r.t0);
	if (!m->libvz)
		return;
	if (booted_cold(m, &r.res))
		l->cold_boots++;
	/* libvz's phases are timed from vz_sandbox_start; create+limit come before it and
	 * free after wait: those two are timed here. */
	add_phase(l, "create+limit", r.t_created - r.t0);
	for (uint32_t i = 0, timed = !m->prepared; i < r.res.phase_count && i < VZ_MAX_PHASES; i++) {
		/* A prepared sandbox's phases up to "prepared" ran before the timed start. */
		if (timed)
			add_phase(l, r.res.phases[i].name, r.res.phases[i].ns);
		else if (!strcmp(r.res.phases[i].name, "prepared"))
			timed = 1;
	}
	add_phase(l, "free", r.t_end - r.t_waited);
}

void run_latency(struct bench *b)
{
	for (size_t k = 0; k < b->nwl && !bench_stop; k++) {
		size_t rounds = 0, fails = 0;

		for (size_t i = 0; i < b->nmodes; i++) {
			size_t warm, t = total_runs(b, &b->modes[i], &warm);

			if (!b->modes[i].why[0] && wl_applies(&b->modes[i], b->wl[k]) && t > rounds)
				rounds = t;
		}
		for (size_t r = 0; r < rounds && !bench_stop; r++) {
			for (size_t j = 0; j < b->nmodes && !bench_stop; j++) {
				struct mode *m = &b->modes[(r + j) % b->nmodes];
				size_t warm, t = total_runs(b, m, &warm);

				if (m->why[0] || r >= t || !wl_applies(m, b->wl[k]))
					continue;
				progress(b, false, "latency %s: round %zu/%zu, %s, %zu failed",
					 b->wl[k]->name, r + 1, rounds, m->name, fails);
				run_one(b, m, k, r >= warm);
				fails = 0;
				for (size_t i = 0; i < b->nmodes; i++)
					fails += b->modes[i].lat[k].failures +
						 b->modes[i].lat[k].warmup_failures;
			}
		}
		progress(b, true, "latency %s: %zu rounds done, %zu failed", b->wl[k]->name, rounds,
			 fails);
	}
}

/* ---- memory ------------------------------------------------------------------------------- */

/* Read the sandbox's stdout until the marker comes (or the deadline passes). */
static int wait_ready(int fd, int64_t timeout_ms, char *err, size_t len)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	char buf[512];
	size_t have = 0;

	if (fd < 0)
		return msg(err, len, "no stdout pipe to wait on");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
		ssize_t n;

		if (bench_stop)
			return msg(err, len, "stopped");
		if (poll(&p, 1, left > 1000 ? 1000 : left) < 0 && errno != EINTR)
			return msg(err, len, "poll: %s", strerror(errno));
		if (!(p.revents & (POLLIN | POLLHUP))) {
			if (left == 0)
				return msg(err, len, "not ready within %lld s", (long long)timeout_ms / 1000);
			continue;
		}
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return msg(err, len, "the sandbox ended before it was ready");
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "vz-bench-ready"))
			return 0;
		if (have > sizeof(buf) / 2) {
			memmove(buf, buf + have - 32, 32);
			have = 32;
		}
	}
}

static int64_t round_timeout_ms(const struct bench *b, size_t k);

/*
 * The memory run of one mode: each sandbox is started (and waited for until ready) in a
 * thread of its own, so that they come up at once. The thread stays until the main
 * thread has measured them all, then stops its sandbox: a sandbox may be bound to the
 * thread that started it (bwrap --die-with-parent is killed when that thread ends).
 */
struct mem_round {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t ready;	/* threads done starting (whether or not their sandbox came up) */
	bool finish;	/* measured: stop the sandboxes */
};

struct mem_worker {
	struct bench *b;
	struct mode *m;
	struct mem_round *round;
	struct run r;
	int rc;
	pthread_t thread;
};

static void *mem_worker_main(void *arg)
{
	struct mem_worker *w = arg;
	struct mem_round *g = w->round;
	const struct workload *wl = &bench_ready_workload;

	w->rc = (w->m->ops.prep && w->m->ops.prep(w->b, w->m, wl, &w->r)) ||
		w->m->ops.begin(w->b, w->m, wl, &w->r) ||
		wait_ready(w->r.readyfd, w->r.timeout_ms, w->r.err, sizeof(w->r.err)) ? -1 : 0;
	pthread_mutex_lock(&g->lock);
	g->ready++;
	pthread_cond_broadcast(&g->cond);
	while (!g->finish)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	run_release(w->b, w->m, &w->r);
	return NULL;
}

/* Measure the n running sandboxes of m one by one, into mem as the mean per sandbox. */
static void measure_running(struct mode *m, struct mem_worker *w, size_t n, uint64_t ram)
{
	struct memory *mem = &m->mem, one;
	uint64_t procs = 0, rss = 0, ram_rss = 0, ram_pss = 0;
	int64_t cg = 0;
	size_t ncg = 0;

	mem->pss_total_kib = 0;
	for (size_t i = 0; i < n; i++) {
		pid_t root = m->ops.root(&w[i].r);

		one = (struct memory){ .measured = false };
		if (root <= 0) {
			msg(mem->error, sizeof(mem->error), "no process to measure: %s",
			    m->libvz ? vz_error_last()->message : "not spawned");
			return;
		}
		if (tree_memory(root, &one, ram)) {
			msg(mem->error, sizeof(mem->error), "%s", one.error);
			return;
		}
		procs += one.processes;
		mem->pss_total_kib += one.pss_kib;
		rss += one.rss_kib;
		ram_rss += one.guest_ram_rss_kib;
		ram_pss += one.guest_ram_pss_kib;
		if (one.cgroup_kib >= 0) {
			cg += one.cgroup_kib;
			ncg++;
		}
	}
	mem->sandboxes = n;
	mem->processes = (size_t)((procs + n / 2) / n);
	mem->pss_kib = mem->pss_total_kib / n;
	mem->rss_kib = rss / n;
	mem->guest_ram_rss_kib = ram_rss / n;
	mem->guest_ram_pss_kib = ram_pss / n;
	mem->cgroup_kib = ncg == n ? cg / (int64_t)n : -1;
	mem->measured = true;
}

void run_memory(struct bench *b)
{
	size_t n = b->o.mem_sandboxes;
	struct mem_worker *w = xrealloc(NULL, n * sizeof(*w));

	for (size_t i = 0; i < b->nmodes && !bench_stop; i++) {
		struct mode *m = &b->modes[i];
		struct memory *mem = &m->mem;
		uint64_t ram = m->libvz && m->cls == CLASS_VM ? (uint64_t)b->o.vm_ram_mib << 20 : 0;
		struct mem_round g = { .ready = 0, .finish = false };
		size_t started = 0, failed = n;
		int err = 0;

		if (m->why[0])
			continue;
		if (m->ops.warm)
			m->ops.warm(b, m, &bench_ready_workload);
		progress(b, true, "memory: %s, %zu at once", m->name, n);
		pthread_mutex_init(&g.lock, NULL);
		pthread_cond_init(&g.cond, NULL);
		for (; started < n; started++) {
			w[started] = (struct mem_worker){ .b = b, .m = m, .round = &g };
			run_init(&w[started].r);
			w[started].r.timeout_ms = round_timeout_ms(b, n);
			if ((err = pthread_create(&w[started].thread, NULL, mem_worker_main,
						  &w[started])))
				break;
		}
		pthread_mutex_lock(&g.lock);
		while (g.ready < started)
			pthread_cond_wait(&g.cond, &g.lock);
		pthread_mutex_unlock(&g.lock);
		for (size_t j = 0; j < started; j++) {
			if (w[j].rc && failed == n)
				failed = j;
		}
		if (started < n) {
			msg(mem->error, sizeof(mem->error), "could start only %zu of %zu threads: %s",
			    started, n, strerror(err));
		} else if (failed < n) {
			msg(mem->error, sizeof(mem->error), "sandbox %zu of %zu: %s", failed + 1, n,
			    w[failed].r.err[0] ? w[failed].r.err : "failed (no reason given)");
		} else {
			/* Let the tail of start-up (a VMM's last page faults, runtime exits)
			 * settle before measuring. */
			usleep(500000);
			measure_running(m, w, n, ram);
		}
		pthread_mutex_lock(&g.lock);
		g.finish = true;
		pthread_cond_broadcast(&g.cond);
		pthread_mutex_unlock(&g.lock);
		for (size_t j = 0; j < started; j++) {
			pthread_join(w[j].thread, NULL);
			if (m->libvz && booted_cold(m, &w[j].r.res))
				mem->cold_boots++;
		}
		pthread_cond_destroy(&g.cond);
		pthread_mutex_destroy(&g.lock);
		/* What the VMM costs beyond guest RAM: PSS less the guest RAM's PSS (which is
		 * its RSS for a cold-booted VM, whose guest RAM is private to its VMM, and less
		 * for a restored one, whose template pages are split among the VMs). */
		if (ram && mem->measured)
			msg(mem->note, sizeof(mem->note), "beyond guest RAM = PSS - guest RAM PSS = "
			    "%llu - %llu = %lld KiB", (unsigned long long)mem->pss_kib,
			    (unsigned long long)mem->guest_ram_pss_kib,
			    (long long)mem->pss_kib - (long long)mem->guest_ram_pss_kib);
	}
	free(w);
}

/* ---- concurrency ------------------------------------------------------------------------------ */

/*
 * The start gate of a concurrency round: workers check in (ready) and wait for go; the
 * main thread waits until every worker has checked in, takes the release time, opens
 * the gate. So the release time excludes thread start-up, and a thread that could not
 * be created leaves nobody waiting forever.
 */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t ready;
	bool go;
};

struct worker {
	struct bench *b;
	struct mode *m;
	struct gate *gate;
	int64_t timeout_ms;
	struct run r;
	int rc;
	pthread_t thread;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct gate *g = w->gate;

	run_init(&w->r);
	w->r.timeout_ms = w->timeout_ms;
	w->rc = w->m->ops.prep ? w->m->ops.prep(w->b, w->m, &bench_workloads[0], &w->r) : 0;
	pthread_mutex_lock(&g->lock);
	g->ready++;
	pthread_cond_broadcast(&g->cond);
	while (!g->go)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	if (w->rc == 0)
		w->rc = w->m->ops.begin(w->b, w->m, &bench_workloads[0], &w->r);
	if (w->rc == 0)
		w->rc = w->m->ops.end(w->b, w->m, &bench_workloads[0], &w->r);
	if (w->r.t_end == 0)
		w->r.t_end = now_ns();
	run_release(w->b, w->m, &w->r);
	return NULL;
}

/* A round's time limit: K sandboxes on fewer CPUs take about K/CPUs times as long each
 * (capped so that it stays a valid poll() timeout). */
static int64_t round_timeout_ms(const struct bench *b, size_t k)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus > 0 ? (size_t)cpus : 1;
	int64_t t = (int64_t)b->o.timeout_s * 1000 * (int64_t)((k + n - 1) / n);

	return t > 1000000000 ? 1000000000 : t;
}

static void run_batch(struct bench *b, struct mode *m, struct conc *c)
{
	size_t k = c->level, started = 0;
	struct worker *w = xrealloc(NULL, k * sizeof(*w));
	struct gate g = { .ready = 0 };
	pthread_attr_t attr;
	uint64_t t_rel, t_last = 0;
	int err = 0;

	if (m->ops.warm) /* before any thread: not part of the round */
		m->ops.warm(b, m, &bench_workloads[0]);
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (; started < k; started++) {
		w[started] = (struct worker){ .b = b, .m = m, .gate = &g,
					      .timeout_ms = round_timeout_ms(b, k) };
		if ((err = pthread_create(&w[started].thread, &attr, worker_main, &w[started])))
			break;
	}
	pthread_attr_destroy(&attr);
	if (started < k)
		fprintf(stderr, BENCH_NAME ": could start only %zu of %zu threads: %s\n", started,
			k, strerror(err));
	pthread_mutex_lock(&g.lock);
	while (g.ready < started)
		pthread_cond_wait(&g.cond, &g.lock);
	t_rel = now_ns();
	g.go = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	pthread_cond_destroy(&g.cond);
	pthread_mutex_destroy(&g.lock);
	/* The makespan runs to the last end of any sandbox, failed ones too: a failure that
	 * comes late must not make the round look faster. */
	for (size_t i = 0; i < started; i++) {
		uint64_t end = w[i].r.t_end > t_rel ? w[i].r.t_end : t_rel;

		c->sandboxes++;
		if (end > t_last)
			t_last = end;
		if (w[i].rc) {
			c->failures++;
			note_failure(c->first_error, sizeof(c->first_error), &w[i].r);
			continue;
		}
		series_add(&c->latency, end - t_rel);
		if (m->libvz && booted_cold(m, &w[i].r.res))
			c->cold_boots++;
	}
	c->sandboxes += k - started;
	c->failures += k - started;
	if (started)
		series_add(&c->makespan, t_last > t_rel ? t_last - t_rel : 1);
	c->rounds++;
	free(w);
}

void run_concurrency(struct bench *b)
{
	for (size_t i = 0; i < b->nmodes; i++) {
		struct mode *m = &b->modes[i];
		const size_t *lv = m->cls == CLASS_VM ? b->o.vm_levels : b->o.levels;
		size_t n = m->cls == CLASS_VM ? b->o.vm_nlevels : b->o.nlevels;

		for (size_t j = 0; j < n; j++)
			m->conc[m->nconc++].level = lv[j];
	}
	for (size_t li = 0; li < BENCH_MAX_LEVELS && !bench_stop; li++) {
		size_t rounds = 0;

		for (size_t i = 0; i < b->nmodes; i++) {
			size_t rr = b->modes[i].cls == CLASS_VM ? b->o.vm_rounds : b->o.rounds;

			if (!b->modes[i].why[0] && li < b->modes[i].nconc && rr > rounds)
				rounds = rr;
		}
		for (size_t r = 0; r < rounds && !bench_stop; r++) {
			for (size_t j = 0; j < b->nmodes && !bench_stop; j++) {
				struct mode *m = &b->modes[(r + j) % b->nmodes];
				size_t rr = m->cls == CLASS_VM ? b->o.vm_rounds : b->o.rounds;

				if (m->why[0] || li >= m->nconc || r >= rr)
					continue;
				progress(b, true, "concurrency %zu: round %zu/%zu, %s",
					 m->conc[li].level, r + 1, rr, m->name);
				run_batch(b, m, &m->conc[li]);
			}
		}
	}
}
