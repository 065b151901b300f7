/* SPDX-License-Identifier: MIT */
/* Which modules a modular guest kernel needs (src/kvm/modules.c), from modules.dep and
 * modules.builtin texts shaped as depmod writes them (Debian 6.1's lines, trimmed). */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "kvm/modules.h"

/* Debian bookworm's 6.1 kernel: the lines that matter, among others. */
static const char debian_dep[] =
	"kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko\n"
	"kernel/drivers/virtio/virtio.ko:\n"
	"kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko\n"
	"kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio_ring.ko "
	"kernel/drivers/virtio/virtio.ko\n"
	"kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio_ring.ko "
	"kernel/drivers/virtio/virtio.ko\n"
	"kernel/fs/fuse/cuse.ko: kernel/fs/fuse/fuse.ko\n"
	"kernel/fs/fuse/fuse.ko:\n"
	"kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio_ring.ko "
	"kernel/drivers/virtio/virtio.ko\n"
	"kernel/fs/overlayfs/overlay.ko:\n"
	"kernel/virt/lib/irqbypass.ko:"; /* no newline at the end */

static int index_of(const struct vz_kmods *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->m[i].name, name))
			return (int)i;
	return -1;
}

static void test_debian_order(void)
{
	struct vz_kmods k;
	char why[256] = "";

	CHECK_INT(vz_kmods_resolve(debian_dep, strlen(debian_dep), "", 0, &k, why, sizeof(why)),
		  ==, 0);
	CHECK_INT(k.n, ==, 7);
	/* Every module after what it needs; each once. */
	CHECK(index_of(&k, "virtio") >= 0 && index_of(&k, "virtio") < index_of(&k, "virtio_ring"));
	CHECK(index_of(&k, "virtio_ring") < index_of(&k, "virtio_mmio"));
	CHECK(index_of(&k, "virtio_ring") < index_of(&k, "virtio_console"));
	CHECK(index_of(&k, "fuse") >= 0 && index_of(&k, "fuse") < index_of(&k, "virtiofs"));
	CHECK(index_of(&k, "overlay") >= 0);
	CHECK_INT(index_of(&k, "cuse"), ==, -1);
	CHECK_INT(index_of(&k, "kvm"), ==, -1);
	for (size_t i = 0; i < k.n; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%.*s", (int)k.m[i].path_len, k.m[i].path);
		CHECK_MSG(strstr(path, k.m[i].name) && !strchr(path, ':'), "path %s of %s", path,
			  k.m[i].name);
	}
}

static void test_builtin_skipped(void)
{
	static const char builtin[] = "kernel/drivers/virtio/virtio.ko\n"
				      "kernel/drivers/virtio/virtio_ring.ko\n"
				      "kernel/drivers/virtio/virtio_mmio.ko\n"
				      "kernel/drivers/char/virtio_console.ko\n"
				      "kernel/fs/fuse/fuse.ko\n"
				      "kernel/fs/fuse/virtiofs.ko\n";
	static const char dep[] = "kernel/fs/overlayfs/overlay.ko:\n";
	static const char all[] = "kernel/drivers/virtio/virtio_mmio.ko\n"
				  "kernel/drivers/char/virtio_console.ko\n"
				  "kernel/fs/fuse/fuse.ko\nkernel/fs/fuse/virtiofs.ko\n"
				  "kernel/fs/overlayfs/overlay.ko\n";
	struct vz_kmods k;
	char why[256];

	CHECK_INT(vz_kmods_resolve(dep, strlen(dep), builtin, strlen(builtin), &k, why, sizeof(why)),
		  ==, 0);
	CHECK_INT(k.n, ==, 1);
	CHECK_STR(k.m[0].name, "overlay");
	/* libvz's own kernel: everything built in, nothing to load, no modules.dep needed. */
	CHECK_INT(vz_kmods_resolve("", 0, all, strlen(all), &k, why, sizeof(why)), ==, 0);
	CHECK_INT(k.n, ==, 0);
}

