/* SPDX-License-Identifier: MIT */
/* libFuzzer target: libvz's FUSE server (src/kvm/fuse/server.c) fed sequences of requests
 * as a hostile guest would write them, over a real host tree: a read-write share "rw" and
 * a read-only share "ro", each holding files, a directory, symlinks that point out of the
 * share ("/", "../../..", and the absolute path of a sentinel file beside the shares) and
 * a FIFO (and, as root, a char 1:3 device node). At start the process moves into a mount
 * namespace of its own and mounts a 64 MiB tmpfs over its temporary directory when it
 * can (root), so that nothing the guest writes fills /tmp; otherwise the tree is a plain
 * temporary directory, RLIMIT_FSIZE caps files at 16 MiB and FALLOCATE records longer
 * than 1 MiB are skipped.
 *
 * The server is initialised once at start, and again (with the read-write share's tree
 * made anew) after every N inputs (VZ_FUZZ_FUSE_RESET=N, default 1: every input starts
 * from the same state, so a crash reproduces from its input alone, and the node ids and
 * handles an input names are 2, 3, ... and 1, 2, ... in the order it makes them).
 *
 * Input: up to MAX_RECORDS records, each
 *   u8     mode: bits 0-2 how the request is cut into buffers, bits 3-5 how the reply
 *          buffer is (CUTS: whole, 1, 3, 8, 16, 40, 64 or 4096 bytes a piece); bit 6
 *          keeps the header's len as written (else it is set to the record's length)
 *   u16le  out_len: the reply buffer's size
 *   u16le  n, then n bytes: the request (fuse_in_header, then its arguments)
 * Every buffer is malloc'd with exactly its size. Checked after every request: the return
 * is 0 or a whole out header within out_len, whose len is the return, whose unique is the
 * request's, whose error is 0 or -errno with no body; nothing is written past out_len.
 * After every input: the sentinel outside the shares and the read-only share are as they
 * were; the read-write share holds no device node (but overlay's whiteout, char 0:0) and
 * no security.capability; no FIFO or device node is open in the process other than
 * through O_PATH; after a reset, every descriptor the server held is closed.
 *
 * The bugs this target found (op_create opened an existing FIFO or device node; a READ
 * with out_len < 16 returned 16) were fixed; known() aborts if one comes back. A request
 * that blocks is interrupted after 250 ms by a timer signal (and is a failure then). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fuse.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "kvm/fuse/server.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_fuse: %s:%d: violated: %s\n", __FILE__, __LINE__,     \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define MAX_RECORDS 64
#define MAX_IOV 600
#define OHDR ((uint32_t)sizeof(struct fuse_out_header))
#define IHDR ((uint32_t)sizeof(struct fuse_in_header))

static const uint32_t CUTS[8] = { 0, 1, 3, 8, 16, 40, 64, 4096 };

static char T[PATH_MAX];
static bool on_tmpfs, is_root, strict;
static struct vz_fuse F;
static bool up;
static int proc_fd = -1, cwd_fd = -1, fds_base = -1, reset_every = 1;
static unsigned long inputs;
static uint8_t *scratch;
static timer_t watchdog;
static volatile sig_atomic_t fired;
static char *ro_desc, *outside_desc;
static bool logged_blocked, logged_special, logged_short_read;

static const char *P(const char *rel)
{
	static char b[4][PATH_MAX];
	static int k;
	char *s = b[k++ % 4];
	snprintf(s, PATH_MAX, "%s/%s", T, rel);
	return s;
}

static void put_file(const char *rel, const void *data, size_t n)
{
	int fd = open(P(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, n) == (ssize_t)n);
	close(fd);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0)
		return 0;
	if (type == FTW_DP || type == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* A share's tree: files, a directory, symlinks out, a FIFO (and a device node). */
