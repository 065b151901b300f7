/* SPDX-License-Identifier: MIT */
/* vz-bench: the host description, the terminal table, JSON and CSV. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CGROUP2_MAGIC 0x63677270

struct host {
	char cpu[160], kernel[200], os[160], kvm[300], cgroup[80], date[40];
	long cpus;
	long long memory_mib;
};

/* The value of "key<sep>value" on the first line that starts with key. */
static void file_value(const char *path, const char *key, char *out, size_t len)
{
	char *buf = NULL, *p;

	out[0] = '\0';
	if (read_text(path, &buf))
		return;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, strlen(key)))
			continue;
		p += strlen(key);
		p += strspn(p, " \t:=\"");
		msg(out, len, "%.*s", (int)strcspn(p, "\"\n"), p);
		break;
	}
	free(buf);
}

static void describe_host(const struct bench *b, struct host *h)
{
	struct utsname u;
	struct statfs fs;
	char mem[64];
	time_t t = time(NULL);
	struct tm tm;

	file_value("/proc/cpuinfo", "model name", h->cpu, sizeof(h->cpu));
	h->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	file_value("/proc/meminfo", "MemTotal", mem, sizeof(mem));
	h->memory_mib = atoll(mem) / 1024;
	uname(&u);
	msg(h->kernel, sizeof(h->kernel), "%s %s %s", u.sysname, u.release, u.machine);
	file_value("/etc/os-release", "PRETTY_NAME", h->os, sizeof(h->os));
	if (!h->os[0]) /* the kvm-testbed's guest, say */
		msg(h->os, sizeof(h->os), "unknown (no /etc/os-release)");
	if (b->host_kvm[0])
		msg(h->kvm, sizeof(h->kvm), "%s", b->host_kvm);
	else if (access("/dev/kvm", F_OK))
		msg(h->kvm, sizeof(h->kvm), "none (no /dev/kvm)");
	else
		msg(h->kvm, sizeof(h->kvm), "%s",
		    !access("/sys/module/kvm_pvm", F_OK)   ? "kvm_pvm (software)" :
		    !access("/sys/module/kvm_intel", F_OK) ? "kvm_intel (VMX)" :
		    !access("/sys/module/kvm_amd", F_OK)   ? "kvm_amd (SVM)" : "unknown");
	if (statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == BENCH_CGROUP2_MAGIC)
		msg(h->cgroup, sizeof(h->cgroup), "v2");
	else if (statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == BENCH_CGROUP2_MAGIC)
		msg(h->cgroup, sizeof(h->cgroup), "v1 (hybrid, v2 at /sys/fs/cgroup/unified)");
	else
		msg(h->cgroup, sizeof(h->cgroup), "v1");
	gmtime_r(&t, &tm);
	strftime(h->date, sizeof(h->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The libvz mode a peer is compared with: the one of its class. */
static const struct mode *pair_of(const struct bench *b, const struct mode *m)
{
	if (m->libvz)
		return NULL;
	for (size_t i = 0; i < b->nmodes; i++) {
		if (b->modes[i].libvz && b->modes[i].cls == m->cls)
			return &b->modes[i];
	}
	return NULL;
}

/* libvz p50 / peer p50 for a workload; 0 if either has no sample. */
static double ratio(const struct bench *b, const struct mode *m, size_t k, double *vz_p50,
		    double *peer_p50)
{
	const struct mode *vz = pair_of(b, m);
	struct summary a, p;

	if (!vz || vz->why[0] || m->why[0])
		return 0;
	a = summarize(&vz->lat[k].total);
	p = summarize(&m->lat[k].total);
	if (!a.n || !p.n || p.p50 <= 0)
		return 0;
	if (vz_p50)
		*vz_p50 = a.p50;
	if (peer_p50)
		*peer_p50 = p.p50;
	return a.p50 / p.p50;
}

/* A libvz VM mode: its memory has a guest RAM part. */
static bool vz_vm(const struct mode *m)
{
	return m->libvz && m->cls == CLASS_VM;
}

/* The VMM beyond guest RAM: PSS less the guest RAM's PSS, KiB (for a cold-booted VM
 * that is its resident guest RAM; a restored VM's template pages are split). */
static long long beyond_ram_kib(const struct memory *mem)
{
	return (long long)mem->pss_kib - (long long)mem->guest_ram_pss_kib;
}

/* The mode-name column: wide enough for every mode's name. */
int name_width(const struct bench *b)
{
	size_t w = 16;

	for (size_t i = 0; i < b->nmodes; i++) {
		if (strlen(b->modes[i].name) > w)
			w = strlen(b->modes[i].name);
	}
	return (int)w;
}

static const struct mode *mode_named(const struct bench *b, const char *name)
{
	for (size_t i = 0; i < b->nmodes; i++) {
		if (!strcmp(b->modes[i].name, name))
			return b->modes[i].why[0] ? NULL : &b->modes[i];
	}
	return NULL;
}

/*
 * The restored start against the others: libvz-vm's p50 over libvz-vm-cold's and over
 * qemu-microvm's for each workload, and libvz-vm's PSS per running VM over
 * libvz-vm-cold's. Only where both modes ran and have a figure.
 */
struct vs {
	const char *what;	/* "latency" or "memory" */
	const char *a, *b;	/* mode names: a / b */
	size_t k;		/* latency: the workload */
	double va, vb, ratio;	/* ms (p50) or KiB (PSS per sandbox) */
};

static size_t restore_ratios(const struct bench *b, struct vs *out, size_t max)
{
	const struct mode *vm = mode_named(b, "libvz-vm"), *cold = mode_named(b, "libvz-vm-cold");
	const struct mode *peers[] = { cold, mode_named(b, "qemu-microvm") };
	size_t n = 0;

	if (!vm)
		return 0;
	for (size_t k = 0; k < b->nwl; k++) {
		for (size_t j = 0; j < 2; j++) {
			struct summary a = summarize(&vm->lat[k].total), p;

			if (!peers[j] || !wl_applies(peers[j], b->wl[k]))
				continue;
			p = summarize(&peers[j]->lat[k].total);
			if (!a.n || !p.n || p.p50 <= 0 || n == max)
				continue;
			out[n++] = (struct vs){ "latency", vm->name, peers[j]->name, k, a.p50, p.p50,
						a.p50 / p.p50 };
		}
	}
	if (cold && b->o.memory && vm->mem.measured && cold->mem.measured &&
	    cold->mem.pss_kib > 0 && n < max)
		out[n++] = (struct vs){ "memory", vm->name, cold->name, 0,
					(double)vm->mem.pss_kib, (double)cold->mem.pss_kib,
					(double)vm->mem.pss_kib / (double)cold->mem.pss_kib };
	return n;
}

/* A data workload's rate: BENCH_DATA_MIB over its p50, and "net" over its p50 less the
 * p50 of `true` in the same mode and run (when that was measured and is smaller). */
struct data_rate {
	bool any, net;
	double p50_ms, mib_s, true_p50_ms, net_mib_s;
};

static struct data_rate data_rate(const struct bench *b, const struct mode *m, size_t k)
{
	struct summary s = summarize(&m->lat[k].total);
	struct data_rate d = { .any = false };

	if (b->wl[k]->data == DATA_NONE || !m->libvz || m->why[0] || !s.n || s.p50 <= 0)
		return d;
	d.any = true;
	d.p50_ms = s.p50;
	d.mib_s = BENCH_DATA_MIB / (s.p50 / 1e3);
	for (size_t j = 0; j < b->nwl; j++) {
		struct summary t;

		if (strcmp(b->wl[j]->name, "true") || !(t = summarize(&m->lat[j].total)).n)
			continue;
		d.true_p50_ms = t.p50;
		if (s.p50 > t.p50) {
			d.net = true;
			d.net_mib_s = BENCH_DATA_MIB / ((s.p50 - t.p50) / 1e3);
		}
	}
	return d;
}

/* Sandboxes per second = K / makespan: the p50 round, the slowest (min) and fastest. */
struct rates conc_rates(const struct conc *c)
{
	struct summary mk = summarize(&c->makespan);
	double k = (double)c->level;

	if (!mk.n)
		return (struct rates){ .any = false };
	return (struct rates){ .any = true, .p50 = k / (mk.p50 / 1e3), .min = k / (mk.max / 1e3),
			       .max = k / (mk.min / 1e3) };
}

/* ---- terminal ------------------------------------------------------------------------------- */

void report_header(struct bench *b)
{
	struct host h;

	describe_host(b, &h);
	printf(BENCH_NAME " (libvz %s), %s\n", vz_version_string(), h.date);
	printf("host: %s, %ld CPUs, %lld MiB; %s; %s\n", h.cpu, h.cpus, h.memory_mib, h.kernel,
	       h.os);
	printf("      KVM: %s; cgroup %s\n", h.kvm, h.cgroup);
	printf("rootfs %s, guest kernel %s\n", b->rootfs, b->kernel[0] ? b->kernel : "(none)");
	if (b->o.alt_name)
		printf("%s: rootfs %s (--alt-rootfs)\n", b->alt_mode, b->alt_rootfs);
	printf("runs: %zu after %zu warm-up (VM class: %zu after %zu); timeout %u s per run\n",
	       b->o.runs, b->o.warmup, b->o.vm_runs, b->o.vm_warmup, b->o.timeout_s);
	if (b->o.vm)
		printf("VM templates: %s (%s)\n", b->templates, b->own_templates ?
		       "fresh for this run, removed at its end" : "--templates, kept");
	printf("modes:\n");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];
		int nw = name_width(b);

		printf("  %-*s %s%s%s\n", nw, m->name, m->why[0] ? "SKIPPED: " : "",
		       m->why[0] ? m->why : m->about, "");
		if (!m->why[0] && m->version[0] && strcmp(m->version, "-"))
			printf("  %-*s   (%s)\n", nw, "", m->version);
	}
	printf("\n");
	fflush(stdout);
}

static void print_summary_cells(const struct summary *s)
{
	printf(" %10.2f %10.2f %10.2f %10.2f %10.2f", s->min, s->p50, s->p90, s->p99, s->max);
}

static void table_latency(struct bench *b)
{
	int nw = name_width(b);
	struct vs vs[2 * BENCH_MAX_WORKLOADS + 1];
	size_t nvs = restore_ratios(b, vs, sizeof(vs) / sizeof(vs[0]));
	bool any_lat = false;

	for (size_t k = 0; k < b->nwl; k++) {
		printf("start-to-exit latency, ms: %s\n", b->wl[k]->about);
		printf("  %-*s %5s %5s %10s %10s %10s %10s %10s %11s\n", nw, "mode", "n", "fail",
		       "min", "p50", "p90", "p99", "max", "libvz/peer");
		for (size_t i = 0; i < b->nmodes; i++) {
			const struct mode *m = &b->modes[i];
			const struct lat *l = &m->lat[k];
			struct summary s = summarize(&l->total);
			double r = ratio(b, m, k, NULL, NULL);

			if (m->why[0])
				continue;
			if (!wl_applies(m, b->wl[k])) {
				printf("  %-*s %5s %5s   n/a: libvz modes only\n", nw, m->name, "-",
				       "-");
				continue;
			}
			printf("  %-*s %5zu %5zu", nw, m->name, s.n, l->failures);
			if (!s.n) {
				printf("   (no successful run)\n");
				continue;
			}
			print_summary_cells(&s);
			if (r > 0)
				printf(" %10.2fx", r);
			printf("\n");
		}
		printf("\n");
	}
	printf("  libvz/peer: libvz's p50 over the peer's p50 for the same workload in the same "
	       "run, against libvz-container for container peers and libvz-vm for VM peers "
	       "(below 1: libvz is faster)\n\n");
	for (size_t i = 0; i < nvs; i++) {
		if (strcmp(vs[i].what, "latency"))
			continue;
		if (!any_lat)
			printf("restored VM start (libvz-vm, from a template) against libvz's cold "
			       "boot and QEMU microvm, p50 over p50:\n");
		any_lat = true;
		printf("  %-9s %s / %s = %.2f / %.2f ms = %.3f\n", b->wl[vs[i].k]->name, vs[i].a,
		       vs[i].b, vs[i].va, vs[i].vb, vs[i].ratio);
	}
	if (any_lat)
		printf("\n");
}

static void table_data(struct bench *b)
{
	bool any = false;

	for (size_t k = 0; k < b->nwl; k++)
		any |= b->wl[k]->data != DATA_NONE;
	if (!any)
		return;
	printf("data through the sandbox: %d MiB of zeros, checked whole (libvz modes only); "
	       "MiB/s = %d MiB / p50; net MiB/s = %d MiB / (p50 - p50 of true, same mode and "
	       "run)\n", BENCH_DATA_MIB, BENCH_DATA_MIB, BENCH_DATA_MIB);
	printf("  %-*s %-10s %5s %5s %10s %12s %10s %10s\n", name_width(b), "mode", "workload", "n",
	       "fail", "p50 ms", "true p50 ms", "MiB/s", "net MiB/s");
	for (size_t k = 0; k < b->nwl; k++) {
		for (size_t i = 0; i < b->nmodes && b->wl[k]->data != DATA_NONE; i++) {
			const struct mode *m = &b->modes[i];
			struct data_rate d = data_rate(b, m, k);

			if (m->why[0] || !wl_applies(m, b->wl[k]))
				continue;
			printf("  %-*s %-10s %5zu %5zu", name_width(b), m->name, b->wl[k]->name,
			       m->lat[k].total.n, m->lat[k].failures);
			if (!d.any) {
				printf("   (no successful run)\n");
				continue;
			}
			printf(" %10.2f", d.p50_ms);
			if (d.true_p50_ms > 0)
				printf(" %12.2f", d.true_p50_ms);
			else
				printf(" %12s", "-");
			printf(" %10.1f", d.mib_s);
			if (d.net)
				printf(" %10.1f\n", d.net_mib_s);
			else
				printf(" %10s\n", "-");
		}
	}
	printf("  stdout64m: dd writes to the sandbox's stdout, a pipe the harness reads to its "
	       "end; bind64m: dd writes (conv=fsync) into a fresh host directory bound read-write "
	       "at " BENCH_BIND_PATH ", checked after the run (not timed); both: start to exit, "
	       "the whole life cycle\n\n");
}

/* A restored mode's runs that booted cold make its figures a cold boot's: say so. */
static void warn_cold(const struct mode *m, const char *where, size_t cold, size_t of)
{
	if (m->restore && cold)
		printf("  WARNING: %s %s: %zu of %zu runs booted cold (no \"restore\" phase): "
		       "not a restored start's figures\n", m->name, where, cold, of);
}

static void table_phases(struct bench *b)
{
	int nw = name_width(b);
	bool any = false;

	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t k = 0; k < b->nwl && m->libvz && !m->why[0]; k++) {
			const struct lat *l = &m->lat[k];

			if (!l->nphase)
				continue;
			if (!any)
				printf("libvz phases, p50 ms (create+limit and free timed here, the "
				       "rest by libvz; (n/N): a phase only n of the N runs had):\n");
			any = true;
			printf("  %-*s %-9s", nw, m->name, b->wl[k]->name);
			for (size_t p = 0; p < l->nphase; p++) {
				printf(" %s %.2f", l->phase_name[p], summarize(&l->phase[p]).p50);
				if (l->phase[p].n != l->total.n)
					printf(" (%zu/%zu)", l->phase[p].n, l->total.n);
			}
			printf("\n");
		}
		/* the templates, made once before the runs and never part of a sample */
		for (size_t k = 0; m->restore && !m->why[0] && k < BENCH_MAX_WORKLOADS + 2; k++) {
			const struct tmpl *t = &m->tmpl[k];
			const char *wl = k < b->nwl ? b->wl[k]->name : k == b->nwl ? "memory" :
					 "concurrency";

			if (!t->tried)
				continue;
			if (!any)
				printf("libvz phases, p50 ms:\n");
			any = true;
			if (t->made)
				printf("  %-*s %-9s template made (or found) ahead, not timed: %.2f ms\n",
				       nw, m->name, wl, t->ms);
			else
				printf("  %-*s %-9s NO template: %s\n", nw, m->name, wl, t->error);
		}
		for (size_t k = 0; k < b->nwl && m->libvz && !m->why[0]; k++) {
			if (m->lat[k].nphase)
				warn_cold(m, b->wl[k]->name, m->lat[k].cold_boots,
					  m->lat[k].total.n);
		}
	}
	if (any)
		printf("\n");
}

