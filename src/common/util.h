/* SPDX-License-Identifier: MIT */
/* Small helpers: cleanup attributes, EINTR-safe I/O, clocks, fd utilities. */
#ifndef VZ_COMMON_UTIL_H
#define VZ_COMMON_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define VZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Cleanup attributes [crun, bwrap]: a local released on every return path. */
static inline void vz_freep(void *p)
{
	free(*(void **)p);
}
static inline void vz_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define vz_autofree __attribute__((cleanup(vz_freep)))
#define vz_autoclose __attribute__((cleanup(vz_closep)))

static inline void *vz_steal_ptr(void *pp)
{
	void **p = (void **)pp;
	void *v = *p;
	*p = NULL;
	return v;
}
#define vz_steal_pointer(pp) ((__typeof__(*(pp)))vz_steal_ptr(pp))

static inline int vz_steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

static inline void vz_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static inline uint64_t vz_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A poll timeout: milliseconds from @now until @deadline_ns (rounded up, 0 once passed,
 * at most INT_MAX), or -1 for no deadline (0). */
static inline int vz_poll_ms(uint64_t deadline_ns, uint64_t now)
{
	if (!deadline_ns)
		return -1;
	if (deadline_ns <= now)
		return 0;
	return (deadline_ns - now) / 1000000 >= 0x7fffffff ? 0x7fffffff
							   : (int)((deadline_ns - now + 999999) / 1000000);
}

/* read()/write() the whole buffer, retrying on EINTR and short transfers.
 * Return the bytes transferred (short only at EOF) or -1 with errno. */
ssize_t vz_read_full(int fd, void *buf, size_t len);
ssize_t vz_write_full(int fd, const void *buf, size_t len);

/* Read a small file into buf (NUL-terminated, trailing newline kept). Return the length
 * or -1 with errno. Async-signal-safe. */
ssize_t vz_read_file_at(int dirfd, const char *path, char *buf, size_t len);
/* Write a string to a file (open, write, close). Return 0 or -1 with errno.
 * Async-signal-safe. */
int vz_write_file_at(int dirfd, const char *path, const char *s);

/* Duplicate @fd to a close-on-exec descriptor >= @min. Return it or -1 with errno. */
int vz_dup_cloexec(int fd, int min);

/* Return @fd itself if it is >= 3, else a close-on-exec duplicate >= 3 (closing @fd).
 * -1 with errno on failure; a negative @fd is passed through. */
int vz_fd_above_stdio(int fd);

/* malloc/strdup that record VZ_ENOMEM on failure. */
void *vz_calloc(size_t n, size_t size);
char *vz_strdup(const char *s);
/* asprintf into a fresh buffer; NULL (VZ_ENOMEM recorded) on failure. */
/* In the text of /proc/PID/stat, the space before field @n (n >= 3), counted from the end
 * of the command name, which may hold spaces and ')'. NULL if the text is shorter. */
const char *vz_stat_field(const char *stat, int n);

char *vz_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Free a NULL-terminated vector of strings and the vector. */
void vz_strv_free(char **v);
/* Deep copy of a NULL-terminated vector; NULL on ENOMEM (recorded). */
char **vz_strv_dup(char *const *v);
size_t vz_strv_len(char *const *v);

#endif
