/* SPDX-License-Identifier: MIT */
/* VM templates [Firecracker snapshot: vstate, persist; QEMU migration's order of the KVM
 * state calls]: a guest booted once to the point where libvz's guest init waits for
 * its job, saved as two files in a directory of the template cache:
 *
 *   memory  guest RAM, byte for byte (sparse: pages never touched or all zero are holes),
 *           mapped MAP_PRIVATE by every VM restored from it, so its pages are read on
 *           demand and shared until a guest writes them;
 *   state   a header (written by the host process, which knows the key) and, from
 *           VZ_SNAP_PAYLOAD_OFF, the payload the VMM wrote: tagged sections with the
 *           state of the VM (PIT, irqchips, kvmclock), of every vCPU and of every device.
 *
 * The header names everything the template depends on, field by field, so a mismatch
 * is reported as what differs; the payload's checksum catches damage. The VMM saves
 * (snapshot.c, in the VMM process: raw system calls, no libc allocation) and restores;
 * the host process keys, checks, names and publishes templates (template.c). */
#ifndef VZ_KVM_SNAPSHOT_H
#define VZ_KVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#define VZ_SNAP_MAGIC "VZTMPL\r\n"
#define VZ_SNAP_FORMAT 1
#define VZ_SNAP_PAYLOAD_OFF 4096u
#define VZ_SNAP_PAYLOAD_MAX (4u << 20)
/* What the VMM writes instead of a payload when it could not save: this magic, then the
 * reason as text (e.g. a state call that this host's KVM refuses). */
#define VZ_SNAP_FAIL_MAGIC "VZNOSNAP"

/* Everything a template depends on, as the host process sees it at a start. */
struct vz_snap_key {
	char build[96];	    /* libvz version and build id */
	char kernel[512];   /* guest kernel: path, device, inode, size, mtime */
	char modules[512];  /* module directory and the modules' identity, or "" */
	uint64_t ram_size;
	uint32_t nvcpus;
	uint32_t host; /* enum vz_kvm_host */
	uint64_t cmdline_sum, devtab_sum, cpuid_sum, init_sum;
};

/* The state file's first bytes (host-written, little-endian, this build's layout). */
struct vz_snap_hdr {
	char magic[8];
	uint32_t format, hdr_len;
	struct vz_snap_key key;
	uint64_t payload_len, payload_sum;
	uint64_t mem_len, mem_ino, mem_mtime_ns; /* the memory file as it was published */
	uint64_t hdr_sum;			  /* over the header up to here */
};

/* ---- payload sections: {u32 tag; u32 len; len bytes; padding to 8} ---- */
enum vz_snap_tag {
	VZ_SNAP_END = 0,
	VZ_SNAP_VM = 1,	    /* struct vz_snap_vm */
	VZ_SNAP_VCPU = 2,   /* struct vz_snap_vcpu, then xsave_len bytes, then the MSRs */
	VZ_SNAP_VIRTIO = 3, /* struct vz_snap_virtio, one per virtio device in table order */
	VZ_SNAP_CONSOLE = 4, /* struct vz_snap_console */
	VZ_SNAP_UART = 5,   /* struct vz_snap_uart */
};

struct vz_snap_sec {
	uint32_t tag, len;
};

struct vz_snap_vm {
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	struct kvm_irqchip chip[3]; /* PIC master, PIC slave, IOAPIC */
};

#define VZ_SNAP_MAX_MSRS 512
struct vz_snap_vcpu {
	uint32_t id, xsave_len, nmsrs, pad;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	/* then xsave_len bytes of struct kvm_xsave, then nmsrs struct kvm_msr_entry */
};

#define VZ_SNAP_MAX_QUEUES 16
struct vz_snap_vq {
	uint16_t num, last_avail, used_idx, signalled_used;
	uint8_t ready, broken, event_idx, signalled_valid;
	uint64_t desc_gpa, avail_gpa, used_gpa;
};

struct vz_snap_virtio {
	uint32_t device_id, status, dev_feat_sel, drv_feat_sel, queue_sel, config_gen, isr, nqueues;
	uint64_t driver_features;
	struct vz_snap_vq vq[VZ_SNAP_MAX_QUEUES];
};

struct vz_snap_console {
	uint8_t guest_open[8], host_open[8];
	uint8_t ports_added, in_eof, pad[6];
	uint32_t ev_head, ev_n;
	struct {
		uint32_t id;
		uint16_t event, value;
	} evq[32];
};

struct vz_snap_uart {
	uint8_t ier, iir, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t thri_pending, pad[3];
	int32_t irq_level;
};

/* 64-bit FNV-1a, continued from @h (start with VZ_SNAP_SUM_INIT). */
#define VZ_SNAP_SUM_INIT 0xcbf29ce484222325ull
static inline uint64_t vz_snap_sum(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Walk the payload @p of @len bytes: check that sections are well formed (in bounds,
 * known tags with their sizes, nvcpus vCPUs, ndev virtio devices, one VM section, an
 * END at the end). Returns 0, or -1 with @why (capacity @cap) saying what is wrong.
 * This reads a file: it is a parser of untrusted input (tests/fuzz/fuzz_snapshot.c). */
int vz_snap_check_payload(const uint8_t *p, size_t len, uint32_t nvcpus, uint32_t ndev,
			  char *why, size_t cap);

/* The next section at *off (advanced past it), or NULL at the end or out of bounds. */
const struct vz_snap_sec *vz_snap_next(const uint8_t *p, size_t len, size_t *off);

/* ---- the VMM's side (snapshot.c) ---- */
struct vz_vm;

/* A payload being built, in memory the VMM mapped. */
struct vz_snap_buf {
	uint8_t *p;
	size_t len, cap;
};

/* Append a zeroed section of @len bytes; returns its body, or NULL if full. */
void *vz_snap_append(struct vz_snap_buf *b, uint32_t tag, uint32_t len);
/* The body of the @nth section of @tag, at least @size bytes long, or NULL. */
const void *vz_snap_find(const uint8_t *p, size_t len, uint32_t tag, uint32_t nth, uint32_t size);
/* Append the VM's and every vCPU's KVM state (all vCPUs stopped). Returns 0, or -1 with
 * @why naming the call that failed (kvm_pvm, for one, may refuse some). */
int vz_vstate_save(struct vz_vm *vm, struct vz_snap_buf *b, char *why, size_t cap);
/* Write guest RAM to @fd, sparse: pages never touched and pages of zeros are holes.
 * @pagemap_fd (/proc/self/pagemap, or -1) tells swapped-out pages from untouched ones;
 * without it every page is read. Returns 0 or -errno. */
long vz_vstate_save_memory(struct vz_vm *vm, int fd, int pagemap_fd);
/* Set the VM's and every vCPU's KVM state from a checked payload (vCPUs created, none
 * run yet). Returns 0, or -1 with @why. */
int vz_vstate_restore(struct vz_vm *vm, const uint8_t *p, size_t len, char *why, size_t cap);

#endif
