# SPDX-License-Identifier: MIT
"""Units of the Pythonic layer: sizes ("256M"), durations (seconds or "10s"), CPUs.

The same grammar as the ``vz`` command line: K, M, G and T are binary multiples
(1K = 1024 bytes), and a duration without a unit is in seconds.
"""

from __future__ import annotations

import re
from typing import Union

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TIME_UNITS = {"": 1000.0, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}

Size = Union[int, str]
"""A size: bytes as an int, or a string such as ``"256M"``, ``"1.5G"``, ``"64MiB"``."""
Duration = Union[int, float, str]
"""A duration: seconds as a number, or a string such as ``"10s"``, ``"500ms"``, ``"2m"``."""


def _positive(value: float, what: str, text: object) -> int:
    n = round(value)
    if n < 1:
        raise ValueError(f"{what} {text!r}: must be greater than 0")
    if n >= 2**63:
        raise ValueError(f"{what} {text!r}: too large")
    return n


def parse_size(value: Size) -> int:
    """Bytes from an int or a string like ``"256M"`` (K/M/G/T = 1024^n, optional
    ``B`` or ``iB``). Raises ``ValueError`` on anything else or a value below 1."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"memory: expected bytes as an int or a string like '256M', "
                        f"got {type(value).__name__}")
    if isinstance(value, int):
        return _positive(value, "memory", value)
    m = re.fullmatch(_NUMBER + r"\s*([kmgt]?)(i?b)?", value.strip(), re.IGNORECASE)
    if not m or (m.group(3) and m.group(3).lower() == "ib" and not m.group(2)):
        raise ValueError(f"memory {value!r}: not a size (e.g. 256M, 1G, 1048576)")
    return _positive(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()], "memory", value)


def parse_duration_ms(value: Duration, what: str = "timeout") -> int:
    """Milliseconds from seconds (a number) or a string like ``"10s"``, ``"500ms"``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{what}: expected seconds or a string like '10s', "
                        f"got {type(value).__name__}")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{what} {value!r}: not a finite number")
        return _positive(value * 1000.0, what, value)
    m = re.fullmatch(_NUMBER + r"\s*(ms|s|m|h)?", value.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(f"{what} {value!r}: not a duration (e.g. 10, 10s, 500ms, 2m)")
    unit = (m.group(2) or "").lower()
    return _positive(float(m.group(1)) * _TIME_UNITS[unit], what, value)


def parse_cpus(value: Union[int, float, str]) -> int:
    """Millicores (libvz's unit) from a number of CPUs, e.g. 0.5 -> 500."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"cpus: expected a number of CPUs, got {type(value).__name__}")
    try:
        cpus = float(value)
    except ValueError:
        raise ValueError(f"cpus {value!r}: not a number of CPUs (e.g. 0.5 or 2)") from None
    if cpus != cpus or cpus in (float("inf"), float("-inf")):
        raise ValueError(f"cpus {value!r}: not a finite number")
    return _positive(cpus * 1000.0, "cpus", value)
