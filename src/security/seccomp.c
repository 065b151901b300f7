/* SPDX-License-Identifier: MIT */
/* The default seccomp filter: a deny-list compiled into a static classic-BPF program, so
 * libvz needs no libseccomp and the child installs it without allocating [bwrap
 * --seccomp FD].
 *
 * The reference is Docker's default profile: the syscalls it refuses to a container
 * without extra capabilities are refused here with EPERM, which programs already expect
 * under Docker. Everything else is allowed. A deny-list only knows the syscalls of the
 * headers it was built with; the capability drop is the other half of the defence.
 *
 * Program layout (the accumulator holds seccomp_data.nr between the checks):
 *   1. arch != x86-64 -> kill.  2. x32 numbers -> ENOSYS.
 *   3. one JEQ/RET pair per denied syscall: a match returns EPERM, a miss falls through
 *      to the next pair, so no jump offset depends on the table's length.
 *   4. clone3 -> ENOSYS.  5. ioctl, personality and clone: argument checks, each block
 *      ending in a return.  6. allow. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "security/security.h"

#if !defined(__x86_64__)
#error "the default seccomp filter is written for x86-64"
#endif

/* x86-64 syscall numbers are a stable ABI: a syscall newer than the build's headers (6.1
 * on Debian bookworm) is named by its number, so the filter still denies it when the
 * running kernel has it. On an older kernel the number is unused and EPERM is harmless. */
#ifdef __NR_lsm_set_self_attr
#define NR_LSM_SET_SELF_ATTR __NR_lsm_set_self_attr
#else
#define NR_LSM_SET_SELF_ATTR 460
#endif
#define X32_SYSCALL_BIT 0x40000000 /* __X32_SYSCALL_BIT of <asm/unistd.h> */

#define RET(action) BPF_STMT(BPF_RET | BPF_K, (action))
#define RET_ERRNO(e) RET(SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
/* Skip the next instruction unless nr == @nr. */
#define IF_NR(nr, skip) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, (skip))
#define DENY(name) IF_NR(__NR_##name, 1), RET_ERRNO(EPERM)
#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
/* Low 32 bits of argument @n (x86-64 is little-endian). */
#define LOAD_ARG_LO(n)                                                                         \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) + 8 * (n))

/* Namespace flags refused in clone()'s flags. CLONE_NEWTIME is missing on purpose: it
 * shares bits with the exit signal in clone(), and only clone3()/unshare() can ask for
 * it, both refused below. The kernel reads only the low 32 bits of clone()'s flags. */
#define NS_FLAGS                                                                               \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |            \
	 CLONE_NEWNET | CLONE_NEWCGROUP)

