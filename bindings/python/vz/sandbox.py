# SPDX-License-Identifier: MIT
"""The Pythonic layer: :class:`Sandbox`, :func:`run`, :class:`Result` and friends.

Every decision about what a sandbox is belongs to libvz; this module only turns Python
values into libvz calls (sizes, seconds, paths, file objects) and libvz's answers into
Python objects.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import math
import os
import re
import selectors
import signal as _signal
import threading
import time
from dataclasses import dataclass, field, replace
from typing import (IO, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from . import _checks, errors
from . import lowlevel as ll
from ._checks import INT64_MAX, INT_MAX, path_bytes, text_bytes
from ._units import Duration, Size, parse_cpus, parse_duration_ms, parse_size

StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# ---------------------------------------------------------------------------------------
# Enumerations.


class Backend(enum.IntEnum):
    """The isolation technology (``vz_backend``)."""

    CONTAINER = ll.VZ_BACKEND_CONTAINER
    """Linux namespaces, an overlay root file system and cgroups."""
    VM = ll.VZ_BACKEND_VM
    """A KVM virtual machine that boots its own Linux kernel."""

    def __str__(self) -> str:
        return self.name.lower()


class Reason(str, enum.Enum):
    """Why a sandbox ended (``vz_reason``); the values are libvz's names, so
    ``result.reason == "timed out"`` works as well as ``is Reason.TIMED_OUT``."""

    NONE = "none"
    EXITED = "exited"
    SIGNALED = "signaled"
    TIMED_OUT = "timed out"
    OUT_OF_MEMORY = "out of memory"
    KILLED = "killed"
    CRASHED = "crashed"
    SETUP_FAILED = "setup failed"

    def __str__(self) -> str:
        return self.value


_REASON_BY_CODE = {
    ll.VZ_REASON_NONE: Reason.NONE,
    ll.VZ_REASON_EXITED: Reason.EXITED,
    ll.VZ_REASON_SIGNALED: Reason.SIGNALED,
    ll.VZ_REASON_TIMED_OUT: Reason.TIMED_OUT,
    ll.VZ_REASON_OUT_OF_MEMORY: Reason.OUT_OF_MEMORY,
    ll.VZ_REASON_KILLED: Reason.KILLED,
    ll.VZ_REASON_CRASHED: Reason.CRASHED,
    ll.VZ_REASON_SETUP_FAILED: Reason.SETUP_FAILED,
}


class Limit(enum.IntEnum):
    """Resource limits for :meth:`Sandbox.limit` in libvz's raw units (``vz_limit``)."""

    MEMORY = ll.VZ_LIMIT_MEMORY
    """Bytes."""
    CPU = ll.VZ_LIMIT_CPU
    """Millicores (1000 = one CPU)."""
    PIDS = ll.VZ_LIMIT_PIDS
    """Processes and threads."""
    WALL_TIME = ll.VZ_LIMIT_WALL_TIME
    """Milliseconds from start."""
    OPEN_FILES = ll.VZ_LIMIT_OPEN_FILES
    """Open files per process."""


class Stdio(enum.Enum):
    """Where a standard stream of the sandboxed program goes (besides a file)."""

    INHERIT = "inherit"
    """This process's own fd 0, 1 or 2."""
    DEVNULL = "devnull"
    """/dev/null."""
    PIPE = "pipe"
    """A pipe, read or written through :attr:`Sandbox.stdin` / ``stdout`` / ``stderr``."""


INHERIT = Stdio.INHERIT
DEVNULL = Stdio.DEVNULL
PIPE = Stdio.PIPE

StdioSpec = Union[Stdio, None, int, IO[Any]]
"""A stream: :data:`INHERIT` (or None), :data:`DEVNULL`, :data:`PIPE`, a file
descriptor, or a file object with ``fileno()`` (libvz keeps its own duplicate)."""

_NETWORKS = {"loopback": ll.VZ_NET_LOOPBACK, "none": ll.VZ_NET_NONE, "host": ll.VZ_NET_HOST}
_VM_STARTS = {"restore": ll.VZ_VM_START_RESTORE, "cold": ll.VZ_VM_START_COLD}
_USERNS = {"auto": ll.VZ_USERNS_AUTO, "on": ll.VZ_USERNS_ON, "off": ll.VZ_USERNS_OFF,
           True: ll.VZ_USERNS_ON, False: ll.VZ_USERNS_OFF}
_LIMIT_NAMES = {"memory": Limit.MEMORY, "cpu": Limit.CPU, "pids": Limit.PIDS,
                "wall_time": Limit.WALL_TIME, "open_files": Limit.OPEN_FILES}

# ---------------------------------------------------------------------------------------
# Records.


@dataclass(frozen=True)
class Bind:
    """A bind mount of a host path into the sandbox (both backends)."""

    source: str
    """Host path (made absolute against the current directory)."""
    target: str
    """Absolute path inside the sandbox."""
    readonly: bool = False
    """Mount it read-only."""


