/* SPDX-License-Identifier: MIT */
/**
 * @file sandbox.h
 * @brief One sandbox: create, limit, start, wait, kill, stdio, free.
 *
 * Life cycle: vz_sandbox_create() (validated, nothing runs) → vz_sandbox_limit() any
 * number of times → optionally vz_sandbox_prepare() (set up ahead of time) →
 * vz_sandbox_start() (the program runs; returns once it has been executed) →
 * vz_sandbox_wait() until it reports the end → vz_sandbox_free().
 * vz_sandbox_free() may be called in any state: it kills what still runs and removes
 * every process, mount, cgroup, file and descriptor the sandbox created.
 *
 * Both backends give the same meaning to every call:
 * - ::VZ_BACKEND_CONTAINER: Linux namespaces, an overlay root file system, cgroups.
 * - ::VZ_BACKEND_VM: a KVM virtual machine booting a Linux kernel that runs the same
 *   rootfs and argv.
 *
 * A started sandbox is one child process of the caller (the container's init, or the
 * virtual machine monitor). libvz creates it with an exit signal of 0, so a SIGCHLD
 * handler or `waitpid(-1, ...)` in the host program never sees or reaps it; libvz never
 * waits for children it did not create, installs no signal handler, and never exits or
 * prints.
 *
 * Thread-safety: many sandboxes may run in one process at once, and any thread may call
 * libvz. One sandbox is used by one thread at a time, except that vz_sandbox_kill() may be
 * called from any thread at any time before vz_sandbox_free(), and vz_sandbox_wait() may
 * run in several threads at once.
 */
#ifndef VZ_SANDBOX_H
#define VZ_SANDBOX_H

#include <stdint.h>

#include <vz/common.h>
#include <vz/config.h>

VZ_BEGIN_DECLS

/** @brief Opaque sandbox instance. */
typedef struct vz_sandbox vz_sandbox;

/** @brief The isolation technology. */
typedef enum vz_backend {
	VZ_BACKEND_CONTAINER = 1, /**< Linux namespaces and cgroups. */
	VZ_BACKEND_VM = 2,	  /**< A KVM virtual machine with its own Linux kernel. */
} vz_backend;

/** @brief Resource limits for vz_sandbox_limit(). */
typedef enum vz_limit {
	/** Memory in bytes (cgroup memory limit; for a VM also the guest RAM). At least 1 MiB. */
	VZ_LIMIT_MEMORY = 1,
	/** CPU in millicores: 1000 is one whole CPU, 500 half of one. */
	VZ_LIMIT_CPU = 2,
	/** Maximum number of processes and threads inside the sandbox. */
	VZ_LIMIT_PIDS = 3,
	/** Wall time in milliseconds from vz_sandbox_start(); then the sandbox is killed. */
	VZ_LIMIT_WALL_TIME = 4,
	/** Maximum number of open files per process (RLIMIT_NOFILE). */
	VZ_LIMIT_OPEN_FILES = 5,
} vz_limit;

/** @brief Why a sandbox ended. */
typedef enum vz_reason {
	VZ_REASON_NONE = 0,	    /**< Not ended (yet). */
	VZ_REASON_EXITED = 1,	    /**< The program exited by itself; see exit_code. */
	VZ_REASON_SIGNALED = 2,	    /**< The program died of a signal it was not sent by libvz. */
	VZ_REASON_TIMED_OUT = 3,    /**< The wall-time limit was reached and it was killed. */
	VZ_REASON_OUT_OF_MEMORY = 4, /**< The memory limit was reached and it was killed. */
	VZ_REASON_KILLED = 5,	    /**< It died of a signal sent through vz_sandbox_kill(). */
	VZ_REASON_CRASHED = 6,	    /**< The sandbox itself failed (guest panic, VMM crash). */
	VZ_REASON_SETUP_FAILED = 7, /**< The sandbox could not be set up; see message. */
} vz_reason;

/** Maximum number of start-up phases in a ::vz_result. */
#define VZ_MAX_PHASES 12

/** @brief Time spent in one start-up or tear-down phase. */
typedef struct vz_phase {
	char name[16];	/**< Phase name, e.g. "clone", "rootfs", "exec"; NUL-terminated. */
	uint64_t ns;	/**< Duration in nanoseconds. */
} vz_phase;

