# SPDX-License-Identifier: MIT
"""Finding libvz, and refusing one that is missing or too old."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import vz
from vz import lowlevel as ll


def _import_vz(env: dict) -> subprocess.CompletedProcess:
    code = "import vz, vz.lowlevel as l; print(l.library_path, vz.library_version())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


def test_version() -> None:
    assert vz.library_version() == ll.version_string()
    v = ll.vz_version()
    assert v // 10000 == ll.ABI_MAJOR
    assert (v // 10000, v // 100 % 100, v % 100) >= ll.MIN_VERSION
    assert vz.__version__


def test_too_old_or_other_major() -> None:
    with pytest.raises(vz.LibraryVersionError, match="too old"):
        ll.check_version(9, "/x/libvz.so.0")  # 0.0.9
    with pytest.raises(vz.LibraryVersionError, match="major version 1"):
        ll.check_version(10100, "/x/libvz.so.1")
    assert issubclass(vz.LibraryVersionError, ImportError)
    ll.check_version(ll.vz_version(), "loaded")


def test_missing_library_is_a_clear_import_error() -> None:
    env = dict(os.environ, VZ_LIBRARY="/nonexistent/libvz.so.0")
    p = _import_vz(env)
    assert p.returncode != 0
    assert "LibraryNotFoundError" in p.stderr
    assert "/nonexistent/libvz.so.0" in p.stderr and "VZ_LIBRARY" in p.stderr


def test_found_through_the_dynamic_loader() -> None:
    """Without VZ_LIBRARY, libvz.so.0 comes from the loader's search path."""
    installed = os.environ.get("VZ_LIBRARY")
    if not installed:
        pytest.skip("VZ_LIBRARY is not set: nothing to compare with")
    env = {k: v for k, v in os.environ.items() if k != "VZ_LIBRARY"}
    env["LD_LIBRARY_PATH"] = os.path.dirname(os.path.abspath(installed))
    p = _import_vz(env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [f"libvz.so.{ll.ABI_MAJOR}", vz.library_version()]
