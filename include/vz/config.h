/* SPDX-License-Identifier: MIT */
/**
 * @file config.h
 * @brief What to run and how: the opaque ::vz_config builder.
 *
 * A configuration is built once with scalar setters and may be used to create any
 * number of sandboxes, on either backend: vz_sandbox_create() takes a deep copy, so the
 * configuration may be changed or freed afterwards.
 *
 * Setters check their own argument (a relative path where an absolute one is needed,
 * an embedded '=' in an environment name, ...) and return ::VZ_EINVAL with a message
 * naming the setter and the value. Checks that need the whole configuration or the
 * file system (rootfs exists, argv[0] is executable inside it) run in
 * vz_sandbox_create().
 *
 * Options that only one backend can honour say so; the other backend ignores them
 * (::VZ_BACKEND_VM ignores the user namespace choice; ::VZ_BACKEND_CONTAINER ignores
 * the kernel settings).
 *
 * Thread-safety: a configuration is not locked; use it from one thread at a time.
 * Setters copy every string and array they are given and duplicate file descriptors,
 * so the caller keeps ownership of its arguments.
 */
#ifndef VZ_CONFIG_H
#define VZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <vz/common.h>

VZ_BEGIN_DECLS

/** @brief Opaque sandbox configuration. Create with vz_config_new(). */
typedef struct vz_config vz_config;

/** @brief A standard stream of the sandboxed program. */
typedef enum vz_stream {
	VZ_STDIN = 0,  /**< Standard input (fd 0). */
	VZ_STDOUT = 1, /**< Standard output (fd 1). */
	VZ_STDERR = 2, /**< Standard error (fd 2). */
} vz_stream;

/** @brief Where a standard stream of the sandboxed program goes. */
typedef enum vz_stdio_mode {
	/** The stream is the caller's own fd 0, 1 or 2 (the default). */
	VZ_STDIO_INHERIT = 0,
	/** The stream is /dev/null. */
	VZ_STDIO_NULL = 1,
	/** The stream is a file descriptor the caller gives (libvz keeps a duplicate). */
	VZ_STDIO_FD = 2,
	/** The stream is a pipe; the caller's end comes from vz_sandbox_stdio_fd(). */
	VZ_STDIO_PIPE = 3,
} vz_stdio_mode;

/** @brief Network of the sandbox. */
typedef enum vz_network {
	/** An own network namespace with only loopback, up (the default). */
	VZ_NET_LOOPBACK = 0,
	/** An own network namespace with no interface up at all. */
	VZ_NET_NONE = 1,
	/** The host's network (container backend only; no network namespace). */
	VZ_NET_HOST = 2,
} vz_network;

/** @brief How the root file system is written to. The rootfs directory itself is
 * never modified in any mode. */
typedef enum vz_rootfs_mode {
	/** Writable; writes go to a private in-memory layer dropped at the end (default). */
	VZ_ROOTFS_EPHEMERAL = 0,
	/** Read-only root (writes fail with EROFS; /tmp stays writable). */
	VZ_ROOTFS_READONLY = 1,
	/** Writable; writes go to a caller-given directory and persist across sandboxes. */
	VZ_ROOTFS_PERSISTENT = 2,
} vz_rootfs_mode;

/** @brief Flags for vz_config_add_bind(). */
typedef enum vz_bind_flags {
	VZ_BIND_RW = 0,	      /**< Read-write bind mount. */
	VZ_BIND_RO = 1u << 0, /**< Read-only bind mount. */
} vz_bind_flags;

/** @brief Use of a user namespace (container backend). */
typedef enum vz_userns_mode {
	/** A user namespace only when the caller is not root (the default). */
	VZ_USERNS_AUTO = 0,
	/** Always a user namespace: the sandbox's uid/gid map to the caller's own. */
	VZ_USERNS_ON = 1,
	/** Never (requires root). */
	VZ_USERNS_OFF = 2,
} vz_userns_mode;

