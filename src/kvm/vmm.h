/* SPDX-License-Identifier: MIT */
/* The VMM process: what the host process prepares (the plan, built with libc before
 * the clone) and the child's entry point that runs the VM until it ends. */
#ifndef VZ_KVM_VMM_H
#define VZ_KVM_VMM_H

#include "common/cgroup.h"
#include "common/proc.h"
#include "kvm/arch/x86_64/boot.h"
#include "kvm/devices.h"
#include "kvm/devmgr.h"
#include "kvm/fuse/server.h"
#include "kvm/kernel.h"

struct vz_kvm_plan {
	const struct vz_kimg *kimg;
	const uint8_t *initrd; /* cpio newc archive (mmap'd by the host process) */
	uint64_t initrd_len;
	size_t initrd_map_len;
	char cmdline[VZ_BOOT_CMDLINE_MAX];
	struct vz_devtab devtab; /* the virtio devices; their cmdline words are in cmdline */
	const uint8_t *job;	 /* the job message (guest/abi.h), sent on the control port */
	uint32_t job_len;
	bool prepare; /* vz_sandbox_prepare: boot, then hold the job until VZ_IPC_GO */
	/* The wall-time limit (CLOCK_MONOTONIC ns, 0: none); a prepared VM's comes with
	 * its go. The VMM ends the sandbox there itself, as a container's init does: the
	 * host only watches while vz_sandbox_start() or vz_sandbox_wait() runs. */
	uint64_t deadline_ns;
	/* The virtio-fs shares: "root" (the rootfs, read-only), "upper" (the persistent
	 * layer, if any), "b0".. (the binds); each an O_PATH descriptor the host opened. */
	struct vz_fuse_share shares[VZ_FUSE_MAX_SHARES];
	int nshares;
	uint64_t ram_size;
	int nvcpus;
	enum vz_kvm_host host;
	int kvm_fd;
	size_t vcpu_mmap_size;
	struct kvm_cpuid2 *cpuid; /* filtered for the host kind */
	int out_fd, err_fd;	  /* guest stdout/stderr go here (-1: the guest uses /dev/null) */
	int in_fd;		  /* the guest's stdin comes from here (-1: none) */
	int console_fd;		  /* kernel console copy (-1: kept for crash reports only) */
	/* Templates (snapshot.h). Save: when the guest init reports it has booted, stop
	 * the vCPUs and write the VM into these files (-1: do not save); template_only:
	 * then go on as a prepared VM that is never started. Restore: the host's checked
	 * payload and the template's memory file (restore NULL: boot cold). */
	int snap_state_fd, snap_mem_fd;
	bool template_only;
	const uint8_t *restore;
	size_t restore_len;
	void *restore_map; /* the host's mapping of the state file, which holds @restore */
	size_t restore_map_len;
	int restore_mem_fd;
};

/* In the child, before vz_vmm_main: a mount namespace whose root is an empty tmpfs
 * (in a user namespace keeping this identity if need be), umask 0, and /proc/self/fd
 * kept as a descriptor for the file server. Returns 0 or -errno. */
int vz_vmm_isolate(void);

/* Child entry (vz_child_fn): build and run the VM described by the plan @arg. */
int vz_vmm_main(const struct vz_child_chan *ch, void *arg);

#endif
