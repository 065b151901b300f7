/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

ssize_t vz_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t vz_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t vz_read_file_at(int dirfd, const char *path, char *buf, size_t len)
{
	int fd, saved;
	ssize_t n;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = vz_read_full(fd, buf, len - 1);
	saved = errno;
	close(fd);
	errno = saved;
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

int vz_write_file_at(int dirfd, const char *path, const char *s)
{
	int fd, saved;
	ssize_t n;
	size_t len = strlen(s);

	fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = vz_write_full(fd, s, len);
	saved = errno;
	if (close(fd) < 0 && n >= 0 && errno != EINTR)
		return -1;
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

int vz_dup_cloexec(int fd, int min)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, min);
}

int vz_fd_above_stdio(int fd)
{
	int hi;
	if (fd < 0 || fd > 2)
		return fd;
	hi = vz_dup_cloexec(fd, 3);
	close(fd);
	return hi;
}

void *vz_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		vz_err_oom();
	return p;
}

char *vz_strdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		vz_err_oom();
	return p;
}

const char *vz_stat_field(const char *stat, int n)
{
	const char *p = strrchr(stat, ')');
	for (int field = 3; p && field <= n; field++)
		p = strchr(p + 1, ' ');
	return p;
}

char *vz_asprintf(const char *fmt, ...)
{
	char *p = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0) {
		vz_err_oom();
		return NULL;
	}
	return p;
}

size_t vz_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void vz_strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

char **vz_strv_dup(char *const *v)
{
	size_t n = vz_strv_len(v);
	char **out = vz_calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = vz_strdup(v[i]);
		if (!out[i]) {
			vz_strv_free(out);
			return NULL;
		}
	}
	return out;
}
