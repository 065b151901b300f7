/* SPDX-License-Identifier: MIT */
/* `vz check`: what this host can run, and why not.
 *
 * The verdict per backend is libvz's own (vz_backend_available()). The host details
 * below it are probed here, by the command line, because the public API has no call
 * for them yet: user namespaces, cgroups, overlayfs, /dev/kvm and its kind, the guest
 * kernel and the default rootfs. They explain a "no"; they do not decide it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* libvz's built-in defaults, passed by src/cli/CMakeLists.txt. */
#ifndef VZ_DEFAULT_ROOTFS
#define VZ_DEFAULT_ROOTFS "/usr/local/share/libvz/rootfs"
#endif
#ifndef VZ_DEFAULT_KERNEL
#define VZ_DEFAULT_KERNEL NULL /* a libvz without the VM backend */
#endif

static void item(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void item(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("  %-16s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* First line of a small file, without its newline; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok = f && fgets(buf, (int)len, f);

	if (f)
		fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

static bool file_has_word(const char *path, const char *word)
{
	char line[512];
	FILE *f = fopen(path, "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		for (char *t = strtok(line, " \t\n"); t && !found; t = strtok(NULL, " \t\n"))
			found = !strcmp(t, word);
	if (f)
		fclose(f);
	return found;
}

/* Run @fn in a forked child (vz is single-threaded here); 0 or the errno it failed with. */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(fn());
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));
	int err = errno;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text) ? 0 : (err ? err : EIO);
}

/* As an unprivileged user: can it create a user namespace? */
static int probe_userns(void)
{
	if (geteuid() == 0 &&
	    (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0))
		return errno;
	return unshare(CLONE_NEWUSER) < 0 ? errno : 0;
}

/* Map our own ids in a fresh user namespace (non-root callers), as libvz does. */
static int enter_userns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int err;

	if (unshare(CLONE_NEWUSER) < 0)
		return errno;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if ((err = write_file("/proc/self/uid_map", map)) ||
	    (err = write_file("/proc/self/setgroups", "deny")))
		return err;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	return write_file("/proc/self/gid_map", map);
}

/* An overlay of tmpfs layers in a private mount namespace (nothing leaks to the host). */
static int probe_overlay(void)
{
	static const char *const dirs[] = { "/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m" };
	int err;

	if (geteuid() != 0 && (err = enter_userns()))
		return err;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/tmp", "tmpfs", 0, NULL) < 0)
		return errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(dirs[i], 0755) < 0)
			return errno;
	if (mount("overlay", "/tmp/m", "overlay", 0,
		  "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w") < 0)
		return errno;
	return 0;
}

static void check_userns(void)
{
	char v[64];
	int err;

	if (read_line("/proc/sys/user/max_user_namespaces", v, sizeof(v)) && !strcmp(v, "0")) {
		item("user namespaces", "no: disabled (sysctl user.max_user_namespaces = 0)");
		return;
	}
	if (read_line("/proc/sys/kernel/unprivileged_userns_clone", v, sizeof(v)) &&
	    !strcmp(v, "0"))
		item("user namespaces", "root only (sysctl kernel.unprivileged_userns_clone = 0)");
	err = in_child(probe_userns);
	if (err)
		item("user namespaces", "unprivileged users: no (unshare: %s)%s", strerror(err),
		     geteuid() == 0 ? "; not needed as root" : "; containers need root here");
	else
		item("user namespaces", "yes (unprivileged users can create them)");
}

/* cgroup v1: the controllers libvz uses, each mounted as /sys/fs/cgroup/NAME. */
static void check_cgroup_v1(bool hybrid)
{
	static const char *const used[] = { "memory", "pids", "cpu" };
	char list[128] = "", path[64];
	struct stat st;

	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", used[i]);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		strcat(list, " ");
		strcat(list, used[i]);
		if (access(path, W_OK) < 0)
			strcat(list, "(read-only)");
	}
	item("cgroups", "v1%s; controllers libvz uses:%s",
	     hybrid ? " (hybrid, v2 unified too)" : "", list[0] ? list : " none mounted");
}

static void check_cgroup_v2(void)
{
	char ctl[256] = "", own[512] = "", path[600];
	FILE *f = fopen("/proc/self/cgroup", "re");

	read_line("/sys/fs/cgroup/cgroup.controllers", ctl, sizeof(ctl));
	/* "0::/path": the cgroup this process is in; libvz creates sandboxes below it. */
	while (f && fgets(own, sizeof(own), f) && strncmp(own, "0::", 3))
		own[0] = '\0';
	if (f)
		fclose(f);
	own[strcspn(own, "\n")] = '\0';
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s", own[0] ? own + 3 : "");
	item("cgroups", "v2; controllers: %s; own cgroup %s %s", ctl[0] ? ctl : "none",
	     own[0] ? own + 3 : "?", access(path, W_OK) == 0 ? "(writable)" : "(not writable)");
}

