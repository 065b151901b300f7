# SPDX-License-Identifier: MIT
"""The faithful layer: libvz's C API through ctypes, one Python callable per C function.

Everything here mirrors ``<vz/vz.h>``: the same names, the same integer constants, the
same structures (:class:`vz_result`, :class:`vz_phase`, :class:`vz_error`). There are
two additions:

- error handling: a call that returns a negative ``vz_status`` raises the matching
  :class:`vz.Error` subclass with libvz's own message (read from ``vz_error_last()`` on
  the same thread, right after the call), instead of returning the code.
  ``vz_backend_available`` is the exception: it returns its code, since "not available"
  is an answer, not a failure;
- argument checks that ctypes does not make: an int must fit its C type (ctypes would
  keep its low bits, so ``2**32`` would reach a ``uint32_t`` as 0) and is never a float
  or a bool, else ``ValueError`` or ``TypeError`` naming the function and parameter;
  bytes for a ``const char *`` must hold no NUL (C would stop reading there:
  ``ValueError: embedded null byte``), and an int is not taken as an address there.

ctypes releases the GIL around every foreign call, so a thread blocked in
``vz_sandbox_wait`` does not stop other Python threads.

The library is found at import time (see :func:`load_library`); import fails with
:class:`LibraryNotFoundError` or :class:`LibraryVersionError` (both ``ImportError``)
when it is missing or too old.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_uint,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Callable, List, cast

from . import _checks as _check
from . import errors

# ---------------------------------------------------------------------------------------
# Versions this package works with: the ABI major (the SONAME) and the oldest minor.

ABI_MAJOR = 0
"""Major version of libvz this package is written for (``libvz.so.0``)."""
MIN_VERSION = (0, 1, 0)
"""Oldest libvz this package accepts."""

# ---------------------------------------------------------------------------------------
# Constants, as in the headers.

VZ_OK = 0
VZ_ERROR = -1
VZ_ENOMEM = -2
VZ_EINVAL = -3
VZ_ENOTSUP = -4
VZ_EPERM = -5
VZ_ENOENT = -6
VZ_ESTATE = -7
VZ_ETIMEDOUT = -8
VZ_EGUEST = -9
VZ_ECHILD = -10

VZ_STDIN = 0
VZ_STDOUT = 1
VZ_STDERR = 2

VZ_STDIO_INHERIT = 0
VZ_STDIO_NULL = 1
VZ_STDIO_FD = 2
VZ_STDIO_PIPE = 3

VZ_NET_LOOPBACK = 0
VZ_NET_NONE = 1
VZ_NET_HOST = 2

VZ_ROOTFS_EPHEMERAL = 0
VZ_ROOTFS_READONLY = 1
VZ_ROOTFS_PERSISTENT = 2

VZ_BIND_RW = 0
VZ_BIND_RO = 1

VZ_USERNS_AUTO = 0
VZ_USERNS_ON = 1
VZ_USERNS_OFF = 2

VZ_VM_START_RESTORE = 0
VZ_VM_START_COLD = 1

VZ_BACKEND_CONTAINER = 1
VZ_BACKEND_VM = 2

VZ_LIMIT_MEMORY = 1
VZ_LIMIT_CPU = 2
VZ_LIMIT_PIDS = 3
VZ_LIMIT_WALL_TIME = 4
VZ_LIMIT_OPEN_FILES = 5

VZ_REASON_NONE = 0
VZ_REASON_EXITED = 1
VZ_REASON_SIGNALED = 2
VZ_REASON_TIMED_OUT = 3
VZ_REASON_OUT_OF_MEMORY = 4
VZ_REASON_KILLED = 5
VZ_REASON_CRASHED = 6
VZ_REASON_SETUP_FAILED = 7

VZ_LOG_ERROR = 0
VZ_LOG_WARN = 1
VZ_LOG_INFO = 2
VZ_LOG_DEBUG = 3

VZ_MAX_PHASES = 12

# ---------------------------------------------------------------------------------------
# Structures.


class vz_error(Structure):
    """``struct vz_error``: the thread-local detail of the last failure."""

    _fields_ = [("code", c_int), ("os_errno", c_int), ("message", c_char_p)]


class vz_phase(Structure):
    """``struct vz_phase``: one named start-up or tear-down phase."""

    _fields_ = [("name", c_char * 16), ("ns", c_uint64)]


class vz_result(Structure):
    """``struct vz_result``. Create with :func:`new_result`, which sets ``size``."""

    _fields_ = [
        ("size", c_uint32),
        ("reason", c_int32),
        ("exit_code", c_int32),
        ("signal", c_int32),
        ("wall_ns", c_uint64),
        ("user_cpu_ns", c_uint64),
        ("system_cpu_ns", c_uint64),
        ("peak_memory_bytes", c_uint64),
        ("phase_count", c_uint32),
        ("phases", vz_phase * VZ_MAX_PHASES),
        ("message", c_char * 512),
    ]


def new_result() -> vz_result:
    """A zeroed :class:`vz_result` with ``size`` set, ready for ``vz_sandbox_wait``."""
    r = vz_result()
    r.size = ctypes.sizeof(vz_result)
    return r


vz_log_fn = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
"""``vz_log_fn``: ``void (*)(int level, const char *message, void *userdata)``."""

# ---------------------------------------------------------------------------------------
# Finding and loading the library.


class LibraryNotFoundError(ImportError):
    """libvz could not be loaded from any of the places searched."""


class LibraryVersionError(ImportError):
    """The libvz that was found is too old, or of another major version."""


def _source_tree_candidates() -> List[str]:
    """Build trees of the checkout this package sits in (bindings/python/vz/...)."""
    here = Path(__file__).resolve().parent
    for root in here.parents:
        if (root / "include" / "vz" / "vz.h").is_file():
            return [str(root / d / f"libvz.so.{ABI_MAJOR}") for d in ("build", "build-asan")]
    return []


def _candidates() -> List[str]:
    """Where libvz is looked for, in order, after ``$VZ_LIBRARY``."""
    names = [f"libvz.so.{ABI_MAJOR}"]  # the dynamic loader: LD_LIBRARY_PATH, ld.so.cache
    dirs = [os.path.join(sys.prefix, "lib"), "/usr/local/lib", "/usr/local/lib64",
            "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]
    names += [os.path.join(d, f"libvz.so.{ABI_MAJOR}") for d in dict.fromkeys(dirs)]
    return names + _source_tree_candidates()


def check_version(version: int, where: str) -> None:
    """Raise :class:`LibraryVersionError` unless ``version`` (as ``vz_version()``
    returns it: major * 10000 + minor * 100 + patch) suits this package."""
    found = (version // 10000, version // 100 % 100, version % 100)
    need = ".".join(map(str, MIN_VERSION))
    have = ".".join(map(str, found))
    if found[0] != ABI_MAJOR:
        raise LibraryVersionError(
            f"libvz {have} at {where} has major version {found[0]}; this vz package "
            f"needs libvz {ABI_MAJOR}.x, {need} or later")
    if found < MIN_VERSION:
        raise LibraryVersionError(
            f"libvz {have} at {where} is too old; this vz package needs {need} or "
            f"later (install a newer libvz, or point VZ_LIBRARY at one)")


def load_library() -> "tuple[ctypes.CDLL, str]":
    """Load libvz: ``$VZ_LIBRARY`` if set (and only then), else the dynamic loader's
    ``libvz.so.0``, the usual install directories, then the build tree of a source
    checkout. Returns the library and where it came from; checks its version."""
    override = os.environ.get("VZ_LIBRARY")
    tried = []
    for name in [override] if override else _candidates():
        if os.sep in name and not os.path.exists(name):
            tried.append(f"{name}: no such file")
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            tried.append(str(e))
            continue
        lib.vz_version.restype = c_int
        lib.vz_version.argtypes = []
        check_version(lib.vz_version(), name)
        return lib, name
    hint = ("check VZ_LIBRARY" if override else
            "install libvz (tools/setup.sh, or cmake --install build && ldconfig), "
            "or set VZ_LIBRARY to the path of libvz.so")
    raise LibraryNotFoundError(
        "the vz package could not load libvz: " + "; ".join(tried) + "; " + hint)


lib, library_path = load_library()
"""The loaded ``ctypes.CDLL``, and the name or path it was loaded from."""

# ---------------------------------------------------------------------------------------
# Prototypes.


def _raise_last(code: int) -> None:
    e = lib.vz_error_last().contents
    message = (e.message or b"").decode("utf-8", "replace")
    if e.code != code or not message:
        # Not the record of this failure: say what we know rather than a stale message.
        message = lib.vz_strerror(code).decode()
        raise errors.from_code(code, message, 0)
    raise errors.from_code(code, message, e.os_errno)


def _errcheck(result: int, func: Any, args: Any) -> int:
    if result < 0:
        _raise_last(result)
    return result


_INT_TYPES = (c_int, c_int32, c_int64, c_uint, c_uint32, c_uint64)


def _int_range(ctype: Any) -> "tuple[int, int]":
    bits = 8 * ctypes.sizeof(ctype)
    if ctype(-1).value < 0:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _checked(name: str, f: Any, params: "list[tuple[str, Any]]") -> Callable[..., Any]:
    """``f`` behind checks that ctypes does not make: an int argument must fit its C
    type (ctypes would keep its low bits: 2**32 as a ``uint32_t`` is 0), and a bytes
    argument for a ``char *`` must hold no NUL (C would stop reading there)."""
    ints = [(i, p, t, _int_range(t)) for i, (p, t) in enumerate(params) if t in _INT_TYPES]
    strs = [(i, p) for i, (p, t) in enumerate(params) if t is c_char_p]

    def call(*args: Any) -> Any:
        if len(args) == len(params):
            for i, pname, _, (lo, hi) in ints:
                _check.integer(args[i], f"{name}: {pname}", lo, hi)
            for i, pname in strs:
                a = args[i]
                if isinstance(a, bytes):
                    _check.no_nul(a, f"{name}: {pname}")
                elif isinstance(a, (int, str)):  # ctypes would take an int as an address
                    raise TypeError(f"{name}: {pname}: expected bytes or None, got "
                                    f"{type(a).__name__}")
            if name == "vz_config_set_argv" and isinstance(args[2], ctypes.Array) \
                    and args[1] > len(args[2]):
                raise ValueError(f"{name}: argc {args[1]} is more than the "
                                 f"{len(args[2])} strings of argv")
        return f(*args)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = (f"``{name}()`` of libvz, parameters ({', '.join(p for p, _ in params)}); "
                    f"int arguments must fit their C types, bytes ones hold no NUL.")
    call.__wrapped__ = f  # type: ignore[attr-defined]
    return call


def _proto(name: str, restype: Any, params: "list[tuple[str, Any]]",
           check: bool = False) -> Callable[..., Any]:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = [t for _, t in params]
    if check:
        f.errcheck = _errcheck
    if any(t in _INT_TYPES or t is c_char_p for _, t in params):
        return _checked(name, f, params)
    return cast(Callable[..., Any], f)


cfg_p = c_void_p
sb_p = c_void_p
_CFG = ("cfg", cfg_p)
_SB = ("sb", sb_p)

vz_version = _proto("vz_version", c_int, [])
vz_version_string = _proto("vz_version_string", c_char_p, [])
vz_error_last = _proto("vz_error_last", POINTER(vz_error), [])
vz_error_clear = _proto("vz_error_clear", None, [])
vz_strerror = _proto("vz_strerror", c_char_p, [("code", c_int)])

vz_config_new = _proto("vz_config_new", c_int, [("out", POINTER(c_void_p))], True)
vz_config_free = _proto("vz_config_free", None, [_CFG])
vz_config_set_rootfs = _proto("vz_config_set_rootfs", c_int, [_CFG, ("path", c_char_p)], True)
vz_config_set_rootfs_mode = _proto("vz_config_set_rootfs_mode", c_int,
                                   [_CFG, ("mode", c_int), ("upper_dir", c_char_p)], True)
vz_config_set_argv = _proto("vz_config_set_argv", c_int,
                            [_CFG, ("argc", c_int), ("argv", POINTER(c_char_p))], True)
vz_config_setenv = _proto("vz_config_setenv", c_int,
                          [_CFG, ("name", c_char_p), ("value", c_char_p)], True)
vz_config_clearenv = _proto("vz_config_clearenv", c_int, [_CFG], True)
vz_config_set_cwd = _proto("vz_config_set_cwd", c_int, [_CFG, ("path", c_char_p)], True)
vz_config_set_hostname = _proto("vz_config_set_hostname", c_int,
                                [_CFG, ("hostname", c_char_p)], True)
vz_config_set_user = _proto("vz_config_set_user", c_int,
                            [_CFG, ("uid", c_uint32), ("gid", c_uint32)], True)
vz_config_add_bind = _proto("vz_config_add_bind", c_int,
                            [_CFG, ("host_path", c_char_p), ("sandbox_path", c_char_p),
                             ("flags", c_uint)], True)
vz_config_set_stdio = _proto("vz_config_set_stdio", c_int,
                             [_CFG, ("stream", c_int), ("mode", c_int), ("fd", c_int)], True)
vz_config_set_network = _proto("vz_config_set_network", c_int, [_CFG, ("mode", c_int)], True)
vz_config_set_userns = _proto("vz_config_set_userns", c_int, [_CFG, ("mode", c_int)], True)
vz_config_set_kernel = _proto("vz_config_set_kernel", c_int, [_CFG, ("path", c_char_p)], True)
vz_config_set_kernel_cmdline = _proto("vz_config_set_kernel_cmdline", c_int,
                                      [_CFG, ("cmdline", c_char_p)], True)
vz_config_set_kernel_modules = _proto("vz_config_set_kernel_modules", c_int,
                                      [_CFG, ("dir", c_char_p)], True)
vz_config_set_vm_start = _proto("vz_config_set_vm_start", c_int, [_CFG, ("mode", c_int)], True)
vz_config_set_vm_templates = _proto("vz_config_set_vm_templates", c_int,
                                    [_CFG, ("dir", c_char_p)], True)

vz_backend_available = _proto("vz_backend_available", c_int,
                              [("backend", c_int), ("why", POINTER(c_char_p))])
vz_backend_name = _proto("vz_backend_name", c_char_p, [("backend", c_int)])
vz_reason_name = _proto("vz_reason_name", c_char_p, [("reason", c_int)])

vz_sandbox_create = _proto("vz_sandbox_create", c_int,
                           [("out", POINTER(c_void_p)), ("backend", c_int), _CFG], True)
vz_sandbox_limit = _proto("vz_sandbox_limit", c_int,
                          [_SB, ("kind", c_int), ("value", c_int64)], True)
vz_sandbox_prepare = _proto("vz_sandbox_prepare", c_int, [_SB], True)
vz_sandbox_make_template = _proto("vz_sandbox_make_template", c_int, [_SB], True)
vz_vm_templates_drop = _proto("vz_vm_templates_drop", c_int, [("dir", c_char_p)], True)
vz_sandbox_start = _proto("vz_sandbox_start", c_int, [_SB], True)
vz_sandbox_wait = _proto("vz_sandbox_wait", c_int,
                         [_SB, ("timeout_ms", c_int), ("result", POINTER(vz_result))], True)
vz_sandbox_kill = _proto("vz_sandbox_kill", c_int, [_SB, ("sig", c_int)], True)
vz_sandbox_stdio_fd = _proto("vz_sandbox_stdio_fd", c_int, [_SB, ("stream", c_int)], True)
vz_sandbox_close_stdio = _proto("vz_sandbox_close_stdio", c_int, [_SB, ("stream", c_int)],
                                True)
vz_sandbox_pid = _proto("vz_sandbox_pid", c_int, [_SB], True)
vz_sandbox_free = _proto("vz_sandbox_free", None, [_SB])

vz_log_set_callback = _proto("vz_log_set_callback", None,
                             [("fn", vz_log_fn), ("max_level", c_int), ("userdata", c_void_p)])


def version_string() -> str:
    """``vz_version_string()`` of the loaded library, e.g. ``"0.1.0"``."""
    version: bytes = vz_version_string()
    return version.decode()


def backend_available(backend: int) -> "tuple[int, str]":
    """``vz_backend_available()``: its code (``VZ_OK`` when available) and reason."""
    why = c_char_p()
    rc = vz_backend_available(backend, ctypes.byref(why))
    text = (why.value or b"").decode("utf-8", "replace")
    if rc < 0 and not text:
        text = (vz_error_last().contents.message or b"").decode("utf-8", "replace")
    return rc, text


__all__ = [n for n in dir() if n.startswith(("vz_", "VZ_"))] + [
    "ABI_MAJOR", "MIN_VERSION", "LibraryNotFoundError", "LibraryVersionError",
    "backend_available", "check_version", "lib", "library_path", "load_library",
    "new_result", "version_string",
]
