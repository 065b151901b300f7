/* SPDX-License-Identifier: MIT */
/* The guest's initramfs (cpio newc), built by the host process at start. */
#ifndef VZ_KVM_INITRAMFS_H
#define VZ_KVM_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>

#include <vz/config.h>

#include "kvm/modules.h"

struct vz_cpio {
	uint8_t *buf; /* anonymous mapping of cap bytes */
	size_t len, cap;
	size_t max; /* refuse to grow beyond this */
	uint64_t ram; /* guest RAM, for the error message */
	uint32_t ino;
};

struct vz_initramfs_spec {
	const vz_config *cfg;
	const char *exe; /* argv[0] resolved inside the rootfs */
	int64_t pids, nofile;
	int stdio_tty[3]; /* stream i goes through its virtio port (1) or is /dev/null (0) */
	const uint8_t *init;
	size_t init_len;
	/* Modules the init loads first (a modular guest kernel), in load order; paths
	 * relative to kmod_dir unless absolute. */
	const char *kmod_dir;
	const struct vz_kmods *kmods;
};

/* Build the job message (guest/abi.h: header and records) into @job. */
int vz_job_build(struct vz_cpio *job, const struct vz_initramfs_spec *s);
/* Append the whole archive to @c (set c->max and c->ram first): the init, and the
 * modules as /.vz/modules/NN-NAME.ko[.xz|.zst|.gz], NN their load order. */
int vz_initramfs_build(struct vz_cpio *c, const struct vz_initramfs_spec *s);
void vz_cpio_release(struct vz_cpio *c);

/* libvz's guest init, embedded at build time (guest_init.c). */
extern const uint8_t vz_guest_init_start[];
extern const uint8_t vz_guest_init_end[];

#endif
