/* SPDX-License-Identifier: MIT */
/* VM-only tests: bad kernel files, a rootfs larger than guest RAM, a guest kernel panic,
 * hostile guests (hand-made "kernels" that abuse every device and the bus), killing a
 * VM while it boots, and ten VMs at once. Needs a usable VM backend (KVM and a guest
 * kernel, VZ_KERNEL); skips with the backend's reason otherwise. */
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vz/vz.h>

#include "harness.h"

static char tmpdir[] = "/tmp/vz-vmtest-XXXXXX";

static vz_config *base_config(const char *rootfs, const char *const *argv, int argc)
{
	vz_config *cfg = NULL;
	if (vz_config_new(&cfg) || vz_config_set_rootfs(cfg, rootfs) ||
	    vz_config_set_argv(cfg, argc, argv) ||
	    vz_config_set_stdio(cfg, VZ_STDOUT, VZ_STDIO_PIPE, -1) ||
	    vz_config_set_stdio(cfg, VZ_STDIN, VZ_STDIO_NULL, -1)) {
		printf("#   config: %s\n", vz_error_last()->message);
		vz_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* vz_sandbox_create() with kernel @path must fail with @code and a message holding @what. */
static void expect_kernel_refused(const char *path, int code, const char *what)
{
	const char *argv[] = { "/bin/true" };
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 1);
	vz_sandbox *sb = NULL;
	int rc;

	if (!CHECK(cfg != NULL))
		return;
	CHECK_OK(vz_config_set_kernel(cfg, path));
	rc = vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg);
	CHECK_INT(rc, ==, code);
	CHECK(sb == NULL);
	CHECK_MSG(strstr(vz_error_last()->message, what) != NULL, "message: %s",
		  vz_error_last()->message);
	CHECK_MSG(strstr(vz_error_last()->message, path) != NULL, "message does not name %s: %s",
		  path, vz_error_last()->message);
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		printf("#   cannot write %s\n", path);
	if (fd >= 0)
		close(fd);
}

static void t_bad_kernel_files(void)
{
	char path[256], buf[4096] = { 0 };
	const char *kernel = getenv("VZ_KERNEL");
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	expect_kernel_refused(path, VZ_ENOENT, "No such file");

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, "", 0);
	expect_kernel_refused(path, VZ_EINVAL, "empty file");

	snprintf(path, sizeof(path), "%s/text", tmpdir);
	memset(buf, 'x', sizeof(buf));
	write_file(path, buf, sizeof(buf));
	expect_kernel_refused(path, VZ_EINVAL, "not a Linux kernel");

	/* An ELF program that is not a kernel (busybox): no PVH entry. */
	snprintf(path, sizeof(path), "%s/bin/busybox", VZ_TEST_ROOTFS);
	expect_kernel_refused(path, VZ_EINVAL, "without a PVH entry point");

	/* The real kernel cut after its first 4 KiB. */
	fd = kernel ? open(kernel, O_RDONLY | O_CLOEXEC) : -1;
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	if (CHECK_MSG(n == (ssize_t)sizeof(buf), "read VZ_KERNEL=%s", kernel ? kernel : "(unset)")) {
		snprintf(path, sizeof(path), "%s/truncated", tmpdir);
		write_file(path, buf, sizeof(buf));
		expect_kernel_refused(path, VZ_EINVAL, "truncated");
	}

	snprintf(path, sizeof(path), "%s", tmpdir); /* a directory */
	expect_kernel_refused(path, VZ_EINVAL, "not a regular file");
}

/* A bzImage that is not libvz's kernel: on kvm_pvm it cannot boot (the guest would
 * decompress itself in emulated kernel mode, then die on instructions the emulator
 * refuses), and libvz must say so at create instead of hanging. Elsewhere a real one
 * boots (shown inside tools/kvm-testbed with Debian's kernel); this header-only image
 * is only checked for the refusal. */
static void t_stock_bzimage_on_pvm(void)
{
	char path[256];
	uint8_t img[8192] = { 0 };

	if (access("/sys/module/kvm_pvm", F_OK) != 0) {
		vz_test_skip(NULL, "not a kvm_pvm host: stock kernels are for real KVM");
		return;
	}
	img[0x1f1] = 1;			     /* setup_sects */
	img[0x1f4] = 0x10;		     /* syssize (16-byte units) */
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f, img[0x207] = 0x02; /* boot protocol 2.15 */
	img[0x211] = 1;			     /* LOADED_HIGH */
	img[0x236] = 1;			     /* XLF_KERNEL_64 */
	snprintf(path, sizeof(path), "%s/bzImage", tmpdir);
	write_file(path, img, sizeof(img));
	expect_kernel_refused(path, VZ_ENOTSUP, "kvm_pvm");
}

/* create with kernel @kernel and module directory @dir (NULL: libvz finds it) must fail
 * with VZ_EINVAL and a message holding @what and @dir. */
static void expect_modules_refused(const char *kernel, const char *dir, const char *what,
				   const char *named)
{
	const char *argv[] = { "/bin/true" };
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 1);
	vz_sandbox *sb = NULL;

	if (!CHECK(cfg != NULL))
		return;
	CHECK_OK(vz_config_set_kernel(cfg, kernel));
	if (dir)
		CHECK_OK(vz_config_set_kernel_modules(cfg, dir));
	CHECK_INT(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg), ==, VZ_EINVAL);
	CHECK(sb == NULL);
	CHECK_MSG(strstr(vz_error_last()->message, what) && strstr(vz_error_last()->message, named),
		  "wanted '%s' and '%s' in: %s", what, named, vz_error_last()->message);
	vz_config_free(cfg);
}

/* A module directory that cannot give what the guest needs is refused at create with
 * the missing driver named: no modules.dep; a modules.dep without virtio-fs; and the
 * same found through the kernel's name (vmlinuz-RELEASE -> /lib/modules/RELEASE). A
 * directory whose modules.builtin lists every driver (libvz's own kernel) is fine. */
static void t_kernel_modules_refused(void)
{
	static const char no_fs[] =
		"kernel/drivers/virtio/virtio.ko:\n"
		"kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko\n"
		"kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko\n"
		"kernel/fs/fuse/fuse.ko:\nkernel/fs/overlayfs/overlay.ko:\n";
	static const char all[] = "kernel/drivers/virtio/virtio_mmio.ko\n"
				  "kernel/drivers/char/virtio_console.ko\nkernel/fs/fuse/fuse.ko\n"
				  "kernel/fs/fuse/virtiofs.ko\nkernel/fs/overlayfs/overlay.ko\n";
	const char *kernel = getenv("VZ_KERNEL"), *argv[] = { "/bin/true" };
	char dir[256], path[512], link[256], release[64], libdir[128];
	vz_config *cfg;
	vz_sandbox *sb = NULL;
	bool made_lib;

	if (!kernel || kernel[0] != '/') {
		vz_test_skip("kvm", "VZ_KERNEL (an absolute path) is needed");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/modules", tmpdir);
	mkdir(dir, 0755);
	expect_modules_refused(kernel, dir, "modules.dep", dir);
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	write_file(path, no_fs, sizeof(no_fs) - 1);
	expect_modules_refused(kernel, dir, "VIRTIO_FS", dir);

	/* Found by the kernel file's name. */
	snprintf(release, sizeof(release), "vztest-%d", (int)getpid());
	snprintf(libdir, sizeof(libdir), "/lib/modules/%s", release);
	snprintf(link, sizeof(link), "%s/vmlinuz-%s", tmpdir, release);
	made_lib = mkdir("/lib/modules", 0755) == 0; /* a host without modules (a container) */
	if (mkdir(libdir, 0755) == 0) {
		snprintf(path, sizeof(path), "%s/modules.dep", libdir);
		write_file(path, no_fs, sizeof(no_fs) - 1);
		CHECK(symlink(kernel, link) == 0);
		expect_modules_refused(link, NULL, "VIRTIO_FS", libdir);
		unlink(path);
		unlink(link);
		rmdir(libdir);
	} else {
		printf("#   cannot make %s (not root?): the found-by-name case is not run\n", libdir);
	}
	if (made_lib)
		rmdir("/lib/modules");

	/* Everything built in: created, nothing to load. */
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	write_file(path, all, sizeof(all) - 1);
	if ((cfg = base_config(VZ_TEST_ROOTFS, argv, 1))) {
		CHECK_OK(vz_config_set_kernel_modules(cfg, dir));
		CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg));
		vz_sandbox_free(sb);
		vz_config_free(cfg);
	}
}

