# SPDX-License-Identifier: MIT
"""Checks of the values the binding hands to C, so that none is wrapped or cut.

ctypes converts a Python int to a C integer by keeping its low bits (``2**32`` becomes
0 as a ``uint32_t``) and a ``bytes`` object to a ``char *`` that C reads up to its
first NUL (``b"a\\0b"`` is ``"a"``). Both would turn a value the caller did not mean
into one libvz accepts. Everything that crosses into C goes through these checks
first, and a value that does not fit raises ``ValueError`` or ``TypeError`` naming the
parameter and what it takes.
"""

from __future__ import annotations

import operator
import os
from typing import Any

INT_MAX = 2**31 - 1
"""Largest C ``int``."""
INT64_MAX = 2**63 - 1
"""Largest ``int64_t``."""
ID_MAX = 2**32 - 2
"""Largest uid or gid: ``(uint32_t)-1`` means "no id" to the kernel, so it is none."""
SIGNAL_MAX = 64
"""Largest signal number libvz's ``vz_sandbox_kill`` takes (Linux's SIGRTMAX)."""


def as_int(value: Any, what: str) -> int:
    """``value`` as an int, else ``TypeError``: a float, a bool or a string is never
    truncated or parsed. Ints and what implements ``__index__`` (numpy integers,
    ``IntEnum`` members) are accepted."""
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected an int, got a bool ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what}: expected an int, got {type(value).__name__} "
                        f"({value!r})") from None


def integer(value: Any, what: str, lo: int, hi: int) -> int:
    """``value`` as an int (see :func:`as_int`) in ``lo..hi``, else ``ValueError``:
    never wrapped to fit."""
    n = as_int(value, what)
    if not lo <= n <= hi:
        raise ValueError(f"{what} {n} is out of range ({lo}..{hi})")
    return n


def no_nul(data: bytes, what: str) -> bytes:
    """``data`` unless it holds a NUL byte, which C would take for its end."""
    if b"\0" in data:
        raise ValueError(f"{what}: embedded null byte")
    return data


def path_bytes(value: Any, what: str) -> bytes:
    """A str, bytes or path-like as the bytes C gets (``os.fsencode``), without NULs."""
    try:
        data = os.fsencode(value)
    except TypeError:
        raise TypeError(f"{what}: expected str, bytes or os.PathLike, got "
                        f"{type(value).__name__}") from None
    return no_nul(data, what)


def text_bytes(value: Any, what: str) -> bytes:
    """A str (as UTF-8) or bytes, without NULs."""
    if isinstance(value, str):
        data = value.encode()
    elif isinstance(value, bytes):
        data = value
    else:
        raise TypeError(f"{what}: expected str or bytes, got {type(value).__name__}")
    return no_nul(data, what)


def seconds(value: Any, what: str) -> "float | None":
    """A bound on a call in seconds (``wait``, ``communicate``): None or +inf for none, a
    negative number as 0; a bool, a string or NaN is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what}: expected seconds as a number or None, got "
                        f"{type(value).__name__}")
    try:
        t = float(value)
    except OverflowError:  # an int too large for a float: no bound in practice
        return None if value > 0 else 0.0
    if t != t:
        raise ValueError(f"{what}: NaN is not a number of seconds")
    if t == float("inf"):
        return None
    return max(0.0, t)
