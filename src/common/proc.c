/* SPDX-License-Identifier: MIT */
/* Spawning and reaping the supervised child. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cgroup.h"
#include "common/error.h"
#include "common/ipc.h"
#include "common/proc.h"
#include "common/sandbox.h"
#include "common/syscalls.h"
#include "common/util.h"

/* Channels whose ends are close-on-exec and >= 3, so the child can install its stdio
 * on 0-2 without clobbering them even when the host has closed its own 0-2. */
static int raise_pair(int p[2])
{
	p[0] = vz_fd_above_stdio(p[0]);
	p[1] = vz_fd_above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		vz_close(&p[0]);
		vz_close(&p[1]);
		return -1;
	}
	return 0;
}

static int high_pipe(int p[2])
{
	return pipe2(p, O_CLOEXEC) < 0 ? -1 : raise_pair(p);
}

static int high_socketpair(int s[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) < 0 ? -1 : raise_pair(s);
}

/* Read the child's sync pipe until EOF: phase marks, then either an error or the EOF
 * that close-on-exec produces when the workload has been executed. */
/* The wall-time limit runs from vz_sandbox_start(): a start that outlives it (a VM
 * still booting) is ended here, and the result says timed out. */
static void wait_readable(int fd, struct vz_sandbox *sb, int pidfd)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = vz_now_ns();
		int ms = -1;

		if (sb && sb->deadline_ns && !sb->timed_out) {
			if (now >= sb->deadline_ns) {
				pthread_mutex_lock(&sb->lock);
				sb->timed_out = true;
				vz_sys_pidfd_send_signal(pidfd, SIGKILL);
				pthread_mutex_unlock(&sb->lock);
				continue;
			}
			ms = vz_poll_ms(sb->deadline_ns, now);
		}
		if (poll(&pfd, 1, ms) != 0)
			return; /* readable, hung up, or an error the read will report */
	}
}

static int read_sync(int fd, struct vz_sandbox *sb, int pidfd)
{
	struct vz_ipc_msg m;
	char ebuf[128];

	for (;;) {
		ssize_t n;
		wait_readable(fd, sb, pidfd);
		n = vz_read_full(fd, &m, sizeof(m));
		if (n < 0)
			return vz_err_sys(VZ_ERROR, "read from sandbox child");
		if (n == 0)
			return VZ_OK;
		if (n != (ssize_t)sizeof(m))
			return vz_err_set(VZ_ECHILD, 0, "sandbox child sent a truncated message");
		m.name[sizeof(m.name) - 1] = m.text[sizeof(m.text) - 1] = '\0';
		switch (m.type) {
		case VZ_IPC_PHASE:
			if (sb)
				vz_sandbox_add_phase(sb, m.name, m.t_ns);
			break;
		case VZ_IPC_READY:
			return VZ_OK;
		case VZ_IPC_PREPARED:
			return 1;
		case VZ_IPC_ERROR:
			if (m.os_errno)
				return vz_err_set(m.code < 0 ? m.code : VZ_ECHILD, m.os_errno, "%s: %s",
						  m.text, strerror_r(m.os_errno, ebuf, sizeof(ebuf)));
			return vz_err_set(m.code < 0 ? m.code : VZ_ECHILD, 0, "%s", m.text);
		default:
			return vz_err_set(VZ_ECHILD, 0, "sandbox child sent unknown message %u",
					  m.type);
		}
	}
}

void vz_proc_reap_forced(struct vz_proc *p)
{
	siginfo_t si;

	if (p->pidfd >= 0) {
		vz_sys_pidfd_send_signal(p->pidfd, SIGKILL);
		while (vz_sys_waitid(P_PIDFD, p->pidfd, &si, WEXITED | __WALL, NULL) < 0 &&
		       errno == EINTR)
			;
	}
	vz_close(&p->pidfd);
	vz_close(&p->status_fd);
	vz_close(&p->sync_fd);
	p->pid = 0;
}

/* vz_proc_reap_forced under the sandbox's lock: vz_sandbox_kill() may be racing. */
static void reap_forced(struct vz_proc *p, struct vz_sandbox *sb)
{
	if (sb)
		pthread_mutex_lock(&sb->lock);
	vz_proc_reap_forced(p);
	if (sb)
		pthread_mutex_unlock(&sb->lock);
}

