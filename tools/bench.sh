#!/bin/bash
# tools/bench.sh [vz-bench options]: the benchmark harness with what tools/setup.sh
# built: builds vz-bench in ./build, the guest kernel (cached by its inputs), runs
#   build/bench/vz-bench --kernel build/guest-kernel/vmlinux --rootfs build/rootfs \
#                        --out bench-results [your options]
# (your options come last and win), then draws the charts (bench/charts.py) next to
# results.json. Run as root. `tools/bench.sh --help` lists vz-bench's options; the
# method is in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=bench-results
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	--out) out=${args[i + 1]:-$out} ;;
	--out=*) out=${args[i]#--out=} ;;
	-h | --help) exec build/bench/vz-bench --help ;;
	esac
done

[ -d build ] || { echo "tools/bench.sh: no ./build: run tools/setup.sh first" >&2; exit 1; }
cmake --build build -j"$(nproc)" --target vz-bench >/dev/null
kernel=build/guest-kernel/vmlinux
# Always through build.sh: it is cached by its inputs (a second or so when nothing
# changed), and a vmlinux left by an older checkout would lack what the VMM needs now.
echo "tools/bench.sh: the guest kernel (cached by its inputs; minutes the first time)" >&2
bash tools/guest-kernel/build.sh --out "$kernel" </dev/null >/dev/null
rc=0
build/bench/vz-bench --kernel "$kernel" --rootfs build/rootfs --out "$out" "$@" || rc=$?
if [ -f "$out/results.json" ] && command -v python3 >/dev/null; then
	python3 bench/charts.py "$out/results.json"
fi
exit "$rc"