static void table_memory(struct bench *b)
{
	int nw = name_width(b);
	struct vs vs[2 * BENCH_MAX_WORKLOADS + 1];
	size_t nvs = restore_ratios(b, vs, sizeof(vs) / sizeof(vs[0]));

	printf("host memory per running sandbox (sh -c 'echo ready; exec sleep'), KiB: the mean "
	       "over %zu of the mode running at once:\n", b->o.mem_sandboxes);
	printf("  %-*s %10s %10s %10s %10s %10s %10s %6s  %s\n", nw, "mode", "PSS", "RSS",
	       "cgroup", "guest RAM", "RAM PSS", "beyond RAM", "procs", "note");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];
		const struct memory *mem = &m->mem;

		if (m->why[0] || !b->o.memory)
			continue;
		if (!mem->measured) {
			printf("  %-*s not measured: %s\n", nw, m->name, mem->error);
			warn_cold(m, "memory", mem->cold_boots, b->o.mem_sandboxes);
			continue;
		}
		printf("  %-*s %10llu %10llu ", nw, m->name, (unsigned long long)mem->pss_kib,
		       (unsigned long long)mem->rss_kib);
		if (mem->cgroup_kib >= 0)
			printf("%10lld", (long long)mem->cgroup_kib);
		else
			printf("%10s", "-");
		if (vz_vm(m))
			printf(" %10llu %10llu %10lld", (unsigned long long)mem->guest_ram_rss_kib,
			       (unsigned long long)mem->guest_ram_pss_kib, beyond_ram_kib(mem));
		else
			printf(" %10s %10s %10s", "-", "-", "-");
		printf(" %6zu  %s\n", mem->processes, mem->note);
		warn_cold(m, "memory", mem->cold_boots, mem->sandboxes);
	}
	for (size_t i = 0; i < nvs; i++) {
		if (!strcmp(vs[i].what, "memory"))
			printf("  PSS per running VM, restored / cold: %s / %s = %.0f / %.0f KiB = "
			       "%.3f\n", vs[i].a, vs[i].b, vs[i].va, vs[i].vb, vs[i].ratio);
	}
	printf("  PSS: proportional set size summed over the sandbox's host processes (shared "
	       "pages split, also among the sandboxes of the mode running at once: a restored "
	       "VM's template pages count 1/N in each), a peer's supervisor included (bwrap, "
	       "crun run, runc run); libvz's per-sandbox state in the calling process (a few "
	       "KiB) is not counted; cgroup: the sandbox's own memory cgroup charge (- : none); "
	       "guest RAM: libvz VM modes, the resident part of the guest RAM mapping (template "
	       "pages counted whole); RAM PSS: its PSS; beyond RAM: PSS - RAM PSS, what the VMM "
	       "costs beyond guest RAM\n\n");
}

