/* SPDX-License-Identifier: MIT */
/*
 * vz-bench - start-up of libvz's container and VM backends, side by side with the tools
 * people use today, in one run on one host. See docs/benchmarks.md for the method and
 * `vz-bench --help` for the options.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef VZ_BENCH_ROOTFS
#define VZ_BENCH_ROOTFS "rootfs"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " BENCH_NAME " [options]\n"
		"Start-to-exit latency, phases, memory and concurrency of libvz's container and VM\n"
		"backends next to fork+exec, bwrap, crun, runc, QEMU microvm and kvmtool.\n\n"
		"  --runs N              measured runs per container-class mode and workload (100)\n"
		"  --warmup N            discarded runs before them (5)\n"
		"  --vm-runs N           measured runs per VM-class mode and workload (10)\n"
		"  --vm-warmup N         discarded VM runs before them (1)\n"
		"  --workloads LIST      of true, pipeline, touch64m (the default set), stdout64m,\n"
		"                        bind64m (64 MiB through stdout, into a bind mount: libvz\n"
		"                        modes only), or 'all'\n"
		"  --concurrency LIST    sandboxes started at once, e.g. 1,10,50,100 (the default);\n"
		"                        'none' to skip\n"
		"  --vm-concurrency LIST the same for VM-class modes (default: --concurrency)\n"
		"  --rounds N            rounds per concurrency level (3); --vm-rounds N (1)\n"
		"  --only LIST           measure only these modes (libvz-container, libvz-prepared,\n"
		"                        libvz-vm, libvz-vm-cold, libvz-vm-prepared, libvz-vm-NAME,\n"
		"                        fork+exec, bwrap, crun, runc, qemu-microvm, kvmtool)\n"
		"  --no-peers            libvz only; --no-vm, --no-container: one class only\n"
		"  --no-memory           skip the memory measurement\n"
		"  --memory-sandboxes N  sandboxes of a mode running at once while memory is\n"
		"                        measured (4; restored VMs share template pages)\n"
		"  --templates DIR       VM template directory to use and keep (default: a fresh\n"
		"                        one for this run, removed at its end)\n"
		"  --rootfs DIR          busybox rootfs (" VZ_BENCH_ROOTFS ")\n"
		"  --alt-rootfs NAME=DIR adds the mode libvz-vm-NAME: libvz-vm with rootfs DIR (one\n"
		"                        with /bin/true, e.g. a debootstrap minbase); NAME: [a-z0-9-]\n"
		"  --kernel FILE         guest kernel (default: $VZ_KERNEL, then libvz's default);\n"
		"                        exported as VZ_KERNEL for libvz and the peers\n"
		"  --vm-memory MIB       guest RAM of every VM mode (128)\n"
		"  --timeout S           a run that lasts longer fails (300; scaled up with\n"
		"                        concurrency beyond the CPU count)\n"
		"  --kvmtool PATH        lkvm to compare with; --kvmtool-kernel FILE: its bzImage\n"
		"  --out DIR             write DIR/results.json and DIR/results.csv\n"
		"  --quick               small counts for a smoke run (5 runs, 1 VM run, levels 1,10,\n"
		"                        2 sandboxes in the memory run)\n"
		"Charts: python3 bench/charts.py DIR/results.json\n");
}

static int parse_size(const char *opt, const char *arg, size_t min, size_t max, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		fprintf(stderr, BENCH_NAME ": --%s %s: expected a number from %zu to %zu\n", opt, arg,
			min, max);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

static int parse_levels(const char *opt, const char *arg, size_t *lv, size_t *n)
{
	char buf[256], *tok, *save = NULL;

	*n = 0;
	if (!strcmp(arg, "none"))
		return 0;
	msg(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == BENCH_MAX_LEVELS) {
			fprintf(stderr, BENCH_NAME ": --%s: at most %d levels\n", opt,
				BENCH_MAX_LEVELS);
			return -1;
		}
		if (parse_size(opt, tok, 1, BENCH_MAX_CONCURRENCY, &lv[(*n)++]))
			return -1;
	}
	return 0;
}

static void known_workloads(char *dst, size_t len)
{
	size_t o = 0;

	dst[0] = '\0';
	for (size_t i = 0; i < bench_nworkloads && o < len; i++)
		o += (size_t)snprintf(dst + o, len - o, "%s%s", i ? ", " : "",
				      bench_workloads[i].name);
}

/* The default set leaves the data workloads out: on a software hypervisor each VM run
 * of them takes long, and they measure data paths, not start-up. 'all' takes them in. */
