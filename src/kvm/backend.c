/* SPDX-License-Identifier: MIT */
/* The VM backend behind the common seam: probe the host's KVM, check the configuration
 * and the guest kernel at create, and at start build the plan (kernel, initramfs,
 * command line, CPUID) in the host process before cloning the VMM. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "common/cgroup.h"
#include "common/error.h"
#include "common/sandbox.h"
#include "common/syscalls.h"
#include "common/util.h"
#include "common/ipc.h"
#include "kvm/guest/abi.h"
#include "kvm/initramfs.h"
#include "kvm/modules.h"
#include "kvm/template.h"
#include "common/log.h"
#include "kvm/vmm.h"

#define MIB (1024ull * 1024)
/* Guest RAM without a memory limit. Smaller on kvm_pvm, where the guest kernel's
 * set-up of every page of RAM runs emulated (about 2 s per 128 MiB there). */
#define VZ_VM_DEFAULT_RAM (256 * MIB)
#define VZ_VM_DEFAULT_RAM_PVM (128 * MIB)
#define VZ_VM_MIN_RAM (64 * MIB)
/* The VMM's own memory in the sandbox's cgroup, above guest RAM: its process, KVM's
 * page tables for guest RAM (charged to the cgroup), the run areas. */
#define VZ_VM_CGROUP_SLACK(ram) ((ram) / 64 + 32 * MIB)
#define CPUID_CAP 256

/* Words every guest gets: quiet serial console on ttyS0 (kept for crash reports), our
 * init, reboot through the i8042 at once on panic, no probing we do not need. */
#define CMDLINE_BASE                                                                           \
	"console=ttyS0 quiet panic=-1 reboot=k rdinit=" VZ_INIT_PATH                          \
	" 8250.nr_uarts=1 tsc=reliable no_timer_check nomodeset i8042.noaux"
/* kvm_pvm: libvz's kernel changes on, and no features whose instructions the host's
 * kernel-mode emulator refuses. */
#define CMDLINE_PVM                                                                            \
	" vzpvm noxsave nopku nopcid noreplace-smp percpu_alloc=page clearcpuid=popcnt,smap,smep,cx16,fsgsbase,rdpid,rdrand,"       \
	"rdseed,umip,pcid,invpcid,avx,avx2,xsaveopt,xsavec,xsaves,rep_good,erms,fsrm"

struct kvm_priv {
	struct vz_kimg kimg;
	enum vz_kvm_host host; /* detected once, at create */
	/* A modular guest kernel: its module directory and the modules to load (paths
	 * point into kmod_paths). */
	char *kmod_dir, *kmod_paths;
	struct vz_kmods kmods;
	/* vz_sandbox_make_template's own sandbox: boot, save, and go no further */
	bool template_only;
	bool template_found; /* ...and found one made meanwhile: nothing was started */
	int make_rc;
	char make_msg[512];
};

const char *vz_kvm_host_name(enum vz_kvm_host h)
{
	switch (h) {
	case VZ_KVM_HOST_VMX:
		return "kvm_intel (hardware VMX)";
	case VZ_KVM_HOST_SVM:
		return "kvm_amd (hardware SVM)";
	case VZ_KVM_HOST_PVM:
		return "kvm_pvm (software: guest kernel mode is emulated, boots take seconds)";
	case VZ_KVM_HOST_UNKNOWN:
		break;
	}
	return "unknown KVM module";
}

enum vz_kvm_host vz_kvm_host_detect(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return VZ_KVM_HOST_PVM;
	if (access("/sys/module/kvm_intel", F_OK) == 0)
		return VZ_KVM_HOST_VMX;
	if (access("/sys/module/kvm_amd", F_OK) == 0)
		return VZ_KVM_HOST_SVM;
	return VZ_KVM_HOST_UNKNOWN;
}

