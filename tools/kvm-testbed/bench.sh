#!/bin/bash
# tools/kvm-testbed/bench.sh [OPTIONS] [--] [VZ-BENCH OPTIONS]: the benchmark harness
# (vz-bench, docs/benchmarks.md) inside the kvm-testbed (run.sh here), so that the VM
# modes run on a real kvm_amd: libvz-vm (restored from a template), libvz-vm-cold (a full
# boot every start) and QEMU microvm (with -accel kvm) in nested guests of a guest that
# QEMU emulates (TCG). Compare modes within one run; the absolute
# figures are the emulator's, never hardware ones (README.md, "Limits").
#
#   --build DIR    build directory with bench/vz-bench, libvz.so and rootfs/ (the busybox
#                  rootfs); default ./build
#   --no-build     use DIR's vz-bench as it is (default: cmake --build DIR --target vz-bench)
#   --minbase DIR  a Debian minbase rootfs (tools/mkrootfs-debian.sh DIR) as a second VM
#                  rootfs: vz-bench --alt-rootfs minbase=DIR, the mode libvz-vm-minbase
#   --out DIR      host directory for results.json, results.csv (carried out of the guest
#                  on its console between marker lines), the charts and console.log
#                  (default bench-results-testbed)
#   --mem MIB      testbed memory (default 4096, 6144 with --minbase): the payload and
#                  the nested VMs live in it
#   --timeout SEC  testbed wall-clock limit (default 14400)
#
# Copied in: vz-bench and the libraries it loads (libvz.so), the guest kernel (always
# through tools/guest-kernel/build.sh, which is cached by its inputs), DIR/rootfs,
# qemu-system-x86_64 with what -M microvm loads (pvh.bin, bios-microvm.bin -> qboot.rom,
# the TCG module for its fallback), cpio (vz-bench packs the peers' initramfs with it) and
# the minbase rootfs. The guest runs
#   vz-bench --kernel K --rootfs DIR/rootfs --vm-memory 256 --vm-concurrency 1,10 \
#            --timeout 1800 [--alt-rootfs minbase=M] [VZ-BENCH OPTIONS] --out /tmp/...
# Your options come after these defaults and win (--only, --vm-runs, --memory-sandboxes,
# --templates DIR: a directory in the testbed's guest; by default vz-bench makes a fresh
# one and removes it). 256 MiB of guest RAM for every VM
# mode: the testbed has no disk, so bind64m's 64 MiB file lands on its tmpfs, charged to
# the VMM's memory cgroup (guest RAM + slack), which 128 MiB guests then overrun (OOM).
# 1,10: ten VMs at once (restored ones share their template's pages); a hundred do not
# fit in the testbed.
# Its table comes out on this program's stdout as it is printed. Exit status: vz-bench's;
# run.sh's 77, 124, 125 (testbed unavailable, timeout, testbed failure); 2 bad usage.
set -uo pipefail

me=kvm-testbed/bench
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || exit 1
build=./build
build_it=1
minbase=
out="bench-results-testbed"
mem=
timeout_s=14400

usage() {
	sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { say "$*"; exit 1; }
need_arg() { (($# >= 2)) || { say "$1 needs an argument"; usage; }; }

while (($#)); do
	case $1 in
	--build) need_arg "$@"; build=$2; shift 2 ;;
	--no-build) build_it=0; shift ;;
	--minbase) need_arg "$@"; minbase=$2; shift 2 ;;
	--out) need_arg "$@"; out=$2; shift 2 ;;
	--mem) need_arg "$@"; mem=$2; shift 2 ;;
	--timeout) need_arg "$@"; timeout_s=$2; shift 2 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[[ -z $mem || $mem =~ ^[1-9][0-9]*$ ]] || { say "--mem: not a number: $mem"; exit 2; }
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || { say "--timeout: not a number: $timeout_s"; exit 2; }
[[ -n $mem ]] || mem=$([[ -n $minbase ]] && echo 6144 || echo 4096)

build=$(realpath -e "$build") || die "--build: no such directory"
bench=$build/bench/vz-bench
rootfs=$build/rootfs
if ((build_it)); then
	cmake --build "$build" --target vz-bench >&2 || die "building vz-bench in $build failed"
