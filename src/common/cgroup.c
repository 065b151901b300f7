/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <vz/sandbox.h>

#include "common/cgroup.h"
#include "common/error.h"
#include "common/log.h"
#include "common/syscalls.h"
#include "common/util.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG_BASE "libvz"

static atomic_uint cg_seq;

/* v1 hierarchies libvz uses; the first CG_NLIMIT carry limits. */
enum { CG_MEMORY, CG_PIDS, CG_CPU, CG_CPUACCT, CG_DEVICES, CG_NCTRL };
#define CG_NLIMIT 3
static const char *const ctrl_names[CG_NCTRL] = { "memory", "pids", "cpu", "cpuacct", "devices" };
static const int ctrl_limit[CG_NLIMIT] = { VZ_LIMIT_MEMORY, VZ_LIMIT_PIDS, VZ_LIMIT_CPU };
static const char *const limit_names[] = { "", "memory", "cpu", "pids", "wall time",
					   "open files" };

/* The devices a sandbox may create and use under VZ_CG_DEVICES: runc's default list
 * without its "c *:* m" and "b *:* m" wildcards. Everything else is denied, mknod of
 * any other block or character device included; the kernel exempts overlayfs
 * whiteouts (char 0:0) from the check. The v1 rules and the v2 program both come from
 * this table. */
static const struct dev_rule {
	char type;		/* 'c' or 'b' */
	int major, minor;	/* -1: any */
	const char *access;	/* of "rwm" */
} dev_rules[] = {
	{ 'c', 1, 3, "rwm" },	 /* /dev/null */
	{ 'c', 1, 5, "rwm" },	 /* /dev/zero */
	{ 'c', 1, 7, "rwm" },	 /* /dev/full */
	{ 'c', 1, 8, "rwm" },	 /* /dev/random */
	{ 'c', 1, 9, "rwm" },	 /* /dev/urandom */
	{ 'c', 5, 0, "rwm" },	 /* /dev/tty */
	{ 'c', 5, 2, "rwm" },	 /* /dev/ptmx */
	{ 'c', 136, -1, "rwm" }, /* /dev/pts/N */
};

static bool is_fs(const char *path, long magic)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 && sfs.f_type == magic;
}

static int host_version(void)
{
	if (is_fs(CG_ROOT, CGROUP2_SUPER_MAGIC))
		return 2;
	if (is_fs(CG_ROOT "/memory", CGROUP_SUPER_MAGIC) || is_fs(CG_ROOT "/pids", CGROUP_SUPER_MAGIC))
		return 1;
	return 0;
}

/* Does the v2 root delegate @ctrl to its children? */
static bool v2_has_controller(const char *ctrl)
{
	char buf[512], *tok, *save = NULL;
	if (vz_read_file_at(AT_FDCWD, CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0)
		return false;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, ctrl))
			return true;
	return false;
}

/* Root in the initial user namespace: the one caller whose sandboxes could create or
 * open host devices beyond their file permissions. */
static bool host_privileged(void)
{
	char buf[256];
	unsigned long long inside, outside, count;

	if (geteuid() != 0)
		return false;
	if (vz_read_file_at(AT_FDCWD, "/proc/self/uid_map", buf, sizeof(buf)) < 0)
		return true; /* cannot tell: enforce, and fail loudly if that is impossible */
	return sscanf(buf, "%llu %llu %llu", &inside, &outside, &count) == 3 && !inside &&
	       !outside && count == 4294967295ull;
}

static const char *find_key(const char *buf, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return p + klen + 1;
	return NULL;
}

static uint64_t key_value(const char *buf, const char *key)
{
	const char *v = find_key(buf, key);
	return v ? strtoull(v, NULL, 10) : 0;
}

static uint64_t read_key(const char *path, const char *key)
{
	char buf[2048];
	if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return 0;
	return key_value(buf, key);
}

/* ---- Owners: who created a group, and is it still there? ---- */

struct owner {
	unsigned long long pid, start, pidns; /* start, pidns: 0 = unknown */
};

/* The state (field 3) and start time (field 22, clock ticks after boot) in
 * /proc/@pid/stat (0 = this process). 0, or -1 with errno (ENOENT: no such process). */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return -1;
	/* The command name (field 2) may hold spaces and parentheses: count from its end. */
	p = strrchr(buf, ')');
	if (p && p[1] == ' ')
		*state = p[2];
	p = p ? (char *)vz_stat_field(buf, 22) : NULL;
	if (!p || !isdigit((unsigned char)p[1])) {
		errno = EINVAL;
		return -1;
	}
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static struct owner self_cache;