/* Open /dev/kvm and check the API and the capabilities the VMM relies on. */
static int open_kvm(int *out)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },   { KVM_CAP_PIT2, "in-kernel PIT" },
		{ KVM_CAP_USER_MEMORY, "user memory" },     { KVM_CAP_EXT_CPUID, "CPUID" },
		{ KVM_CAP_SET_TSS_ADDR, "TSS address" },
	};
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int v;

	*out = -1;
	if (fd < 0) {
		if (errno == ENOENT)
			return vz_err_set(VZ_ENOTSUP, ENOENT,
					  "/dev/kvm does not exist (no KVM: load kvm_intel or kvm_amd, "
					  "or enable virtualization)");
		if (errno == EACCES || errno == EPERM)
			return vz_err_set(VZ_EPERM, errno,
					  "no permission to open /dev/kvm (uid %u; add the user to the "
					  "kvm group)", (unsigned)geteuid());
		return vz_err_sys(VZ_ERROR, "open /dev/kvm");
	}
	if ((v = ioctl(fd, KVM_GET_API_VERSION, 0)) != KVM_API_VERSION) {
		close(fd);
		return vz_err_set(VZ_ENOTSUP, 0, "/dev/kvm speaks API version %d, not %d", v,
				  KVM_API_VERSION);
	}
	for (size_t i = 0; i < VZ_ARRAY_SIZE(caps); i++)
		if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			close(fd);
			return vz_err_set(VZ_ENOTSUP, 0, "/dev/kvm lacks %s (KVM capability %d)",
					  caps[i].name, caps[i].cap);
		}
	*out = fd;
	return VZ_OK;
}

/* On kvm_pvm only a kernel with libvz's changes boots (DESIGN.md section 4). */
static int check_kernel_for_host(const struct vz_kimg *k, enum vz_kvm_host host)
{
	if (host != VZ_KVM_HOST_PVM || k->pvm_ready)
		return VZ_OK;
	return vz_err_set(VZ_ENOTSUP, 0,
			  "guest kernel %s cannot boot on this host: /dev/kvm is kvm_pvm, which "
			  "emulates guest kernel mode and refuses instructions a stock kernel uses; "
			  "only libvz's guest kernel (a PVH vmlinux built by tools/guest-kernel/build.sh, "
			  "with the 'vzpvm' changes) runs here",
			  k->path);
}

static int kvm_probe(char *why, size_t len)
{
	enum vz_kvm_host host = vz_kvm_host_detect();
	vz_autofree char *path = NULL;
	struct vz_kimg k;
	int fd, rc;

	if ((rc = open_kvm(&fd))) {
		snprintf(why, len, "%s", vz_error_last()->message);
		return rc;
	}
	close(fd);
	if ((rc = vz_kimg_locate(NULL, &path)) || (rc = vz_kimg_open(&k, path)) ||
	    (rc = check_kernel_for_host(&k, host))) {
		snprintf(why, len, "KVM is usable (%s) but %s", vz_kvm_host_name(host),
			 vz_error_last()->message);
		if (path)
			vz_kimg_close(&k);
		return rc;
	}
	snprintf(why, len, "vm: KVM %s; guest kernel %s (%s)", vz_kvm_host_name(host), k.path,
		 k.kind == VZ_KIMG_PVH ? "PVH vmlinux" : "bzImage");
	vz_kimg_close(&k);
	return VZ_OK;
}

/* A file of the module tree, whole (an index or a module). Absent and not @must: VZ_OK
 * with *buf NULL. */
static int read_whole(const char *dir, const char *name, bool must, char **buf, size_t *len)
{
	vz_autofree char *path = NULL;
	struct stat st;
	ssize_t got;
	int fd;

	*buf = NULL;
	*len = 0;
	if (!(path = vz_asprintf("%s/%s", dir, name)))
		return VZ_ENOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && !must)
			return VZ_OK;
		return vz_err_sys(VZ_EINVAL, "vm: guest kernel modules: %s", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
		close(fd);
		return vz_err_set(VZ_EINVAL, 0, "vm: guest kernel modules: %s is not a file of at "
				  "most 64 MiB", path);
	}
	if (!(*buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return vz_err_oom();
	}
	got = vz_read_full(fd, *buf, (size_t)st.st_size);
	close(fd);
	*len = got > 0 ? (size_t)got : 0;
	return VZ_OK;
}