/* A guest that never ends fails its case, naming itself, instead of holding the whole
 * program until ctest's timeout (ten boots at once take ~110 s on kvm_pvm). */
#define VM_WALL_MS 600000

static char start_msg[1024]; /* start's error message, kept by run_vm() */

/* Run to the end, for at most @wall_ms of wall time; returns start's status (its message
 * in start_msg). */
static int run_vm(vz_config *cfg, int64_t mem, int64_t wall_ms, vz_result *res, char *out,
		  size_t outlen)
{
	vz_sandbox *sb = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	res->size = sizeof(*res);
	start_msg[0] = '\0';
	if ((rc = vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg)))
		return rc;
	if (mem)
		vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, mem);
	vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, wall_ms);
	rc = vz_sandbox_start(sb);
	if (rc == VZ_OK && out) {
		int fd = vz_sandbox_stdio_fd(sb, VZ_STDOUT);
		size_t len = 0;
		ssize_t n;
		while (fd >= 0 && len + 1 < outlen && (n = read(fd, out + len, outlen - 1 - len)) > 0)
			len += (size_t)n;
		out[len] = '\0';
	}
	if (rc == VZ_OK) {
		rc = vz_sandbox_wait(sb, -1, res);
	} else {
		snprintf(start_msg, sizeof(start_msg), "%s", vz_error_last()->message);
		vz_sandbox_wait(sb, -1, res); /* the result of a failed start */
	}
	vz_sandbox_free(sb);
	return rc;
}

static void t_guest_panic(void)
{
	const char *argv[] = { "/bin/true" };
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 1);
	vz_result res;

	if (!CHECK(cfg != NULL))
		return;
	/* PID 1 exits at once: the guest kernel panics ("Attempted to kill init"). */
	CHECK_OK(vz_config_set_kernel_cmdline(cfg, "rdinit=/bin/true"));
	CHECK_INT(run_vm(cfg, 0, VM_WALL_MS, &res, NULL, 0), ==, VZ_EGUEST);
	CHECK_MSG(strstr(start_msg, "Kernel panic") != NULL, "%s", start_msg);
	CHECK_MSG(strstr(res.message, "Kernel panic") != NULL, "%s", res.message);
	CHECK_INT(res.reason, ==, VZ_REASON_SETUP_FAILED);
	vz_config_free(cfg);
}

/* ---- hostile guests: hand-made PVH "kernels" ---- */

#define PAYLOAD_BASE 0x100000u /* where the image is loaded, and its entry point */

/* An ELF vmlinux look-alike: one segment of 32-bit code (and its data) at 1 MiB and the
 * PVH note. It carries the "vzpvm" marker so that kvm_pvm hosts accept it too. */
static void write_payload(const char *path, const uint8_t *code, size_t len)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph[2];
		Elf64_Nhdr nh;
		char name[4];
		uint32_t entry;
		char marker[8];
	} __attribute__((packed)) h = { 0 };
	uint8_t *file = calloc(1, 4096 + len);

	if (!file) {
		printf("#   cannot write %s: out of memory\n", path);
		return;
	}
	memcpy(h.eh.e_ident, ELFMAG, SELFMAG);
	h.eh.e_ident[EI_CLASS] = ELFCLASS64;
	h.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	h.eh.e_ident[EI_VERSION] = EV_CURRENT;
	h.eh.e_type = ET_EXEC;
	h.eh.e_machine = EM_X86_64;
	h.eh.e_version = EV_CURRENT;
	h.eh.e_entry = PAYLOAD_BASE;
	h.eh.e_phoff = sizeof(Elf64_Ehdr);
	h.eh.e_ehsize = sizeof(Elf64_Ehdr);
	h.eh.e_phentsize = sizeof(Elf64_Phdr);
	h.eh.e_phnum = 2;
	h.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
				.p_flags = PF_R | PF_W | PF_X,
				.p_offset = 4096,
				.p_vaddr = PAYLOAD_BASE,
				.p_paddr = PAYLOAD_BASE,
				.p_filesz = len,
				.p_memsz = len,
				.p_align = 4096 };
	h.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
				.p_flags = PF_R,
				.p_offset = offsetof(__typeof__(h), nh),
				.p_filesz = sizeof(Elf64_Nhdr) + 4 + 4,
				.p_align = 4 };
	h.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = 18 /* PHYS32_ENTRY */ };
	memcpy(h.name, "Xen", 4);
	h.entry = PAYLOAD_BASE;
	memcpy(h.marker, "vzpvm", 6);
	memcpy(file, &h, sizeof(h));
	memcpy(file + 4096, code, len);
	write_file(path, file, 4096 + len);
	free(file);
}

static int run_payload(const uint8_t *code, size_t len, const char *name, int64_t wall_ms,
		       vz_result *res)
{
	char path[256];
	const char *argv[] = { "/bin/true" };
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 1);
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	write_payload(path, code, len);
	if (!cfg)
		return VZ_ERROR;
	vz_config_set_kernel(cfg, path);
	rc = run_vm(cfg, 64ll << 20, wall_ms, res, NULL, 0);
	vz_config_free(cfg);
	return rc;
}

/* ---- a hostile virtio driver, assembled by hand ----
 *
 * The payload runs in 32-bit protected mode (flat segments, paging off), so every guest
 * address below is also its linear address. Its image is code first, then the rings and
 * buffers of each scenario at fixed offsets, filled in by the test before the boot. */

#define HG_RAM (64u << 20)		  /* guest RAM of run_payload() */
#define HG_VIRTIO 0xd0000000u		  /* the console: the first virtio-mmio device */
#define HG_CODE_MAX 0x2000u		  /* code: the image's first 8 KiB */
#define HG_SLOT(i) (0x2000u + (i)*0x200u) /* rings and buffers of scenario i */
#define HG_SLOTS 24
#define HG_MSG (HG_SLOT(HG_SLOTS)) /* the final control message */
#define HG_IMAGE (HG_MSG + 0x800u) /* 0x5800 bytes: 22 KiB */
#define HG_NUM 4		   /* queue size of every scenario */
#define HG_TEXT (1024 - 8)	   /* the final message's text: more than the host keeps */
#define HG_WALL_MS 20000	   /* the run takes well under a second on kvm_pvm */
/* Inside a slot: the descriptor table (16-byte aligned), avail (2), used (4), buffers. */
#define HG_DESC 0x000u
#define HG_AVAIL 0x080u
#define HG_USED 0x100u
#define HG_BUF 0x180u

