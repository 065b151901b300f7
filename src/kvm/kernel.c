/* SPDX-License-Identifier: MIT */
/* Finding and parsing guest kernels (Documentation/x86/boot.rst for bzImage; the Xen
 * PVH ELF note XEN_ELFNOTE_PHYS32_ENTRY for vmlinux). Runs in the host process. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/util.h"
#include "kvm/kernel.h"

#ifndef VZ_DEFAULT_KERNEL
#define VZ_DEFAULT_KERNEL "/usr/local/share/libvz/vmlinux"
#endif

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVM_MARKER "vzpvm"

int vz_kimg_locate(const char *configured, char **path_out)
{
	const char *env = getenv("VZ_KERNEL");
	const char *pick = configured ? configured : (env && *env) ? env : NULL;

	*path_out = NULL;
	if (!pick) {
		if (access(VZ_DEFAULT_KERNEL, F_OK) < 0)
			return vz_err_set(VZ_ENOENT, ENOENT,
					  "no guest kernel found: none set with vz_config_set_kernel(), "
					  "VZ_KERNEL is unset, and the installed default %s does not "
					  "exist (tools/setup.sh builds and installs one)",
					  VZ_DEFAULT_KERNEL);
		pick = VZ_DEFAULT_KERNEL;
	}
	*path_out = strdup(pick);
	return *path_out ? VZ_OK : vz_err_oom();
}

static bool has_marker(const uint8_t *p, size_t n)
{
	static const char m[] = PVM_MARKER; /* as the kernel stores a parameter name */
	return memmem(p, n, m, sizeof(m)) != NULL;
}

static int bad(const struct vz_kimg *k, const char *why)
{
	return vz_err_set(VZ_EINVAL, 0, "guest kernel %s: %s", k->path, why);
}

/* Walk the notes of one PT_NOTE segment for the PVH entry. */
static bool find_pvh_note(struct vz_kimg *k, uint64_t off, uint64_t len)
{
	uint64_t pos = off, end = off + len;

	while (pos + sizeof(Elf64_Nhdr) <= end) {
		const Elf64_Nhdr *n = (const void *)(k->data + pos);
		uint64_t name = pos + sizeof(*n);
		uint64_t desc = name + ((n->n_namesz + 3ull) & ~3ull);
		uint64_t next = desc + ((n->n_descsz + 3ull) & ~3ull);
		if (next > end || next <= pos)
			return false;
		if (n->n_type == XEN_ELFNOTE_PHYS32_ENTRY && n->n_namesz == 4 &&
		    !memcmp(k->data + name, "Xen", 4) && n->n_descsz >= 4) {
			memcpy(&k->entry, k->data + desc, 4);
			return true;
		}
		pos = next;
	}
	return false;
}