/**
 * @brief Create an empty configuration.
 *
 * Defaults: no argv (required before vz_sandbox_create()), no rootfs (then
 * vz_sandbox_create() takes the default one, see vz_config_set_rootfs()), an
 * environment of only `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
 * cwd "/", hostname "vz", uid 0 and gid 0, every stream inherited, ::VZ_NET_LOOPBACK,
 * ::VZ_ROOTFS_EPHEMERAL, ::VZ_USERNS_AUTO.
 *
 * @param[out] out Receives the new configuration; free it with vz_config_free().
 * @return ::VZ_OK, ::VZ_EINVAL if @p out is NULL, or ::VZ_ENOMEM.
 * @note Thread-safe.
 */
VZ_API int vz_config_new(vz_config **out);

/**
 * @brief Free a configuration and the file descriptors it duplicated.
 * @param[in] cfg The configuration, or NULL (then nothing happens).
 * @note Sandboxes created from @p cfg are unaffected: they hold their own copy.
 */
VZ_API void vz_config_free(vz_config *cfg);

/**
 * @brief Set the root file system: a host directory used as a read-only image.
 *
 * The directory is never modified (see ::vz_rootfs_mode). The VM backend packs the
 * same directory into the guest's initial RAM disk.
 *
 * If no rootfs is set, vz_sandbox_create() uses `$VZ_ROOTFS` (an absolute path; read
 * with secure_getenv(), so not in set-user-ID programs), else the installed default
 * `<datadir>/libvz/rootfs` (e.g. /usr/local/share/libvz/rootfs, a busybox tree that
 * `tools/setup.sh` installs). If none exists it fails with ::VZ_ENOENT and a message
 * naming everything it searched; a relative `$VZ_ROOTFS` is ::VZ_EINVAL.
 *
 * @param[in] cfg  The configuration.
 * @param[in] path Absolute path of a directory; copied.
 * @return ::VZ_OK, or ::VZ_EINVAL (NULL or relative path), ::VZ_ENOMEM. Existence is
 *         checked by vz_sandbox_create().
 */
VZ_API int vz_config_set_rootfs(vz_config *cfg, const char *path);

/**
 * @brief Set the writable-layer mode of the root file system.
 * @param[in] cfg       The configuration.
 * @param[in] mode      A ::vz_rootfs_mode.
 * @param[in] upper_dir For ::VZ_ROOTFS_PERSISTENT, an absolute host directory that
 *                      receives the writes (libvz creates `upper/` and `work/` in it,
 *                      and makes the directory itself mode 0700 at every start: a root
 *                      workload may leave set-uid files there); must be NULL for the
 *                      other modes. Copied. It must lie apart from the rootfs:
 *                      vz_sandbox_create() refuses the rootfs itself, a directory inside
 *                      it or one around it with ::VZ_EINVAL.
 * @return ::VZ_OK, ::VZ_EINVAL (unknown mode, missing or unexpected @p upper_dir),
 *         ::VZ_ENOMEM.
 * @note Both backends use the same layout of @p upper_dir (an overlayfs upper and work
 *       directory), so one persistent layer serves either. The VM reaches it through
 *       virtio-fs.
 */
VZ_API int vz_config_set_rootfs_mode(vz_config *cfg, vz_rootfs_mode mode, const char *upper_dir);

/**
 * @brief Set the program and its arguments.
 *
 * argv[0] is looked up inside the rootfs: as a path if it contains '/', otherwise
 * along the sandbox environment's PATH.
 *
 * @param[in] cfg  The configuration.
 * @param[in] argc Number of arguments, at least 1.
 * @param[in] argv @p argc non-NULL strings; copied.
 * @return ::VZ_OK, ::VZ_EINVAL (argc < 1, NULL or empty argv[0], NULL element),
 *         ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_argv(vz_config *cfg, int argc, const char *const *argv);

/**
 * @brief Set or replace one environment variable of the sandboxed program.
 * @param[in] cfg   The configuration.
 * @param[in] name  Variable name: non-empty, no '='; copied.
 * @param[in] value Value; copied. NULL removes the variable.
 * @return ::VZ_OK, ::VZ_EINVAL, ::VZ_ENOMEM.
 */
VZ_API int vz_config_setenv(vz_config *cfg, const char *name, const char *value);

/**
 * @brief Remove every environment variable, including the default PATH.
 * @param[in] cfg The configuration.
 * @return ::VZ_OK or ::VZ_EINVAL if @p cfg is NULL.
 */
VZ_API int vz_config_clearenv(vz_config *cfg);