static void make_share(const char *name)
{
	char rel[64], big[4096];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	snprintf(rel, sizeof(rel), "%s", name);
	REQUIRE(mkdir(P(rel), 0755) == 0 || errno == EEXIST);
	nftw(P(rel), rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(rel, sizeof(rel), "%s/f1", name);
	put_file(rel, "hello world", 11);
	snprintf(rel, sizeof(rel), "%s/f2", name);
	put_file(rel, big, sizeof(big));
	snprintf(rel, sizeof(rel), "%s/d", name);
	REQUIRE(mkdir(P(rel), 0755) == 0);
	snprintf(rel, sizeof(rel), "%s/d/g", name);
	put_file(rel, "g", 1);
	snprintf(rel, sizeof(rel), "%s/out", name);
	REQUIRE(symlink("/", P(rel)) == 0);
	snprintf(rel, sizeof(rel), "%s/up", name);
	REQUIRE(symlink("../../..", P(rel)) == 0);
	snprintf(rel, sizeof(rel), "%s/sentinel", name);
	REQUIRE(symlink(P("outside"), P(rel)) == 0);
	snprintf(rel, sizeof(rel), "%s/fifo", name);
	REQUIRE(mkfifo(P(rel), 0666) == 0);
	if (is_root) {
		snprintf(rel, sizeof(rel), "%s/null", name);
		REQUIRE(mknod(P(rel), S_IFCHR | 0666, makedev(1, 3)) == 0);
	}
}

/* A description of a tree (or file), to compare before and after. */
static char *desc;
static size_t desc_len, desc_cap;
static void desc_add(const char *s, size_t n)
{
	if (desc_len + n + 1 > desc_cap) {
		desc_cap = (desc_len + n + 1) * 2;
		desc = realloc(desc, desc_cap);
		REQUIRE(desc);
	}
	memcpy(desc + desc_len, s, n);
	desc_len += n;
	desc[desc_len] = '\0';
}
static int desc_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char line[PATH_MAX + 256], buf[4096];
	ssize_t k;
	int n;
	(void)type;
	(void)ftw;
	n = snprintf(line, sizeof(line), "%s %o %u:%u %lld %ld.%09ld %lu %llx|", path, st->st_mode,
		     st->st_uid, st->st_gid, (long long)st->st_size, st->st_mtim.tv_sec,
		     st->st_mtim.tv_nsec, (unsigned long)st->st_nlink, (unsigned long long)st->st_rdev);
	desc_add(line, (size_t)n);
	if (S_ISLNK(st->st_mode) && (k = readlink(path, buf, sizeof(buf))) > 0)
		desc_add(buf, (size_t)k);
	if (S_ISREG(st->st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if ((k = read(fd, buf, sizeof(buf))) > 0)
				desc_add(buf, (size_t)k);
			close(fd);
		}
	}
	if ((k = llistxattr(path, buf, sizeof(buf))) > 0)
		desc_add(buf, (size_t)k);
	desc_add("\n", 1);
	return 0;
}
static char *describe(const char *path)
{
	desc = NULL;
	desc_len = desc_cap = 0;
	desc_add("", 0);
	nftw(path, desc_one, 16, FTW_PHYS);
	return desc;
}

static int nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	REQUIRE(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* less the directory's own */
}

/* Descriptors open on something of the tree (every one the server opens is): their
 * number, or with @special, whether one is a FIFO or device node opened for I/O. */
static int tree_fds(bool special)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char link[64], target[PATH_MAX];
	size_t tl = strlen(T);
	int n = 0;
	REQUIRE(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		struct stat st;
		ssize_t k;
		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, target, sizeof(target) - 1);
		if (k < (ssize_t)tl || memcmp(target, T, tl) || (k > (ssize_t)tl && target[tl] != '/'))
			continue;
		if (!special) {
			n++;
			continue;
		}
		if (!fstat(fd, &st) && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
		    !(fcntl(fd, F_GETFL) & O_PATH))
			n++;
	}
	closedir(d);
	return n;
}

static void known(bool *logged, const char *what)
{
	if (strict) {
		fprintf(stderr, "fuzz_fuse: known bug (VZ_FUZZ_FUSE_STRICT=1): %s\n", what);
		abort();
	}
	if (!*logged)
		fprintf(stderr, "fuzz_fuse: known bug seen (tolerated, logged once): %s\n", what);
	*logged = true;
}

static void server_down(void)
{
	if (!up)
		return;
	vz_fuse_destroy(&F);
	up = false;
	/* Every descriptor the server held is closed (the process's own are left alone: the
	 * total may grow, as the sanitizers' symbolizer keeps pipes open). */
	REQUIRE(tree_fds(false) == 0);
	REQUIRE(nfds() >= fds_base);
}

