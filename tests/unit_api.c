/* SPDX-License-Identifier: MIT */
/* Bad input and misuse through the public API: each gets a specific code and a message
 * that names the problem. Links the public libvz only. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vz/vz.h>

#include "harness.h"

#define CHECK_ERR(call, code, needle)                                                          \
	do {                                                                                   \
		int rc_ = (call);                                                              \
		CHECK_MSG(rc_ == (code), "%s = %d, want %d (%s)", #call, rc_, (code),          \
			  vz_error_last()->message);                                           \
		CHECK_MSG(strstr(vz_error_last()->message, (needle)) != NULL,                  \
			  "%s: message \"%s\" lacks \"%s\"", #call, vz_error_last()->message,   \
			  (needle));                                                           \
	} while (0)

static const char *const true_argv[] = { "/bin/true" };

static vz_config *good_config(void)
{
	vz_config *cfg = NULL;
	CHECK_OK(vz_config_new(&cfg));
	CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
	CHECK_OK(vz_config_set_argv(cfg, 1, true_argv));
	return cfg;
}

static void t_null_handles(void)
{
	vz_sandbox *sb = NULL;
	CHECK_ERR(vz_config_new(NULL), VZ_EINVAL, "out is NULL");
	CHECK_ERR(vz_config_set_rootfs(NULL, "/"), VZ_EINVAL, "config is NULL");
	CHECK_ERR(vz_config_set_argv(NULL, 1, true_argv), VZ_EINVAL, "config is NULL");
	CHECK_ERR(vz_sandbox_create(NULL, VZ_BACKEND_CONTAINER, NULL), VZ_EINVAL, "out is NULL");
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, NULL), VZ_EINVAL, "config is NULL");
	CHECK(sb == NULL);
	CHECK_ERR(vz_sandbox_start(NULL), VZ_EINVAL, "sandbox is NULL");
	CHECK_ERR(vz_sandbox_wait(NULL, 0, NULL), VZ_EINVAL, "sandbox is NULL");
	CHECK_ERR(vz_sandbox_kill(NULL, SIGTERM), VZ_EINVAL, "sandbox is NULL");
	CHECK_ERR(vz_sandbox_limit(NULL, VZ_LIMIT_PIDS, 1), VZ_EINVAL, "sandbox is NULL");
	CHECK_ERR(vz_sandbox_stdio_fd(NULL, VZ_STDOUT), VZ_EINVAL, "sandbox is NULL");
	vz_sandbox_free(NULL);
	vz_config_free(NULL);
}

static void t_config_setters(void)
{
	vz_config *cfg = NULL;
	const char *empty[] = { "" }, *withnull[] = { "sh", NULL };
	CHECK_OK(vz_config_new(&cfg));
	CHECK_ERR(vz_config_set_rootfs(cfg, "relative/dir"), VZ_EINVAL, "relative/dir");
	CHECK_ERR(vz_config_set_argv(cfg, 0, true_argv), VZ_EINVAL, "argv is empty");
	CHECK_ERR(vz_config_set_argv(cfg, 1, empty), VZ_EINVAL, "argv[0] is empty");
	CHECK_ERR(vz_config_set_argv(cfg, 2, withnull), VZ_EINVAL, "argv[1] is NULL");
	CHECK_ERR(vz_config_setenv(cfg, "A=B", "x"), VZ_EINVAL, "A=B");
	CHECK_ERR(vz_config_set_hostname(cfg, "bad host"), VZ_EINVAL, "bad host");
	CHECK_ERR(vz_config_set_cwd(cfg, "tmp"), VZ_EINVAL, "tmp");
	CHECK_ERR(vz_config_add_bind(cfg, "/etc", "/", 0), VZ_EINVAL, "sandbox path");
	CHECK_ERR(vz_config_add_bind(cfg, "/etc", "/a/../b", 0), VZ_EINVAL, "..");
	CHECK_ERR(vz_config_set_stdio(cfg, 7, VZ_STDIO_NULL, -1), VZ_EINVAL, "unknown stream");
	CHECK_ERR(vz_config_set_stdio(cfg, VZ_STDOUT, 9, -1), VZ_EINVAL, "unknown mode");
	CHECK_ERR(vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_FD, 9999), VZ_EINVAL, "fd 9999");
	CHECK_ERR(vz_config_set_rootfs_mode(cfg, VZ_ROOTFS_PERSISTENT, NULL), VZ_EINVAL, "upper dir");
	CHECK_ERR(vz_config_set_user(cfg, UINT32_MAX, 0), VZ_EINVAL, "not a valid id");
	vz_config_free(cfg);
}

static void t_create_validation(void)
{
	vz_config *cfg = good_config();
	vz_sandbox *sb = NULL;
	char file[] = "/tmp/vz-api-XXXXXX";
	const char *missing[] = { "no-such-program" }, *notexec[] = { "/etc/passwd" };
	int fd = mkstemp(file);

	CHECK_ERR(vz_sandbox_create(&sb, (vz_backend)99, cfg), VZ_EINVAL, "unknown backend 99");
	CHECK_OK(vz_config_set_rootfs(cfg, "/nonexistent/rootfs"));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_ENOENT, "/nonexistent/rootfs");
	CHECK_OK(vz_config_set_rootfs(cfg, file));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EINVAL, "not a directory");
	CHECK_OK(vz_config_set_rootfs(cfg, VZ_TEST_ROOTFS));
	CHECK_OK(vz_config_set_argv(cfg, 1, missing));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_ENOENT, "no-such-program");
	CHECK(strstr(vz_error_last()->message, VZ_TEST_ROOTFS) != NULL);
	CHECK_OK(vz_config_set_argv(cfg, 1, notexec));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EPERM, "not executable");
	CHECK_OK(vz_config_set_argv(cfg, 1, true_argv));
	CHECK_OK(vz_config_add_bind(cfg, "/nonexistent/src", "/data", 0));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_ENOENT, "/nonexistent/src");
	CHECK(sb == NULL);
	vz_config_free(cfg);
	if (fd >= 0)
		close(fd);
	unlink(file);
}

static void t_limits(void)
{
	vz_config *cfg = good_config();
	vz_sandbox *sb = NULL;

	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg));
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 0), VZ_EINVAL, "memory: must be > 0");
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_PIDS, -5), VZ_EINVAL, "pids: must be > 0");
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, INT64_MAX), VZ_EINVAL, "memory");
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_CPU, 5), VZ_EINVAL, "cpu");
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, INT64_MAX), VZ_EINVAL, "wall time");
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_OPEN_FILES, (int64_t)1 << 40), VZ_EINVAL, "open files");
	CHECK_ERR(vz_sandbox_limit(sb, (vz_limit)42, 1), VZ_EINVAL, "unknown limit kind 42");
	CHECK_OK(vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 64 << 20));
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

static void t_state_machine(void)
{
	vz_config *cfg = good_config();
	vz_sandbox *sb = NULL;
	vz_result res = { .size = sizeof(res) }, small = { .size = 4 };
	const char *why;

	if (vz_backend_available(VZ_BACKEND_CONTAINER, &why)) {
		vz_test_skip("container", "%s", why);
		vz_config_free(cfg);
		return;
	}
	CHECK_OK(vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_PIPE, -1));
	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg));
	vz_config_free(cfg); /* the sandbox holds its own copy */
	CHECK_ERR(vz_sandbox_wait(sb, 0, &res), VZ_ESTATE, "not started");
	CHECK_ERR(vz_sandbox_kill(sb, SIGTERM), VZ_ESTATE, "not started");
	CHECK_ERR(vz_sandbox_stdio_fd(sb, VZ_STDOUT), VZ_ESTATE, "not started");
	CHECK_ERR(vz_sandbox_stdio_fd(sb, VZ_STDERR), VZ_EINVAL, "not configured as a pipe");
	CHECK_ERR(vz_sandbox_wait(sb, 0, &small), VZ_EINVAL, "too small");
	CHECK_OK(vz_sandbox_start(sb));
	CHECK_ERR(vz_sandbox_start(sb), VZ_ESTATE, "already started");
	CHECK_ERR(vz_sandbox_limit(sb, VZ_LIMIT_PIDS, 10), VZ_ESTATE, "already started");
	CHECK_ERR(vz_sandbox_kill(sb, 0), VZ_EINVAL, "bad signal");
	CHECK_ERR(vz_sandbox_kill(sb, 65), VZ_EINVAL, "bad signal");
	CHECK(vz_sandbox_stdio_fd(sb, VZ_STDOUT) >= 0);
	CHECK_OK(vz_sandbox_wait(sb, 30000, &res));
	CHECK_INT(res.reason, ==, VZ_REASON_EXITED);
	CHECK_OK(vz_sandbox_wait(sb, 0, &res)); /* same result again */
	CHECK_INT(res.reason, ==, VZ_REASON_EXITED);
	CHECK_ERR(vz_sandbox_kill(sb, SIGTERM), VZ_ESTATE, "not running");
	vz_sandbox_free(sb);
}

