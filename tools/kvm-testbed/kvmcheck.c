/* SPDX-License-Identifier: MIT */
/* kvmcheck: prove that /dev/kvm runs a guest, and say which KVM it is.
 *
 * Creates a VM with 64 KiB of memory and one vCPU in real mode, runs a few instructions
 * (an addition, two `out`s to port 0x3f8, a store, `hlt`), checks every exit and the
 * state afterwards, then times a loop of 200 `out` exits. Prints the KVM kind found in
 * /sys/module (kvm_amd, kvm_intel, kvm_pvm) with its paging parameters.
 *
 *   kvmcheck [--expect MODULE] [--tdp]
 *
 * --expect MODULE fails unless /sys/module/MODULE exists (e.g. kvm_amd); --tdp fails
 * unless the kind uses two-dimensional paging (kvm_amd npt, kvm_intel ept).
 * Exit status: 0 pass, 1 fail, 77 skip (no /dev/kvm, or no access to it). VZ_TEST_REQUIRE
 * naming "kvm" turns that skip into a failure, as in the libvz tests. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness.h" /* vz_test_required(): VZ_TEST_REQUIRE turns a skip into a failure */

#define MEM_SIZE 0x10000u
#define CODE_ADDR 0x1000u
#define LOOP_ADDR 0x1100u
#define DATA_ADDR 0x2000u
#define PORT 0x3f8u
#define LOOPS 200u

/* 16-bit real-mode code: with AX=2, BX=3 it writes '5' and '\n' to PORT, stores '\n'
 * at DATA_ADDR and halts. */
static const uint8_t code[] = {
	0xba, PORT & 0xff, PORT >> 8,	  /* mov dx, PORT */
	0x00, 0xd8,			  /* add al, bl */
	0x04, '0',			  /* add al, '0' */
	0xee,				  /* out dx, al */
	0xb0, '\n',			  /* mov al, '\n' */
	0xee,				  /* out dx, al */
	0xa2, DATA_ADDR & 0xff, DATA_ADDR >> 8, /* mov [DATA_ADDR], al */
	0xf4,				  /* hlt */
};

/* LOOPS exits: mov cx, LOOPS; 1: out dx, al; loop 1b; hlt */
static const uint8_t loop_code[] = {
	0xb9, LOOPS & 0xff, LOOPS >> 8, 0xee, 0xe2, 0xfd, 0xf4,
};

static int failed;

static void fail(const char *what)
{
	printf("kvmcheck: FAIL: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
	fflush(stdout);
	failed = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* First line of a file into buf ("?" when unreadable). */
static const char *read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, (int)size, f)) {
		if (f)
			fclose(f);
		snprintf(buf, size, "?");
		return buf;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static int module_loaded(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

static const char *const kinds[] = { "kvm_amd", "kvm_intel", "kvm_pvm" };

/* Which KVM this is; *tdp set to 1/0 when known (-1 when not). */
static const char *kvm_kind(char *detail, size_t size, int *tdp)
{
	char a[32], b[32], c[32];
	*tdp = -1;
	if (module_loaded("kvm_amd")) {
		read_line("/sys/module/kvm_amd/parameters/npt", a, sizeof(a));
		read_line("/sys/module/kvm_amd/parameters/nested", b, sizeof(b));
		read_line("/sys/module/kvm_amd/parameters/nrips", c, sizeof(c));
		snprintf(detail, size, "npt=%s nested=%s nrips=%s", a, b, c);
		*tdp = a[0] == '1' || a[0] == 'Y';
		return "kvm_amd";
	}
	if (module_loaded("kvm_intel")) {
		read_line("/sys/module/kvm_intel/parameters/ept", a, sizeof(a));
		read_line("/sys/module/kvm_intel/parameters/nested", b, sizeof(b));
		read_line("/sys/module/kvm_intel/parameters/unrestricted_guest", c, sizeof(c));
		snprintf(detail, size, "ept=%s nested=%s unrestricted_guest=%s", a, b, c);
		*tdp = a[0] == '1' || a[0] == 'Y';
		return "kvm_intel";
	}
	if (module_loaded("kvm_pvm")) {
		snprintf(detail, size, "PVM: runs guests without VMX/SVM");
		*tdp = 0;
		return "kvm_pvm";
	}
	snprintf(detail, size, "no kvm_amd, kvm_intel or kvm_pvm in /sys/module");
	return "unknown";
}

/* Run until the next exit other than KVM_EXIT_INTR; returns the exit reason or -1. */
static int run_vcpu(int vcpu, struct kvm_run *run)
{
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			fail("KVM_RUN");
			return -1;
		}
		if (run->exit_reason != KVM_EXIT_INTR)
			return (int)run->exit_reason;
	}
}