static int pick_workloads(struct bench *b)
{
	const char *p = b->o.workloads;
	char known[256];

	known_workloads(known, sizeof(known));
	if (!p || !strcmp(p, "all")) {
		for (size_t i = 0; i < bench_nworkloads; i++) {
			if (p || bench_workloads[i].data == DATA_NONE)
				b->wl[b->nwl++] = &bench_workloads[i];
		}
		return 0;
	}
	while (*p) {
		size_t dl = strcspn(p, ","), i;

		for (i = 0; i < bench_nworkloads; i++) {
			if (strlen(bench_workloads[i].name) == dl &&
			    !strncmp(bench_workloads[i].name, p, dl))
				break;
		}
		for (size_t j = 0; j < b->nwl && i < bench_nworkloads; j++) {
			if (b->wl[j] == &bench_workloads[i]) {
				fprintf(stderr, BENCH_NAME ": --workloads: '%s' given twice\n",
					bench_workloads[i].name);
				return -1;
			}
		}
		if (i == bench_nworkloads) {
			fprintf(stderr, BENCH_NAME ": --workloads: unknown workload '%.*s' (known: "
				"%s; or all)\n", (int)dl, p, known);
			return -1;
		}
		if (b->nwl == BENCH_MAX_WORKLOADS)
			return 0;
		b->wl[b->nwl++] = &bench_workloads[i];
		p += dl + (p[dl] == ',');
	}
	if (!b->nwl)
		fprintf(stderr, BENCH_NAME ": --workloads: empty (known: %s; or all)\n", known);
	return b->nwl ? 0 : -1;
}

/* Is there an executable regular file at /bin/true inside root, symbolic links resolved
 * as the sandbox would (inside root: a busybox rootfs links it to /bin/busybox)? */
static bool has_bin_true(const char *root)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
	struct stat st;
	bool ok;

	if (dfd < 0)
		return false;
	fd = (int)syscall(SYS_openat2, dfd, "bin/true", &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) /* before Linux 5.6: the link itself must be there */
		ok = fstatat(dfd, "bin/true", &st, AT_SYMLINK_NOFOLLOW) == 0;
	else
		ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return ok;
}

/* --alt-rootfs NAME=DIR: the mode libvz-vm-NAME with rootfs DIR. */
static int parse_alt_rootfs(struct bench *b, const char *arg)
{
	const char *eq = strchr(arg, '='), *dir = eq ? eq + 1 : NULL;
	size_t nl = eq ? (size_t)(eq - arg) : 0;
	struct stat st;

	if (b->o.alt_name) {
		fprintf(stderr, BENCH_NAME ": --alt-rootfs: given twice (one is supported)\n");
		return -1;
	}
	if (!eq || !nl || nl != strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-") ||
	    nl + sizeof("libvz-vm-") > sizeof(b->alt_mode) || !*dir) {
		fprintf(stderr, BENCH_NAME ": --alt-rootfs %s: expected NAME=DIR, NAME of 1 to %zu "
			"characters from a-z, 0-9 and '-'\n", arg, sizeof(b->alt_mode) -
			sizeof("libvz-vm-"));
		return -1;
	}
	if (!realpath(dir, b->alt_rootfs) || stat(b->alt_rootfs, &st)) {
		fprintf(stderr, BENCH_NAME ": --alt-rootfs %s: %s: %s\n", arg, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, BENCH_NAME ": --alt-rootfs %s: %s is not a directory\n", arg, dir);
		return -1;
	}
	if (!has_bin_true(b->alt_rootfs)) {
		fprintf(stderr, BENCH_NAME ": --alt-rootfs %s: %s has no executable /bin/true: "
			"not a rootfs\n", arg, dir);
		return -1;
	}
	msg(b->alt_mode, sizeof(b->alt_mode), "libvz-vm-%.*s", (int)nl, arg);
	b->o.alt_name = b->alt_mode + strlen("libvz-vm-");
	return 0;
}

