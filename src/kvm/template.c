/* SPDX-License-Identifier: MIT */
/* The template cache in the host process (see template.h and snapshot.h). */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vz/sandbox.h>
#include <vz/version.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "kvm/initramfs.h"
#include "kvm/kernel.h"
#include "kvm/modules.h"
#include "kvm/template.h"
#include "kvm/vmm.h"

/* ---- the key ---- */

struct bid_search {
	const void *fn;
	char hex[64];
};

/* The GNU build id of the object that holds this code (the library, or a program
 * libvz is linked into): another build of libvz has another one. */
static int bid_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct bid_search *b = data;
	uintptr_t addr = (uintptr_t)b->fn;
	bool mine = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz)
			mine = true;
	}
	if (!mine)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n), *desc = name + ((n->n_namesz + 3) & ~3u);
			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
				for (uint32_t k = 0; k < n->n_descsz && 2 * k + 2 < sizeof(b->hex); k++)
					snprintf(b->hex + 2 * k, 3, "%02x", desc[k]);
				return 1;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1;
}

static char g_build[96];
static uint64_t g_init_sum;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build_once(void)
{
	struct bid_search b = { .fn = (const void *)vz_tmpl_key, .hex = "" };

	dl_iterate_phdr(bid_cb, &b);
	/* The guest init is part of the library, so its build id covers it; without one,
	 * the init's checksum (a megabyte to read) stands in for the build. */
	if (!b.hex[0]) {
		g_init_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, vz_guest_init_start,
					 (size_t)(vz_guest_init_end - vz_guest_init_start));
		snprintf(b.hex, sizeof(b.hex), "init-%016llx", (unsigned long long)g_init_sum);
	}
	snprintf(g_build, sizeof(g_build), "libvz %s build %s", VZ_VERSION_STRING, b.hex);
}

static void file_id(char *out, size_t cap, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(out, cap, "%s (unreadable)", path);
		return;
	}
	snprintf(out, cap, "%s (device %llx, inode %llu, %lld bytes, modified %lld.%09ld)", path,
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

void vz_tmpl_key(struct vz_snap_key *k, uint64_t *slot, const struct vz_kvm_plan *plan,
		 const struct vz_kimg *kimg, const char *kmod_dir, const struct vz_kmods *kmods)
{
	uint64_t h = VZ_SNAP_SUM_INIT;

	pthread_once(&g_once, build_once);
	memset(k, 0, sizeof(*k));
	snprintf(k->build, sizeof(k->build), "%s", g_build);
	file_id(k->kernel, sizeof(k->kernel), kimg->path);
	if (kmod_dir && kmods && kmods->n) {
		uint64_t m = VZ_SNAP_SUM_INIT;
		for (size_t i = 0; i < kmods->n; i++) {
			char id[1024], rel[512];
			snprintf(rel, sizeof(rel), "%.*s", (int)kmods->m[i].path_len, kmods->m[i].path);
			vz_autofree char *path = rel[0] == '/' ? vz_strdup(rel) : vz_asprintf("%s/%s", kmod_dir, rel);
			file_id(id, sizeof(id), path ? path : rel);
			m = vz_snap_sum(m, id, strlen(id));
		}
		snprintf(k->modules, sizeof(k->modules), "%s (%zu modules, identity %016llx)", kmod_dir,
			 kmods->n, (unsigned long long)m);
	}
	k->ram_size = plan->ram_size;
	k->nvcpus = (uint32_t)plan->nvcpus;
	k->host = (uint32_t)plan->host;
	k->cmdline_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, plan->cmdline, strlen(plan->cmdline));
	k->devtab_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, &plan->devtab, sizeof(plan->devtab));
	/* As vCPU 0 sees it: KVM fills the APIC ID fields from the host CPU the call ran on. */
	size_t csize = sizeof(*plan->cpuid) + plan->cpuid->nent * sizeof(plan->cpuid->entries[0]);
	vz_autofree struct kvm_cpuid2 *c0 = calloc(1, csize);
	if (c0) {
		vz_x86_cpuid_for_vcpu(c0, plan->cpuid, 0);
		k->cpuid_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, c0->entries, c0->nent * sizeof(c0->entries[0]));
	}
	k->init_sum = g_init_sum;
	/* The slot: what selects a guest. */
	h = vz_snap_sum(h, kimg->path, strlen(kimg->path) + 1);
	if (kmod_dir)
		h = vz_snap_sum(h, kmod_dir, strlen(kmod_dir) + 1);
	h = vz_snap_sum(h, &k->ram_size, sizeof(k->ram_size));
	h = vz_snap_sum(h, &k->nvcpus, sizeof(k->nvcpus));
	h = vz_snap_sum(h, &k->host, sizeof(k->host));
	h = vz_snap_sum(h, &k->cmdline_sum, sizeof(k->cmdline_sum));
	h = vz_snap_sum(h, &k->devtab_sum, sizeof(k->devtab_sum));
	*slot = h;
}

