/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * @brief Status codes and thread-local error detail.
 *
 * Every fallible libvz call returns ::VZ_OK (0) or one negative ::vz_status code.
 * The code says what kind of failure it was; vz_error_last() says exactly what failed,
 * with the operating-system errno when one was involved and a message that names the
 * object ("rootfs /srv/img: No such file or directory").
 */
#ifndef VZ_ERROR_H
#define VZ_ERROR_H

#include <vz/common.h>

VZ_BEGIN_DECLS

/**
 * @brief Return codes of libvz calls. Success is 0; failures are negative.
 *
 * These are not `-errno` values: the OS errno, when there is one, is in
 * vz_error::os_errno.
 */
typedef enum vz_status {
	VZ_OK = 0,	     /**< Success. */
	VZ_ERROR = -1,	     /**< A failure that fits no other code; see the message. */
	VZ_ENOMEM = -2,	     /**< Out of memory in the calling process. */
	VZ_EINVAL = -3,	     /**< An argument or configuration value is invalid. */
	VZ_ENOTSUP = -4,     /**< This host or backend cannot do what was asked. */
	VZ_EPERM = -5,	     /**< The OS refused: missing privilege or permission. */
	VZ_ENOENT = -6,	     /**< A named file, directory or program does not exist. */
	VZ_ESTATE = -7,	     /**< The call is not valid in the sandbox's current state. */
	VZ_ETIMEDOUT = -8,   /**< A bounded wait ended before the sandbox did. */
	VZ_EGUEST = -9,	     /**< The guest (VM backend) misbehaved or failed to boot. */
	VZ_ECHILD = -10,     /**< Setting up the sandbox failed inside its child process. */
} vz_status;

/**
 * @brief Detail of the last failure on the calling thread.
 *
 * Returned by vz_error_last(); owned by libvz (thread-local storage).
 */
typedef struct vz_error {
	int code;	     /**< The ::vz_status that was returned. */
	int os_errno;	     /**< The OS errno involved, or 0 if none. */
	const char *message; /**< Human-readable message with context; never NULL. */
} vz_error;

/**
 * @brief Detail of the last failing libvz call made by this thread.
 *
 * Set only when a call fails; successful calls leave it unchanged, so read it right
 * after a call returns a negative code.
 *
 * @return A pointer to thread-local storage, valid until the next failing libvz call on
 *         the same thread. If nothing has failed yet, code is ::VZ_OK and the message is
 *         empty. Never NULL. Do not free it.
 * @note Thread-safe: every thread has its own record. Reporting an error never
 *       allocates, so out-of-memory is reported reliably.
 */
VZ_API const vz_error *vz_error_last(void);

/**
 * @brief Reset this thread's last-error record to ::VZ_OK with an empty message.
 * @note Thread-safe.
 */
VZ_API void vz_error_clear(void);

/**
 * @brief A short static description of a ::vz_status code, e.g. "invalid argument".
 * @param[in] code A ::vz_status value (unknown values are accepted).
 * @return A static string; never NULL.
 * @note Thread-safe.
 */
VZ_API const char *vz_strerror(int code);

VZ_END_DECLS

#endif /* VZ_ERROR_H */