/* virtio-mmio v2 registers and status bits */
enum {
	VIO_DRV_FEATURES = 0x020,
	VIO_DRV_FEATURES_SEL = 0x024,
	VIO_QUEUE_SEL = 0x030,
	VIO_QUEUE_NUM = 0x038,
	VIO_QUEUE_READY = 0x044,
	VIO_QUEUE_NOTIFY = 0x050,
	VIO_STATUS = 0x070,
	VIO_QUEUE_DESC = 0x080,
	VIO_QUEUE_DRIVER = 0x090,
	VIO_QUEUE_DEVICE = 0x0a0,
	VIO_CONFIG = 0x100,
};
#define VIO_S_FEATURES_OK 0xbu /* ACKNOWLEDGE | DRIVER | FEATURES_OK */
#define VIO_S_DRIVER_OK 0xfu
#define VIO_S_NEEDS_RESET 0x40u
#define VRING_F_NEXT 1
#define VRING_F_WRITE 2
#define VRING_F_INDIRECT 4

struct hg {
	uint8_t img[HG_IMAGE];
	size_t pc; /* where the next instruction goes */
	int slots, overflow;
};

static void hg_emit(struct hg *g, const void *b, size_t n)
{
	if (g->pc + n > HG_CODE_MAX) {
		g->overflow = 1;
		return;
	}
	memcpy(g->img + g->pc, b, n);
	g->pc += n;
}

