# SPDX-License-Identifier: MIT
"""What the binding hands to C is never wrapped, truncated or cut at a NUL.

ctypes keeps the low bits of an int that does not fit its C type (2**32 as a uint32_t
is 0: user=2**32 used to run the program as root) and C reads a char * up to its first
NUL (argv ["echo", "a\\0b"] used to print "a"). Each case here was a silent change of
the caller's value before the binding checked it.
"""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Any, Dict

import pytest

import vz
from vz import lowlevel as ll

UINT32_MAX = 2**32 - 1
INT64_MAX = 2**63 - 1
ID_MAX = 2**32 - 2  # the largest uid or gid: (uint32_t)-1 is none


def _refused(exc: type, match: str, argv: Any = ("true",), **kw: Any) -> None:
    """vz.run(argv, **kw) raises exc (checked before any sandbox is created: these
    tests need no backend)."""
    with pytest.raises(exc, match=match):
        vz.run(list(argv), **kw)


# -- 1. integers ---------------------------------------------------------------------


@pytest.mark.parametrize("user", [2**32, 2**32 + 1000, UINT32_MAX, -1, 2**64,
                                  (0, 2**32), (2**32, 0), (0, -1), "4294967296",
                                  "4294967295", "0:4294967296", "99999999999999999999"])
def test_user_ids_never_wrap(user: Any) -> None:
    # 2**32 wrapped to uid 0; (uint32_t)-1 is "no id" to the kernel.
    _refused(ValueError, r"user.*(out of range \(0\.\.4294967294\)|expected)", user=user)


@pytest.mark.parametrize("user", [0.0, 1.5, (1.0, 2), (0, "0"), True, (False, 0), b"0"])
def test_user_ids_are_ints(user: Any) -> None:
    with pytest.raises(TypeError, match="user"):
        vz.run(["true"], user=user)


def test_user_forms_still_accepted(container: str) -> None:
    r = vz.run(["sh", "-c", "id -u; id -g"], user="5:7")
    assert r.ok and r.stdout == b"5\n7\n", r
    r = vz.run(["sh", "-c", "id -u; id -g"], user=[6, 8])
    assert r.ok and r.stdout == b"6\n8\n", r
    r = vz.run(["id", "-u"], user=ID_MAX)
    assert r.ok and r.stdout == b"%d\n" % ID_MAX, r


@pytest.mark.parametrize("name", ["pids", "open_files"])
@pytest.mark.parametrize("value", [2**64, 2**64 + 5, 2**63, -2**64])
def test_count_limits_never_wrap(name: str, value: int) -> None:
    # pids=2**64 became 0, and 2**64 + 5 became 5, which libvz took.
    _refused(ValueError, rf"{name} {value} is out of range \(1\.\.{INT64_MAX}\)",
             **{name: value})


@pytest.mark.parametrize("name", ["pids", "open_files"])
@pytest.mark.parametrize("value", [1.7, 64.0, "64", True])
def test_count_limits_are_ints(name: str, value: Any) -> None:
    # pids=1.7 became 1.
    _refused(TypeError, f"{name}: expected an int", **{name: value})


def test_count_limits_below_one_are_libvz_range_errors(container: str) -> None:
    # In int64 range, libvz checks the kind's own range and says it.
    for pids in (0, -1, 5_000_000):
        with pytest.raises(vz.InvalidArgumentError, match=r"pids.*(> 0|outside 1\.\.)"):
            vz.run(["true"], pids=pids)


