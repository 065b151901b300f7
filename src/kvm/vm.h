/* SPDX-License-Identifier: MIT */
/* The VMM's core state [kvmtool struct kvm / struct kvm_cpu; Firecracker vmm::Vmm]:
 * one VM, its guest RAM, its vCPUs, and two buses (port I/O and MMIO) that route exits
 * to devices through an ops table. Everything here runs in the supervised child and
 * obeys sys.h: no libc allocation, bare system calls in vCPU threads. */
#ifndef VZ_KVM_VM_H
#define VZ_KVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "kvm/sys.h"
#include "kvm/virtio/virtio.h"

#define VZ_VM_MAX_VCPUS 64
#define VZ_BUS_MAX_DEVS 16
#define VZ_VCPU_STACK (64 * 1024)
/* The signal that takes a vCPU out of KVM_RUN: blocked in the VMM's threads, unblocked
 * only inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it never runs a handler. */
#define VZ_VCPU_KICK_SIG 64

struct vz_vm;
struct vz_vcpu;
struct vz_dev;

/* What kind of KVM serves /dev/kvm (DESIGN.md section 4). */
enum vz_kvm_host {
	VZ_KVM_HOST_UNKNOWN = 0,
	VZ_KVM_HOST_VMX,  /* kvm_intel */
	VZ_KVM_HOST_SVM,  /* kvm_amd */
	VZ_KVM_HOST_PVM,  /* kvm_pvm: guest kernel mode emulated in software */
};

const char *vz_kvm_host_name(enum vz_kvm_host h);
enum vz_kvm_host vz_kvm_host_detect(void);

/* A device on a bus. @io handles one access of @len (1..8) bytes at @off from the
 * device's base: for a write @data holds the bytes, for a read it receives them. It
 * runs on the vCPU thread that exited. */
struct vz_dev_ops {
	const char *name;
	void (*io)(struct vz_dev *dev, struct vz_vcpu *cpu, uint64_t off, uint8_t *data,
		   uint32_t len, bool write);
};

struct vz_dev {
	const struct vz_dev_ops *ops;
	struct vz_vm *vm;
	uint64_t base, len;
	void *state;
};

struct vz_bus {
	struct vz_dev devs[VZ_BUS_MAX_DEVS];
	int ndevs;
};

int vz_bus_add(struct vz_bus *bus, const struct vz_dev_ops *ops, struct vz_vm *vm,
	       uint64_t base, uint64_t len, void *state);
/* Dispatch one access; false if no device claims it (reads then return all ones). */
bool vz_bus_access(struct vz_bus *bus, struct vz_vcpu *cpu, uint64_t addr, uint8_t *data,
		   uint32_t len, bool write);

struct vz_vcpu {
	struct vz_vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	void *stack;
	volatile int tid; /* cleared by the kernel when the thread exits */
};

/* Why the VM stopped, set once by the first vCPU that decides it. */
enum vz_vm_end {
	VZ_VM_RUNNING = 0,
	VZ_VM_END_GUEST,    /* the guest init reported the workload's end */
	VZ_VM_END_RESET,    /* the guest rebooted (i8042 reset, e.g. after a panic) */
	VZ_VM_END_SHUTDOWN, /* triple fault */
	VZ_VM_END_ERROR,    /* KVM or the VMM failed */
};

/* Guest RAM: [0, low_size) and, above the 32-bit MMIO hole, [4 GiB, 4 GiB + high_size). */
#define VZ_MMIO_HOLE_START 0xC0000000ull
#define VZ_HIGH_RAM_START 0x100000000ull

struct vz_vm {
	int kvm_fd, vm_fd;
	enum vz_kvm_host host;
	uint8_t *ram;	   /* one mapping: low RAM, then high RAM */
	uint64_t ram_size; /* total */
	uint64_t low_size, high_size;
	struct vz_gmem mem; /* the same RAM as regions, for the devices */
	int nvcpus;
	struct vz_vcpu vcpus[VZ_VM_MAX_VCPUS];
	struct kvm_cpuid2 *cpuid; /* template, in VMM-owned memory */
	struct vz_bus pio, mmio;
	int ctl_efd; /* eventfd: a vCPU tells the main thread the VM has ended */
	/* Stopping the vCPUs (to save a template): the main thread sets pause_req and
	 * sends VZ_VCPU_KICK_SIG to each; each counts itself in paused and waits. */
	volatile int pause_req, paused;
	volatile int end;
	char end_text[256];
};

/* Guest memory access with bounds checks: NULL unless [gpa, gpa + len) lies wholly in
 * guest RAM. Never trust a guest-supplied address without going through this. */
void *vz_gpa(struct vz_vm *vm, uint64_t gpa, uint64_t len);

/* Record why the VM ends (first caller wins) and wake the main thread. */
void vz_vm_end(struct vz_vm *vm, enum vz_vm_end why, const char *text);

#endif
