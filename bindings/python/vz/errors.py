# SPDX-License-Identifier: MIT
"""Exceptions: one class per libvz status code, all subclasses of :class:`Error`.

Each carries libvz's message (which names the object: ``"rootfs /x: No such file or
directory"``), the ``vz_status`` code and the OS errno behind it, if any. Where a
built-in exception means the same thing, the class also derives from it, so
``except FileNotFoundError`` catches :class:`NotFoundError` too.
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, Tuple, Type, cast


class Error(Exception):
    """Base class of every error libvz reports.

    Attributes:
        message: libvz's message, with context.
        code: the negative ``vz_status`` code (e.g. ``-6`` for ``VZ_ENOENT``).
        os_errno: the operating-system errno behind the failure, or 0.
    """

    code: int = -1

    def __init__(self, message: str, code: "int | None" = None, os_errno: int = 0) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.os_errno = os_errno
        if isinstance(self, OSError):
            # OSError's own fields, for code that inspects them.
            oserror = cast(OSError, self)
            if os_errno:
                oserror.errno = os_errno
            oserror.strerror = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.code, self.os_errno))


class GenericError(Error):
    """``VZ_ERROR``: a failure that fits no other code; see the message."""

    code = -1


class NoMemoryError(Error, MemoryError):
    """``VZ_ENOMEM``: out of memory in the calling process."""

    code = -2


class InvalidArgumentError(Error, ValueError):
    """``VZ_EINVAL``: an argument or configuration value is invalid."""

    code = -3


class NotSupportedError(Error):
    """``VZ_ENOTSUP``: this host or backend cannot do what was asked."""

    code = -4


class PermissionDeniedError(Error, PermissionError):
    """``VZ_EPERM``: the OS refused (a missing privilege or permission)."""

    code = -5


class NotFoundError(Error, FileNotFoundError):
    """``VZ_ENOENT``: a named file, directory or program does not exist."""

    code = -6


class StateError(Error, RuntimeError):
    """``VZ_ESTATE``: the call is not valid in the sandbox's current state."""

    code = -7


class WaitTimeoutError(Error, builtins.TimeoutError):
    """``VZ_ETIMEDOUT``: a bounded wait ended before the sandbox did."""

    code = -8


class GuestError(Error):
    """``VZ_EGUEST``: the VM guest misbehaved or failed to boot."""

    code = -9


class SetupError(Error):
    """``VZ_ECHILD``: setting the sandbox up failed inside its child process."""

    code = -10


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (GenericError, NoMemoryError, InvalidArgumentError, NotSupportedError,
                PermissionDeniedError, NotFoundError, StateError, WaitTimeoutError,
                GuestError, SetupError)
}


def from_code(code: int, message: str, os_errno: int = 0) -> Error:
    """The exception for a ``vz_status`` code (:class:`GenericError` for unknown ones)."""
    cls = _BY_CODE.get(code, GenericError)
    return cls(message, code, os_errno)


__all__ = ["Error", "from_code"] + [c.__name__ for c in _BY_CODE.values()]
