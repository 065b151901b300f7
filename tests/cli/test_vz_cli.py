# SPDX-License-Identifier: MIT
"""The installed `vz` binary, driven as a user would: exit statuses, --json, bad flags,
`vz template`, `vz check`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import run_vz, vz_binary, vz_run_args

FAIL = 125  # vz itself failed


def last_json(stdout: bytes) -> dict:
    """The result object: the last line of stdout (the program's own output precedes)."""
    return json.loads(stdout.decode().splitlines()[-1])


# -- generic flags ------------------------------------------------------------------


def test_version() -> None:
    for flag in ("--version", "-V"):
        p = run_vz(flag)
        assert p.returncode == 0
        assert re.fullmatch(r"vz \d+\.\d+\.\d+ \(libvz \d+\.\d+\.\d+\)\n", p.stdout.decode())


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"], ["run", "--help"],
                                  ["check", "--help"], ["help", "run"], ["help", "check"],
                                  ["template", "--help"], ["help", "template"],
                                  ["template", "make", "--help"],
                                  ["template", "drop", "--help"]])
def test_help(args: list) -> None:
    p = run_vz(*args)
    assert p.returncode == 0 and p.stderr == b""
    assert p.stdout.startswith(b"Usage: vz")


def test_help_names_the_template_options() -> None:
    assert b"template make" in run_vz("--help").stdout
    assert b"template drop" in run_vz("--help").stdout
    for args in (["run", "--help"], ["help", "template"]):
        out = run_vz(*args).stdout
        assert b"--vm-start restore|cold" in out and b"--templates DIR" in out, args


def test_no_command() -> None:
    p = run_vz()
    assert p.returncode == FAIL and b"Usage: vz" in p.stderr


@pytest.mark.parametrize("args, needle", [
    (["frob"], "unknown command 'frob'"),
    (["--frob"], "unknown option --frob"),
    (["help", "frob"], "unknown command 'frob'"),
    (["run", "--bogus", "--", "true"], "unknown option --bogus"),
    (["run", "-Z", "true"], "unknown option -Z"),
    (["run", "--memory"], "option --memory needs a value"),
    (["run", "--memory", "12X", "--", "true"], "--memory 12X: unknown unit"),
    (["run", "--memory", "0", "--", "true"], "--memory 0: must be greater than 0"),
    (["run", "--cpus", "abc", "--", "true"], "--cpus abc"),
    (["run", "--timeout", "10x", "--", "true"], "--timeout 10x: unknown unit"),
    (["run", "--pids", "-3", "--", "true"], "--pids -3"),
    (["run", "--open-files", "1.5", "--", "true"], "--open-files 1.5"),
    (["run", "--backend", "jail", "--", "true"], "--backend jail"),
    (["run", "--bind", "nocolon", "--", "true"], "--bind nocolon"),
    (["run", "--bind", "/a:/b:rx", "--", "true"], "--bind /a:/b:rx"),
    (["run", "--cwd", "rel", "--", "true"], "--cwd rel"),
    (["run", "--hostname", "bad host", "--", "true"], "--hostname bad host"),
    (["run", "--network", "wifi", "--", "true"], "--network wifi"),
    (["run", "--user", "root", "--", "true"], "--user root"),
    (["run", "--env", "=x", "--", "true"], "--env =x"),
    (["run"], "no command given"),
    (["run", "--vm-start", "bogus", "--", "true"],
     "run: --vm-start bogus: unknown VM start (use restore or cold)"),
    (["run", "--vm-start"], "option --vm-start needs a value"),
    (["run", "--templates"], "option --templates needs a value"),
    (["template"], "template: no subcommand"),
    (["template", "frob"], "template: unknown subcommand 'frob'"),
    (["template", "make"], "template make: no command given"),
    (["template", "make", "--json"], "template make: no command given"),
    (["template", "make", "--bogus", "--", "true"],
     "template make: unknown option --bogus (see vz template make --help)"),
    (["template", "make", "--vm-start", "fast", "--", "true"],
     "template make: --vm-start fast: unknown VM start"),
    (["template", "make", "--memory", "12X", "--", "true"], "template make: --memory 12X"),
    (["template", "drop", "a", "b"], "template drop: unexpected argument 'b'"),
    (["template", "drop", "--bogus"], "template drop: unknown option --bogus"),
    (["run", "--json"], "no command given"),
    (["check", "--bogus"], "unknown option --bogus"),
    (["check", "--backend", "jail"], "--backend jail"),
    (["check", "extra"], "unexpected argument 'extra'"),
])
def test_bad_usage_names_the_flag(args: list, needle: str) -> None:
    p = run_vz(*args)
    assert p.returncode == FAIL, p
    assert p.stdout == b""
    err = p.stderr.decode()
    assert err.startswith("vz: ") and needle in err, err


