/* SPDX-License-Identifier: MIT */
/*
 * vz-bench: the benchmark harness. Shared declarations of its parts:
 *   util.c    clock, samples and percentiles, JSON text, spawning, process memory
 *   modes.c   the modes: libvz container and VM, and the peers (fork+exec, bwrap, crun,
 *             runc, QEMU microvm, kvmtool), each a begin/end/stop triple
 *   run.c     the measurements: interleaved sequential runs, memory, concurrency
 *   report.c  terminal table, JSON, CSV; host description
 *   main.c    options and the order of work
 * The method is explained in docs/benchmarks.md.
 */
#ifndef VZ_BENCH_H
#define VZ_BENCH_H

#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <vz/vz.h>

#define BENCH_NAME "vz-bench"

enum {
	BENCH_MAX_MODES = 16,
	BENCH_MAX_WORKLOADS = 5,
	BENCH_MAX_LEVELS = 8,
	BENCH_MAX_PHASES = VZ_MAX_PHASES + 2,
	BENCH_ERR_LEN = 512,
	BENCH_ID_LEN = 64,
	BENCH_MAX_CONCURRENCY = 1000,
};

/* What a mode is compared with: libvz's container with container peers, its VM with VM
 * peers; the fork+exec floor counts as a container-class peer. */
enum mode_class { CLASS_CONTAINER, CLASS_VM };

/* The samples of one measured quantity, in the order they were taken (nanoseconds). */
struct series {
	uint64_t *ns;
	size_t n, cap;
};

/* Nearest-rank percentiles (p50 is the median of an even count's two middles). */
struct summary {
	size_t n;
	double min, p50, p90, p99, max, mean; /* milliseconds */
};

/* The data workloads move BENCH_DATA_BYTES of zeros through the sandbox, which the harness
 * checks arrived whole. They take libvz's API (a stdout pipe, a bind mount), so they run
 * in libvz modes only; for peers they are not applicable. */
enum wl_data {
	DATA_NONE,
	DATA_STDOUT, /* the workload writes them to stdout, a pipe the harness reads */
	DATA_BIND,   /* the workload writes them to BENCH_BIND_PATH/f, a read-write bind */
};
#define BENCH_DATA_MIB 64
#define BENCH_DATA_BYTES ((uint64_t)BENCH_DATA_MIB << 20)
#define BENCH_BIND_PATH "/vz-bench-bind"

/* One program every mode runs: argv for sandboxes, the same as a shell line for guests
 * that run it as their init's command (QEMU, kvmtool). */
struct workload {
	const char *name;
	const char *about;
	const char *argv[8];
	int argc;
	const char *script; /* argv[2] when argv is /bin/sh -c SCRIPT, else argv joined */
	enum wl_data data;  /* not DATA_NONE: a data workload (libvz modes only) */
};

/* One life cycle of a sandbox in flight. */
struct run {
	uint64_t t0, t_end;	    /* just before the first call; just after the last */
	pid_t pid;		    /* spawned peer */
	int pidfd;		    /* its pidfd, or -1 */
	int outfd;		    /* memfd catching the peer's stdout+stderr (guests: serial) */
	int readyfd;		    /* memory runs, stdout64m: read end of the sandbox's stdout */
	bool bind;		    /* bind64m: this run's bind directory exists */
	vz_sandbox *sb;		    /* libvz */
	vz_result res;		    /* libvz's result (phases) */
	uint64_t t_created;	    /* libvz: after create+limit */
	uint64_t t_waited;	    /* libvz: after wait, before free */
	int64_t timeout_ms;	    /* how long it may take (libvz: its wall-time limit) */
	unsigned long seq;	    /* unique per run: OCI container ids */
	char id[BENCH_ID_LEN];	    /* OCI container id */
	char err[BENCH_ERR_LEN];    /* why the run failed */
};

struct bench;
struct mode;

/* begin starts one sandbox (sets t0); end waits for it until run->timeout_ms has passed
 * and checks it did what it should (sets t_end, frees everything); both return 0 or -1
 * with run->err. stop ends a sandbox that is still running (memory runs, time-outs). */
