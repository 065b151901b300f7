/* SPDX-License-Identifier: MIT */
/* The output window (devices.h): bulk stdout/stderr from the guest init. The length
 * comes from guest memory, so it is read once and clamped before use. */
#include <string.h>
#include <sys/mman.h>

#include "kvm/devices.h"

#define OUT_SLOT 2

static void outwin_io(struct vz_dev *dev, struct vz_vcpu *cpu, uint64_t off, uint8_t *data,
		      uint32_t len, bool write)
{
	struct vz_outwin *w = dev->state;
	uint32_t n, done = 0;
	int ch = (int)off;

	(void)cpu;
	if (!write) {
		memset(data, 0, len);
		return;
	}
	if (ch >= VZ_OUT_STREAMS)
		return;
	n = __atomic_load_n((volatile uint32_t *)(w->mem + 4 * ch), __ATOMIC_ACQUIRE);
	if (n > VZ_OUT_MAX)
		n = VZ_OUT_MAX;
	while (done < n && w->fds[ch] >= 0) {
		long r = vz_r_write(w->fds[ch], w->mem + VZ_OUT_DATA(ch) + done, n - done);
		if (r == -4 /* EINTR */)
			continue;
		if (r <= 0) {
			w->fds[ch] = -1; /* the reader is gone: drop, as a closed terminal would */
			break;
		}
		done += (uint32_t)r;
	}
}

static const struct vz_dev_ops outwin_ops = { .name = "vz-output", .io = outwin_io };

int vz_outwin_init(struct vz_outwin *w, struct vz_vm *vm, int out_fd, int err_fd)
{
	struct kvm_userspace_memory_region slot = { .slot = OUT_SLOT, .guest_phys_addr = VZ_OUT_GPA,
						    .memory_size = VZ_OUT_SIZE };
	w->fds[0] = out_fd;
	w->fds[1] = err_fd;
	w->mem = vz_r_mmap(NULL, VZ_OUT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (vz_r_mmap_failed(w->mem))
		return -1;
	slot.userspace_addr = (uint64_t)(uintptr_t)w->mem;
	if (vz_r_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return -1;
	return vz_bus_add(&vm->pio, &outwin_ops, vm, VZ_OUT_PORT, VZ_OUT_STREAMS, w);
}
