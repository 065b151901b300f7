/* SPDX-License-Identifier: MIT */
/* `vz run --json`: the whole vz_result (or the error that prevented one) as one line of
 * JSON. Integers keep libvz's units (ns, bytes) so nothing is rounded. Also the line of
 * `vz template make --json`. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at @s, or 0 if it is not one (overlong forms,
 * surrogates and code points past U+10FFFF count as invalid). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string. Messages may hold host paths in any encoding: bytes that are not
 * UTF-8 become U+FFFD, so the output always parses. */
static void json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n = utf8_len(s);

		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
		} else if (*s == '"' || *s == '\\') {
			fprintf(f, "\\%c", *s++);
		} else if (*s == '\n') {
			fputs("\\n", f), s++;
		} else if (*s == '\t') {
			fputs("\\t", f), s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
	fputc('"', f);
}

static void print_result(FILE *f, const vz_result *r)
{
	fputs("\"reason\":", f);
	json_string(f, vz_reason_name(r->reason));
	fprintf(f, ",\"exit_code\":%d,\"signal\":%d,\"message\":", (int)r->exit_code,
		(int)r->signal);
	json_string(f, r->message);
	fprintf(f,
		",\"wall_ns\":%" PRIu64 ",\"user_cpu_ns\":%" PRIu64 ",\"system_cpu_ns\":%" PRIu64
		",\"peak_memory_bytes\":%" PRIu64 ",\"phases\":[",
		r->wall_ns, r->user_cpu_ns, r->system_cpu_ns, r->peak_memory_bytes);
	for (uint32_t i = 0; i < r->phase_count && i < VZ_MAX_PHASES; i++) {
		char name[sizeof(r->phases[i].name) + 1];

		memcpy(name, r->phases[i].name, sizeof(r->phases[i].name));
		name[sizeof(name) - 1] = '\0';
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		json_string(f, name);
		fprintf(f, ",\"ns\":%" PRIu64 "}", r->phases[i].ns);
	}
	fputc(']', f);
}

void vz_cli_json_print(FILE *f, vz_backend backend, const vz_result *res,
		       const struct vz_cli_json_error *err)
{
	fputs("{\"backend\":", f);
	json_string(f, vz_backend_name(backend) ? vz_backend_name(backend) : "unknown");
	if (res) {
		fputc(',', f);
		print_result(f, res);
	}
	fputs(",\"error\":", f);
	if (err) {
		fputs("{\"call\":", f);
		json_string(f, err->call);
		fprintf(f, ",\"code\":%d,\"os_errno\":%d,\"description\":", err->code,
			err->os_errno);
		json_string(f, vz_strerror(err->code));
		fputs(",\"message\":", f);
		json_string(f, err->message);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputs("}\n", f);
	fflush(f);
}

void vz_cli_json_template(FILE *f, vz_backend backend, const char *dir)
{
	fputs("{\"backend\":", f);
	json_string(f, vz_backend_name(backend) ? vz_backend_name(backend) : "unknown");
	fputs(",\"templates\":", f);
	json_string(f, dir);
	fputs(",\"error\":null}\n", f);
	fflush(f);
}
