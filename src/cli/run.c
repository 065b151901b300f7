/* SPDX-License-Identifier: MIT */
/* `vz run [OPTIONS] [--] CMD [ARGS...]`: one sandbox, its exit status mirrored.
 *
 * Each flag goes straight to the matching libvz setter while parsing, so an error names
 * the flag and carries libvz's own message; limits are kept until the sandbox exists.
 * `vz template make` (template.c) parses the same flags with vz_cli_opts_parse() and
 * creates its sandbox with vz_cli_create(). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_BACKEND = 'b',
	OPT_CPUS = 'c',
	OPT_ENV = 'e',
	OPT_HELP = 'h',
	OPT_MEMORY = 'm',
	OPT_PIDS = 'p',
	OPT_QUIET = 'q',
	OPT_ROOTFS = 'r',
	OPT_TIMEOUT = 't',
	OPT_BIND = 'v',
	OPT_CWD = 'w',
	OPT_HOSTNAME = 256,
	OPT_KERNEL,
	OPT_KERNEL_CMDLINE,
	OPT_KERNEL_MODULES,
	OPT_JSON,
	OPT_NETWORK,
	OPT_OPEN_FILES,
	OPT_READ_ONLY,
	OPT_USER,
	OPT_VM_START,
	OPT_TEMPLATES,
};

static const struct option long_opts[] = {
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "open-files", required_argument, NULL, OPT_OPEN_FILES },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "cwd", required_argument, NULL, OPT_CWD },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "user", required_argument, NULL, OPT_USER },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "kernel-cmdline", required_argument, NULL, OPT_KERNEL_CMDLINE },
	{ "kernel-modules", required_argument, NULL, OPT_KERNEL_MODULES },
	{ "vm-start", required_argument, NULL, OPT_VM_START },
	{ "templates", required_argument, NULL, OPT_TEMPLATES },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* The options of `vz run`, also those of `vz template make`. */
void vz_cli_run_options_usage(FILE *f, vz_backend backend)
{
	fprintf(f, "  -b, --backend container|vm   isolation (default: %s)\n",
		vz_backend_name(backend));
	fputs("  -r, --rootfs DIR             root file system, never modified (default:\n"
	      "                               $VZ_ROOTFS, then the installed busybox rootfs)\n"
	      "  -m, --memory SIZE            memory limit, e.g. 256M, 1G (K/M/G/T = 1024^n)\n"
	      "  -c, --cpus N                 CPU limit in CPUs, e.g. 0.5 or 2\n"
	      "  -p, --pids N                 at most N processes and threads\n"
	      "  -t, --timeout DURATION       wall-time limit, e.g. 10s, 500ms, 2m (plain: s)\n"
	      "      --open-files N           open files per process (RLIMIT_NOFILE)\n"
	      "  -e, --env NAME=VALUE         set a variable (NAME alone: copy it from here);\n"
	      "                               repeatable; the default is only PATH\n"
	      "  -w, --cwd DIR                working directory inside the sandbox\n"
	      "      --hostname NAME          host name (default: vz)\n"
	      "      --user UID[:GID]         ids inside the sandbox (default: 0:0)\n"
	      "  -v, --bind SRC:DST[:ro|rw]   bind a host path (both backends); repeatable\n"
	      "      --network loopback|none|host   network (default: loopback)\n"
	      "      --read-only              read-only root file system\n"
	      "      --kernel PATH            guest kernel (vm; default: $VZ_KERNEL, then the\n"
	      "                               installed one)\n"
	      "      --kernel-cmdline ARGS    extra guest kernel command line (vm)\n"
	      "      --kernel-modules DIR     the kernel's /lib/modules/RELEASE, for a kernel\n"
	      "                               whose virtio drivers are modules (vm; default:\n"
	      "                               $VZ_KERNEL_MODULES, or found from vmlinuz-RELEASE)\n"
	      "      --vm-start restore|cold  restore from a template, made by the first start\n"
	      "                               of its kind (default), or always boot cold (vm)\n"
	      "      --templates DIR          the template directory (vm; default:\n"
	      "                               $VZ_TEMPLATE_DIR, then /var/cache/libvz/templates\n"
	      "                               for root, else ~/.cache/libvz/templates)\n"
	      "      --json                   print the result as JSON on stdout at the end\n"
	      "  -q, --quiet                  no note on stderr when the sandbox was killed\n"
	      "  -h, --help                   show this help\n",
	      f);
}