/* Sandboxes per second: from 0.02 (VMs on a software hypervisor) to thousands. */
static void print_rate(double v)
{
	printf(v >= 100 ? " %9.0f" : v >= 10 ? " %9.1f" : " %9.3f", v);
}

static void table_concurrency(struct bench *b)
{
	bool any = false;

	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t j = 0; j < m->nconc && !m->why[0]; j++) {
			const struct conc *c = &m->conc[j];
			struct summary lat = summarize(&c->latency);
			struct rates rt = conc_rates(c);

			if (!c->rounds)
				continue;
			if (!any) {
				printf("concurrency: K sandboxes of /bin/true released at once; "
				       "sandboxes/s = K / makespan (p50 over rounds); latency from "
				       "release to each one's end, ms\n");
				printf("  %-*s %4s %6s %5s %9s %9s %9s %10s %10s %10s %10s\n",
				       name_width(b), "mode", "K", "rounds", "fail", "sbox/s", "min",
				       "max", "lat p50", "p90", "p99", "max");
			}
			any = true;
			printf("  %-*s %4zu %6zu %5zu", name_width(b), m->name, c->level, c->rounds,
			       c->failures);
			if (rt.any) {
				print_rate(rt.p50);
				print_rate(rt.min);
				print_rate(rt.max);
			} else {
				printf(" %9s %9s %9s", "-", "-", "-");
			}
			if (lat.n)
				printf(" %10.2f %10.2f %10.2f %10.2f", lat.p50, lat.p90, lat.p99,
				       lat.max);
			printf("\n");
			if (m->restore && c->cold_boots) {
				char where[64];

				msg(where, sizeof(where), "concurrency %zu", c->level);
				warn_cold(m, where, c->cold_boots, lat.n);
			}
		}
	}
	if (any)
		printf("\n");
}

