/* SPDX-License-Identifier: MIT */
/* `vz template make|drop`: VM templates ahead of time, and their removal.
 *
 * `make` takes the flags of `vz run` (vz_cli_opts_parse()), creates the same sandbox
 * and calls vz_sandbox_make_template(); `drop` calls vz_vm_templates_drop(). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("Usage: vz template make [OPTIONS] [--] CMD [ARGS...]\n"
	      "       vz template drop [DIR]\n"
	      "\n"
	      "VM templates: a guest booted once and saved, which later VM starts of the same\n"
	      "kind restore in milliseconds instead of booting (vz run --vm-start restore, the\n"
	      "default, also makes one at the first start of its kind).\n"
	      "\n"
	      "  make   create the sandbox `vz run OPTIONS CMD` would create (backend: vm unless\n"
	      "         --backend says otherwise), make the template its start would use, and\n"
	      "         print the template directory. A matching template already there is\n"
	      "         kept. The options that shape the guest (--kernel, --kernel-cmdline,\n"
	      "         --kernel-modules, --memory, --cpus, --bind, --rootfs...) must be those of\n"
	      "         the later runs; CMD only has to exist in the rootfs.\n"
	      "  drop   remove every template in DIR (default: the default template directory,\n"
	      "         $VZ_TEMPLATE_DIR, then /var/cache/libvz/templates for root, else\n"
	      "         ~/.cache/libvz/templates); only what libvz made there is removed.\n"
	      "\n"
	      "Options of make (those of vz run; --json prints {\"backend\":\"vm\",\n"
	      "\"templates\":DIR,\"error\":null}, or the error object):\n",
	      f);
	vz_cli_run_options_usage(f, VZ_BACKEND_VM);
	fputs("\n"
	      "Example: vz template make --memory 512M -- true\n"
	      "         vz run --backend vm --memory 512M --json -- uname -a   # phases: restore\n"
	      "Exit status: 0, or 125 when vz or libvz failed.\n",
	      f);
}

/* The directory libvz uses when none is configured (vz_config_set_vm_templates()):
 * $VZ_TEMPLATE_DIR, /var/cache/libvz/templates for root, else the user's cache. The
 * API has no query for it. malloc'd, or NULL when there is none (or no memory). */
static char *default_dir(void)
{
	const char *env = getenv("VZ_TEMPLATE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	char *out = NULL;

	if (env && env[0] == '/')
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/cache/libvz/templates");
	if (xdg && xdg[0] == '/')
		return asprintf(&out, "%s/libvz/templates", xdg) < 0 ? NULL : out;
	if (home && home[0] == '/')
		return asprintf(&out, "%s/.cache/libvz/templates", home) < 0 ? NULL : out;
	return NULL;
}

static int make(int argc, char **argv)
{
	struct vz_cli_opts o;
	vz_sandbox *sb = NULL;
	char *dir = NULL;
	int rc;

	if ((rc = vz_cli_opts_init(&o, "template make", VZ_BACKEND_VM)))
		return rc;
	rc = vz_cli_opts_parse(&o, argc, argv, usage);
	if (rc < 0) { /* --help */
		rc = 0;
		goto out;
	}
	if (rc || (rc = vz_cli_create(&o, &sb)))
		goto out;
	if (vz_sandbox_make_template(sb) < 0) {
		rc = vz_cli_call_failed(&o, "vz_sandbox_make_template", NULL, NULL);
		goto out;
	}
	dir = o.templates ? strdup(o.templates) : default_dir();
	if (o.json)
		vz_cli_json_template(stdout, o.backend, dir ? dir : "");
	else if (dir)
		printf("%s\n", dir);
	rc = 0;
out:
	free(dir);
	vz_sandbox_free(sb);
	vz_cli_opts_free(&o);
	return rc;
}

static int drop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *dir = NULL;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (optopt)
			return vz_cli_fail("template drop: unknown option -%c (see vz template "
					   "--help)",
					   optopt);
		return vz_cli_fail("template drop: unknown option %s (see vz template --help)",
				   argv[optind - 1]);
	}
	if (argc - optind > 1)
		return vz_cli_fail("template drop: unexpected argument '%s' (usage: vz template "
				   "drop [DIR])",
				   argv[optind + 1]);
	if (optind < argc) {
		if (!argv[optind][0])
			return vz_cli_fail("template drop: DIR is empty");
		if (!(dir = vz_cli_abspath(argv[optind])))
			return vz_cli_fail("template drop: %s: %s", argv[optind], strerror(errno));
	}
	rc = vz_vm_templates_drop(dir) < 0 ? vz_cli_fail_vz("template drop") : 0;
	free(dir);
	return rc;
}

int vz_cli_template(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return vz_cli_fail("template: no subcommand (usage: vz template make|drop ...; "
				   "see vz template --help)");
	if (!strcmp(sub, "make"))
		return make(argc - 1, argv + 1);
	if (!strcmp(sub, "drop"))
		return drop(argc - 1, argv + 1);
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		usage(stdout);
		return 0;
	}
	return vz_cli_fail("template: unknown subcommand '%s' (use make or drop; see vz "
			   "template --help)",
			   sub);
}
