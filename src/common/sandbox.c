/* SPDX-License-Identifier: MIT */
/* The public sandbox API: argument and state checks, limits, stdio plan, cgroup, and the
 * one wait/kill/clean-up mechanism both backends share (DESIGN.md section 2). */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/cgroup.h"
#include "common/error.h"
#include "common/ipc.h"
#include "common/sandbox.h"
#include "common/syscalls.h"
#include "common/util.h"

#define MIB (1024ll * 1024)

struct limit_range {
	const char *name;
	int64_t min, max;
	const char *unit;
};

/* Upper bounds keep every derived value (cgroup quota, deadline in ns) from overflowing. */
static const struct limit_range limit_ranges[VZ_LIMIT_MAX_KIND] = {
	[VZ_LIMIT_MEMORY] = { "memory", 1 * MIB, 1ll << 50, "bytes" },
	[VZ_LIMIT_CPU] = { "cpu", 10, 1024 * 1000, "millicores" },
	[VZ_LIMIT_PIDS] = { "pids", 1, 4194304, "processes" },
	[VZ_LIMIT_WALL_TIME] = { "wall time", 1, 365ll * 24 * 3600 * 1000, "ms" },
	[VZ_LIMIT_OPEN_FILES] = { "open files", 1, 1 << 30, "files" },
};

#define CHECK_SB(sb, fn)                                                                       \
	do {                                                                                   \
		if (!(sb))                                                                     \
			return vz_err_set(VZ_EINVAL, 0, "%s: sandbox is NULL", fn);               \
	} while (0)

void vz_sandbox_add_phase(struct vz_sandbox *sb, const char *name, uint64_t t_ns)
{
	vz_result *r = &sb->result;
	uint64_t prev = sb->t_start_ns;

	if (r->phase_count >= VZ_MAX_PHASES)
		return;
	for (uint32_t i = 0; i < r->phase_count; i++)
		prev += r->phases[i].ns;
	snprintf(r->phases[r->phase_count].name, sizeof(r->phases[0].name), "%s", name);
	r->phases[r->phase_count].ns = t_ns > prev ? t_ns - prev : 0;
	r->phase_count++;
}

int vz_sandbox_create(vz_sandbox **out, vz_backend backend, const vz_config *cfg)
{
	struct vz_sandbox *sb;
	const struct vz_backend_ops *ops;
	int rc;

	if (!out)
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_create: out is NULL");
	*out = NULL;
	if (!cfg)
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_create: config is NULL");
	ops = vz_backend_lookup(backend);
	if (!ops)
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_create: unknown backend %d", (int)backend);
	sb = vz_calloc(1, sizeof(*sb));
	if (!sb)
		return VZ_ENOMEM;
	sb->ops = ops;
	sb->proc = (struct vz_proc){ .pid = 0, .pidfd = -1, .status_fd = -1, .sync_fd = -1 };
	for (int i = 0; i < 3; i++)
		sb->child_stdio[i] = sb->caller_stdio[i] = -1;
	pthread_mutex_init(&sb->lock, NULL);
	if ((rc = vz_config_copy(cfg, &sb->cfg)) || (rc = vz_config_validate(sb->cfg, &sb->exe)) ||
	    (ops->validate && (rc = ops->validate(sb)))) {
		vz_sandbox_free(sb);
		return rc;
	}
	*out = sb;
	return VZ_OK;
}

int vz_sandbox_limit(vz_sandbox *sb, vz_limit kind, int64_t value)
{
	const struct limit_range *r;

	CHECK_SB(sb, "vz_sandbox_limit");
	if ((int)kind <= 0 || (int)kind >= VZ_LIMIT_MAX_KIND)
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_limit: unknown limit kind %d", (int)kind);
	r = &limit_ranges[kind];
	if (sb->state != VZ_SB_CREATED)
		return vz_err_set(VZ_ESTATE, 0, "limit %s: sandbox already started", r->name);
	if (value <= 0)
		return vz_err_set(VZ_EINVAL, 0, "limit %s: must be > 0 (got %lld)", r->name,
				  (long long)value);
	if (value < r->min || value > r->max)
		return vz_err_set(VZ_EINVAL, 0, "limit %s: %lld %s is outside %lld..%lld", r->name,
				  (long long)value, r->unit, (long long)r->min, (long long)r->max);
	sb->limits[kind] = value;
	return VZ_OK;
}

