/* SPDX-License-Identifier: MIT */
/* Paths inside a new root, resolved as the sandbox will see them: openat2 with
 * RESOLVE_IN_ROOT from a descriptor of the root, missing components created in their
 * resolved parent, a symlink whose target is missing followed by hand inside the root
 * [runc securejoin, CVE-2021-30465]. The container child uses it for every mount point
 * and bind target of the new root; libvz's guest init does the same inside the VM, so
 * a config gives the same tree on both backends. Mounts then go onto the resolved
 * descriptor ("/proc/self/fd/N"), never onto a path walked a second time.
 * Async-signal-safe: no allocation; failures are -1 with errno. */
#ifndef VZ_SECURITY_INROOT_H
#define VZ_SECURITY_INROOT_H

#include <stdbool.h>

#define VZ_FD_PATH 32
#define VZ_INROOT_PATH_MAX 4096

/* "/proc/self/fd/N" for @fd, in @buf. */
char *vz_fd_path(char buf[VZ_FD_PATH], int fd);
/* An O_PATH descriptor of @path resolved inside @rootfd (plus @flags), or -1. */
int vz_open_in(int rootfd, const char *path, int flags);
/* An O_PATH descriptor of @path inside @rootfd, created (a directory, or an empty
 * file unless @dir) with its missing parents if it does not exist; or -1. */
int vz_mount_point(int rootfd, const char *path, bool dir);

#endif