/* Which module directory, if any: the configured one, $VZ_KERNEL_MODULES, else
 * /lib/modules/RELEASE for a kernel file named vmlinuz-RELEASE or vmlinux-RELEASE. */
static int kmods_dir(const vz_config *cfg, const char *kernel, char **out)
{
	const char *env = getenv("VZ_KERNEL_MODULES"), *base = strrchr(kernel, '/');
	vz_autofree char *guess = NULL, *dep = NULL;

	*out = NULL;
	if (cfg->kernel_modules || (env && *env))
		return (*out = vz_strdup(cfg->kernel_modules ? cfg->kernel_modules : env)) ? VZ_OK
											  : VZ_ENOMEM;
	base = base ? base + 1 : kernel;
	if (strncmp(base, "vmlinuz-", 8) && strncmp(base, "vmlinux-", 8))
		return VZ_OK;
	if (!(guess = vz_asprintf("/lib/modules/%s", base + 8)) ||
	    !(dep = vz_asprintf("%s/modules.dep", guess)))
		return VZ_ENOMEM;
	if (access(dep, R_OK) == 0) {
		*out = guess;
		guess = NULL;
	}
	return VZ_OK;
}

/* libvz declares its devices with virtio_mmio.device= words, which virtio_mmio only
 * reads when built with VIRTIO_MMIO_CMDLINE_DEVICES (its vm_cmdline_set() then exists;
 * a module keeps its symbol names for the kernel's loader). Debian's kernels lack it: a
 * guest would load every module and still find no device, so refuse here. A compressed
 * module cannot be looked into: the guest init reports it then. */
static int kmods_check_mmio(const struct kvm_priv *p)
{
	static const char sym[] = "\0vm_cmdline_set";
	vz_autofree char *buf = NULL;
	size_t len;
	int rc;

	for (size_t i = 0; i < p->kmods.n; i++) {
		const struct vz_kmod *m = &p->kmods.m[i];
		char rel[4096];
		if (strcmp(m->name, "virtio_mmio") || *vz_kmod_suffix(m->path, m->path_len) ||
		    m->path_len >= sizeof(rel) || m->path[0] == '/')
			continue;
		memcpy(rel, m->path, m->path_len);
		rel[m->path_len] = '\0';
		if ((rc = read_whole(p->kmod_dir, rel, true, &buf, &len)))
			return rc;
		if (!memmem(buf, len, sym, sizeof(sym) - 1))
			return vz_err_set(VZ_EINVAL, 0,
					  "vm: guest kernel %s: its virtio_mmio module (%s/%s) was built "
					  "without VIRTIO_MMIO_CMDLINE_DEVICES, through which libvz declares "
					  "its devices (Debian's kernels are built so); use libvz's guest "
					  "kernel (tools/guest-kernel/build.sh) or one built with "
					  "VIRTIO_MMIO_CMDLINE_DEVICES=y",
					  p->kimg.path, p->kmod_dir, rel);
	}
	return VZ_OK;
}

/* At create: the modules a modular guest kernel needs, or a refusal that names the
 * driver it lacks. */
static int kmods_resolve(struct kvm_priv *p, const vz_config *cfg)
{
	vz_autofree char *dep = NULL, *builtin = NULL;
	size_t dep_len, builtin_len, total = 0;
	char why[256];
	int rc;

	if ((rc = kmods_dir(cfg, p->kimg.path, &p->kmod_dir)) || !p->kmod_dir)
		return rc;
	if ((rc = read_whole(p->kmod_dir, "modules.dep", true, &dep, &dep_len)) ||
	    (rc = read_whole(p->kmod_dir, "modules.builtin", false, &builtin, &builtin_len)))
		return rc;
	if (vz_kmods_resolve(dep, dep_len, builtin, builtin_len, &p->kmods, why, sizeof(why)) < 0)
		return vz_err_set(VZ_EINVAL, 0, "vm: guest kernel %s with modules from %s: %s",
				  p->kimg.path, p->kmod_dir, why);
	if ((rc = kmods_check_mmio(p)))
		return rc;
	/* Keep the few paths, not the whole index. */
	for (size_t i = 0; i < p->kmods.n; i++)
		total += p->kmods.m[i].path_len + 1;
	if (!(p->kmod_paths = malloc(total + 1)))
		return vz_err_oom();
	total = 0;
	for (size_t i = 0; i < p->kmods.n; i++) {
		struct vz_kmod *m = &p->kmods.m[i];
		memcpy(p->kmod_paths + total, m->path, m->path_len);
		p->kmod_paths[total + m->path_len] = '\0';
		m->path = p->kmod_paths + total;
		total += m->path_len + 1;
	}
	return VZ_OK;
}