#define HG_CODE(g, ...)                                                                            \
	hg_emit(g, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void hg_emit32(struct hg *g, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	hg_emit(g, b, 4);
}

/* mov dword [addr], v */
static void hg_store32(struct hg *g, uint32_t addr, uint32_t v)
{
	HG_CODE(g, 0xc7, 0x05);
	hg_emit32(g, addr);
	hg_emit32(g, v);
}

/* 1: mov eax, [addr]; test eax, mask; jz 1b. The VMM serves queues on another thread:
 * the guest waits until it has answered. */
static void hg_wait(struct hg *g, uint32_t addr, uint32_t mask)
{
	HG_CODE(g, 0xa1);
	hg_emit32(g, addr);
	HG_CODE(g, 0xa9);
	hg_emit32(g, mask);
	HG_CODE(g, 0x74, (uint8_t)-12);
}

/* The guest's assertion: mov eax, [addr]; cmp eax, v; je 1f; int3; 1:. With no IDT the
 * int3 ends the VM with a triple fault, which the test reports. */
static void hg_assert_eq(struct hg *g, uint32_t addr, uint32_t v)
{
	HG_CODE(g, 0xa1);
	hg_emit32(g, addr);
	HG_CODE(g, 0x3d);
	hg_emit32(g, v);
	HG_CODE(g, 0x74, 0x01, 0xcc);
}

static void hg_reg(struct hg *g, uint32_t off, uint32_t v)
{
	hg_store32(g, HG_VIRTIO + off, v);
}

/* Status 1, 3; VERSION_1 (feature bit 32) only; FEATURES_OK, which the device must keep:
 * Status reads back exactly 0xb, so a DEVICE_NEEDS_RESET left over from an earlier step
 * (or set by a stray write) cannot answer the next step's wait. */
static void hg_init(struct hg *g)
{
	hg_reg(g, VIO_STATUS, 1);
	hg_reg(g, VIO_STATUS, 3);
	hg_reg(g, VIO_DRV_FEATURES_SEL, 1);
	hg_reg(g, VIO_DRV_FEATURES, 1);
	hg_reg(g, VIO_STATUS, VIO_S_FEATURES_OK);
	hg_assert_eq(g, HG_VIRTIO + VIO_STATUS, VIO_S_FEATURES_OK);
}

/* The device must refuse what the driver just did: wait for DEVICE_NEEDS_RESET, reset
 * the device (Status 0) and initialise it again. A device that lets a rule pass leaves
 * the guest waiting here until the wall-time limit ends it. */
static void hg_expect_reset(struct hg *g)
{
	hg_wait(g, HG_VIRTIO + VIO_STATUS, VIO_S_NEEDS_RESET);
	hg_reg(g, VIO_STATUS, 0);
	hg_init(g);
}

/* A scenario's slot, cleared; returns its guest address. */
static uint32_t hg_slot(struct hg *g)
{
	uint32_t off = HG_SLOT(g->slots);
	if (g->slots >= HG_SLOTS) {
		g->overflow = 1;
		return PAYLOAD_BASE + HG_SLOT(0);
	}
	g->slots++;
	memset(g->img + off, 0, 0x200);
	return PAYLOAD_BASE + off;
}

static void hg_put64(struct hg *g, uint32_t gpa, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		g->img[gpa - PAYLOAD_BASE + i] = (uint8_t)(v >> (8 * i));
}
static void hg_put32(struct hg *g, uint32_t gpa, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		g->img[gpa - PAYLOAD_BASE + i] = (uint8_t)(v >> (8 * i));
}
static void hg_put16(struct hg *g, uint32_t gpa, uint16_t v)
{
	g->img[gpa - PAYLOAD_BASE] = (uint8_t)v;
	g->img[gpa - PAYLOAD_BASE + 1] = (uint8_t)(v >> 8);
}

/* Descriptor @i of slot @s. */
static void hg_desc(struct hg *g, uint32_t s, unsigned i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint32_t d = s + HG_DESC + 16 * i;
	hg_put64(g, d, addr);
	hg_put32(g, d + 8, len);
	hg_put16(g, d + 12, flags);
	hg_put16(g, d + 14, next);
}

/* Avail ring of slot @s: one chain at @head, index @idx. */
static void hg_avail(struct hg *g, uint32_t s, uint16_t head, uint16_t idx)
{
	hg_put16(g, s + HG_AVAIL + 4, head);
	hg_put16(g, s + HG_AVAIL + 2, idx);
}

/* Set up queue @q of @num entries at @desc/@avail/@used and make it ready. */
static void hg_queue(struct hg *g, uint32_t q, uint32_t num, uint64_t desc, uint64_t avail,
		     uint64_t used)
{
	hg_reg(g, VIO_QUEUE_SEL, q);
	hg_reg(g, VIO_QUEUE_NUM, num);
	hg_reg(g, VIO_QUEUE_DESC, (uint32_t)desc);
	hg_reg(g, VIO_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
	hg_reg(g, VIO_QUEUE_DRIVER, (uint32_t)avail);
	hg_reg(g, VIO_QUEUE_DRIVER + 4, (uint32_t)(avail >> 32));
	hg_reg(g, VIO_QUEUE_DEVICE, (uint32_t)used);
	hg_reg(g, VIO_QUEUE_DEVICE + 4, (uint32_t)(used >> 32));
	hg_reg(g, VIO_QUEUE_READY, 1);
}

/* Queue 1 (the control port's transmitq: guest -> host) with slot @s's rings. */
static void hg_queue_slot(struct hg *g, uint32_t s, uint32_t num)
{
	hg_queue(g, 1, num, s + HG_DESC, s + HG_AVAIL, s + HG_USED);
}

/* Rings the device refuses when the driver makes the queue ready. */
static void hg_bad_rings(struct hg *g, uint32_t q, uint32_t num, uint64_t desc, uint64_t avail,
			 uint64_t used)
{
	hg_queue(g, q, num, desc, avail, used);
	hg_expect_reset(g);
}

/* Queue 1 with slot @s (descriptors and avail filled by the caller), DRIVER_OK, kick:
 * the device's thread takes the chain and must refuse it. */
static void hg_bad_chain(struct hg *g, uint32_t s)
{
	hg_queue_slot(g, s, HG_NUM);
	hg_reg(g, VIO_STATUS, VIO_S_DRIVER_OK);
	hg_reg(g, VIO_QUEUE_NOTIFY, 1);
	hg_expect_reset(g);
}

/* Build the hostile driver into @g; returns the image size, 0 if it did not fit. */
static size_t hg_build(struct hg *g)
{
	uint32_t s, buf, msg = PAYLOAD_BASE + HG_MSG;

	memset(g, 0, sizeof(*g));
	/* Generic abuse of the bus, before any virtio. */
	HG_CODE(g, 0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee); /* out 0x3f8, 'A' */
	HG_CODE(g, 0x66, 0xba, 0x70, 0x00, 0xec);	      /* in al, 0x70: no device */
	HG_CODE(g, 0x66, 0xba, 0xfe, 0x06, 0xef);	      /* out 0x6fe, eax: no device */
	HG_CODE(g, 0x66, 0xba, 0x00, 0x06, 0xed);	      /* in eax, 0x600: no device */
	hg_store32(g, 0xfffff000, 0x44332211);		      /* MMIO write, no device */
	HG_CODE(g, 0xa1, 0x00, 0x00, 0x00, 0xe0);	      /* mov eax, [0xe0000000] */
	/* The device's registers the wrong way: a byte write of 0xff to Status (registers
	 * are 32-bit: ignored), a 16-bit read, config space past its end, a kick of a queue
	 * that does not exist, a queue that does not exist made ready. */
	HG_CODE(g, 0xc6, 0x05, 0x70, 0x00, 0x00, 0xd0, 0xff); /* mov byte [0xd0000070], 0xff */
	HG_CODE(g, 0x66, 0xa1, 0x72, 0x00, 0x00, 0xd0);	      /* mov ax, [0xd0000072] */
	hg_reg(g, VIO_CONFIG + 0xefc, 0xdeadbeef);	      /* the window's last word */
	hg_reg(g, VIO_QUEUE_NOTIFY, 0xffff);
	hg_reg(g, VIO_QUEUE_SEL, 99);
	hg_reg(g, VIO_QUEUE_READY, 1);
	hg_init(g);

	/* Rings refused at QueueReady. */
	s = hg_slot(g);
	hg_bad_rings(g, 3, HG_NUM, 0xfff00000, s + HG_AVAIL, s + HG_USED); /* desc outside RAM */
	hg_bad_rings(g, 1, 3, s + HG_DESC, s + HG_AVAIL, s + HG_USED);	   /* num not 2^n */
	hg_bad_rings(g, 1, HG_NUM, s + HG_DESC + 8, s + HG_AVAIL, s + HG_USED); /* misaligned */
	hg_bad_rings(g, 1, HG_NUM, s + HG_DESC, s + HG_AVAIL, HG_RAM - 8);	/* used past RAM */
	hg_bad_rings(g, 1, HG_NUM, s + HG_DESC, 0x1ull << 40, s + HG_USED); /* avail above RAM */

	/* Chains refused when the device takes them. */
	s = hg_slot(g); /* a loop: 0 -> 1 -> 0 */
	buf = s + HG_BUF;
	hg_desc(g, s, 0, buf, 16, VRING_F_NEXT, 1);
	hg_desc(g, s, 1, buf + 16, 16, VRING_F_NEXT, 0);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* a buffer straddling the end of RAM */
	hg_desc(g, s, 0, HG_RAM - 0x1000, 0x2000, 0, 0);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* a buffer whose end overflows 64 bits */
	hg_desc(g, s, 0, 0xfffffffffffff000ull, 0x2000, 0, 0);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* a buffer on the device's own registers */
	hg_desc(g, s, 0, HG_VIRTIO, 0x100, 0, 0);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* 100 chains in a ring of 4 */
	hg_desc(g, s, 0, s + HG_BUF, 16, 0, 0);
	hg_avail(g, s, 0, 100);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* next index past the table */
	hg_desc(g, s, 0, s + HG_BUF, 16, VRING_F_NEXT, HG_NUM);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* head past the table */
	hg_desc(g, s, 0, s + HG_BUF, 16, 0, 0);
	hg_avail(g, s, HG_NUM, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* an indirect table (the feature is not offered) */
	hg_desc(g, s, 0, s + HG_BUF, 16, VRING_F_INDIRECT, 0);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	s = hg_slot(g); /* a readable buffer after a writable one */
	hg_desc(g, s, 0, s + HG_BUF, 16, VRING_F_WRITE | VRING_F_NEXT, 1);
	hg_desc(g, s, 1, s + HG_BUF + 16, 16, 0, 0);
	hg_avail(g, s, 0, 1);
	hg_bad_chain(g, s);

	/* The device recovered: a valid control message, VZ_MSG_ERROR {type, len} {code,
	 * errno} text, with an invalid code and a text longer than the host keeps. */
	s = hg_slot(g);
	hg_put32(g, msg, 3);		   /* VZ_MSG_ERROR */
	hg_put32(g, msg + 4, 8 + HG_TEXT); /* len: VZ_MSG_GUEST_MAX, the most allowed */
	hg_put32(g, msg + 8, 0x7fffffff);  /* code: not a vz_status */
	hg_put32(g, msg + 12, 12345);	   /* errno */
	memset(g->img + HG_MSG + 16, 'A', HG_TEXT);
	hg_desc(g, s, 0, msg, 16 + HG_TEXT, 0, 0);
	hg_avail(g, s, 0, 1);
	hg_queue_slot(g, s, HG_NUM);
	hg_reg(g, VIO_STATUS, VIO_S_DRIVER_OK);
	hg_reg(g, VIO_QUEUE_NOTIFY, 1);
	/* jmp $: spin until the VMM ends the VM. (Not hlt: with the in-kernel irqchip a hlt
	 * never leaves KVM, and with interrupts off it would sleep until the time limit.) */
	HG_CODE(g, 0xeb, 0xfe);
	return g->overflow ? 0 : sizeof(g->img);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the hostile driver; returns start's status. */
static int run_hostile_driver(vz_result *res, uint64_t *ms)
{
	static struct hg g;
	size_t len = hg_build(&g);
	uint64_t t0 = now_ms();
	int rc;

	if (!CHECK_MSG(len > 0, "the hostile driver does not fit its image"))
		return VZ_ERROR;
	rc = run_payload(g.img, len, "hostile-devices", HG_WALL_MS, res);
	*ms = now_ms() - t0;
	return rc;
}

/* A hostile virtio driver: the generic abuses of the bus first, then rings and chains
 * that break every rule of virtio.h, each of which the device must refuse by asking for
 * a reset (the guest waits for DEVICE_NEEDS_RESET, resets, starts over), and at last a
 * valid control message whose claim is passed on only as the guest's own failure. Had
 * the VMM accepted a bad queue the guest would wait until the wall-time limit; had it
 * crashed, or reset the device badly (the guest checks Status after every reset and
 * stops with a triple fault), the message would never arrive either. */
/* The rootfs reaches the guest through virtio-fs, not a copy: one larger than guest RAM
 * runs, and the guest reads its far end (a 200 MiB sparse file, 128 MiB of RAM). */
static void t_rootfs_larger_than_ram(void)
{
	char root[256], big[300], cmd[600], out[256];
	/* Its size, and its last 4 bytes by seeking (reading 200 MiB would take minutes
	 * on kvm_pvm). */
	const char *argv[] = { "/bin/sh", "-c",
			       "set -- $(ls -ln /big.bin); echo $5; "
			       "dd if=/big.bin bs=4 skip=52428799 count=1 2>/dev/null" };
	vz_config *cfg;
	vz_result res;
	int fd;

	snprintf(root, sizeof(root), "%s/bigroot", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", VZ_TEST_ROOTFS, root);
	if (!CHECK(system(cmd) == 0))
		return;
	snprintf(big, sizeof(big), "%s/big.bin", root);
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 200 << 20) == 0 && pwrite(fd, "tail", 4, (200 << 20) - 4) == 4);
	if (fd >= 0)
		close(fd);
	cfg = base_config(root, argv, 3);
	if (!CHECK(cfg != NULL))
		return;
	CHECK_OK(run_vm(cfg, 128ll << 20, VM_WALL_MS, &res, out, sizeof(out)));
	CHECK_INT(res.reason, ==, VZ_REASON_EXITED);
	CHECK_STR(out, "209715200\ntail");
	vz_config_free(cfg);
}

/* A distribution kernel whose drivers are modules (Debian's, in tools/kvm-testbed, which
 * sets VZ_TESTBED_STOCK_KERNEL to its vmlinuz-RELEASE and VZ_TESTBED_STOCK_MODULES to a
 * module tree). Where its virtio_mmio reads devices from the command line, libvz loads
 * the modules in the guest and the run is as with its own kernel, a read-write bind
 * included. Debian builds virtio_mmio without VIRTIO_MMIO_CMDLINE_DEVICES: that kernel
 * must be refused at create, with the option named, instead of failing at boot. */
static void t_stock_kernel_with_modules(void)
{
	const char *kernel = getenv("VZ_TESTBED_STOCK_KERNEL");
	const char *mods = getenv("VZ_TESTBED_STOCK_MODULES");
	const char *argv[] = { "/bin/sh", "-c",
			       "echo hi >/data/out && cat /data/out && "
			       "cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' '" };
	char bind[256], out[1024];
	vz_config *cfg;
	vz_sandbox *sb = NULL;
	vz_result res;
	int rc;

	if (!kernel || !mods) {
		vz_test_skip("stock_kernel", "VZ_TESTBED_STOCK_KERNEL and VZ_TESTBED_STOCK_MODULES "
			     "unset (tools/kvm-testbed/run.sh --stock-kernel sets them)");
		return;
	}
	snprintf(bind, sizeof(bind), "%s/stock-bind", tmpdir);
	mkdir(bind, 0777);
	if (!CHECK((cfg = base_config(VZ_TEST_ROOTFS, argv, 3)) != NULL))
		return;
	CHECK_OK(vz_config_set_kernel(cfg, kernel));
	CHECK_OK(vz_config_set_kernel_modules(cfg, mods));
	CHECK_OK(vz_config_add_bind(cfg, bind, "/data", 0));
	rc = vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg);
	vz_sandbox_free(sb);
	if (rc == VZ_EINVAL && strstr(vz_error_last()->message, "VIRTIO_MMIO_CMDLINE_DEVICES")) {
		CHECK_MSG(strstr(vz_error_last()->message, "virtio_mmio.ko") &&
				  strstr(vz_error_last()->message, kernel),
			  "refusal names neither the module nor the kernel: %s",
			  vz_error_last()->message);
		printf("#   refused at create, as it must be: %s\n", vz_error_last()->message);
		vz_config_free(cfg);
		return;
	}
	CHECK_OK(rc);
	CHECK_OK(run_vm(cfg, 256ll << 20, VM_WALL_MS, &res, out, sizeof(out)));
	CHECK_MSG(res.reason == VZ_REASON_EXITED && res.exit_code == 0, "%s %d: %s %s",
		  vz_reason_name(res.reason), res.exit_code, res.message, start_msg);
	CHECK_MSG(!strncmp(out, "hi\n", 3) && strstr(out, "virtiofs ") && strstr(out, "overlay ") &&
			  strstr(out, "virtio_console ") && strstr(out, "virtio_mmio "),
		  "printed: %s", out);
	vz_config_free(cfg);
}

static void t_hostile_guest_devices(void)
{
	vz_result res;
	uint64_t ms = 0;
	int rc = run_hostile_driver(&res, &ms);
	char run[65];

	printf("# hostile driver ended after %llu ms: %d, %s, a %zu-byte message: %.100s\n",
	       (unsigned long long)ms, rc, vz_reason_name(res.reason), strlen(start_msg), start_msg);
	CHECK_MSG(res.reason != VZ_REASON_TIMED_OUT && ms < HG_WALL_MS,
		  "the guest never got its message through (%llu ms, %s)", (unsigned long long)ms,
		  vz_reason_name(res.reason));
	CHECK_MSG(!strstr(start_msg, "triple fault"),
		  "the guest's check of the device status failed (int3): %s", start_msg);
	/* Its code clamped to a valid one, its text bounded (the VMM keeps VZ_MSG_TEXT_MAX
	 * = 512 bytes of the 1016 sent) and terminated. */
	CHECK_INT(rc, ==, VZ_ECHILD);
	CHECK_INT(res.reason, ==, VZ_REASON_SETUP_FAILED);
	memset(run, 'A', sizeof(run) - 1);
	run[sizeof(run) - 1] = '\0';
	CHECK_MSG(strstr(start_msg, run) != NULL, "no text from the guest: %s", start_msg);
	CHECK_INT(strlen(start_msg), <, 520);
	CHECK_MSG(strstr(res.message, start_msg) != NULL, "%s / %s", res.message, start_msg);
}

static void t_hostile_guest_triple_fault(void)
{
	/* int3 with no IDT: #BP, then #GP, then #DF, then a triple fault. */
	static const uint8_t code[] = { 0xcc, 0xf4, 0xeb, 0xfe };
	vz_result res;
	int rc = run_payload(code, sizeof(code), "hostile-fault", VM_WALL_MS, &res);

	CHECK_INT(rc, ==, VZ_EGUEST);
	CHECK_MSG(strstr(start_msg, "triple fault") != NULL, "%s", start_msg);
	CHECK_INT(res.reason, ==, VZ_REASON_SETUP_FAILED);
}

static void t_hostile_guest_spins(void)
{
	/* A guest that never boots: the wall-time limit still ends it, during start. */
	static const uint8_t code[] = { 0xeb, 0xfe };
	char path[256];
	const char *argv[] = { "/bin/true" };
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 1);
	vz_sandbox *sb = NULL;
	vz_result res = { .size = sizeof(res) };

	snprintf(path, sizeof(path), "%s/spin", tmpdir);
	write_payload(path, code, sizeof(code));
	if (!CHECK(cfg != NULL))
		return;
	vz_config_set_kernel(cfg, path);
	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg));
	if (sb) {
		CHECK_OK(vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, 1500));
		vz_sandbox_start(sb);
		CHECK_OK(vz_sandbox_wait(sb, 30000, &res));
		CHECK_INT(res.reason, ==, VZ_REASON_TIMED_OUT);
	}
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