def test_raw_limits_never_wrap(container: str) -> None:
    with vz.Sandbox(["true"]) as sb:
        with pytest.raises(ValueError, match=r"limit pids 18446744073709551621 is out of"):
            sb.limit(vz.Limit.PIDS, 2**64 + 5)
        with pytest.raises(ValueError, match=r"limit memory .* out of range"):
            sb.limit("memory", 2**64 + (64 << 20))
        with pytest.raises(TypeError, match="limit cpu: expected an int, got float"):
            sb.limit(vz.Limit.CPU, 500.9)
        with pytest.raises(TypeError, match="limit memory: expected an int, got str"):
            sb.limit("memory", "1048576")
        with pytest.raises(ValueError, match=r"limit kind 4294967299 is out of range"):
            sb.limit(2**32 + 3, 5)  # would have wrapped to VZ_LIMIT_PIDS
        with pytest.raises(TypeError, match="limit kind: expected an int, got a bool"):
            sb.limit(True, 64 << 20)  # type: ignore[arg-type]
        sb.limit(vz.Limit.PIDS, 8).limit("open_files", 64)  # what is right still works


def test_signals_never_wrap(container: str) -> None:
    with vz.Sandbox(["sleep", "30"]) as sb:
        sb.start()
        # 2**32 + 9 wrapped to 9 (SIGKILL); 0 and 65 are no signals.
        for sig in (2**32 + 9, -2**32 + 15, 0, 65, -1):
            with pytest.raises(ValueError, match=r"kill: signal .* out of range \(1\.\.64\)"):
                sb.kill(sig)
        for sig in (9.0, "9", True):
            with pytest.raises(TypeError, match="kill: signal: expected an int"):
                sb.kill(sig)  # type: ignore[arg-type]
        assert sb.poll() is None  # none of them reached the sandbox
        sb.kill(signal.SIGKILL)
        assert sb.wait(30).reason is vz.Reason.KILLED