static void test_compressed_names(void)
{
	static const char dep[] =
		"kernel/drivers/virtio/virtio.ko.xz:\r\n"
		"kernel/drivers/virtio/virtio_ring.ko.xz: kernel/drivers/virtio/virtio.ko.xz\n"
		"kernel/drivers/virtio/virtio-mmio.ko.zst:\tkernel/drivers/virtio/virtio_ring.ko.xz\n"
		"kernel/drivers/char/virtio_console.ko.gz: kernel/drivers/virtio/virtio_ring.ko.xz\n"
		"/abs/fuse.ko:\nkernel/fs/fuse/virtiofs.ko.xz: /abs/fuse.ko\n"
		"kernel/fs/overlayfs/overlay.ko:\n";
	struct vz_kmods k;
	char why[256];
	int i;

	CHECK_INT(vz_kmods_resolve(dep, strlen(dep), NULL, 0, &k, why, sizeof(why)), ==, 0);
	CHECK_INT(k.n, ==, 7);
	CHECK((i = index_of(&k, "virtio_mmio")) >= 0);
	if (i >= 0)
		CHECK_STR(vz_kmod_suffix(k.m[i].path, k.m[i].path_len), ".zst");
	CHECK((i = index_of(&k, "virtio")) >= 0);
	if (i >= 0)
		CHECK_STR(vz_kmod_suffix(k.m[i].path, k.m[i].path_len), ".xz");
	CHECK((i = index_of(&k, "overlay")) >= 0);
	if (i >= 0)
		CHECK_STR(vz_kmod_suffix(k.m[i].path, k.m[i].path_len), "");
	CHECK((i = index_of(&k, "fuse")) >= 0);
	if (i >= 0)
		CHECK(k.m[i].path_len == 12 && !memcmp(k.m[i].path, "/abs/fuse.ko", 12));
	CHECK_STR(vz_kmod_suffix("a.xz", 4), "");
	CHECK_STR(vz_kmod_suffix("x.ko.gz", 7), ".gz");
}

static void test_missing_driver_named(void)
{
	static const char dep[] = "kernel/drivers/virtio/virtio.ko:\n"
				  "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko\n"
				  "kernel/drivers/char/virtio_console.ko:\n"
				  "kernel/fs/fuse/fuse.ko:\n"
				  "kernel/fs/overlayfs/overlay.ko:\n";
	struct vz_kmods k;
	char why[256] = "";

	CHECK_INT(vz_kmods_resolve(dep, strlen(dep), "", 0, &k, why, sizeof(why)), ==, -1);
	CHECK_MSG(strstr(why, "VIRTIO_FS") && strstr(why, "virtiofs"), "why: %s", why);
}

static void test_broken_indexes(void)
{
	static const char *const bad[] = {
		/* a dependency with no line of its own */
		"kernel/virtio_mmio.ko: kernel/nosuch.ko\nkernel/virtio_console.ko:\n"
		"kernel/fuse.ko:\nkernel/virtiofs.ko:\nkernel/overlay.ko:\n",
		/* a cycle */
		"kernel/virtio_mmio.ko: kernel/a.ko\nkernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n"
		"kernel/virtio_console.ko:\nkernel/fuse.ko:\nkernel/virtiofs.ko:\nkernel/overlay.ko:\n",
		/* a dependency that is not a module file */
		"kernel/virtio_mmio.ko: kernel/README\nkernel/virtio_console.ko:\n"
		"kernel/fuse.ko:\nkernel/virtiofs.ko:\nkernel/overlay.ko:\n",
		/* names without .ko, empty, or colons only */
		"virtio_mmio:\n:\n::::\n\n",
	};
	static const char *const expect[] = { "no line for nosuch", "depends on itself",
					      "not a module", "VIRTIO_MMIO" };
	struct vz_kmods k;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_INT(vz_kmods_resolve(bad[i], strlen(bad[i]), "", 0, &k, why, sizeof(why)), ==, -1);
		CHECK_MSG(strstr(why, expect[i]), "case %zu: why: %s", i, why);
	}
}

/* A chain longer than VZ_KMODS_MAX is refused, not followed. */
static void test_too_many(void)
{
	static char dep[8192];
	size_t n = 0;
	struct vz_kmods k;
	char why[256] = "";

	n += (size_t)snprintf(dep + n, sizeof(dep) - n, "k/virtio_mmio.ko: k/m0.ko\n");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(dep + n, sizeof(dep) - n, "k/m%d.ko: k/m%d.ko\n", i, i + 1);
	n += (size_t)snprintf(dep + n, sizeof(dep) - n,
			      "k/m40.ko:\nk/virtio_console.ko:\nk/fuse.ko:\nk/virtiofs.ko:\nk/overlay.ko:\n");
	CHECK_INT(vz_kmods_resolve(dep, n, "", 0, &k, why, sizeof(why)), ==, -1);
	CHECK_MSG(strstr(why, "more than 32"), "why: %s", why);
}

static const struct vzt_case cases[] = {
	VZT_CASE(test_debian_order),	     VZT_CASE(test_builtin_skipped),
	VZT_CASE(test_compressed_names),     VZT_CASE(test_missing_driver_named),
	VZT_CASE(test_broken_indexes),	     VZT_CASE(test_too_many),
};

VZ_TEST_MAIN(cases)