/* This process's identity, read once per process (a forked child reads its own). -1 if
 * /proc cannot say; @o then holds zeros besides the pid, a name nobody ever sweeps. */
static int owner_self(struct owner *o)
{
	unsigned long long pid = (unsigned long long)getpid();
	int rc = 0;

	pthread_mutex_lock(&self_lock);
	if (self_cache.pid != pid) {
		struct owner n = { .pid = pid };
		struct stat st;
		char state;

		if (proc_stat(0, &state, &n.start) == 0 && stat("/proc/self/ns/pid", &st) == 0 &&
		    n.start && st.st_ino) {
			n.pidns = st.st_ino;
			self_cache = n;
		} else {
			rc = -1;
		}
	}
	*o = rc ? (struct owner){ .pid = pid } : self_cache;
	pthread_mutex_unlock(&self_lock);
	return rc;
}

/* Parse "sb-<pid>-<start>-<pidns>-<seq>" (4 numbers) or this version's older
 * "sb-<pid>-<seq>" (2 numbers). Returns how many, or 0 for any other name. */
static int parse_name(const char *name, unsigned long long v[4])
{
	const char *p = name + 3;
	int n = 0;

	if (strncmp(name, "sb-", 3))
		return 0;
	for (;;) {
		char *end;
		if (!isdigit((unsigned char)*p) || n == 4)
			return 0;
		errno = 0;
		v[n++] = strtoull(p, &end, 10);
		if (errno)
			return 0;
		p = end;
		if (!*p)
			break;
		if (*p++ != '-')
			return 0;
	}
	return n == 2 || n == 4 ? n : 0;
}

/* Is the process that named the group @name gone (or a zombie)? Only names of the exact
 * patterns of parse_name() are judged, and only when the answer is certain: a new-style
 * name from another pid namespace (whose pids this /proc does not show) or with an
 * unknown start time is never gone, nor an old-style name whose pid is in use. */
static bool owner_gone(const char *name, const struct owner *me)
{
	unsigned long long v[4], start;
	int n = parse_name(name, v);
	char state = '?';

	if (!n || !v[0] || v[0] > INT_MAX)
		return false;
	if (n == 4 && (!v[1] || v[2] != me->pidns))
		return false;
	if (proc_stat((pid_t)v[0], &state, &start) < 0)
		return errno == ENOENT || errno == ESRCH;
	return n == 4 && (start != v[1] || state == 'Z' || state == 'X');
}

/* SIGKILL @pid if it still is in the group @name: the pidfd pins the process, so a pid
 * reused after cgroup.procs was read is never hit. */
static void kill_member(pid_t pid, const char *name)
{
	char path[64], buf[4096], needle[300];
	int pidfd = vz_sys_pidfd_open(pid);

	if (pidfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(needle, sizeof(needle), "/" CG_BASE "/%s\n", name);
	if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0 && strstr(buf, needle))
		vz_sys_pidfd_send_signal(pidfd, SIGKILL);
	close(pidfd);
}

static void kill_group(const char *path, const char *name, bool v2)
{
	char file[600];
	FILE *f;
	int pid;

	snprintf(file, sizeof(file), "%s/cgroup.kill", path);
	if (v2 && vz_write_file_at(AT_FDCWD, file, "1") == 0)
		return;
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	f = fopen(file, "re");
	if (!f)
		return;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			kill_member(pid, name);
	fclose(f);
}

/* rmdir, waiting briefly (100 ms at most) while the kernel detaches exiting tasks. With
 * @kill_name, kill the group's processes (again every 10 ms) while it is busy. */
static int remove_group(const char *path, const char *kill_name, bool v2)
{
	for (int tries = 0;; tries++) {
		if (rmdir(path) == 0)
			return 0;
		if (errno != EBUSY || tries >= 200)
			return -1;
		if (kill_name && tries % 20 == 0)
			kill_group(path, kill_name, v2);
		usleep(500);
	}
}