static void check_cgroups(void)
{
	struct statfs sf;
	struct stat st;

	if (statfs("/sys/fs/cgroup", &sf) < 0)
		item("cgroups", "no: /sys/fs/cgroup: %s", strerror(errno));
	else if (sf.f_type == CGROUP2_SUPER_MAGIC)
		check_cgroup_v2();
	else if (sf.f_type == TMPFS_MAGIC)
		check_cgroup_v1(stat("/sys/fs/cgroup/unified", &st) == 0);
	else
		item("cgroups",
		     "no cgroup file system at /sys/fs/cgroup: limits cannot be enforced");
}

static void check_overlay(void)
{
	int err = in_child(probe_overlay);

	if (!err)
		item("overlayfs", "yes (an overlay mounts in a private mount namespace)");
	else
		item("overlayfs", "no: test mount failed: %s%s", strerror(err),
		     file_has_word("/proc/filesystems", "overlay") ? "" : " (modprobe overlay)");
}

/* Which KVM module serves /dev/kvm: hardware VT-x or AMD-V, or the software kvm_pvm. */
static const char *kvm_kind(void)
{
	struct stat st;

	if (stat("/sys/module/kvm_pvm", &st) == 0)
		return "kvm_pvm (software: guest kernel mode is emulated, boots are slow)";
	if (stat("/sys/module/kvm_intel", &st) == 0)
		return "kvm_intel (hardware VT-x)";
	if (stat("/sys/module/kvm_amd", &st) == 0)
		return "kvm_amd (hardware AMD-V)";
	return "unknown module";
}

static void check_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		if (errno == ENOENT)
			item("kvm", "no /dev/kvm (no KVM module loaded%s)",
			     file_has_word("/proc/cpuinfo", "hypervisor")
				     ? ", or nested virtualization is off in this VM"
				     : "");
		else if (errno == EACCES || errno == EPERM)
			item("kvm", "/dev/kvm: permission denied (add the user to group kvm)");
		else
			item("kvm", "/dev/kvm: %s", strerror(errno));
		return;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (version != KVM_API_VERSION)
		item("kvm", "/dev/kvm: unexpected API version %d", version);
	else
		item("kvm", "yes, %s", kvm_kind());
}

static void check_path(const char *what, const char *env, const char *fallback,
		       const char *missing_hint)
{
	const char *val = getenv(env);
	const char *path = val && *val ? val : fallback;
	struct stat st;

	if (!path) {
		item(what, "$%s is not set; libvz's own search is in the vm line above", env);
		return;
	}
	if (stat(path, &st) == 0)
		item(what, "%s (%s)", path, val && *val ? env : "the installed default");
	else
		item(what, "%s (%s): %s%s", path, val && *val ? env : "the installed default",
		     strerror(errno), val && *val ? "" : missing_hint);
}

static int backends(vz_backend only)
{
	static const vz_backend all[] = { VZ_BACKEND_CONTAINER, VZ_BACKEND_VM };
	int usable = 0;

	printf("Backends (libvz %s):\n", vz_version_string());
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *why = NULL;
		bool ok = vz_backend_available(all[i], &why) == 0;

		if (only && all[i] != only)
			continue;
		usable += ok;
		printf("  %-16s %s: %s\n", vz_backend_name(all[i]), ok ? "yes" : "no",
		       why && *why ? why : vz_error_last()->message);
	}
	return usable;
}

static void usage(FILE *f)
{
	fputs("Usage: vz check [--backend container|vm]\n"
	      "\n"
	      "Print which backends this host can run (libvz's verdict) and the host details\n"
	      "behind it: user namespaces, cgroups, overlayfs, KVM and its kind, the guest\n"
	      "kernel and the default rootfs. Exit status: 0 if a backend (or the one named)\n"
	      "is available, 1 if not, 125 on a bad option.\n",
	      f);
}

int vz_cli_check(int argc, char **argv)
{
	static const struct option opts[] = { { "backend", required_argument, NULL, 'b' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	vz_backend only = 0;
	const char *why;
	int c, usable;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:b:h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'b' && vz_cli_parse_backend(optarg, &only, &why) < 0)
			return vz_cli_fail("check: --backend %s: %s", optarg, why);
		if (c == ':')
			return vz_cli_fail("check: option %s needs a value", argv[optind - 1]);
		if (c == '?')
			return vz_cli_fail("check: unknown option %s (see vz check --help)",
					   argv[optind - 1]);
	}
	if (optind < argc)
		return vz_cli_fail("check: unexpected argument '%s'", argv[optind]);
	usable = backends(only);
	printf("\nHost details (probed by vz itself, not by libvz):\n");
	check_userns();
	check_cgroups();
	check_overlay();
	check_kvm();
	check_path("guest kernel", "VZ_KERNEL", VZ_DEFAULT_KERNEL, "; see tools/guest-kernel");
	check_path("default rootfs", "VZ_ROOTFS", VZ_DEFAULT_ROOTFS, "; run tools/setup.sh");
	return usable ? 0 : 1;
}
