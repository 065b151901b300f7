/* SPDX-License-Identifier: MIT */
/* The VMM process: what the host process prepares (the plan, built with libc before
 * the clone) and the child's entry point that runs the VM until it ends. */
#ifndef VZ_KVM_VMM_H
#define VZ_KVM_VMM_H

#include "common/cgroup.h"
#include "common/proc.h"
#include "kvm/arch/x86_64/boot.h"
#include "kvm/devices.h"
#include "kvm/kernel.h"

struct vz_kvm_plan {
	const struct vz_kimg *kimg;
	const uint8_t *initrd; /* cpio newc archive (mmap'd by the host process) */
	uint64_t initrd_len;
	size_t initrd_map_len;
	char cmdline[VZ_BOOT_CMDLINE_MAX];
	uint64_t ram_size;
	int nvcpus;
	enum vz_kvm_host host;
	int kvm_fd;
	size_t vcpu_mmap_size;
	struct kvm_cpuid2 *cpuid; /* filtered for the host kind */
	int out_fd, err_fd;	  /* guest stdout/stderr go here (-1: the guest uses /dev/null) */
	int in_fd;		  /* relayed to the guest's stdin (-1: none) */
	int console_fd;		  /* kernel console copy (-1: kept for crash reports only) */
	const struct vz_cgroup *cgroup; /* v1 groups the VMM joins first (or NULL) */
};

/* Child entry (vz_child_fn): build and run the VM described by the plan @arg. */
int vz_vmm_main(const struct vz_child_chan *ch, void *arg);

#endif
