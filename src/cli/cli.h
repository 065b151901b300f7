/* SPDX-License-Identifier: MIT */
/* The `vz` command line: declarations shared by its files. It is a program linked to the
 * shared libvz through the public API only; nothing here is part of the library. */
#ifndef VZ_CLI_H
#define VZ_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <vz/vz.h>

/* Exit status when vz itself fails (a bad flag, a libvz error), as `docker run` does;
 * otherwise `vz run` exits with the sandboxed program's status. */
#define VZ_CLI_EXIT_FAIL 125

/* Subcommands: argv[0] is the subcommand's name. Each returns the exit status. */
int vz_cli_run(int argc, char **argv);
int vz_cli_check(int argc, char **argv);

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

#endif
