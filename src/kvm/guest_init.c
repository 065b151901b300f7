/* SPDX-License-Identifier: MIT */
/* libvz's static guest init (guest/init.c), built at build time and embedded here so
 * that libvz needs no file besides the guest kernel. */
#include <stdint.h>

#include "kvm/initramfs.h"

#ifndef VZ_GUEST_INIT_BIN
#error "VZ_GUEST_INIT_BIN must name the built guest init"
#endif

#define VZ_STR2(x) #x
#define VZ_STR(x) VZ_STR2(x)

__asm__(".section .rodata\n"
	".balign 16\n"
	".globl vz_guest_init_start\n"
	".hidden vz_guest_init_start\n"
	"vz_guest_init_start:\n"
	".incbin \"" VZ_STR(VZ_GUEST_INIT_BIN) "\"\n"
	".globl vz_guest_init_end\n"
	".hidden vz_guest_init_end\n"
	"vz_guest_init_end:\n"
	".previous\n");
