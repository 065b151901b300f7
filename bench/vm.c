/* SPDX-License-Identifier: MIT */
/* vz-bench-vm: create -> start -> wait of /bin/true in a libvz VM, with the phase
 * breakdown, side by side with the container backend in the same run, and the VMM's own
 * memory (resident beyond the guest RAM it touched).
 *
 *   vz-bench-vm [--runs N] [--rootfs DIR] [--kernel FILE] [--memory MIB] [--no-container]
 *               [--json]
 *
 * Rounds alternate VM and container runs so that host noise lands on both. Figures are
 * medians (and p90) over the runs. The memory figure comes from one extra VM running
 * `sleep 2`: /proc/PID/smaps of the VMM while it runs, total Rss minus the Rss of the
 * guest-RAM mapping (the one anonymous mapping of exactly guest-RAM size). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vz/vz.h>

#define MAX_PHASES VZ_MAX_PHASES

struct series {
	uint64_t *v;
	size_t n, cap;
};

struct stats {
	struct series total;
	char names[MAX_PHASES][16];
	struct series phase[MAX_PHASES];
	int nphases;
	int failures;
	char last_error[512];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void add(struct series *s, uint64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = v;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(struct series *s, unsigned p)
{
	size_t k;
	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp);
	k = (s->n * p + 99) / 100;
	return (double)s->v[k ? k - 1 : 0] / 1e6;
}

static vz_config *make_config(const char *rootfs, const char *kernel, int argc, const char **argv)
{
	vz_config *cfg = NULL;
	if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, rootfs) ||
	    vz_config_set_argv(cfg, argc, argv) ||
	    (kernel && vz_config_set_kernel(cfg, kernel)) ||
	    vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_NULL, -1)) {
		fprintf(stderr, "vz-bench-vm: config: %s\n", vz_error_last()->message);
		exit(1);
	}
	return cfg;
}

/* One create-to-exit; phases recorded by name. */
static void one_run(struct stats *st, vz_backend be, const vz_config *cfg, int64_t mem)
{
	vz_sandbox *sb = NULL;
	vz_result r = { .size = sizeof(r) };
	uint64_t t0 = now_ns();

	if (vz_sandbox_create(&sb, be, cfg) || (mem && vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, mem)) ||
	    vz_sandbox_start(sb) || vz_sandbox_wait(sb, -1, &r) || r.reason != VZ_REASON_EXITED ||
	    r.exit_code != 0) {
		st->failures++;
		snprintf(st->last_error, sizeof(st->last_error), "%s",
			 r.message[0] ? r.message : vz_error_last()->message);
		vz_sandbox_free(sb);
		return;
	}
	vz_sandbox_free(sb);
	add(&st->total, now_ns() - t0);
	for (uint32_t i = 0; i < r.phase_count; i++) {
		int k;
		for (k = 0; k < st->nphases && strcmp(st->names[k], r.phases[i].name); k++)
			;
		if (k == st->nphases) {
			if (k == MAX_PHASES)
				continue;
			snprintf(st->names[k], sizeof(st->names[k]), "%s", r.phases[i].name);
			st->nphases++;
		}
		add(&st->phase[k], r.phases[i].ns);
	}
}

/* VMM memory beyond guest RAM: smaps of the running VMM. */
static int vmm_memory(const vz_config *base_cfg, const char *rootfs, const char *kernel,
		      int64_t mem, uint64_t *overhead_kb, uint64_t *guest_kb)
{
	const char *argv[] = { "/bin/sleep", "2" };
	vz_config *cfg = make_config(rootfs, kernel, 2, argv);
	vz_sandbox *sb = NULL;
	vz_result r = { .size = sizeof(r) };
	char path[64], line[256];
	uint64_t total = 0, guest = 0, size = 0, ram_kb;
	bool in_guest = false;
	FILE *f;
	int rc = -1;

	(void)base_cfg;
	if (vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg) || vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, mem) ||
	    vz_sandbox_start(sb))
		goto out;
	ram_kb = (uint64_t)mem / 1024;
	snprintf(path, sizeof(path), "/proc/%d/smaps", vz_sandbox_pid(sb));
	if (!(f = fopen(path, "r")))
		goto out;
	while (fgets(line, sizeof(line), f)) {
		uint64_t v;
		if (sscanf(line, "Size: %" SCNu64 " kB", &v) == 1) {
			size = v;
			in_guest = size == ram_kb;
		} else if (sscanf(line, "Rss: %" SCNu64 " kB", &v) == 1) {
			total += v;
			if (in_guest)
				guest += v;
		}
	}
	fclose(f);
	*overhead_kb = total - guest;
	*guest_kb = guest;
	rc = vz_sandbox_wait(sb, -1, &r);