/**
 * @brief How a sandbox ended, with what it cost.
 *
 * The caller sets @c size to `sizeof(vz_result)` before passing it; libvz fills only
 * the fields that fit, so a program built against an older, smaller vz_result keeps
 * working with a newer libvz.
 */
typedef struct vz_result {
	uint32_t size;		   /**< Set by the caller to sizeof(vz_result). */
	int32_t reason;		   /**< A ::vz_reason. */
	int32_t exit_code;	   /**< Exit code 0-255 for ::VZ_REASON_EXITED, else 128+signal. */
	int32_t signal;		   /**< Signal that ended the program, or 0. */
	uint64_t wall_ns;	   /**< From vz_sandbox_start() until the end was seen. */
	uint64_t user_cpu_ns;	   /**< User CPU time of everything that ran in the sandbox. */
	uint64_t system_cpu_ns;	   /**< System CPU time of the same. */
	uint64_t peak_memory_bytes; /**< Peak memory (cgroup peak, else largest process RSS). */
	uint32_t phase_count;	   /**< Number of valid entries in @c phases. */
	vz_phase phases[VZ_MAX_PHASES]; /**< Start-up and tear-down phases, in order. */
	char message[512];	   /**< Set-up failure or crash text (e.g. a guest panic). */
} vz_result;

/**
 * @brief Whether this host can run sandboxes of a backend, and why not.
 *
 * Probes the host (kernel features, permissions, /dev/kvm and its kind) without
 * starting anything. The result is computed on each call.
 *
 * @param[in]  backend A ::vz_backend.
 * @param[out] why     If not NULL, receives a description: what the host offers when
 *                     available (e.g. "cgroup v1 (memory pids cpu), user namespaces"),
 *                     or an actionable reason when not. Thread-local storage, valid until
 *                     the next call of this function on the same thread.
 * @return ::VZ_OK if available; otherwise ::VZ_ENOTSUP, ::VZ_EPERM or ::VZ_ENOENT,
 *         with the same reason in vz_error_last(); ::VZ_EINVAL for an unknown backend.
 * @note Thread-safe.
 */
VZ_API int vz_backend_available(vz_backend backend, const char **why);

/**
 * @brief The name of a backend ("container", "vm"), or NULL for an unknown value.
 * @note Thread-safe.
 */
VZ_API const char *vz_backend_name(vz_backend backend);

/**
 * @brief The name of a reason ("exited", "signaled", "timed out", "out of memory",
 *        "killed", "crashed", "setup failed", "none"), or "unknown".
 * @note Thread-safe; returns a static string.
 */
VZ_API const char *vz_reason_name(int reason);

/**
 * @brief Create a sandbox from a configuration. Nothing runs yet.
 *
 * Validates everything that can be checked before anything runs: the rootfs is an
 * existing directory, argv is set and argv[0] is an executable file inside the rootfs,
 * bind sources exist, the options suit the backend. Takes a deep copy of @p cfg.
 *
 * @param[out] out     Receives the sandbox; release it with vz_sandbox_free().
 * @param[in]  backend A ::vz_backend.
 * @param[in]  cfg     The configuration; borrowed for the duration of the call.
 * @return ::VZ_OK; ::VZ_EINVAL (NULL argument, unknown backend, incomplete config),
 *         ::VZ_ENOENT (rootfs or argv[0] missing), ::VZ_EPERM (argv[0] not executable),
 *         ::VZ_ENOTSUP (an option this backend cannot honour), ::VZ_ENOMEM.
 * @note Thread-safe (distinct @p out and a @p cfg not being modified concurrently).
 */
VZ_API int vz_sandbox_create(vz_sandbox **out, vz_backend backend, const vz_config *cfg);

/**
 * @brief Set a resource limit. Only before vz_sandbox_start().
 *
 * Values must be > 0 and within the kind's range. A limit the host cannot enforce
 * (for example memory without a writable memory cgroup) makes vz_sandbox_start() fail
 * with a message naming the limit; it is never dropped silently.
 *
 * @param[in] sb    The sandbox.
 * @param[in] kind  A ::vz_limit.
 * @param[in] value The limit, in the unit of @p kind.
 * @return ::VZ_OK; ::VZ_EINVAL (NULL, unknown kind, value out of range) or ::VZ_ESTATE
 *         (already started).
 */
