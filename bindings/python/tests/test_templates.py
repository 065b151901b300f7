# SPDX-License-Identifier: MIT
"""VM templates: ``vm_start=`` and ``templates=``, :meth:`vz.Sandbox.make_template` and
:func:`vz.drop_templates`. All but the last test need no KVM: the values are checked by
the binding or refused by libvz when it creates a container."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

import pytest

import vz
from vz import lowlevel as ll

from conftest import need_backend


@pytest.fixture
def cfg() -> Any:
    h = ctypes.c_void_p()
    ll.vz_config_new(ctypes.byref(h))
    yield h.value
    ll.vz_config_free(h.value)


def vm_backend_built() -> bool:
    return "not built" not in vz.backend_available("vm").reason


# -- vm_start= and templates= ----------------------------------------------------------


@pytest.mark.parametrize("value", ["fast", "COLD", "", 1, True, b"cold"])
def test_vm_start_values_are_checked(value: Any) -> None:
    with pytest.raises(ValueError, match=r"vm_start .*: use 'restore' or 'cold'"):
        vz.Sandbox(["true"], vm_start=value)


def test_templates_nul_is_refused() -> None:
    with pytest.raises(ValueError, match="templates: embedded null byte"):
        vz.Sandbox(["true"], templates="/tmp/a\0b")


def test_keywords_reach_the_config(rootfs: str, tmp_path: Path) -> None:
    """libvz sees them: a container refuses both VM settings at create."""
    with pytest.raises(vz.InvalidArgumentError, match="cold VM start"):
        vz.Sandbox(["true"], rootfs=rootfs, vm_start="cold")
    with pytest.raises(vz.InvalidArgumentError,
                       match=f"vz_config_set_vm_templates {tmp_path}"):
        vz.Sandbox(["true"], rootfs=rootfs, templates=tmp_path)
    with pytest.raises(vz.InvalidArgumentError, match="cold VM start"):
        vz.run(["true"], rootfs=rootfs, vm_start="cold")  # through run()'s keywords
    # A relative directory is made absolute, as the other paths are.
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        with pytest.raises(vz.InvalidArgumentError, match=f"templates {tmp_path}/rel"):
            vz.Sandbox(["true"], rootfs=rootfs, templates="rel")
    finally:
        os.chdir(cwd)
    # "restore" is the default, which a container takes.
    vz.Sandbox(["true"], rootfs=rootfs, vm_start="restore").close()


def test_lowlevel_setters(cfg: Any) -> None:
    assert (ll.VZ_VM_START_RESTORE, ll.VZ_VM_START_COLD) == (0, 1)
    ll.vz_config_set_vm_start(cfg, ll.VZ_VM_START_COLD)
    ll.vz_config_set_vm_start(cfg, ll.VZ_VM_START_RESTORE)
    with pytest.raises(vz.InvalidArgumentError, match="vz_config_set_vm_start: unknown mode 7"):
        ll.vz_config_set_vm_start(cfg, 7)
    with pytest.raises(ValueError, match="vz_config_set_vm_start: mode 4294967296 is out"):
        ll.vz_config_set_vm_start(cfg, 2**32)
    ll.vz_config_set_vm_templates(cfg, b"/tmp/vz-templates")
    with pytest.raises(vz.InvalidArgumentError, match="vz_config_set_vm_templates"):
        ll.vz_config_set_vm_templates(cfg, b"relative")
    with pytest.raises(ValueError, match="vz_config_set_vm_templates: dir: embedded null"):
        ll.vz_config_set_vm_templates(cfg, b"/a\0b")


# -- make_template() -------------------------------------------------------------------


def test_make_template_refused_by_a_container(rootfs: str) -> None:
    with vz.Sandbox(["true"], rootfs=rootfs) as sb:
        with pytest.raises(vz.NotSupportedError, match="no templates; they are for VMs"):
            sb.make_template()
    with pytest.raises(vz.StateError, match="closed"):
        sb.make_template()


def test_make_template_after_start(container: str) -> None:
    with vz.Sandbox(["true"]) as sb:
        sb.start()
        with pytest.raises(vz.StateError, match="already started"):
            sb.make_template()
        assert sb.wait().ok


# -- drop_templates() ------------------------------------------------------------------


SLOT = "0123456789abcdef"
DROPPED = [SLOT, f".{SLOT}.lock", "fedcba9876543210.unsupported",
           f".tmp-{SLOT}-123-0", f".{SLOT}.unsupported.42"]
KEPT = ["notes.txt", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdeg",
        f"{SLOT}0", ".lock", ".tmp-other", "keep"]


def fake_layout(root: Path) -> None:
    """What libvz writes into a template directory (src/kvm/template.h), and other
    files that are not libvz's."""
    for d in (SLOT, f".tmp-{SLOT}-123-0"):
        (root / d).mkdir()
        for f in ("state", "memory"):
            (root / d / f).write_bytes(b"x")
    for f in (f".{SLOT}.lock", "fedcba9876543210.unsupported", f".{SLOT}.unsupported.42",
              "notes.txt", f"{SLOT}0", ".lock"):
        (root / f).write_text("x\n")
    for d in ("0123456789ABCDEF", "0123456789abcde", "0123456789abcdeg", ".tmp-other",
              "keep"):
        (root / d).mkdir()
        (root / d / "state").write_text("mine\n")


