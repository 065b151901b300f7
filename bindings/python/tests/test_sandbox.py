# SPDX-License-Identifier: MIT
"""vz.Sandbox: life cycle, limits, kill, wait, streams, threads."""

from __future__ import annotations

import signal
import threading
import time

import pytest

import vz


@pytest.mark.core
def test_life_cycle(backend: str, slow: float) -> None:
    with vz.Sandbox(["sleep", "600"], backend=backend) as sb:
        assert sb.pid is None  # not started
        sb.start()
        assert sb.pid and sb.pid > 0
        assert sb.poll() is None
        assert "pid=" in repr(sb)
        sb.kill()
        r = sb.wait(30 * slow)
        assert r.reason is vz.Reason.KILLED
        assert (r.signal, r.exit_code) == (signal.SIGKILL, 137)
        assert sb.poll() == r  # the same result every time
        assert sb.pid is None
    assert "closed" in repr(sb)
    with pytest.raises(vz.StateError):
        sb.wait()
    sb.close()  # idempotent


def test_calls_before_start(backend: str) -> None:
    with vz.Sandbox(["true"], backend=backend, stdout=vz.PIPE) as sb:
        with pytest.raises(vz.StateError):
            sb.poll()
        with pytest.raises(vz.StateError):
            sb.kill()
        with pytest.raises(vz.StateError):
            sb.communicate()
        with pytest.raises(ValueError, match="stdin=vz.PIPE"):
            sb.start().communicate(b"no stdin pipe")


def test_bounded_wait(backend: str) -> None:
    with vz.Sandbox(["sleep", "600"], backend=backend) as sb:
        sb.start()
        t0 = time.monotonic()
        with pytest.raises(vz.WaitTimeoutError) as e:
            sb.wait(0.2)
        assert isinstance(e.value, TimeoutError) and e.value.code == vz.lowlevel.VZ_ETIMEDOUT
        assert 0.15 < time.monotonic() - t0 < 5
    # leaving the block killed and freed it


def test_terminate(backend: str, slow: float) -> None:
    with vz.Sandbox(["sleep", "600"], backend=backend) as sb:
        sb.start()
        sb.terminate()
        r = sb.wait(30 * slow)
    assert r.reason is vz.Reason.KILLED and r.signal == signal.SIGTERM


def test_start_twice(backend: str) -> None:
    with vz.Sandbox(["true"], backend=backend) as sb:
        sb.start()
        with pytest.raises(vz.StateError, match="already started"):
            sb.start()
        with pytest.raises(vz.StateError):
            sb.limit(memory="64M")
        assert sb.wait().ok


def test_prepare_then_start(backend: str, slow: float) -> None:
    with vz.Sandbox(["sh", "-c", "echo ready; exit 4"], backend=backend,
                    stdout=vz.PIPE) as sb:
        sb.prepare()
        with pytest.raises(vz.StateError):
            sb.prepare()
        with pytest.raises(vz.StateError):
            sb.kill()
        out, _ = sb.start().communicate(timeout=30 * slow)
        r = sb.wait(30 * slow)
    assert out == b"ready\n" and r.exit_code == 4
    assert "prepared" in r.phases


def test_raw_and_keyword_limits(backend: str, cgroups: None) -> None:
    with vz.Sandbox(["sh", "-c", "ulimit -n"], backend=backend, stdout=vz.PIPE) as sb:
        sb.limit(vz.Limit.MEMORY, 256 << 20).limit("open_files", 50).limit(pids=32, cpus="1")
        sb.start()
        out, err = sb.communicate()
        assert (out, err) == (b"50\n", None)
        assert sb.wait().ok


def test_limit_out_of_range(backend: str) -> None:
    with vz.Sandbox(["true"], backend=backend) as sb:
        with pytest.raises(vz.InvalidArgumentError, match="cpu") as e:
            sb.limit(vz.Limit.CPU, 1)
        assert isinstance(e.value, ValueError)
        with pytest.raises(ValueError):
            sb.limit(memory="lots")
        with pytest.raises(ValueError):
            sb.limit("bogus", 1)
    with pytest.raises(vz.InvalidArgumentError):
        vz.Sandbox(["true"], backend=backend, pids=0)


def test_pipes_as_files(backend: str, slow: float) -> None:
    with vz.Sandbox(["sh", "-c", "read x; echo got $x; echo e >&2"], backend=backend,
                    stdin=vz.PIPE, stdout=vz.PIPE, stderr=vz.PIPE) as sb:
        assert sb.stdin is None  # only after start
        sb.start()
        assert sb.stdin and sb.stdout and sb.stderr
        sb.stdin.write(b"hi\n")
        sb.stdin.close()  # end-of-file for the program
        assert sb.stdout.read() == b"got hi\n"
        assert sb.stderr.read() == b"e\n"
        assert sb.wait(30 * slow).ok


def test_communicate_timeout_then_resume(backend: str, slow: float) -> None:
    with vz.Sandbox(["sh", "-c", "echo early; sleep 600"], backend=backend,
                    stdout=vz.PIPE) as sb:
        sb.start()
        with pytest.raises(vz.WaitTimeoutError):
            sb.communicate(timeout=0.5 * slow)
        sb.kill()
        out, err = sb.communicate(timeout=30 * slow)
        assert out == b"early\n" and err is None
        assert sb.wait().reason is vz.Reason.KILLED


def test_kill_from_another_thread(backend: str, slow: float) -> None:
    with vz.Sandbox(["sleep", "600"], backend=backend) as sb:
        sb.start()
        threading.Timer(0.3, sb.kill, args=(signal.SIGINT,)).start()
        r = sb.wait(30 * slow)
    assert r.reason is vz.Reason.KILLED and r.signal == signal.SIGINT


def test_close_ends_a_blocked_wait(backend: str, slow: float) -> None:
    sb = vz.Sandbox(["sleep", "600"], backend=backend).start()
    got: list = []
    t = threading.Thread(target=lambda: got.append(sb.wait()))
    t.start()
    time.sleep(0.3)
    sb.close()  # kills, lets the waiter return, then frees
    t.join(30 * slow)
    assert not t.is_alive()
    assert got and got[0].reason is vz.Reason.KILLED


def test_setup_failure_raises(container: str) -> None:
    # A cwd that exists nowhere fails inside the sandbox's set-up, with the step named.
    with vz.Sandbox(["true"], cwd="/no/such/dir") as sb:
        with pytest.raises(vz.Error) as e:
            sb.start()
        assert "/no/such/dir" in str(e.value)
        r = sb.wait()
        assert r.reason is vz.Reason.SETUP_FAILED and "/no/such/dir" in r.message