VZ_API int vz_sandbox_limit(vz_sandbox *sb, vz_limit kind, int64_t value);

/**
 * @brief Start the sandboxed program.
 *
 * Returns once the program has been executed inside the sandbox (or set-up has
 * failed); it never waits for the program to finish. After vz_sandbox_prepare() only
 * the last step is left to do here.
 *
 * @param[in] sb The sandbox (created or prepared, not yet started).
 * @return ::VZ_OK; ::VZ_ESTATE (already started); ::VZ_ENOTSUP or ::VZ_EPERM (a limit or
 *         feature the host cannot provide); ::VZ_ECHILD (set-up failed inside the
 *         sandbox: the message names the step, e.g. "mount /proc: Permission denied");
 *         ::VZ_ENOMEM, ::VZ_ERROR. After a failure the sandbox can only be freed; its
 *         vz_sandbox_wait() reports ::VZ_REASON_SETUP_FAILED with the message.
 */
VZ_API int vz_sandbox_start(vz_sandbox *sb);

/**
 * @brief Do ahead of time everything vz_sandbox_start() does but run the program.
 *
 * Optional. A server that starts many sandboxes of one configuration keeps some
 * prepared, so that vz_sandbox_start() is only the last step: the sandbox's processes,
 * namespaces, root file system, cgroup with its limits, and stdio pipes are made here,
 * and the supervisor waits; vz_sandbox_start() then only has it run the program. For a
 * VM, the guest kernel boots here and libvz's guest init waits for its job (the VM
 * holds its memory meanwhile); start sends the job. The
 * wall-time limit counts from vz_sandbox_start(). Limits must be set before this call;
 * the stdio descriptors (vz_sandbox_stdio_fd()) are available after it. A prepared
 * sandbox that is freed unstarted leaves nothing behind. A prepared sandbox holds a
 * few processes' worth of kernel memory and descriptors (about what a running
 * `sleep` holds in a sandbox) while it waits.
 *
 * @param[in] sb The sandbox, created and not yet started.
 * @return ::VZ_OK; ::VZ_ESTATE if already prepared or started; ::VZ_ENOTSUP if the
 *         backend cannot; a set-up failure as vz_sandbox_start() reports it (the
 *         sandbox is then failed, as after a failed start).
 * @note Must not run concurrently with any other call on @p sb.
 */
VZ_API int vz_sandbox_prepare(vz_sandbox *sb);

/**
 * @brief VM backend: make, ahead of its start, the template this sandbox would start
 *        from (see vz_config_set_vm_start()).
 *
 * Boots a guest with this sandbox's configuration and limits (memory, CPU) to the
 * point where libvz's guest init waits for its job, saves it into the template
 * directory, and ends that guest; the sandbox itself stays unstarted and unchanged. A
 * matching template already there is kept (nothing is booted). Later starts of
 * sandboxes of the same kind, in this process or another, restore from it.
 *
 * @param[in] sb The sandbox, created and not yet started (VM backend).
 * @return ::VZ_OK once a valid template is in place; ::VZ_ENOTSUP for a container, or
 *         when this host's KVM cannot save a guest's state (the message says which
 *         call failed; such a host always boots cold); ::VZ_ESTATE if @p sb was
 *         started or prepared; ::VZ_ERROR if the template could not be written.
 * @note Must not run concurrently with any other call on @p sb. Safe against other
 *       processes making or using the same template.
 */
VZ_API int vz_sandbox_make_template(vz_sandbox *sb);

/**
 * @brief VM backend: remove every template in a template directory.
 *
 * Removes only what libvz made there (template subdirectories, their lock and
 * "unsupported" marks, and leftovers of interrupted writes). VMs restored from a
 * removed template keep running: their memory file stays mapped until they end. The
 * next start makes a new template.
 *
 * @param[in] dir The directory, or NULL for the default (vz_config_set_vm_templates()).
 * @return ::VZ_OK (also when the directory does not exist); ::VZ_EINVAL for a relative
 *         path; ::VZ_ERROR with the file named when one could not be removed.
 * @note Thread-safe.
 */