static void table_failures(struct bench *b)
{
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t k = 0; k < b->nwl; k++) {
			const struct lat *l = &m->lat[k];

			if (l->first_error[0])
				printf("%s %s: %zu failed (+%zu in warm-up); first: %s\n", m->name,
				       b->wl[k]->name, l->failures, l->warmup_failures,
				       l->first_error);
		}
		for (size_t j = 0; j < m->nconc; j++) {
			if (m->conc[j].first_error[0])
				printf("%s concurrency %zu: %zu failed; first: %s\n", m->name,
				       m->conc[j].level, m->conc[j].failures, m->conc[j].first_error);
		}
	}
}

void report_table(struct bench *b)
{
	table_latency(b);
	table_data(b);
	table_phases(b);
	if (b->o.memory)
		table_memory(b);
	table_concurrency(b);
	table_failures(b);
	fflush(stdout);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_summary(FILE *f, const struct summary *s)
{
	if (!s->n) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"min\": %.6f, \"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f, \"max\": %.6f, "
		"\"mean\": %.6f}", s->min, s->p50, s->p90, s->p99, s->max, s->mean);
}

static void json_samples(FILE *f, const struct series *s)
{
	fputc('[', f);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s%.6f", i ? ", " : "", ns_ms(s->ns[i]));
	fputc(']', f);
}

