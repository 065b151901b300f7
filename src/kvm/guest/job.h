/* SPDX-License-Identifier: MIT */
/* The job the host hands the guest init: /.vz/job in the initramfs, a sequence of
 * NUL-terminated "key=value" records (values may hold any byte but NUL). Shared by the
 * writer (src/kvm/initramfs.c) and the guest init (src/kvm/guest/init.c).
 *   exe=PATH      argv[0] resolved inside the rootfs        (once)
 *   arg=S         argv, in order                            (one per word)
 *   env=K=V       environment, in order
 *   cwd=PATH, hostname=H, uid=N, gid=N
 *   pids=N, nofile=N                                         limits inside the guest
 *   stdin=|stdout=|stderr=  "tty" (the VMM's serial stream) or "null"
 *   net=loopback|none, rootfs=rw|ro
 *   robind=PATH   a read-only bind (its content was copied into the initramfs)
 * Control records from the VMM to the init on the control UART (ttyS3): two bytes,
 * VZ_CTL_SIGNAL then a signal number. On the stdin UART (ttyS0), byte 0xff escapes:
 * 0xff 0x00 is a literal 0xff, 0xff 0x01 is end of input. */
#ifndef VZ_KVM_GUEST_JOB_H
#define VZ_KVM_GUEST_JOB_H

#define VZ_JOB_PATH "/.vz/job"
#define VZ_INIT_PATH "/.vz/init"
#define VZ_CTL_SIGNAL 0x01
#define VZ_STDIN_ESC 0xff
#define VZ_STDIN_ESC_FF 0x00
#define VZ_STDIN_ESC_EOF 0x01

#endif
