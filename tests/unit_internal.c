/* SPDX-License-Identifier: MIT */
/* Unit tests of internals that need no privileges: error recording and wrapping,
 * config deep copy, argv[0] resolution inside a rootfs, the child-side formatters. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vz/vz.h>

#include "common/config.h"
#include "common/error.h"
#include "common/ipc.h"
#include "common/util.h"
#include "harness.h"

static void test_error_wrap(void)
{
	vz_err_set(VZ_EINVAL, 22, "KVM_SET_SREGS: %s", "Invalid argument");
	vz_err_wrap("start vcpu %d", 1);
	CHECK_INT(vz_error_last()->code, ==, VZ_EINVAL);
	CHECK_INT(vz_error_last()->os_errno, ==, 22);
	CHECK_STR(vz_error_last()->message, "start vcpu 1: KVM_SET_SREGS: Invalid argument");
	vz_err_oom();
	CHECK_INT(vz_error_last()->code, ==, VZ_ENOMEM);
	vz_error_clear();
	CHECK_INT(vz_error_last()->code, ==, VZ_OK);
	CHECK_STR(vz_error_last()->message, "");
}

static void test_errno_mapping(void)
{
	CHECK_INT(vz_status_from_errno(ENOENT), ==, VZ_ENOENT);
	CHECK_INT(vz_status_from_errno(EACCES), ==, VZ_EPERM);
	CHECK_INT(vz_status_from_errno(ENOMEM), ==, VZ_ENOMEM);
	CHECK_INT(vz_status_from_errno(EIO), ==, VZ_ERROR);
}

static void test_fmt(void)
{
	char buf[24], small[8] = "ab";
	CHECK_STR(vz_fmt_u64(buf, 0), "0");
	CHECK_STR(vz_fmt_u64(buf, 18446744073709551615ull), "18446744073709551615");
	vz_strlcat(small, "cdefghij", sizeof(small));
	CHECK_STR(small, "abcdefg");
}

static void test_config_copy_is_deep(void)
{
	vz_config *cfg, *copy;
	const char *argv[] = { "sh", "-c", "true" };

	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_rootfs(cfg, "/r"));
	CHECK_OK(vz_config_set_argv(cfg, 3, argv));
	CHECK_OK(vz_config_setenv(cfg, "A", "1"));
	CHECK_OK(vz_config_add_bind(cfg, "/h", "/s", VZ_BIND_RO));
	CHECK_OK(vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_FD, 1));
	CHECK_OK(vz_config_copy(cfg, &copy));
	CHECK_OK(vz_config_setenv(cfg, "A", "2"));
	CHECK_OK(vz_config_set_rootfs(cfg, "/other"));
	CHECK_STR(copy->rootfs, "/r");
	CHECK_STR(vz_config_getenv(copy, "A"), "1");
	CHECK_STR(copy->binds[0].dst, "/s");
	CHECK(copy->stdio[VZ_STDOUT].fd >= 3 && copy->stdio[VZ_STDOUT].fd != cfg->stdio[VZ_STDOUT].fd);
	CHECK_OK(vz_config_setenv(cfg, "A", NULL));
	CHECK(vz_config_getenv(cfg, "A") == NULL);
	CHECK(vz_config_getenv(cfg, "PATH") != NULL);
	vz_config_free(copy);
	vz_config_free(cfg);
}

/* A rootfs whose /bin/tool is an absolute symlink to /bin/real: resolved inside the
 * rootfs, never against the host's /bin. */
static void test_resolve_in_root(void)
{
	char dir[] = "/tmp/vz-unit-XXXXXX", path[256];
	vz_config *cfg;
	char *exe = NULL;
	const char *a1[] = { "tool" }, *a2[] = { "/bin/plain" }, *a3[] = { "missing" };

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/bin", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bin/real", dir);
	close(open(path, O_CREAT | O_WRONLY, 0755));
	snprintf(path, sizeof(path), "%s/bin/plain", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "%s/bin/tool", dir);
	CHECK(symlink("/bin/real", path) == 0);

	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_rootfs(cfg, dir));
	CHECK_OK(vz_config_setenv(cfg, "PATH", "/nope:/bin"));
	CHECK_OK(vz_config_set_argv(cfg, 1, a1));
	CHECK_OK(vz_config_validate(cfg, &exe));
	CHECK_STR(exe, "/bin/tool");
	free(exe);
	CHECK_OK(vz_config_set_argv(cfg, 1, a2));
	CHECK_INT(vz_config_validate(cfg, &exe), ==, VZ_EPERM);
	CHECK(strstr(vz_error_last()->message, "not executable") != NULL);
	CHECK_OK(vz_config_set_argv(cfg, 1, a3));
	CHECK_INT(vz_config_validate(cfg, &exe), ==, VZ_ENOENT);
	CHECK(strstr(vz_error_last()->message, dir) != NULL);
	vz_config_free(cfg);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK(system(path) == 0);
}

static const struct vzt_case cases[] = {
	VZT_CASE(test_error_wrap),	VZT_CASE(test_errno_mapping),
	VZT_CASE(test_fmt),		VZT_CASE(test_config_copy_is_deep),
	VZT_CASE(test_resolve_in_root),
};

VZ_TEST_MAIN(cases)
