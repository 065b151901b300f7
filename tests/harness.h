/* SPDX-License-Identifier: MIT */
/* Minimal TAP harness. Exit status: 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE).
 *
 * VZ_TEST_REQUIRE=container,kvm,userns turns a skip that names one of those features
 * into a failure, so CI cannot pass by skipping what its host has [bwrap BWRAP_MUST_WORK]. */
#ifndef VZ_TEST_HARNESS_H
#define VZ_TEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int vzt_planned, vzt_run, vzt_failed, vzt_skipped;

static inline int vz_test_required(const char *feature)
{
	const char *req = getenv("VZ_TEST_REQUIRE");
	size_t n = strlen(feature);
	while (req && *req) {
		const char *end = strchr(req, ',');
		size_t len = end ? (size_t)(end - req) : strlen(req);
		if (len == n && !strncmp(req, feature, n))
			return 1;
		req = end ? end + 1 : NULL;
	}
	return 0;
}

/* Skip the whole program. @feature names what is missing ("container", "kvm", ...). */
static inline __attribute__((noreturn, format(printf, 2, 3))) void
vz_test_skip_all(const char *feature, const char *fmt, ...)
{
	va_list ap;
	int required = vz_test_required(feature);
	printf(required ? "not ok - required feature %s unavailable: " : "1..0 # SKIP ", feature);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(required ? 1 : 77);
}

#define VZT_LOC __FILE__, __LINE__

static inline __attribute__((format(printf, 4, 5))) int vzt_check(int ok, const char *file, int line,
								 const char *fmt, ...)
{
	va_list ap;
	if (!ok) {
		vzt_failed++;
		printf("#   FAILED at %s:%d: ", file, line);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		fflush(stdout);
	}
	return ok;
}

/* Assertions record a failure and continue; the current test is reported as failed. */
#define CHECK(cond) vzt_check(!!(cond), VZT_LOC, "%s", #cond)
#define CHECK_MSG(cond, ...) vzt_check(!!(cond), VZT_LOC, __VA_ARGS__)
#define CHECK_INT(a, op, b)                                                                    \
	do {                                                                                   \
		long long va_ = (long long)(a), vb_ = (long long)(b);                          \
		vzt_check(va_ op vb_, VZT_LOC, "%s %s %s (%lld vs %lld)", #a, #op, #b, va_, vb_); \
	} while (0)
#define CHECK_STR(a, b)                                                                        \
	do {                                                                                   \
		const char *sa_ = (a), *sb_ = (b);                                             \
		vzt_check(sa_ && sb_ && !strcmp(sa_, sb_), VZT_LOC, "%s == %s (\"%s\" vs \"%s\")", \
			  #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                   \
	} while (0)
/* A libvz call that must succeed; prints vz_error_last() otherwise. */
#define CHECK_OK(call)                                                                         \
	do {                                                                                   \
		int rc_ = (call);                                                              \
		vzt_check(rc_ == 0, VZT_LOC, "%s = %d (%s)", #call, rc_,                      \
			  rc_ ? vz_error_last()->message : "");                                \
	} while (0)

typedef void (*vzt_fn)(void);
struct vzt_case {
	const char *name;
	vzt_fn fn;
};
#define VZT_CASE(f) { #f, f }

/* Per-case skip: call from inside a case, then return. */
static int vzt_case_skipped;
static char vzt_skip_reason[256];
static inline __attribute__((format(printf, 2, 3))) void vz_test_skip(const char *feature,
									  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vzt_skip_reason, sizeof(vzt_skip_reason), fmt, ap);
	va_end(ap);
	if (feature && vz_test_required(feature)) {
		vzt_check(0, VZT_LOC, "required feature %s unavailable: %s", feature, vzt_skip_reason);
		return;
	}
	vzt_case_skipped = 1;
}

/* VM templates: a test program that starts VMs keeps its own template directory
 * (VZ_TEMPLATE_DIR, unless the caller set one), so no result depends on what an earlier
 * run left in the machine's cache; it is removed when the program exits. */
#ifdef VZ_SANDBOX_H
static char vzt_tmpl_dir[64];
static pid_t vzt_tmpl_owner;
static inline void vzt_tmpl_cleanup(void)
{
	if (getpid() != vzt_tmpl_owner) /* a forked child that exit()s */
		return;
	vz_vm_templates_drop(vzt_tmpl_dir);
	rmdir(vzt_tmpl_dir);
}
static inline void vzt_private_templates(void)
{
	if (getenv("VZ_TEMPLATE_DIR"))
		return;
	snprintf(vzt_tmpl_dir, sizeof(vzt_tmpl_dir), "/tmp/vz-tmpl-XXXXXX");
	if (!mkdtemp(vzt_tmpl_dir))
		return;
	vzt_tmpl_owner = getpid();
	setenv("VZ_TEMPLATE_DIR", vzt_tmpl_dir, 1);
	atexit(vzt_tmpl_cleanup);
}
#endif

static inline int vz_test_run(const struct vzt_case *cases, size_t n, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	vzt_planned = (int)n;
	printf("1..%d\n", vzt_planned);
	for (size_t i = 0; i < n; i++) {
		int before = vzt_failed;
		vzt_run++;
		if (only && strcmp(only, cases[i].name)) {
			printf("ok %zu - %s # SKIP not selected\n", i + 1, cases[i].name);
			continue;
		}
		vzt_case_skipped = 0;
		fflush(stdout);
		cases[i].fn();
		if (vzt_case_skipped && vzt_failed == before) {
			vzt_skipped++;
			printf("ok %zu - %s # SKIP %s\n", i + 1, cases[i].name, vzt_skip_reason);
		} else {
			printf("%s %zu - %s\n", vzt_failed == before ? "ok" : "not ok", i + 1,
			       cases[i].name);
		}
		fflush(stdout);
	}
	if (vzt_failed)
		return 1;
	return vzt_skipped == vzt_planned ? 77 : 0;
}
#define VZ_TEST_MAIN(cases)                                                                    \
	int main(int argc, char **argv)                                                        \
	{                                                                                      \
		return vz_test_run(cases, VZ_ARRAY_SIZE_T(cases), argc, argv);                 \
	}
#define VZ_ARRAY_SIZE_T(a) (sizeof(a) / sizeof((a)[0]))

#endif
