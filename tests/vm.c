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
#include <stdint.h>
#include <sys/stat.h>
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

static void t_rootfs_larger_than_ram(void)
{
	char root[256], big[300], cmd[600];
	const char *argv[] = { "/bin/true" };
	vz_config *cfg;
	vz_sandbox *sb = NULL;
	int fd;

	snprintf(root, sizeof(root), "%s/bigroot", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", VZ_TEST_ROOTFS, root);
	if (!CHECK(system(cmd) == 0))
		return;
	snprintf(big, sizeof(big), "%s/big.bin", root);
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 200 << 20) == 0); /* sparse, read back as zeros */
	if (fd >= 0)
		close(fd);
	cfg = base_config(root, argv, 1);
	if (!CHECK(cfg != NULL))
		return;
	CHECK_OK(vz_sandbox_create(&sb, VZ_BACKEND_VM, cfg));
	if (sb) {
		CHECK_OK(vz_sandbox_limit(sb, VZ_LIMIT_MEMORY, 128ll << 20));
		CHECK_INT(vz_sandbox_start(sb), ==, VZ_EINVAL);
		CHECK_MSG(strstr(vz_error_last()->message, "does not fit") != NULL, "%s",
			  vz_error_last()->message);
	}
	vz_sandbox_free(sb);
	vz_config_free(cfg);
}

static char start_msg[512]; /* start's error message, kept by run_vm() */

/* Run to the end; returns start's status (its message in start_msg). */
static int run_vm(vz_config *cfg, int64_t mem, vz_result *res, char *out, size_t outlen)
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
	/* A guest that never ends fails its case, naming itself, instead of holding the
	 * whole program until ctest's timeout (ten boots at once take ~110 s on kvm_pvm). */
	vz_sandbox_limit(sb, VZ_LIMIT_WALL_TIME, 600000);
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
	CHECK_INT(run_vm(cfg, 0, &res, NULL, 0), ==, VZ_EGUEST);
	CHECK_MSG(strstr(start_msg, "Kernel panic") != NULL, "%s", start_msg);
	CHECK_MSG(strstr(res.message, "Kernel panic") != NULL, "%s", res.message);
	CHECK_INT(res.reason, ==, VZ_REASON_SETUP_FAILED);
	vz_config_free(cfg);
}

/* ---- hostile guests: hand-made PVH "kernels" ---- */

/* An ELF vmlinux look-alike: one segment of 32-bit code at 1 MiB and the PVH note.
 * It carries the "vzpvm" marker so that kvm_pvm hosts accept it too. */
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
	uint8_t file[8192] = { 0 };

	memcpy(h.eh.e_ident, ELFMAG, SELFMAG);
	h.eh.e_ident[EI_CLASS] = ELFCLASS64;
	h.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	h.eh.e_ident[EI_VERSION] = EV_CURRENT;
	h.eh.e_type = ET_EXEC;
	h.eh.e_machine = EM_X86_64;
	h.eh.e_version = EV_CURRENT;
	h.eh.e_entry = 0x100000;
	h.eh.e_phoff = sizeof(Elf64_Ehdr);
	h.eh.e_ehsize = sizeof(Elf64_Ehdr);
	h.eh.e_phentsize = sizeof(Elf64_Phdr);
	h.eh.e_phnum = 2;
	h.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 4096,
				.p_vaddr = 0x100000, .p_paddr = 0x100000, .p_filesz = len,
				.p_memsz = len, .p_align = 4096 };
	h.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R,
				.p_offset = offsetof(__typeof__(h), nh),
				.p_filesz = sizeof(Elf64_Nhdr) + 4 + 4, .p_align = 4 };
	h.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = 18 /* PHYS32_ENTRY */ };
	memcpy(h.name, "Xen", 4);
	h.entry = 0x100000;
	memcpy(h.marker, "vzpvm", 6);
	memcpy(file, &h, sizeof(h));
	memcpy(file + 4096, code, len);
	write_file(path, file, 4096 + len);
}

static int run_payload(const uint8_t *code, size_t len, const char *name, vz_result *res)
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
	rc = run_vm(cfg, 64ll << 20, res, NULL, 0);
	vz_config_free(cfg);
	return rc;
}