static void sweep_parent(const char *parent, const struct owner *me, bool v2)
{
	DIR *d = opendir(parent);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[512];

		if (de->d_type != DT_DIR || !owner_gone(de->d_name, me))
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
		if (remove_group(path, de->d_name, v2) == 0)
			vz_log(VZ_LOG_INFO, "removed cgroup %s: its process is gone", path);
		else if (errno != ENOENT)
			vz_log(VZ_LOG_WARN, "cannot remove cgroup %s of a process that is gone: %s",
			       path, strerror(errno));
	}
	closedir(d);
}

/* Once per process: remove the groups that processes which are gone left behind (killed
 * before they could clean up). Only libvz's own sb-* groups are touched, never the
 * libvz directories themselves. */
static void sweep_stale(void)
{
	struct owner me;
	char parent[128];
	int version = host_version();

	if (owner_self(&me) < 0)
		return; /* without /proc nobody can be told to be gone */
	if (version == 2) {
		sweep_parent(CG_ROOT "/" CG_BASE, &me, true);
		return;
	}
	for (int c = 0; version == 1 && c < CG_NCTRL; c++) {
		snprintf(parent, sizeof(parent), CG_ROOT "/%s", ctrl_names[c]);
		if (!is_fs(parent, CGROUP_SUPER_MAGIC))
			continue;
		snprintf(parent, sizeof(parent), CG_ROOT "/%s/" CG_BASE, ctrl_names[c]);
		sweep_parent(parent, &me, false);
	}
}

static pthread_once_t sweep_once = PTHREAD_ONCE_INIT;

/* ---- Devices ---- */