/* ---- checking a state file ---- */

static uint64_t hdr_sum(const struct vz_snap_hdr *h)
{
	return vz_snap_sum(VZ_SNAP_SUM_INIT, h, offsetof(struct vz_snap_hdr, hdr_sum));
}

#define WHY(...) (snprintf(why, cap, __VA_ARGS__), -1)

int vz_tmpl_check(const uint8_t *state, size_t len, const struct vz_snap_key *want,
		  const struct stat *mem, uint32_t ndev, char *why, size_t cap)
{
	struct vz_snap_hdr h;
	const struct vz_snap_key *k = &h.key;

	if (len < sizeof(h))
		return WHY("its state file is truncated (%zu bytes)", len);
	memcpy(&h, state, sizeof(h));
	if (memcmp(h.magic, VZ_SNAP_MAGIC, sizeof(h.magic)))
		return WHY("its state file is not a libvz template");
	if (h.format != VZ_SNAP_FORMAT || h.hdr_len != sizeof(h))
		return WHY("it has format %u (header %u bytes); this libvz reads format %u", h.format,
			   h.hdr_len, VZ_SNAP_FORMAT);
	/* The build before the checksums: another build may lay the rest out otherwise. */
	if (strncmp(k->build, want->build, sizeof(k->build)))
		return WHY("it was made by %.*s; this is %s", (int)sizeof(k->build), k->build,
			   want->build);
	if (hdr_sum(&h) != h.hdr_sum)
		return WHY("its header is damaged (checksum mismatch)");
	if (strncmp(k->kernel, want->kernel, sizeof(k->kernel)))
		return WHY("it was made for guest kernel %.*s; now it is %s", (int)sizeof(k->kernel),
			   k->kernel, want->kernel);
	if (strncmp(k->modules, want->modules, sizeof(k->modules)))
		return WHY("it was made with guest kernel modules %.*s; now %s",
			   (int)sizeof(k->modules), k->modules[0] ? k->modules : "(none)",
			   want->modules[0] ? want->modules : "(none)");
	if (k->ram_size != want->ram_size)
		return WHY("it was made for %llu MiB of guest memory, not %llu",
			   (unsigned long long)(k->ram_size >> 20), (unsigned long long)(want->ram_size >> 20));
	if (k->nvcpus != want->nvcpus)
		return WHY("it was made for %u vCPUs, not %u", k->nvcpus, want->nvcpus);
	if (k->host != want->host)
		return WHY("it was made on another kind of KVM (%s)", vz_kvm_host_name((enum vz_kvm_host)k->host));
	if (k->cmdline_sum != want->cmdline_sum)
		return WHY("it was made with another kernel command line");
	if (k->devtab_sum != want->devtab_sum)
		return WHY("it was made with another device layout");
	if (k->cpuid_sum != want->cpuid_sum)
		return WHY("it was made on a host CPU with other features (CPUID differs)");
	if (k->init_sum != want->init_sum)
		return WHY("it was made with another guest init");
	if ((uint64_t)mem->st_size != h.mem_len)
		return WHY("its memory file is %lld bytes, not %llu (truncated or replaced)",
			   (long long)mem->st_size, (unsigned long long)h.mem_len);
	if ((uint64_t)mem->st_ino != h.mem_ino ||
	    (uint64_t)mem->st_mtim.tv_sec * 1000000000ull + (uint64_t)mem->st_mtim.tv_nsec != h.mem_mtime_ns)
		return WHY("its memory file was changed after it was made");
	if (h.mem_len != want->ram_size)
		return WHY("its memory file does not hold %llu MiB", (unsigned long long)(want->ram_size >> 20));
	if (len < VZ_SNAP_PAYLOAD_OFF || h.payload_len > VZ_SNAP_PAYLOAD_MAX ||
	    h.payload_len != len - VZ_SNAP_PAYLOAD_OFF)
		return WHY("its state file is truncated or overlong (%zu bytes, %llu expected)", len,
			   (unsigned long long)(VZ_SNAP_PAYLOAD_OFF + h.payload_len));
	if (vz_snap_sum(VZ_SNAP_SUM_INIT, state + VZ_SNAP_PAYLOAD_OFF, h.payload_len) != h.payload_sum)
		return WHY("its state is damaged (checksum mismatch)");
	char inner[160];
	if (vz_snap_check_payload(state + VZ_SNAP_PAYLOAD_OFF, h.payload_len, want->nvcpus, ndev, inner,
				  sizeof(inner)) < 0)
		return WHY("its state is malformed: %s", inner);
	return 0;
}