/* ---- killing a VM that is still booting ---- */

struct killer {
	vz_sandbox *sb;
	int done, rc;
};

static void *kill_soon(void *arg)
{
	struct killer *k = arg;
	usleep(300 * 1000);
	for (int i = 0; i < 100 && (k->rc = vz_sandbox_kill(k->sb, SIGKILL)) == VZ_ESTATE; i++)
		usleep(10 * 1000);
	return NULL;
}

static void t_kill_during_boot(void)
{
	const char *argv[] = { "/bin/true" };
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 1);
	struct killer k = { 0 };
	vz_result res = { .size = sizeof(res) };
	pthread_t th;

	/* A cold boot: a restored VM might be done before the kill. */
	if (!CHECK(cfg != NULL) || vz_config_set_vm_start(cfg, VZ_VM_START_COLD) ||
	    !CHECK(vz_sandbox_create(&k.sb, VZ_BACKEND_VM, cfg) == 0))
		return;
	pthread_create(&th, NULL, kill_soon, &k);
	vz_sandbox_start(k.sb);
	pthread_join(th, NULL);
	CHECK_INT(k.rc, ==, VZ_OK);
	CHECK_OK(vz_sandbox_wait(k.sb, 30000, &res));
	CHECK_MSG(res.reason == VZ_REASON_KILLED || res.reason == VZ_REASON_SETUP_FAILED,
		  "reason %s", vz_reason_name(res.reason));
	vz_sandbox_free(k.sb);
	vz_config_free(cfg);
}

