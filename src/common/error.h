/* SPDX-License-Identifier: MIT */
/* Internal error recording: set where a failure happens, wrap with context on the way up. */
#ifndef VZ_COMMON_ERROR_H
#define VZ_COMMON_ERROR_H

#include <vz/error.h>

/* Record an error for this thread and return @code (a negative vz_status), so that a
 * failing path reads `return vz_err_set(VZ_EINVAL, 0, "limit %s: must be > 0", n);`.
 * Never allocates. */
int vz_err_set(int code, int os_errno, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like vz_err_set() with os_errno = errno and ": strerror(errno)" appended. */
int vz_err_sys(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix context to this thread's current error ("start vcpu 1: " + old message) and
 * return its code unchanged. Used on the way up; never replaces a specific error. */
int vz_err_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The static out-of-memory error. */
int vz_err_oom(void);

/* Map an errno to the closest vz_status (ENOENT -> VZ_ENOENT, EPERM/EACCES -> VZ_EPERM...). */
int vz_status_from_errno(int err);

/* Copy of the current thread's message, for a result record. */
void vz_err_copy_message(char *buf, size_t len);

#endif
