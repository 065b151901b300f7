# SPDX-License-Identifier: MIT
"""vz.run() on every backend: results, reasons, streams, options."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import vz


@pytest.mark.core
def test_hello(backend: str, slow: float) -> None:
    # One boot covers stdin, both output streams, the exit code and the result record.
    r = vz.run(["sh", "-c", "echo hello; cat; echo oops >&2; exit 42"], backend=backend,
               input=b"in\x00put\n", timeout=30 * slow)
    assert r.reason is vz.Reason.EXITED and r.reason == "exited"
    assert (r.exit_code, r.signal, r.message) == (42, 0, "")
    assert (r.stdout, r.stderr) == (b"hello\nin\x00put\n", b"oops\n")
    assert not r.ok and r.backend == backend
    assert 0 < r.wall_time < 30 * slow
    assert r.cpu_time == r.user_cpu_time + r.system_cpu_time >= 0
    assert r.peak_memory >= 0
    assert r.phases and all(isinstance(v, float) and v >= 0 for v in r.phases.values())


def test_explicit_rootfs(backend: str, rootfs: str) -> None:
    r = vz.run(["cat", "/etc/hostname"], backend=backend, rootfs=Path(rootfs))
    assert r.stdout == b"vz\n"


def test_exit_code(backend: str) -> None:
    r = vz.run(["sh", "-c", "exit 42"], backend=backend)
    assert (r.reason, r.exit_code, r.signal, r.ok) == (vz.Reason.EXITED, 42, 0, False)


def test_own_signal_is_signaled(backend: str) -> None:
    r = vz.run(["sh", "-c", "kill -SEGV $$"], backend=backend)
    assert r.reason is vz.Reason.SIGNALED
    assert (r.signal, r.exit_code) == (signal.SIGSEGV, 128 + signal.SIGSEGV)


def test_wall_time_limit(backend: str, slow: float) -> None:
    r = vz.run(["sleep", "600"], backend=backend, timeout=1 if backend == "container" else 20)
    assert r.reason is vz.Reason.TIMED_OUT
    assert r.signal == signal.SIGKILL and r.exit_code == 137
    assert r.wall_time < 60 * slow


def test_timeout_string(container: str) -> None:
    r = vz.run(["sleep", "600"], timeout="300ms")
    assert r.reason is vz.Reason.TIMED_OUT and r.wall_time < 30


def test_out_of_memory(container: str, cgroups: None) -> None:
    # The VM backend's memory limit is the guest's RAM; the conformance suite covers it.
    r = vz.run(["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}"],
               memory="16M", timeout=60)
    assert r.reason is vz.Reason.OUT_OF_MEMORY


def test_limits_accepted(backend: str, cgroups: None) -> None:
    r = vz.run(["sh", "-c", "ulimit -n"], backend=backend, memory="256M", cpus=0.5,
               pids=64, open_files=100)
    assert r.ok and r.stdout == b"100\n"


def test_input(backend: str) -> None:
    assert vz.run(["cat"], backend=backend, input=b"abc\x00def").stdout == b"abc\x00def"
    assert vz.run(["cat"], backend=backend, input="héllo").stdout == "héllo".encode()


def test_stdin_is_devnull_by_default(backend: str) -> None:
    assert vz.run(["cat"], backend=backend).stdout == b""


def test_large_output_on_both_streams(backend: str, slow: float) -> None:
    # Megabytes on each stream at once, far beyond a pipe's 64 KiB: only a reader that
    # drains both together finishes. The wall-time limit turns a deadlock into a failure
    # instead of a hang. (A VM's streams are serial ports for now: less data.)
    n = 4 << 20 if backend == "container" else 256 << 10
    script = (f"head -c {n} /dev/zero | tr '\\0' o & "
              f"head -c {n} /dev/zero | tr '\\0' e >&2; wait")
    r = vz.run(["sh", "-c", script], backend=backend, timeout=60 * slow)
    assert r.reason is vz.Reason.EXITED, r
    assert len(r.stdout) == n and set(r.stdout) == {ord("o")}
    assert len(r.stderr) == n and set(r.stderr) == {ord("e")}


def test_large_input_and_output(backend: str, slow: float) -> None:
    data = os.urandom(3 << 20 if backend == "container" else 256 << 10)
    r = vz.run(["sh", "-c", "cat; cat /etc/hostname >&2"], backend=backend, input=data,
               timeout=60 * slow)
    assert r.stdout == data and r.stderr == b"vz\n"


def test_program_that_ignores_input(backend: str) -> None:
    # It exits without reading: the rest of the input is dropped, not an error.
    r = vz.run(["true"], backend=backend, input=os.urandom(1 << 20))
    assert r.ok


def test_env_cwd_hostname_user(backend: str) -> None:
    r = vz.run(["sh", "-c", 'echo "$FOO $(pwd) $(hostname) $(id -u):$(id -g)"'],
               backend=backend, env={"FOO": "bar baz"}, cwd="/tmp", hostname="box",
               user=(1000, 1001))
    assert r.stdout == b"bar baz /tmp box 1000:1001\n", r


def test_env_remove_and_clear(backend: str) -> None:
    r = vz.run(["/usr/bin/env"], backend=backend, env={"PATH": None, "A": "1"})
    assert r.stdout == b"A=1\n"
    r = vz.run(["/usr/bin/env"], backend=backend, clear_env=True)
    assert r.ok and r.stdout == b""


def test_readonly_rootfs(backend: str) -> None:
    r = vz.run(["sh", "-c", "touch /x 2>/dev/null; echo $?; touch /tmp/x && echo tmp"],
               backend=backend, readonly=True)
    assert r.stdout.split() == [b"1", b"tmp"]


@pytest.mark.core
def test_binds(backend: str, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from the host\n")
    binds = [vz.Bind(str(tmp_path), "/ro", readonly=True), f"{tmp_path}:/rw:rw"]
    script = "cat /ro/in.txt; touch /ro/no 2>/dev/null || echo ro; echo written > /rw/out.txt"
    r = vz.run(["sh", "-c", script], backend=backend, binds=binds)
    assert r.stdout == b"from the host\nro\n", r
    assert (tmp_path / "out.txt").read_text() == "written\n"
    assert not (tmp_path / "no").exists()


def test_bind_tuple_forms(container: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    r = vz.run(["cat", "/a/f", "/b/f"], binds=[(tmp_path, "/a"), (str(tmp_path), "/b", "ro")])
    assert r.stdout == b"xx"
    with pytest.raises(ValueError):
        vz.run(["true"], binds=["nocolon"])


def test_no_capture(backend: str) -> None:
    r = vz.run(["true"], backend=backend, capture=False, stdout=vz.DEVNULL)
    assert r.ok and r.stdout is None and r.stderr is None


def test_stdout_to_file(backend: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open(out, "wb") as f:
        r = vz.run(["sh", "-c", "echo to-file; echo to-pipe >&2"], backend=backend, stdout=f)
    assert out.read_bytes() == b"to-file\n"
    assert r.stdout is None and r.stderr == b"to-pipe\n"


def test_argv_as_string_is_one_program(backend: str) -> None:
    assert vz.run("true", backend=backend).ok
    with pytest.raises(vz.NotFoundError):
        vz.run("echo hello", backend=backend)


def test_input_and_stdin_exclusive() -> None:
    with pytest.raises(ValueError):
        vz.run(["cat"], input=b"x", stdin=vz.DEVNULL)