/* ---- ten at once ---- */

#define NVMS 10
struct one {
	int i, rc;
	vz_result res;
	char out[64];
};

static void *one_vm(void *arg)
{
	struct one *o = arg;
	char script[64];
	const char *argv[] = { "/bin/sh", "-c", script };
	vz_config *cfg;

	snprintf(script, sizeof(script), "echo vm-%d; exit %d", o->i, o->i);
	cfg = base_config(VZ_TEST_ROOTFS, argv, 3);
	o->rc = cfg ? run_vm(cfg, 96ll << 20, VM_WALL_MS, &o->res, o->out, sizeof(o->out)) : VZ_ERROR;
	vz_config_free(cfg);
	return NULL;
}

static void t_ten_vms_at_once(void)
{
	pthread_t th[NVMS];
	struct one o[NVMS];

	for (int i = 0; i < NVMS; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		o[i].i = i;
		pthread_create(&th[i], NULL, one_vm, &o[i]);
	}
	for (int i = 0; i < NVMS; i++) {
		char want[32];
		pthread_join(th[i], NULL);
		snprintf(want, sizeof(want), "vm-%d\n", i);
		CHECK_MSG(o[i].rc == VZ_OK, "vm %d: rc %d", i, o[i].rc);
		CHECK_MSG(o[i].res.reason == VZ_REASON_EXITED && o[i].res.exit_code == i,
			  "vm %d: %s %d %s", i, vz_reason_name(o[i].res.reason), o[i].res.exit_code,
			  o[i].res.message);
		CHECK_MSG(!strcmp(o[i].out, want), "vm %d printed '%s'", i, o[i].out);
	}
}

/* ---- templates: restore, what differs between restored VMs, refusals, races ---- */

/* CHECK_OK and CHECK_INT as expressions (true when they held). */
#define OKX(call)                                                                               \
	({                                                                                      \
		int rc_ = (call);                                                               \
		vzt_check(rc_ == 0, VZT_LOC, "%s = %d (%s)", #call, rc_, rc_ ? vz_error_last()->message : ""); \
	})
#define INTX(a, op, b)                                                                          \
	({                                                                                      \
		long long va_ = (long long)(a), vb_ = (long long)(b);                           \
		vzt_check(va_ op vb_, VZT_LOC, "%s %s %s (%lld vs %lld)", #a, #op, #b, va_, vb_); \
	})

static bool has_phase(const vz_result *r, const char *name)
{
	for (uint32_t i = 0; i < r->phase_count; i++)
		if (!strcmp(r->phases[i].name, name))
			return true;
	return false;
}

static char logged[4096];
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static void keep_log(int level, const char *message, void *ud)
{
	(void)ud;
	if (level > VZ_LOG_WARN)
		return;
	pthread_mutex_lock(&log_mu);
	snprintf(logged + strlen(logged), sizeof(logged) - strlen(logged), "%s\n", message);
	pthread_mutex_unlock(&log_mu);
}

/* A VM whose output tells it apart: boot id, 16 random bytes, the wall clock. */
static const char *const ident_argv[] = {
	"/bin/sh", "-c",
	"cat /proc/sys/kernel/random/boot_id; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; "
	"echo; date +%s; hostname"
};

/* Start a VM with templates in @dir (NULL: the default) and @mem MiB; fill @res, @out. */
static int run_tmpl(const char *dir, const char *kernel, int64_t mem_mib, vz_result *res, char *out,
		    size_t outlen, const char *hostname)
{
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, (const char **)ident_argv, 3);
	int rc;

	if (!cfg)
		return VZ_ERROR;
	if ((dir && vz_config_set_vm_templates(cfg, dir)) || (kernel && vz_config_set_kernel(cfg, kernel)) ||
	    (hostname && vz_config_set_hostname(cfg, hostname))) {
		vz_config_free(cfg);
		return VZ_ERROR;
	}
	rc = run_vm(cfg, mem_mib << 20, VM_WALL_MS, res, out, outlen);
	vz_config_free(cfg);
	return rc;
}

/* How many published templates @dir holds (16 hex digit directories with a state). */
static int count_templates(const char *dir, char *slot_out)
{
	char cmd[512], line[64];
	int n = 0;
	FILE *f;
	snprintf(cmd, sizeof(cmd), "ls -A %s 2>/dev/null", dir);
	if (!(f = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char st[600];
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) != 16)
			continue;
		snprintf(st, sizeof(st), "%s/%s/state", dir, line);
		if (access(st, F_OK) == 0) {
			n++;
			if (slot_out) {
				memcpy(slot_out, line, 16); /* 16 characters, checked above */
				slot_out[16] = '\0';
			}
		}
	}
	pclose(f);
	return n;
}

static void t_template_restore(void)
{
	char dir[128], out[3][512], slot[17] = "";
	vz_result res;
	time_t now;

	snprintf(dir, sizeof(dir), "%s/tmpl-restore", tmpdir);
	/* First start: a cold boot that saves the template. */
	if (!OKX(run_tmpl(dir, NULL, 128, &res, out[0], sizeof(out[0]), "first")))
		return;
	CHECK_MSG(res.reason == VZ_REASON_EXITED && res.exit_code == 0, "%s %d %s",
		  vz_reason_name(res.reason), res.exit_code, res.message);
	CHECK_MSG(has_phase(&res, "boot") && has_phase(&res, "snapshot"), "first start did not save");
	INTX(count_templates(dir, slot), ==, 1);
	/* Two restored ones: each its own boot id, randomness and host name; the host's clock. */
	for (int i = 1; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "restored%d", i);
		if (!OKX(run_tmpl(dir, NULL, 128, &res, out[i], sizeof(out[i]), name)))
			return;
		now = time(NULL);
		CHECK_MSG(res.reason == VZ_REASON_EXITED && res.exit_code == 0, "%s %s",
			  vz_reason_name(res.reason), res.message);
		CHECK_MSG(has_phase(&res, "restore") && !has_phase(&res, "boot"),
			  "start %d was not restored", i);
		char bid[64] = "", rnd[64] = "", host[32] = "";
		long long t = 0;
		CHECK_MSG(sscanf(out[i], "%63s %63s %lld %31s", bid, rnd, &t, host) == 4, "output: %s", out[i]);
		CHECK_MSG(t >= now - 5 && t <= now + 1, "guest clock %lld, host %lld", t, (long long)now);
		CHECK_STR(host, name);
	}
	CHECK_MSG(strncmp(out[1], out[2], 36) != 0, "two restored VMs share a boot id: %.36s", out[1]);
	CHECK_MSG(strncmp(out[1] + 37, out[2] + 37, 32) != 0, "two restored VMs read the same random bytes");
	CHECK_MSG(strncmp(out[0], out[1], 36) != 0, "a restored VM has the template's boot id");
}

