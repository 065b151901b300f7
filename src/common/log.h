/* SPDX-License-Identifier: MIT */
/* Internal logging through the host's callback; silent unless one is installed. */
#ifndef VZ_COMMON_LOG_H
#define VZ_COMMON_LOG_H

#include <vz/log.h>

void vz_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