BindSpec = Union[Bind, str, Tuple[Any, ...]]
"""A bind: :class:`Bind`, ``"SRC:DST[:ro|rw]"``, ``(src, dst)`` or
``(src, dst, readonly)`` where ``readonly`` is a bool, ``"ro"`` or ``"rw"``."""


@dataclass(frozen=True)
class Result:
    """How a sandbox ended and what it cost (``vz_result``), plus captured output.

    Times are in seconds, memory in bytes.
    """

    backend: str
    """``"container"`` or ``"vm"``."""
    reason: Reason
    """Why it ended; exact, from what libvz observed (not guessed from the code)."""
    exit_code: int
    """0-255 when it exited; otherwise 128 + the signal, as shells report it."""
    signal: int
    """The signal that ended the program, or 0."""
    message: str
    """The set-up failure or crash text, or ``""``."""
    wall_time: float
    """From start until the end was seen."""
    user_cpu_time: float
    """User CPU time of everything that ran in the sandbox."""
    system_cpu_time: float
    """System CPU time of the same."""
    peak_memory: int
    """Peak memory (the cgroup's high-water mark, else the largest process RSS)."""
    phases: Dict[str, float] = field(default_factory=dict)
    """Start-up and tear-down phases in order, name to duration (libvz's names)."""
    stdout: Optional[bytes] = None
    """Captured standard output (:func:`run` with ``capture=True``), else None."""
    stderr: Optional[bytes] = None
    """Captured standard error, likewise."""

    @property
    def cpu_time(self) -> float:
        """User plus system CPU time."""
        return self.user_cpu_time + self.system_cpu_time

    @property
    def ok(self) -> bool:
        """True if the program exited by itself with status 0."""
        return self.reason is Reason.EXITED and self.exit_code == 0


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run on this host (``vz_backend_available``). Truthy when
    it can."""

    backend: str
    """The backend's name."""
    available: bool
    """True if sandboxes of this backend can run here."""
    reason: str
    """What the host offers when available, or an actionable reason when not."""
    code: int = 0
    """``VZ_OK``, or the ``vz_status`` saying why not."""

    def __bool__(self) -> bool:
        return self.available


# ---------------------------------------------------------------------------------------
# Conversions.


def _backend(value: Union[Backend, str, int]) -> Backend:
    if isinstance(value, str):
        try:
            return Backend[value.upper()]
        except KeyError:
            raise ValueError(f"backend {value!r}: use 'container' or 'vm'") from None
    n = _checks.integer(value, "backend", min(Backend), max(Backend))
    return Backend(n)


def _abs(value: StrPath, what: str) -> bytes:
    """A host path made absolute, as bytes for C (checked for NULs first)."""
    return os.fsencode(os.path.abspath(os.fsdecode(path_bytes(value, what))))


def _bind(spec: BindSpec) -> Bind:
    if isinstance(spec, Bind):
        return spec
    if isinstance(spec, str):
        parts = spec.split(":")
        if len(parts) == 3 and parts[2] in ("ro", "rw"):
            return Bind(parts[0], parts[1], parts[2] == "ro")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"bind {spec!r}: expected 'SRC:DST[:ro|rw]'")
        return Bind(parts[0], parts[1])
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        mode = spec[2] if len(spec) == 3 else False
        if isinstance(mode, bool):
            readonly = mode
        elif mode in ("ro", "rw"):
            readonly = mode == "ro"
        else:
            raise ValueError(f"bind {spec!r}: the third item is a bool, 'ro' or 'rw'")
        return Bind(os.fsdecode(spec[0]), os.fsdecode(spec[1]), readonly)
    raise TypeError(f"bind {spec!r}: expected a vz.Bind, 'SRC:DST[:ro|rw]' or a tuple")


def _id(value: Any, what: str) -> int:
    return _checks.integer(value, what, 0, _checks.ID_MAX)


def _user(value: Union[int, Tuple[int, int], str]) -> Tuple[int, int]:
    """(uid, gid), each 0..2**32-2: (uint32_t)-1 is no id, and nothing may wrap."""
    if isinstance(value, str):
        m = re.fullmatch(r"([0-9]{1,20})(?::([0-9]{1,20}))?", value.strip())
        if not m:
            raise ValueError(f"user {value!r}: expected 'UID' or 'UID:GID'")
        uid = _id(int(m.group(1)), "user: uid")
        return uid, _id(int(m.group(2)), "user: gid") if m.group(2) else uid
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"user {value!r}: expected (uid, gid)")
        return _id(value[0], "user: uid"), _id(value[1], "user: gid")
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"user: expected a uid, (uid, gid) or 'uid:gid', got "
                        f"{type(value).__name__}")
    uid = _id(value, "user: uid")
    return uid, uid


