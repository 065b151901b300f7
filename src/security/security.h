/* SPDX-License-Identifier: MIT */
/* The security defaults both backends apply right before the workload's execve:
 * no_new_privs, the capability drop and the default seccomp deny-list. The container
 * child calls them on the host; libvz's guest init (src/kvm/guest) calls the same code
 * inside the VM, so a workload is confined the same way whichever backend runs it.
 *
 * Every function here is async-signal-safe: no allocation, no stdio, no locks, only raw
 * system calls. They are meant for a child cloned from a possibly multithreaded host, and
 * they report failure as -errno, never by printing or exiting; the caller turns that into
 * a {code, errno, message} record on the status pipe.
 *
 * Order in the child: vz_sec_caps_drop() after the last privileged set-up step (mounts,
 * pivot_root, hostname) and after the uid/gid switch's need for CAP_SETUID/CAP_SETGID is
 * known to be covered (both stay in the default set), then vz_sec_seccomp_install() as
 * the very last step before execve: it denies mount(), setns() and friends, so nothing
 * of the set-up may run after it. */
#ifndef VZ_SECURITY_SECURITY_H
#define VZ_SECURITY_SECURITY_H

#include <linux/capability.h>
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#define VZ_SEC_CAP(c) (UINT64_C(1) << (c))

/* The capabilities a workload keeps by default: Docker's default list without
 * CAP_MKNOD (as podman), so images that work under Docker work here. Device nodes are
 * the host's devices: a root workload that could mknod one reached the host's disks
 * and kernel log; the devices cgroup refuses it too, where the host has one. Its value
 * is 0xa00425fb (checked in caps.c). Everything else, notably CAP_SYS_ADMIN,
 * CAP_SYS_PTRACE, CAP_SYS_MODULE, CAP_NET_ADMIN and CAP_DAC_READ_SEARCH, leaves the
 * bounding set for good. */
#define VZ_SEC_DEFAULT_CAPS                                                                    \
	(VZ_SEC_CAP(CAP_CHOWN) | VZ_SEC_CAP(CAP_DAC_OVERRIDE) | VZ_SEC_CAP(CAP_FSETID) |       \
	 VZ_SEC_CAP(CAP_FOWNER) | VZ_SEC_CAP(CAP_NET_RAW) |                                    \
	 VZ_SEC_CAP(CAP_SETGID) | VZ_SEC_CAP(CAP_SETUID) | VZ_SEC_CAP(CAP_SETFCAP) |           \
	 VZ_SEC_CAP(CAP_SETPCAP) | VZ_SEC_CAP(CAP_NET_BIND_SERVICE) |                          \
	 VZ_SEC_CAP(CAP_SYS_CHROOT) | VZ_SEC_CAP(CAP_KILL) | VZ_SEC_CAP(CAP_AUDIT_WRITE))

/* Highest capability number the drop loop tries; the loop stops earlier at the kernel's
 * last capability (PR_CAPBSET_READ answers EINVAL past it), so /proc is not needed. */
#define VZ_SEC_CAP_LIMIT 63

/* Set no_new_privs for this process and its descendants (idempotent, irreversible).
 * Return 0 or -errno. */
int vz_sec_no_new_privs(void);

/* Reduce every capability set of the calling process to @keep:
 * - the bounding set: PR_CAPBSET_DROP for each capability not in @keep, up to the kernel's
 *   last capability (needs CAP_SETPCAP; capabilities already absent are skipped, so a
 *   process whose bounding set is already small enough succeeds without it);
 * - the ambient set is cleared;
 * - permitted, effective and inheritable are intersected with @keep through capset().
 *   Inheritable is only ever reduced, never raised (CVE-2022-24769: raised inheritable
 *   capabilities survive execve of programs with inheritable file capabilities).
 * Return 0 or -errno. */
int vz_sec_caps_limit(uint64_t keep);

/* vz_sec_caps_limit(VZ_SEC_DEFAULT_CAPS). */
int vz_sec_caps_drop(void);

/* Install libvz's default seccomp deny-list (see seccomp.c for the list and the reasons).
 * Sets no_new_privs itself first: that is idempotent, and it lets the filter load after
 * CAP_SYS_ADMIN is gone. Consequence: set-uid and file-capability programs in the
 * container do not gain privileges (su, sudo, ping with file caps run unprivileged).
 * Filters stack; a process can never remove one. Return 0 or -errno. */
int vz_sec_seccomp_install(void);

/* Load a classic-BPF seccomp program of @count instructions (caller-supplied filters go
 * through here too). Sets no_new_privs first. @insns must stay valid only for the call.
 * Return 0, -EINVAL for an empty or oversized program, or -errno from the kernel. */
int vz_sec_seccomp_load(const struct sock_filter *insns, size_t count);

#endif