struct mode_ops {
	/* Optional, untimed, once per mode and workload before its first run (in the main
	 * thread, never during a concurrency round): a restored libvz VM mode makes the
	 * template its sandboxes start from. Its failure is noted, not fatal: the runs then
	 * boot cold, which the cold-boot count shows. */
	void (*warm)(struct bench *b, struct mode *m, const struct workload *w);
	/* Optional, untimed, before begin (and, in a concurrency round, before the
	 * release): libvz-prepared creates and prepares its sandbox here. */
	int (*prep)(struct bench *b, struct mode *m, const struct workload *w, struct run *r);
	int (*begin)(struct bench *b, struct mode *m, const struct workload *w, struct run *r);
	int (*end)(struct bench *b, struct mode *m, const struct workload *w, struct run *r);
	void (*stop)(struct bench *b, struct mode *m, struct run *r);
	pid_t (*root)(struct run *r); /* the host process tree a running sandbox is */
};

/* Results of one mode for one workload. */
struct lat {
	struct series total;			/* create -> gone, per measured run */
	struct series phase[BENCH_MAX_PHASES];	/* libvz: by phase name */
	char phase_name[BENCH_MAX_PHASES][24];
	size_t nphase;
	size_t failures, warmup_failures;
	size_t cold_boots; /* restored modes: measured runs without a "restore" phase */
	char first_error[BENCH_ERR_LEN];
};

/* Results of one mode at one concurrency level. */
struct conc {
	size_t level, rounds, sandboxes, failures;
	size_t cold_boots;	/* restored modes: successful sandboxes that booted cold */
	struct series latency;	/* per sandbox: from the common release to its end */
	struct series makespan; /* per round: release -> the last one's end */
	char first_error[BENCH_ERR_LEN];
};

/* Memory of running sandboxes. tree_memory() fills it for one sandbox; the memory run
 * then holds the mean over the `sandboxes` that ran at once (processes: their sum). */
struct memory {
	bool measured;
	char error[BENCH_ERR_LEN];
	size_t processes;
	size_t sandboxes;   /* running at once when measured */
	size_t cold_boots;  /* restored modes: of those, how many booted cold */
	uint64_t pss_kib, rss_kib;
	uint64_t pss_total_kib; /* PSS of all of them together */
	int64_t cgroup_kib; /* -1: the sandbox has no memory cgroup of its own */
	uint64_t guest_ram_rss_kib; /* libvz VM: resident guest RAM within rss */
	uint64_t guest_ram_pss_kib; /* libvz VM: its PSS (template pages split) */
	char note[BENCH_ERR_LEN];
};

/* A restored mode's template for one workload's configuration (or the memory run's). */
struct tmpl {
	bool tried, made;
	double ms;		/* vz_sandbox_make_template, not part of any sample */
	char error[BENCH_ERR_LEN];
};

struct mode {
	const char *name;
	enum mode_class cls;
	bool libvz;
	bool prepared; /* libvz-prepared: vz_sandbox_prepare() before the timed start */
	bool restore;  /* libvz VM mode that starts from a template (made untimed ahead) */
	bool cold;     /* libvz VM mode with VZ_VM_START_COLD: a full boot every start */
	char about[1024];	     /* the isolation it gets, one line */
	char why[BENCH_ERR_LEN];     /* non-empty: skipped, and why */
	const char *rootfs;	     /* libvz: the rootfs its sandboxes get */
	char version[128];
	struct mode_ops ops;
	char path[PATH_MAX];	     /* the program a peer runs */
	vz_backend backend;	     /* libvz modes */
	/* libvz: per workload, then the memory run's, then /bin/true for the concurrency
	 * rounds if it is not a selected workload (modes.c, slot_wl) */
	vz_config *cfg[BENCH_MAX_WORKLOADS + 2];
	struct tmpl tmpl[BENCH_MAX_WORKLOADS + 2]; /* restored modes: the same slots */
	struct lat lat[BENCH_MAX_WORKLOADS];
	struct conc conc[BENCH_MAX_LEVELS];
	size_t nconc;
	struct memory mem;
	/* OCI runtimes (crun, runc) */
	char bundle[PATH_MAX];
	int ns_fd;		     /* mount namespace to run the runtime in, or -1 */
	/* guests (QEMU, kvmtool) */
	char accel[16];
	char kernel[PATH_MAX];
	char *cmd_base;		     /* kernel command line before the workload */
};

