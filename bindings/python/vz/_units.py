# SPDX-License-Identifier: MIT
"""Units of the Pythonic layer: sizes ("256M"), durations (seconds or "10s"), CPUs.

The same grammar as the ``vz`` command line: K, M, G and T are binary multiples
(1K = 1024 bytes), and a duration without a unit is in seconds.

Values are converted exactly (no float rounding on the way) to libvz's units, bytes,
milliseconds and millicores, and rounded to the nearest one; a positive value below
that resolution becomes 1 (``timeout=0.0001`` is 1 ms), never 0. The result must fit
libvz's ``int64_t``: 1 to 2**63 - 1, else ``ValueError``. libvz then checks each
limit's own range (e.g. memory at least 1 MiB) and says it in its message.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Union

from ._checks import INT64_MAX

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_MAX_DIGITS = 40  # 2**63 has 19; more (e.g. 5,000 digits) is a mistake or an attack
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TIME_UNITS = {"": 1000, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}

Size = Union[int, str]
"""A size: bytes as an int, or a string such as ``"256M"``, ``"1.5G"``, ``"64MiB"``."""
Duration = Union[int, float, str]
"""A duration: seconds as a number, or a string such as ``"10s"``, ``"500ms"``, ``"2m"``."""


def _positive(value: Fraction, what: str, text: object, unit: str) -> int:
    """``value`` (exact, in libvz's unit) rounded to an int in 1..INT64_MAX."""
    if value <= 0:
        raise ValueError(f"{what} {text!r}: must be greater than 0")
    if value > INT64_MAX:
        raise ValueError(f"{what} {text!r}: too large (at most {INT64_MAX} {unit})")
    return max(1, round(value))  # positive, but below the resolution: the smallest step


def _exact(number: str, what: str, text: object) -> Fraction:
    if len(number) > _MAX_DIGITS:
        raise ValueError(f"{what} {text!r}: too many digits")
    return Fraction(number)


def _real(value: Union[int, float], what: str) -> Fraction:
    if isinstance(value, float) and (value != value or value in (float("inf"),
                                                                 float("-inf"))):
        raise ValueError(f"{what} {value!r}: not a finite number")
    return Fraction(value)


def parse_size(value: Size) -> int:
    """Bytes from an int or a string like ``"256M"`` (K/M/G/T = 1024^n, optional
    ``B`` or ``iB``), 1 to 2**63 - 1. Raises ``TypeError`` for another type (a float
    too: give bytes as an int, or a string such as ``"1.5G"``) and ``ValueError`` for
    anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"memory: expected bytes as an int or a string like '256M', "
                        f"got {type(value).__name__}")
    if isinstance(value, int):
        return _positive(Fraction(value), "memory", value, "bytes")
    m = re.fullmatch(_NUMBER + r"\s*([kmgt]?)(i?b)?", value.strip(), re.IGNORECASE)
    if not m or (m.group(3) and m.group(3).lower() == "ib" and not m.group(2)):
        raise ValueError(f"memory {value!r}: not a size (e.g. 256M, 1G, 1048576)")
    size = _exact(m.group(1), "memory", value) * _SIZE_UNITS[m.group(2).lower()]
    return _positive(size, "memory", value, "bytes")


def parse_duration_ms(value: Duration, what: str = "timeout") -> int:
    """Milliseconds from seconds (a number) or a string like ``"10s"``, ``"500ms"``,
    rounded to the nearest millisecond; a positive duration below 1 ms is 1 ms."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{what}: expected seconds or a string like '10s', "
                        f"got {type(value).__name__}")
    if isinstance(value, (int, float)):
        return _positive(_real(value, what) * 1000, what, value, "ms")
    m = re.fullmatch(_NUMBER + r"\s*(ms|s|m|h)?", value.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(f"{what} {value!r}: not a duration (e.g. 10, 10s, 500ms, 2m)")
    unit = (m.group(2) or "").lower()
    return _positive(_exact(m.group(1), what, value) * _TIME_UNITS[unit], what, value, "ms")


def parse_cpus(value: Union[int, float, str]) -> int:
    """Millicores (libvz's unit) from a number of CPUs, e.g. 0.5 -> 500."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"cpus: expected a number of CPUs, got {type(value).__name__}")
    if isinstance(value, str):
        m = re.fullmatch(_NUMBER, value.strip())
        if not m:
            raise ValueError(f"cpus {value!r}: not a number of CPUs (e.g. 0.5 or 2)")
        cpus = _exact(m.group(1), "cpus", value)
    else:
        cpus = _real(value, "cpus")
    return _positive(cpus * 1000, "cpus", value, "millicores")