/* Decide the fd each stream of the child gets, creating pipes for VZ_STDIO_PIPE. */
static int plan_stdio(struct vz_sandbox *sb)
{
	for (int i = 0; i < 3; i++) {
		const struct vz_stdio_spec *s = &sb->cfg->stdio[i];
		int p[2];

		switch ((vz_stdio_mode)s->mode) {
		case VZ_STDIO_INHERIT:
			break;
		case VZ_STDIO_NULL:
			sb->child_stdio[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
			if (sb->child_stdio[i] < 0)
				return vz_err_sys(VZ_ERROR, "stdio %d: open /dev/null", i);
			break;
		case VZ_STDIO_FD:
			sb->child_stdio[i] = vz_dup_cloexec(s->fd, 3);
			if (sb->child_stdio[i] < 0)
				return vz_err_sys(VZ_ERROR, "stdio %d: duplicate fd %d", i, s->fd);
			break;
		case VZ_STDIO_PIPE:
			if (pipe2(p, O_CLOEXEC) < 0)
				return vz_err_sys(VZ_ERROR, "stdio %d: pipe", i);
			sb->child_stdio[i] = i ? p[1] : p[0];
			sb->caller_stdio[i] = i ? p[0] : p[1];
			break;
		}
		/* Keep 0-2 free for the child's dup2 (the host may have closed its own). */
		if (sb->child_stdio[i] >= 0 &&
		    (sb->child_stdio[i] = vz_fd_above_stdio(sb->child_stdio[i])) < 0)
			return vz_err_sys(VZ_ERROR, "stdio %d: duplicate", i);
	}
	return VZ_OK;
}

static void close_child_stdio(struct vz_sandbox *sb)
{
	for (int i = 0; i < 3; i++)
		vz_close(&sb->child_stdio[i]);
}

static void fail_start(struct vz_sandbox *sb)
{
	close_child_stdio(sb);
	for (int i = 0; i < 3; i++)
		vz_close(&sb->caller_stdio[i]);
	vz_cgroup_destroy(sb->cgroup);
	sb->cgroup = NULL;
	sb->state = VZ_SB_FAILED;
	sb->result.reason = VZ_REASON_SETUP_FAILED;
	sb->result.wall_ns = vz_now_ns() - sb->t_run_ns;
	vz_err_copy_message(sb->result.message, sizeof(sb->result.message));
}

/* The program's run begins at @t: wall time and the wall-time deadline count from it. */
static void run_from(struct vz_sandbox *sb, uint64_t t)
{
	sb->t_run_ns = t;
	if (sb->limits[VZ_LIMIT_WALL_TIME])
		sb->deadline_ns = t + (uint64_t)sb->limits[VZ_LIMIT_WALL_TIME] * 1000000ull;
}

/* Everything of a start up to the workload (all of it unless sb->prepare). */
static int set_up(struct vz_sandbox *sb, const char *fn)
{
	int64_t cg_limits[VZ_LIMIT_MAX_KIND];
	int rc;

	sb->t_start_ns = sb->t_run_ns = vz_now_ns();
	if (!sb->prepare)
		run_from(sb, sb->t_start_ns);
	memcpy(cg_limits, sb->limits, sizeof(cg_limits));
	if (sb->ops->cgroup_limits)
		sb->ops->cgroup_limits(sb, cg_limits);
	if ((rc = plan_stdio(sb)) ||
	    (rc = vz_cgroup_create(&sb->cgroup, cg_limits, sb->ops->cgroup_flags)) ||
	    (rc = sb->ops->start(sb))) {
		vz_err_wrap("%s %s sandbox", fn, sb->ops->name);
		fail_start(sb);
		return rc;
	}
	close_child_stdio(sb);
	return VZ_OK;
}

int vz_sandbox_prepare(vz_sandbox *sb)
{
	int rc;

	CHECK_SB(sb, "vz_sandbox_prepare");
	if (sb->state != VZ_SB_CREATED)
		return vz_err_set(VZ_ESTATE, 0, "vz_sandbox_prepare: sandbox already %s",
				  sb->state == VZ_SB_PREPARED ? "prepared" : "started");
	if (!sb->ops->can_prepare)
		return vz_err_set(VZ_ENOTSUP, 0, "vz_sandbox_prepare: the %s backend cannot prepare "
				  "a sandbox ahead of its start; call vz_sandbox_start() alone",
				  sb->ops->name);
	sb->prepare = true;
	sb->state = VZ_SB_RUNNING; /* as start: a failure leaves it FAILED */
	if ((rc = set_up(sb, "prepare")))
		return rc;
	sb->state = VZ_SB_PREPARED;
	return VZ_OK;
}

int vz_sandbox_make_template(vz_sandbox *sb)
{
	CHECK_SB(sb, "vz_sandbox_make_template");
	if (sb->state != VZ_SB_CREATED)
		return vz_err_set(VZ_ESTATE, 0, "vz_sandbox_make_template: sandbox already %s",
				  sb->state == VZ_SB_PREPARED ? "prepared" : "started");
	if (!sb->ops->make_template)
		return vz_err_set(VZ_ENOTSUP, 0, "vz_sandbox_make_template: the %s backend has no "
				  "templates; they are for VMs", sb->ops->name);
	return sb->ops->make_template(sb);
}

#ifndef VZ_WITH_KVM
int vz_vm_templates_drop(const char *dir)
{
	(void)dir;
	return VZ_OK;
}
#endif

int vz_sandbox_start(vz_sandbox *sb)
{
	int rc;

	CHECK_SB(sb, "vz_sandbox_start");
	if (sb->state == VZ_SB_PREPARED) {
		/* Only the last step: the child waits for it. The time it waited is a phase of
		 * its own; wall time and the deadline run from here. */
		run_from(sb, vz_now_ns());
		vz_sandbox_add_phase(sb, "prepared", sb->t_run_ns);
		sb->state = VZ_SB_RUNNING;
		if ((rc = vz_proc_go(&sb->proc, sb, sb->deadline_ns))) {
			vz_err_wrap("start %s sandbox", sb->ops->name);
			fail_start(sb);
			return rc;
		}
		sb->t_exec_ns = vz_now_ns();
		return VZ_OK;
	}
	if (sb->state != VZ_SB_CREATED)
		return vz_err_set(VZ_ESTATE, 0, "vz_sandbox_start: sandbox already started");
	sb->state = VZ_SB_RUNNING;
	if ((rc = set_up(sb, "start")))
		return rc;
	sb->t_exec_ns = vz_now_ns();
	return VZ_OK;
}

/* Turn what the child reported (or failed to report) into the final reason. */
static void decide_reason(struct vz_sandbox *sb, const struct vz_ipc_msg *m, const siginfo_t *si,
			  uint64_t oom_kills)
{
	vz_result *r = &sb->result;
	int reason, value;

	if (m) {
		reason = m->value1;
		value = m->value2;
		snprintf(r->message, sizeof(r->message), "%s", m->text);
	} else if (si->si_code == CLD_EXITED) {
		reason = VZ_REASON_EXITED;
		value = si->si_status;
	} else {
		/* The supervised child itself died without a report: our SIGKILL, the OOM
		 * killer, or a crash of the init/VMM. */
		reason = sb->timed_out ? VZ_REASON_TIMED_OUT
			 : sb->kill_sig ? VZ_REASON_KILLED
			 : oom_kills ? VZ_REASON_OUT_OF_MEMORY : VZ_REASON_CRASHED;
		value = si->si_status;
		if (reason == VZ_REASON_CRASHED)
			snprintf(r->message, sizeof(r->message),
				 "the sandbox's %s process died of signal %d",
				 sb->ops->id == VZ_BACKEND_VM ? "VMM" : "init", si->si_status);
	}
	if (reason == VZ_REASON_EXITED) {
		r->exit_code = value;
		r->signal = 0;
	} else {
		r->signal = value;
		r->exit_code = 128 + value;
	}
	if (reason == VZ_REASON_SIGNALED && sb->kill_sig)
		reason = VZ_REASON_KILLED;
	if (sb->timed_out && reason != VZ_REASON_EXITED)
		reason = VZ_REASON_TIMED_OUT;
	/* Only the memory cgroup's own counter says OOM: a program that exits 137 by
	 * itself is "exited". A non-zero exit with an OOM kill covers a shell whose child
	 * was killed by the OOM killer. */
	if (oom_kills && ((reason == VZ_REASON_SIGNALED && value == SIGKILL) ||
			  (reason == VZ_REASON_EXITED && value != 0)))
		reason = VZ_REASON_OUT_OF_MEMORY;
	r->reason = reason;
}

/* The child's final report: 0 it is there, 1 nothing yet, -1 the channel closed or
 * something else came. */
static int recv_exit(int fd, struct vz_ipc_msg *m)
{
	ssize_t n;
	do
		n = recv(fd, m, sizeof(*m), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n != (ssize_t)sizeof(*m) || m->type != VZ_IPC_EXIT)
		return -1;
	m->text[sizeof(m->text) - 1] = '\0';
	return 0;
}

/* The end, seen at @t_end: the result from the child's report @m (else its wait status
 * @si), the cgroup's counters and, for a reaped child, its rusage @ru (else NULL). The
 * rusage counts the child and the descendants it reaped; the cgroup counts every
 * process of the sandbox, also those killed with it and never reaped inside. */
static void fill_result(struct vz_sandbox *sb, const struct vz_ipc_msg *m, const siginfo_t *si,
			const struct rusage *ru, uint64_t t_end)
{
	struct vz_cgroup_usage cu;
	uint64_t user = 0, sys = 0, rss = 0;
	vz_result *r = &sb->result;

	vz_cgroup_stats(sb->cgroup, &cu);
	decide_reason(sb, m, si, cu.oom_kills);
	if (ru) {
		user = (uint64_t)ru->ru_utime.tv_sec * 1000000000ull +
		       (uint64_t)ru->ru_utime.tv_usec * 1000;
		sys = (uint64_t)ru->ru_stime.tv_sec * 1000000000ull +
		      (uint64_t)ru->ru_stime.tv_usec * 1000;
		rss = (uint64_t)ru->ru_maxrss * 1024;
	}
	r->wall_ns = t_end - sb->t_run_ns;
	r->user_cpu_ns = cu.user_cpu_ns > user ? cu.user_cpu_ns : user;
	r->system_cpu_ns = cu.system_cpu_ns > sys ? cu.system_cpu_ns : sys;
	r->peak_memory_bytes = cu.peak_memory ? cu.peak_memory : rss;
	vz_sandbox_add_phase(sb, "run", t_end > sb->t_exec_ns ? t_end : sb->t_exec_ns);
}

/* Called with sb->lock held once the pidfd is readable: reap and build the result. */
static void reap_locked(struct vz_sandbox *sb)
{
	siginfo_t si = { 0 };
	struct rusage ru = { 0 };
	struct vz_ipc_msg m;
	uint64_t t_end;

	while (vz_sys_waitid(P_PIDFD, sb->proc.pidfd, &si, WEXITED | __WALL, &ru) < 0 &&
	       errno == EINTR)
		;
	t_end = vz_now_ns();
	fill_result(sb, recv_exit(sb->proc.status_fd, &m) == 0 ? &m : NULL, &si, &ru, t_end);
	if (sb->ops->finish)
		sb->ops->finish(sb, &sb->result);
	vz_cgroup_destroy(sb->cgroup);
	sb->cgroup = NULL;
	vz_close(&sb->proc.status_fd);
	sb->proc.pid = 0;
	vz_sandbox_add_phase(sb, "teardown", vz_now_ns());
	sb->state = VZ_SB_ENDED;
}

/* The status channel is readable: take the child's final report if it is one (a
 * backend with final_report). Nothing of the sandbox runs any more, so the result is
 * final now; the child's own exit (the kernel unmounting the sandbox's mounts and
 * freeing its namespaces) and the cgroup's removal are left to vz_sandbox_free(). */
static void take_report(struct vz_sandbox *sb)
{
	struct vz_ipc_msg m;
	siginfo_t none = { 0 };
	int rc;

	pthread_mutex_lock(&sb->lock);
	if (sb->state == VZ_SB_RUNNING && !sb->report_gone) {
		rc = recv_exit(sb->proc.status_fd, &m);
		if (rc == 0) {
			fill_result(sb, &m, &none, NULL, vz_now_ns());
			sb->unreaped = true;
			sb->state = VZ_SB_ENDED;
		} else if (rc < 0) {
			/* Closed, or not a report: the child's exit status decides. */
			sb->report_gone = true;
		}
	}
	pthread_mutex_unlock(&sb->lock);
}

static void copy_result(const struct vz_sandbox *sb, vz_result *out)
{
	uint32_t size = out->size;
	memcpy((char *)out + sizeof(out->size), (const char *)&sb->result + sizeof(out->size),
	       (size < sizeof(*out) ? size : sizeof(*out)) - sizeof(out->size));
}

/* The wall-time deadline passed: kill the whole sandbox (SIGKILL to the init or VMM
 * takes every process of the sandbox with it). */
static void enforce_deadline(struct vz_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->state == VZ_SB_RUNNING && !sb->timed_out) {
		sb->timed_out = true;
		vz_sys_pidfd_send_signal(sb->proc.pidfd, SIGKILL);
	}
	pthread_mutex_unlock(&sb->lock);
}