static int parse_elf(struct vz_kimg *k)
{
	const Elf64_Ehdr *eh = (const void *)k->data;
	bool pvh = false;

	if (k->size < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return bad(k, "an ELF file but not 64-bit");
	if (eh->e_machine != EM_X86_64)
		return bad(k, "an ELF file for another machine (not x86-64)");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || !eh->e_phnum ||
	    eh->e_phoff > k->size || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > k->size - eh->e_phoff)
		return bad(k, "truncated or corrupt ELF program headers");
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(k->data + eh->e_phoff + i * sizeof(Elf64_Phdr));
		if (ph->p_offset > k->size || ph->p_filesz > k->size - ph->p_offset)
			return bad(k, "truncated: a segment lies beyond the end of the file");
		if (ph->p_type == PT_NOTE && !pvh)
			pvh = find_pvh_note(k, ph->p_offset, ph->p_filesz);
		if (ph->p_type != PT_LOAD)
			continue;
		if (k->nseg == VZ_KIMG_MAX_SEGS)
			return bad(k, "too many loadable segments");
		if (ph->p_filesz > ph->p_memsz || ph->p_paddr + ph->p_memsz < ph->p_paddr ||
		    ph->p_paddr + ph->p_memsz > (1ull << 32))
			return bad(k, "a loadable segment is malformed or above 4 GiB");
		k->seg[k->nseg++] = (struct vz_kimg_seg){ ph->p_paddr, ph->p_offset, ph->p_filesz,
							  ph->p_memsz };
		if (ph->p_paddr + ph->p_memsz > k->load_end)
			k->load_end = ph->p_paddr + ph->p_memsz;
	}
	if (!k->nseg)
		return bad(k, "an ELF file with nothing to load");
	if (!pvh)
		return bad(k, "a vmlinux without a PVH entry point (build it with CONFIG_PVH=y, "
			      "or boot its bzImage)");
	k->kind = VZ_KIMG_PVH;
	return VZ_OK;
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int parse_bzimage(struct vz_kimg *k)
{
	const uint8_t *d = k->data;
	unsigned setup_sects;

	if (k->size < 0x270)
		return bad(k, "truncated bzImage header");
	memcpy(&k->version, d + 0x206, 2);
	if (k->version < 0x020c)
		return bad(k, "boot protocol older than 2.12 (kernels before 3.8 are not supported)");
	if (!(d[0x236] & 1)) /* xloadflags: XLF_KERNEL_64 */
		return bad(k, "not a 64-bit kernel");
	if (!(d[0x211] & 1)) /* loadflags: LOADED_HIGH */
		return bad(k, "a zImage (not loaded high); only bzImage is supported");
	setup_sects = d[0x1f1] ? d[0x1f1] : 4;
	k->setup_size = (size_t)(setup_sects + 1) * 512;
	if (k->setup_size >= k->size)
		return bad(k, "truncated: no protected-mode kernel after the setup code");
	k->initrd_max = le32(d + 0x22c);
	k->init_size = le32(d + 0x260);
	memcpy(&k->pref_address, d + 0x258, 8);
	/* The payload size the header promises must be there. */
	if ((uint64_t)le32(d + 0x1f4) * 16 > k->size - k->setup_size + 16)
		return bad(k, "truncated: the file is shorter than its header says");
	k->kind = VZ_KIMG_BZIMAGE;
	return VZ_OK;
}

int vz_kimg_open(struct vz_kimg *k, const char *path)
{
	vz_autoclose int fd = -1;
	struct stat st;
	void *m;

	memset(k, 0, sizeof(*k));
	if (!(k->path = strdup(path)))
		return vz_err_oom();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vz_err_sys(vz_status_from_errno(errno), "guest kernel %s", path);
	if (fstat(fd, &st) < 0)
		return vz_err_sys(VZ_ERROR, "guest kernel %s: stat", path);
	if (!S_ISREG(st.st_mode))
		return vz_err_set(VZ_EINVAL, 0, "guest kernel %s: not a regular file", path);
	if (st.st_size < 512)
		return bad(k, st.st_size ? "truncated (smaller than any kernel)" : "empty file");
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return vz_err_sys(VZ_ERROR, "guest kernel %s: mmap", path);
	k->data = m;
	k->size = (size_t)st.st_size;
	if (!memcmp(k->data, ELFMAG, SELFMAG)) {
		if (parse_elf(k))
			return VZ_EINVAL;
	} else if (!memcmp(k->data + 0x202, "HdrS", 4)) {
		if (parse_bzimage(k))
			return VZ_EINVAL;
	} else {
		return bad(k, "not a Linux kernel (neither an ELF vmlinux nor a bzImage)");
	}
	k->pvm_ready = k->kind == VZ_KIMG_PVH && has_marker(k->data, k->size);
	return VZ_OK;
}

void vz_kimg_close(struct vz_kimg *k)
{
	if (k->data)
		munmap((void *)k->data, k->size);
	free(k->path);
	memset(k, 0, sizeof(*k));
}
