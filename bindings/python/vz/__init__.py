# SPDX-License-Identifier: MIT
"""Python bindings of libvz: run a program in a container or a KVM virtual machine.

Quick start::

    import vz

    r = vz.run(["sh", "-c", "echo hello; uname -n"], memory="256M", timeout=10)
    print(r.reason, r.exit_code, r.stdout)        # exited 0 b'hello\\nvz\\n'

    with vz.Sandbox(["cat"], stdin=vz.PIPE, stdout=vz.PIPE) as sb:
        sb.start()
        out, _ = sb.communicate(b"ping")
        print(sb.wait().exit_code, out)

The package loads libvz with ctypes at import (``$VZ_LIBRARY`` overrides where from)
and refuses a library that is missing or too old with an ``ImportError`` that says
so. :mod:`vz.lowlevel` is the faithful one-to-one layer over the C API.
"""

from . import lowlevel
from .errors import (Error, GenericError, GuestError, InvalidArgumentError, NoMemoryError,
                     NotFoundError, NotSupportedError, PermissionDeniedError, SetupError,
                     StateError, WaitTimeoutError)
from .lowlevel import LibraryNotFoundError, LibraryVersionError
from .sandbox import (DEVNULL, INHERIT, PIPE, Availability, Backend, Bind, Limit, Reason,
                      Result, Sandbox, Stdio, backend_available, backends, drop_templates,
                      library_version, run)
from ._units import parse_cpus, parse_duration_ms, parse_size

__version__ = "0.1.0"
"""Version of this Python package."""

__all__ = [
    "Availability", "Backend", "Bind", "DEVNULL", "Error", "GenericError", "GuestError",
    "INHERIT", "InvalidArgumentError", "LibraryNotFoundError", "LibraryVersionError",
    "Limit", "NoMemoryError", "NotFoundError", "NotSupportedError", "PIPE",
    "PermissionDeniedError", "Reason", "Result", "Sandbox", "SetupError", "StateError",
    "Stdio", "WaitTimeoutError", "backend_available", "backends", "drop_templates",
    "library_version", "lowlevel", "parse_cpus", "parse_duration_ms", "parse_size", "run",
]
