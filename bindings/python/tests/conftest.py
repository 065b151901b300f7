# SPDX-License-Identifier: MIT
"""Shared fixtures of the binding tests.

Run them against an installed libvz, as ctest does (tests/bindings.cmake):

    VZ_LIBRARY=$PREFIX/lib/libvz.so.0 VZ_ROOTFS=build/rootfs \\
        PYTHONPATH=bindings/python python3 -m pytest bindings/python/tests

Every test that runs a sandbox takes the ``backend`` fixture and so runs once per
backend; a backend this host cannot run is skipped with libvz's reason, unless
``VZ_TEST_REQUIRE`` names it ("container", or "kvm" for the VM), which turns the skip
into a failure. When every test skipped, pytest exits 77 (ctest's skip code).

A VM boots a Linux kernel for every sandbox. On a kvm_pvm host (software
virtualization: guest kernel mode is emulated) a boot takes about a minute or more, so
there only the tests marked ``core`` run on the VM backend, and the rest run on the
container backend alone. ``VZ_TEST_VM_ALL=1`` runs every test on the VM anyway; ``0``
keeps to the core ones on any host.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import vz

BACKENDS = ["container", "vm"]
FEATURE = {"container": "container", "vm": "kvm"}  # names used by VZ_TEST_REQUIRE
REPO = Path(__file__).resolve().parents[3]


def required(feature: str) -> bool:
    """Whether VZ_TEST_REQUIRE forbids skipping for lack of @feature."""
    return feature in [f.strip() for f in os.environ.get("VZ_TEST_REQUIRE", "").split(",")]


def skip_unless(feature: str, reason: str) -> None:
    """Skip with @reason, or fail when the feature is required."""
    if required(feature):
        pytest.fail(f"required feature {feature} unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def need_backend(name: str) -> str:
    """Skip (or fail, see VZ_TEST_REQUIRE) unless @name can run here."""
    a = vz.backend_available(name)
    if not a:
        skip_unless(FEATURE[name], f"{name} backend unavailable: {a.reason}")
    return name


def vm_boots_slowly() -> bool:
    """Whether only the core tests should run on the VM backend (see above)."""
    forced = os.environ.get("VZ_TEST_VM_ALL")
    if forced in ("0", "1"):
        return forced == "0"
    return os.path.exists("/sys/module/kvm_pvm")


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
    """Each backend in turn; skipped with libvz's reason where it cannot run."""
    name = need_backend(request.param)
    if name == "vm" and os.environ.get("VZ_TEST_VM_BOOTS") == "0":
        pytest.skip("VZ_TEST_VM_BOOTS=0: no guest boots in this run (tools/test.sh sets it "
                    "for the sanitizer build; the plain build boots them)")
    if name == "vm" and vm_boots_slowly() and not request.node.get_closest_marker("core"):
        pytest.skip("vm boots take minutes on this kvm_pvm host: only the core tests run "
                    "on it (VZ_TEST_VM_ALL=1 runs all)")
    return name


@pytest.fixture
def container() -> str:
    """The container backend, for tests of container-only behaviour."""
    return need_backend("container")


@pytest.fixture(scope="session")
def rootfs() -> str:
    """The busybox rootfs of the tests ($VZ_ROOTFS)."""
    path = os.environ.get("VZ_ROOTFS")
    if not path:
        pytest.fail("VZ_ROOTFS is not set: point it at a busybox rootfs (build/rootfs)",
                    pytrace=False)
    return path


@pytest.fixture
def cgroups() -> None:
    """Memory, CPU and pids limits need cgroups: root, or a cgroup delegated to us."""
    if os.geteuid() != 0:
        pytest.skip(f"cgroup limits need root or a cgroup delegated to uid {os.geteuid()}")


@pytest.fixture
def slow(backend: str) -> float:
    """A generous time factor: a VM boots a kernel (emulated on kvm_pvm hosts)."""
    return 20.0 if backend == "vm" else 1.0


def pytest_report_header(config: pytest.Config) -> str:
    return (f"libvz {vz.library_version()} from {vz.lowlevel.library_path}; "
            f"VZ_ROOTFS={os.environ.get('VZ_ROOTFS', '(unset)')}; python {sys.executable}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    own = getattr(session.config, "_vz_own_templates", None)
    if own:
        import shutil
        shutil.rmtree(own, ignore_errors=True)
    # Everything skipped is a skip for ctest (77), not a pass.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    stats = reporter.stats
    if stats.get("skipped") and not stats.get("passed") and not stats.get("failed"):
        session.exitstatus = 77