/**
 * @brief Set the working directory of the program, an absolute path inside the sandbox.
 * @return ::VZ_OK, ::VZ_EINVAL, ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_cwd(vz_config *cfg, const char *path);

/**
 * @brief Set the sandbox's host name (1 to 64 characters of letters, digits, '-', '.').
 * @return ::VZ_OK, ::VZ_EINVAL, ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_hostname(vz_config *cfg, const char *hostname);

/**
 * @brief Set the user and group the program runs as inside the sandbox.
 *
 * With a user namespace that maps only the caller's own ids, these are the ids that are
 * mapped to the caller's uid and gid outside.
 *
 * @return ::VZ_OK, ::VZ_EINVAL (the value (uint32_t)-1 is not an id).
 */
VZ_API int vz_config_set_user(vz_config *cfg, uint32_t uid, uint32_t gid);

/**
 * @brief Add a bind mount of a host path into the sandbox.
 *
 * The container resolves @p sandbox_path inside the rootfs, as the sandbox sees it:
 * symlinks and ".." in the image never lead out of it. Bind mounts are nodev and
 * nosuid. A program inside a bind may be argv[0]. The VM backend passes the bind to
 * the guest through virtio-fs (read-only binds are refused writes by libvz's file
 * server itself, not only by the guest's mount); the guest resolves @p sandbox_path
 * inside its root the same way.
 *
 * @param[in] cfg          The configuration.
 * @param[in] host_path    Absolute host path of a file or directory; copied. Must exist
 *                         at vz_sandbox_create().
 * @param[in] sandbox_path Absolute path inside the sandbox, not "/"; copied. Created in
 *                         the writable layer if it does not exist.
 * @param[in] flags        ::VZ_BIND_RO or ::VZ_BIND_RW.
 * @return ::VZ_OK, ::VZ_EINVAL, ::VZ_ENOMEM.
 */
VZ_API int vz_config_add_bind(vz_config *cfg, const char *host_path, const char *sandbox_path,
			      unsigned flags);

/**
 * @brief Choose where a standard stream of the program goes.
 * @param[in] cfg    The configuration.
 * @param[in] stream ::VZ_STDIN, ::VZ_STDOUT or ::VZ_STDERR.
 * @param[in] mode   A ::vz_stdio_mode.
 * @param[in] fd     For ::VZ_STDIO_FD, an open descriptor of the caller (borrowed: libvz
 *                   keeps its own close-on-exec duplicate); otherwise ignored (pass -1).
 * @return ::VZ_OK, ::VZ_EINVAL (unknown stream or mode, bad fd), ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_stdio(vz_config *cfg, vz_stream stream, vz_stdio_mode mode, int fd);

/**
 * @brief Choose the sandbox's network (default ::VZ_NET_LOOPBACK).
 * @return ::VZ_OK or ::VZ_EINVAL.
 * @note The VM backend supports ::VZ_NET_LOOPBACK and ::VZ_NET_NONE.
 */
VZ_API int vz_config_set_network(vz_config *cfg, vz_network mode);

/**
 * @brief Choose whether the container backend uses a user namespace.
 * @return ::VZ_OK or ::VZ_EINVAL. ::VZ_USERNS_OFF as non-root makes vz_sandbox_create()
 *         fail with ::VZ_EPERM.
 */
VZ_API int vz_config_set_userns(vz_config *cfg, vz_userns_mode mode);

