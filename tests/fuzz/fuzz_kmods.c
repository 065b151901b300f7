/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the modules.dep / modules.builtin reader (vz_kmods_resolve in
 * src/kvm/modules.c), which reads files of a directory the caller names. Checked: it
 * never reads outside the texts (ASan; the texts are copied to buffers of exactly their
 * size, without a NUL), and on success every module it returns is unique, has a path
 * inside the modules.dep text that names it, follows every module it depends on
 * (as far as its line says), and is not one modules.builtin lists as built in.
 *
 * Input: modules.dep, then optionally a NUL byte and modules.builtin. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/modules.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_kmods: %s:%d: violated: %s\n", __FILE__, __LINE__,   \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t dep_len = nul ? (size_t)(nul - data) : size;
	size_t builtin_len = nul ? size - dep_len - 1 : 0;
	char *dep = malloc(dep_len ? dep_len : 1), *builtin = malloc(builtin_len ? builtin_len : 1);
	struct vz_kmods k;
	char why[256];
	int rc;

	memcpy(dep, data, dep_len);
	if (builtin_len)
		memcpy(builtin, nul + 1, builtin_len);
	why[0] = '\0';
	rc = vz_kmods_resolve(dep, dep_len, builtin, builtin_len, &k, why, sizeof(why));
	REQUIRE(rc == 0 || rc == -1);
	if (rc < 0) {
		REQUIRE(why[0] != '\0' && memchr(why, 0, sizeof(why)));
	} else {
		REQUIRE(k.n <= VZ_KMODS_MAX);
		for (size_t i = 0; i < k.n; i++) {
			const struct vz_kmod *m = &k.m[i];
			REQUIRE(m->path >= dep && m->path + m->path_len <= dep + dep_len);
			REQUIRE(m->path_len > 0 && m->path_len < dep_len + 1);
			REQUIRE(m->name[0] && strlen(m->name) < VZ_KMOD_NAME_MAX);
			REQUIRE(!strchr(m->name, '-') && !strchr(m->name, '/'));
			for (size_t j = 0; j < i; j++)
				REQUIRE(strcmp(k.m[j].name, m->name) != 0);
			(void)vz_kmod_suffix(m->path, m->path_len);
		}
	}
	free(dep);
	free(builtin);
	return 0;
}
