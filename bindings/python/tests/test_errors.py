# SPDX-License-Identifier: MIT
"""Errors: one exception per libvz code, carrying libvz's message; the faithful layer."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

import vz
from vz import lowlevel as ll

CODES = {
    ll.VZ_ERROR: vz.GenericError,
    ll.VZ_ENOMEM: vz.NoMemoryError,
    ll.VZ_EINVAL: vz.InvalidArgumentError,
    ll.VZ_ENOTSUP: vz.NotSupportedError,
    ll.VZ_EPERM: vz.PermissionDeniedError,
    ll.VZ_ENOENT: vz.NotFoundError,
    ll.VZ_ESTATE: vz.StateError,
    ll.VZ_ETIMEDOUT: vz.WaitTimeoutError,
    ll.VZ_EGUEST: vz.GuestError,
    ll.VZ_ECHILD: vz.SetupError,
}


@pytest.mark.parametrize("code", sorted(CODES))
def test_one_class_per_code(code: int) -> None:
    e = vz.errors.from_code(code, "detail", 2)
    assert type(e) is CODES[code] and isinstance(e, vz.Error)
    assert (e.code, e.os_errno, e.message, str(e)) == (code, 2, "detail", "detail")
    assert ll.vz_strerror(code)  # libvz knows every code


def test_builtin_bases() -> None:
    assert issubclass(vz.NotFoundError, FileNotFoundError)
    assert issubclass(vz.PermissionDeniedError, PermissionError)
    assert issubclass(vz.InvalidArgumentError, ValueError)
    assert issubclass(vz.WaitTimeoutError, TimeoutError)
    assert issubclass(vz.StateError, RuntimeError)
    assert issubclass(vz.NoMemoryError, MemoryError)
    assert vz.errors.from_code(-6, "x", 2).errno == 2


def test_reasons_match_libvz() -> None:
    for code in range(ll.VZ_REASON_NONE, ll.VZ_REASON_SETUP_FAILED + 1):
        name = ll.vz_reason_name(code).decode()
        assert vz.sandbox._REASON_BY_CODE[code].value == name


def test_result_struct_size() -> None:
    # Same layout as the C header: 512-byte message at the end, 12 phases of 24 bytes.
    assert ctypes.sizeof(ll.vz_result) == 56 + 12 * 24 + 512
    assert ctypes.sizeof(ll.vz_phase) == 24


def test_backend_names() -> None:
    assert ll.vz_backend_name(ll.VZ_BACKEND_CONTAINER) == b"container"
    assert ll.vz_backend_name(ll.VZ_BACKEND_VM) == b"vm"
    assert set(vz.backends()) == {"container", "vm"}
    for a in vz.backends().values():
        assert a.reason  # what it offers, or why not
        assert bool(a) == a.available == (a.code == 0)
    with pytest.raises(ValueError):
        vz.backend_available("jail")


@pytest.mark.core
def test_invalid_arguments_name_the_value(backend: str) -> None:
    with pytest.raises(vz.InvalidArgumentError, match='"rel/dir" is not an absolute path'):
        vz.Sandbox(["true"], backend=backend, cwd="rel/dir")
    with pytest.raises(vz.InvalidArgumentError, match="hostname"):
        vz.Sandbox(["true"], backend=backend, hostname="bad host!")
    with pytest.raises(vz.InvalidArgumentError):
        vz.Sandbox([""], backend=backend)
    with pytest.raises(ValueError):
        vz.Sandbox([], backend=backend)


@pytest.mark.core
def test_missing_rootfs_and_program(backend: str, rootfs: str) -> None:
    with pytest.raises(vz.NotFoundError, match="rootfs /nonexistent/rootfs") as e:
        vz.run(["true"], backend=backend, rootfs="/nonexistent/rootfs")
    assert e.value.os_errno == 2
    with pytest.raises(vz.NotFoundError) as e:
        vz.run(["no-such-program"], backend=backend, rootfs=rootfs)
    assert "no-such-program" in e.value.message and rootfs in e.value.message
    with pytest.raises(vz.PermissionDeniedError, match="not executable"):
        vz.run(["/etc/passwd"], backend=backend)


def _run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


def test_default_rootfs(backend: str) -> None:
    """No rootfs set and no $VZ_ROOTFS: libvz's installed default, or an error that
    names everything it searched. (A child process: the environment is per process.)"""
    env = {k: v for k, v in os.environ.items() if k != "VZ_ROOTFS"}
    code = ("import vz\n"
            "try:\n"
            f"    print('ok', vz.run(['true'], backend={backend!r}).exit_code)\n"
            "except vz.NotFoundError as e:\n"
            "    print('missing', e.message)\n")
    p = _run_python(code, env)
    assert p.returncode == 0, p.stderr
    if p.stdout.startswith("missing"):
        assert "VZ_ROOTFS" in p.stdout and "/libvz/rootfs" in p.stdout, p.stdout
    else:
        assert p.stdout.strip() == "ok 0"
    env["VZ_ROOTFS"] = "relative/rootfs"
    p = _run_python("import vz\ntry:\n    vz.run(['true'])\n"
                    "except vz.InvalidArgumentError as e:\n    print(e)\n", env)
    assert "$VZ_ROOTFS" in p.stdout and "relative/rootfs" in p.stdout, p.stdout + p.stderr


def test_units() -> None:
    assert vz.parse_size("256M") == 256 << 20
    assert vz.parse_size("1.5g") == 3 << 29
    assert vz.parse_size("64MiB") == vz.parse_size("64mb") == 64 << 20
    assert vz.parse_size(4096) == 4096
    assert vz.parse_duration_ms(10) == 10000
    assert vz.parse_duration_ms("500ms") == 500
    assert vz.parse_duration_ms("2m") == 120000
    assert vz.parse_duration_ms(0.25) == 250
    assert vz.parse_cpus(0.5) == 500 and vz.parse_cpus("2") == 2000
    for bad in ("", "12X", "-1M", "1e3", "0", "M"):
        with pytest.raises(ValueError):
            vz.parse_size(bad)
    for bad in ("10 sec", "-1", "0s", "nan"):
        with pytest.raises(ValueError):
            vz.parse_duration_ms(bad)
    with pytest.raises(TypeError):
        vz.parse_size(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        vz.parse_cpus(float("inf"))