/* ---- the directory ---- */

int vz_tmpl_root(const vz_config *cfg, char **out)
{
	const char *env = getenv("VZ_TEMPLATE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");

	*out = NULL;
	if (cfg && cfg->vm_templates)
		*out = vz_strdup(cfg->vm_templates);
	else if (env && env[0] == '/')
		*out = vz_strdup(env);
	else if (geteuid() == 0)
		*out = vz_strdup("/var/cache/libvz/templates");
	else if (xdg && xdg[0] == '/')
		*out = vz_asprintf("%s/libvz/templates", xdg);
	else if (home && home[0] == '/')
		*out = vz_asprintf("%s/.cache/libvz/templates", home);
	else
		return vz_err_set(VZ_EINVAL, 0, "vm templates: no directory (set VZ_TEMPLATE_DIR, "
				  "XDG_CACHE_HOME or HOME)");
	return *out ? VZ_OK : vz_err_oom();
}

static int mkdir_p(const char *path)
{
	vz_autofree char *p = vz_strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Remove what libvz writes into a template's directory, and the directory. */
static int rm_template_dir(const char *dir)
{
	static const char *const files[] = { "state", "memory" };
	int rc = 0;
	for (size_t i = 0; i < 2; i++) {
		vz_autofree char *f = vz_asprintf("%s/%s", dir, files[i]);
		if (f && unlink(f) < 0 && errno != ENOENT)
			rc = -1;
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

static void init_tmpl(struct vz_tmpl *t)
{
	memset(t, 0, sizeof(*t));
	t->lock_fd = t->mem_fd = t->save_state_fd = t->save_mem_fd = -1;
}

/* Map and check the published template. 1: ready to restore; 0: none; -1: refused
 * (logged). */
static int try_restore(struct vz_tmpl *t, uint32_t ndev)
{
	vz_autofree char *sp = vz_asprintf("%s/state", t->slot_dir), *mp = vz_asprintf("%s/memory", t->slot_dir);
	struct stat sst, mst;
	char why[768];
	int sfd;

	if (!sp || !mp)
		return 0;
	if ((sfd = open(sp, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	t->mem_fd = open(mp, O_RDONLY | O_CLOEXEC);
	if (t->mem_fd < 0 || fstat(sfd, &sst) < 0 || fstat(t->mem_fd, &mst) < 0 || sst.st_size <= 0) {
		snprintf(why, sizeof(why), "its %s file cannot be read (%s)", t->mem_fd < 0 ? "memory" : "state",
			 strerror(errno));
		goto refused;
	}
	/* A private copy, checked and then used: the file itself could change between
	 * the check and the VMM's use (a shared page of a MAP_PRIVATE mapping would). */
	t->map_len = (size_t)sst.st_size;
	t->map = sst.st_size <= VZ_SNAP_PAYLOAD_OFF + VZ_SNAP_PAYLOAD_MAX
			 ? mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			 : MAP_FAILED;
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		snprintf(why, sizeof(why), "its state file is %lld bytes, more than a state holds",
			 (long long)sst.st_size);
		goto refused;
	}
	if (pread(sfd, t->map, t->map_len, 0) != (ssize_t)t->map_len) {
		snprintf(why, sizeof(why), "its state file cannot be read (%s)", errno ? strerror(errno) : "short");
		goto refused;
	}
	if (vz_tmpl_check(t->map, t->map_len, &t->key, &mst, ndev, why, sizeof(why)) < 0)
		goto refused;
	close(sfd);
	return 1;
refused:
	close(sfd);
	if (t->map)
		munmap(t->map, t->map_len);
	t->map = NULL;
	vz_close(&t->mem_fd);
	vz_log(VZ_LOG_WARN, "vm template %s refused: %s; booting cold and replacing it", t->slot_dir, why);
	return -1;
}

static unsigned g_tmp_seq;

/* What another user could write into would become guest memory: only a directory of
 * this uid that nobody else can write holds templates (@absent_ok: or none yet). */
static bool root_ok(const char *root, bool absent_ok)
{
	struct stat st;
	if (lstat(root, &st) < 0)
		return absent_ok && errno == ENOENT;
	if (S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return true;
	vz_log(VZ_LOG_WARN, "vm templates: %s is not a directory of uid %u that only it can write; "
	       "VMs boot cold", root, (unsigned)geteuid());
	return false;
}

/* Leftovers of makers that died while writing this slot's template. */
static void sweep_tmp(struct vz_tmpl *t)
{
	char prefix[32];
	DIR *d = opendir(t->root);
	struct dirent *e;

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), ".tmp-%s-", t->slot);
	while ((e = readdir(d))) {
		long pid;
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		pid = strtol(e->d_name + strlen(prefix), NULL, 10);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		vz_autofree char *p = vz_asprintf("%s/%s", t->root, e->d_name);
		if (p)
			rm_template_dir(p);
	}
	closedir(d);
}

int vz_tmpl_find(struct vz_tmpl *t, const vz_config *cfg, const struct vz_kvm_plan *plan,
		 const struct vz_kimg *kimg, const char *kmod_dir, const struct vz_kmods *kmods)
{
	uint64_t slot;

	init_tmpl(t);
	vz_tmpl_key(&t->key, &slot, plan, kimg, kmod_dir, kmods);
	snprintf(t->slot, sizeof(t->slot), "%016llx", (unsigned long long)slot);
	if (vz_tmpl_root(cfg, &t->root) || !(t->slot_dir = vz_asprintf("%s/%s", t->root, t->slot)) ||
	    !root_ok(t->root, true))
		return -2;
	return try_restore(t, (uint32_t)plan->devtab.n);
}

int vz_tmpl_open(struct vz_tmpl *t, const vz_config *cfg, const struct vz_kvm_plan *plan,
		 const struct vz_kimg *kimg, const char *kmod_dir, const struct vz_kmods *kmods,
		 bool force_save)
{
	uint32_t ndev = (uint32_t)plan->devtab.n;
	int r = vz_tmpl_find(t, cfg, plan, kimg, kmod_dir, kmods);

	if (r == 1 || r == -2)
		return r == 1 ? 1 : -1;
	t->replace = r < 0;
	{
		vz_autofree char *mark = vz_asprintf("%s.unsupported", t->slot_dir);
		if (mark && access(mark, F_OK) == 0)
			return -1;
	}
	if (mkdir_p(t->root) < 0) {
		vz_log(VZ_LOG_WARN, "vm templates: cannot use %s (%s); VMs boot cold", t->root, strerror(errno));
		return -1;
	}
	if (!root_ok(t->root, false))
		return -1;
	{
		vz_autofree char *lock = vz_asprintf("%s/.%s.lock", t->root, t->slot);
		if (!lock || (t->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
			return -1;
	}
	while ((r = flock(t->lock_fd, LOCK_EX | (force_save ? 0 : LOCK_NB))) < 0 && errno == EINTR)
		;
	if (r < 0) { /* another process makes it now */
		vz_close(&t->lock_fd);
		return -1;
	}
	/* Made by another process while this one waited or looked? */
	if (!t->replace && try_restore(t, ndev) == 1) {
		vz_close(&t->lock_fd);
		return 1;
	}
	sweep_tmp(t);
	if (!(t->tmp_dir = vz_asprintf("%s/.tmp-%s-%d-%u", t->root, t->slot, (int)getpid(),
				       __atomic_fetch_add(&g_tmp_seq, 1, __ATOMIC_RELAXED))) ||
	    mkdir(t->tmp_dir, 0700) < 0)
		goto no;
	{
		vz_autofree char *sp = vz_asprintf("%s/state", t->tmp_dir), *mp = vz_asprintf("%s/memory", t->tmp_dir);
		if (!sp || !mp ||
		    (t->save_state_fd = open(sp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
		    (t->save_mem_fd = open(mp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
			goto no;
	}
	return 0;
no:
	vz_log(VZ_LOG_WARN, "vm templates: cannot write into %s (%s); this VM boots cold", t->root,
	       strerror(errno));
	vz_tmpl_release(t);
	init_tmpl(t);
	return -1;
}

/* Rename what holds the slot out of the way (so no other start maps it meanwhile) and
 * remove it. Returns 0, or -1 with errno when it could not be moved. */
static int move_aside(struct vz_tmpl *t)
{
	vz_autofree char *old = vz_asprintf("%s/.tmp-%s-%d-old%u", t->root, t->slot, (int)getpid(),
					    __atomic_fetch_add(&g_tmp_seq, 1, __ATOMIC_RELAXED));
	if (!old || rename(t->slot_dir, old) < 0)
		return -1;
	rm_template_dir(old);
	return 0;
}

/* Record that this host cannot save (or restore) such a VM, so later starts do not try
 * again. */
void vz_tmpl_mark_unsupported(struct vz_tmpl *t, const char *why)
{
	vz_autofree char *mark = vz_asprintf("%s.unsupported", t->slot_dir);
	vz_autofree char *tmp = vz_asprintf("%s/.%s.unsupported.%d", t->root, t->slot, (int)getpid());
	FILE *f;

	if (!mark || !tmp || !(f = fopen(tmp, "we")))
		return;
	fprintf(f, "%s\n", why);
	if (fclose(f) == 0)
		rename(tmp, mark);
	else
		unlink(tmp);
}

int vz_tmpl_publish(struct vz_tmpl *t, uint32_t ndev)
{
	struct vz_snap_hdr h = { 0 };
	struct stat sst, mst;
	vz_autofree uint8_t *buf = NULL;
	char why[200];
	ssize_t got;

	if (t->save_state_fd < 0 || fstat(t->save_state_fd, &sst) < 0 || fstat(t->save_mem_fd, &mst) < 0)
		return vz_err_set(VZ_ERROR, 0, "vm template: nothing was saved");
	if (sst.st_size < VZ_SNAP_PAYLOAD_OFF + 8 || sst.st_size > VZ_SNAP_PAYLOAD_OFF + VZ_SNAP_PAYLOAD_MAX)
		return vz_err_set(VZ_ERROR, 0, "vm template: the VM ended before it could be saved");
	if (!(buf = malloc((size_t)sst.st_size)))
		return vz_err_oom();
	got = pread(t->save_state_fd, buf, (size_t)sst.st_size, 0);
	if (got != sst.st_size)
		return vz_err_sys(VZ_ERROR, "vm template: read %s/state", t->tmp_dir);
	if (!memcmp(buf + VZ_SNAP_PAYLOAD_OFF, VZ_SNAP_FAIL_MAGIC, 8)) {
		size_t n = (size_t)got - VZ_SNAP_PAYLOAD_OFF - 8;
		snprintf(why, sizeof(why), "%.*s", (int)(n < sizeof(why) ? n : sizeof(why) - 1),
			 (const char *)buf + VZ_SNAP_PAYLOAD_OFF + 8);
		vz_tmpl_mark_unsupported(t, why);
		vz_log(VZ_LOG_WARN, "vm templates: this host's KVM (%s) cannot save a VM: %s; such VMs "
		       "boot cold (remove %s.unsupported to try again)",
		       vz_kvm_host_name((enum vz_kvm_host)t->key.host), why, t->slot_dir);
		return vz_err_set(VZ_ENOTSUP, 0, "vm template: this host's KVM (%s) cannot save a VM: %s",
				  vz_kvm_host_name((enum vz_kvm_host)t->key.host), why);
	}
	memcpy(h.magic, VZ_SNAP_MAGIC, sizeof(h.magic));
	h.format = VZ_SNAP_FORMAT;
	h.hdr_len = sizeof(h);
	h.key = t->key;
	h.payload_len = (uint64_t)got - VZ_SNAP_PAYLOAD_OFF;
	h.payload_sum = vz_snap_sum(VZ_SNAP_SUM_INIT, buf + VZ_SNAP_PAYLOAD_OFF, h.payload_len);
	if (vz_snap_check_payload(buf + VZ_SNAP_PAYLOAD_OFF, h.payload_len, t->key.nvcpus, ndev, why,
				  sizeof(why)) < 0)
		return vz_err_set(VZ_ERROR, 0, "vm template: the VMM wrote a malformed state: %s", why);
	/* Read-only from here: running VMs will map the memory file. */
	if (fchmod(t->save_mem_fd, 0400) < 0 || fchmod(t->save_state_fd, 0400) < 0 ||
	    fstat(t->save_mem_fd, &mst) < 0)
		return vz_err_sys(VZ_ERROR, "vm template: %s", t->tmp_dir);
	h.mem_len = (uint64_t)mst.st_size;
	h.mem_ino = (uint64_t)mst.st_ino;
	h.mem_mtime_ns = (uint64_t)mst.st_mtim.tv_sec * 1000000000ull + (uint64_t)mst.st_mtim.tv_nsec;
	h.hdr_sum = hdr_sum(&h);
	if (pwrite(t->save_state_fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return vz_err_sys(VZ_ERROR, "vm template: write %s/state", t->tmp_dir);
	/* This process holds the slot's lock: whatever is in the slot (a refused template,
	 * a partial one) goes; atomically where the file system can exchange. */
	if (renameat2(AT_FDCWD, t->tmp_dir, AT_FDCWD, t->slot_dir, RENAME_EXCHANGE) == 0) {
		rm_template_dir(t->tmp_dir); /* now the old one */
	} else if (rename(t->tmp_dir, t->slot_dir) < 0 &&
		   ((errno != EEXIST && errno != ENOTEMPTY) || move_aside(t) < 0 ||
		    rename(t->tmp_dir, t->slot_dir) < 0)) {
		return vz_err_sys(VZ_ERROR, "vm template: publish %s", t->slot_dir);
	}
	free(t->tmp_dir);
	t->tmp_dir = NULL;
	vz_log(VZ_LOG_INFO, "vm template %s made", t->slot_dir);
	return VZ_OK;
}

void vz_tmpl_discard(struct vz_tmpl *t)
{
	move_aside(t);
}

void vz_tmpl_release(struct vz_tmpl *t)
{
	if (t->map)
		munmap(t->map, t->map_len);
	vz_close(&t->mem_fd);
	vz_close(&t->save_state_fd);
	vz_close(&t->save_mem_fd);
	if (t->tmp_dir)
		rm_template_dir(t->tmp_dir);
	vz_close(&t->lock_fd);
	free(t->root);
	free(t->slot_dir);
	free(t->tmp_dir);
	init_tmpl(t);
}

/* ---- dropping ---- */

static bool is_slot(const char *s, size_t n)
{
	if (n < 16)
		return false;
	for (size_t i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int vz_vm_templates_drop(const char *dir)
{
	vz_autofree char *root = NULL;
	struct dirent *e;
	int rc = VZ_OK;
	DIR *d;

	if (dir && dir[0] != '/')
		return vz_err_set(VZ_EINVAL, 0, "vz_vm_templates_drop: %s is not an absolute path", dir);
	if (dir ? !(root = vz_strdup(dir)) : vz_tmpl_root(NULL, &root) != VZ_OK)
		return dir ? VZ_ENOMEM : vz_error_last()->code;
	if (!(d = opendir(root)))
		return errno == ENOENT ? VZ_OK : vz_err_sys(VZ_ERROR, "vz_vm_templates_drop: %s", root);
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		size_t len = strlen(n);
		vz_autofree char *p = vz_asprintf("%s/%s", root, n);
		int r = 0;
		if (!p) {
			rc = VZ_ENOMEM;
			break;
		}
		if (is_slot(n, len) && len == 16)
			r = rm_template_dir(p);
		else if (is_slot(n, len) && !strcmp(n + 16, ".unsupported"))
			r = unlink(p);
		else if (n[0] == '.' && is_slot(n + 1, len - 1) &&
			 (!strcmp(n + 17, ".lock") || !strncmp(n + 17, ".unsupported.", 13)))
			r = unlink(p);
		else if (!strncmp(n, ".tmp-", 5) && is_slot(n + 5, len - 5))
			r = rm_template_dir(p);
		if (r < 0 && errno != ENOENT && rc == VZ_OK)
			rc = vz_err_sys(VZ_ERROR, "vz_vm_templates_drop: remove %s", p);
	}
	closedir(d);
	return rc;
}
