/* SPDX-License-Identifier: MIT */
/* The guest ABI: everything libvz's VMM and libvz's guest init (src/kvm/guest/init.c)
 * agree on, and nothing else does. Both sides are built from this tree, so the ABI is
 * not versioned; the guest init is embedded in the library that starts it.
 *
 * Devices. One virtio-console (multiport) device, the first virtio-mmio device of the
 * VM, carries four ports. The kernel names them /dev/vport<D>p<N> and gives each a
 * name in /sys/class/virtio-ports/vport<D>p<N>/name; the init finds them by name:
 *   port 0 "vz.control"  both ways: the control channel (messages below)
 *   port 1 "vz.stdin"    host -> guest: the workload's stdin; the host closing its side
 *                        (VIRTIO_CONSOLE_PORT_OPEN 0) is the end of input
 *   port 2 "vz.stdout"   guest -> host: the workload's stdout
 *   port 3 "vz.stderr"   guest -> host: the workload's stderr
 * Flow control is the virtqueues': a host that stops reading stops taking the guest's
 * buffers, and the guest's writer blocks. One 16550A UART (ttyS0 at 0x3f8, IRQ 4) is the
 * kernel console, kept for crash text.
 *
 * Control messages, in either direction: a header {le32 type; le32 len} and len bytes.
 *   guest -> host
 *     VZ_MSG_BOOTED  (no body)             the init runs and listens for its job
 *     VZ_MSG_EXEC    (no body)             the workload has been executed
 *     VZ_MSG_ERROR   {le32 code; le32 errno; text}   set-up failed (code: vz_status)
 *     VZ_MSG_EXIT    {le32 reason; le32 value; text} the workload ended (vz_reason)
 *   host -> guest
 *     VZ_MSG_JOB     the job: NUL-terminated "key=value" records (below)
 *     VZ_MSG_SIGNAL  {le32 signo}          forward a signal to the workload
 * Text is not NUL-terminated; a reader takes at most VZ_MSG_TEXT_MAX bytes of it.
 *
 * Job records (values may hold any byte but NUL):
 *   time=SECONDS.NANOSECONDS  the host's wall clock as the job left (first record, at
 *                 VZ_JOB_TIME_OFF, written in by the VMM as it sends the job)
 *   seed=HEX      VZ_JOB_SEED_LEN bytes of host randomness for the guest's pool
 *   exe=PATH      argv[0] resolved inside the rootfs        (once)
 *   arg=S         argv, in order                            (one per word)
 *   env=K=V       environment, in order
 *   cwd=PATH, hostname=H, uid=N, gid=N
 *   pids=N, nofile=N                                         limits inside the guest
 *   stdin=|stdout=|stderr=  "port" (the stream's virtio port) or "null"
 *   net=loopback|none
 *   rootfs=rw|ro|persistent                                  the overlay's upper layer
 *   bind=bN:ro|rw:/DST  share bN of the virtio-fs device mounted at DST
 *
 * Initramfs. /.vz/init, and for a guest kernel that has libvz's drivers as modules
 * /.vz/modules/NN-NAME.ko[.xz|.zst|.gz]: the init loads them in NN order before it
 * looks for its devices, each with the NAME.PARAM=VALUE words of the kernel command
 * line as its parameters (the kernel leaves those to whoever loads the module). */
#ifndef VZ_KVM_GUEST_ABI_H
#define VZ_KVM_GUEST_ABI_H

#include <stdint.h>

#define VZ_INIT_PATH "/.vz/init"
#define VZ_MODULES_DIR "/.vz/modules"

enum vz_port {
	VZ_PORT_CONTROL = 0,
	VZ_PORT_STDIN = 1,
	VZ_PORT_STDOUT = 2,
	VZ_PORT_STDERR = 3,
	VZ_PORT_COUNT = 4,
};

#define VZ_PORT_NAMES { "vz.control", "vz.stdin", "vz.stdout", "vz.stderr" }

enum vz_msg_type {
	VZ_MSG_BOOTED = 1,
	VZ_MSG_EXEC = 2,
	VZ_MSG_ERROR = 3,
	VZ_MSG_EXIT = 4,
	VZ_MSG_JOB = 16,
	VZ_MSG_SIGNAL = 17,
};

struct vz_msg_hdr {
	uint32_t type, len;
};

/* Longest message the host accepts from the guest (header excluded), and the longest
 * text it keeps from one. */
#define VZ_MSG_GUEST_MAX 1024
#define VZ_MSG_TEXT_MAX 512
/* The time record: "time=" at this offset of the job message (header included), then
 * a value of this fixed width, "%010u.%09u". */
#define VZ_JOB_TIME_OFF (8 + 5)
#define VZ_JOB_TIME_BLANK "0000000000.000000000"
#define VZ_JOB_SEED_LEN 32

/* Longest job the host sends. */
#define VZ_MSG_JOB_MAX (1u << 20)

#endif