struct opts {
	size_t runs, warmup, vm_runs, vm_warmup, rounds, vm_rounds;
	size_t mem_sandboxes; /* the memory run: sandboxes of a mode running at once */
	size_t levels[BENCH_MAX_LEVELS], nlevels;
	size_t vm_levels[BENCH_MAX_LEVELS], vm_nlevels;
	const char *rootfs, *kernel, *out, *kvmtool, *kvmtool_kernel, *only;
	const char *workloads; /* comma list */
	const char *alt_name;  /* --alt-rootfs NAME=DIR: the mode libvz-vm-NAME */
	const char *templates; /* --templates DIR: reuse it (default: a fresh one) */
	unsigned vm_ram_mib, timeout_s;
	bool peers, vm, container, memory;
};

struct bench {
	struct opts o;
	char rootfs[PATH_MAX];
	char alt_rootfs[PATH_MAX]; /* --alt-rootfs: DIR, resolved */
	char alt_mode[BENCH_ID_LEN]; /* its mode's name, libvz-vm-NAME */
	char kernel[PATH_MAX];	/* the guest kernel libvz found (for the peers too) */
	char tmp[PATH_MAX];	/* our temporary directory (bundles, initramfs) */
	char initramfs[PATH_MAX];
	char templates[PATH_MAX]; /* the VM template directory of restored modes */
	bool own_templates;	/* made for this run (not --templates): dropped at the end */
	char command[1024];	/* how we were invoked */
	char host_kvm[256];	/* what vz_backend_available(VM) says */
	bool pvm;		/* the host's KVM is kvm_pvm */
	const struct workload *wl[BENCH_MAX_WORKLOADS];
	size_t nwl;
	struct mode modes[BENCH_MAX_MODES];
	size_t nmodes;
	pthread_mutex_t lock;	/* seq */
	unsigned long seq;
	int host_ns, cwd_fd;
	bool tty;		/* progress redraws one line */
	uint64_t t_begin, last_progress;
};

extern volatile sig_atomic_t bench_stop;
extern const struct workload bench_workloads[];
extern const size_t bench_nworkloads;
extern const struct workload bench_ready_workload;

/* util.c */
uint64_t now_ns(void);
double ns_ms(uint64_t ns);
int msg(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *xrealloc(void *p, size_t size);
void series_add(struct series *s, uint64_t ns);
void series_free(struct series *s);
struct summary summarize(const struct series *s);
void json_str(FILE *f, const char *s);
bool find_program(const char *name, char *out, size_t len);
int read_text(const char *path, char **out);
int first_line(char *const *argv, char *out, size_t len);
unsigned long next_seq(struct bench *b);

/* A spawned program: stdin /dev/null, stdout and stderr to out_fd and err_fd (-1: /dev/null
 * and out_fd), optionally in another mount namespace (ns_fd >= 0). */
struct spawn {
	const char *path;
	char *const *argv;
	int out_fd, err_fd;
	int ns_fd;
};
int spawn_start(const struct spawn *sp, pid_t *pid, int *pidfd, char *err, size_t len);
int spawn_wait(pid_t pid, int pidfd, int64_t timeout_ms, int *status);
void kill_reap(pid_t pid);
int run_cmd(const struct spawn *sp, int64_t timeout_ms, char *err, size_t len);
void describe_status(int status, const char *who, char *err, size_t len);
void append_output(int fd, char *err, size_t len);
int tree_memory(pid_t root, struct memory *mem, uint64_t ram_bytes);

/* modes.c */
bool wl_applies(const struct mode *m, const struct workload *w);
bool all_zero(const void *buf, size_t n);
void modes_setup(struct bench *b);
void modes_teardown(struct bench *b);
bool booted_cold(const struct mode *m, const vz_result *res);

/* run.c */
void run_latency(struct bench *b);
void run_memory(struct bench *b);
void run_concurrency(struct bench *b);
void progress(struct bench *b, bool force, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* report.c */
/* Sandboxes per second of a concurrency level: at the p50, slowest and fastest round. */
struct rates {
	bool any;
	double p50, min, max;
};
struct rates conc_rates(const struct conc *c);
void report_header(struct bench *b);
void report_table(struct bench *b);
int report_files(struct bench *b);
int name_width(const struct bench *b);

#endif