def test_drop_templates_empty_and_missing(tmp_path: Path) -> None:
    assert vz.drop_templates(tmp_path) is None
    assert tmp_path.is_dir() and not list(tmp_path.iterdir())
    vz.drop_templates(str(tmp_path / "does-not-exist"))
    ll.vz_vm_templates_drop(os.fsencode(tmp_path))
    with pytest.raises(vz.InvalidArgumentError, match="not an absolute path"):
        ll.vz_vm_templates_drop(b"relative")


def test_drop_templates_removes_only_libvz_entries(tmp_path: Path) -> None:
    if not vm_backend_built():
        pytest.skip("the VM backend is not built into this libvz (drop does nothing)")
    fake_layout(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(DROPPED + KEPT)
    vz.drop_templates(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(KEPT)
    assert (tmp_path / "keep" / "state").read_text() == "mine\n"
    # Relative to the current directory.
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / f".{SLOT}.lock").write_text("")
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        vz.drop_templates("sub")
    finally:
        os.chdir(cwd)
    assert not list(sub.iterdir())


def test_drop_templates_error_names_the_path(tmp_path: Path) -> None:
    if not vm_backend_built():
        pytest.skip("the VM backend is not built into this libvz (drop does nothing)")
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(vz.GenericError, match=str(f)):
        vz.drop_templates(f)


# -- with a VM -------------------------------------------------------------------------


@pytest.mark.core
def test_make_template_then_restore(tmp_path: Path) -> None:
    """The one VM test: a template made ahead, then a start that restores from it."""
    need_backend("vm")
    if os.environ.get("VZ_TEST_VM_BOOTS") == "0":
        pytest.skip("VZ_TEST_VM_BOOTS=0: no guest boots in this run")
    templates = tmp_path / "templates"
    try:
        with vz.Sandbox(["true"], backend="vm", templates=templates, memory="256M") as sb:
            assert sb.make_template() is sb
            assert sb.pid is None  # the sandbox itself is not started
        assert any(len(p.name) == 16 and (p / "state").is_file()
                   for p in templates.iterdir())
        r = vz.run(["sh", "-c", "echo restored"], backend="vm", templates=templates,
                   memory="256M", timeout=600)
        assert r.ok and r.stdout == b"restored\n", r
        assert "restore" in r.phases and "boot" not in r.phases, r.phases
        with vz.Sandbox(["true"], backend="vm", templates=templates,
                        vm_start="cold") as sb:
            with pytest.raises(vz.InvalidArgumentError, match="cold starts"):
                sb.make_template()
    finally:
        vz.drop_templates(templates)
    assert not [p for p in templates.iterdir() if len(p.name) == 16]