static void usage(FILE *f)
{
	fputs("Usage: vz run [OPTIONS] [--] CMD [ARGS...]\n"
	      "\n"
	      "Run CMD in a sandbox and exit with its status (128+n if it died of signal n;\n"
	      "125 if vz or libvz failed). CMD is looked up along PATH inside the rootfs.\n"
	      "\n"
	      "Options:\n",
	      f);
	vz_cli_run_options_usage(f, VZ_BACKEND_CONTAINER);
	fputs("\n"
	      "Example: vz run --memory 256M --timeout 10s -- sh -c 'echo hello; uname -n'\n",
	      f);
}

static int bad_value(const struct vz_cli_opts *o, const char *flag, const char *value,
		     const char *why)
{
	return vz_cli_fail("%s: %s %s: %s", o->cmd, flag, value, why);
}

static int setter_failed(const struct vz_cli_opts *o, const char *flag, const char *value)
{
	return vz_cli_fail_vz("%s: %s %s", o->cmd, flag, value);
}

/* --env NAME=VALUE, or NAME to copy this process's value (unset here: left unset). */
static int opt_env(struct vz_cli_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *name;
	int rc;

	if (!eq) {
		const char *v = getenv(arg);
		return (v && vz_config_setenv(o->cfg, arg, v) < 0) ? setter_failed(o, "--env", arg)
								   : 0;
	}
	name = strndup(arg, (size_t)(eq - arg));
	if (!name)
		return vz_cli_fail("out of memory");
	rc = vz_config_setenv(o->cfg, name, eq + 1);
	free(name);
	return rc < 0 ? setter_failed(o, "--env", arg) : 0;
}

/* --bind SRC:DST[:ro|rw]; a relative SRC is taken from the current directory. */
static int opt_bind(struct vz_cli_opts *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char *src = NULL, *dst = NULL, *abs = NULL;
	unsigned flags = VZ_BIND_RW;
	size_t len;
	int rc = VZ_CLI_EXIT_FAIL;

	if (!colon || colon == arg || !colon[1])
		return bad_value(o, "--bind", arg, "expected SRC:DST[:ro|rw]");
	dst = strdup(colon + 1);
	src = strndup(arg, (size_t)(colon - arg));
	if (!src || !dst)
		goto oom;
	len = strlen(dst);
	if (len > 3 && (!strcmp(dst + len - 3, ":ro") || !strcmp(dst + len - 3, ":rw"))) {
		if (dst[len - 1] == 'o')
			flags = VZ_BIND_RO;
		dst[len - 3] = '\0';
	}
	if (strchr(dst, ':')) {
		rc = bad_value(o, "--bind", arg,
			       "expected SRC:DST[:ro|rw] (the option is ro or rw)");
		goto out;
	}
	if (!(abs = vz_cli_abspath(src)))
		goto oom;
	rc = vz_config_add_bind(o->cfg, abs, dst, flags) < 0 ? setter_failed(o, "--bind", arg) : 0;
	goto out;
oom:
	rc = vz_cli_fail("out of memory");
out:
	free(src);
	free(dst);
	free(abs);
	return rc;
}