VZ_API int vz_vm_templates_drop(const char *dir);

/**
 * @brief Wait for the sandbox to end and get its result.
 *
 * Once the sandbox has ended, every later call returns the same result at once. The
 * result comes as soon as nothing of the sandbox runs any more: a container's init
 * kills and reaps every process of the sandbox, then reports; the kernel's release of
 * its namespaces and mounts, and the removal of its cgroup, come after, off this
 * call's path (vz_sandbox_free() finishes them).
 *
 * @param[in]  sb         The sandbox (started).
 * @param[in]  timeout_ms -1 to block until the end, 0 to poll, > 0 to wait at most
 *                        this long. This bounds the call only; use ::VZ_LIMIT_WALL_TIME
 *                        to bound the sandbox.
 * @param[out] result     If not NULL, filled when the sandbox has ended; set
 *                        result->size first.
 * @return ::VZ_OK when ended; ::VZ_ETIMEDOUT if still running when @p timeout_ms
 *         passed; ::VZ_ESTATE if never started; ::VZ_EINVAL for a NULL sandbox or a
 *         result whose size is too small.
 */
VZ_API int vz_sandbox_wait(vz_sandbox *sb, int timeout_ms, vz_result *result);

/**
 * @brief Send a signal to the sandboxed program.
 *
 * The container's init forwards the signal to the program; SIGKILL ends the whole
 * sandbox at once (for a VM: the virtual machine). A program that dies of the signal
 * is reported as ::VZ_REASON_KILLED.
 *
 * @param[in] sb  The sandbox.
 * @param[in] sig A signal number (1 to 64).
 * @return ::VZ_OK; ::VZ_EINVAL (bad signal); ::VZ_ESTATE (not started, or already ended).
 * @note May be called from any thread, also while another thread waits.
 */
VZ_API int vz_sandbox_kill(vz_sandbox *sb, int sig);

/**
 * @brief The caller's end of a stream configured as ::VZ_STDIO_PIPE.
 *
 * For ::VZ_STDIN it is the write end; for ::VZ_STDOUT and ::VZ_STDERR the read end.
 * The descriptor belongs to the sandbox (close-on-exec): it stays valid until
 * vz_sandbox_free() closes it. The caller may close it earlier (for example to send
 * end-of-file on stdin) by calling vz_sandbox_close_stdio().
 *
 * @param[in] sb     The sandbox, started.
 * @param[in] stream ::VZ_STDIN, ::VZ_STDOUT or ::VZ_STDERR.
 * @return The descriptor (>= 0); ::VZ_EINVAL (stream not configured as a pipe, or
 *         already closed); ::VZ_ESTATE (not started).
 */
VZ_API int vz_sandbox_stdio_fd(vz_sandbox *sb, vz_stream stream);

/**
 * @brief Close the caller's end of a piped stream now (e.g. end-of-file on stdin).
 * @return ::VZ_OK, ::VZ_EINVAL (not a pipe, or already closed), ::VZ_ESTATE.
 */
VZ_API int vz_sandbox_close_stdio(vz_sandbox *sb, vz_stream stream);

/**
 * @brief The host process id of the sandbox's supervised child (container init or VMM).
 * @return A pid > 0 while running (started, and no result yet); ::VZ_ESTATE otherwise.
 */
VZ_API int vz_sandbox_pid(vz_sandbox *sb);

/**
 * @brief Free a sandbox. Always succeeds.
 *
 * If it still runs, it is killed and waited for. Every process, mount, cgroup,
 * temporary file and descriptor it created is gone when this returns (after a result,
 * this waits for the kernel's release of the sandbox's namespaces and mounts, which
 * vz_sandbox_wait() did not wait for).
 *
 * @param[in] sb The sandbox, or NULL.
 * @note Must not run concurrently with any other call on @p sb.
 */
VZ_API void vz_sandbox_free(vz_sandbox *sb);

VZ_END_DECLS

#endif /* VZ_SANDBOX_H */
