/* SPDX-License-Identifier: MIT */
/* System calls without libc, for the VMM. The VMM runs in a child cloned from a possibly
 * multithreaded host program (DESIGN.md section 2): there, glibc's locks (malloc, stdio,
 * the thread list) may be held by threads that no longer exist, so the VMM allocates
 * nothing from libc, creates its vCPU threads with a bare clone, and in those threads
 * calls the kernel directly. These wrappers return the result or -errno and never touch
 * errno (which lives in thread-local storage the bare threads share). */
#ifndef VZ_KVM_SYS_H
#define VZ_KVM_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "common/syscalls.h"

#define vz_rsys(n, a, b, c) vz_rsys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline long vz_r_ioctl(int fd, unsigned long req, const void *arg)
{
	return vz_rsys(SYS_ioctl, fd, req, arg);
}
static inline long vz_r_ioctl_val(int fd, unsigned long req, unsigned long arg)
{
	return vz_rsys(SYS_ioctl, fd, req, arg);
}
static inline long vz_r_write(int fd, const void *buf, size_t len)
{
	return vz_rsys(SYS_write, fd, buf, len);
}
static inline long vz_r_read(int fd, void *buf, size_t len)
{
	return vz_rsys(SYS_read, fd, buf, len);
}
static inline long vz_r_close(int fd)
{
	return vz_rsys(SYS_close, fd, 0, 0);
}
static inline long vz_r_open(const char *path, int flags)
{
	return vz_rsys6(SYS_openat, -100 /* AT_FDCWD */, (long)path, flags, 0, 0, 0);
}
static inline void *vz_r_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)vz_rsys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}
static inline int vz_r_mmap_failed(const void *p)
{
	return (unsigned long)p >= (unsigned long)-4095;
}
static inline long vz_r_munmap(void *addr, size_t len)
{
	return vz_rsys(SYS_munmap, addr, len, 0);
}
static inline long vz_r_madvise(void *addr, size_t len, int advice)
{
	return vz_rsys(SYS_madvise, addr, len, advice);
}
static inline long vz_r_eventfd_write(int fd)
{
	uint64_t one = 1;
	return vz_r_write(fd, &one, sizeof(one));
}
static inline long vz_r_tgkill(int tgid, int tid, int sig)
{
	return vz_rsys(SYS_tgkill, tgid, tid, sig);
}
static inline long vz_r_gettid(void)
{
	return vz_rsys(SYS_gettid, 0, 0, 0);
}
static inline long vz_r_getpid(void)
{
	return vz_rsys(SYS_getpid, 0, 0, 0);
}
static inline long vz_r_futex_wait(volatile int *addr, int val)
{
	return vz_rsys6(SYS_futex, (long)addr, 0 /* FUTEX_WAIT */, val, 0, 0, 0);
}
static inline void vz_r_exit_group(int code)
{
	vz_rsys(SYS_exit_group, code, 0, 0);
	__builtin_unreachable();
}

/* @v in decimal into @b (room for 21 bytes); returns @b. Allocation-free, for the VMM's
 * threads (command-line words, /proc/self/fd names, id maps). */
static inline char *vz_utoa(char *b, uint64_t v)
{
	char t[20];
	int n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 20);
	for (int i = 0; i < n; i++)
		b[i] = t[n - 1 - i];
	b[n] = '\0';
	return b;
}

/* A spinlock for device state shared by vCPU threads and the VMM's main thread;
 * critical sections are a few instructions long. */
typedef struct {
	volatile int v;
} vz_spinlock;

static inline void vz_spin_lock(vz_spinlock *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->v, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}
static inline void vz_spin_unlock(vz_spinlock *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

/* Start @fn(@arg) on a new thread of this process, on the stack that ends at @stack_top,
 * with a bare clone (no libc thread state; @fn may only use the vz_r_* calls). The
 * kernel clears *@ctid and wakes futex waiters when the thread exits. Returns the
 * thread id or -errno. */
long vz_thread_spawn(void *stack_top, volatile int *ctid, void (*fn)(void *), void *arg);

#endif