static int parse_opts(int argc, char **argv, struct bench *b)
{
	enum { O_VM_RUNS = 256, O_VM_WARMUP, O_VM_CONC, O_VM_ROUNDS, O_NO_PEERS, O_NO_VM,
	       O_NO_CONTAINER, O_NO_MEMORY, O_VM_MEMORY, O_TIMEOUT, O_KVMTOOL, O_KVMTOOL_KERNEL,
	       O_QUICK, O_WORKLOADS, O_ONLY, O_KERNEL, O_ALT_ROOTFS, O_MEM_SANDBOXES,
	       O_TEMPLATES };
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "vm-runs", required_argument, NULL, O_VM_RUNS },
		{ "vm-warmup", required_argument, NULL, O_VM_WARMUP },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "vm-concurrency", required_argument, NULL, O_VM_CONC },
		{ "rounds", required_argument, NULL, 'R' },
		{ "vm-rounds", required_argument, NULL, O_VM_ROUNDS },
		{ "workloads", required_argument, NULL, O_WORKLOADS },
		{ "only", required_argument, NULL, O_ONLY },
		{ "no-peers", no_argument, NULL, O_NO_PEERS },
		{ "no-vm", no_argument, NULL, O_NO_VM },
		{ "no-container", no_argument, NULL, O_NO_CONTAINER },
		{ "no-memory", no_argument, NULL, O_NO_MEMORY },
		{ "memory-sandboxes", required_argument, NULL, O_MEM_SANDBOXES },
		{ "templates", required_argument, NULL, O_TEMPLATES },
		{ "rootfs", required_argument, NULL, 'r' },
		{ "alt-rootfs", required_argument, NULL, O_ALT_ROOTFS },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "vm-memory", required_argument, NULL, O_VM_MEMORY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "kvmtool", required_argument, NULL, O_KVMTOOL },
		{ "kvmtool-kernel", required_argument, NULL, O_KVMTOOL_KERNEL },
		{ "out", required_argument, NULL, 'o' },
		{ "quick", no_argument, NULL, O_QUICK },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &b->o;
	bool vm_levels_set = false;
	size_t v;
	int c;

	*o = (struct opts){ .runs = 100, .warmup = 5, .vm_runs = 10, .vm_warmup = 1, .rounds = 3,
			    .vm_rounds = 1, .levels = { 1, 10, 50, 100 }, .nlevels = 4,
			    .mem_sandboxes = 4,
			    .rootfs = VZ_BENCH_ROOTFS, .vm_ram_mib = 128, .timeout_s = 300,
			    .peers = true, .vm = true, .container = true, .memory = true };
	/* --quick first, so that explicit counts given with it win */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o->runs = 5, o->warmup = 1, o->vm_runs = 1, o->vm_warmup = 0;
			o->rounds = 1, o->nlevels = 2, o->mem_sandboxes = 2;
		}
	}
	while ((c = getopt_long(argc, argv, "n:w:c:R:r:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_size("runs", optarg, 1, 1000000, &o->runs))
				return -1;
			break;
		case 'w':
			if (parse_size("warmup", optarg, 0, 1000000, &o->warmup))
				return -1;
			break;
		case O_VM_RUNS:
			if (parse_size("vm-runs", optarg, 1, 1000000, &o->vm_runs))
				return -1;
			break;
		case O_VM_WARMUP:
			if (parse_size("vm-warmup", optarg, 0, 1000000, &o->vm_warmup))
				return -1;
			break;
		case 'c':
			if (parse_levels("concurrency", optarg, o->levels, &o->nlevels))
				return -1;
			break;
		case O_VM_CONC:
			if (parse_levels("vm-concurrency", optarg, o->vm_levels, &o->vm_nlevels))
				return -1;
			vm_levels_set = true;
			break;
		case 'R':
			if (parse_size("rounds", optarg, 1, 100000, &o->rounds))
				return -1;
			break;
		case O_VM_ROUNDS:
			if (parse_size("vm-rounds", optarg, 1, 100000, &o->vm_rounds))
				return -1;
			break;
		case O_WORKLOADS:
			o->workloads = optarg;
			break;
		case O_ONLY:
			o->only = optarg;
			break;
		case O_NO_PEERS:
			o->peers = false;
			break;
		case O_NO_VM:
			o->vm = false;
			break;
		case O_NO_CONTAINER:
			o->container = false;
			break;
		case O_NO_MEMORY:
			o->memory = false;
			break;
		case O_MEM_SANDBOXES:
			if (parse_size("memory-sandboxes", optarg, 1, 100, &o->mem_sandboxes))
				return -1;
			break;
		case O_TEMPLATES:
			if (!*optarg) {
				fprintf(stderr, BENCH_NAME ": --templates: empty path\n");
				return -1;
			}
			o->templates = optarg;
			break;
		case 'r':
			o->rootfs = optarg;
			break;
		case O_ALT_ROOTFS:
			if (parse_alt_rootfs(b, optarg))
				return -1;
			break;
		case O_KERNEL:
			o->kernel = optarg;
			break;
		case O_VM_MEMORY:
			if (parse_size("vm-memory", optarg, 64, 65536, &v))
				return -1;
			o->vm_ram_mib = (unsigned)v;
			break;
		case O_TIMEOUT:
			if (parse_size("timeout", optarg, 1, 86400, &v))
				return -1;
			o->timeout_s = (unsigned)v;
			break;
		case O_KVMTOOL:
			o->kvmtool = optarg;
			break;
		case O_KVMTOOL_KERNEL:
			o->kvmtool_kernel = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case O_QUICK:
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, BENCH_NAME ": unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!vm_levels_set) {
		memcpy(o->vm_levels, o->levels, sizeof(o->levels));
		o->vm_nlevels = o->nlevels;
	}
	if (!o->vm && !o->container) {
		fprintf(stderr, BENCH_NAME ": --no-vm and --no-container leave nothing to measure\n");
		return -1;
	}
	return 0;
}

static void save_command(struct bench *b, int argc, char **argv)
{
	size_t o = 0;

	for (int i = 0; i < argc && o < sizeof(b->command); i++)
		o += (size_t)snprintf(b->command + o, sizeof(b->command) - o, "%s%s", i ? " " : "",
				      i ? argv[i] : BENCH_NAME);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* An OCI runtime's state directory must be empty once every container is gone. */
static size_t leftovers(struct bench *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nmodes; i++) {
		char state[PATH_MAX];
		struct dirent *e;
		DIR *d;

		msg(state, sizeof(state), "%s/%s-state", b->tmp, b->modes[i].name);
		if (!(d = opendir(state)))
			continue;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			fprintf(stderr, BENCH_NAME ": %s left %s/%s behind\n", b->modes[i].name,
				state, e->d_name);
			n++;
		}
		closedir(d);
	}
	return n;
}