static int kvm_validate(struct vz_sandbox *sb)
{
	const vz_config *cfg = sb->cfg;
	vz_autofree char *path = NULL;
	struct kvm_priv *p;
	int rc;

	if (cfg->network == VZ_NET_HOST)
		return vz_err_set(VZ_ENOTSUP, 0, "vm: the host's network cannot be shared with a VM");
	/* The root share, the persistent layer and one share per bind. */
	if (cfg->nbinds + 2 > VZ_FUSE_MAX_SHARES)
		return vz_err_set(VZ_EINVAL, 0, "vm: %zu binds; a VM takes at most %d", cfg->nbinds,
				  VZ_FUSE_MAX_SHARES - 2);
	if ((rc = vz_kimg_locate(cfg->kernel, &path)))
		return rc;
	if (!(p = vz_calloc(1, sizeof(*p))))
		return VZ_ENOMEM;
	sb->priv = p;
	if ((rc = vz_kimg_open(&p->kimg, path)))
		return rc;
	p->host = vz_kvm_host_detect();
	if ((rc = check_kernel_for_host(&p->kimg, p->host)))
		return rc;
	return kmods_resolve(p, cfg);
}

static void kvm_destroy(struct vz_sandbox *sb)
{
	struct kvm_priv *p = sb->priv;
	if (!p)
		return;
	vz_kimg_close(&p->kimg);
	free(p->kmod_dir);
	free(p->kmod_paths);
	free(p);
	sb->priv = NULL;
}

static void kvm_cgroup_limits(struct vz_sandbox *sb, int64_t *limits)
{
	(void)sb;
	/* Memory: guest RAM plus the VMM's own. pids and open files are enforced inside the
	 * guest, not on the VMM's threads. */
	if (limits[VZ_LIMIT_MEMORY])
		limits[VZ_LIMIT_MEMORY] += (int64_t)VZ_VM_CGROUP_SLACK((uint64_t)limits[VZ_LIMIT_MEMORY]);
	limits[VZ_LIMIT_PIDS] = 0;
	limits[VZ_LIMIT_OPEN_FILES] = 0;
}

static int build_cmdline(struct vz_kvm_plan *plan, const vz_config *cfg)
{
	size_t cap = sizeof(plan->cmdline);
	int n = snprintf(plan->cmdline, cap, "%s%s", CMDLINE_BASE,
			 plan->host == VZ_KVM_HOST_PVM ? CMDLINE_PVM : "");
	int m = 0;

	/* The devices' words before the caller's, which may end with "--" and init's words. */
	if (n >= 0 && (size_t)n < cap && vz_devtab_cmdline(&plan->devtab, plan->cmdline, cap) == 0) {
		n = (int)strlen(plan->cmdline);
		m = snprintf(plan->cmdline + n, cap - (size_t)n, "%s%s", cfg->kernel_cmdline ? " " : "",
			     cfg->kernel_cmdline ? cfg->kernel_cmdline : "");
	} else {
		n = -1;
	}
	if (n < 0 || m < 0 || (size_t)n + (size_t)m >= cap)
		return vz_err_set(VZ_EINVAL, 0, "vm: the kernel command line is longer than %zu bytes",
				  sizeof(plan->cmdline) - 1);
	if (cfg->kernel_cmdline && strstr(cfg->kernel_cmdline, "vz.console"))
		plan->console_fd = 2;
	return VZ_OK;
}