static unsigned rule_access(const struct dev_rule *r)
{
	return (strchr(r->access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0) |
	       (strchr(r->access, 'r') ? BPF_DEVCG_ACC_READ : 0) |
	       (strchr(r->access, 'w') ? BPF_DEVCG_ACC_WRITE : 0);
}

#define INSN(c, d, s, o, i)                                                                    \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define DEV_PROG_MAX (8 + 8 * VZ_ARRAY_SIZE(dev_rules))

/* The allow-list as a BPF_PROG_TYPE_CGROUP_DEVICE program: ctx (r1) is struct
 * bpf_cgroup_dev_ctx; return 1 to allow, 0 to deny. Per rule: type, access (when the
 * rule grants less than rwm), major and minor (unless any) must match, else on to the
 * next rule. Returns the number of instructions. */
static int devices_prog(struct bpf_insn *p)
{
	const unsigned all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
	const uint8_t ldx = BPF_LDX | BPF_MEM | BPF_W, jne = BPF_JMP | BPF_JNE | BPF_K;
	int n = 0;

	p[n++] = INSN(ldx, 2, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0);
	p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff);	/* r2: type */
	p[n++] = INSN(BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16);	/* r3: access */
	p[n++] = INSN(ldx, 4, 1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
	p[n++] = INSN(ldx, 5, 1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
	for (size_t i = 0; i < VZ_ARRAY_SIZE(dev_rules); i++) {
		const struct dev_rule *r = &dev_rules[i];
		unsigned acc = rule_access(r);
		int next = n + 3 + (acc != all ? 3 : 0) + (r->major >= 0) + (r->minor >= 0);

		p[n] = INSN(jne, 2, 0, next - n - 1,
			    r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
		n++;
		if (acc != all) { /* asked for more than the rule grants? */
			p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0);
			p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, (int32_t)(all & ~acc));
			p[n] = INSN(jne, 1, 0, next - n - 1, 0);
			n++;
		}
		if (r->major >= 0) {
			p[n] = INSN(jne, 4, 0, next - n - 1, r->major);
			n++;
		}
		if (r->minor >= 0) {
			p[n] = INSN(jne, 5, 0, next - n - 1, r->minor);
			n++;
		}
		p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
		p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int vz_cgroup_devices_load(char *log, size_t len)
{
	struct bpf_insn prog[DEV_PROG_MAX];
	union bpf_attr attr;
	int fd, err;

	if (log && len)
		log[0] = '\0';
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insn_cnt = (uint32_t)devices_prog(prog);
	attr.insns = (uintptr_t)prog;
	attr.license = (uintptr_t)"GPL";
	snprintf(attr.prog_name, sizeof(attr.prog_name), "vz_devices");
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0 || (errno != EINVAL && errno != EACCES) || !log || len < 128)
		return fd;
	/* Load again for the verifier's account of why. */
	err = errno;
	attr.log_level = 1;
	attr.log_buf = (uintptr_t)log;
	attr.log_size = len > UINT32_MAX >> 2 ? UINT32_MAX >> 2 : (uint32_t)len;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0)
		errno = err;
	log[len - 1] = '\0';
	return fd;
}

int vz_cgroup_devices_attach(int dirfd)
{
	char log[4096];
	union bpf_attr attr;
	int prog = vz_cgroup_devices_load(log, sizeof(log)), rc = VZ_OK;

	if (prog < 0) {
		size_t n = strlen(log);
		const char *tail = log + (n > 600 ? n - 600 : 0);
		int err = errno;

		while (n && isspace((unsigned char)log[n - 1]))
			log[--n] = '\0';
		if (!n)
			return vz_err_sys(vz_status_from_errno(err), "device allow-list: load the "
					  "BPF_PROG_TYPE_CGROUP_DEVICE program");
		return vz_err_set(vz_status_from_errno(err), err, "device allow-list: load the "
				  "BPF_PROG_TYPE_CGROUP_DEVICE program: %s; verifier: %s%s",
				  strerror(err), tail > log ? "..." : "", tail);
	}
	/* No flags: nothing below the group may attach a program of its own. */
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dirfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		rc = vz_err_sys(vz_status_from_errno(errno), "device allow-list: attach the BPF "
				"program (BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)");
	/* The attachment holds the program; it goes with the group. */
	close(prog);
	return rc;
}

/* v1: deny everything, then allow the table, one rule per write. */
static int devices_v1(struct vz_cgroup *cg, int idx)
{
	char path[512], rule[32];
	int fd;

	snprintf(path, sizeof(path), "%s/devices.deny", cg->paths[idx]);
	if (vz_write_file_at(AT_FDCWD, path, "a") < 0)
		return vz_err_sys(vz_status_from_errno(errno), "device allow-list: write a to %s",
				  path);
	snprintf(path, sizeof(path), "%s/devices.allow", cg->paths[idx]);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return vz_err_sys(vz_status_from_errno(errno), "device allow-list: open %s", path);
	for (size_t i = 0; i < VZ_ARRAY_SIZE(dev_rules); i++) {
		const struct dev_rule *r = &dev_rules[i];
		char minor[16];
		int len;

		if (r->minor < 0)
			snprintf(minor, sizeof(minor), "*");
		else
			snprintf(minor, sizeof(minor), "%d", r->minor);
		len = snprintf(rule, sizeof(rule), "%c %d:%s %s", r->type, r->major, minor,
			       r->access);
		if (write(fd, rule, (size_t)len) != len) {
			int rc = vz_err_sys(vz_status_from_errno(errno),
					    "device allow-list: write %s to %s", rule, path);
			close(fd);
			return rc;
		}
	}
	close(fd);
	cg->devices_enforced = true;
	return VZ_OK;
}

/* ---- Groups and limits ---- */

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_limit(struct vz_cgroup *cg, int idx, const char *file, const char *val,
		       int limit, bool optional)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", cg->paths[idx], file);
	if (vz_write_file_at(AT_FDCWD, path, val) == 0)
		return VZ_OK;
	if (optional && errno == ENOENT)
		return VZ_OK;
	return vz_err_sys(vz_status_from_errno(errno), "limit %s: write %s to %s",
			  limit_names[limit], val, path);
}

