/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define VZ_ERR_MSG_MAX 1024

/* One record per thread; reporting writes into it and never allocates, so an
 * out-of-memory condition can always be reported. */
static _Thread_local struct {
	vz_error pub;
	char msg[VZ_ERR_MSG_MAX];
} tls_err;

static void set_vmsg(int code, int os_errno, const char *suffix, const char *fmt, va_list ap)
{
	int n = vsnprintf(tls_err.msg, sizeof(tls_err.msg), fmt, ap);
	if (n < 0)
		n = 0;
	if (suffix && (size_t)n < sizeof(tls_err.msg))
		snprintf(tls_err.msg + n, sizeof(tls_err.msg) - (size_t)n, ": %s", suffix);
	tls_err.pub.code = code;
	tls_err.pub.os_errno = os_errno;
	tls_err.pub.message = tls_err.msg;
}

int vz_err_set(int code, int os_errno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_vmsg(code, os_errno, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int vz_err_sys(int code, const char *fmt, ...)
{
	int err = errno;
	char ebuf[128];
	va_list ap;
	const char *s = strerror_r(err, ebuf, sizeof(ebuf));
	va_start(ap, fmt);
	set_vmsg(code, err, s, fmt, ap);
	va_end(ap);
	return code;
}

int vz_err_wrap(const char *fmt, ...)
{
	char old[VZ_ERR_MSG_MAX];
	va_list ap;
	int n;

	memcpy(old, tls_err.msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(tls_err.msg, sizeof(tls_err.msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	/* Append ": old", truncated to fit (by hand: gcc cannot prove an snprintf bound
	 * here and -Wformat-truncation fires at -O0). */
	if ((size_t)n + 3 < sizeof(tls_err.msg)) {
		size_t room = sizeof(tls_err.msg) - (size_t)n - 3, len = strnlen(old, room);
		memcpy(tls_err.msg + n, ": ", 2);
		memcpy(tls_err.msg + n + 2, old, len);
		tls_err.msg[(size_t)n + 2 + len] = '\0';
	}
	tls_err.pub.message = tls_err.msg;
	return tls_err.pub.code ? tls_err.pub.code : VZ_ERROR;
}

int vz_err_oom(void)
{
	static const char oom[] = "out of memory";
	memcpy(tls_err.msg, oom, sizeof(oom));
	tls_err.pub.code = VZ_ENOMEM;
	tls_err.pub.os_errno = ENOMEM;
	tls_err.pub.message = tls_err.msg;
	return VZ_ENOMEM;
}

int vz_status_from_errno(int err)
{
	switch (err) {
	case ENOMEM:
		return VZ_ENOMEM;
	case ENOENT:
	case ENOTDIR:
		return VZ_ENOENT;
	case EPERM:
	case EACCES:
	case EROFS:
		return VZ_EPERM;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
		return VZ_EINVAL;
	case ENOSYS:
	case EOPNOTSUPP:
	case ENODEV:
		return VZ_ENOTSUP;
	case ETIMEDOUT:
		return VZ_ETIMEDOUT;
	default:
		return VZ_ERROR;
	}
}

void vz_err_copy_message(char *buf, size_t len)
{
	if (!len)
		return;
	snprintf(buf, len, "%s", tls_err.msg);
}

const vz_error *vz_error_last(void)
{
	if (!tls_err.pub.message)
		tls_err.pub.message = tls_err.msg;
	return &tls_err.pub;
}

void vz_error_clear(void)
{
	tls_err.msg[0] = '\0';
	tls_err.pub.code = VZ_OK;
	tls_err.pub.os_errno = 0;
	tls_err.pub.message = tls_err.msg;
}

const char *vz_strerror(int code)
{
	switch (code) {
	case VZ_OK:
		return "success";
	case VZ_ERROR:
		return "error";
	case VZ_ENOMEM:
		return "out of memory";
	case VZ_EINVAL:
		return "invalid argument";
	case VZ_ENOTSUP:
		return "not supported on this host";
	case VZ_EPERM:
		return "permission denied";
	case VZ_ENOENT:
		return "not found";
	case VZ_ESTATE:
		return "invalid state for this call";
	case VZ_ETIMEDOUT:
		return "timed out";
	case VZ_EGUEST:
		return "guest failure";
	case VZ_ECHILD:
		return "sandbox set-up failed";
	default:
		return "unknown error";
	}
}