def _argv(argv: Union[StrPath, Sequence[StrPath]]) -> List[bytes]:
    if isinstance(argv, (str, bytes, os.PathLike)):
        # one program without arguments, as subprocess takes it
        return [path_bytes(argv, "argv[0]")]
    out = [path_bytes(a, f"argv[{i}]") for i, a in enumerate(argv)]
    if not out:
        raise ValueError("argv is empty")
    return out


def _env_name(name: Any) -> bytes:
    data = path_bytes(name, "env: variable name")
    if not data or b"=" in data:
        raise ValueError(f"env: variable name {name!r}: must be non-empty, without '='")
    return data


_STREAMS = ("stdin", "stdout", "stderr")


def _stdio_mode(spec: StdioSpec, stream: str) -> Tuple[int, int]:
    """(vz_stdio_mode, fd) for a stream spec; ``stream`` names it in errors."""
    if spec is None or spec is Stdio.INHERIT:
        return ll.VZ_STDIO_INHERIT, -1
    if spec is Stdio.DEVNULL:
        return ll.VZ_STDIO_NULL, -1
    if spec is Stdio.PIPE:
        return ll.VZ_STDIO_PIPE, -1
    if isinstance(spec, bool):
        raise TypeError(f"{stream}: a bool is not a stream")
    if isinstance(spec, int):
        return ll.VZ_STDIO_FD, _fd(spec, stream)
    if hasattr(spec, "fileno"):
        if hasattr(spec, "flush"):
            spec.flush()  # what Python buffered goes before the sandbox's output
        return ll.VZ_STDIO_FD, _fd(spec.fileno(), f"{stream} (fileno())")
    raise TypeError(f"{stream}: expected vz.INHERIT, vz.DEVNULL, vz.PIPE, an fd or a "
                    f"file, got {type(spec).__name__}")


def _fd(fd: Any, what: str) -> int:
    """A file descriptor for C's ``int``: 0..INT_MAX, never wrapped (-1 is no fd)."""
    n = _checks.as_int(fd, f"{what}: fd")
    if not 0 <= n <= INT_MAX:
        raise ValueError(f"{what}: fd {n} is not a file descriptor (0..{INT_MAX})")
    return n


def _to_result(backend: Backend, r: ll.vz_result) -> Result:
    phases = {}
    for i in range(min(r.phase_count, ll.VZ_MAX_PHASES)):
        phases[r.phases[i].name.decode("utf-8", "replace")] = r.phases[i].ns / 1e9
    return Result(
        backend=str(backend),
        reason=_REASON_BY_CODE.get(r.reason, Reason.NONE),
        exit_code=r.exit_code,
        signal=r.signal,
        message=r.message.decode("utf-8", "replace"),
        wall_time=r.wall_ns / 1e9,
        user_cpu_time=r.user_cpu_ns / 1e9,
        system_cpu_time=r.system_cpu_ns / 1e9,
        peak_memory=r.peak_memory_bytes,
        phases=phases,
    )


def _limits(memory: Optional[Size], cpus: Optional[Union[float, str]], pids: Optional[int],
            timeout: Optional[Duration], open_files: Optional[int]) -> List[Tuple[Limit, int]]:
    out = []
    if memory is not None:
        out.append((Limit.MEMORY, parse_size(memory)))
    if cpus is not None:
        out.append((Limit.CPU, parse_cpus(cpus)))
    if pids is not None:
        out.append((Limit.PIDS, _limit_value(pids, "pids")))
    if timeout is not None:
        out.append((Limit.WALL_TIME, parse_duration_ms(timeout)))
    if open_files is not None:
        out.append((Limit.OPEN_FILES, _limit_value(open_files, "open_files")))
    return out


def _limit_value(value: Any, what: str) -> int:
    """A raw limit for C's ``int64_t``: an int, never a float, never wrapped. libvz
    itself refuses 0 and below, and what is beyond the kind's own range, with a
    message that gives the range (:class:`InvalidArgumentError`)."""
    n = _checks.as_int(value, what)
    if not -INT64_MAX - 1 <= n <= INT64_MAX:
        raise ValueError(f"{what} {n} is out of range (1..{INT64_MAX})")
    return n


def _limit_kind(kind: Union[Limit, str, int]) -> Limit:
    if isinstance(kind, str):
        if kind not in _LIMIT_NAMES:
            raise ValueError(f"limit {kind!r}: use one of {', '.join(_LIMIT_NAMES)}")
        return _LIMIT_NAMES[kind]
    n = _checks.integer(kind, "limit kind", min(Limit), max(Limit))
    return Limit(n)


@contextlib.contextmanager
def _config() -> Iterator[int]:
    handle = ctypes.c_void_p()
    ll.vz_config_new(ctypes.byref(handle))
    try:
        yield handle.value  # type: ignore[misc]
    finally:
        ll.vz_config_free(handle)