/**
 * @brief VM backend: the guest kernel to boot (a vmlinux with a PVH note, or a bzImage).
 *
 * If unset, libvz uses `$VZ_KERNEL`, then the installed default. A container refuses a
 * configuration that sets it (vz_sandbox_create() returns ::VZ_EINVAL).
 * @return ::VZ_OK, ::VZ_EINVAL (NULL or relative path), ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_kernel(vz_config *cfg, const char *path);

/**
 * @brief VM backend: extra words appended to the guest kernel command line.
 *
 * A container refuses a configuration that sets it (vz_sandbox_create() returns
 * ::VZ_EINVAL).
 * @return ::VZ_OK, ::VZ_EINVAL (longer than 1024 bytes), ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_kernel_cmdline(vz_config *cfg, const char *extra);

/**
 * @brief VM backend: the guest kernel's own module directory (`/lib/modules/RELEASE`),
 *        from which libvz loads the drivers it needs that the kernel has as modules.
 *
 * libvz's guest needs virtio-mmio, virtio-console, FUSE, virtio-fs and overlayfs. A
 * kernel built by tools/guest-kernel has them built in and needs no module directory.
 * A distribution kernel (Debian's `vmlinuz-RELEASE`, say) has them as modules: libvz
 * then reads `DIR/modules.dep` and `DIR/modules.builtin`, puts the module files it
 * needs (with those they depend on) into the guest's initramfs, and the guest init
 * loads them before it looks for its devices, passing each the
 * `MODULE.PARAM=VALUE` words of the kernel command line as modprobe does. Compressed
 * modules (`.ko.xz`, `.ko.zst`, `.ko.gz`) are loaded compressed; the guest kernel must
 * then decompress them itself (CONFIG_MODULE_DECOMPRESS).
 *
 * If unset, libvz uses `$VZ_KERNEL_MODULES`, then `/lib/modules/RELEASE` when the
 * kernel file is named `vmlinuz-RELEASE` or `vmlinux-RELEASE` and that directory has a
 * `modules.dep`. vz_sandbox_create() fails with ::VZ_EINVAL, naming the driver and its
 * kernel option, when a driver is neither built in (per `modules.builtin`) nor found
 * as a module, or when the directory or its `modules.dep` cannot be read. A container
 * refuses a configuration that sets it (::VZ_EINVAL). The path is copied.
 * @return ::VZ_OK, ::VZ_EINVAL (NULL or relative path), ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_kernel_modules(vz_config *cfg, const char *dir);

/** @brief VM backend: how a VM sandbox starts. */
typedef enum vz_vm_start {
	/** From a template when one matches (the default): the guest's memory and state,
	 *  saved once after a boot, are restored in milliseconds. With none yet, the sandbox
	 *  boots cold and saves the template for the next start. */
	VZ_VM_START_RESTORE = 0,
	/** Always a full boot of the guest kernel; no template is read or made. */
	VZ_VM_START_COLD = 1,
} vz_vm_start;

/**
 * @brief VM backend: restore from a template (default) or always boot cold.
 *
 * A template is a guest booted once to the point where libvz's guest init waits for
 * its job, saved as a memory file and the state of its vCPUs, interrupt controllers,
 * clocks and devices. Starting from it maps the memory file copy-on-write (pages are
 * shared between every VM restored from one template until written) and sends the job,
 * with fresh randomness and the host's time, as after a cold boot. A template that
 * does not match this configuration, this libvz build, guest kernel or host CPU, or
 * that is damaged, is refused with a logged warning that says why, and the sandbox
 * boots cold instead: restore never makes a start fail. vz_result's phases show which
 * way a sandbox started: "restore" (and what it cost), or "boot" (and "snapshot" when
 * the start also saved a template). docs/vm.md has the details.
 *
 * A container refuses ::VZ_VM_START_COLD (vz_sandbox_create() returns ::VZ_EINVAL).
 * @return ::VZ_OK, ::VZ_EINVAL (unknown mode).
 */
VZ_API int vz_config_set_vm_start(vz_config *cfg, vz_vm_start mode);

/**
 * @brief VM backend: the directory that holds templates.
 *
 * If unset, libvz uses `$VZ_TEMPLATE_DIR`, then `/var/cache/libvz/templates` for root
 * and `$XDG_CACHE_HOME/libvz/templates` (or `~/.cache/libvz/templates`) for other
 * users. The directory is created (mode 0700) on first use. Each template is a
 * subdirectory named by a hash of everything that shapes the guest (guest kernel and
 * modules, command line, memory size, vCPU count, device layout, KVM kind, CPUID,
 * libvz build); several processes may use one directory at once, and the first start
 * of a kind makes its template while the others boot cold. A directory that cannot be
 * written, fills up or is deleted while in use makes starts boot cold, never fail.
 * A container refuses a configuration that sets it (::VZ_EINVAL). The path is copied.
 * @return ::VZ_OK, ::VZ_EINVAL (NULL or relative path), ::VZ_ENOMEM.
 */
VZ_API int vz_config_set_vm_templates(vz_config *cfg, const char *dir);

VZ_END_DECLS

#endif /* VZ_CONFIG_H */