int vz_sandbox_wait(vz_sandbox *sb, int timeout_ms, vz_result *result)
{
	uint64_t until = timeout_ms < 0 ? 0 : vz_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	CHECK_SB(sb, "vz_sandbox_wait");
	if (result && result->size < offsetof(vz_result, phase_count))
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_wait: result->size %u is too small "
				  "(set it to sizeof(vz_result))", result->size);
	if (sb->state == VZ_SB_CREATED || sb->state == VZ_SB_PREPARED)
		return vz_err_set(VZ_ESTATE, 0, "vz_sandbox_wait: sandbox not started%s",
				  sb->state == VZ_SB_PREPARED ? " (prepared only)" : "");
	for (;;) {
		struct pollfd pfd[2] = { { .fd = sb->proc.pidfd, .events = POLLIN },
					 { .fd = sb->proc.status_fd, .events = POLLIN } };
		uint64_t now = vz_now_ns(), stop = until;
		int ms, n, nfds;

		pthread_mutex_lock(&sb->lock);
		if (sb->state != VZ_SB_RUNNING) {
			pthread_mutex_unlock(&sb->lock);
			if (result)
				copy_result(sb, result);
			return VZ_OK;
		}
		/* The final report, where the backend sends one and a cgroup can say what the
		 * sandbox used; else the child's exit. */
		nfds = sb->ops->final_report && sb->cgroup && !sb->report_gone &&
		       sb->proc.status_fd >= 0 ? 2 : 1;
		pthread_mutex_unlock(&sb->lock);
		if (sb->deadline_ns && !sb->timed_out && (!stop || sb->deadline_ns < stop))
			stop = sb->deadline_ns;
		ms = vz_poll_ms(stop, now);
		n = poll(pfd, (nfds_t)nfds, ms);
		if (n < 0 && errno != EINTR)
			return vz_err_sys(VZ_ERROR, "vz_sandbox_wait: poll");
		if (n > 0 && nfds == 2 && pfd[1].revents) {
			take_report(sb);
			continue;
		}
		if (n > 0) {
			pthread_mutex_lock(&sb->lock);
			if (sb->state == VZ_SB_RUNNING)
				reap_locked(sb);
			pthread_mutex_unlock(&sb->lock);
			continue;
		}
		now = vz_now_ns();
		if (sb->deadline_ns && now >= sb->deadline_ns && !sb->timed_out) {
			enforce_deadline(sb);
			continue;
		}
		if (until && now >= until)
			return vz_err_set(VZ_ETIMEDOUT, 0, "vz_sandbox_wait: still running after %d ms",
					  timeout_ms);
	}
}

