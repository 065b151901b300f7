/* SPDX-License-Identifier: MIT */
/*
 * vz-run-example ROOTFS CMD [ARGS...]
 *
 * Runs CMD in a container sandbox whose root file system is the directory ROOTFS
 * (never modified: writes go to a throw-away layer), with 256 MiB of memory and at
 * most 128 processes. stdout and stderr are the terminal's; stdin too when this program
 * has one. When CMD ends, its result goes to stderr and this program exits with CMD's
 * exit code (128 + n when CMD died of signal n), or 125 when libvz itself failed.
 *
 * Example: vz-run-example build/rootfs /bin/sh -c 'echo hello; uname -n'
 */
#define _XOPEN_SOURCE 700 /* realpath() */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vz/vz.h>

#define EXIT_LIBVZ 125 /* as `docker run`: the runner failed, not the program */
#define MEMORY_LIMIT (256ll * 1024 * 1024)
#define PIDS_LIMIT 128

/* Report the failing libvz call with the detail libvz recorded for this thread. */
static int fail(const char *call)
{
	const vz_error *e = vz_error_last();

	fprintf(stderr, "vz-run-example: %s: %s\n", call,
		e->message[0] ? e->message : vz_strerror(e->code));
	return EXIT_LIBVZ;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void print_result(const vz_result *r)
{
	fprintf(stderr, "vz-run-example: reason:      %s\n", vz_reason_name(r->reason));
	if (r->message[0])
		fprintf(stderr, "vz-run-example: message:     %s\n", r->message);
	fprintf(stderr, "vz-run-example: exit code:   %d\n", (int)r->exit_code);
	fprintf(stderr, "vz-run-example: signal:      %d\n", (int)r->signal);
	fprintf(stderr, "vz-run-example: wall time:   %.3f ms\n", ms(r->wall_ns));
	fprintf(stderr, "vz-run-example: cpu time:    %.3f ms (user %.3f, system %.3f)\n",
		ms(r->user_cpu_ns + r->system_cpu_ns), ms(r->user_cpu_ns), ms(r->system_cpu_ns));
	fprintf(stderr, "vz-run-example: peak memory: %.1f KiB\n",
		(double)r->peak_memory_bytes / 1024.0);
	for (uint32_t i = 0; i < r->phase_count && i < VZ_MAX_PHASES; i++)
		fprintf(stderr, "vz-run-example: phase %-10s %9.3f ms\n", r->phases[i].name,
			ms(r->phases[i].ns));
}

/* Build the configuration: rootfs, argv, stdio. */
static int configure(vz_config *cfg, const char *rootfs, int argc, char **argv)
{
	/* Inherit stdin only if this process has one (CI runs us with fd 0 closed). */
	vz_stdio_mode in = fcntl(0, F_GETFD) >= 0 ? VZ_STDIO_INHERIT : VZ_STDIO_NULL;

	if (vz_config_set_rootfs(cfg, rootfs) < 0)
		return fail("vz_config_set_rootfs");
	if (vz_config_set_argv(cfg, argc, (const char *const *)argv) < 0)
		return fail("vz_config_set_argv");
	if (vz_config_set_stdio(cfg, VZ_STDIN, in, -1) < 0 ||
	    vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_INHERIT, -1) < 0 ||
	    vz_config_set_stdio(cfg, VZ_STDERR, VZ_STDIO_INHERIT, -1) < 0)
		return fail("vz_config_set_stdio");
	return 0;
}

/* Create, limit, start and wait for the sandbox; fills @res. */
static int run(const vz_config *cfg, vz_result *res)
{
	vz_sandbox *sb = NULL;
	int rc;

	if (vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg) < 0)
		return fail("vz_sandbox_create");
	if (vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, MEMORY_LIMIT) < 0) {
		rc = fail("vz_sandbox_limit(memory)");
		goto out;
	}
	if (vz_sandbox_limit(sb, VZ_LIMIT_PIDS, PIDS_LIMIT) < 0) {
		rc = fail("vz_sandbox_limit(pids)");
		goto out;
	}
	if (vz_sandbox_start(sb) < 0) {
		rc = fail("vz_sandbox_start");
		goto out;
	}
	rc = vz_sandbox_wait(sb, -1, res) < 0 ? fail("vz_sandbox_wait") : 0;
out:
	vz_sandbox_free(sb);
	return rc;
}

int main(int argc, char **argv)
{
	vz_result res = { .size = sizeof(res) };
	vz_config *cfg = NULL;
	char *rootfs;
	const char *why = NULL;
	int rc;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s ROOTFS CMD [ARGS...]\n"
			"Runs CMD in a container sandbox with ROOTFS as its root file system.\n",
			argc > 0 ? argv[0] : "vz-run-example");
		return 2;
	}
	if (vz_backend_available(VZ_BACKEND_CONTAINER, &why) < 0) {
		fprintf(stderr, "vz-run-example: the container backend is not available here: %s\n",
			why ? why : vz_error_last()->message);
		return EXIT_LIBVZ;
	}
	/* libvz wants an absolute rootfs path; accept a relative one on the command line. */
	rootfs = realpath(argv[1], NULL);
	if (!rootfs) {
		fprintf(stderr, "vz-run-example: rootfs %s: %s\n", argv[1], strerror(errno));
		return EXIT_LIBVZ;
	}
	if (vz_config_new(&cfg) < 0) {
		rc = fail("vz_config_new");
		goto out;
	}
	rc = configure(cfg, rootfs, argc - 2, argv + 2);
	if (!rc)
		rc = run(cfg, &res);
	if (!rc) {
		print_result(&res);
		/* exit_code is 128 + n for a signal, as a shell reports it. */
		rc = res.exit_code;
		if (res.reason != VZ_REASON_EXITED && rc == 0)
			rc = EXIT_LIBVZ;
	}
out:
	vz_config_free(cfg);
	free(rootfs);
	return rc;
}
