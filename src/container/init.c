/* SPDX-License-Identifier: MIT */
/* libvz's PID 1 inside the container: forks the workload, reaps every orphan, forwards
 * the signals it is sent, enforces the wall-time limit, and reports the workload's exact
 * end (exit code or signal) to the parent before exiting with a shell-style status.
 * When it exits, the kernel kills whatever is left in the PID namespace. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <vz/sandbox.h>

#include "common/ipc.h"
#include "common/syscalls.h"
#include "common/util.h"
#include "container/plan.h"

struct init_state {
	pid_t workload;
	int status; /* wait status of the workload, valid when done */
	bool done;
};

static void reap(struct init_state *st)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == st->workload) {
			st->status = status;
			st->done = true;
		}
	}
}

/* Report the end and leave. Every other process of the namespace is killed and reaped
 * first, so that once the caller has the result nothing of the workload runs any more
 * (a background child cannot write to a bind after wait() returned); the slow part of
 * the teardown (mounts, network namespace) then happens after the report, off the
 * caller's path. */
__attribute__((noreturn)) static void finish(const struct vz_child_chan *ch, int reason, int value)
{
	kill(-1, SIGKILL); /* the namespace's init sends to all but itself */
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
	vz_ipc_exit(ch->status_fd, reason, value, "");
	_exit(reason == VZ_REASON_EXITED ? value : 128 + value);
}

__attribute__((noreturn)) static void supervise(uint64_t deadline_ns,
						const struct vz_child_chan *ch, int sigfd,
						struct init_state *st)
{
	struct pollfd pfd[2] = { { .fd = sigfd, .events = POLLIN },
				 { .fd = ch->status_fd, .events = POLLIN } };
	for (;;) {
		struct signalfd_siginfo si;
		int n = poll(pfd, 2, vz_poll_ms(deadline_ns, vz_now_ns()));

		if (n < 0 && errno != EINTR)
			finish(ch, VZ_REASON_CRASHED, SIGABRT);
		if (n == 0) /* wall time is up: leaving kills the whole namespace */
			finish(ch, VZ_REASON_TIMED_OUT, SIGKILL);
		if (n > 0 && pfd[1].revents) /* the host process is gone: end with it */
			_exit(128 + SIGKILL);
		if (n <= 0 || !(pfd[0].revents & POLLIN))
			continue;
		if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGCHLD)
			reap(st);
		else
			kill(st->workload, (int)si.ssi_signo);
		if (st->done) {
			if (WIFEXITED(st->status))
				finish(ch, VZ_REASON_EXITED, WEXITSTATUS(st->status));
			finish(ch, VZ_REASON_SIGNALED, WTERMSIG(st->status));
		}
	}
}

/* Close every descriptor but the two init needs: it would otherwise hold, for the
 * sandbox's whole life, whatever the host process had open when it cloned, such as the
 * caller's end of another sandbox's stdin pipe (which would then never see EOF). */
static void close_others(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	if (lo > 3)
		vz_sys_close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		vz_sys_close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	vz_sys_close_range((unsigned)hi + 1, ~0u, 0);
	/* The host's stdio too: init itself never reads or writes it. */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		for (int fd = 0; fd < 3; fd++)
			dup2(null, fd);
		if (null > 2)
			close(null);
	}
}

void vz_ctr_init(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	uint64_t all = ~0ull, deadline_ns = plan->deadline_ns;
	struct init_state st = { 0 };
	sigset_t set;
	int sigfd;

	/* Block every signal before forking, so none is lost between fork and the
	 * signalfd; the workload unblocks them before execve. A blocked signal is queued
	 * even for a namespace's init, which otherwise ignores signals it has no handler
	 * for. */
	vz_sys_sigprocmask(SIG_SETMASK, &all, NULL);
	/* A host that ignores SIGCHLD (or sets SA_NOCLDWAIT) would pass that on through
	 * clone: the kernel would then reap the workload itself and init never see it end. */
	vz_sys_sigaction_default(SIGCHLD);
	sigfillset(&set);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd >= 0 && sigfd < 3) {
		/* Keep 0-2 for the /dev/null that close_others() installs. */
		int hi = fcntl(sigfd, F_DUPFD_CLOEXEC, 3);
		close(sigfd);
		sigfd = hi;
	}
	if (sigfd < 0) {
		vz_ctr_fail(ch, "init: signalfd", "");
		_exit(127);
	}
	/* Prepared (vz_sandbox_prepare): everything is set up; the workload runs when the
	 * parent says so, and its wall time counts from then. */
	if (plan->prepare) {
		int64_t d = vz_proc_wait_go(ch);
		if (d < 0)
			_exit(127); /* the parent is gone, or freed the sandbox unstarted */
		deadline_ns = (uint64_t)d;
	}
	st.workload = vz_sys_fork();
	if (st.workload < 0) {
		vz_ctr_fail(ch, "init: fork workload", "");
		_exit(127);
	}
	if (st.workload == 0) {
		close(sigfd);
		vz_ctr_exec(plan, ch);
	}
	/* Only the workload holds the sync pipe now (init closes its copy below): its
	 * execve closes it, which tells the parent the program runs. */
	close_others(sigfd, ch->status_fd);
	/* Not ptrace-able or dumpable by the workload, even if it runs as root. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	supervise(deadline_ns, ch, sigfd, &st);
}