static void json_sizes(FILE *f, const size_t *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%zu", i ? ", " : "", v[i]);
	fputc(']', f);
}

/* The start of the next object in a JSON array: a comma unless it is the first, and its
 * first key. */
static void json_item(FILE *f, bool *first, const char *key)
{
	fprintf(f, "%s\n    {\"%s\": ", *first ? "" : ",", key);
	*first = false;
}

static void json_err(FILE *f, const char *s)
{
	json_str(f, s[0] ? s : NULL);
}

static void json_host(FILE *f, const struct host *h)
{
	fprintf(f, "  \"host\": {\"cpu\": ");
	json_str(f, h->cpu);
	fprintf(f, ", \"cpus\": %ld, \"memory_mib\": %lld, \"kernel\": ", h->cpus, h->memory_mib);
	json_str(f, h->kernel);
	fprintf(f, ", \"os\": ");
	json_str(f, h->os);
	fprintf(f, ", \"kvm\": ");
	json_str(f, h->kvm);
	fprintf(f, ", \"cgroup\": ");
	json_str(f, h->cgroup);
	fprintf(f, "},\n");
}

static void json_settings(FILE *f, const struct bench *b)
{
	fprintf(f, "  \"settings\": {\"runs\": %zu, \"warmup\": %zu, \"vm_runs\": %zu, "
		"\"vm_warmup\": %zu, \"concurrency\": ", b->o.runs, b->o.warmup, b->o.vm_runs,
		b->o.vm_warmup);
	json_sizes(f, b->o.levels, b->o.nlevels);
	fprintf(f, ", \"vm_concurrency\": ");
	json_sizes(f, b->o.vm_levels, b->o.vm_nlevels);
	fprintf(f, ", \"rounds\": %zu, \"vm_rounds\": %zu, \"memory_limit_mib\": 256, "
		"\"pids_limit\": 64, \"cpu_millicores\": 1000, \"guest_ram_mib\": %u, "
		"\"timeout_s\": %u, \"rootfs\": ", b->o.rounds, b->o.vm_rounds, b->o.vm_ram_mib,
		b->o.timeout_s);
	json_str(f, b->rootfs);
	fprintf(f, ", \"kernel\": ");
	json_str(f, b->kernel[0] ? b->kernel : NULL);
	fprintf(f, ", \"alt_rootfs\": ");
	if (b->o.alt_name) {
		fprintf(f, "{\"mode\": ");
		json_str(f, b->alt_mode);
		fprintf(f, ", \"path\": ");
		json_str(f, b->alt_rootfs);
		fprintf(f, "}");
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ", \"initramfs\": ");
	json_str(f, b->initramfs[0] ? "the rootfs as a newc cpio archive (guest peers)" : NULL);
	fprintf(f, ", \"memory_sandboxes\": %zu, \"templates\": ", b->o.mem_sandboxes);
	if (b->o.vm) {
		fprintf(f, "{\"dir\": ");
		json_str(f, b->templates);
		fprintf(f, ", \"fresh\": %s}", b->own_templates ? "true" : "false");
	} else {
		fprintf(f, "null");
	}
	fprintf(f, "},\n");
}

