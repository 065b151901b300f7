/* SPDX-License-Identifier: MIT */
/* The workload's last steps, in the child forked by init: stdio, limits, signals,
 * working directory, privileges, seccomp, then execve. Every failure is reported over
 * the sync pipe with the step that failed. */
#include <fcntl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vz/error.h>

#include "common/ipc.h"
#include "common/syscalls.h"
#include "common/util.h"
#include "container/plan.h"
#include "security/security.h"

__attribute__((noreturn)) static void die(const struct vz_child_chan *ch, const char *what,
					  const char *arg)
{
	vz_ctr_fail(ch, what, arg);
	_exit(127);
}

static void setup_stdio(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	for (int i = 0; i < 3; i++) {
		if (plan->stdio[i] >= 0) {
			if (dup2(plan->stdio[i], i) < 0)
				die(ch, "install stdio", "");
		} else {
			/* Inherited stream: make sure it survives execve. */
			int fl = fcntl(i, F_GETFD);
			if (fl >= 0 && (fl & FD_CLOEXEC))
				fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
		}
	}
}

/* Dispositions the host program set (SIG_IGN survives execve, e.g. Python's SIGPIPE)
 * and the mask init blocked must not leak into the workload. */
static void reset_signals(void)
{
	uint64_t none = 0;
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			vz_sys_sigaction_default(sig);
	vz_sys_sigprocmask(SIG_SETMASK, &none, NULL);
}

static void drop_privileges(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	const vz_config *cfg = plan->cfg;
	int err;

	if ((err = vz_sec_caps_drop()) < 0) {
		errno = -err;
		die(ch, "drop capabilities", "");
	}
	/* With a single-id user namespace setgroups is denied, and there are no other
	 * groups to drop anyway. */
	/* Raw system calls: glibc's set*id wrappers broadcast the change to every thread
	 * glibc believes exists, taking its stack-cache lock, which another thread of the
	 * host may have held at the moment of clone; this child has one thread only. */
	if (!plan->userns && syscall(SYS_setgroups, 0, NULL) < 0)
		die(ch, "setgroups", "");
	if (syscall(SYS_setresgid, cfg->gid, cfg->gid, cfg->gid) < 0)
		die(ch, "setresgid", "");
	if (syscall(SYS_setresuid, cfg->uid, cfg->uid, cfg->uid) < 0)
		die(ch, "setresuid", "");
}

void vz_ctr_exec(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	const vz_config *cfg = plan->cfg;
	int err;

	reset_signals();
	/* The workload leads a session of its own too (init's has no terminal either):
	 * an inherited terminal descriptor is then never its controlling terminal, and
	 * TIOCSTI on it is refused [bwrap CVE-2017-5226]; seccomp refuses it as well. */
	if (setsid() < 0)
		die(ch, "setsid", "");
	setup_stdio(plan, ch);
	if (plan->nofile) {
		struct rlimit rl = { (rlim_t)plan->nofile, (rlim_t)plan->nofile };
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die(ch, "limit open files: setrlimit", "");
	}
	if (chdir(cfg->cwd) < 0)
		die(ch, "cwd ", cfg->cwd);
	drop_privileges(plan, ch);
	if ((err = vz_sec_seccomp_install()) < 0) {
		errno = -err;
		die(ch, "install seccomp filter", "");
	}
	/* Every descriptor but 0-2 closes at execve, including the sync pipe: its EOF
	 * tells the parent the program runs. */
	vz_sys_close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	vz_ipc_phase(ch->sync_fd, "exec");
	execve(plan->exe, cfg->argv, cfg->env);
	die(ch, "execve ", plan->exe);
}