struct tmpl_one {
	const char *dir;
	int rc;
	vz_result res;
	char out[512];
};

static void *tmpl_one(void *arg)
{
	struct tmpl_one *o = arg;
	o->rc = run_tmpl(o->dir, NULL, 128, &o->res, o->out, sizeof(o->out), NULL);
	return NULL;
}

static void t_template_ten_restored_at_once(void)
{
	char dir[128];
	pthread_t th[NVMS];
	struct tmpl_one o[NVMS];

	snprintf(dir, sizeof(dir), "%s/tmpl-restore", tmpdir); /* made by template_restore */
	if (count_templates(dir, NULL) != 1) {
		vz_result res;
		char out[512];
		OKX(run_tmpl(dir, NULL, 128, &res, out, sizeof(out), NULL));
	}
	for (int i = 0; i < NVMS; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		o[i].dir = dir;
		pthread_create(&th[i], NULL, tmpl_one, &o[i]);
	}
	for (int i = 0; i < NVMS; i++) {
		pthread_join(th[i], NULL);
		CHECK_MSG(o[i].rc == VZ_OK && o[i].res.reason == VZ_REASON_EXITED && o[i].res.exit_code == 0,
			  "vm %d: rc %d %s %s", i, o[i].rc, vz_reason_name(o[i].res.reason), o[i].res.message);
		CHECK_MSG(has_phase(&o[i].res, "restore"), "vm %d was not restored", i);
		CHECK_MSG(strlen(o[i].out) > 36 + 33, "vm %d printed '%s'", i, o[i].out);
		for (int j = 0; j < i; j++)
			CHECK_MSG(strncmp(o[i].out, o[j].out, 36), "vms %d and %d share a boot id", i, j);
	}
}

/* Damage the template in @dir with @how, then a start must boot cold, log @want, and
 * replace it (the start after restores again). */
static void refused_then_replaced(const char *dir, const char *kernel, const char *how, const char *want)
{
	char cmd[1024], slot[17] = "", out[512];
	vz_result res;

	if (count_templates(dir, slot) != 1 && !OKX(run_tmpl(dir, kernel, 128, &res, out, sizeof(out), NULL)))
		return;
	if (!INTX(count_templates(dir, slot), ==, 1))
		return;
	snprintf(cmd, sizeof(cmd), "cd %s/%s && %s", dir, slot, how);
	CHECK_MSG(system(cmd) == 0, "%s", cmd);
	logged[0] = '\0';
	vz_log_set_callback(keep_log, VZ_LOG_WARN, NULL);
	OKX(run_tmpl(dir, kernel, 128, &res, out, sizeof(out), NULL));
	vz_log_set_callback(NULL, 0, NULL);
	CHECK_MSG(res.reason == VZ_REASON_EXITED && res.exit_code == 0, "%s %s", vz_reason_name(res.reason),
		  res.message);
	CHECK_MSG(has_phase(&res, "boot") && !has_phase(&res, "restore"), "%s: not a cold boot", how);
	CHECK_MSG(strstr(logged, "refused") && strstr(logged, want), "%s: logged '%s', wanted '%s'", how,
		  logged, want);
	OKX(run_tmpl(dir, kernel, 128, &res, out, sizeof(out), NULL));
	CHECK_MSG(has_phase(&res, "restore"), "%s: the template was not replaced", how);
}

static void t_template_refused(void)
{
	char dir[128], kdir[128], kernel[256], cmd[600];
	const char *k = getenv("VZ_KERNEL");

	snprintf(dir, sizeof(dir), "%s/tmpl-refused", tmpdir);
	/* A memory file cut short, a damaged state, another libvz build. */
	refused_then_replaced(dir, NULL, "chmod u+w memory && truncate -s 4096 memory", "memory file");
	refused_then_replaced(dir, NULL, "chmod u+w state && printf '\\377' | dd of=state bs=1 seek=4200 conv=notrunc 2>/dev/null",
			      "damaged");
	refused_then_replaced(dir, NULL,
			      "chmod u+w state && printf 'X' | dd of=state bs=1 seek=22 conv=notrunc 2>/dev/null",
			      "made by");
	/* A guest kernel file changed since (a copy of the kernel, touched). */
	if (!k) {
		vz_test_skip(NULL, "VZ_KERNEL unset: no kernel to copy");
		return;
	}
	snprintf(kdir, sizeof(kdir), "%s/tmpl-kernel", tmpdir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", kdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s", kdir, k, kernel);
	if (!CHECK(system(cmd) == 0))
		return;
	snprintf(cmd, sizeof(cmd), "touch -d '2001-01-01' %s", kernel);
	refused_then_replaced(kdir, kernel, cmd, "guest kernel");
}

/* Two processes starting the same kind of VM at once with no template: one is made. */
static void t_template_concurrent_first_use(void)
{
	char dir[128], out[512];
	vz_result res;
	pid_t pid[2];

	snprintf(dir, sizeof(dir), "%s/tmpl-race", tmpdir);
	for (int i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0) {
			vz_result r;
			char o[512];
			_exit(run_tmpl(dir, NULL, 128, &r, o, sizeof(o), NULL) == VZ_OK &&
					      r.reason == VZ_REASON_EXITED && r.exit_code == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 2; i++) {
		int st = -1;
		waitpid(pid[i], &st, 0);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d failed (status %d)", i, st);
	}
	INTX(count_templates(dir, NULL), ==, 1);
	OKX(run_tmpl(dir, NULL, 128, &res, out, sizeof(out), NULL));
	CHECK_MSG(has_phase(&res, "restore"), "the one template made is not usable");
	/* Nothing half-written is left: only the template, its lock. */
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep -v '^[0-9a-f]\\{16\\}$' | grep -v '^\\.[0-9a-f]\\{16\\}\\.lock$')\"", dir);
	CHECK_MSG(system(cmd) == 0, "leftovers in %s", dir);
}

