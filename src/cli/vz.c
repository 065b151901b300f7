/* SPDX-License-Identifier: MIT */
/* `vz`: the command line of libvz. `vz run` runs one sandbox, `vz template` makes and
 * drops VM templates, `vz check` says what this host can run. A thin layer over the
 * public API: what a sandbox is, and every check of its configuration, belongs to
 * libvz. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("Usage: vz COMMAND [OPTIONS]\n"
	      "\n"
	      "Run programs in a sandbox: a Linux container or a KVM virtual machine (libvz).\n"
	      "\n"
	      "Commands:\n"
	      "  run [OPTIONS] [--] CMD [ARGS...]   run CMD in a sandbox, exit with its status\n"
	      "  template make [OPTIONS] [--] CMD   make the VM template that vz run OPTIONS\n"
	      "                                     CMD would start from; print its directory\n"
	      "  template drop [DIR]                remove every VM template in DIR\n"
	      "  check                              what this host can run, and why not\n"
	      "  help [COMMAND]                     show help\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help       show this help\n"
	      "  -V, --version    show the versions of vz and of the libvz it loaded\n"
	      "\n"
	      "`vz COMMAND --help` describes a command. Exit status of vz itself on failure: 125.\n",
	      f);
}

static void vfail(const char *fmt, va_list ap, const char *detail)
{
	fputs("vz: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (detail)
		fprintf(stderr, ": %s", detail);
	fputc('\n', stderr);
}

int vz_cli_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(fmt, ap, NULL);
	va_end(ap);
	return VZ_CLI_EXIT_FAIL;
}

int vz_cli_fail_vz(const char *fmt, ...)
{
	const vz_error *e = vz_error_last();
	va_list ap;

	va_start(ap, fmt);
	vfail(fmt, ap, e->message[0] ? e->message : vz_strerror(e->code));
	va_end(ap);
	return VZ_CLI_EXIT_FAIL;
}

/* `vz help [COMMAND]`, `vz --help`. */
static int help(const char *command)
{
	char flag[] = "--help";
	char *sub[] = { (char *)command, flag, NULL };

	if (!command) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(command, "run"))
		return vz_cli_run(2, sub);
	if (!strcmp(command, "check"))
		return vz_cli_check(2, sub);
	if (!strcmp(command, "template"))
		return vz_cli_template(2, sub);
	return vz_cli_fail("unknown command '%s' (see vz --help)", command);
}

/* libvz's warnings (a refused VM template, say) and errors, on stderr. */
static void log_to_stderr(int level, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "vz: %s: %s\n", level == VZ_LOG_ERROR ? "error" : level == VZ_LOG_WARN ? "warning" : "note",
		message);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const char *lv = getenv("VZ_LOG");

	/* VZ_LOG=error|warn|info|debug; warnings by default. */
	vz_log_set_callback(log_to_stderr,
			    !lv ? VZ_LOG_WARN
			    : !strcmp(lv, "debug") ? VZ_LOG_DEBUG
			    : !strcmp(lv, "info") ? VZ_LOG_INFO
			    : !strcmp(lv, "error") ? VZ_LOG_ERROR : VZ_LOG_WARN,
			    NULL);

	if (!cmd) {
		usage(stderr);
		return VZ_CLI_EXIT_FAIL;
	}
	if (!strcmp(cmd, "run"))
		return vz_cli_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return vz_cli_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "template"))
		return vz_cli_template(argc - 1, argv + 1);
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
		return help(cmd[0] == 'h' && argc > 2 ? argv[2] : NULL);
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("vz %s (libvz %s)\n", VZ_VERSION_STRING, vz_version_string());
		return 0;
	}
	if (cmd[0] == '-')
		return vz_cli_fail("unknown option %s (see vz --help)", cmd);
	return vz_cli_fail("unknown command '%s' (see vz --help)", cmd);
}