int vz_sandbox_kill(vz_sandbox *sb, int sig)
{
	int rc = VZ_OK;

	CHECK_SB(sb, "vz_sandbox_kill");
	if (sig <= 0 || sig > 64)
		return vz_err_set(VZ_EINVAL, 0, "vz_sandbox_kill: bad signal number %d", sig);
	pthread_mutex_lock(&sb->lock);
	if (sb->state != VZ_SB_RUNNING) {
		rc = vz_err_set(VZ_ESTATE, 0, "vz_sandbox_kill: sandbox is %s",
				sb->state == VZ_SB_CREATED || sb->state == VZ_SB_PREPARED ? "not started"
											    : "not running");
	} else if (sb->proc.pidfd < 0) {
		rc = vz_err_set(VZ_ESTATE, 0, "vz_sandbox_kill: sandbox is still being set up; "
				"retry");
	} else if (vz_sys_pidfd_send_signal(sb->proc.pidfd, sig) < 0) {
		rc = errno == ESRCH ? vz_err_set(VZ_ESTATE, ESRCH, "vz_sandbox_kill: sandbox has ended")
				    : vz_err_sys(VZ_ERROR, "vz_sandbox_kill: signal %d", sig);
	} else {
		sb->kill_sig = sig;
	}
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

static int stdio_check(vz_sandbox *sb, vz_stream stream, const char *fn)
{
	CHECK_SB(sb, fn);
	if ((int)stream < 0 || (int)stream > 2)
		return vz_err_set(VZ_EINVAL, 0, "%s: unknown stream %d", fn, (int)stream);
	if (sb->cfg->stdio[stream].mode != VZ_STDIO_PIPE)
		return vz_err_set(VZ_EINVAL, 0, "%s: stream %d is not configured as a pipe", fn,
				  (int)stream);
	if (sb->state == VZ_SB_CREATED)
		return vz_err_set(VZ_ESTATE, 0, "%s: sandbox not started", fn);
	if (sb->caller_stdio[stream] < 0)
		return vz_err_set(VZ_EINVAL, 0, "%s: stream %d is closed", fn, (int)stream);
	return VZ_OK;
}

int vz_sandbox_stdio_fd(vz_sandbox *sb, vz_stream stream)
{
	int rc = stdio_check(sb, stream, "vz_sandbox_stdio_fd");
	return rc ? rc : sb->caller_stdio[stream];
}

int vz_sandbox_close_stdio(vz_sandbox *sb, vz_stream stream)
{
	int rc = stdio_check(sb, stream, "vz_sandbox_close_stdio");
	if (!rc)
		vz_close(&sb->caller_stdio[stream]);
	return rc;
}

int vz_sandbox_pid(vz_sandbox *sb)
{
	CHECK_SB(sb, "vz_sandbox_pid");
	if (sb->state != VZ_SB_RUNNING)
		return vz_err_set(VZ_ESTATE, 0, "vz_sandbox_pid: sandbox is not running");
	return sb->proc.pid;
}

void vz_sandbox_free(vz_sandbox *sb)
{
	if (!sb)
		return;
	if (sb->state == VZ_SB_RUNNING || sb->state == VZ_SB_PREPARED) {
		pthread_mutex_lock(&sb->lock);
		sb->kill_sig = SIGKILL;
		vz_sys_pidfd_send_signal(sb->proc.pidfd, SIGKILL);
		reap_locked(sb);
		pthread_mutex_unlock(&sb->lock);
	} else if (sb->unreaped) {
		siginfo_t si;
		/* Ended by its report: the child is exiting by itself. Wait for the kernel's
		 * teardown (the cgroup cannot go before). Done here rather than in a
		 * background thread: measured, a teardown running beside the next sandbox's
		 * set-up slows that set-up more than it saves (docs/container.md). */
		while (vz_sys_waitid(P_PIDFD, sb->proc.pidfd, &si, WEXITED | __WALL, NULL) < 0 &&
		       errno == EINTR)
			;
		sb->unreaped = false;
	}
	vz_close(&sb->proc.pidfd);
	vz_close(&sb->proc.status_fd);
	vz_close(&sb->proc.sync_fd);
	close_child_stdio(sb);
	for (int i = 0; i < 3; i++)
		vz_close(&sb->caller_stdio[i]);
	vz_cgroup_destroy(sb->cgroup);
	if (sb->ops && sb->ops->destroy)
		sb->ops->destroy(sb);
	vz_config_free(sb->cfg);
	free(sb->exe);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}

/* The persistent layer's directories. @upper_dir itself becomes 0700: a root workload
 * can leave set-uid files there that no other host user may reach. upper/ keeps 0755,
 * since overlayfs shows its mode as the sandbox's "/". */
int vz_persistent_dirs(const vz_config *cfg)
{
	static const struct {
		const char *name;
		mode_t mode;
	} sub[] = { { "upper", 0755 }, { "work", 0700 } };
	char path[4096];

	if (chmod(cfg->upper_dir, 0700) < 0)
		return vz_err_sys(vz_status_from_errno(errno), "upper dir %s: chmod 0700",
				  cfg->upper_dir);
	for (size_t i = 0; i < VZ_ARRAY_SIZE(sub); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->upper_dir, sub[i].name);
		if (mkdir(path, sub[i].mode) < 0 && errno != EEXIST)
			return vz_err_sys(vz_status_from_errno(errno), "upper dir: create %s", path);
	}
	return VZ_OK;
}
