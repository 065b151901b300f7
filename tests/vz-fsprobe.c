/* SPDX-License-Identifier: MIT */
/* vz-fsprobe: the file system calls busybox has no applet for, for the file system
 * scenarios. Built static (the test rootfs has no libc) by conformance.cmake, and
 * bound into the sandbox beside vz-probe.
 *
 *   vz-fsprobe mmap FILE TEXT          write TEXT at offset 0 through a shared mapping,
 *                                      msync; FILE must be at least that long
 *   vz-fsprobe hold flock|posix FILE READY DONE
 *                                      take an exclusive lock (waiting), create READY,
 *                                      keep the lock until DONE exists (at most 60 s)
 *   vz-fsprobe try flock|posix FILE    try the same lock without waiting: locked|busy
 *   vz-fsprobe open PATH r|w [TEXT]    open without blocking (a FIFO, a device node);
 *                                      r: read what is there; w: write TEXT
 *   vz-fsprobe rename FROM TO          rename(2), no copy fallback (busybox mv copies)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

static int lock(const char *kind, int fd, int wait)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (!strcmp(kind, "flock"))
		return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
	return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 4 && !strcmp(cmd, "mmap")) {
		size_t n = strlen(argv[3]);
		char *p;

		if ((fd = open(argv[2], O_RDWR)) < 0)
			return printf("mmap: open: %s\n", strerror(errno)), 1;
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return printf("mmap: %s\n", strerror(errno)), 1;
		memcpy(p, argv[3], n);
		if (msync(p, n, MS_SYNC) < 0)
			return printf("mmap: msync: %s\n", strerror(errno)), 1;
		munmap(p, n);
		close(fd);
		return printf("mmap: worked\n"), 0;
	}
	if (argc == 6 && !strcmp(cmd, "hold")) {
		if ((fd = open(argv[3], O_RDWR | O_CREAT, 0644)) < 0 || lock(argv[2], fd, 1) < 0)
			return printf("hold: %s\n", strerror(errno)), 1;
		close(open(argv[4], O_WRONLY | O_CREAT, 0644));
		for (int i = 0; i < 6000 && access(argv[5], F_OK) < 0; i++)
			usleep(10000);
		return printf("hold: released\n"), 0; /* exit drops the lock */
	}
	if (argc == 4 && !strcmp(cmd, "try")) {
		if ((fd = open(argv[3], O_RDWR | O_CREAT, 0644)) < 0)
			return printf("try %s: open: %s\n", argv[2], strerror(errno)), 1;
		if (lock(argv[2], fd, 0) == 0)
			return printf("try %s: locked\n", argv[2]), 0;
		if (errno == EWOULDBLOCK || errno == EAGAIN || errno == EACCES)
			return printf("try %s: busy\n", argv[2]), 1;
		return printf("try %s: %s\n", argv[2], strerror(errno)), 1;
	}
	if (argc >= 4 && !strcmp(cmd, "open")) {
		int w = argv[3][0] == 'w';
		char buf[128];
		ssize_t n;

		fd = open(argv[2], (w ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			return printf("open %s %s: %s\n", argv[3], argv[2], strerror(errno)), 1;
		printf("open %s %s: worked\n", argv[3], argv[2]);
		if (w && argc > 4) {
			n = write(fd, argv[4], strlen(argv[4]));
			printf("write %s: %s\n", argv[2], n < 0 ? strerror(errno) : "worked");
		} else if (!w) {
			n = read(fd, buf, sizeof(buf) - 1);
			for (ssize_t i = 0; i < n; i++)
				buf[i] = buf[i] >= ' ' && buf[i] < 127 ? buf[i] : '.';
			printf("read %s: %zd %s\n", argv[2], n,
			       n < 0 ? strerror(errno) : (buf[n > 0 ? n : 0] = 0, buf));
		}
		close(fd);
		return 0;
	}
	if (argc == 4 && !strcmp(cmd, "rename")) {
		if (rename(argv[2], argv[3]) < 0)
			return printf("rename: %s\n", strerror(errno)), 1;
		return printf("rename: worked\n"), 0;
	}
	fprintf(stderr, "usage: vz-fsprobe mmap|hold|try|open|rename ...\n");
	return 2;
}
