/* SPDX-License-Identifier: MIT */
/* The template cache, in the host process (the format is in snapshot.h).
 *
 * Layout of a template directory ROOT (vz_config_set_vm_templates):
 *   ROOT/SLOT/state, ROOT/SLOT/memory   a published template (read-only files)
 *   ROOT/.SLOT.lock                     flock'd by the one process making SLOT's template
 *   ROOT/SLOT.unsupported               this host's KVM cannot save such a VM: the reason
 *   ROOT/.tmp-SLOT-PID-N/               a template being written (PID's)
 * SLOT is a hash of what selects a guest (kernel path, module directory, command line,
 * memory, vCPUs, device table, KVM kind). What must also match for a restore to be
 * right (libvz build, the kernel and module files themselves, CPUID) is checked inside
 * the header, so a stale template in its slot is refused with the reason, and the
 * start that refused it boots cold and replaces it. Publishing is a rename (an atomic
 * exchange when replacing), so a reader sees a whole template or none; files already
 * mapped by running VMs are never written again. */
#ifndef VZ_KVM_TEMPLATE_H
#define VZ_KVM_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <vz/config.h>

#include "kvm/snapshot.h"

/* In the VMM's error for a restore that failed: the host then boots cold. */
#define VZ_RESTORE_FAILED "restore from template failed"

struct vz_kvm_plan;
struct vz_kimg;
struct vz_kmods;

struct vz_tmpl {
	char *root, *slot_dir, *tmp_dir;
	char slot[17];
	struct vz_snap_key key;
	int lock_fd;
	/* restore: the state file mapped, and the memory file */
	uint8_t *map;
	size_t map_len;
	int mem_fd;
	/* save: the files being written into tmp_dir */
	int save_state_fd, save_mem_fd;
	bool replace; /* a refused template holds the slot */
};

/* Which directory holds the templates: the configured one, $VZ_TEMPLATE_DIR, else
 * /var/cache/libvz/templates (root) or the user's cache. malloc'd into *out. */
int vz_tmpl_root(const vz_config *cfg, char **out);

/* The key of a start planned as @plan (its cmdline, devtab, CPUID, memory and vCPUs
 * set) for kernel @kimg and modules @kmods in @kmod_dir (NULL: none). */
void vz_tmpl_key(struct vz_snap_key *k, uint64_t *slot, const struct vz_kvm_plan *plan,
		 const struct vz_kimg *kimg, const char *kmod_dir, const struct vz_kmods *kmods);

/* Check a state file's bytes against @want and the memory file's @mem. Returns 0, or -1
 * with @why (capacity @cap) saying what differs or is damaged. A parser of files:
 * tests/fuzz/fuzz_snapshot.c feeds it. */
int vz_tmpl_check(const uint8_t *state, size_t len, const struct vz_snap_key *want,
		  const struct stat *mem, uint32_t ndev, char *why, size_t cap);

/* Only look: key @t and check the published template for @plan. Returns 1 when it can
 * be restored (t->map, t->mem_fd set), 0 when there is none, -1 when one is refused
 * (logged), -2 when the directory cannot hold templates. No lock, nothing written. */
int vz_tmpl_find(struct vz_tmpl *t, const vz_config *cfg, const struct vz_kvm_plan *plan,
		 const struct vz_kimg *kimg, const char *kmod_dir, const struct vz_kmods *kmods);

/* At a start: find the template for @plan. Returns 1 when one was found and checked
 * (t->map and t->mem_fd set: restore), 0 when this start should save one (t's save
 * fds set: boot cold and save), -1 to boot cold without saving (another process is
 * making it, the host cannot, or the directory is not usable; logged where it is news).
 * @force_save: wait for a concurrent maker instead of skipping (make_template). */
int vz_tmpl_open(struct vz_tmpl *t, const vz_config *cfg, const struct vz_kvm_plan *plan,
		 const struct vz_kimg *kimg, const char *kmod_dir, const struct vz_kmods *kmods,
		 bool force_save);

/* After the VMM saved (or failed to): check what it wrote, complete the header and
 * publish it, or record why the host cannot. Returns 0 when a template was published,
 * -1 otherwise (the error recorded, naming why). */
int vz_tmpl_publish(struct vz_tmpl *t, uint32_t ndev);

/* Record in SLOT.unsupported that this host's KVM cannot save or restore such a VM
 * (@why), so later starts boot cold without trying. */
void vz_tmpl_mark_unsupported(struct vz_tmpl *t, const char *why);

/* Remove the published template that @t restored from (it failed). */
void vz_tmpl_discard(struct vz_tmpl *t);

/* Close, unmap, unlock, and remove an unpublished temporary directory. */
void vz_tmpl_release(struct vz_tmpl *t);

#endif