def test_backend_and_userns_are_not_bools() -> None:
    with pytest.raises(TypeError, match="backend: expected an int, got a bool"):
        vz.Sandbox(["true"], backend=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backend: expected an int, got float"):
        vz.Sandbox(["true"], backend=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"backend 4294967297 is out of range"):
        vz.Sandbox(["true"], backend=2**32 + 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="userns 1"):
        vz.Sandbox(["true"], userns=1)  # type: ignore[arg-type]


# -- sizes, durations and CPUs: exact, and within int64 --------------------------------


def test_units_results_are_checked() -> None:
    too_large = r"too large \(at most 9223372036854775807"
    for bad in ("8388608T", "8388608.5T", "9223372036854775808", 2**63, 2**64):
        with pytest.raises(ValueError, match=too_large):
            vz.parse_size(bad)
    assert vz.parse_size("8388607T") == 8388607 << 40
    assert vz.parse_size(INT64_MAX) == INT64_MAX
    # Exact: a float would make this ...992.
    assert vz.parse_size("9007199254740993") == 9007199254740993
    for bad_duration in ("2562047788016h", 2**63 // 1000 + 1, 1e300, "9" * 30):
        with pytest.raises(ValueError, match=too_large):
            vz.parse_duration_ms(bad_duration)  # type: ignore[arg-type]
    assert vz.parse_duration_ms("2562047788015h") == 2562047788015 * 3600000
    with pytest.raises(ValueError, match=too_large):
        vz.parse_cpus(1e300)
    # A thousand digits was an OverflowError (a float of inf), not a ValueError.
    for parse in (vz.parse_size, vz.parse_duration_ms, vz.parse_cpus):
        with pytest.raises(ValueError, match="too many digits"):
            parse("1" * 1000)
        with pytest.raises(ValueError, match="too many digits"):
            parse("0." + "0" * 1000 + "1")
    assert vz.parse_duration_ms(1.1) == 1100 and vz.parse_duration_ms("1.0005") == 1000
    assert vz.parse_cpus("0.25") == 250 and vz.parse_cpus(2) == 2000
    for bad_cpus in ("1e3", "-1", "nan", "0x10", ""):
        with pytest.raises(ValueError, match="cpus"):
            vz.parse_cpus(bad_cpus)


def test_timeout_below_resolution_rounds_up() -> None:
    # timeout=0.0001 said "must be greater than 0": it is, and is 1 ms now.
    for tiny in (0.0001, 1e-9, "0.0001", "0.0001s", "0.4ms", 5e-324):
        assert vz.parse_duration_ms(tiny) == 1, tiny  # type: ignore[arg-type]
    assert vz.parse_duration_ms("1.4ms") == 1 and vz.parse_duration_ms("1.6ms") == 2
    for zero in (0, 0.0, "0", "0ms", -0.0001, "0.0"):
        with pytest.raises(ValueError, match="must be greater than 0"):
            vz.parse_duration_ms(zero)  # type: ignore[arg-type]
    # The same for the other units: a positive value never becomes 0.
    assert vz.parse_cpus(0.0001) == 1 and vz.parse_size("0.1") == 1


def test_tiny_timeout_times_out(container: str) -> None:
    r = vz.run(["sleep", "30"], timeout=0.0001)
    assert r.reason is vz.Reason.TIMED_OUT, r


@pytest.mark.parametrize("bad", [float("nan"), "1", True, [1]])
def test_call_timeouts_are_checked(container: str, bad: Any) -> None:
    with vz.Sandbox(["sleep", "30"]) as sb:
        sb.start()
        exc = ValueError if isinstance(bad, float) else TypeError
        with pytest.raises(exc, match="wait: timeout"):
            sb.wait(bad)
        with pytest.raises(exc, match="communicate: timeout"):
            sb.communicate(timeout=bad)
        # Infinity is no bound, a negative number none left: neither is an error.
        with pytest.raises(vz.WaitTimeoutError):
            sb.wait(-1)
        sb.kill()
        assert sb.wait(float("inf")).reason is vz.Reason.KILLED


# -- 2. NUL bytes ----------------------------------------------------------------------


def test_argv_nul_is_refused() -> None:
    # This printed "a".
    _refused(ValueError, r"argv\[1\]: embedded null byte", argv=["echo", "a\0b"])
    _refused(ValueError, r"argv\[0\]: embedded null byte", argv=["ec\0ho"])
    _refused(ValueError, r"argv\[2\]: embedded null byte", argv=["echo", "x", b"a\0"])
    with pytest.raises(ValueError, match=r"argv\[0\]: embedded null byte"):
        vz.Sandbox("true\0")


NUL_CASES: Dict[str, Dict[str, Any]] = {
    "env name": {"env": {"A\0B": "x"}},
    "env value": {"env": {"A": "x\0y"}},
    "env value (bytes)": {"env": {"A": b"x\0y"}},
    "cwd": {"cwd": "/tmp\0/etc"},
    "hostname": {"hostname": "box\0evil"},
    "rootfs": {"rootfs": "/\0tmp"},
    "upper_dir": {"upper_dir": "/tmp/up\0per"},
    "kernel": {"kernel": "/boot/vmlinuz\0x"},
    "kernel_cmdline": {"kernel_cmdline": "quiet\0 init=/bin/sh"},
    "bind source": {"binds": [("/tmp\0/x", "/mnt")]},
    "bind target": {"binds": [("/tmp", "/mnt\0/x")]},
    "bind target (string)": {"binds": ["/tmp:/mnt\0x:ro"]},
    "bind (Bind)": {"binds": [vz.Bind("/tmp", "/m\0nt")]},
}


@pytest.mark.parametrize("case", sorted(NUL_CASES))
def test_nul_is_refused(case: str) -> None:
    _refused(ValueError, "embedded null byte", **NUL_CASES[case])


def test_env_names() -> None:
    for name in ("A=B", "=", ""):
        _refused(ValueError, "variable name .*without '='", env={name: "x"})
    with pytest.raises(TypeError, match="env: variable name"):
        vz.run(["true"], env={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"env\['A'\]"):
        vz.run(["true"], env={"A": 1})  # type: ignore[dict-item]


def test_nul_free_values_still_pass(container: str) -> None:
    r = vz.run(["sh", "-c", 'printf "%s|%s|" "$1" "$A"; pwd', "sh", "a b"],
               env={"A": "x=y"}, cwd="/tmp", input=b"\0 in stdin is data\0")
    assert r.ok and r.stdout == b"a b|x=y|/tmp\n", r


# -- 3. file descriptors ---------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdin", "stdout", "stderr"])
@pytest.mark.parametrize("fd", [-1, -2**31, 2**31, 2**32 + 1])
def test_bad_fd_names_stream(stream: str, fd: int) -> None:
    # stdin=-1 said "fd -1: Success"; stdout=2**32 + 1 became fd 1.
    _refused(ValueError, rf"{stream}: fd {fd} is not a file descriptor \(0\.\.2147483647\)",
             **{stream: fd, "capture": False})


def test_fd_types_and_closed_fd() -> None:
    with pytest.raises(TypeError, match=r"stdout \(fileno\(\)\): fd: expected an int, "
                                        r"got float"):
        _stream_for(1.0)
    with pytest.raises(ValueError, match=r"stdout \(fileno\(\)\): fd -1 is not a file"):
        _stream_for(-1)
    closed = next(fd for fd in range(1000, 2000) if not _is_open(fd))
    with pytest.raises(vz.InvalidArgumentError, match=rf"stdout: .*fd {closed}"):
        vz.run(["true"], stdout=closed)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _stream_for(fd: Any) -> None:
    class Odd:
        def fileno(self) -> Any:
            return fd

    vz.run(["true"], stdout=Odd())  # type: ignore[arg-type]


# -- the low-level layer: the same checks at the ctypes boundary -----------------------


@pytest.fixture
def cfg() -> Any:
    h = ctypes.c_void_p()
    ll.vz_config_new(ctypes.byref(h))
    yield h.value
    ll.vz_config_free(h.value)


def test_lowlevel_ints_never_wrap(cfg: Any) -> None:
    with pytest.raises(ValueError, match=r"vz_config_set_user: uid 4294967296 is out of "
                                         r"range \(0\.\.4294967295\)"):
        ll.vz_config_set_user(cfg, 2**32, 0)
    with pytest.raises(ValueError, match=r"vz_config_set_stdio: fd 4294967296 is out"):
        ll.vz_config_set_stdio(cfg, ll.VZ_STDOUT, ll.VZ_STDIO_FD, 2**32)
    with pytest.raises(ValueError, match=r"vz_strerror: code -4294967299 is out"):
        ll.vz_strerror(-2**32 - 3)
    with pytest.raises(TypeError, match="vz_config_set_network: mode: expected an int"):
        ll.vz_config_set_network(cfg, 1.0)
    with pytest.raises(TypeError, match="vz_config_add_bind: flags: expected an int, got a bool"):
        ll.vz_config_add_bind(cfg, b"/tmp", b"/mnt", True)
    # In range, libvz decides: (uint32_t)-1 fits the C type and libvz refuses it.
    with pytest.raises(vz.InvalidArgumentError):
        ll.vz_config_set_user(cfg, UINT32_MAX, 0)
    ll.vz_config_set_user(cfg, 1000, 1000)


def test_lowlevel_strings(cfg: Any) -> None:
    with pytest.raises(ValueError, match="vz_config_set_cwd: path: embedded null byte"):
        ll.vz_config_set_cwd(cfg, b"/a\0b")
    with pytest.raises(ValueError, match="vz_config_setenv: value: embedded null byte"):
        ll.vz_config_setenv(cfg, b"A", b"x\0y")
    with pytest.raises(TypeError, match="vz_config_set_rootfs: path: expected bytes"):
        ll.vz_config_set_rootfs(cfg, 4096)  # an int would be read as an address
    argv = (ctypes.c_char_p * 1)(b"true")
    with pytest.raises(ValueError, match="argc 5 is more than the 1 strings"):
        ll.vz_config_set_argv(cfg, 5, argv)
    ll.vz_config_set_argv(cfg, 1, argv)
    ll.vz_config_setenv(cfg, b"A", None)
    assert ll.vz_strerror(ll.VZ_EINVAL) == b"invalid argument"