static const struct sock_filter default_filter[] = {
	/* Only the native ABI. The i386 (int 0x80) and x32 ABIs have their own syscall
	 * numbers, which a table of x86-64 numbers would let through, so the i386 ABI kills
	 * the process and x32 numbers (x86-64 arch, bit 30 set) fail as on a kernel without
	 * x32 support. The unsigned >= also covers nr == -1, a tracer's "skip". */
	LOAD(arch),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	RET(SECCOMP_RET_KILL_PROCESS),
	LOAD(nr),
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
	RET_ERRNO(ENOSYS),

	/* Replacing or extending the running kernel. */
	DENY(kexec_load),
	DENY(kexec_file_load),
	DENY(init_module),
	DENY(finit_module),
	DENY(delete_module),
#ifdef __NR_create_module
	DENY(create_module),
#endif
#ifdef __NR_get_kernel_syms
	DENY(get_kernel_syms),
#endif
#ifdef __NR_query_module
	DENY(query_module),
#endif

	/* Large kernel attack surface reachable without privileges, and a history of
	 * exploits: eBPF, perf, io_uring (Docker refuses io_uring since 2023), userfaultfd
	 * (stalls kernel copies at will, a race-widening tool). */
	DENY(bpf),
	DENY(perf_event_open),
	DENY(io_uring_setup),
	DENY(io_uring_enter),
	DENY(io_uring_register),
	DENY(userfaultfd),
	DENY(lookup_dcookie),

	/* The kernel keyring is not namespaced: keys would be shared with the host. */
	DENY(keyctl),
	DENY(add_key),
	DENY(request_key),

	/* The mount table is set up by libvz before this filter; afterwards neither the old
	 * nor the new (fd-based) mount API may change it. */
	DENY(mount),
	DENY(umount2),
	DENY(pivot_root),
	DENY(fsopen),
	DENY(fsconfig),
	DENY(fsmount),
	DENY(fspick),
	DENY(move_mount),
	DENY(open_tree),
	DENY(mount_setattr),

	/* Namespaces: no new ones (clone flags are checked below) and no joining others. */
	DENY(unshare),
	DENY(setns),

	/* Host-wide state: swap, power, accounting, clocks, quotas, I/O ports, kernel log. */
	DENY(swapon),
	DENY(swapoff),
	DENY(reboot),
	DENY(acct),
	DENY(settimeofday),
	DENY(clock_settime),
	DENY(clock_adjtime),
	DENY(adjtimex),
	DENY(quotactl),
#ifdef __NR_quotactl_fd
	DENY(quotactl_fd),
#endif
	DENY(iopl),
	DENY(ioperm),
	DENY(syslog),
	DENY(vhangup),

	/* File handles bypass path-based checks: open_by_handle_at opened host files from
	 * containers (the 2014 "shocker" escape). Its sister name_to_handle_at only names a
	 * file and stays allowed, as in Docker since 2023 (systemd needs it). */
	DENY(open_by_handle_at),

	/* Other processes' memory and kernel objects: ptrace is refused entirely (tracing
	 * outsiders is the danger; tracing one's own children is the price), and with it
	 * process_vm_readv/writev and kcmp, which Docker gates on CAP_SYS_PTRACE. */
	DENY(ptrace),
	DENY(process_vm_readv),
	DENY(process_vm_writev),
	DENY(kcmp),

	/* Obsolete interfaces nobody needs and few audit. */
	DENY(uselib),
	DENY(ustat),
	DENY(sysfs),
#ifdef __NR__sysctl
	DENY(_sysctl),
#endif
#ifdef __NR_nfsservctl
	DENY(nfsservctl),
#endif

	/* Changing one's own LSM labels (Linux 6.8+). */
	IF_NR(NR_LSM_SET_SELF_ATTR, 1),
	RET_ERRNO(EPERM),

	/* clone3 passes its flags in memory, which seccomp cannot read. ENOSYS makes glibc
	 * and musl fall back to clone(), whose flags are checked below (as Docker does). */
	IF_NR(__NR_clone3, 1),
	RET_ERRNO(ENOSYS),

	/* ioctl: no TIOCSTI, which pushes input into a terminal as if typed: a workload
	 * handed the caller's terminal typed commands into the caller's shell (bubblewrap's
	 * CVE-2017-5226). The sandbox's own session already keeps the kernel from allowing
	 * it without CAP_SYS_ADMIN; this holds even where a terminal is shared on purpose.
	 * TIOCLINUX does the same through the console's selection. The kernel reads the
	 * command as an unsigned int. */
	IF_NR(__NR_ioctl, 5),
	LOAD_ARG_LO(1),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1),
	RET_ERRNO(EPERM),
	RET(SECCOMP_RET_ALLOW),

	/* personality: only the query (0xffffffff) and PER_LINUX (0). Other personalities
	 * switch off ASLR or change kernel behaviour. The kernel reads an unsigned int. */
	IF_NR(__NR_personality, 5),
	LOAD_ARG_LO(0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 1, 0),
	RET_ERRNO(EPERM),
	RET(SECCOMP_RET_ALLOW),

	/* clone: threads and forks yes, new namespaces no. */
	IF_NR(__NR_clone, 4),
	LOAD_ARG_LO(0),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1),
	RET_ERRNO(EPERM),
	RET(SECCOMP_RET_ALLOW),

	RET(SECCOMP_RET_ALLOW),
};

_Static_assert(sizeof(default_filter) / sizeof(default_filter[0]) <= BPF_MAXINSNS,
	       "default seccomp filter too long");

int vz_sec_seccomp_load(const struct sock_filter *insns, size_t count)
{
	struct sock_fprog prog;
	int rc;

	if (!insns || !count || count > BPF_MAXINSNS)
		return -EINVAL;
	prog.len = (unsigned short)count;
	/* The kernel copies the program and never writes through this pointer. */
	prog.filter = (struct sock_filter *)(uintptr_t)insns;

	/* Without no_new_privs the kernel demands CAP_SYS_ADMIN, which is gone by now. */
	rc = vz_sec_no_new_privs();
	if (rc < 0)
		return rc;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Kernels before 3.17 have no seccomp(2); the prctl form loads the same filter. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	return -errno;
}

int vz_sec_seccomp_install(void)
{
	return vz_sec_seccomp_load(default_filter,
				   sizeof(default_filter) / sizeof(default_filter[0]));
}