static void json_modes(FILE *f, const struct bench *b)
{
	fprintf(f, "  \"workloads\": [");
	for (size_t k = 0; k < b->nwl; k++) {
		fprintf(f, "%s\n    {\"name\": ", k ? "," : "");
		json_str(f, b->wl[k]->name);
		fprintf(f, ", \"about\": ");
		json_str(f, b->wl[k]->about);
		fprintf(f, ", \"argv\": [");
		for (int i = 0; i < b->wl[k]->argc; i++) {
			fprintf(f, "%s", i ? ", " : "");
			json_str(f, b->wl[k]->argv[i]);
		}
		fprintf(f, "], \"libvz_only\": %s, \"data_bytes\": ",
			b->wl[k]->data != DATA_NONE ? "true" : "false");
		if (b->wl[k]->data != DATA_NONE)
			fprintf(f, "%llu}", (unsigned long long)BENCH_DATA_BYTES);
		else
			fprintf(f, "null}");
	}
	fprintf(f, "\n  ],\n  \"modes\": [");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];
		const struct mode *p = pair_of(b, m);

		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		json_str(f, m->name);
		fprintf(f, ", \"class\": \"%s\", \"libvz\": %s, \"available\": %s, "
			"\"skipped_because\": ", m->cls == CLASS_VM ? "vm" : "container",
			m->libvz ? "true" : "false", m->why[0] ? "false" : "true");
		json_err(f, m->why);
		fprintf(f, ", \"isolation\": ");
		json_err(f, m->about);
		fprintf(f, ", \"version\": ");
		json_err(f, m->version);
		fprintf(f, ", \"pair\": ");
		json_str(f, p ? p->name : NULL);
		fprintf(f, ", \"vm_start\": ");
		json_str(f, m->restore ? "restore" : m->cold ? "cold" : NULL);
		fprintf(f, ", \"templates\": ");
		if (m->restore) {
			bool first = true;

			fputc('[', f);
			for (size_t k = 0; k < BENCH_MAX_WORKLOADS + 2; k++) {
				const struct tmpl *t = &m->tmpl[k];

				if (!t->tried)
					continue;
				fprintf(f, "%s{\"for\": ", first ? "" : ", ");
				first = false;
				json_str(f, k < b->nwl ? b->wl[k]->name : k == b->nwl ? "memory" :
					    "concurrency");
				fprintf(f, ", \"made\": %s, \"ms\": %.6f, \"error\": ",
					t->made ? "true" : "false", t->ms);
				json_err(f, t->error);
				fputc('}', f);
			}
			fputc(']', f);
		} else {
			fprintf(f, "null");
		}
		fprintf(f, "}");
	}
	fprintf(f, "\n  ],\n");
}

static void json_latency(FILE *f, const struct bench *b)
{
	bool first = true;

	fprintf(f, "  \"latency\": [");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t k = 0; k < b->nwl && !m->why[0]; k++) {
			const struct lat *l = &m->lat[k];
			struct summary s = summarize(&l->total);

			json_item(f, &first, "mode");
			json_str(f, m->name);
			fprintf(f, ", \"workload\": ");
			json_str(f, b->wl[k]->name);
			fprintf(f, ", \"applicable\": %s, \"n\": %zu, \"failures\": %zu, "
				"\"warmup_failures\": %zu, \"first_error\": ",
				wl_applies(m, b->wl[k]) ? "true" : "false", s.n, l->failures,
				l->warmup_failures);
			json_err(f, l->first_error);
			if (m->restore)
				fprintf(f, ", \"booted_cold\": %zu", l->cold_boots);
			else
				fprintf(f, ", \"booted_cold\": null");
			fprintf(f, ",\n     \"summary_ms\": ");
			json_summary(f, &s);
			fprintf(f, ",\n     \"samples_ms\": ");
			json_samples(f, &l->total);
			fprintf(f, "}");
		}
	}
	fprintf(f, "\n  ],\n  \"ratios\": [");
	first = true;
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t k = 0; k < b->nwl; k++) {
			double a = 0, p = 0, r = ratio(b, m, k, &a, &p);

			if (r <= 0)
				continue;
			json_item(f, &first, "libvz");
			json_str(f, pair_of(b, m)->name);
			fprintf(f, ", \"peer\": ");
			json_str(f, m->name);
			fprintf(f, ", \"workload\": ");
			json_str(f, b->wl[k]->name);
			fprintf(f, ", \"libvz_p50_ms\": %.6f, \"peer_p50_ms\": %.6f, \"ratio\": %.6f}",
				a, p, r);
		}
	}
	fprintf(f, "\n  ],\n  \"restore_ratios\": [");
	{
		struct vs vs[2 * BENCH_MAX_WORKLOADS + 1];
		size_t nvs = restore_ratios(b, vs, sizeof(vs) / sizeof(vs[0]));

		for (size_t i = 0; i < nvs; i++) {
			bool lat = !strcmp(vs[i].what, "latency");

			fprintf(f, "%s\n    {\"what\": ", i ? "," : "");
			json_str(f, vs[i].what);
			fprintf(f, ", \"mode\": ");
			json_str(f, vs[i].a);
			fprintf(f, ", \"against\": ");
			json_str(f, vs[i].b);
			fprintf(f, ", \"workload\": ");
			json_str(f, lat ? b->wl[vs[i].k]->name : "ready");
			fprintf(f, ", \"%s\": %.6f, \"against_%s\": %.6f, \"ratio\": %.6f}",
				lat ? "p50_ms" : "pss_kib", vs[i].va, lat ? "p50_ms" : "pss_kib",
				vs[i].vb, vs[i].ratio);
		}
	}
	fprintf(f, "\n  ],\n  \"throughput\": [");
	first = true;
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t k = 0; k < b->nwl; k++) {
			struct data_rate d = data_rate(b, m, k);

			if (!d.any)
				continue;
			json_item(f, &first, "mode");
			json_str(f, m->name);
			fprintf(f, ", \"workload\": ");
			json_str(f, b->wl[k]->name);
			fprintf(f, ", \"bytes\": %llu, \"n\": %zu, \"p50_ms\": %.6f, \"mib_per_s\": "
				"%.6f, \"true_p50_ms\": ", (unsigned long long)BENCH_DATA_BYTES,
				m->lat[k].total.n, d.p50_ms, d.mib_s);
			if (d.true_p50_ms > 0)
				fprintf(f, "%.6f", d.true_p50_ms);
			else
				fprintf(f, "null");
			fprintf(f, ", \"net_mib_per_s\": ");
			if (d.net)
				fprintf(f, "%.6f}", d.net_mib_s);
			else
				fprintf(f, "null}");
		}
	}
	fprintf(f, "\n  ],\n  \"phases\": [");
	first = true;
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t k = 0; k < b->nwl && m->libvz; k++) {
			const struct lat *l = &m->lat[k];

			if (!l->nphase)
				continue;
			json_item(f, &first, "mode");
			json_str(f, m->name);
			fprintf(f, ", \"workload\": ");
			json_str(f, b->wl[k]->name);
			fprintf(f, ", \"phases\": [");
			for (size_t p = 0; p < l->nphase; p++) {
				struct summary s = summarize(&l->phase[p]);

				fprintf(f, "%s{\"name\": ", p ? ", " : "");
				json_str(f, l->phase_name[p]);
				fprintf(f, ", \"n\": %zu, \"p50_ms\": %.6f, \"p90_ms\": %.6f}", s.n,
					s.p50, s.p90);
			}
			fprintf(f, "]}");
		}
	}
	fprintf(f, "\n  ],\n");
}