def test_timeout_below_resolution_is_one_ms(container: str) -> None:
    """A positive timeout below 1 ms is 1 ms, not "must be greater than 0"."""
    p = run_vz("run", "--timeout", "0.0001", "--", "true")
    assert b"must be greater than 0" not in p.stderr, p.stderr


def test_limit_out_of_range_names_the_flag(container: str) -> None:
    p = run_vz("run", "--cpus", "0.001", "--", "true")
    assert p.returncode == FAIL
    assert b"--cpus: limit cpu" in p.stderr


# -- vz run -------------------------------------------------------------------------


@pytest.mark.core
def test_exit_status_and_json(backend: str, slow: float) -> None:
    p = run_vz(*vz_run_args(backend, "--json", "--timeout", f"{30 * slow:.0f}s", "--", "sh",
                            "-c", "echo hi; cat; exit 7"),
               input=b"from stdin\n", timeout=60 * slow)
    assert p.returncode == 7, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[:2] == ["hi", "from stdin"]
    r = last_json(p.stdout)
    assert r["backend"] == backend and r["error"] is None
    assert (r["reason"], r["exit_code"], r["signal"], r["message"]) == ("exited", 7, 0, "")
    assert r["wall_ns"] > 0 and r["user_cpu_ns"] >= 0 and r["system_cpu_ns"] >= 0
    assert r["peak_memory_bytes"] >= 0
    assert r["phases"] and all(set(ph) == {"name", "ns"} and ph["ns"] >= 0
                               for ph in r["phases"])


def test_exit_status_mirrors_the_program(backend: str) -> None:
    assert run_vz(*vz_run_args(backend, "--", "true")).returncode == 0
    assert run_vz(*vz_run_args(backend, "--", "sh", "-c", "exit 255")).returncode == 255
    p = run_vz(*vz_run_args(backend, "--json", "--", "sh", "-c", "kill -TERM $$"))
    assert p.returncode == 128 + signal.SIGTERM
    r = last_json(p.stdout)
    assert (r["reason"], r["signal"]) == ("signaled", signal.SIGTERM)


def test_command_without_dashes(container: str) -> None:
    # Flags after CMD belong to CMD.
    p = run_vz("run", "echo", "--json", "-x")
    assert p.returncode == 0 and p.stdout == b"--json -x\n"


def test_timeout(backend: str) -> None:
    p = run_vz(*vz_run_args(backend, "--timeout", "1s", "--", "sleep", "600"))
    assert p.returncode == 137
    assert b"wall-time limit" in p.stderr
    p = run_vz(*vz_run_args(backend, "--timeout", "500ms", "--json", "--", "sleep", "600"))
    r = last_json(p.stdout)
    assert p.returncode == 137 and r["reason"] == "timed out" and r["signal"] == 9
    assert p.stderr == b""  # --json carries the reason; no note on stderr


def test_out_of_memory(container: str, cgroups: None) -> None:
    p = run_vz("run", "--memory", "16M", "--json", "--", "sh", "-c",
               "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}")
    assert p.returncode == 137
    assert last_json(p.stdout)["reason"] == "out of memory"


def test_limits(backend: str, cgroups: None) -> None:
    p = run_vz(*vz_run_args(backend, "-m", "256M", "-c", "0.5", "-p", "64",
                            "--open-files", "100", "-t", "2m", "--", "sh", "-c", "ulimit -n"))
    assert p.returncode == 0 and p.stdout == b"100\n", p.stderr