static int apply_limits(struct vz_cgroup *cg, const int64_t *lim, const int *idx)
{
	char v[64];
	int rc = VZ_OK, v1 = cg->version == 1;

	if (lim[VZ_LIMIT_MEMORY]) {
		snprintf(v, sizeof(v), "%lld", (long long)lim[VZ_LIMIT_MEMORY]);
		rc = write_limit(cg, idx[CG_MEMORY], v1 ? "memory.limit_in_bytes" : "memory.max",
				 v, VZ_LIMIT_MEMORY, false);
		/* No swapping past the limit: swap would turn an OOM into a slow crawl. */
		if (!rc)
			rc = write_limit(cg, idx[CG_MEMORY],
					 v1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max",
					 v1 ? v : "0", VZ_LIMIT_MEMORY, true);
	}
	if (!rc && lim[VZ_LIMIT_PIDS]) {
		snprintf(v, sizeof(v), "%lld", (long long)lim[VZ_LIMIT_PIDS]);
		rc = write_limit(cg, idx[CG_PIDS], "pids.max", v, VZ_LIMIT_PIDS, false);
	}
	if (!rc && lim[VZ_LIMIT_CPU]) {
		/* millicores * 100 µs per 100 ms period: 1000 millicores = one full CPU. */
		long long quota = (long long)lim[VZ_LIMIT_CPU] * 100;
		if (v1) {
			rc = write_limit(cg, idx[CG_CPU], "cpu.cfs_period_us", "100000",
					 VZ_LIMIT_CPU, false);
			snprintf(v, sizeof(v), "%lld", quota);
			if (!rc)
				rc = write_limit(cg, idx[CG_CPU], "cpu.cfs_quota_us", v,
						 VZ_LIMIT_CPU, false);
		} else {
			snprintf(v, sizeof(v), "%lld 100000", quota);
			rc = write_limit(cg, idx[CG_CPU], "cpu.max", v, VZ_LIMIT_CPU, false);
		}
	}
	return rc;
}

/* The first limit in @lim that needs a cgroup, or 0. */
static int first_cg_limit(const int64_t *lim)
{
	for (int c = 0; c < CG_NLIMIT; c++)
		if (lim[ctrl_limit[c]])
			return ctrl_limit[c];
	return 0;
}

/* mkdir @parent/@name. 0, or 1 when it cannot be made and is not @needed (no
 * accounting there; not an error), or a negative vz_status naming @what. */
static int add_dir(struct vz_cgroup *cg, const char *parent, const char *name, const char *what,
		   bool needed)
{
	char *path;
	if (mkdir_ok(parent) < 0)
		goto fail;
	path = vz_asprintf("%s/%s", parent, name);
	if (!path)
		return VZ_ENOMEM;
	if (mkdir(path, 0755) < 0) {
		free(path);
		goto fail;
	}
	cg->paths[cg->ndirs++] = path;
	return VZ_OK;
fail:
	if (!needed)
		return 1;
	return vz_err_sys(vz_status_from_errno(errno), "%s: cannot create a cgroup in %s%s", what,
			  parent,
			  errno == EACCES || errno == EROFS ? " (cgroups are not delegated to this user)" : "");
}

static int create_v1(struct vz_cgroup *cg, const int64_t *lim, unsigned flags, const char *name,
		     int *idx)
{
	dev_t devs[VZ_CG_MAX_DIRS] = { 0 };

	for (int c = 0; c < CG_NCTRL; c++) {
		bool needed = c < CG_NLIMIT && lim[ctrl_limit[c]];
		char root[64], parent[128], what[32];
		struct stat st;
		int rc;

		idx[c] = -1;
		/* memory, pids and cpuacct always, for peak memory, OOM and CPU time; cpu
		 * only for a CPU limit; devices for the allow-list. */
		if ((c == CG_CPU && !needed) || (c == CG_DEVICES && !(flags & VZ_CG_DEVICES)))
			continue;
		snprintf(root, sizeof(root), CG_ROOT "/%s", ctrl_names[c]);
		if (!is_fs(root, CGROUP_SUPER_MAGIC) || stat(root, &st) < 0) {
			if (needed)
				return vz_err_set(VZ_ENOTSUP, 0,
						  "limit %s: the host mounts no %s cgroup controller",
						  limit_names[ctrl_limit[c]], ctrl_names[c]);
			continue;
		}
		/* Co-mounted controllers (cpu,cpuacct) share one hierarchy and directory. */
		for (int i = 0; i < cg->ndirs; i++)
			if (devs[i] == st.st_dev)
				idx[c] = i;
		if (idx[c] >= 0)
			continue;
		snprintf(parent, sizeof(parent), "%s/" CG_BASE, root);
		if (c < CG_NLIMIT)
			snprintf(what, sizeof(what), "limit %s", limit_names[ctrl_limit[c]]);
		else
			snprintf(what, sizeof(what), "cgroup %s", ctrl_names[c]);
		rc = add_dir(cg, parent, name, what, needed);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			devs[cg->ndirs - 1] = st.st_dev;
			idx[c] = cg->ndirs - 1;
		}
	}
	cg->memory_idx = idx[CG_MEMORY];
	cg->cpuacct_idx = idx[CG_CPUACCT];
	if (idx[CG_DEVICES] >= 0) {
		int rc = devices_v1(cg, idx[CG_DEVICES]);
		if (rc)
			return rc;
	}
	for (int i = 0; i < cg->ndirs; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->paths[i]);
		cg->procs_fds[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (cg->procs_fds[i] < 0)
			return vz_err_sys(VZ_ERROR, "cgroup: open %s", path);
	}
	return VZ_OK;
}

