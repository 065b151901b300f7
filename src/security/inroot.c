/* SPDX-License-Identifier: MIT */
/* Paths inside a new root (see inroot.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "security/inroot.h"

static void cat(char *buf, const char *s, size_t size)
{
	size_t n = strnlen(buf, size), k = strlen(s);
	if (n + 1 >= size)
		return;
	if (k > size - n - 1)
		k = size - n - 1;
	memcpy(buf + n, s, k);
	buf[n + k] = '\0';
}

char *vz_fd_path(char buf[VZ_FD_PATH], int fd)
{
	char digits[12];
	int n = 0;
	unsigned v = (unsigned)fd;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(digits));
	memcpy(buf, "/proc/self/fd/", 14);
	for (int i = 0; i < n; i++)
		buf[14 + i] = digits[n - 1 - i];
	buf[14 + n] = '\0';
	return buf;
}

int vz_open_in(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(O_PATH | O_CLOEXEC | flags),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Create the last component of @path, whose parent exists inside the root. Returns 0
 * (created, or it exists), 1 when it is a symlink whose target does not exist yet (its
 * target then in @link), or -1 with errno. */
static int create_last(int rootfd, char *path, bool dir, char *link, size_t link_len)
{
	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	struct stat st;
	int pfd, rc, saved;

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (slash) {
		*slash = '\0';
		pfd = vz_open_in(rootfd, path[0] ? path : "/", O_DIRECTORY);
		*slash = '/';
	} else {
		pfd = vz_open_in(rootfd, "/", O_DIRECTORY);
	}
	if (pfd < 0)
		return -1;
	if (dir) {
		rc = mkdirat(pfd, name, 0755);
	} else {
		rc = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (rc >= 0)
			close(rc);
	}
	if (rc < 0 && errno == EEXIST && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(pfd, name, link, link_len - 1);
		saved = errno;
		close(pfd);
		if (n < 0 || (size_t)n >= link_len - 1) {
			errno = n < 0 ? saved : ENAMETOOLONG;
			return -1;
		}
		link[n] = '\0';
		return 1;
	}
	saved = errno;
	close(pfd);
	errno = saved;
	return rc < 0 && errno != EEXIST ? -1 : 0;
}

int vz_mount_point(int rootfd, const char *path, bool dir)
{
	char buf[VZ_INROOT_PATH_MAX], link[VZ_INROOT_PATH_MAX], next[VZ_INROOT_PATH_MAX];
	size_t len = strnlen(path, sizeof(buf));
	int fd = vz_open_in(rootfd, path, 0), hops = 0;

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
restart:
	/* Each missing component, left to right, created in its parent as resolved in the
	 * root. A symlink whose target is missing is followed by hand, inside the root too
	 * (its target joined with the rest of the path), as the kernel would follow it. */
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		bool last = i == len;
		int rc;

		if (!last && buf[i] != '/')
			continue;
		buf[i] = '\0';
		fd = vz_open_in(rootfd, buf, 0);
		if (fd >= 0) {
			close(fd);
		} else if (errno != ENOENT ||
			   (rc = create_last(rootfd, buf, dir || !last, link, sizeof(link))) < 0) {
			return -1;
		} else if (rc == 1) {
			char *slash = strrchr(buf, '/');
			if (++hops > 40) {
				errno = ELOOP;
				return -1;
			}
			next[0] = '\0';
			if (link[0] != '/' && slash) {
				*slash = '\0';
				cat(next, buf, sizeof(next));
				cat(next, "/", sizeof(next));
			}
			cat(next, link, sizeof(next));
			if (!last) {
				cat(next, "/", sizeof(next));
				cat(next, buf + i + 1, sizeof(next));
			}
			if (strlen(next) >= sizeof(next) - 1) {
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(buf, next, sizeof(buf));
			goto restart;
		}
		if (!last)
			buf[i] = '/';
	}
	return vz_open_in(rootfd, buf, 0);
}