static void t_hostile_guest_devices(void)
{
	/* 32-bit protected mode, flat segments, paging off. */
	static const uint8_t code[] = {
		0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee,	/* out 0x3f8, 'A'          */
		0x66, 0xba, 0x70, 0x00, 0xec,			/* in al, 0x70 (no device)  */
		0x66, 0xba, 0xfe, 0x06, 0xef,			/* out 0x6fe, eax: straddles the status window */
		0xc7, 0x05, 0x00, 0x00, 0x00, 0xd0, 0xef, 0xbe, 0xad, 0xde, /* mmio [0xd0000000] */
		0xc7, 0x05, 0x00, 0xf0, 0xff, 0xff, 0x11, 0x22, 0x33, 0x44, /* mmio [0xfffff000] */
		0xa1, 0x00, 0x00, 0x00, 0xe0,			/* mov eax, [0xe0000000]    */
		0x66, 0xba, 0xef, 0x06, 0xb0, 0x99, 0xee,	/* unknown status command   */
		0xbe, 0x00, 0x00, 0x10, 0x00,			/* esi = our own code       */
		0xb9, 0x00, 0x10, 0x00, 0x00,			/* ecx = 4096               */
		0x66, 0xba, 0x00, 0x06,				/* dx = status text          */
		0xf3, 0x6e,					/* rep outsb: 4096 bytes to one port */
		0xbe, 0x00, 0x00, 0x10, 0x00,			/* esi = code               */
		0xb9, 0x00, 0x01, 0x00, 0x00,			/* ecx = 256                */
		0x66, 0xba, 0x00, 0x06,				/* dx = 0x600               */
		0xf3, 0x66, 0x6f,				/* rep outsw                */
		0x66, 0xba, 0xe0, 0x06, 0xb8, 0xff, 0xff, 0xff, 0x7f, 0xef, /* value1 = 0x7fffffff */
		0x66, 0xba, 0xe4, 0x06, 0xb8, 0x39, 0x30, 0x00, 0x00, 0xef, /* value2 = 12345 */
		0x66, 0xba, 0xef, 0x06, 0xb0, 0x03, 0xee,	/* command: set-up error    */
		0xf4, 0xeb, 0xfe,				/* hlt; jmp $               */
	};
	vz_result res;
	int rc = run_payload(code, sizeof(code), "hostile-devices", &res);

	/* The guest's claim is passed on only as the guest's own failure, its code clamped
	 * to a valid one and its text bounded and terminated. */
	CHECK_INT(rc, ==, VZ_ECHILD);
	CHECK(strlen(start_msg) < 511);
	CHECK_MSG(strstr(res.message, start_msg) != NULL, "%s / %s", res.message, start_msg);
	CHECK_INT(res.reason, ==, VZ_REASON_SETUP_FAILED);
}

static void t_hostile_guest_triple_fault(void)
{
	/* int3 with no IDT: #BP, then #GP, then #DF, then a triple fault. */
	static const uint8_t code[] = { 0xcc, 0xf4, 0xeb, 0xfe };
	vz_result res;
	int rc = run_payload(code, sizeof(code), "hostile-fault", &res);

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

	if (!CHECK(cfg != NULL) || !CHECK(vz_sandbox_create(&k.sb, VZ_BACKEND_VM, cfg) == 0))
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
	o->rc = cfg ? run_vm(cfg, 96ll << 20, &o->res, o->out, sizeof(o->out)) : VZ_ERROR;
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

/* boots: the case boots the guest kernel (tens of seconds on kvm_pvm); the hostile
 * guests are tiny hand-made kernels and run in milliseconds. */
static const struct {
	const char *name;
	void (*fn)(void);
	int boots;
} cases[] = {
	{ "bad_kernel_files", t_bad_kernel_files, 0 },
	{ "stock_bzimage_on_pvm", t_stock_bzimage_on_pvm, 0 },
	{ "rootfs_larger_than_ram", t_rootfs_larger_than_ram, 0 },
	{ "hostile_guest_devices", t_hostile_guest_devices, 0 },
	{ "hostile_guest_triple_fault", t_hostile_guest_triple_fault, 0 },
	{ "hostile_guest_spins", t_hostile_guest_spins, 0 },
	{ "guest_panic", t_guest_panic, 1 },
	{ "kill_during_boot", t_kill_during_boot, 1 },
	{ "ten_vms_at_once", t_ten_vms_at_once, 1 },
};

int main(int argc, char **argv)
{
	const char *why = NULL, *filter = argc > 1 ? argv[1] : NULL;
	const char *boots = getenv("VZ_TEST_VM_BOOTS");
	int no_boots = boots && !strcmp(boots, "0");
	char cmd[64];

	if (vz_backend_available(VZ_BACKEND_VM, &why))
		vz_test_skip_all("kvm", "%s", why);
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
