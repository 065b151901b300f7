/* SPDX-License-Identifier: MIT */
/* The container backend: probe, validate, and start (plan in the parent, then clone
 * the sandbox's PID 1, which builds the namespaces' contents and runs the workload). */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "common/error.h"
#include "common/ipc.h"
#include "common/sandbox.h"
#include "common/syscalls.h"
#include "common/util.h"
#include "container/plan.h"

static int read_int(const char *path, long *v)
{
	char buf[32];
	if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return -1;
	*v = strtol(buf, NULL, 10);
	return 0;
}

/* Cheap checks of what the backend needs; the definitive test is clone3 at start. */
static int ctr_probe(char *why, size_t len)
{
	static const char *const ns[] = { "pid", "mnt", "uts", "ipc", "net", "cgroup" };
	char path[64], cg[128];
	struct stat st;
	long v;
	bool root = geteuid() == 0;

	for (size_t i = 0; i < VZ_ARRAY_SIZE(ns); i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		if (stat(path, &st) < 0) {
			snprintf(why, len, "the kernel lacks %s namespaces (%s missing)", ns[i], path);
			return vz_err_set(VZ_ENOTSUP, ENOENT, "%s", why);
		}
	}
	if (!root) {
		if (stat("/proc/self/ns/user", &st) < 0 ||
		    (read_int("/proc/sys/user/max_user_namespaces", &v) == 0 && v == 0)) {
			snprintf(why, len, "user namespaces are disabled "
				 "(/proc/sys/user/max_user_namespaces is 0); run as root or enable them");
			return vz_err_set(VZ_EPERM, EPERM, "%s", why);
		}
		if (read_int("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0) {
			snprintf(why, len, "unprivileged user namespaces are disabled "
				 "(sysctl kernel.unprivileged_userns_clone=0); run as root or set it to 1");
			return vz_err_set(VZ_EPERM, EPERM, "%s", why);
		}
	}
	vz_cgroup_describe(cg, sizeof(cg));
	snprintf(why, len, "container: namespaces pid mnt uts ipc net cgroup%s, %s, overlay root",
		 root ? " (root: no user namespace by default)" : " + user namespace", cg);
	return VZ_OK;
}

static int ctr_validate(struct vz_sandbox *sb)
{
	const vz_config *cfg = sb->cfg;
	if (cfg->userns == VZ_USERNS_OFF && geteuid() != 0)
		return vz_err_set(VZ_EPERM, EPERM,
				  "container: VZ_USERNS_OFF needs root (the caller is uid %u)",
				  (unsigned)geteuid());
	/* Settings only a VM can use are refused, not silently ignored. */
	if (cfg->kernel)
		return vz_err_set(VZ_EINVAL, 0, "container: a guest kernel (vz_config_set_kernel "
				  "%s) is a VM setting; use VZ_BACKEND_VM or leave it unset",
				  cfg->kernel);
	if (cfg->kernel_cmdline)
		return vz_err_set(VZ_EINVAL, 0, "container: a kernel command line "
				  "(vz_config_set_kernel_cmdline) is a VM setting; use VZ_BACKEND_VM "
				  "or leave it unset");
	if (cfg->kernel_modules)
		return vz_err_set(VZ_EINVAL, 0, "container: a guest kernel module directory "
				  "(vz_config_set_kernel_modules %s) is a VM setting; use VZ_BACKEND_VM "
				  "or leave it unset", cfg->kernel_modules);
	if (cfg->vm_start != VZ_VM_START_RESTORE)
		return vz_err_set(VZ_EINVAL, 0, "container: a cold VM start (vz_config_set_vm_start) "
				  "is a VM setting; use VZ_BACKEND_VM or leave it unset");
	if (cfg->vm_templates)
		return vz_err_set(VZ_EINVAL, 0, "container: a template directory "
				  "(vz_config_set_vm_templates %s) is a VM setting; use VZ_BACKEND_VM "
				  "or leave it unset", cfg->vm_templates);
	return VZ_OK;
}

/* This process becomes the sandbox's PID 1 without executing anything: it is a copy of
 * the host process. Leave nothing of the host for the workload to read in /proc/1: the
 * argv and environment strings (/proc/1/cmdline, /proc/1/environ: a secret on the host
 * program's command line reached the workload) and the name (/proc/1/comm). Written
 * through process_vm_writev, which fails instead of faulting should the host have moved
 * its strings somewhere unwritable. */
static void scrub_host_strings(const struct vz_ctr_plan *plan)
{
	static const char zeros[4096];
	static const char name[] = "vz-init";
	const uintptr_t *range[2] = { plan->host_args, plan->host_env };
	pid_t self = (pid_t)syscall(SYS_getpid);

	for (int r = 0; r < 2; r++) {
		for (uintptr_t at = range[r][0]; at < range[r][1];) {
			size_t n = range[r][1] - at < sizeof(zeros) ? range[r][1] - at : sizeof(zeros);
			struct iovec local = { (void *)zeros, n }, remote = { (void *)at, n };
			if (syscall(SYS_process_vm_writev, self, &local, 1, &remote, 1, 0) != (long)n)
				break;
			at += n;
		}
	}
	if (plan->host_args[1] - plan->host_args[0] > sizeof(name)) {
		struct iovec local = { (void *)name, sizeof(name) },
			     remote = { (void *)plan->host_args[0], sizeof(name) };
		syscall(SYS_process_vm_writev, self, &local, 1, &remote, 1, 0);
	}
	prctl(PR_SET_NAME, name, 0, 0, 0);
}

static int ctr_child(const struct vz_child_chan *ch, void *arg)
{
	const struct vz_ctr_plan *plan = arg;

	/* A session of its own: the sandbox must never share the caller's terminal
	 * session (and its controlling terminal) [bwrap CVE-2017-5226]. */
	if (setsid() < 0)
		return vz_ctr_fail(ch, "setsid", ""), 127;
	scrub_host_strings(plan);
	/* In the sandbox's cgroups already (vz_proc_spawn): root a cgroup namespace there,
	 * so the workload sees its own group as "/". */
	if (unshare(CLONE_NEWCGROUP) < 0)
		return vz_ctr_fail(ch, "unshare cgroup namespace", ""), 127;
	vz_ipc_phase(ch->sync_fd, "cgroup");
	if (vz_ctr_setup_ids(plan, ch) || vz_ctr_setup_net(plan, ch))
		return 127;
	vz_ipc_phase(ch->sync_fd, "namespaces");
	if (vz_ctr_setup_rootfs(plan, ch))
		return 127;
	vz_ipc_phase(ch->sync_fd, "rootfs");
	vz_ctr_init(plan, ch);
}

static uint64_t clone_flags(const struct vz_ctr_plan *plan)
{
	uint64_t f = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
	if (plan->cfg->network != VZ_NET_HOST)
		f |= CLONE_NEWNET;
	if (plan->userns)
		f |= CLONE_NEWUSER;
	return f;
}

static int ctr_start(struct vz_sandbox *sb)
{
	struct vz_ctr_plan plan;
	int rc;

	if ((rc = vz_ctr_plan_build(&plan, sb))) {
		vz_ctr_plan_release(&plan);
		return rc;
	}
	vz_sandbox_add_phase(sb, "plan", vz_now_ns());
	rc = vz_proc_spawn(&sb->proc, sb, clone_flags(&plan), sb->cgroup, ctr_child, &plan);
	if (rc == VZ_ERROR && vz_error_last()->os_errno == EPERM && plan.userns)
		vz_err_wrap("creating a user namespace was refused (are unprivileged user "
			    "namespaces enabled?)");
	vz_ctr_plan_release(&plan);
	return rc;
}

const struct vz_backend_ops vz_container_backend = {
	.id = VZ_BACKEND_CONTAINER,
	.name = "container",
	.probe = ctr_probe,
	.validate = ctr_validate,
	.start = ctr_start,
	/* Only the device allow-list (cgroup.c) in the container's group. */
	.cgroup_flags = VZ_CG_DEVICES,
	/* init.c kills and reaps the namespace before it reports. */
	.final_report = true,
	/* init.c waits for VZ_IPC_GO before it forks the workload. */
	.can_prepare = true,
};