static void server_up(void)
{
	struct vz_fuse_share s[2] = {
		{ .name = "rw", .fd = open(P("rw"), O_PATH | O_DIRECTORY | O_CLOEXEC) },
		{ .name = "ro", .fd = open(P("ro"), O_PATH | O_DIRECTORY | O_CLOEXEC), .ro = true },
	};
	REQUIRE(s[0].fd >= 0 && s[1].fd >= 0);
	REQUIRE(vz_fuse_init(&F, s, 2, proc_fd) == 0);
	REQUIRE(fchdir(cwd_fd) == 0); /* only while a request runs (one_request) */
	up = true;
}

static void reset(void)
{
	server_down();
	make_share("rw");
	server_up();
}

/* At exit (libFuzzer's end of run): the tree goes. */
static void cleanup(void)
{
	if (up) {
		vz_fuse_destroy(&F);
		up = false;
	}
	if (on_tmpfs)
		umount2(T, MNT_DETACH);
	else
		nftw(T, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(T);
}

static void on_alarm(int sig)
{
	(void)sig;
	fired = 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *e;
	struct sigaction sa;
	struct sigevent sev;
	struct rlimit rl;

	(void)argc;
	(void)argv;
	/* The bugs "known" checks guard were fixed: a recurrence is a crash. */
	strict = true;
	e = getenv("VZ_FUZZ_FUSE_RESET");
	if (e && atoi(e) > 0)
		reset_every = atoi(e);
	is_root = geteuid() == 0;
	snprintf(T, sizeof(T), "%s/vz-fuzz-fuse.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(T));
	if (is_root && unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount("vz-fuzz-fuse", T, "tmpfs", MS_NOSUID, "size=64m,nr_inodes=16384,mode=0700") == 0)
		on_tmpfs = true;
	if (!on_tmpfs) {
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = 16u << 20;
		setrlimit(RLIMIT_FSIZE, &rl);
	}
	put_file("outside", "secret", 6);
	chmod(P("outside"), 0600);
	make_share("ro");
	lsetxattr(P("ro/f1"), "user.ro", "1", 1, 0); /* where the file system takes it */
	make_share("rw");
	ro_desc = describe(P("ro"));
	outside_desc = describe(P("outside"));
	scratch = malloc(VZ_FUSE_BUF);
	REQUIRE(scratch);
	/* vz_fuse_init makes /proc/self/fd the working directory, which the xattr calls
	 * need; libFuzzer's relative paths need the old one: it is set around each request. */
	proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(proc_fd >= 0 && cwd_fd >= 0);
	/* The watchdog: SIGRTMIN+3 to this thread, without SA_RESTART, interrupts a request
	 * that blocks. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGRTMIN + 3, &sa, NULL) == 0);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN + 3;
	sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
	REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &watchdog) == 0);
	fds_base = nfds();
	server_up();
	atexit(cleanup);
	fprintf(stderr, "fuzz_fuse: tree %s (%s), server reset every %d input(s)%s\n", T,
		on_tmpfs ? "a private 64 MiB tmpfs" : "no tmpfs: RLIMIT_FSIZE 16 MiB", reset_every,
		strict ? ", strict" : "");
	return 0;
}

static unsigned cut(uint32_t len, uint32_t piece, struct iovec *v, const uint8_t *src)
{
	unsigned n = 0;
	uint32_t at = 0;
	do {
		uint32_t k = piece && piece < len - at && n < MAX_IOV - 1 ? piece : len - at;
		v[n].iov_base = malloc(k ? k : 1);
		REQUIRE(v[n].iov_base);
		v[n].iov_len = k;
		if (src)
			memcpy(v[n].iov_base, src + at, k);
		else
			memset(v[n].iov_base, 0xa5, k);
		n++;
		at += k;
	} while (at < len);
	return n;
}

static void one_request(uint8_t mode, uint32_t out_len, uint8_t *req, uint32_t n)
{
	struct iovec iv[MAX_IOV], ov[MAX_IOV];
	struct fuse_in_header ih;
	struct fuse_out_header oh;
	struct itimerspec arm = { .it_value = { 0, 250000000 } }, off = { { 0, 0 }, { 0, 0 } };
	uint8_t *out = malloc(out_len ? out_len : 1);
	unsigned ni, no;
	uint32_t ret, at = 0;

	REQUIRE(out);
	if (n >= IHDR && !(mode & 0x40)) {
		memcpy(&ih, req, IHDR);
		ih.len = n;
		memcpy(req, &ih, IHDR);
	}
	if (n >= IHDR) {
		memcpy(&ih, req, IHDR);
		/* Without a tmpfs under the tree, no large allocations. */
		if (!on_tmpfs && ih.opcode == FUSE_FALLOCATE && n >= IHDR + sizeof(struct fuse_fallocate_in)) {
			struct fuse_fallocate_in fa;
			memcpy(&fa, req + IHDR, sizeof(fa));
			if (fa.length > (1u << 20)) {
				free(out);
				return;
			}
		}
	}
	ni = cut(n, CUTS[mode & 7], iv, req);
	no = cut(out_len, CUTS[(mode >> 3) & 7], ov, NULL);
	fired = 0;
	REQUIRE(fchdir(proc_fd) == 0);
	timer_settime(watchdog, 0, &arm, NULL);
	ret = vz_fuse_request(&F, iv, ni, n, ov, no, out_len, scratch);
	timer_settime(watchdog, 0, &off, NULL);
	REQUIRE(fchdir(cwd_fd) == 0);
	if (fired)
		known(&logged_blocked, "a request blocked for 250 ms (CREATE of an existing FIFO?)");
	for (unsigned i = 0; i < no; i++) {
		memcpy(out + at, ov[i].iov_base, ov[i].iov_len);
		at += (uint32_t)ov[i].iov_len;
	}
	for (unsigned i = 0; i < ni; i++)
		free(iv[i].iov_base);
	for (unsigned i = 0; i < no; i++)
		free(ov[i].iov_base);
	if (ret) {
		REQUIRE(n >= IHDR);
		if (ret > out_len && ih.opcode == FUSE_READ && out_len < OHDR) {
			known(&logged_short_read, "READ with out_len < 16 returns 16");
		} else {
			REQUIRE(ret >= OHDR && ret <= out_len);
			memcpy(&oh, out, OHDR);
			REQUIRE(oh.len == ret);
			REQUIRE(oh.unique == ih.unique);
			REQUIRE(oh.error <= 0 && oh.error > -4096);
			REQUIRE(!oh.error || ret == OHDR);
		}
	}
	free(out);
}

/* The read-write share: no device nodes but whiteouts, no file capabilities. */
static int check_rw(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char v[64];
	(void)type;
	(void)ftw;
	REQUIRE(!S_ISBLK(st->st_mode));
	if (S_ISCHR(st->st_mode) && st->st_rdev != 0) {
		/* The tree's own device node, moved or linked by the guest, is fine. */
		REQUIRE(is_root && st->st_rdev == makedev(1, 3));
	}
	REQUIRE(lgetxattr(path, "security.capability", v, sizeof(v)) < 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 0;
	char *now;

	for (int r = 0; r < MAX_RECORDS && size - at >= 5; r++) {
		uint8_t mode = data[at];
		uint32_t out_len = (uint32_t)data[at + 1] | (uint32_t)data[at + 2] << 8;
		uint32_t n = (uint32_t)data[at + 3] | (uint32_t)data[at + 4] << 8;
		uint8_t *req;
		at += 5;
		if (n > size - at)
			n = (uint32_t)(size - at);
		req = malloc(n ? n : 1);
		REQUIRE(req);
		memcpy(req, data + at, n);
		at += n;
		one_request(mode, out_len, req, n);
		free(req);
	}
	now = describe(P("outside"));
	REQUIRE(!strcmp(now, outside_desc));
	free(now);
	now = describe(P("ro"));
	REQUIRE(!strcmp(now, ro_desc));
	free(now);
	nftw(P("rw"), check_rw, 16, FTW_PHYS);
	/* No FIFO or device node of the tree open in the process, other than as O_PATH. */
	if (tree_fds(true))
		known(&logged_special, "a FIFO or device node of a share is open on the host (CREATE?)");
	/* At the end of an input, so that what a reset finds is this input's doing. */
	if (++inputs % (unsigned long)reset_every == 0)
		reset();
	return 0;
}
