# SPDX-License-Identifier: MIT
"""Concurrency: many sandboxes from many threads; the GIL is released while blocked."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import vz


def test_many_threads(backend: str, slow: float) -> None:
    n = 8 if backend == "container" else 3

    def one(i: int) -> vz.Result:
        return vz.run(["sh", "-c", f"echo {i}; echo err{i} >&2; exit {i}"], backend=backend,
                      timeout=60 * slow)

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n * 2)))
    for i, r in enumerate(results):
        assert (r.reason, r.exit_code) == (vz.Reason.EXITED, i)
        assert (r.stdout, r.stderr) == (f"{i}\n".encode(), f"err{i}\n".encode())


def test_runs_overlap(container: str) -> None:
    # Four one-second sleeps in four threads take about one second, not four.
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: vz.run(["sleep", "1"]), range(4)))
    assert all(r.ok for r in results)
    assert time.monotonic() - t0 < 3.5


def test_gil_released_in_wait(backend: str, slow: float) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    with vz.Sandbox(["sleep", "1"], backend=backend) as sb:
        sb.start()
        t = threading.Thread(target=spin)
        t.start()
        try:
            assert sb.wait(60 * slow).ok
        finally:
            stop.set()
            t.join()
    assert ticks > 100  # the spinner ran while this thread was blocked in libvz


def test_errors_are_per_thread(backend: str) -> None:
    def fail(i: int) -> str:
        try:
            vz.run([f"missing-{i}"], backend=backend)
        except vz.NotFoundError as e:
            return e.message
        return ""

    with ThreadPoolExecutor(8) as pool:
        messages = list(pool.map(fail, range(32)))
    assert all(f"missing-{i} " in m for i, m in enumerate(messages))
