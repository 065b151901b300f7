/* SPDX-License-Identifier: MIT */
/* vz-probe: what a hostile workload would try, for the conformance suite's isolation
 * cases. A static program (the test rootfs has no libc), bound into the sandbox by the
 * test. It reports what the kernel let it do; the test judges by what reached the host.
 *
 *   vz-probe tiocsti     push "echo INJECTED\n" into the terminal on fds 0-2 with
 *                        TIOCSTI, also after trying to make it the controlling terminal
 *   vz-probe mknod PATH b|c MAJOR MINOR [TEXT]
 *                        make a device node and, if that worked, write TEXT into it */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int push(int fd, const char *s)
{
	for (; *s; s++)
		if (ioctl(fd, TIOCSTI, s) < 0)
			return -errno;
	return 0;
}

static int tiocsti(void)
{
	int injected = 0;
	for (int fd = 0; fd < 3; fd++) {
		int rc;
		if (!isatty(fd)) {
			printf("fd%d: not a terminal\n", fd);
			continue;
		}
		rc = push(fd, "echo INJECTED\n");
		printf("fd%d: TIOCSTI %s\n", fd, rc ? strerror(-rc) : "worked");
		injected |= !rc;
		if (ioctl(fd, TIOCSCTTY, 0) == 0) {
			rc = push(fd, "echo INJECTED\n");
			printf("fd%d: TIOCSCTTY worked; TIOCSTI %s\n", fd, rc ? strerror(-rc) : "worked");
			injected |= !rc;
		} else {
			printf("fd%d: TIOCSCTTY %s\n", fd, strerror(errno));
		}
	}
	return injected ? 3 : 0;
}

static int make_node(int argc, char **argv)
{
	mode_t type;
	int fd;

	if (argc < 6 || (strcmp(argv[3], "b") && strcmp(argv[3], "c")))
		return fprintf(stderr, "usage: vz-probe mknod PATH b|c MAJOR MINOR [TEXT]\n"), 2;
	type = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
	if (mknod(argv[2], type | 0600, makedev(atoi(argv[4]), atoi(argv[5]))) < 0) {
		printf("mknod: %s\n", strerror(errno));
		return 1;
	}
	printf("mknod: worked\n");
	if (argc < 7)
		return 0;
	fd = open(argv[2], O_WRONLY);
	if (fd < 0) {
		printf("open: %s\n", strerror(errno));
		return 1;
	}
	if (write(fd, argv[6], strlen(argv[6])) < 0) {
		printf("write: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	printf("write: worked\n");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "tiocsti"))
		return tiocsti();
	if (argc >= 2 && !strcmp(argv[1], "mknod"))
		return make_node(argc, argv);
	fprintf(stderr, "usage: vz-probe tiocsti | mknod PATH b|c MAJOR MINOR [TEXT]\n");
	return 2;
}