fi
[[ -x $bench ]] || die "$bench is not built (cmake --build $build --target vz-bench)"
[[ -d $rootfs ]] || die "$rootfs: no busybox rootfs (tools/mkrootfs.sh $rootfs)"
if [[ -n $minbase ]]; then
	minbase=$(realpath -e "$minbase") || die "--minbase: no such directory"
	[[ -e $minbase/bin/true || -L $minbase/bin/true ]] ||
		die "--minbase $minbase has no /bin/true (make one: tools/mkrootfs-debian.sh DIR)"
fi

# The guest kernel, always through build.sh: build/guest-kernel/vmlinux may be stale.
kernel=$build/guest-kernel/vmlinux
mkdir -p "${kernel%/*}" || die "mkdir ${kernel%/*}"
bash "$root/tools/guest-kernel/build.sh" --out "$kernel" </dev/null >&2 ||
	die "tools/guest-kernel/build.sh failed"

qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is not installed"
qemu=$(realpath -e "$qemu")
cpio=$(command -v cpio) || die "cpio is not installed"
# QEMU finds its firmware relative to its binary (BIN/../share/qemu) and loads the TCG
# accelerator as a module (BIN/../lib/ARCH/qemu): the same paths in the guest.
qdir=${qemu%/bin/*}
copies=(--copy "$bench" --copy "$kernel" --copy "$rootfs" --copy "$qemu" --copy "$cpio")
for f in "$qdir/share/qemu/pvh.bin" "$qdir/share/qemu/bios-microvm.bin" \
	"$qdir"/lib/*/qemu/accel-tcg-x86_64.so; do
	if [[ -e $f ]]; then
		copies+=(--copy "$f")
	else
		say "warning: $f not found (QEMU microvm may fail)"
	fi
done
[[ -z $minbase ]] || copies+=(--copy "$minbase")

args=(--kernel "$kernel" --rootfs "$rootfs" --vm-memory 256 --vm-concurrency "1,10" --timeout 1800)
[[ -z $minbase ]] || args+=(--alt-rootfs "minbase=$minbase")
args+=("$@")

mkdir -p "$out" || die "mkdir $out"
out=$(realpath -e "$out")
log=$out/console.log
# In the guest: the copied programs first in PATH (busybox's cpio lacks -R), then the
# files vz-bench wrote, on the console between marker lines.
# shellcheck disable=SC2016 # expanded by the guest's sh
script='PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:$PATH; export PATH
o=/tmp/vz-bench-testbed-out
"$@" --out "$o"
rc=$?
for f in results.json results.csv; do
	[ -f "$o/$f" ] || continue
	echo "@@vz-bench-file:$f:begin@@"
	cat "$o/$f"
	echo "@@vz-bench-file:$f:end@@"
done
exit $rc'
say "payload: vz-bench, libvz, $kernel, $rootfs, QEMU${minbase:+, $minbase}; ${mem} MiB," \
	"timeout $timeout_s s; console log: $log"
"$root/tools/kvm-testbed/run.sh" --mem "$mem" --timeout "$timeout_s" "${copies[@]}" -- \
	sh -c "$script" sh "$bench" "${args[@]}" | tee "$log" |
	sed -u '/^@@vz-bench-file:[^:]*:begin@@$/,/^@@vz-bench-file:[^:]*:end@@$/d'
rc=${PIPESTATUS[0]}

# The files between their markers; a line that the console mangled shows as bad JSON.
for f in results.json results.csv; do
	sed -n "/^@@vz-bench-file:$f:begin@@\$/,/^@@vz-bench-file:$f:end@@\$/p" "$log" |
		sed '1d;$d' >"$out/$f"
	[[ -s $out/$f ]] || rm -f "$out/$f"
done
if [[ -f $out/results.json ]] && command -v python3 >/dev/null; then
	if python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$out/results.json"; then
		python3 "$root/bench/charts.py" "$out/results.json" >/dev/null ||
			say "warning: charts.py failed"
		say "wrote $out/results.json, results.csv and the charts"
	else
		say "warning: $out/results.json is not valid JSON (console noise?); see $log"
	fi
elif [[ ! -f $out/results.json ]]; then
	say "no results.json came out of the guest; see $log"
fi
exit "$rc"
