# SPDX-License-Identifier: MIT
"""`pip install ./bindings/python` works (offline, into a fresh virtual environment),
and the example runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def test_pip_install(tmp_path: Path, container: str) -> None:
    try:
        import ensurepip  # noqa: F401
        import setuptools  # noqa: F401
        import venv  # noqa: F401
    except ImportError as e:
        pytest.skip(f"no {e.name} for this Python (apt-get install python3-venv python3-pip)")
    env_dir = tmp_path / "venv"
    # System site packages give pip the setuptools to build with, so nothing is
    # downloaded (--no-build-isolation --no-index).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)],
                   check=True, timeout=300)
    py = env_dir / "bin" / "python"
    # A copy: setuptools writes build/ and *.egg-info next to the sources.
    src = shutil.copytree(REPO / "bindings" / "python", tmp_path / "src",
                          ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-build-isolation",
                    "--no-index", "--no-deps", str(src)],
                   check=True, timeout=300, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import vz, os; assert vz.__file__.startswith(os.environ['VIRTUAL']), vz.__file__;"
            "print(vz.run(['echo', 'installed']).stdout.decode().strip())")
    p = subprocess.run([str(py), "-c", code], env=dict(env, VIRTUAL=str(env_dir)),
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "installed"


def test_example_runs(container: str, cgroups: None) -> None:
    example = REPO / "examples" / "python" / "run_sandbox.py"
    p = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "hello from a libvz sandbox" in p.stdout