/* A numeric uid or gid; (uint32_t)-1 is not an id. */
static int parse_id(const char *s, char **end, uint32_t *out)
{
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || v >= UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* --user UID[:GID]; the gid defaults to the uid. */
static int opt_user(struct vz_cli_opts *o, const char *arg)
{
	uint32_t uid, gid;
	char *end;

	if (parse_id(arg, &end, &uid) < 0 ||
	    (gid = uid, *end == ':' && parse_id(end + 1, &end, &gid) < 0) || *end)
		return bad_value(o, "--user", arg, "expected UID or UID:GID (numbers)");
	if (vz_config_set_user(o->cfg, uid, gid) < 0)
		return setter_failed(o, "--user", arg);
	return 0;
}

static int opt_network(struct vz_cli_opts *o, const char *arg)
{
	vz_network mode;

	if (!strcmp(arg, "loopback"))
		mode = VZ_NET_LOOPBACK;
	else if (!strcmp(arg, "none"))
		mode = VZ_NET_NONE;
	else if (!strcmp(arg, "host"))
		mode = VZ_NET_HOST;
	else
		return bad_value(o, "--network", arg,
				 "unknown network (use loopback, none or host)");
	return vz_config_set_network(o->cfg, mode) < 0 ? setter_failed(o, "--network", arg) : 0;
}

/* A path flag: relative paths are taken from the current directory. */
static int opt_path(struct vz_cli_opts *o, const char *flag, const char *arg,
		    int (*set)(vz_config *, const char *))
{
	char *abs = vz_cli_abspath(arg);
	int rc;

	if (!abs)
		return vz_cli_fail("%s: %s %s: %s", o->cmd, flag, arg, strerror(errno));
	rc = set(o->cfg, abs) < 0 ? setter_failed(o, flag, arg) : 0;
	free(abs);
	return rc;
}

/* --templates DIR: as a path flag, and kept to say which directory was used. */
static int opt_templates(struct vz_cli_opts *o, const char *arg)
{
	char *abs = vz_cli_abspath(arg);

	if (!abs)
		return vz_cli_fail("%s: --templates %s: %s", o->cmd, arg, strerror(errno));
	if (vz_config_set_vm_templates(o->cfg, abs) < 0) {
		free(abs);
		return setter_failed(o, "--templates", arg);
	}
	free(o->templates);
	o->templates = abs;
	return 0;
}

/* --vm-start restore|cold. A container refuses cold at create, as libvz does. */
static int opt_vm_start(struct vz_cli_opts *o, const char *arg)
{
	vz_vm_start mode;

	if (!strcmp(arg, "restore"))
		mode = VZ_VM_START_RESTORE;
	else if (!strcmp(arg, "cold"))
		mode = VZ_VM_START_COLD;
	else
		return bad_value(o, "--vm-start", arg, "unknown VM start (use restore or cold)");
	return vz_config_set_vm_start(o->cfg, mode) < 0 ? setter_failed(o, "--vm-start", arg) : 0;
}

static int opt_limit(struct vz_cli_opts *o, vz_limit kind, const char *flag, const char *arg,
		     int (*parse)(const char *, int64_t *, const char **))
{
	const char *why = NULL;

	if (parse(arg, &o->limits[kind], &why) < 0)
		return bad_value(o, flag, arg, why);
	o->limit_flag[kind] = flag;
	o->limit_arg[kind] = arg;
	return 0;
}

/* Apply one parsed option. Returns 0, or the exit status to leave with. */
static int apply(struct vz_cli_opts *o, int c, const char *arg)
{
	const char *why = NULL;

	switch (c) {
	case OPT_BACKEND:
		return vz_cli_parse_backend(arg, &o->backend, &why)
			       ? bad_value(o, "--backend", arg, why)
			       : 0;
	case OPT_ROOTFS:
		return opt_path(o, "--rootfs", arg, vz_config_set_rootfs);
	case OPT_KERNEL:
		return opt_path(o, "--kernel", arg, vz_config_set_kernel);
	case OPT_KERNEL_MODULES:
		return opt_path(o, "--kernel-modules", arg, vz_config_set_kernel_modules);
	case OPT_TEMPLATES:
		return opt_templates(o, arg);
	case OPT_VM_START:
		return opt_vm_start(o, arg);
	case OPT_MEMORY:
		return opt_limit(o, VZ_LIMIT_MEMORY, "--memory", arg, vz_cli_parse_size);
	case OPT_CPUS:
		return opt_limit(o, VZ_LIMIT_CPU, "--cpus", arg, vz_cli_parse_cpus);
	case OPT_PIDS:
		return opt_limit(o, VZ_LIMIT_PIDS, "--pids", arg, vz_cli_parse_count);
	case OPT_TIMEOUT:
		return opt_limit(o, VZ_LIMIT_WALL_TIME, "--timeout", arg, vz_cli_parse_duration_ms);
	case OPT_OPEN_FILES:
		return opt_limit(o, VZ_LIMIT_OPEN_FILES, "--open-files", arg, vz_cli_parse_count);
	case OPT_ENV:
		return opt_env(o, arg);
	case OPT_BIND:
		return opt_bind(o, arg);
	case OPT_USER:
		return opt_user(o, arg);
	case OPT_NETWORK:
		return opt_network(o, arg);
	case OPT_CWD:
		return vz_config_set_cwd(o->cfg, arg) < 0 ? setter_failed(o, "--cwd", arg) : 0;
	case OPT_HOSTNAME:
		return vz_config_set_hostname(o->cfg, arg) < 0 ? setter_failed(o, "--hostname", arg)
							       : 0;
	case OPT_KERNEL_CMDLINE:
		return vz_config_set_kernel_cmdline(o->cfg, arg) < 0
			       ? setter_failed(o, "--kernel-cmdline", arg)
			       : 0;
	case OPT_READ_ONLY:
		return vz_config_set_rootfs_mode(o->cfg, VZ_ROOTFS_READONLY, NULL) < 0
			       ? setter_failed(o, "--read-only", "")
			       : 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	default:
		return vz_cli_fail("%s: internal error: option %d", o->cmd, c);
	}
}

/* Streams of vz itself that are closed (as under some supervisors) become /dev/null in
 * the sandbox rather than whatever file the sandbox would otherwise get as fd 0-2. */
static int set_stdio(const struct vz_cli_opts *o)
{
	for (int i = 0; i < 3; i++) {
		vz_stdio_mode m = fcntl(i, F_GETFD) >= 0 ? VZ_STDIO_INHERIT : VZ_STDIO_NULL;
		if (vz_config_set_stdio(o->cfg, (vz_stream)i, m, -1) < 0)
			return vz_cli_fail_vz("%s: stdio %d", o->cmd, i);
	}
	return 0;
}

int vz_cli_opts_init(struct vz_cli_opts *o, const char *cmd, vz_backend backend)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->backend = backend;
	if (vz_config_new(&o->cfg) < 0)
		return vz_cli_fail_vz("%s: vz_config_new", cmd);
	return 0;
}

