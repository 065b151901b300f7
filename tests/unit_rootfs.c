/* SPDX-License-Identifier: MIT */
/* The default rootfs: with none configured, vz_sandbox_create() takes $VZ_ROOTFS, then
 * the installed default (VZ_DEFAULT_ROOTFS), and otherwise names what it searched.
 * Needs no privileges: only validation runs, nothing is started. */
#include <stdlib.h>
#include <sys/stat.h>

#include <vz/vz.h>

#include "common/config.h"
#include "harness.h"

static const char *const true_argv[] = { "true" };

static vz_config *config_without_rootfs(void)
{
	vz_config *cfg = NULL;

	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_argv(cfg, 1, true_argv));
	return cfg;
}

/* Validate a fresh config under @env ($VZ_ROOTFS, NULL: unset). */
static int validate_with(const char *env, vz_config **cfg_out)
{
	vz_config *cfg = config_without_rootfs();
	char *exe = NULL;
	int rc;

	if (env)
		setenv("VZ_ROOTFS", env, 1);
	else
		unsetenv("VZ_ROOTFS");
	rc = vz_config_validate(cfg, &exe);
	free(exe);
	*cfg_out = cfg;
	return rc;
}

static void test_from_env(void)
{
	vz_config *cfg;

	CHECK_OK(validate_with(VZ_TEST_ROOTFS, &cfg));
	CHECK_STR(cfg->rootfs, VZ_TEST_ROOTFS);
	vz_config_free(cfg);
}

static void test_env_must_be_absolute(void)
{
	vz_config *cfg;

	CHECK_INT(validate_with("relative/rootfs", &cfg), ==, VZ_EINVAL);
	CHECK(strstr(vz_error_last()->message, "$VZ_ROOTFS \"relative/rootfs\"") != NULL);
	vz_config_free(cfg);
}

static void test_env_missing_has_no_fallback(void)
{
	vz_config *cfg;

	CHECK_INT(validate_with("/nonexistent/rootfs", &cfg), ==, VZ_ENOENT);
	CHECK_STR(vz_error_last()->message,
		  "rootfs /nonexistent/rootfs (from $VZ_ROOTFS): No such file or directory");
	vz_config_free(cfg);
}

static void test_installed_default(void)
{
	struct stat st;
	vz_config *cfg;
	int rc = validate_with(NULL, &cfg);

	if (stat(VZ_DEFAULT_ROOTFS, &st) == 0) {
		CHECK_INT(rc, ==, VZ_OK);
		CHECK_STR(cfg->rootfs, VZ_DEFAULT_ROOTFS);
	} else {
		/* Not installed here: the error names every place searched. */
		CHECK_INT(rc, ==, VZ_ENOENT);
		CHECK(strstr(vz_error_last()->message, "vz_config_set_rootfs()") != NULL);
		CHECK(strstr(vz_error_last()->message, "$VZ_ROOTFS is not set") != NULL);
		CHECK(strstr(vz_error_last()->message, VZ_DEFAULT_ROOTFS) != NULL);
	}
	vz_config_free(cfg);
}

static void test_configured_rootfs_wins(void)
{
	vz_config *cfg = config_without_rootfs();
	char *exe = NULL;

	setenv("VZ_ROOTFS", "/nonexistent/rootfs", 1);
	CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
	CHECK_OK(vz_config_validate(cfg, &exe));
	CHECK_STR(cfg->rootfs, VZ_TEST_ROOTFS);
	free(exe);
	vz_config_free(cfg);
}

/* Through the public API: the default goes into the sandbox's copy only. */
static void test_caller_config_untouched(void)
{
	vz_config *cfg = config_without_rootfs();
	vz_sandbox *sb = NULL;

	setenv("VZ_ROOTFS", VZ_TEST_ROOTFS, 1);
	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg));
	vz_sandbox_free(sb);
	sb = NULL;
	CHECK(cfg->rootfs == NULL);
	setenv("VZ_ROOTFS", "/nonexistent/rootfs", 1);
	CHECK_INT(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), ==, VZ_ENOENT);
	CHECK(sb == NULL);
	vz_config_free(cfg);
}

static const struct vzt_case cases[] = {
	VZT_CASE(test_from_env),
	VZT_CASE(test_env_must_be_absolute),
	VZT_CASE(test_env_missing_has_no_fallback),
	VZT_CASE(test_installed_default),
	VZT_CASE(test_configured_rootfs_wins),
	VZT_CASE(test_caller_config_untouched),
};

VZ_TEST_MAIN(cases)