static void json_memory(FILE *f, const struct bench *b)
{
	bool first = true;

	fprintf(f, "  \"memory\": [");
	for (size_t i = 0; i < b->nmodes && b->o.memory; i++) {
		const struct mode *m = &b->modes[i];
		const struct memory *mem = &m->mem;

		if (m->why[0])
			continue;
		json_item(f, &first, "mode");
		json_str(f, m->name);
		fprintf(f, ", \"available\": %s, \"error\": ", mem->measured ? "true" : "false");
		json_err(f, mem->error);
		fprintf(f, ", \"sandboxes\": %zu, \"booted_cold\": ", b->o.mem_sandboxes);
		if (m->restore)
			fprintf(f, "%zu", mem->cold_boots);
		else
			fprintf(f, "null");
		if (mem->measured) {
			fprintf(f, ", \"processes\": %zu, \"pss_kib\": %llu, \"rss_kib\": %llu, "
				"\"pss_total_kib\": %llu, \"cgroup_kib\": ", mem->processes,
				(unsigned long long)mem->pss_kib, (unsigned long long)mem->rss_kib,
				(unsigned long long)mem->pss_total_kib);
			if (mem->cgroup_kib >= 0)
				fprintf(f, "%lld", (long long)mem->cgroup_kib);
			else
				fprintf(f, "null");
			if (vz_vm(m))
				fprintf(f, ", \"guest_ram_rss_kib\": %llu, \"guest_ram_pss_kib\": %llu, "
					"\"beyond_guest_ram_kib\": %lld",
					(unsigned long long)mem->guest_ram_rss_kib,
					(unsigned long long)mem->guest_ram_pss_kib, beyond_ram_kib(mem));
			else
				fprintf(f, ", \"guest_ram_rss_kib\": null, \"guest_ram_pss_kib\": null, "
					"\"beyond_guest_ram_kib\": null");
		}
		fprintf(f, ", \"note\": ");
		json_err(f, mem->note);
		fprintf(f, "}");
	}
	fprintf(f, "\n  ],\n");
}

static void json_concurrency(FILE *f, const struct bench *b)
{
	bool first = true;

	fprintf(f, "  \"concurrency\": [");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		for (size_t j = 0; j < m->nconc && !m->why[0]; j++) {
			const struct conc *c = &m->conc[j];
			struct summary lat = summarize(&c->latency);
			struct rates rt = conc_rates(c);

			if (!c->rounds)
				continue;
			json_item(f, &first, "mode");
			json_str(f, m->name);
			fprintf(f, ", \"level\": %zu, \"rounds\": %zu, \"sandboxes\": %zu, "
				"\"failures\": %zu, \"first_error\": ", c->level, c->rounds,
				c->sandboxes, c->failures);
			json_err(f, c->first_error);
			if (m->restore)
				fprintf(f, ", \"booted_cold\": %zu", c->cold_boots);
			else
				fprintf(f, ", \"booted_cold\": null");
			if (rt.any)
				fprintf(f, ",\n     \"throughput_per_s\": {\"min\": %.6f, \"p50\": %.6f, "
					"\"max\": %.6f}", rt.min, rt.p50, rt.max);
			else
				fprintf(f, ",\n     \"throughput_per_s\": null");
			fprintf(f, ",\n     \"latency_ms\": ");
			json_summary(f, &lat);
			fprintf(f, ",\n     \"makespan_ms\": ");
			json_samples(f, &c->makespan);
			fprintf(f, ",\n     \"samples_ms\": ");
			json_samples(f, &c->latency);
			fprintf(f, "}");
		}
	}
	fprintf(f, "\n  ]\n");
}

