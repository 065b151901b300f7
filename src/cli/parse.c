/* SPDX-License-Identifier: MIT */
/* Parsers for the values of `vz run` flags: sizes (256M), durations (10s), CPUs (0.5),
 * counts and backend names. Units are the command line's business; libvz takes bytes,
 * milliseconds and millicores. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

struct unit {
	const char *name;
	double factor;
};

/* Length of a plain decimal number at @s ("12", "1.5"; no sign, exponent, hex, inf). */
static size_t number_len(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0)
		return 0;
	if (s[n] == '.') {
		size_t frac = strspn(s + n + 1, "0123456789");
		if (frac == 0)
			return 0;
		n += 1 + frac;
	}
	return n;
}

/* "<number><unit>" with a unit from @units (case-insensitive, "" allowed when listed),
 * scaled and rounded to an integer in 1..INT64_MAX (a positive value below one unit is
 * one unit). */
static int parse_scaled(const char *s, const struct unit *units, int64_t *out, const char **why)
{
	size_t n = number_len(s);
	double v, scaled;

	if (n == 0) {
		*why = "not a number";
		return -1;
	}
	v = strtod(s, NULL);
	for (const struct unit *u = units; u->name; u++) {
		if (strcasecmp(s + n, u->name))
			continue;
		scaled = round(v * u->factor);
		/* A positive value below the resolution (--timeout 0.0001) is one unit,
		 * as in the Python binding, not an error saying it is not positive. */
		if (scaled < 1 && v > 0)
			scaled = 1;
		if (scaled < 1) {
			*why = "must be greater than 0";
			return -1;
		}
		if (scaled >= 9.2e18) {
			*why = "too large";
			return -1;
		}
		*out = (int64_t)scaled;
		return 0;
	}
	*why = "unknown unit";
	return -1;
}

int vz_cli_parse_size(const char *s, int64_t *bytes, const char **why)
{
	/* Binary multiples, as docker and free(1) use them: 1K = 1024 bytes. */
	static const struct unit units[] = {
		{ "", 1 },
		{ "b", 1 },
		{ "k", 1024.0 },
		{ "kb", 1024.0 },
		{ "kib", 1024.0 },
		{ "m", 1048576.0 },
		{ "mb", 1048576.0 },
		{ "mib", 1048576.0 },
		{ "g", 1073741824.0 },
		{ "gb", 1073741824.0 },
		{ "gib", 1073741824.0 },
		{ "t", 1099511627776.0 },
		{ "tb", 1099511627776.0 },
		{ "tib", 1099511627776.0 },
		{ NULL, 0 },
	};
	int rc = parse_scaled(s, units, bytes, why);

	if (rc && !strcmp(*why, "unknown unit"))
		*why = "unknown unit (use K, M, G or T, e.g. 256M)";
	return rc;
}

int vz_cli_parse_duration_ms(const char *s, int64_t *ms, const char **why)
{
	static const struct unit units[] = {
		{ "", 1000.0 },	  { "ms", 1.0 },      { "s", 1000.0 },
		{ "m", 60000.0 }, { "h", 3600000.0 }, { NULL, 0 },
	};
	int rc = parse_scaled(s, units, ms, why);

	if (rc && !strcmp(*why, "unknown unit"))
		*why = "unknown unit (use ms, s, m or h, e.g. 10s)";
	return rc;
}

int vz_cli_parse_cpus(const char *s, int64_t *millicores, const char **why)
{
	static const struct unit units[] = { { "", 1000.0 }, { NULL, 0 } };
	int rc = parse_scaled(s, units, millicores, why);

	if (rc && !strcmp(*why, "unknown unit"))
		*why = "not a number of CPUs (e.g. 0.5 or 2)";
	return rc;
}

int vz_cli_parse_count(const char *s, int64_t *n, const char **why)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)s[0])) {
		*why = "not a positive integer";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end) {
		*why = "not a positive integer";
		return -1;
	}
	if (errno == ERANGE) {
		*why = "too large";
		return -1;
	}
	if (v < 1) {
		*why = "must be greater than 0";
		return -1;
	}
	*n = v;
	return 0;
}

int vz_cli_parse_backend(const char *s, vz_backend *out, const char **why)
{
	static const vz_backend all[] = { VZ_BACKEND_CONTAINER, VZ_BACKEND_VM };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(s, vz_backend_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	*why = "unknown backend (use container or vm)";
	return -1;
}

char *vz_cli_abspath(const char *path)
{
	char *cwd, *out;
	size_t len;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	len = strlen(cwd) + strlen(path) + 2;
	out = malloc(len);
	if (out) {
		strcpy(out, cwd);
		strcat(out, "/");
		strcat(out, path);
	}
	free(cwd);
	return out;
}