void vz_cli_opts_free(struct vz_cli_opts *o)
{
	vz_config_free(o->cfg);
	free(o->templates);
	o->cfg = NULL;
	o->templates = NULL;
}

int vz_cli_opts_parse(struct vz_cli_opts *o, int argc, char **argv, void (*help)(FILE *))
{
	int c, rc;

	/* '+': stop at CMD, so its own flags are not taken for ours; ':': report a missing
	 * value ourselves. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:b:c:e:hm:p:qr:t:v:w:", long_opts, NULL)) != -1) {
		if (c == OPT_HELP) {
			help(stdout);
			return -1;
		}
		if (c == '?') {
			if (optopt)
				return vz_cli_fail("%s: unknown option -%c (see vz %s --help)",
						   o->cmd, optopt, o->cmd);
			return vz_cli_fail("%s: unknown option %s (see vz %s --help)", o->cmd,
					   argv[optind - 1], o->cmd);
		}
		if (c == ':')
			return vz_cli_fail("%s: option %s needs a value (see vz %s --help)", o->cmd,
					   argv[optind - 1], o->cmd);
		if ((rc = apply(o, c, optarg)))
			return rc;
	}
	if (optind >= argc)
		return vz_cli_fail("%s: no command given (usage: vz %s [OPTIONS] -- CMD [ARGS...])",
				   o->cmd, o->cmd);
	if ((rc = set_stdio(o)))
		return rc;
	if (vz_config_set_argv(o->cfg, argc - optind, (const char *const *)argv + optind) < 0)
		return setter_failed(o, "CMD", argv[optind]);
	return 0;
}

/* Signals that vz forwards to the sandboxed program, as a shell's child would get them. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };

struct forwarder {
	vz_sandbox *sb;
	sigset_t set;
	atomic_bool started; /* vz_sandbox_start() returned */
	atomic_bool done;
	pthread_t thread;
	bool running;
};

/* Deliver @sig. One that arrives while start is under way (a VM boots for seconds)
 * may find nothing to signal yet: retry until start has returned. */
static void forward(struct forwarder *fw, int sig)
{
	const struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };

	for (;;) {
		bool was_started = atomic_load(&fw->started);

		if (vz_sandbox_kill(fw->sb, sig) == 0 || was_started || atomic_load(&fw->done))
			return;
		nanosleep(&pause, NULL);
	}
}

/* vz_sandbox_kill() may be called from any thread while another waits. The main thread
 * ends this one with SIGUSR1 sent from our own pid after setting done (si_code cannot
 * tell tgkill from kill on every kernel; the sender's pid can). */
static void *forward_signals(void *arg)
{
	struct forwarder *fw = arg;
	siginfo_t si;

	for (;;) {
		if (sigwaitinfo(&fw->set, &si) < 0)
			continue;
		if (atomic_load(&fw->done) && si.si_pid == getpid())
			return NULL;
		forward(fw, si.si_signo);
	}
}

/* Before start, so that no signal falls between the program's start and the handover:
 * block the forwarded signals in vz and let one thread take them. The sandbox's own
 * processes set their signal masks themselves. */
static void forwarder_start(struct forwarder *fw, vz_sandbox *sb)
{
	fw->sb = sb;
	atomic_init(&fw->started, false);
	atomic_init(&fw->done, false);
	sigemptyset(&fw->set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&fw->set, forwarded[i]);
	pthread_sigmask(SIG_BLOCK, &fw->set, NULL);
	fw->running = pthread_create(&fw->thread, NULL, forward_signals, fw) == 0;
}

static void forwarder_stop(struct forwarder *fw)
{
	if (!fw->running)
		return;
	atomic_store(&fw->done, true);
	pthread_kill(fw->thread, SIGUSR1);
	pthread_join(fw->thread, NULL);
	fw->running = false;
}