static int create_v2(struct vz_cgroup *cg, const int64_t *lim, unsigned flags, const char *name,
		     int *idx)
{
	int rc, limit = first_cg_limit(lim);
	bool devices = (flags & VZ_CG_DEVICES) && host_privileged();
	char what[32];

	for (int c = 0; c < CG_NLIMIT; c++) {
		if (lim[ctrl_limit[c]] && !v2_has_controller(ctrl_names[c]))
			return vz_err_set(VZ_ENOTSUP, 0,
					  "limit %s: controller %s is not enabled in "
					  CG_ROOT "/cgroup.subtree_control",
					  limit_names[ctrl_limit[c]], ctrl_names[c]);
	}
	/* Without a limit a group that cannot be made is no error (no accounting, no
	 * device rules: a read-only cgroup file system in a container, say). */
	snprintf(what, sizeof(what), "limit %s", limit_names[limit]);
	rc = add_dir(cg, CG_ROOT "/" CG_BASE, name, what, limit != 0);
	if (rc)
		return rc < 0 ? rc : VZ_OK;
	/* Delegate what the root delegates to libvz's own directory; an error here shows
	 * up below as a missing interface file, naming the limit. */
	for (int c = 0; c < CG_NLIMIT; c++) {
		char op[16];
		idx[c] = 0;
		snprintf(op, sizeof(op), "+%s", ctrl_names[c]);
		if (v2_has_controller(ctrl_names[c]))
			(void)vz_write_file_at(AT_FDCWD, CG_ROOT "/" CG_BASE "/cgroup.subtree_control", op);
	}
	cg->memory_idx = v2_has_controller("memory") ? 0 : -1;
	cg->dirfd = open(cg->paths[0], O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (cg->dirfd < 0)
		return vz_err_sys(VZ_ERROR, "cgroup: open %s", cg->paths[0]);
	/* Attached before the child is cloned into the group (CLONE_INTO_CGROUP). */
	if (devices) {
		if ((rc = vz_cgroup_devices_attach(cg->dirfd)))
			return vz_err_wrap("cgroup %s", cg->paths[0]);
		cg->devices_enforced = true;
	}
	return VZ_OK;
}

/* VZ_CG_DEVICES could not be honoured: not an error, but worth a word to root. */
static void log_no_devices(const char *name, int version)
{
	if (!host_privileged())
		vz_log(VZ_LOG_DEBUG, "cgroup %s: no device allow-list: not root in the initial "
		       "user namespace", name);
	else
		vz_log(VZ_LOG_WARN, "cgroup %s: no device allow-list: %s", name,
		       version == 1 ? "no devices hierarchy in which a group can be made"
				    : "no cgroup can be made");
}

int vz_cgroup_create(struct vz_cgroup **out, const int64_t *limits, unsigned flags)
{
	struct vz_cgroup *cg;
	struct owner me;
	char name[96];
	int idx[CG_NCTRL] = { -1, -1, -1, -1, -1 }, rc;
	int version = host_version();

	*out = NULL;
	if (!version) {
		int limit = first_cg_limit(limits);
		if (limit)
			return vz_err_set(VZ_ENOTSUP, 0, "limit %s: no cgroup file system at " CG_ROOT,
					  limit_names[limit]);
		return VZ_OK;
	}
	pthread_once(&sweep_once, sweep_stale);
	cg = vz_calloc(1, sizeof(*cg));
	if (!cg)
		return VZ_ENOMEM;
	cg->version = version;
	cg->dirfd = -1;
	cg->memory_idx = cg->cpuacct_idx = -1;
	for (int i = 0; i < VZ_CG_MAX_DIRS; i++)
		cg->procs_fds[i] = -1;
	(void)owner_self(&me);
	snprintf(name, sizeof(name), "sb-%llu-%llu-%llu-%u", me.pid, me.start, me.pidns,
		 atomic_fetch_add(&cg_seq, 1));
	rc = version == 2 ? create_v2(cg, limits, flags, name, idx)
			  : create_v1(cg, limits, flags, name, idx);
	if (!rc && cg->ndirs)
		rc = apply_limits(cg, limits, idx);
	if (!rc && (flags & VZ_CG_DEVICES) && !cg->devices_enforced)
		log_no_devices(name, version);
	if (rc || !cg->ndirs) {
		vz_cgroup_destroy(cg);
		return rc;
	}
	*out = cg;
	return VZ_OK;
}

int vz_cgroup_join_child(const struct vz_cgroup *cg)
{
	if (!cg || cg->version != 1)
		return 0;
	for (int i = 0; i < cg->ndirs; i++) {
		if (write(cg->procs_fds[i], "0", 1) != 1)
			return -errno;
	}
	return 0;
}

void vz_cgroup_stats(const struct vz_cgroup *cg, struct vz_cgroup_usage *u)
{
	char path[512], buf[2048];

	memset(u, 0, sizeof(*u));
	if (!cg)
		return;
	if (cg->memory_idx >= 0) {
		const char *dir = cg->paths[cg->memory_idx];
		snprintf(path, sizeof(path), "%s/%s", dir,
			 cg->version == 1 ? "memory.max_usage_in_bytes" : "memory.peak");
		if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0)
			u->peak_memory = strtoull(buf, NULL, 10);
		snprintf(path, sizeof(path), "%s/%s", dir,
			 cg->version == 1 ? "memory.oom_control" : "memory.events");
		u->oom_kills = read_key(path, "oom_kill");
	}
	if (cg->version == 2) {
		/* cpu.stat is there without the cpu controller. */
		snprintf(path, sizeof(path), "%s/cpu.stat", cg->paths[0]);
		if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0) {
			u->user_cpu_ns = key_value(buf, "user_usec") * 1000;
			u->system_cpu_ns = key_value(buf, "system_usec") * 1000;
		}
	} else if (cg->cpuacct_idx >= 0) {
		const char *dir = cg->paths[cg->cpuacct_idx];
		snprintf(path, sizeof(path), "%s/cpuacct.usage_user", dir);
		if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0) {
			u->user_cpu_ns = strtoull(buf, NULL, 10);
			snprintf(path, sizeof(path), "%s/cpuacct.usage_sys", dir);
			if (vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0)
				u->system_cpu_ns = strtoull(buf, NULL, 10);
		} else {
			/* Before Linux 4.7: clock ticks in cpuacct.stat. */
			long hz = sysconf(_SC_CLK_TCK);
			uint64_t tick = hz > 0 ? 1000000000ull / (uint64_t)hz : 0;
			snprintf(path, sizeof(path), "%s/cpuacct.stat", dir);
			if (tick && vz_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0) {
				u->user_cpu_ns = key_value(buf, "user") * tick;
				u->system_cpu_ns = key_value(buf, "system") * tick;
			}
		}
	}
}

