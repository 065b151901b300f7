/* SPDX-License-Identifier: MIT */
/* The `vz` command line: declarations shared by its files. It is a program linked to the
 * shared libvz through the public API only; nothing here is part of the library. */
#ifndef VZ_CLI_H
#define VZ_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vz/vz.h>

/* Exit status when vz itself fails (a bad flag, a libvz error), as `docker run` does;
 * otherwise `vz run` exits with the sandboxed program's status. */
#define VZ_CLI_EXIT_FAIL 125

/* Subcommands: argv[0] is the subcommand's name. Each returns the exit status. */
int vz_cli_run(int argc, char **argv);
int vz_cli_check(int argc, char **argv);
int vz_cli_template(int argc, char **argv);

/* The options of `vz run`, parsed into a configuration (run.c); `vz template make`
 * takes the same ones. */
#define VZ_CLI_NLIMITS 6 /* vz_limit values are 1..5 */
struct vz_cli_opts {
	const char *cmd; /* "run", "template make": the prefix of messages */
	vz_config *cfg;
	vz_backend backend;
	int64_t limits[VZ_CLI_NLIMITS];		/* by vz_limit; 0 = not given */
	const char *limit_flag[VZ_CLI_NLIMITS]; /* the flag that gave it, for messages */
	const char *limit_arg[VZ_CLI_NLIMITS];	/* and its value as given */
	char *templates;			/* --templates made absolute (malloc'd), or NULL */
	bool json, quiet;
};

/* Zero @o, make its configuration. Returns 0 or an exit status. */
int vz_cli_opts_init(struct vz_cli_opts *o, const char *cmd, vz_backend backend);
void vz_cli_opts_free(struct vz_cli_opts *o);
/* Parse `vz run`'s flags and CMD [ARGS...] from @argv (argv[0]: the command) into @o,
 * stdio included. Returns 0, -1 after printing @help for --help, or an exit status. */
int vz_cli_opts_parse(struct vz_cli_opts *o, int argc, char **argv, void (*help)(FILE *));
/* The options' lines of `vz run --help`, with the default backend of the command. */
void vz_cli_run_options_usage(FILE *f, vz_backend default_backend);
/* vz_sandbox_create() and the limits. Returns 0 with *sb set, or an exit status (the
 * error reported). */
int vz_cli_create(const struct vz_cli_opts *o, vz_sandbox **sb);
/* Report a failed libvz call @call: stderr ("vz: CMD: @what MESSAGE"), and with --json
 * the error object (and @res if not NULL) on stdout. Returns VZ_CLI_EXIT_FAIL. */
int vz_cli_call_failed(const struct vz_cli_opts *o, const char *call, const char *what,
		       const vz_result *res);

/* Report a failure of vz itself on stderr ("vz: ..."); returns VZ_CLI_EXIT_FAIL. */
int vz_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, with libvz's last error appended. */
int vz_cli_fail_vz(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Value parsers (parse.c). Each returns 0, or -1 with a reason in @why (static text). */
int vz_cli_parse_size(const char *s, int64_t *bytes, const char **why);
int vz_cli_parse_duration_ms(const char *s, int64_t *ms, const char **why);
int vz_cli_parse_cpus(const char *s, int64_t *millicores, const char **why);
int vz_cli_parse_count(const char *s, int64_t *n, const char **why);
int vz_cli_parse_backend(const char *s, vz_backend *out, const char **why);
/* An absolute version of @path (relative to the cwd; not resolved further), malloc'd. */
char *vz_cli_abspath(const char *path);

/* JSON output (json.c): one result, or one error, as a single-line object. */
struct vz_cli_json_error {
	const char *call; /* the libvz call that failed */
	int code;
	int os_errno;
	const char *message;
};
void vz_cli_json_print(FILE *f, vz_backend backend, const vz_result *res,
		       const struct vz_cli_json_error *err);
/* `vz template make --json`: {"backend":..,"templates":@dir,"error":null}. */
void vz_cli_json_template(FILE *f, vz_backend backend, const char *dir);

#endif
