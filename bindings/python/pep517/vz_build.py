# SPDX-License-Identifier: MIT
"""The build backend of the vz package (PEP 517, PEP 660), in the tree and stdlib-only.

``vz`` is pure Python, so building it is only packing files into a zip (a wheel) or a
tar (an sdist). Doing that here, with nothing but the standard library, means that
``pip install ./bindings/python`` needs nothing from a package index: pyproject.toml's
``requires`` is empty, so pip's isolated build environment has nothing to download, and
the install works offline (or with ``--no-index``), in a virtual environment or not,
whatever setuptools or wheel the system has. The metadata comes from pyproject.toml's
``[project]`` table.

Hooks: ``build_wheel``, ``build_sdist``, ``build_editable`` (a ``.pth`` file that puts
the source directory on ``sys.path``) and their ``get_requires_for_*`` (none).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent  # bindings/python
PACKAGE = "vz"
# What an sdist holds besides the package: enough to build it again and test it.
SDIST_EXTRA = ("pyproject.toml", "README.md", "pep517", "tests")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say; reproducible builds


# -- metadata -----------------------------------------------------------------------------


def _load_toml(text: str) -> Dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        return _mini_toml(text)
    return tomllib.loads(text)


def _mini_toml(text: str) -> Dict[str, Any]:
    """The part of TOML this package's pyproject.toml uses, for Pythons before 3.11
    (no tomllib, and nothing may be installed to build): ``[table]`` headers, and keys
    whose values are a basic string, a list of strings (across lines), or an inline
    table of strings. tests/test_packaging.py checks it agrees with tomllib."""
    doc: Dict[str, Any] = {}
    table = doc
    lines = iter(text.splitlines())
    string = r'"((?:[^"\\]|\\.)*)"'

    def unquote(s: str) -> str:
        return s.encode("latin-1", "backslashreplace").decode("unicode_escape")

    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)\]", line)
        if m:
            table = doc
            for part in m.group(1).split("."):
                table = table.setdefault(part, {})
            continue
        key, sep, value = (s.strip() for s in line.partition("="))
        if not sep:
            raise ValueError(f"pyproject.toml: cannot read line {line!r}")
        key = key.strip('"')
        if value.startswith("["):
            while not re.search(r"\]\s*(#.*)?$", value):
                value += " " + next(lines).strip()
            table[key] = [unquote(s) for s in re.findall(string, value)]
        elif value.startswith("{"):
            table[key] = {k: unquote(v) for k, v in
                          re.findall(r"([A-Za-z0-9_-]+)\s*=\s*" + string, value)}
        else:
            m = re.fullmatch(string + r"\s*(#.*)?", value)
            if not m:
                raise ValueError(f"pyproject.toml: cannot read value {value!r}")
            table[key] = unquote(m.group(1))
    return doc


def _project() -> Dict[str, Any]:
    return _load_toml((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _metadata() -> Tuple[str, str, str]:
    """(name, version, the text of METADATA / PKG-INFO)."""
    p = _project()
    name, version = p["name"], p["version"]
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if "description" in p:
        lines.append(f"Summary: {p['description']}")
    if "license" in p and "text" in p["license"]:
        lines.append(f"License: {p['license']['text']}")
    lines += [f"Classifier: {c}" for c in p.get("classifiers", [])]
    if "requires-python" in p:
        lines.append(f"Requires-Python: {p['requires-python']}")
    body = ""
    if "readme" in p:
        lines.append("Description-Content-Type: text/markdown")
        body = (ROOT / p["readme"]).read_text(encoding="utf-8")
    return name, version, "\n".join(lines) + "\n\n" + body


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


# -- files --------------------------------------------------------------------------------


def _tree(top: Path) -> Iterator[Path]:
    """Files under @top in a stable order, without caches and compiled files."""
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames
                             if d != "__pycache__" and not d.endswith(".egg-info"))
        for f in sorted(filenames):
            if not f.endswith((".pyc", ".pyo")):
                yield Path(dirpath) / f


def _package_files() -> List[Tuple[str, bytes]]:
    return [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in _tree(ROOT / PACKAGE)]


def _wheel(directory: str, files: List[Tuple[str, bytes]]) -> str:
    name, version, metadata = _metadata()
    dist = f"{_dist_name(name)}-{version}"
    info = f"{dist}.dist-info"
    files = files + [
        (f"{info}/METADATA", metadata.encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: vz_build\n"
                          b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(data)}\n")
    record.append(f"{info}/RECORD,,\n")
    files.append((f"{info}/RECORD", "".join(record).encode()))
    filename = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            entry = zipfile.ZipInfo(path, _ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, data)
    return filename


# -- PEP 517 / PEP 660 hooks ---------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_editable(
        config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    return _wheel(wheel_directory, _package_files())


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    """A wheel whose only file is a ``.pth`` naming this source directory: edits to
    vz/*.py show at the next import, without reinstalling."""
    pth = f"{ROOT}\n".encode()
    return _wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", pth)])


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    name, version, metadata = _metadata()
    base = f"{_dist_name(name)}-{version}"
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", 315532800))  # default: 1980-01-01
    filename = f"{base}.tar.gz"

    def add(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
        entry = tarfile.TarInfo(f"{base}/{arcname}")
        entry.size, entry.mtime, entry.mode = len(data), mtime, 0o644
        tar.addfile(entry, io.BytesIO(data))

    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz",
                      format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", metadata.encode())
        for path, data in _package_files():
            add(tar, path, data)
        for extra in SDIST_EXTRA:
            top = ROOT / extra
            for p in ([top] if top.is_file() else _tree(top)):
                add(tar, p.relative_to(ROOT).as_posix(), p.read_bytes())
    return filename
