/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static vz_log_fn log_fn;
static void *log_userdata;
static int log_max = -1;

void vz_log_set_callback(vz_log_fn fn, int max_level, void *userdata)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_userdata = userdata;
	log_max = fn ? max_level : -1;
	pthread_mutex_unlock(&log_lock);
}

void vz_log(int level, const char *fmt, ...)
{
	char msg[1024];
	vz_log_fn fn;
	void *ud;
	va_list ap;

	pthread_mutex_lock(&log_lock);
	fn = log_fn;
	ud = log_userdata;
	if (level > log_max)
		fn = NULL;
	pthread_mutex_unlock(&log_lock);
	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(level, msg, ud);
}
