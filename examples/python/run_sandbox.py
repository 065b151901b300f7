#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a shell in a sandbox with limits, feed it input, and print how it went.

    python3 examples/python/run_sandbox.py [container|vm]

Needs libvz installed (tools/setup.sh), or VZ_LIBRARY pointing at libvz.so, and a
rootfs: the installed default, or VZ_ROOTFS (e.g. build/rootfs).
"""

import sys

import vz

backend = sys.argv[1] if len(sys.argv) > 1 else "container"
available = vz.backend_available(backend)
if not available:
    sys.exit(f"the {backend} backend cannot run here: {available.reason}")

script = 'read name; echo "hello from a libvz sandbox, $name"; uname -n; exit 3'
try:
    r = vz.run(["sh", "-c", script], backend=backend, input=b"python\n",
               memory="256M", cpus=0.5, pids=64, timeout=30, hostname="example")
except vz.Error as e:  # libvz refused or could not set the sandbox up
    sys.exit(f"libvz: {e}")

print((r.stdout or b"").decode(), end="")
print(f"{r.reason}, exit code {r.exit_code}, {r.wall_time * 1000:.1f} ms wall, "
      f"{r.cpu_time * 1000:.1f} ms CPU, peak memory {r.peak_memory // 1024} KiB")
for name, seconds in r.phases.items():
    print(f"  {name:<12} {seconds * 1000:8.3f} ms")
