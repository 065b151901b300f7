/* SPDX-License-Identifier: MIT */
/* The supervised child: one process per started sandbox (container init or VMM),
 * created with clone3 and a pidfd, exit signal 0 (so the host's SIGCHLD handler and
 * waitpid(-1) never see it). Shared by both backends. */
#ifndef VZ_COMMON_PROC_H
#define VZ_COMMON_PROC_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* What the child gets. Every fd is >= 3 and close-on-exec. */
struct vz_child_chan {
	int sync_fd;   /* write end: phase marks and errors; EOF at exec means "running" */
	int status_fd; /* socket: final VZ_IPC_EXIT; POLLHUP when the parent process is gone */
};

struct vz_proc {
	pid_t pid;
	int pidfd;
	int status_fd; /* parent end of the status socket */
	int sync_fd;   /* read end of the sync pipe while prepared, else -1 */
};

struct vz_sandbox;

/* Child entry: runs in the new process; its return value is the exit code. It must
 * only use async-signal-safe calls. */
typedef int (*vz_child_fn)(const struct vz_child_chan *ch, void *arg);

/* Clone the child with @flags (namespaces) into the sandbox's cgroup @cg (NULL: none;
 * v2: born in it through CLONE_INTO_CGROUP; v1: the child joins its groups before
 * @fn), run @fn in it, and read its sync pipe until EOF. Phase marks are recorded in
 * @sb; an error message from the child becomes this thread's error (VZ_ECHILD or the
 * code sent) and the child is killed and reaped. @sb may be NULL (no phases). */
struct vz_cgroup;
int vz_proc_spawn(struct vz_proc *p, struct vz_sandbox *sb, uint64_t flags, const struct vz_cgroup *cg,
		  vz_child_fn fn, void *arg);

/* A prepared child (its @fn sent VZ_IPC_PREPARED, and vz_proc_spawn returned with
 * p->sync_fd kept): send it VZ_IPC_GO with @deadline_ns and read its sync pipe on
 * until the workload runs, as vz_proc_spawn does. On failure the child is killed and
 * reaped, and the error recorded. */
int vz_proc_go(struct vz_proc *p, struct vz_sandbox *sb, uint64_t deadline_ns);

/* Child side of a prepared start: say so on the sync pipe and block until the parent
 * sends VZ_IPC_GO. Returns the deadline it carries (0: none), or -1 when the parent
 * is gone or sent something else. Async-signal-safe. */
int64_t vz_proc_wait_go(const struct vz_child_chan *ch);

/* Kill (SIGKILL) and reap the child if it still runs; close its fds. */
void vz_proc_reap_forced(struct vz_proc *p);

#endif