/* Expect a one-byte `out` of @want to PORT; returns 0 when it is. */
static int expect_out(struct kvm_run *run, int reason, uint8_t want)
{
	char msg[160];
	if (reason < 0)
		return -1;
	errno = 0;
	if (reason != KVM_EXIT_IO) {
		snprintf(msg, sizeof(msg), "expected an I/O exit, got exit reason %d", reason);
		if (reason == KVM_EXIT_FAIL_ENTRY)
			snprintf(msg, sizeof(msg), "entry failed, hardware reason 0x%llx",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		else if (reason == KVM_EXIT_INTERNAL_ERROR)
			snprintf(msg, sizeof(msg), "KVM internal error, suberror %u",
				 run->internal.suberror);
		fail(msg);
		return -1;
	}
	uint8_t got = *((uint8_t *)run + run->io.data_offset);
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 1 || run->io.port != PORT ||
	    run->io.count != 1 || got != want) {
		snprintf(msg, sizeof(msg),
			 "I/O exit: dir %u size %u port 0x%x count %u data 0x%02x, expected out 1 byte "
			 "0x%02x to 0x%x",
			 run->io.direction, run->io.size, run->io.port, run->io.count, got, want, PORT);
		fail(msg);
		return -1;
	}
	return 0;
}

static int expect_hlt(int reason)
{
	char msg[80];
	if (reason < 0)
		return -1;
	if (reason != KVM_EXIT_HLT) {
		errno = 0;
		snprintf(msg, sizeof(msg), "expected a HLT exit, got exit reason %d", reason);
		fail(msg);
		return -1;
	}
	return 0;
}

static int check_vm(int kvm, double *exit_us)
{
	int vm = -1, vcpu = -1, rc = -1;
	long run_size;
	uint8_t *mem = MAP_FAILED;
	struct kvm_run *run = MAP_FAILED;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	char msg[160];

	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0) {
		fail("KVM_CREATE_VM");
		goto out;
	}
	/* Intel without unrestricted guests needs a TSS for real mode; elsewhere harmless. */
	if (ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		printf("kvmcheck: note: KVM_SET_TSS_ADDR: %s\n", strerror(errno));
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED) {
		fail("mmap guest memory");
		goto out;
	}
	memcpy(mem + CODE_ADDR, code, sizeof(code));
	memcpy(mem + LOOP_ADDR, loop_code, sizeof(loop_code));
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		fail("KVM_SET_USER_MEMORY_REGION");
		goto out;
	}
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0) {
		fail("KVM_CREATE_VCPU");
		goto out;
	}
	if ((run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < (long)sizeof(*run)) {
		fail("KVM_GET_VCPU_MMAP_SIZE");
		goto out;
	}
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		fail("mmap kvm_run");
		goto out;
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		fail("KVM_GET_SREGS");
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
		fail("KVM_SET_SREGS");
		goto out;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_ADDR;
	regs.rax = 2;
	regs.rbx = 3;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		fail("KVM_SET_REGS");
		goto out;
	}

	if (expect_out(run, run_vcpu(vcpu, run), '5') || expect_out(run, run_vcpu(vcpu, run), '\n') ||
	    expect_hlt(run_vcpu(vcpu, run)))
		goto out;
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) {
		fail("KVM_GET_REGS");
		goto out;
	}
	errno = 0;
	if (regs.rip != CODE_ADDR + sizeof(code) || (regs.rax & 0xff) != '\n' || regs.rbx != 3 ||
	    (regs.rdx & 0xffff) != PORT) {
		snprintf(msg, sizeof(msg), "registers after hlt: rip 0x%llx rax 0x%llx rbx 0x%llx rdx 0x%llx",
			 (unsigned long long)regs.rip, (unsigned long long)regs.rax,
			 (unsigned long long)regs.rbx, (unsigned long long)regs.rdx);
		fail(msg);
		goto out;
	}
	if (mem[DATA_ADDR] != '\n') {
		snprintf(msg, sizeof(msg), "guest store not seen: byte at 0x%x is 0x%02x", DATA_ADDR,
			 mem[DATA_ADDR]);
		fail(msg);
		goto out;
	}
	printf("kvmcheck: ok - real-mode guest: out '5', out '\\n', store, hlt; registers and memory as expected\n");

	/* Time LOOPS out exits (AL still holds '\n'). */
	regs.rip = LOOP_ADDR;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		fail("KVM_SET_REGS (loop)");
		goto out;
	}
	double t0 = now();
	for (unsigned i = 0; i < LOOPS; i++)
		if (expect_out(run, run_vcpu(vcpu, run), '\n'))
			goto out;
	if (expect_hlt(run_vcpu(vcpu, run)))
		goto out;
	*exit_us = (now() - t0) * 1e6 / LOOPS;
	printf("kvmcheck: ok - %u I/O exits, %.1f us per exit round trip\n", LOOPS, *exit_us);
	rc = 0;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (mem != MAP_FAILED)
		munmap(mem, MEM_SIZE);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	return rc;
}