static void t_setup_failure_is_reported(void)
{
	vz_config *cfg = good_config();
	vz_sandbox *sb = NULL;
	vz_result res = { .size = sizeof(res) };
	const char *why;

	if (vz_backend_available(VZ_BACKEND_CONTAINER, &why)) {
		vz_test_skip("container", "%s", why);
		vz_config_free(cfg);
		return;
	}
	CHECK_OK(vz_config_set_cwd(cfg, "/no/such/dir"));
	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg));
	CHECK_ERR(vz_sandbox_start(sb), VZ_ECHILD, "cwd /no/such/dir: No such file or directory");
	CHECK_OK(vz_sandbox_wait(sb, 0, &res));
	CHECK_INT(res.reason, ==, VZ_REASON_SETUP_FAILED);
	CHECK(strstr(res.message, "/no/such/dir") != NULL);
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

/* The persistent layer apart from the image; VM-only settings refused by a container;
 * a negative fd named as such. */
static void t_create_refusals(void)
{
	vz_config *cfg = good_config();
	vz_sandbox *sb = NULL;
	char upper[] = "/tmp/vz-api-upper-XXXXXX";

	CHECK_OK(vz_config_set_rootfs_mode(cfg, VZ_ROOTFS_PERSISTENT, VZ_TEST_ROOTFS));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EINVAL,
		  "is the rootfs itself");
	CHECK_OK(vz_config_set_rootfs_mode(cfg, VZ_ROOTFS_PERSISTENT, VZ_TEST_ROOTFS "/tmp"));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EINVAL, "inside the rootfs");
	if (CHECK(mkdtemp(upper))) {
		CHECK_OK(vz_config_set_rootfs_mode(cfg, VZ_ROOTFS_PERSISTENT, upper));
		CHECK_OK(vz_config_set_rootfs(cfg, upper));
		CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EINVAL,
			  "is the rootfs itself");
		rmdir(upper);
	}
	CHECK(sb == NULL);
	vz_config_free(cfg);

	cfg = good_config();
	CHECK_OK(vz_config_set_kernel(cfg, "/boot/vmlinuz"));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EINVAL, "VM setting");
	vz_config_free(cfg);
	cfg = good_config();
	CHECK_OK(vz_config_set_kernel_cmdline(cfg, "quiet"));
	CHECK_ERR(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg), VZ_EINVAL, "VM setting");
	CHECK_ERR(vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_FD, -1), VZ_EINVAL,
		  "fd -1 is not a file descriptor");
	CHECK(sb == NULL);
	vz_config_free(cfg);
}

