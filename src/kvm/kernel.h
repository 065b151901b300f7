/* SPDX-License-Identifier: MIT */
/* Guest kernel images: finding one (config, then VZ_KERNEL, then the installed
 * default) and parsing it in the host process, before anything is cloned. */
#ifndef VZ_KVM_KERNEL_H
#define VZ_KVM_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VZ_KIMG_MAX_SEGS 8

enum vz_kimg_kind {
	VZ_KIMG_PVH = 1, /* uncompressed ELF vmlinux with a PVH entry note */
	VZ_KIMG_BZIMAGE, /* Linux boot protocol image */
};

struct vz_kimg_seg {
	uint64_t paddr, off, filesz, memsz;
};

struct vz_kimg {
	char *path;
	enum vz_kimg_kind kind;
	const uint8_t *data; /* the whole file, mapped read-only */
	size_t size;
	bool pvm_ready; /* carries libvz's kvm_pvm changes (the "vzpvm" parameter) */
	/* PVH */
	uint32_t entry;
	struct vz_kimg_seg seg[VZ_KIMG_MAX_SEGS];
	int nseg;
	uint64_t load_end; /* highest byte the loaded image occupies (exclusive) */
	/* bzImage */
	size_t setup_size;    /* real-mode part, (setup_sects + 1) * 512 */
	uint16_t version;     /* boot protocol */
	uint32_t init_size;   /* memory the kernel needs from its load address */
	uint32_t initrd_max;  /* highest address an initrd may end at */
	uint64_t pref_address;
};

/* Which file to boot: @configured, else $VZ_KERNEL, else the installed default. The
 * returned string is malloc'd. Records an error naming every place searched. */
int vz_kimg_locate(const char *configured, char **path_out);

/* Map and parse @path. Records a clear error for a missing, unreadable, truncated or
 * foreign file. */
int vz_kimg_open(struct vz_kimg *k, const char *path);
void vz_kimg_close(struct vz_kimg *k);

#endif