/* Where stream i of the guest goes: -1 means the guest uses /dev/null. */
static int stream_fd(const struct vz_sandbox *sb, int i)
{
	if (sb->cfg->stdio[i].mode == VZ_STDIO_NULL)
		return -1;
	return sb->child_stdio[i] >= 0 ? sb->child_stdio[i] : i;
}

/* The VMM never executes anything, so close-on-exec does not apply: close every
 * descriptor it inherited from the host process but the ones it uses. Another holder
 * of, say, the write end of a sandbox's stdin pipe would keep that sandbox from ever
 * seeing end of input. */
static void close_inherited(const struct vz_child_chan *ch, const struct vz_kvm_plan *plan)
{
	int keep[12 + VZ_FUSE_MAX_SHARES] = { 0, 1, 2, ch->sync_fd, ch->status_fd, plan->kvm_fd,
					      plan->out_fd, plan->err_fd, plan->in_fd, plan->snap_state_fd,
					      plan->snap_mem_fd, plan->restore_mem_fd };
	int n = 12, lo = 3;

	for (int i = 0; i < plan->nshares; i++)
		keep[n++] = plan->shares[i].fd;
	/* Sort (insertion; a few dozen entries at most). */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			vz_sys_close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	vz_sys_close_range((unsigned)lo, ~0u, 0);
}

static int kvm_child(const struct vz_child_chan *ch, void *arg)
{
	const struct vz_kvm_plan *plan = arg;
	int err;

	/* In the sandbox's cgroups already (vz_proc_spawn joined them). A name of its own,
	 * not the host program's, for ps and the kernel's OOM and hung-task reports. */
	prctl(PR_SET_NAME, "vz-vmm", 0, 0, 0);
	close_inherited(ch, plan);
	if ((err = vz_vmm_isolate()) < 0) {
		vz_ipc_error(ch->sync_fd, VZ_ERROR, -err,
			     "VMM: cannot give the VMM a mount namespace of its own", NULL, NULL);
		return 126;
	}
	return vz_vmm_main(ch, (void *)plan);
}

static int add_share(struct vz_kvm_plan *plan, const char *name, const char *path, bool ro,
		     bool dir)
{
	struct vz_fuse_share *s = &plan->shares[plan->nshares];
	int fd = open(path, O_PATH | O_CLOEXEC | (dir ? O_DIRECTORY : 0));

	if (fd < 0)
		return vz_err_sys(vz_status_from_errno(errno), "vm: share %s", path);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fd = fd;
	s->ro = ro;
	plan->nshares++;
	return VZ_OK;
}

/* What the guest sees of the host: the rootfs (read-only: the guest's changes go to an
 * overlay layer), the persistent layer, and each bind, opened here by the host, so a
 * path swapped for a symlink later changes nothing. */
static int open_shares(struct vz_kvm_plan *plan, const vz_config *cfg)
{
	char name[VZ_FUSE_NAME_MAX];
	int rc = add_share(plan, "root", cfg->rootfs, true, true);

	if (!rc && cfg->rootfs_mode == VZ_ROOTFS_PERSISTENT &&
	    !(rc = vz_persistent_dirs(cfg)))
		rc = add_share(plan, "upper", cfg->upper_dir, false, true);
	for (size_t i = 0; !rc && i < cfg->nbinds; i++) {
		snprintf(name, sizeof(name), "b%u", (unsigned)(i & 0xffff));
		rc = add_share(plan, name, cfg->binds[i].src, cfg->binds[i].flags & VZ_BIND_RO, false);
	}
	return rc;
}

static void close_shares(struct vz_kvm_plan *plan)
{
	for (int i = 0; i < plan->nshares; i++)
		close(plan->shares[i].fd);
	plan->nshares = 0;
}