/* Set N variables V0..V(N-1), then replace every fourth with "again" and remove the
 * others of even index. Returns the number of failed calls. */
static int fill_env(vz_config *cfg, int n)
{
	char name[32], value[32];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		snprintf(value, sizeof(value), "%d", i);
		bad += vz_config_setenv(cfg, name, value) != VZ_OK;
	}
	for (int i = 0; i < n; i += 2) {
		snprintf(name, sizeof(name), "V%d", i);
		bad += vz_config_setenv(cfg, name, i % 4 ? NULL : "again") != VZ_OK;
	}
	return bad;
}

/* Many variables: every one set, replaced and removed right. 100,000 took 31 s when
 * each setenv scanned the whole list (the figure is in the closing notes; nothing here
 * is timed). */
static void t_many_env(void)
{
	const char *argv[] = { "/bin/sh", "-c",
			       "[ \"$V0\" = again ] && [ -z \"${V2+x}\" ] && [ \"$V2999\" = 2999 ] && "
			       "[ \"$V4\" = again ] && [ $(env | grep -c '^V[0-9]') = 2250 ]" };
	vz_result res = { .size = sizeof(res) };
	vz_config *cfg = good_config();
	vz_sandbox *sb = NULL;

	CHECK_INT(fill_env(cfg, 100000), ==, 0);
	vz_config_free(cfg);
	/* What the workload sees, with fewer (execve's limit on the environment's size). */
	cfg = good_config();
	CHECK_INT(fill_env(cfg, 3000), ==, 0);
	CHECK_OK(vz_config_set_argv(cfg, 3, argv));
	if (geteuid() == 0) {
		CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_CONTAINER, cfg));
		CHECK_OK(vz_sandbox_start(sb));
		CHECK_OK(vz_sandbox_wait(sb, 60000, &res));
		CHECK_MSG(res.reason == VZ_REASON_EXITED && res.exit_code == 0,
			  "the workload saw the wrong environment: %s %d",
			  vz_reason_name(res.reason), res.exit_code);
		vz_sandbox_free(sb);
	}
	vz_config_free(cfg);
}

static void t_strings_and_version(void)
{
	for (int c = 0; c >= -12; c--)
		CHECK(vz_strerror(c) != NULL && vz_strerror(c)[0]);
	for (int r = 0; r <= 8; r++)
		CHECK(vz_reason_name(r) != NULL);
	CHECK_STR(vz_reason_name(VZ_REASON_OUT_OF_MEMORY), "out of memory");
	CHECK_STR(vz_backend_name(VZ_BACKEND_VM), "vm");
	CHECK(vz_backend_name((vz_backend)7) == NULL);
	CHECK_INT(vz_version(), ==, VZ_VERSION_NUMBER);
	CHECK_STR(vz_version_string(), VZ_VERSION_STRING);
	CHECK_ERR(vz_backend_available((vz_backend)7, NULL), VZ_EINVAL, "unknown backend 7");
}

static const struct vzt_case cases[] = {
	VZT_CASE(t_null_handles),     VZT_CASE(t_config_setters),
	VZT_CASE(t_create_validation), VZT_CASE(t_limits),
	VZT_CASE(t_state_machine),    VZT_CASE(t_setup_failure_is_reported),
	VZT_CASE(t_strings_and_version), VZT_CASE(t_create_refusals),
	VZT_CASE(t_many_env),
};

VZ_TEST_MAIN(cases)