out:
	if (rc)
		fprintf(stderr, "vz-bench-vm: memory run: %s\n", vz_error_last()->message);
	vz_sandbox_free(sb);
	vz_config_free(cfg);
	return rc;
}

static void print_stats(const char *label, struct stats *st, int runs, bool json, bool last)
{
	if (json) {
		printf("    \"%s\": {\"runs\": %d, \"failures\": %d, \"median_ms\": %.3f, \"p90_ms\": %.3f, "
		       "\"phases_median_ms\": {",
		       label, runs, st->failures, pct(&st->total, 50), pct(&st->total, 90));
		for (int k = 0; k < st->nphases; k++)
			printf("%s\"%s\": %.3f", k ? ", " : "", st->names[k], pct(&st->phase[k], 50));
		printf("}}%s\n", last ? "" : ",");
		return;
	}
	printf("%-10s create->exit median %9.2f ms  p90 %9.2f ms  (%zu ok, %d failed)\n", label,
	       pct(&st->total, 50), pct(&st->total, 90), st->total.n, st->failures);
	for (int k = 0; k < st->nphases; k++)
		printf("%-10s   %-12s %9.2f ms\n", "", st->names[k], pct(&st->phase[k], 50));
	if (st->failures)
		printf("%-10s   last failure: %s\n", "", st->last_error);
}

int main(int argc, char **argv)
{
	const char *rootfs = VZ_BENCH_ROOTFS, *kernel = NULL, *why = NULL;
	int runs = 10, mib = 128;
	bool json = false, container = true;
	static struct stats vm, ctr;
	uint64_t overhead_kb = 0, guest_kb = 0;
	const char *true_argv[] = { "/bin/true" };
	vz_config *cfg;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rootfs") && i + 1 < argc)
			rootfs = argv[++i];
		else if (!strcmp(argv[i], "--kernel") && i + 1 < argc)
			kernel = argv[++i];
		else if (!strcmp(argv[i], "--memory") && i + 1 < argc)
			mib = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-container"))
			container = false;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else {
			fprintf(stderr, "usage: vz-bench-vm [--runs N] [--rootfs DIR] [--kernel FILE] "
					"[--memory MIB] [--no-container] [--json]\n");
			return 2;
		}
	}
	if (runs < 1 || mib < 64) {
		fprintf(stderr, "vz-bench-vm: --runs must be >= 1 and --memory >= 64\n");
		return 2;
	}
	if (vz_backend_available(VZ_BACKEND_VM, &why)) {
		fprintf(stderr, "vz-bench-vm: the VM backend is not available: %s\n", why);
		return 1;
	}
	if (!json)
		printf("# %s\n# %d runs of /bin/true, guest RAM %d MiB, rootfs %s\n", why, runs, mib,
		       rootfs);
	cfg = make_config(rootfs, kernel, 1, true_argv);
	for (int i = 0; i < runs; i++) {
		one_run(&vm, VZ_BACKEND_VM, cfg, (int64_t)mib << 20);
		if (container)
			one_run(&ctr, VZ_BACKEND_CONTAINER, cfg, 0);
	}
	vmm_memory(cfg, rootfs, kernel, (int64_t)mib << 20, &overhead_kb, &guest_kb);
	if (json) {
		printf("{\n  \"vm_backend\": \"");
		for (const char *p = why; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		printf("\",\n  \"guest_ram_mib\": %d,\n  \"vmm_overhead_kib\": %" PRIu64
		       ",\n  \"guest_touched_kib\": %" PRIu64 ",\n  \"results\": {\n",
		       mib, overhead_kb, guest_kb);
		print_stats("vm", &vm, runs, true, !container);
		if (container)
			print_stats("container", &ctr, runs, true, true);
		printf("  }\n}\n");
	} else {
		print_stats("vm", &vm, runs, false, false);
		if (container)
			print_stats("container", &ctr, runs, false, true);
		printf("vmm memory: %" PRIu64 " KiB resident beyond guest RAM (guest touched %" PRIu64
		       " KiB of %d MiB), `sleep 2` in the guest\n",
		       overhead_kb, guest_kb, mib);
	}
	vz_config_free(cfg);
	return vm.failures ? 1 : 0;
}
