/* SPDX-License-Identifier: MIT */
/* Thin wrappers for system calls glibc 2.36 does not wrap (or wraps with side effects
 * that are wrong in a child cloned from a multithreaded process). */
#ifndef VZ_COMMON_SYSCALLS_H
#define VZ_COMMON_SYSCALLS_H

#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* A system call without libc: returns the result or -errno and never touches errno,
 * which lives in thread-local storage that bare threads (the VMM's vCPUs) share with
 * the thread that created them. */
static inline long vz_rsys6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline pid_t vz_sys_clone3(struct clone_args *args)
{
	return (pid_t)syscall(SYS_clone3, args, sizeof(*args));
}

/* A plain fork through the raw system call: no atfork handlers of the host program run
 * in the child, which matters in a child of a multithreaded process. */
static inline pid_t vz_sys_fork(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

static inline int vz_sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static inline int vz_sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* waitid with the rusage argument glibc's wrapper hides. */
static inline int vz_sys_waitid(int idtype, int id, siginfo_t *info, int options, struct rusage *ru)
{
	return (int)syscall(SYS_waitid, idtype, id, info, options, ru);
}

static inline int vz_sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static inline int vz_sys_close_range(unsigned first, unsigned last, unsigned flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

static inline int vz_sys_sigaction_default(int sig)
{
	/* Kernel sigaction layout: handler, flags, restorer, mask (8 bytes). */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} sa = { 0 };
	return (int)syscall(SYS_rt_sigaction, sig, &sa, NULL, 8);
}

static inline int vz_sys_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
	return (int)syscall(SYS_rt_sigprocmask, how, set, old, 8);
}

#endif