/* A note on stderr when the sandbox did not simply end by itself. */
static void note_result(const struct vz_cli_opts *o, const vz_result *r)
{
	if (o->quiet || o->json)
		return;
	switch ((vz_reason)r->reason) {
	case VZ_REASON_TIMED_OUT:
		fprintf(stderr,
			"vz: the sandbox reached its wall-time limit (--timeout %s) and was "
			"killed\n",
			o->limit_arg[VZ_LIMIT_WALL_TIME]);
		break;
	case VZ_REASON_OUT_OF_MEMORY:
		fprintf(stderr, "vz: the sandbox ran out of memory and was killed\n");
		break;
	case VZ_REASON_CRASHED:
		fprintf(stderr, "vz: the sandbox crashed%s%s\n", r->message[0] ? ": " : "",
			r->message);
		break;
	case VZ_REASON_NONE:
	case VZ_REASON_EXITED:
	case VZ_REASON_SIGNALED:
	case VZ_REASON_KILLED:
	case VZ_REASON_SETUP_FAILED:
		break;
	}
}

int vz_cli_call_failed(const struct vz_cli_opts *o, const char *call, const char *what,
		       const vz_result *res)
{
	const vz_error *e = vz_error_last();
	struct vz_cli_json_error je = { call, e->code, e->os_errno, e->message };

	vz_cli_fail("%s: %s%s", o->cmd, what ? what : "",
		    e->message[0] ? e->message : vz_strerror(e->code));
	if (o->json)
		vz_cli_json_print(stdout, o->backend, res, &je);
	return VZ_CLI_EXIT_FAIL;
}

static int apply_limits(const struct vz_cli_opts *o, vz_sandbox *sb)
{
	char what[64];

	for (int k = 1; k < VZ_CLI_NLIMITS; k++) {
		if (!o->limits[k] || vz_sandbox_limit(sb, (vz_limit)k, o->limits[k]) == 0)
			continue;
		snprintf(what, sizeof(what), "%s: ", o->limit_flag[k]);
		return vz_cli_call_failed(o, "vz_sandbox_limit", what, NULL);
	}
	return 0;
}

int vz_cli_create(const struct vz_cli_opts *o, vz_sandbox **sb)
{
	int rc;

	*sb = NULL;
	if (vz_sandbox_create(sb, o->backend, o->cfg) < 0)
		return vz_cli_call_failed(o, "vz_sandbox_create", NULL, NULL);
	if ((rc = apply_limits(o, *sb))) {
		vz_sandbox_free(*sb);
		*sb = NULL;
	}
	return rc;
}

/* Create, limit, start, wait. Returns the exit status of `vz run`. */
static int run_sandbox(struct vz_cli_opts *o)
{
	vz_result res = { .size = sizeof(res) };
	struct forwarder fw = { .running = false };
	vz_sandbox *sb = NULL;
	int rc;

	if ((rc = vz_cli_create(o, &sb)))
		return rc;
	forwarder_start(&fw, sb);
	if (vz_sandbox_start(sb) < 0) {
		/* The failed sandbox still has a result: reason "setup failed", message. */
		int got;

		forwarder_stop(&fw);
		got = vz_sandbox_wait(sb, 0, &res) == 0;
		rc = vz_cli_call_failed(o, "vz_sandbox_start", NULL, got ? &res : NULL);
		goto out;
	}
	atomic_store(&fw.started, true);
	rc = vz_sandbox_wait(sb, -1, &res);
	forwarder_stop(&fw);
	if (rc < 0) {
		rc = vz_cli_call_failed(o, "vz_sandbox_wait", NULL, NULL);
		goto out;
	}
	note_result(o, &res);
	if (o->json)
		vz_cli_json_print(stdout, o->backend, &res, NULL);
	/* exit_code is already the shell's view: 0-255, or 128+n for signal n. */
	rc = res.reason == VZ_REASON_SETUP_FAILED ? VZ_CLI_EXIT_FAIL : res.exit_code;
out:
	vz_sandbox_free(sb);
	return rc;
}

int vz_cli_run(int argc, char **argv)
{
	struct vz_cli_opts o;
	int rc;

	if ((rc = vz_cli_opts_init(&o, "run", VZ_BACKEND_CONTAINER)))
		return rc;
	rc = vz_cli_opts_parse(&o, argc, argv, usage);
	if (rc < 0) /* --help */
		rc = 0;
	else if (rc == 0)
		rc = run_sandbox(&o);
	vz_cli_opts_free(&o);
	return rc;
}
