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

/* Kill (SIGKILL) and reap the child if it still runs; close its fds. */
void vz_proc_reap_forced(struct vz_proc *p);

#endif