# ---------------------------------------------------------------------------------------
# Sandbox.


class Sandbox:
    """One sandbox: created (validated, nothing runs) by the constructor, then
    :meth:`limit`, :meth:`start`, :meth:`wait` or :meth:`communicate`, :meth:`close`.

    Use it as a context manager: leaving the block closes it, which kills what still
    runs and removes everything the sandbox created (``vz_sandbox_free``).

    Streams configured as :data:`PIPE` are file objects after :meth:`start`:
    :attr:`stdin` (binary, writable; closing it sends end-of-file), :attr:`stdout` and
    :attr:`stderr` (binary, readable). Read both output pipes together (e.g. with
    :meth:`communicate`) or a program that fills one of them blocks.

    Threads: use one sandbox from one thread at a time, except that :meth:`kill` and
    :meth:`wait` may be called from any thread, also while another waits. Blocking calls
    release the GIL, so many sandboxes can run at once from many threads.

    Args:
        argv: the program and its arguments; ``argv[0]`` is looked up along PATH inside
            the rootfs. A single string is one program without arguments.
        backend: ``"container"`` (default) or ``"vm"``.
        rootfs: the root file system directory (never modified). Default: libvz's
            (``$VZ_ROOTFS``, then the installed default rootfs).
        env: variables to set on top of the default environment (only ``PATH``); a
            value of None removes a variable.
        clear_env: start from an empty environment (not even ``PATH``).
        cwd: working directory inside the sandbox.
        hostname: the sandbox's host name.
        user: uid, ``(uid, gid)`` or ``"uid:gid"`` inside the sandbox, each 0 to
            2**32 - 2 (``(uint32_t)-1`` is not an id).
        binds: bind mounts (both backends), see :data:`BindSpec`.
        network: ``"loopback"`` (default), ``"none"`` or ``"host"`` (container only).
        readonly: read-only root file system.
        upper_dir: keep the root file system's writes in this host directory.
        userns: container backend: ``"auto"`` (default), ``"on"`` or ``"off"``.
        kernel: VM backend: the guest kernel (default: ``$VZ_KERNEL``, then installed).
        kernel_cmdline: VM backend: extra guest kernel command line.
        kernel_modules: VM backend: the guest kernel's ``/lib/modules/RELEASE``, for a
            kernel whose virtio drivers are modules (default: ``$VZ_KERNEL_MODULES``,
            or found from a kernel file named ``vmlinuz-RELEASE``).
        vm_start: VM backend: ``"restore"`` (default: start from a template, made by the
            first start of its kind) or ``"cold"`` (always boot the guest kernel). A
            container refuses ``"cold"`` (:class:`InvalidArgumentError`).
        templates: VM backend: the template directory (default: ``$VZ_TEMPLATE_DIR``,
            then ``/var/cache/libvz/templates`` for root, else the user's cache). A
            container refuses it.
        stdin, stdout, stderr: see :data:`StdioSpec`; default :data:`INHERIT`.
        memory: memory limit, bytes or a size such as ``"256M"``.
        cpus: CPU limit in CPUs, e.g. ``0.5``.
        pids: at most this many processes and threads (an int).
        timeout: wall-time limit in seconds (or ``"10s"``); then the sandbox is killed
            and its reason is :attr:`Reason.TIMED_OUT`. Rounded to the millisecond; a
            positive timeout below 1 ms is 1 ms.
        open_files: open files per process (an int).

    Raises:
        Error: the subclass for libvz's code, e.g. :class:`NotFoundError` when the
            rootfs or ``argv[0]`` does not exist, with libvz's message.
        ValueError, TypeError: a value the binding refuses before libvz sees it: an
            integer that does not fit its C type or is not an int (a float, a bool),
            or a string with a NUL byte (``"embedded null byte"``); nothing is ever
            wrapped, truncated or cut.
    """

    def __init__(
        self,
        argv: Union[StrPath, Sequence[StrPath]],
        *,
        backend: Union[Backend, str] = Backend.CONTAINER,
        rootfs: Optional[StrPath] = None,
        env: Optional[Mapping[str, Optional[str]]] = None,
        clear_env: bool = False,
        cwd: Optional[str] = None,
        hostname: Optional[str] = None,
        user: Optional[Union[int, Tuple[int, int], str]] = None,
        binds: Iterable[BindSpec] = (),
        network: Optional[str] = None,
        readonly: bool = False,
        upper_dir: Optional[StrPath] = None,
        userns: Optional[Union[str, bool]] = None,
        kernel: Optional[StrPath] = None,
        kernel_cmdline: Optional[str] = None,
        kernel_modules: Optional[StrPath] = None,
        vm_start: Optional[str] = None,
        templates: Optional[StrPath] = None,
        stdin: StdioSpec = INHERIT,
        stdout: StdioSpec = INHERIT,
        stderr: StdioSpec = INHERIT,
        memory: Optional[Size] = None,
        cpus: Optional[Union[float, str]] = None,
        pids: Optional[int] = None,
        timeout: Optional[Duration] = None,
        open_files: Optional[int] = None,
    ) -> None:
        self._handle: Optional[int] = None
        self._cond = threading.Condition()
        self._active = 0
        self._closing = False
        self._started = False
        self._comm: Optional[Dict[str, Any]] = None
        self.backend: Backend = _backend(backend)
        """The sandbox's backend."""
        self.stdin: Optional[IO[bytes]] = None
        """Writable end of the program's stdin when it is :data:`PIPE`, after start."""
        self.stdout: Optional[IO[bytes]] = None
        """Readable end of the program's stdout when it is :data:`PIPE`, after start."""
        self.stderr: Optional[IO[bytes]] = None
        """Readable end of the program's stderr when it is :data:`PIPE`, after start."""
        self._pipes = [s is Stdio.PIPE for s in (stdin, stdout, stderr)]
        limits = _limits(memory, cpus, pids, timeout, open_files)
        with _config() as cfg:
            ll.vz_config_set_argv(cfg, *self._c_argv(_argv(argv)))
            if rootfs is not None:
                ll.vz_config_set_rootfs(cfg, _abs(rootfs, "rootfs"))
            if readonly or upper_dir is not None:
                mode = ll.VZ_ROOTFS_PERSISTENT if upper_dir is not None else ll.VZ_ROOTFS_READONLY
                if readonly and upper_dir is not None:
                    raise ValueError("readonly and upper_dir exclude each other")
                ll.vz_config_set_rootfs_mode(
                    cfg, mode, None if upper_dir is None else _abs(upper_dir, "upper_dir"))
            if clear_env:
                ll.vz_config_clearenv(cfg)
            for name, value in (env or {}).items():
                c_name = _env_name(name)
                c_value = (None if value is None
                           else path_bytes(value, f"env[{os.fsdecode(c_name)!r}]"))
                ll.vz_config_setenv(cfg, c_name, c_value)
            if cwd is not None:
                ll.vz_config_set_cwd(cfg, path_bytes(cwd, "cwd"))
            if hostname is not None:
                ll.vz_config_set_hostname(cfg, text_bytes(hostname, "hostname"))
            if user is not None:
                ll.vz_config_set_user(cfg, *_user(user))
            for b in map(_bind, binds):
                ll.vz_config_add_bind(cfg, _abs(b.source, "bind source"),
                                      path_bytes(b.target, "bind target"),
                                      ll.VZ_BIND_RO if b.readonly else ll.VZ_BIND_RW)
            if network is not None:
                if network not in _NETWORKS:
                    raise ValueError(f"network {network!r}: use 'loopback', 'none' or 'host'")
                ll.vz_config_set_network(cfg, _NETWORKS[network])
            if userns is not None:
                if not isinstance(userns, (str, bool)) or userns not in _USERNS:
                    raise ValueError(f"userns {userns!r}: use 'auto', 'on' or 'off'")
                ll.vz_config_set_userns(cfg, _USERNS[userns])
            if kernel is not None:
                ll.vz_config_set_kernel(cfg, _abs(kernel, "kernel"))
            if kernel_cmdline is not None:
                ll.vz_config_set_kernel_cmdline(cfg, text_bytes(kernel_cmdline,
                                                                "kernel_cmdline"))
            if kernel_modules is not None:
                ll.vz_config_set_kernel_modules(cfg, _abs(kernel_modules, "kernel_modules"))
            if vm_start is not None:
                if not isinstance(vm_start, str) or vm_start not in _VM_STARTS:
                    raise ValueError(f"vm_start {vm_start!r}: use 'restore' or 'cold'")
                ll.vz_config_set_vm_start(cfg, _VM_STARTS[vm_start])
            if templates is not None:
                ll.vz_config_set_vm_templates(cfg, _abs(templates, "templates"))
            for stream, spec in enumerate((stdin, stdout, stderr)):
                name = _STREAMS[stream]
                mode, fd = _stdio_mode(spec, name)
                try:
                    ll.vz_config_set_stdio(cfg, stream, mode, fd)
                except errors.Error as e:  # e.g. a closed fd: say which stream it was for
                    raise type(e)(f"{name}: {e.message}", e.code, e.os_errno) from None
            handle = ctypes.c_void_p()
            ll.vz_sandbox_create(ctypes.byref(handle), int(self.backend), cfg)
            self._handle = handle.value
        try:
            for kind, amount in limits:
                self.limit(kind, amount)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _c_argv(argv: List[bytes]) -> Tuple[int, Any]:
        return len(argv), (ctypes.c_char_p * len(argv))(*argv)

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"pid={self.pid}"
        return f"<vz.Sandbox {self.backend} {state}>"

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @contextlib.contextmanager
    def _use(self) -> Iterator[int]:
        """The handle, held open against a concurrent :meth:`close`."""
        with self._cond:
            if self._handle is None or self._closing:
                raise errors.StateError("the sandbox is closed", ll.VZ_ESTATE)
            self._active += 1
            handle = self._handle
        try:
            yield handle
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    # -- life cycle ------------------------------------------------------------------

    def limit(self, kind: Union[Limit, str, None] = None, value: Optional[int] = None, *,
              memory: Optional[Size] = None, cpus: Optional[Union[float, str]] = None,
              pids: Optional[int] = None, timeout: Optional[Duration] = None,
              open_files: Optional[int] = None) -> "Sandbox":
        """Set resource limits; only before :meth:`start`.

        Either one raw limit, ``limit(vz.Limit.MEMORY, 256 << 20)`` (libvz's units:
        bytes, millicores, count, ms, count), or keywords in the Pythonic units of the
        constructor: ``limit(memory="256M", cpus=0.5, timeout=10)``.

        A limit the host cannot enforce makes :meth:`start` fail; it is never dropped.

        Raises:
            InvalidArgumentError: a value out of range (libvz's message says the range).
            StateError: already started.
        """
        todo = _limits(memory, cpus, pids, timeout, open_files)
        if kind is not None:
            if value is None:
                raise TypeError("limit(kind, value): value is missing")
            which = _limit_kind(kind)
            todo.insert(0, (which, _limit_value(value, f"limit {which.name.lower()}")))
        with self._use() as h:
            for k, v in todo:
                ll.vz_sandbox_limit(h, int(k), v)
        return self

    def prepare(self) -> "Sandbox":
        """Set the sandbox up ahead of time: all that :meth:`start` does but run the
        program, so that a later :meth:`start` is only the last step (for a server that
        keeps some ready). Optional; set limits first. The wall-time limit counts from
        :meth:`start`.

        For a VM the guest boots here and waits for its job.

        Raises:
            SetupError: set-up failed inside the sandbox (or the guest's boot).
            StateError: already prepared or started.
        """
        with self._use() as h:
            ll.vz_sandbox_prepare(h)
        return self

    def make_template(self) -> "Sandbox":
        """VM backend: make, ahead of :meth:`start`, the template this sandbox's start
        would restore from (``vz_sandbox_make_template``): a guest of this configuration
        and limits boots once and is saved into the template directory; the sandbox
        itself stays unstarted. A matching template already there is kept. Later starts
        of sandboxes of the same kind, in any process, restore from it (their
        :attr:`Result.phases` hold ``"restore"``). Set limits first; chains.

        Raises:
            NotSupportedError: a container, or this host's KVM cannot save a VM.
            InvalidArgumentError: the sandbox asks for cold starts (``vm_start="cold"``).
            StateError: already prepared or started.
            GenericError: the template could not be written.
        """
        with self._use() as h:
            ll.vz_sandbox_make_template(h)
        return self

    def start(self) -> "Sandbox":
        """Start the program; returns once it runs (never waits for it to end).

        Raises:
            SetupError: set-up failed inside the sandbox (the message names the step).
            NotSupportedError, PermissionDeniedError: a limit or feature this host
                cannot provide.
            StateError: already started.
        """
        with self._use() as h:
            ll.vz_sandbox_start(h)
            self._started = True
            for stream, piped in enumerate(self._pipes):
                if piped:
                    self._take_pipe(h, stream)
        return self

    def _take_pipe(self, h: int, stream: int) -> None:
        # Our own duplicate, and libvz's end closed at once: the file object alone owns
        # the pipe, so closing it is what sends end-of-file.
        fd = os.dup(ll.vz_sandbox_stdio_fd(h, stream))
        ll.vz_sandbox_close_stdio(h, stream)
        if stream == ll.VZ_STDIN:
            self.stdin = os.fdopen(fd, "wb")
        elif stream == ll.VZ_STDOUT:
            self.stdout = os.fdopen(fd, "rb")
        else:
            self.stderr = os.fdopen(fd, "rb")

    def wait(self, timeout: Optional[float] = None) -> Result:
        """Wait for the end and return the :class:`Result` (without captured output).

        Args:
            timeout: seconds to wait at most (a number); None or ``inf`` waits until the
                end, 0 or less only looks. This bounds the call only; the sandbox's
                own limit is the ``timeout`` limit.

        Raises:
            WaitTimeoutError: still running after ``timeout`` seconds.
            StateError: never started.
        """
        res = ll.new_result()
        bound = _checks.seconds(timeout, "wait: timeout")
        deadline = None if bound is None else time.monotonic() + bound
        with self._use() as h:
            while True:
                if deadline is None:
                    ms = -1
                else:
                    ms = min(INT_MAX, max(0, math.ceil((deadline - time.monotonic()) * 1000)))
                try:
                    ll.vz_sandbox_wait(h, ms, ctypes.byref(res))
                    break
                except errors.WaitTimeoutError:
                    if deadline is None or time.monotonic() >= deadline:
                        raise
        return _to_result(self.backend, res)

    def poll(self) -> Optional[Result]:
        """The :class:`Result` if the sandbox has ended, else None (never blocks)."""
        try:
            return self.wait(0)
        except errors.WaitTimeoutError:
            return None

    def kill(self, sig: int = _signal.SIGKILL) -> None:
        """Send a signal to the sandboxed program (default SIGKILL, which ends the whole
        sandbox). A program that dies of it ends as :attr:`Reason.KILLED`.

        Raises:
            ValueError: ``sig`` is not 1 to 64 (``TypeError``: not an int).
            StateError: not started, or already ended.
        """
        sig = _checks.integer(sig, "kill: signal", 1, _checks.SIGNAL_MAX)
        with self._use() as h:
            ll.vz_sandbox_kill(h, sig)

    def terminate(self) -> None:
        """Send SIGTERM (a graceful stop: then :meth:`wait` with a timeout, then
        :meth:`kill`)."""
        self.kill(_signal.SIGTERM)

    @property
    def pid(self) -> Optional[int]:
        """Host pid of the sandbox's supervised child while it runs, else None."""
        with self._cond:
            h = None if self._closing else self._handle
        if h is None:
            return None
        try:
            with self._use() as handle:
                return int(ll.vz_sandbox_pid(handle))
        except errors.StateError:
            return None

    def close(self) -> None:
        """Free the sandbox (``vz_sandbox_free``): kill what still runs, remove every
        process, mount and cgroup it made, close its pipes. Idempotent. A wait blocked
        in another thread is ended first (by SIGKILL)."""
        with self._cond:
            if self._handle is None or self._closing:
                return
            self._closing = True
            h = self._handle
            if self._active:
                with contextlib.suppress(errors.Error):
                    ll.vz_sandbox_kill(h, _signal.SIGKILL)
            while self._active:
                self._cond.wait()
        ll.vz_sandbox_free(h)
        with self._cond:
            self._handle = None
        for f in (self.stdin, self.stdout, self.stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()

    # -- streams ---------------------------------------------------------------------

    def communicate(self, input: Optional[Union[bytes, str]] = None,
                    timeout: Optional[float] = None) -> Tuple[Optional[bytes], Optional[bytes]]:
        """Write ``input`` to a piped stdin (then close it), and read piped stdout and
        stderr to their end, all at once so that no pipe can fill up and block the
        program. Returns ``(stdout, stderr)``; None for a stream that is not piped.

        Args:
            input: bytes (or str, encoded as UTF-8) for stdin; needs ``stdin=PIPE``.
            timeout: seconds at most; on :class:`WaitTimeoutError` nothing is lost, and
                calling again continues.

        Raises:
            WaitTimeoutError: the streams were still open after ``timeout`` seconds.
            StateError: not started (or the sandbox is closed).
        """
        bound = _checks.seconds(timeout, "communicate: timeout")
        if not self._started or self._handle is None:
            raise errors.StateError("communicate: the sandbox is not started",
                                    ll.VZ_ESTATE)
        if self._comm is None:
            self._comm = self._comm_start(input)
        elif input is not None and not self._comm["input_taken"]:
            raise ValueError("communicate: input was already given")
        c = self._comm
        deadline = None if bound is None else time.monotonic() + bound
        with selectors.DefaultSelector() as sel:
            for f, events in c["files"].items():
                if not f.closed:
                    sel.register(f, events)
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise errors.WaitTimeoutError(
                        f"communicate: the sandbox's streams were still open after "
                        f"{timeout} s", ll.VZ_ETIMEDOUT)
                for key, _ in sel.select(left):
                    if key.fileobj is self.stdin:
                        self._comm_write(sel, c)
                    else:
                        self._comm_read(sel, key.fileobj)  # type: ignore[arg-type]
        out = b"".join(c["chunks"][1]) if self._pipes[1] else None
        err = b"".join(c["chunks"][2]) if self._pipes[2] else None
        return out, err

    def _comm_start(self, input: Optional[Union[bytes, str]]) -> Dict[str, Any]:
        if input is not None and self.stdin is None:
            raise ValueError("communicate: input needs stdin=vz.PIPE")
        if isinstance(input, str):
            input = input.encode()
        files: Dict[Any, int] = {}
        if self.stdin is not None and not self.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.flush()
            if input:
                os.set_blocking(self.stdin.fileno(), False)
                files[self.stdin] = selectors.EVENT_WRITE
            else:
                with contextlib.suppress(BrokenPipeError):
                    self.stdin.close()
        for f in (self.stdout, self.stderr):
            if f is not None and not f.closed:
                files[f] = selectors.EVENT_READ
        return {"files": files, "input": memoryview(input or b""), "offset": 0,
                "input_taken": True, "chunks": {1: [], 2: []}}

    def _comm_write(self, sel: selectors.BaseSelector, c: Dict[str, Any]) -> None:
        assert self.stdin is not None
        view, off = c["input"], c["offset"]
        try:
            c["offset"] = off + os.write(self.stdin.fileno(), view[off:off + 65536])
        except BlockingIOError:
            return
        except BrokenPipeError:
            c["offset"] = len(view)  # the program stopped reading: not an error
        if c["offset"] >= len(view):
            sel.unregister(self.stdin)
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()

    def _comm_read(self, sel: selectors.BaseSelector, f: IO[bytes]) -> None:
        data = os.read(f.fileno(), 65536)
        if data:
            self._comm["chunks"][1 if f is self.stdout else 2].append(data)  # type: ignore[index]
        else:
            sel.unregister(f)
            f.close()


# ---------------------------------------------------------------------------------------
# Module-level functions.


def run(
    argv: Union[StrPath, Sequence[StrPath]],
    *,
    backend: Union[Backend, str] = Backend.CONTAINER,
    rootfs: Optional[StrPath] = None,
    memory: Optional[Size] = None,
    cpus: Optional[Union[float, str]] = None,
    pids: Optional[int] = None,
    timeout: Optional[Duration] = None,
    open_files: Optional[int] = None,
    env: Optional[Mapping[str, Optional[str]]] = None,
    cwd: Optional[str] = None,
    hostname: Optional[str] = None,
    binds: Iterable[BindSpec] = (),
    input: Optional[Union[bytes, str]] = None,
    capture: bool = True,
    stdin: StdioSpec = None,
    stdout: StdioSpec = None,
    stderr: StdioSpec = None,
    **options: Any,
) -> Result:
    """Run ``argv`` in a sandbox to its end and return its :class:`Result`.

    With ``capture=True`` (the default) stdout and stderr are collected into
    ``result.stdout`` and ``result.stderr``; both pipes are drained together, so large
    outputs on both never deadlock. ``input`` is written to the program's stdin, which
    is otherwise /dev/null (pass ``stdin=vz.INHERIT`` to share this process's).

    ``timeout`` is the sandbox's wall-time limit: when it passes, the sandbox is
    killed and ``result.reason`` is :attr:`Reason.TIMED_OUT` (no exception). The
    other arguments are those of :class:`Sandbox` (``user``, ``network``,
    ``readonly``, ``kernel``, ``vm_start``, ``templates``, ... may be given as keywords
    too).

    Example::

        r = vz.run(["sh", "-c", "echo hello"], memory="256M", timeout=10)
        assert r.exit_code == 0 and r.stdout == b"hello\\n"

    Raises:
        Error: libvz refused or failed to create or start the sandbox (e.g.
            :class:`NotFoundError` for a missing program, :class:`SetupError`).
    """
    if input is not None:
        if stdin is not None:
            raise ValueError("run: give either input or stdin, not both")
        stdin = PIPE
    elif stdin is None:
        stdin = DEVNULL
    out_default = PIPE if capture else INHERIT
    with Sandbox(argv, backend=backend, rootfs=rootfs, env=env, cwd=cwd, hostname=hostname,
                 binds=binds, stdin=stdin,
                 stdout=out_default if stdout is None else stdout,
                 stderr=out_default if stderr is None else stderr, memory=memory, cpus=cpus,
                 pids=pids, timeout=timeout, open_files=open_files, **options) as sb:
        sb.start()
        out, err = sb.communicate(input)
        return replace(sb.wait(), stdout=out, stderr=err)


def drop_templates(directory: Optional[StrPath] = None) -> None:
    """Remove every VM template in ``directory`` (``vz_vm_templates_drop``); None: the
    default template directory (see :class:`Sandbox`'s ``templates``). Only what libvz
    made there goes; a directory that does not exist is no error. VMs restored from a
    removed template keep running. A relative path is made absolute.

    Raises:
        GenericError: a file could not be removed (the message names it).
    """
    ll.vz_vm_templates_drop(None if directory is None else _abs(directory, "directory"))


def backend_available(backend: Union[Backend, str] = Backend.CONTAINER) -> Availability:
    """Whether this host can run sandboxes of ``backend``, and why not
    (``vz_backend_available``). The result is truthy when it can::

        vm = vz.backend_available("vm")
        if not vm:
            print("no VM here:", vm.reason)
    """
    b = _backend(backend)
    rc, why = ll.backend_available(int(b))
    return Availability(str(b), rc == ll.VZ_OK, why, rc)


def backends() -> Dict[str, Availability]:
    """:func:`backend_available` for every backend, by name."""
    return {str(b): backend_available(b) for b in Backend}


def library_version() -> str:
    """The version of the loaded libvz, e.g. ``"0.1.0"``."""
    return ll.version_string()