static int write_json(struct bench *b, const char *path)
{
	FILE *f = fopen(path, "we");
	struct host h;

	if (!f) {
		fprintf(stderr, BENCH_NAME ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	describe_host(b, &h);
	fprintf(f, "{\n  \"benchmark\": \"" BENCH_NAME "\", \"schema\": 1, \"libvz_version\": ");
	json_str(f, vz_version_string());
	fprintf(f, ", \"date\": ");
	json_str(f, h.date);
	fprintf(f, ",\n  \"command\": ");
	json_str(f, b->command);
	fprintf(f, ",\n");
	json_host(f, &h);
	json_settings(f, b);
	json_modes(f, b);
	json_latency(f, b);
	json_memory(f, b);
	json_concurrency(f, b);
	fprintf(f, "}\n");
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, BENCH_NAME ": writing %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- CSV ------------------------------------------------------------------------------------- */

/* A CSV field: quoted, with quotes doubled (mode names have no commas, errors may). */
static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
	fputc('"', f);
}

/* One CSV row; d (data workloads) and vm_mem (libvz VM modes' memory) may be NULL;
 * cold: restored modes' runs that booted cold, -1 for other modes. */
static void csv_row(FILE *f, const char *section, const char *mode, const char *workload,
		    size_t level, size_t n, size_t fails, const struct summary *s, double tput,
		    double r, const struct memory *mem, const struct data_rate *d,
		    const struct memory *vm_mem, long long cold)
{
	fprintf(f, "%s,", section);
	csv_str(f, mode);
	fputc(',', f);
	csv_str(f, workload);
	fprintf(f, ",%zu,%zu,%zu,", level, n, fails);
	if (s && s->n)
		fprintf(f, "%.6f,%.6f,%.6f,%.6f,%.6f,", s->min, s->p50, s->p90, s->p99, s->max);
	else
		fprintf(f, ",,,,,");
	if (tput > 0)
		fprintf(f, "%.3f", tput);
	fputc(',', f);
	if (r > 0)
		fprintf(f, "%.6f", r);
	fputc(',', f);
	if (mem && mem->measured) {
		fprintf(f, "%llu,%llu,", (unsigned long long)mem->pss_kib,
			(unsigned long long)mem->rss_kib);
		if (mem->cgroup_kib >= 0)
			fprintf(f, "%lld", (long long)mem->cgroup_kib);
	} else {
		fprintf(f, ",,");
	}
	if (d && d->any) {
		fprintf(f, ",%llu,%.3f,", (unsigned long long)BENCH_DATA_BYTES, d->mib_s);
		if (d->net)
			fprintf(f, "%.3f", d->net_mib_s);
	} else {
		fprintf(f, ",,,");
	}
	if (vm_mem && vm_mem->measured)
		fprintf(f, ",%llu,%lld,%llu", (unsigned long long)vm_mem->guest_ram_rss_kib,
			beyond_ram_kib(vm_mem), (unsigned long long)vm_mem->guest_ram_pss_kib);
	else
		fprintf(f, ",,,");
	if (cold >= 0)
		fprintf(f, ",%lld\n", cold);
	else
		fprintf(f, ",\n");
}

static int write_csv(struct bench *b, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fprintf(stderr, BENCH_NAME ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "section,mode,workload,concurrency,n,failures,min_ms,p50_ms,p90_ms,p99_ms,"
		"max_ms,sandboxes_per_s,libvz_over_peer_p50,pss_kib,rss_kib,cgroup_kib,data_bytes,"
		"mib_per_s,net_mib_per_s,guest_ram_rss_kib,beyond_guest_ram_kib,guest_ram_pss_kib,"
		"booted_cold\n");
	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		if (m->why[0])
			continue;
		for (size_t k = 0; k < b->nwl; k++) {
			struct summary s = summarize(&m->lat[k].total);
			struct data_rate d = data_rate(b, m, k);

			if (!wl_applies(m, b->wl[k]))
				continue;
			csv_row(f, "latency", m->name, b->wl[k]->name, 1, s.n, m->lat[k].failures,
				&s, 0, ratio(b, m, k, NULL, NULL), NULL, &d, NULL,
				m->restore ? (long long)m->lat[k].cold_boots : -1);
			for (size_t p = 0; p < m->lat[k].nphase; p++) {
				struct summary ps = summarize(&m->lat[k].phase[p]);
				char name[64];

				msg(name, sizeof(name), "%s/%s", m->name, m->lat[k].phase_name[p]);
				csv_row(f, "phase", name, b->wl[k]->name, 1, ps.n, 0, &ps, 0, 0,
					NULL, NULL, NULL, -1);
			}
		}
		if (b->o.memory)
			csv_row(f, "memory", m->name, "ready", 1, m->mem.measured, !m->mem.measured,
				NULL, 0, 0, &m->mem, NULL, vz_vm(m) ? &m->mem : NULL,
				m->restore ? (long long)m->mem.cold_boots : -1);
		for (size_t j = 0; j < m->nconc; j++) {
			const struct conc *c = &m->conc[j];
			struct summary lat = summarize(&c->latency);
			struct rates rt = conc_rates(c);

			if (c->rounds)
				csv_row(f, "concurrency", m->name, "true", c->level, c->sandboxes,
					c->failures, &lat, rt.any ? rt.p50 : 0, 0, NULL, NULL, NULL,
					m->restore ? (long long)c->cold_boots : -1);
		}
	}
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, BENCH_NAME ": writing %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int report_files(struct bench *b)
{
	char json[PATH_MAX], csv[PATH_MAX];

	if (!b->o.out)
		return 0;
	if (mkdir(b->o.out, 0755) && errno != EEXIST) {
		fprintf(stderr, BENCH_NAME ": %s: %s\n", b->o.out, strerror(errno));
		return -1;
	}
	msg(json, sizeof(json), "%s/results.json", b->o.out);
	msg(csv, sizeof(csv), "%s/results.csv", b->o.out);
	if (write_json(b, json) || write_csv(b, csv))
		return -1;
	printf("wrote %s and %s\n", json, csv);
	return 0;
}
