/* SPDX-License-Identifier: MIT */
/* Which module files a modular guest kernel needs loaded, from its modules.dep and
 * modules.builtin (the formats depmod(8) writes). Texts come from a directory the caller
 * names, so every line is checked: no NUL terminator assumed, lengths bounded. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kvm/modules.h"

const struct vz_kmod_need vz_kmods_needed[] = {
	{ "virtio_mmio", "VIRTIO_MMIO" }, { "virtio_console", "VIRTIO_CONSOLE" },
	{ "fuse", "FUSE_FS" },		  { "virtiofs", "VIRTIO_FS" },
	{ "overlay", "OVERLAY_FS" },
};
const size_t vz_kmods_nneeded = sizeof(vz_kmods_needed) / sizeof(vz_kmods_needed[0]);

struct ctx {
	const char *dep, *builtin;
	size_t dep_len, builtin_len;
	struct vz_kmods *out;
	const char *stack[VZ_KMODS_MAX]; /* names being resolved, for cycles */
	size_t depth;
	char *why;
	size_t why_len;
};

/* The module name of a path: its last component up to ".ko", '-' read as '_'. */
static bool name_of(const char *p, size_t len, char out[VZ_KMOD_NAME_MAX])
{
	const char *base = p, *end = NULL;
	size_t n;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '/')
			base = p + i + 1;
	for (const char *s = base; s + 3 <= p + len; s++)
		if (!memcmp(s, ".ko", 3) && (s + 3 == p + len || s[3] == '.')) {
			end = s;
			break;
		}
	if (!end || end == base || (n = (size_t)(end - base)) >= VZ_KMOD_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = base[i];
		if (c == '\0' || c == ' ' || c == '\t')
			return false;
		out[i] = c == '-' ? '_' : c;
	}
	out[n] = '\0';
	return true;
}

/* The next line of @text from *pos, without its newline. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return false;
	*line = text + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += *n + 1;
	return true;
}

static bool builtin_has(const struct ctx *c, const char *name)
{
	const char *line;
	size_t pos = 0, n;
	char got[VZ_KMOD_NAME_MAX];

	while (next_line(c->builtin, c->builtin_len, &pos, &line, &n))
		if (name_of(line, n, got) && !strcmp(got, name))
			return true;
	return false;
}

/* The modules.dep line of @name: its path, and the dependencies after the colon. */
static bool dep_line(const struct ctx *c, const char *name, const char **path, size_t *path_len,
		     const char **deps, size_t *deps_len)
{
	const char *line, *colon;
	size_t pos = 0, n;
	char got[VZ_KMOD_NAME_MAX];

	while (next_line(c->dep, c->dep_len, &pos, &line, &n)) {
		if (!(colon = memchr(line, ':', n)) || colon == line)
			continue;
		if (!name_of(line, (size_t)(colon - line), got) || strcmp(got, name))
			continue;
		*path = line;
		*path_len = (size_t)(colon - line);
		*deps = colon + 1;
		*deps_len = n - *path_len - 1;
		return true;
	}
	return false;
}

__attribute__((format(printf, 2, 3))) static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->why_len, fmt, ap);
	va_end(ap);
	return -1;
}

static int resolve(struct ctx *c, const char *name)
{
	const char *path, *deps;
	size_t path_len, deps_len;

	for (size_t i = 0; i < c->out->n; i++)
		if (!strcmp(c->out->m[i].name, name))
			return 0;
	for (size_t i = 0; i < c->depth; i++)
		if (!strcmp(c->stack[i], name))
			return fail(c, "modules.dep: %s depends on itself (through %s)", name,
				    c->stack[c->depth - 1]);
	if (c->depth == VZ_KMODS_MAX || c->out->n == VZ_KMODS_MAX)
		return fail(c, "modules.dep: %s needs more than %d modules", name, VZ_KMODS_MAX);
	if (!dep_line(c, name, &path, &path_len, &deps, &deps_len))
		return fail(c, "modules.dep has no line for %s", name);
	c->stack[c->depth++] = name;
	for (size_t i = 0; i < deps_len;) {
		char dname[VZ_KMOD_NAME_MAX];
		size_t start;
		while (i < deps_len && (deps[i] == ' ' || deps[i] == '\t' || deps[i] == '\r'))
			i++;
		start = i;
		while (i < deps_len && deps[i] != ' ' && deps[i] != '\t' && deps[i] != '\r')
			i++;
		if (i == start)
			continue;
		if (!name_of(deps + start, i - start, dname))
			return fail(c, "modules.dep: %s depends on a file that is not a module", name);
		/* The name lives on this frame; the stack only needs it until we return. */
		if (resolve(c, dname) < 0)
			return -1;
	}
	c->depth--;
	{
		struct vz_kmod *m = &c->out->m[c->out->n];
		if (!name_of(path, path_len, m->name))
			return fail(c, "modules.dep: bad module path for %s", name);
		m->path = path;
		m->path_len = path_len;
		c->out->n++;
	}
	return 0;
}

int vz_kmods_resolve(const char *dep, size_t dep_len, const char *builtin, size_t builtin_len,
		     struct vz_kmods *out, char *why, size_t why_len)
{
	struct ctx c = { .dep = dep, .dep_len = dep_len, .builtin = builtin,
			 .builtin_len = builtin ? builtin_len : 0, .out = out, .why = why,
			 .why_len = why_len };

	out->n = 0;
	for (size_t i = 0; i < vz_kmods_nneeded; i++) {
		const struct vz_kmod_need *need = &vz_kmods_needed[i];
		if (builtin_has(&c, need->name))
			continue;
		if (!dep_line(&c, need->name, &(const char *){ NULL }, &(size_t){ 0 },
			      &(const char *){ NULL }, &(size_t){ 0 })) {
			snprintf(why, why_len,
				 "the guest kernel has %s (module %s) neither built in (modules.builtin) "
				 "nor as a module (modules.dep)",
				 need->option, need->name);
			return -1;
		}
		if (resolve(&c, need->name) < 0)
			return -1;
	}
	return 0;
}

const char *vz_kmod_suffix(const char *path, size_t len)
{
	static const char *const sfx[] = { ".xz", ".zst", ".gz" };

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t n = strlen(sfx[i]);
		if (len > n + 3 && !memcmp(path + len - n - 3, ".ko", 3) &&
		    !memcmp(path + len - n, sfx[i], n))
			return sfx[i];
	}
	return "";
}