int main(int argc, char **argv)
{
	const char *expect = NULL, *kind;
	int want_tdp = 0, kvm, version, tdp;
	char detail[160], msg[200];
	double t0 = now(), exit_us = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--expect") && i + 1 < argc) {
			expect = argv[++i];
		} else if (!strcmp(argv[i], "--tdp")) {
			want_tdp = 1;
		} else {
			fprintf(stderr, "usage: %s [--expect kvm_amd|kvm_intel|kvm_pvm] [--tdp]\n", argv[0]);
			return 2;
		}
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		int err = errno;
		if (err == ENOENT || err == EACCES || err == ENXIO || err == ENODEV || err == EPERM) {
			int req = vz_test_required("kvm");
			printf(req ? "kvmcheck: FAIL: required feature kvm unavailable: /dev/kvm: %s\n"
				   : "kvmcheck: SKIP: /dev/kvm: %s\n",
			       strerror(err));
			return req ? 1 : 77;
		}
		errno = err;
		fail("open /dev/kvm");
		return 1;
	}
	kind = kvm_kind(detail, sizeof(detail), &tdp);
	printf("kvmcheck: /dev/kvm is %s (%s)\n", kind, detail);
	errno = 0;
	if (expect) {
		int known = 0;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			known |= !strcmp(expect, kinds[i]);
		if (!known) {
			fprintf(stderr, "kvmcheck: --expect takes kvm_amd, kvm_intel or kvm_pvm\n");
			return 2;
		}
		if (strcmp(expect, kind)) {
			snprintf(msg, sizeof(msg), "expected %s, found %s", expect, kind);
			fail(msg);
		}
	}
	if (want_tdp && tdp != 1)
		fail("two-dimensional paging (npt/ept) is not enabled");

	if ((version = ioctl(kvm, KVM_GET_API_VERSION, 0)) != KVM_API_VERSION) {
		snprintf(msg, sizeof(msg), "KVM_GET_API_VERSION is %d, expected %d", version, KVM_API_VERSION);
		fail(msg);
	} else if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		errno = 0;
		fail("KVM_CAP_USER_MEMORY missing");
	} else {
		check_vm(kvm, &exit_us);
	}
	close(kvm);
	if (failed) {
		printf("kvmcheck: FAILED on %s\n", kind);
		return 1;
	}
	printf("kvmcheck: PASS on %s (%s), %.1f ms in all, %.1f us per exit\n", kind, detail,
	       (now() - t0) * 1e3, exit_us);
	return 0;
}