/* What the VM is: memory, vCPUs, devices, command line, /dev/kvm and CPUID. */
static int plan_vm(struct vz_sandbox *sb, struct vz_kvm_plan *plan, struct kvm_cpuid2 **cpuid_out)
{
	struct kvm_priv *priv = sb->priv;
	int64_t cpu = sb->limits[VZ_LIMIT_CPU];
	struct kvm_cpuid2 *cpuid;
	int rc, mmap_size;

	plan->kvm_fd = plan->snap_state_fd = plan->snap_mem_fd = plan->restore_mem_fd = -1;
	plan->kimg = &priv->kimg;
	plan->host = priv->host;
	plan->prepare = sb->prepare;
	plan->deadline_ns = sb->deadline_ns;
	plan->ram_size = sb->limits[VZ_LIMIT_MEMORY] ? (uint64_t)sb->limits[VZ_LIMIT_MEMORY]
			 : plan->host == VZ_KVM_HOST_PVM ? VZ_VM_DEFAULT_RAM_PVM
							 : VZ_VM_DEFAULT_RAM;
	plan->ram_size &= ~(uint64_t)0xfffff; /* whole MiB */
	if (plan->ram_size < VZ_VM_MIN_RAM)
		return vz_err_set(VZ_EINVAL, 0, "vm: memory limit %llu MiB is below the %llu MiB a "
				  "guest kernel needs", (unsigned long long)(plan->ram_size / MIB),
				  (unsigned long long)(VZ_VM_MIN_RAM / MIB));
	plan->nvcpus = cpu ? (int)((cpu + 999) / 1000) : 1;
	if (plan->nvcpus > VZ_VM_MAX_VCPUS)
		plan->nvcpus = VZ_VM_MAX_VCPUS;
	plan->console_fd = -1;
	/* The devices: the table the VMM creates them from, and the kernel's words for it. */
	if (vz_devtab_add(&plan->devtab, VZ_DEV_CONSOLE) < 0 || vz_devtab_add(&plan->devtab, VZ_DEV_FS) < 0)
		return vz_err_set(VZ_ERROR, 0, "vm: no room for the devices");
	if ((rc = build_cmdline(plan, sb->cfg)) || (rc = open_kvm(&plan->kvm_fd)))
		return rc;
	mmap_size = ioctl(plan->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	*cpuid_out = cpuid = vz_calloc(1, sizeof(*cpuid) + CPUID_CAP * sizeof(cpuid->entries[0]));
	if (mmap_size <= 0 || !cpuid)
		return cpuid ? vz_err_sys(VZ_ERROR, "KVM_GET_VCPU_MMAP_SIZE") : VZ_ENOMEM;
	plan->vcpu_mmap_size = (size_t)mmap_size;
	if ((rc = vz_x86_cpuid_fetch(plan->kvm_fd, cpuid, CPUID_CAP)) < 0) {
		errno = -rc;
		return vz_err_sys(VZ_ERROR, "KVM_GET_SUPPORTED_CPUID");
	}
	vz_x86_cpuid_filter(cpuid, plan->host);
	plan->cpuid = cpuid;
	return VZ_OK;
}

/* A failed start from a template that a cold boot may fix: the VMM could not restore
 * (VZ_RESTORE_FAILED), or the restored guest failed (a damaged memory file). */
static bool restore_failed(int rc)
{
	return rc == VZ_EGUEST || (rc && strstr(vz_error_last()->message, VZ_RESTORE_FAILED));
}

static int kvm_start(struct vz_sandbox *sb)
{
	struct kvm_priv *priv = sb->priv;
	struct vz_kvm_plan planv = { 0 }, *plan = &planv;
	struct vz_cpio cpio = { 0 }, job = { 0 };
	struct vz_tmpl tmpl = { .lock_fd = -1, .mem_fd = -1, .save_state_fd = -1, .save_mem_fd = -1 };
	int tmpl_rc = -1;
	struct vz_initramfs_spec spec = {
		.cfg = sb->cfg, .exe = sb->exe, .pids = sb->limits[VZ_LIMIT_PIDS],
		.nofile = sb->limits[VZ_LIMIT_OPEN_FILES], .init = vz_guest_init_start,
		.init_len = (size_t)(vz_guest_init_end - vz_guest_init_start),
		.kmod_dir = priv->kmod_dir, .kmods = &priv->kmods,
	};
	vz_autofree struct kvm_cpuid2 *cpuid = NULL;
	char keep[512];
	int rc;

	if ((rc = plan_vm(sb, plan, &cpuid)))
		goto out;
	plan->out_fd = stream_fd(sb, 1);
	plan->err_fd = stream_fd(sb, 2);
	plan->in_fd = stream_fd(sb, 0);
	for (int i = 0; i < 3; i++)
		spec.stdio_tty[i] = stream_fd(sb, i) >= 0;
	if ((rc = open_shares(plan, sb->cfg)) || (rc = vz_job_build(&job, &spec)))
		goto out;
	plan->job = job.buf;
	plan->job_len = (uint32_t)job.len;
	/* A template: restore from it, or make it from this boot (snapshot.h). */
	if (sb->cfg->vm_start == VZ_VM_START_RESTORE || priv->template_only)
		tmpl_rc = vz_tmpl_open(&tmpl, sb->cfg, plan, &priv->kimg, priv->kmod_dir, &priv->kmods,
				       priv->template_only);
	plan->template_only = priv->template_only;
	if (priv->template_only && tmpl_rc != 0) {
		priv->template_found = tmpl_rc == 1;
		rc = tmpl_rc == 1 ? vz_err_set(VZ_ESTATE, 0, "vm template: made meanwhile")
				  : vz_err_set(VZ_ENOTSUP, 0, "vm template: none can be made in %s (see "
					       "the log, or %s.unsupported)", tmpl.root ? tmpl.root : "(no directory)",
					       tmpl.slot_dir ? tmpl.slot_dir : "SLOT");
		goto out;
	}
	if (tmpl_rc == 1) {
		plan->restore_map = tmpl.map;
		plan->restore_map_len = tmpl.map_len;
		plan->restore = tmpl.map + VZ_SNAP_PAYLOAD_OFF;
		plan->restore_len = tmpl.map_len - VZ_SNAP_PAYLOAD_OFF;
		plan->restore_mem_fd = tmpl.mem_fd;
		vz_sandbox_add_phase(sb, "plan", vz_now_ns());
		rc = vz_proc_spawn(&sb->proc, sb, 0, sb->cgroup, kvm_child, plan);
		if (!restore_failed(rc))
			goto out;
		/* Never a failed start for a template's sake: boot cold, and let the next
		 * start make a new one. */
		vz_log(VZ_LOG_WARN, "vm template %s: %s; removed, booting cold", tmpl.slot_dir,
		       vz_error_last()->message);
		vz_tmpl_discard(&tmpl);
		/* KVM refused a state call: this host cannot restore such a VM (it would save
		 * and discard a template at every start otherwise). */
		if (strstr(vz_error_last()->message, VZ_RESTORE_FAILED ": KVM_"))
			vz_tmpl_mark_unsupported(&tmpl, strstr(vz_error_last()->message, VZ_RESTORE_FAILED));
		vz_tmpl_release(&tmpl);
		tmpl_rc = -1;
		plan->restore = NULL;
		plan->restore_map = NULL;
		plan->restore_mem_fd = -1;
	} else if (tmpl_rc == 0) {
		plan->snap_state_fd = tmpl.save_state_fd;
		plan->snap_mem_fd = tmpl.save_mem_fd;
		plan->prepare = plan->prepare || priv->template_only;
	}
	/* The archive is unpacked next to itself in guest RAM: allow it half, minus the
	 * kernel's share. */
	cpio.max = 64 * MIB; /* the init alone: about 1 MiB; a distribution kernel's
			      * modules about 1 MiB more */
	if ((rc = vz_initramfs_build(&cpio, &spec)))
		goto out;
	if (!vz_x86_initrd_addr(plan->kimg, plan->ram_size < VZ_MMIO_HOLE_START ? plan->ram_size
										: VZ_MMIO_HOLE_START,
				cpio.len)) {
		rc = vz_err_set(VZ_EINVAL, 0, "vm: the kernel and a %zu MiB initramfs do not fit in "
				"%llu MiB of guest RAM (raise the memory limit)", cpio.len >> 20,
				(unsigned long long)(plan->ram_size / MIB));
		goto out;
	}
	plan->initrd = cpio.buf;
	plan->initrd_len = cpio.len;
	plan->initrd_map_len = cpio.cap;
	vz_sandbox_add_phase(sb, "plan", vz_now_ns());
	rc = vz_proc_spawn(&sb->proc, sb, 0, sb->cgroup, kvm_child, plan);
	if (tmpl_rc == 0) {
		/* The VMM saved (or could not) before it took the job; a workload that then
		 * failed leaves a good template. */
		if (rc)
			vz_err_copy_message(keep, sizeof(keep));
		int prc = vz_tmpl_publish(&tmpl, (uint32_t)plan->devtab.n);
		if (priv->template_only) {
			priv->make_rc = prc;
			if (prc)
				vz_err_copy_message(priv->make_msg, sizeof(priv->make_msg));
		}
		if (rc)
			vz_err_set(rc, 0, "%s", keep);
	}
out:
	vz_tmpl_release(&tmpl);
	close_shares(plan);
	vz_cpio_release(&cpio);
	vz_cpio_release(&job);
	vz_close(&plan->kvm_fd);
	return rc;
}

/* vz_sandbox_make_template: a sandbox of the same configuration and limits, prepared
 * with template_only, boots and saves; a matching template already there is kept. */
static int kvm_make_template(struct vz_sandbox *sb)
{
	struct kvm_priv *priv = sb->priv;
	struct vz_kvm_plan planv = { 0 }, *plan = &planv;
	struct vz_tmpl tmpl;
	vz_autofree struct kvm_cpuid2 *cpuid = NULL;
	vz_sandbox *tmp = NULL;
	int rc, found = -1;

	if (sb->cfg->vm_start == VZ_VM_START_COLD)
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_make_template: the configuration asks for "
				  "cold starts (VZ_VM_START_COLD)");
	if ((rc = plan_vm(sb, plan, &cpuid)) == VZ_OK) {
		/* Only a look: making it takes the lock, in the sandbox below. */
		found = vz_tmpl_find(&tmpl, sb->cfg, plan, &priv->kimg, priv->kmod_dir, &priv->kmods);
		vz_tmpl_release(&tmpl);
	}
	vz_close(&plan->kvm_fd);
	if (rc || found == 1)
		return rc;
	if ((rc = vz_sandbox_create(&tmp, VZ_BACKEND_VM, sb->cfg)))
		return rc;
	memcpy(tmp->limits, sb->limits, sizeof(tmp->limits));
	((struct kvm_priv *)tmp->priv)->template_only = true;
	rc = vz_sandbox_prepare(tmp);
	if (rc && ((struct kvm_priv *)tmp->priv)->template_found)
		rc = VZ_OK;
	else if (rc == VZ_OK && (rc = ((struct kvm_priv *)tmp->priv)->make_rc))
		vz_err_set(rc, 0, "%s", ((struct kvm_priv *)tmp->priv)->make_msg);
	if (rc)
		vz_err_copy_message(priv->make_msg, sizeof(priv->make_msg));
	vz_sandbox_free(tmp);
	if (rc)
		vz_err_set(rc, 0, "%s", priv->make_msg);
	return rc;
}

const struct vz_backend_ops vz_kvm_backend = {
	.id = VZ_BACKEND_VM,
	.name = "vm",
	.probe = kvm_probe,
	.validate = kvm_validate,
	.cgroup_limits = kvm_cgroup_limits,
	.start = kvm_start,
	/* The VMM boots the guest, then holds the job until the host's go. */
	.can_prepare = true,
	.make_template = kvm_make_template,
	/* The VMM stops the guest and its file server before it reports the end. */
	.final_report = true,
	.destroy = kvm_destroy,
};