void vz_cgroup_destroy(struct vz_cgroup *cg)
{
	if (!cg)
		return;
	for (int i = cg->ndirs - 1; i >= 0; i--) {
		/* The sandbox's processes are reaped before this runs, but the kernel may
		 * need a moment to unlink the last exiting task from the group. */
		(void)remove_group(cg->paths[i], NULL, false);
		free(cg->paths[i]);
		vz_close(&cg->procs_fds[i]);
	}
	vz_close(&cg->dirfd);
	free(cg);
}

void vz_cgroup_describe(char *buf, size_t len)
{
	int v = host_version();
	if (v == 2) {
		snprintf(buf, len, "cgroup v2 (%s%s%s)", v2_has_controller("memory") ? "memory " : "",
			 v2_has_controller("pids") ? "pids " : "", v2_has_controller("cpu") ? "cpu" : "");
	} else if (v == 1) {
		snprintf(buf, len, "cgroup v1 (%s%s%s)",
			 is_fs(CG_ROOT "/memory", CGROUP_SUPER_MAGIC) ? "memory " : "",
			 is_fs(CG_ROOT "/pids", CGROUP_SUPER_MAGIC) ? "pids " : "",
			 is_fs(CG_ROOT "/cpu", CGROUP_SUPER_MAGIC) ? "cpu" : "");
	} else {
		snprintf(buf, len, "no cgroups");
	}
}