/* Made ahead of time, on the sandbox that then starts from it; and the refusals. */
static void t_template_make_ahead(void)
{
	char dir[128];
	vz_config *cfg = base_config(VZ_TEST_ROOTFS, (const char **)ident_argv, 3);
	vz_sandbox *sb = NULL;
	vz_result res = { .size = sizeof(res) };

	snprintf(dir, sizeof(dir), "%s/tmpl-ahead", tmpdir);
	if (!CHECK(cfg != NULL) || !OKX(vz_config_set_vm_templates(cfg, dir)))
		return;
	if (OKX(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg))) {
		vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 96ll << 20);
		OKX(vz_sandbox_make_template(sb));
		INTX(count_templates(dir, NULL), ==, 1);
		OKX(vz_sandbox_make_template(sb)); /* there already: kept */
		INTX(count_templates(dir, NULL), ==, 1);
		OKX(vz_sandbox_start(sb));
		OKX(vz_sandbox_wait(sb, -1, &res));
		CHECK_MSG(res.reason == VZ_REASON_EXITED && has_phase(&res, "restore"),
			  "%s, restored: %d", vz_reason_name(res.reason), has_phase(&res, "restore"));
		INTX(vz_sandbox_make_template(sb), ==, VZ_ESTATE);
		vz_sandbox_free(sb);
	}
	/* Cold starts asked for: neither read nor made. */
	OKX(vz_config_set_vm_start(cfg, VZ_VM_START_COLD));
	snprintf(dir, sizeof(dir), "%s/tmpl-cold", tmpdir);
	OKX(vz_config_set_vm_templates(cfg, dir));
	if (OKX(run_vm(cfg, 96ll << 20, VM_WALL_MS, &res, NULL, 0)))
		CHECK_MSG(has_phase(&res, "boot") && !has_phase(&res, "snapshot"), "cold start saved");
	INTX(count_templates(dir, NULL), ==, 0);
	vz_config_free(cfg);
}

/* A directory that cannot be used, or one deleted while a restored VM runs: starts
 * boot cold (or go on), never fail; a host marked unable to save is not asked again. */
static void t_template_dir_trouble(void)
{
	char dir[128], out[512], slot[17] = "", cmd[512];
	vz_result res;

	if (OKX(run_tmpl("/dev/null/templates", NULL, 128, &res, out, sizeof(out), NULL)))
		CHECK_MSG(res.reason == VZ_REASON_EXITED && has_phase(&res, "boot"), "%s",
			  vz_reason_name(res.reason));
	snprintf(dir, sizeof(dir), "%s/tmpl-gone", tmpdir);
	OKX(run_tmpl(dir, NULL, 128, &res, out, sizeof(out), NULL));
	if (!INTX(count_templates(dir, slot), ==, 1))
		return;
	/* Deleted while one restored from it runs. */
	{
		const char *argv[] = { "/bin/sh", "-c", "sleep 1; echo still" };
		vz_config *cfg = base_config(VZ_TEST_ROOTFS, argv, 3);
		vz_sandbox *sb = NULL;
		vz_result r = { .size = sizeof(r) };
		char buf[64] = "";
		if (CHECK(cfg) && OKX(vz_config_set_vm_templates(cfg, dir)) &&
		    OKX(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg))) {
			vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 128ll << 20);
			if (OKX(vz_sandbox_start(sb))) {
				OKX(vz_vm_templates_drop(dir));
				snprintf(cmd, sizeof(cmd), "rmdir %s", dir);
				CHECK(system(cmd) == 0);
				ssize_t n = read(vz_sandbox_stdio_fd(sb, VZ_STDOUT), buf, sizeof(buf) - 1);
				buf[n > 0 ? n : 0] = '\0';
				OKX(vz_sandbox_wait(sb, -1, &r));
				CHECK_MSG(r.reason == VZ_REASON_EXITED && r.exit_code == 0 && !strcmp(buf, "still\n"),
					  "%s '%s' restored %d", vz_reason_name(r.reason), buf, has_phase(&r, "restore"));
			}
		}
		vz_sandbox_free(sb);
		vz_config_free(cfg);
	}
	OKX(run_tmpl(dir, NULL, 128, &res, out, sizeof(out), NULL));
	CHECK_MSG(has_phase(&res, "snapshot"), "the deleted template was not made again");
	/* The host marked as unable to save such a VM: cold, not asked again, make says so. */
	snprintf(cmd, sizeof(cmd), "cd %s && rm -rf %s && echo 'KVM_GET_XSAVE failed (errno 22)' > %s.unsupported",
		 dir, slot, slot);
	CHECK(system(cmd) == 0);
	OKX(run_tmpl(dir, NULL, 128, &res, out, sizeof(out), NULL));
	CHECK_MSG(has_phase(&res, "boot") && !has_phase(&res, "snapshot"), "tried to save anyway");
	INTX(count_templates(dir, NULL), ==, 0);
	{
		vz_config *cfg = base_config(VZ_TEST_ROOTFS, (const char **)ident_argv, 3);
		vz_sandbox *sb = NULL;
		if (CHECK(cfg) && OKX(vz_config_set_vm_templates(cfg, dir)) &&
		    OKX(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg))) {
			vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 128ll << 20);
			INTX(vz_sandbox_make_template(sb), ==, VZ_ENOTSUP);
			CHECK_MSG(strstr(vz_error_last()->message, "unsupported"), "message: %s",
				  vz_error_last()->message);
		}
		vz_sandbox_free(sb);
		vz_config_free(cfg);
	}
}

/* boots: the case boots the guest kernel (tens of seconds on kvm_pvm); the hostile
 * guests are tiny hand-made kernels and run in milliseconds. */
static const struct {
	const char *name;
	void (*fn)(void);
	int boots;
} cases[] = {
	{ "bad_kernel_files", t_bad_kernel_files, 0 },
	{ "stock_bzimage_on_pvm", t_stock_bzimage_on_pvm, 0 },
	{ "kernel_modules_refused", t_kernel_modules_refused, 0 },
	{ "stock_kernel_with_modules", t_stock_kernel_with_modules, 1 },
	{ "rootfs_larger_than_ram", t_rootfs_larger_than_ram, 1 },
	{ "hostile_guest_devices", t_hostile_guest_devices, 0 },
	{ "hostile_guest_triple_fault", t_hostile_guest_triple_fault, 0 },
	{ "hostile_guest_spins", t_hostile_guest_spins, 0 },
	{ "guest_panic", t_guest_panic, 1 },
	{ "kill_during_boot", t_kill_during_boot, 1 },
	{ "ten_vms_at_once", t_ten_vms_at_once, 1 },
	{ "template_restore", t_template_restore, 1 },
	{ "template_ten_restored_at_once", t_template_ten_restored_at_once, 1 },
	{ "template_refused", t_template_refused, 1 },
	{ "template_concurrent_first_use", t_template_concurrent_first_use, 1 },
	{ "template_make_ahead", t_template_make_ahead, 1 },
	{ "template_dir_trouble", t_template_dir_trouble, 1 },
};

int main(int argc, char **argv)
{
	const char *why = NULL, *filter = argc > 1 ? argv[1] : NULL;
	const char *boots = getenv("VZ_TEST_VM_BOOTS");
	int no_boots = boots && !strcmp(boots, "0");
	char cmd[64];

	if (vz_backend_available(VZ_BACKEND_VM, &why))
		vz_test_skip_all("kvm", "%s", why);
	vzt_private_templates();
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	printf("1..%zu\n", sizeof(cases) / sizeof(cases[0]));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = vzt_failed;
		if (filter && !strstr(cases[i].name, filter)) {
			printf("ok %zu - %s # SKIP not selected\n", i + 1, cases[i].name);
			continue;
		}
		if (cases[i].boots && no_boots) {
			printf("ok %zu - %s # SKIP VZ_TEST_VM_BOOTS=0: no guest boots in this run\n",
			       i + 1, cases[i].name);
			continue;
		}
		vzt_case_skipped = 0;
		cases[i].fn();
		if (vzt_case_skipped && vzt_failed == before)
			printf("ok %zu - %s # SKIP %s\n", i + 1, cases[i].name, vzt_skip_reason);
		else
			printf("%s %zu - %s\n", vzt_failed == before ? "ok" : "not ok", i + 1,
			       cases[i].name);
		fflush(stdout);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return vzt_failed ? 1 : 0;
}
