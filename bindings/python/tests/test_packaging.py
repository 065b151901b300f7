# SPDX-License-Identifier: MIT
"""`pip install ./bindings/python` works offline, into a fresh virtual environment with
nothing but pip (the build backend is in the tree: pep517/vz_build.py, standard library
only, so there is no build dependency to download); the wheel and sdist it builds are
well-formed; and the example runs."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "bindings" / "python"
# No PYTHONPATH (ctest points it at the source tree): what runs must be what pip put in
# the virtual environment. --no-index everywhere: nothing may come from a package index.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_FIND_LINKS")}


def _backend() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vz_build", SRC / "pep517" / "vz_build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with pip only: no system site packages, so neither
    Debian's setuptools nor its wheel can help a build."""
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError as e:
        pytest.skip(f"no {e.name} for this Python (apt-get install python3-venv python3-pip)")
    env_dir = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300,
                   env=ENV)
    return env_dir / "bin" / "python"


def _copy(tmp_path: Path) -> Path:
    # A copy, to see that nothing is written next to the sources either.
    return Path(shutil.copytree(SRC, tmp_path / "src",
                                ignore=shutil.ignore_patterns("__pycache__")))


def _pip(py: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    p = subprocess.run([str(py), "-m", "pip", "--disable-pip-version-check", *args],
                       capture_output=True, text=True, timeout=300, cwd=cwd, env=ENV)
    assert p.returncode == 0, f"pip {' '.join(args)}:\n{p.stdout}\n{p.stderr}"
    return p


def _python(py: Path, code: str, cwd: Path) -> str:
    p = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=cwd, env=ENV)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def _installed(py: Path) -> List[str]:
    out = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"],
                         capture_output=True, text=True, env=ENV, check=True).stdout
    return [line.split("==")[0].lower() for line in out.split()]


def test_pip_install_offline(venv: Path, tmp_path: Path, container: str) -> None:
    # The plain command of the README, with build isolation, and no index at all.
    src = _copy(tmp_path)
    before = sorted(p.name for p in src.iterdir())
    _pip(venv, "install", "--no-index", str(src), cwd=tmp_path)
    code = ("import vz, sys; assert vz.__file__.startswith(sys.prefix), vz.__file__;"
            "print(vz.run(['echo', 'installed']).stdout.decode().strip())")
    assert _python(venv, code, tmp_path) == "installed"
    assert sorted(p.name for p in src.iterdir()) == before  # no build/, no egg-info
    _pip(venv, "uninstall", "-y", "vz", cwd=tmp_path)
    site = Path(_python(venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                        tmp_path))
    assert not [p for p in site.iterdir() if p.name.startswith("vz")]  # RECORD was whole


def test_pip_install_other_ways(venv: Path, tmp_path: Path) -> None:
    src = _copy(tmp_path)
    where = "import vz, vz.lowlevel; print(vz.__file__)"
    # Without build isolation: the documented way of old, still fine.
    _pip(venv, "install", "--no-index", "--no-build-isolation", str(src), cwd=tmp_path)
    assert "site-packages" in _python(venv, where, tmp_path)
    _pip(venv, "uninstall", "-y", "vz", cwd=tmp_path)
    # Editable: the source directory itself.
    _pip(venv, "install", "--no-index", "-e", str(src), cwd=tmp_path)
    here = Path(_python(venv, where, tmp_path))
    assert here.resolve() == (src / "vz" / "__init__.py").resolve()
    _pip(venv, "uninstall", "-y", "vz", cwd=tmp_path)
    # From the sdist.
    sdist = _backend().build_sdist(str(tmp_path))
    _pip(venv, "install", "--no-index", str(tmp_path / sdist), cwd=tmp_path)
    assert "site-packages" in _python(venv, where, tmp_path)
    assert "vz" in _installed(venv)
    _pip(venv, "uninstall", "-y", "vz", cwd=tmp_path)


def _project() -> Dict[str, object]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((SRC / "pyproject.toml").read_text())


def test_pyproject_needs_nothing_to_build() -> None:
    doc = _project()
    build = doc["build-system"]
    assert build == {"requires": [], "build-backend": "vz_build",  # type: ignore[comparison-overlap]
                     "backend-path": ["pep517"]}
    # The reader used where there is no tomllib (Python < 3.11) reads the same.
    assert _backend()._mini_toml((SRC / "pyproject.toml").read_text()) == doc


def test_wheel_is_well_formed(tmp_path: Path) -> None:
    backend = _backend()
    name = backend.build_wheel(str(tmp_path))
    project = _project()["project"]
    version = project["version"]  # type: ignore[index]
    assert name == f"vz-{version}-py3-none-any.whl"
    with zipfile.ZipFile(tmp_path / name) as z:
        names = z.namelist()
        info = f"vz-{version}.dist-info"
        package = sorted(f"vz/{p.name}" for p in (SRC / "vz").iterdir()
                         if p.is_file() and p.suffix != ".pyc")
        assert sorted(n for n in names if n.startswith("vz/")) == package
        assert {f"{info}/METADATA", f"{info}/WHEEL", f"{info}/RECORD"} <= set(names)
        record = list(csv.reader(io.StringIO(z.read(f"{info}/RECORD").decode())))
        assert sorted(r[0] for r in record) == sorted(names)
        for path, digest, size in record:
            if path.endswith("RECORD"):
                assert digest == size == ""
                continue
            data = z.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert (digest, int(size)) == (f"sha256={want.decode()}", len(data)), path
        meta = z.read(f"{info}/METADATA").decode()
        assert f"Name: vz\nVersion: {version}\n" in meta
        assert "Requires-Python: >=3.8" in meta
        assert "\n\n# vz: Python bindings of libvz" in meta  # the README, as description
        assert "Root-Is-Purelib: true" in z.read(f"{info}/WHEEL").decode()


def test_sdist_rebuilds(tmp_path: Path) -> None:
    sdist = _backend().build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / sdist) as tar:
        members = tar.getnames()
        if hasattr(tarfile, "data_filter"):  # 3.12+, and backported to some
            tar.extractall(tmp_path / "x", filter="data")
        else:
            tar.extractall(tmp_path / "x")
    base = sdist[:-len(".tar.gz")]
    for must in ("PKG-INFO", "pyproject.toml", "README.md", "pep517/vz_build.py",
                 "vz/__init__.py", "vz/py.typed", "tests/test_packaging.py"):
        assert f"{base}/{must}" in members
    # The sdist's own backend builds the same wheel as the source tree's.
    code = ("import sys; sys.path.insert(0, 'pep517'); import vz_build;"
            "print(vz_build.build_wheel(sys.argv[1]))")
    out = tmp_path / "w"
    out.mkdir()
    subprocess.run([sys.executable, "-c", code, str(out)], cwd=tmp_path / "x" / base,
                   check=True, env=ENV, timeout=60)
    again = _backend().build_wheel(str(tmp_path))
    assert (out / again).read_bytes() == (tmp_path / again).read_bytes()  # reproducible


def test_example_runs(container: str, cgroups: None) -> None:
    example = REPO / "examples" / "python" / "run_sandbox.py"
    p = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "hello from a libvz sandbox" in p.stdout