def test_options(backend: str) -> None:
    script = 'echo "$FOO|$HOSTVAR|$(pwd)|$(hostname)|$(id -u):$(id -g)"'
    env = dict(os.environ, HOSTVAR="copied")
    p = run_vz(*vz_run_args(backend, "-e", "FOO=a=b c", "--env", "HOSTVAR", "-e", "UNSET_X",
                            "-w", "/tmp", "--hostname", "box", "--user", "1000:1001",
                            "--", "sh", "-c", script), env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"a=b c|copied|/tmp|box|1000:1001\n"
    p = run_vz(*vz_run_args(backend, "--read-only", "--network", "none", "--", "sh", "-c",
                            "touch /x 2>/dev/null; echo $?"))
    assert p.stdout == b"1\n"


@pytest.mark.core
def test_binds(backend: str, tmp_path: Path) -> None:
    """--bind works on both backends: read-only refuses writes, read-write reaches the host."""
    (tmp_path / "in").write_text("host file\n")
    p = run_vz(*vz_run_args(backend, "-v", f"{tmp_path}:/ro:ro", "--bind", f"{tmp_path}:/rw",
                            "--", "sh", "-c",
                            "cat /ro/in; touch /ro/x 2>/dev/null || echo ro; echo w > /rw/out"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"host file\nro\n"
    assert (tmp_path / "out").read_text() == "w\n"
    assert not (tmp_path / "x").exists()


def test_relative_bind_source(container: str, tmp_path: Path) -> None:
    # A relative source is taken from vz's working directory.
    (tmp_path / "in").write_text("host file\n")
    p = run_vz("run", "-v", "in:/f", "--", "cat", "/f", cwd=str(tmp_path))
    assert p.stdout == b"host file\n", p.stderr


def test_relative_rootfs(container: str) -> None:
    rootfs = Path(os.environ["VZ_ROOTFS"])
    p = run_vz("run", "--rootfs", rootfs.name, "--", "cat", "/etc/hostname",
               cwd=str(rootfs.parent))
    assert p.returncode == 0 and p.stdout == b"vz\n", p.stderr


@pytest.mark.core
def test_create_failure(backend: str) -> None:
    p = run_vz(*vz_run_args(backend, "--json", "--", "no-such-program"))
    assert p.returncode == FAIL
    assert b"vz: run: argv[0] no-such-program not found" in p.stderr
    r = last_json(p.stdout)
    assert "reason" not in r
    assert r["error"]["call"] == "vz_sandbox_create" and r["error"]["code"] == -6
    assert "no-such-program" in r["error"]["message"]
    p = run_vz(*vz_run_args(backend, "--rootfs", "/nonexistent/rootfs", "--", "true"))
    assert p.returncode == FAIL and b"/nonexistent/rootfs" in p.stderr


def test_setup_failure(container: str) -> None:
    p = run_vz("run", "--json", "--cwd", "/no/such/dir", "--", "true")
    assert p.returncode == FAIL
    r = last_json(p.stdout)
    assert r["reason"] == "setup failed" and "/no/such/dir" in r["message"]
    assert r["error"]["call"] == "vz_sandbox_start"


def test_json_is_valid_for_any_bytes(container: str) -> None:
    p = subprocess.run([os.fsencode(vz_binary()), b"run", b"--json", b"--",
                        b'bad"name\t\xff\xfe'], capture_output=True, stdin=subprocess.DEVNULL)
    assert p.returncode == FAIL
    msg = last_json(p.stdout)["error"]["message"]
    assert 'bad"name\t\ufffd\ufffd' in msg


def test_signals_are_forwarded(container: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([vz_binary(), "run", "--json", "--", "sh", "-c",
                                 "echo ready; exec sleep 600"], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout and proc.stdout.readline() == b"ready\n"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig
        r = last_json(out)
        assert (r["reason"], r["signal"]) == ("killed", sig)


def test_default_rootfs(container: str) -> None:
    """With no --rootfs and no $VZ_ROOTFS: libvz's installed default, or an error that
    says where it looked."""
    env = {k: v for k, v in os.environ.items() if k != "VZ_ROOTFS"}
    p = run_vz("run", "--", "echo", "hello", env=env)
    if p.returncode == 0:
        assert p.stdout == b"hello\n"
    else:
        assert p.returncode == FAIL
        assert b"$VZ_ROOTFS is not set" in p.stderr and b"/libvz/rootfs" in p.stderr


# -- VM starts and templates --------------------------------------------------------


def test_container_refuses_vm_start_and_templates(tmp_path: Path) -> None:
    """libvz refuses VM settings for a container at create; vz says so (no backend is
    needed: the refusal comes before anything runs)."""
    p = run_vz("run", "--vm-start", "cold", "--", "true")
    assert p.returncode == FAIL and p.stdout == b""
    assert p.stderr.startswith(b"vz: run: container: a cold VM start"), p.stderr
    p = run_vz("run", "--templates", str(tmp_path), "--json", "--", "true")
    assert p.returncode == FAIL
    assert b"vz: run: container: a template directory" in p.stderr
    err = last_json(p.stdout)["error"]
    assert err["call"] == "vz_sandbox_create" and str(tmp_path) in err["message"]
    # A relative directory is taken from vz's working directory.
    p = run_vz("run", "--templates", "rel", "--", "true", cwd=str(tmp_path))
    assert p.returncode == FAIL and f"{tmp_path}/rel".encode() in p.stderr
    # "restore" is the default, which a container takes (as libvz does).
    p = run_vz("run", "--vm-start", "restore", "--json", "--", "true")
    assert b"VM setting" not in p.stderr
    assert not list(tmp_path.iterdir())


def test_template_make_refuses_a_container() -> None:
    p = run_vz("template", "make", "--backend", "container", "--json", "--", "true")
    assert p.returncode == FAIL
    assert b"vz: template make: vz_sandbox_make_template: the container backend has no " \
        b"templates" in p.stderr
    err = last_json(p.stdout)["error"]
    assert (err["call"], err["code"]) == ("vz_sandbox_make_template", -4)
    p = run_vz("template", "make", "--backend", "container", "--vm-start", "cold", "--",
               "true")
    assert p.returncode == FAIL and b"cold VM start" in p.stderr


SLOT = "0123456789abcdef"
DROPPED = [SLOT, f".{SLOT}.lock", "fedcba9876543210.unsupported",
           f".tmp-{SLOT}-123-0", f".{SLOT}.unsupported.42"]
KEPT = ["notes.txt", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdeg",
        f"{SLOT}0", ".lock", ".tmp-other", "keep"]


def fake_layout(root: Path) -> None:
    """What libvz writes into a template directory (src/kvm/template.h), and files
    beside them that are not libvz's."""
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


def vm_backend_built() -> bool:
    return "not built" not in run_vz("check", "--backend", "vm").stdout.decode()


def test_template_drop_empty_and_missing(tmp_path: Path) -> None:
    p = run_vz("template", "drop", str(tmp_path))
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    assert tmp_path.is_dir() and not list(tmp_path.iterdir())
    assert run_vz("template", "drop", str(tmp_path / "missing")).returncode == 0


def test_template_drop_removes_only_libvz_entries(tmp_path: Path) -> None:
    if not vm_backend_built():
        pytest.skip("the VM backend is not built into this libvz (drop does nothing)")
    fake_layout(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(DROPPED + KEPT)
    p = run_vz("template", "drop", str(tmp_path))
    assert (p.returncode, p.stderr) == (0, b"")
    assert sorted(os.listdir(tmp_path)) == sorted(KEPT)
    assert (tmp_path / "keep" / "state").read_text() == "mine\n"
    # A relative DIR is taken from vz's working directory.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f".{SLOT}.lock").write_text("")
    assert run_vz("template", "drop", "sub", cwd=str(tmp_path)).returncode == 0
    assert not list((tmp_path / "sub").iterdir())
    # A failure names the path.
    (tmp_path / "file").write_text("")
    p = run_vz("template", "drop", str(tmp_path / "file"))
    assert p.returncode == FAIL
    assert p.stderr.startswith(b"vz: template drop: ") and str(tmp_path / "file").encode() \
        in p.stderr


@pytest.mark.core
def test_template_make_then_run_restores(vm: str, tmp_path: Path) -> None:
    """The one VM test: `vz template make`, then `vz run` restores from the template."""
    templates = tmp_path / "templates"
    try:
        p = run_vz("template", "make", "--templates", str(templates), "--memory", "256M",
                   "--", "true", timeout=1200)
        assert p.returncode == 0, p.stderr
        assert p.stdout == f"{templates}\n".encode()
        p = run_vz("run", "--backend", "vm", "--templates", str(templates), "--memory",
                   "256M", "--json", "--", "echo", "restored", timeout=1200)
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines()[0] == b"restored"
        phases = [ph["name"] for ph in last_json(p.stdout)["phases"]]
        assert "restore" in phases and "boot" not in phases, phases
        p = run_vz("template", "make", "--templates", str(templates), "--vm-start", "cold",
                   "--", "true")
        assert p.returncode == FAIL and b"cold starts" in p.stderr
    finally:
        assert run_vz("template", "drop", str(templates)).returncode == 0
    assert not [e for e in templates.iterdir() if len(e.name) == 16]


# -- vz check -----------------------------------------------------------------------


def test_check() -> None:
    p = run_vz("check")
    out = p.stdout.decode()
    for item in ("container", "vm", "user namespaces", "cgroups", "overlayfs", "kvm",
                 "guest kernel", "default rootfs"):
        assert re.search(rf"^  {item} ", out, re.M), (item, out)
    lines = {l.split()[0]: l for l in out.splitlines()[1:3]}
    verdicts = [" yes: " in lines[b] for b in ("container", "vm")]
    assert p.returncode == (0 if any(verdicts) else 1)
    for backend, yes in zip(("container", "vm"), verdicts):
        q = run_vz("check", "--backend", backend)
        assert q.returncode == (0 if yes else 1)
        assert f"  {backend} " in q.stdout.decode()
