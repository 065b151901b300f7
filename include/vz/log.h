/* SPDX-License-Identifier: MIT */
/**
 * @file log.h
 * @brief Optional diagnostics through a callback the host program installs.
 *
 * libvz never prints. By default log messages are discarded; a host that wants them
 * installs a callback.
 */
#ifndef VZ_LOG_H
#define VZ_LOG_H

#include <vz/common.h>

VZ_BEGIN_DECLS

/** @brief Severity of a log message. */
typedef enum vz_log_level {
	VZ_LOG_ERROR = 0, /**< Something failed. */
	VZ_LOG_WARN = 1,  /**< Something unexpected that libvz worked around. */
	VZ_LOG_INFO = 2,  /**< Notable events (a sandbox started or ended). */
	VZ_LOG_DEBUG = 3, /**< Details for debugging libvz. */
} vz_log_level;

/**
 * @brief A log callback.
 * @param level    The ::vz_log_level of the message.
 * @param message  The message, NUL-terminated, without a trailing newline; valid only
 *                 during the call.
 * @param userdata The pointer given to vz_log_set_callback().
 * @note Called from whichever thread logs, possibly several at once; it must be
 *       thread-safe and must not call back into libvz.
 */
typedef void (*vz_log_fn)(int level, const char *message, void *userdata);

/**
 * @brief Install (or with NULL remove) the process-wide log callback.
 * @param[in] fn        The callback, or NULL to discard messages (the default).
 * @param[in] max_level Messages above this ::vz_log_level are not delivered.
 * @param[in] userdata  Passed to @p fn unchanged.
 * @note Thread-safe, but a message being delivered concurrently may still reach the
 *       previous callback.
 */
VZ_API void vz_log_set_callback(vz_log_fn fn, int max_level, void *userdata);

VZ_END_DECLS

#endif /* VZ_LOG_H */
