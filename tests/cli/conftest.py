# SPDX-License-Identifier: MIT
"""Fixtures of the `vz` command-line tests (tests/bindings.cmake runs them against the
installed binary: VZ_CLI=$PREFIX/bin/vz, VZ_ROOTFS=build/rootfs).

The tests drive the binary as a user would and judge it by its exit status and output.
The backend each test runs on comes from `vz check --backend B` (exit status 0 when
libvz says it is available); VZ_TEST_REQUIRE turns a skip for a missing "container" or
"kvm" into a failure. As in bindings/python/tests, only the tests marked ``core`` run on
the VM backend of a kvm_pvm host, where each boot takes minutes (VZ_TEST_VM_ALL=1: all).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import List, Optional

import pytest

BACKENDS = ["container", "vm"]
FEATURE = {"container": "container", "vm": "kvm"}


def vz_binary() -> str:
    path = os.environ.get("VZ_CLI") or shutil.which("vz")
    if not path:
        pytest.fail("set VZ_CLI to the vz binary under test", pytrace=False)
    return path


def run_vz(*args: str, input: Optional[bytes] = None, env: Optional[dict] = None,
           timeout: float = 120, cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run vz with @args; stdin is /dev/null unless @input is given."""
    return subprocess.run([vz_binary(), *args], input=input,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, env=env, timeout=timeout, cwd=cwd)


def required(feature: str) -> bool:
    return feature in [f.strip() for f in os.environ.get("VZ_TEST_REQUIRE", "").split(",")]


_available: dict = {}


def available(backend: str) -> "tuple[bool, str]":
    """(available, the line `vz check` prints for it)."""
    if backend not in _available:
        p = run_vz("check", "--backend", backend, timeout=60)
        line = next((l.strip()[len(backend):].strip() for l in p.stdout.decode().splitlines()
                     if l.strip().startswith(backend + " ")), "")
        _available[backend] = (p.returncode == 0, line)
    return _available[backend]


def vm_boots_slowly() -> bool:
    forced = os.environ.get("VZ_TEST_VM_ALL")
    if forced in ("0", "1"):
        return forced == "0"
    return os.path.exists("/sys/module/kvm_pvm")


def need(backend: str, request: pytest.FixtureRequest) -> str:
    ok, line = available(backend)
    if not ok:
        reason = f"{backend} backend unavailable: {line}"
        if required(FEATURE[backend]):
            pytest.fail(f"required feature {FEATURE[backend]} unavailable: {line}",
                        pytrace=False)
        pytest.skip(reason)
    if backend == "vm" and os.environ.get("VZ_TEST_VM_BOOTS") == "0":
        pytest.skip("VZ_TEST_VM_BOOTS=0: no guest boots in this run (tools/test.sh sets it "
                    "for the sanitizer build; the plain build boots them)")
    if backend == "vm" and vm_boots_slowly() and not request.node.get_closest_marker("core"):
        pytest.skip("vm boots take minutes on this kvm_pvm host: only the core tests run "
                    "on it (VZ_TEST_VM_ALL=1 runs all)")
    return backend


def pytest_configure(config: pytest.Config) -> None:
    # VM templates of this session only, so no result depends on an earlier run's
    # cache and none is left in the machine's (removed at the end of the session).
    if "VZ_TEMPLATE_DIR" not in os.environ:
        import tempfile
        os.environ["VZ_TEMPLATE_DIR"] = tempfile.mkdtemp(prefix="vz-tmpl-")
        config._vz_own_templates = os.environ["VZ_TEMPLATE_DIR"]
    config.addinivalue_line("markers", "core: also runs on the VM backend of slow hosts")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return need(request.param, request)


@pytest.fixture
def container(request: pytest.FixtureRequest) -> str:
    return need("container", request)


@pytest.fixture
def vm(request: pytest.FixtureRequest) -> str:
    return need("vm", request)


@pytest.fixture
def cgroups() -> None:
    """Memory, CPU and pids limits need cgroups: root, or a cgroup delegated to us."""
    if os.geteuid() != 0:
        pytest.skip(f"cgroup limits need root or a cgroup delegated to uid {os.geteuid()}")


@pytest.fixture
def slow(backend: str) -> float:
    return 20.0 if backend == "vm" else 1.0


def vz_run_args(backend: str, *args: str) -> List[str]:
    return ["run", "--backend", backend, *args]


def pytest_report_header(config: pytest.Config) -> str:
    return f"vz binary: {os.environ.get('VZ_CLI') or shutil.which('vz')}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    own = getattr(session.config, "_vz_own_templates", None)
    if own:
        import shutil
        shutil.rmtree(own, ignore_errors=True)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    stats = reporter.stats
    if stats.get("skipped") and not stats.get("passed") and not stats.get("failed"):
        session.exitstatus = 77