static int child_main(int sync_w, int status_c, const struct vz_cgroup *cg, vz_child_fn fn,
		      void *arg)
{
	struct vz_child_chan ch = { .sync_fd = sync_w, .status_fd = status_c };
	int err;

	vz_ipc_phase(sync_w, "clone");
	/* Both backends' child (container init, VMM) is in the sandbox's groups before it
	 * does anything: on v1 by joining here (the descriptors are inherited ones). */
	if ((err = vz_cgroup_join_child(cg)) < 0) {
		vz_ipc_error(sync_w, VZ_ERROR, -err, "join the sandbox's cgroup", NULL, NULL);
		return 127;
	}
	return fn(&ch, arg);
}

int vz_proc_spawn(struct vz_proc *p, struct vz_sandbox *sb, uint64_t flags,
		  const struct vz_cgroup *cg, vz_child_fn fn, void *arg)
{
	int cgroup_fd = cg && cg->version == 2 ? cg->dirfd : -1;
	int sync[2] = { -1, -1 }, status[2] = { -1, -1 }, pidfd = -1, rc;
	struct clone_args ca = { 0 };
	pid_t pid;

	*p = (struct vz_proc){ .pid = 0, .pidfd = -1, .status_fd = -1, .sync_fd = -1 };
	if (high_pipe(sync) < 0 || high_socketpair(status) < 0) {
		rc = vz_err_sys(VZ_ERROR, "start: create sandbox channels");
		goto out;
	}
	ca.flags = flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	/* Exit signal 0: the host's SIGCHLD handler and waitpid(-1) never see this child;
	 * only waitid(P_PIDFD, __WALL) reaps it. */
	ca.exit_signal = 0;
	ca.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
	pid = vz_sys_clone3(&ca);
	if (pid < 0) {
		rc = vz_err_sys(vz_status_from_errno(errno), "start: clone3");
		goto out;
	}
	if (pid == 0) {
		close(sync[0]);
		close(status[0]);
		_exit(child_main(sync[1], status[1], cg, fn, arg));
	}
	vz_close(&sync[1]);
	vz_close(&status[1]);
	/* Published under the sandbox's lock: vz_sandbox_kill() may run in another thread
	 * while start waits here (e.g. to stop a VM that is still booting). */
	if (sb)
		pthread_mutex_lock(&sb->lock);
	p->pid = pid;
	p->pidfd = pidfd;
	p->status_fd = vz_steal_fd(&status[0]);
	if (sb)
		pthread_mutex_unlock(&sb->lock);
	rc = read_sync(sync[0], sb, pidfd);
	if (rc == 1) { /* prepared: the rest of the pipe is vz_proc_go()'s */
		p->sync_fd = vz_steal_fd(&sync[0]);
		rc = VZ_OK;
	} else if (rc) {
		reap_forced(p, sb);
	}
out:
	vz_close(&sync[0]);
	vz_close(&sync[1]);
	vz_close(&status[0]);
	vz_close(&status[1]);
	return rc;
}

int vz_proc_go(struct vz_proc *p, struct vz_sandbox *sb, uint64_t deadline_ns)
{
	struct vz_ipc_msg go = { .type = VZ_IPC_GO, .t_ns = deadline_ns };
	int rc;

	bool sent = send(p->status_fd, &go, sizeof(go), MSG_NOSIGNAL) == (ssize_t)sizeof(go);

	/* Read on even if the child is gone: what it said before it went is there. */
	rc = read_sync(p->sync_fd, sb, p->pidfd);
	if (rc == VZ_OK && !sent)
		rc = vz_err_set(VZ_ECHILD, 0, "start: the prepared sandbox's supervisor is gone");
	vz_close(&p->sync_fd);
	if (rc) {
		if (rc == 1)
			rc = vz_err_set(VZ_ECHILD, 0, "sandbox child sent a second prepared message");
		reap_forced(p, sb);
	}
	return rc;
}

int64_t vz_proc_wait_go(const struct vz_child_chan *ch)
{
	struct vz_ipc_msg m = { .type = VZ_IPC_PREPARED };
	ssize_t n;

	vz_ipc_send(ch->sync_fd, &m);
	do
		n = recv(ch->status_fd, &m, sizeof(m), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(m) || m.type != VZ_IPC_GO || m.t_ns > INT64_MAX)
		return -1;
	return (int64_t)m.t_ns;
}