/* The VM template directory: --templates DIR (made absolute; libvz creates it on first
 * use and it is kept), else a fresh one in our temporary directory, so that no figure
 * depends on what an earlier run left in a cache. */
static int templates_setup(struct bench *b)
{
	char cwd[PATH_MAX];

	if (!b->o.templates) {
		msg(b->templates, sizeof(b->templates), "%s/templates", b->tmp);
		b->own_templates = true;
		return 0;
	}
	errno = 0;
	if (b->o.templates[0] == '/') {
		msg(b->templates, sizeof(b->templates), "%s", b->o.templates);
	} else if (!getcwd(cwd, sizeof(cwd)) ||
		   (size_t)snprintf(b->templates, sizeof(b->templates), "%s/%s", cwd,
				    b->o.templates) >= sizeof(b->templates)) {
		fprintf(stderr, BENCH_NAME ": --templates %s: %s\n", b->o.templates,
			strerror(errno ? errno : ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/* A fresh template directory goes, through libvz (it removes what it made), then the
 * directory itself. */
static void templates_teardown(struct bench *b)
{
	if (!b->own_templates)
		return;
	if (vz_vm_templates_drop(b->templates))
		fprintf(stderr, BENCH_NAME ": vz_vm_templates_drop %s: %s\n", b->templates,
			vz_error_last()->message);
	if (rmdir(b->templates) && errno != ENOENT)
		fprintf(stderr, BENCH_NAME ": rmdir %s: %s\n", b->templates, strerror(errno));
}

static void on_signal(int sig)
{
	bench_stop = sig;
}

static bool any_failure(struct bench *b)
{
	bool bad = false;

	for (size_t i = 0; i < b->nmodes; i++) {
		const struct mode *m = &b->modes[i];

		if (m->why[0])
			continue;
		for (size_t k = 0; k < b->nwl; k++)
			bad |= m->lat[k].failures > 0;
		for (size_t j = 0; j < m->nconc; j++)
			bad |= m->conc[j].failures > 0;
		bad |= b->o.memory && !m->mem.measured;
	}
	return bad;
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct sigaction sa = { .sa_handler = on_signal };
	int rc = 0;

	int fd;

	/* fds 0-2 taken, so that no descriptor we open becomes one a child's dup2 reuses */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		fcntl(fd, F_SETFD, 0);
	if (fd > 2)
		close(fd);
	if (parse_opts(argc, argv, &b) || pick_workloads(&b))
		return 2;
	save_command(&b, argc, argv);
	/* vz_backend_available() judges the kernel libvz would find by itself: make that the
	 * one given, so that the VM backend is not called unavailable for want of it. */
	if (b.o.kernel && setenv("VZ_KERNEL", b.o.kernel, 1)) {
		fprintf(stderr, BENCH_NAME ": setenv: %s\n", strerror(errno));
		return 1;
	}
	pthread_mutex_init(&b.lock, NULL);
	b.tty = isatty(STDERR_FILENO);
	b.t_begin = now_ns();
	if (!realpath(b.o.rootfs, b.rootfs)) {
		fprintf(stderr, BENCH_NAME ": rootfs %s: %s (build one with tools/mkrootfs.sh)\n",
			b.o.rootfs, strerror(errno));
		return 1;
	}
	msg(b.tmp, sizeof(b.tmp), "/tmp/vz-bench-XXXXXX");
	if (!mkdtemp(b.tmp)) {
		fprintf(stderr, BENCH_NAME ": mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (templates_setup(&b)) {
		rmdir(b.tmp);
		return 1;
	}
	b.host_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	b.cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b.host_ns < 0 || b.cwd_fd < 0) {
		fprintf(stderr, BENCH_NAME ": open %s: %s\n", b.host_ns < 0 ? "/proc/self/ns/mnt" :
			"the working directory", strerror(errno));
		rmdir(b.tmp);
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	modes_setup(&b);
	report_header(&b);
	run_latency(&b);
	if (b.o.memory)
		run_memory(&b);
	run_concurrency(&b);
	if (bench_stop)
		fprintf(stderr, BENCH_NAME ": stopped by signal %d; reporting what was measured\n",
			(int)bench_stop);
	report_table(&b);
	if (report_files(&b))
		rc = 1;
	if (any_failure(&b) || leftovers(&b))
		rc = 1;
	modes_teardown(&b);
	templates_teardown(&b);
	nftw(b.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (b.host_ns >= 0)
		close(b.host_ns);
	if (b.cwd_fd >= 0)
		close(b.cwd_fd);
	return rc ? rc : bench_stop ? 130 : 0;
}
