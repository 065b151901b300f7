#!/bin/bash
# Boot libvz's guest kernel under QEMU (a stand-in for libvz's own VMM) with a
# tiny static test init, and time it.
#
# Usage: tools/guest-kernel/qemu-check/run.sh [options]
#   --kernel FILE   vmlinux to boot (default: build/fetch it with ../build.sh)
#   --mode M        kvm | tcg | both (default both): kvm = -accel kvm with
#                   "vzpvm" (this host's /dev/kvm is kvm_pvm); tcg = -accel tcg
#                   without "vzpvm" (the stock code paths)
#   --runs N        boots per mode (default 1); prints each time and the mean
#   --cpu MODEL     -cpu for kvm mode (default host,-arch-capabilities,
#                   kvm-pv-ipi=off,kvm-pv-sched-yield=off: QEMU cannot set
#                   MSR 0x10a on kvm_pvm, and a secondary vCPU hangs in the
#                   PV IPI hypercall)
#   --append STR    extra kernel command-line words (both modes)
#   --pvm-append STR replaces the kvm-mode words (default: $PVM_APPEND below:
#                   what this guest kernel needs on kvm_pvm, plus cheap speedups)
#   --smp N         vCPUs (default 1)
#   --mem MIB       guest RAM (default 128)
#   --machine M     QEMU machine (default microvm: qboot starts the kernel in
#                   ~1 s on kvm_pvm, SeaBIOS (pc) in ~15 s)
#   --panic         also check that a panic (no init) reboots the VM
#   --timeout S     per-boot limit in seconds (default 120)
#   --keep DIR      keep initramfs and console logs in DIR
# Exit status 0 when every boot printed "vzcheck: PASS" and QEMU exited as
# expected.
set -euo pipefail

# Needed on kvm_pvm: vzpvm (the kernel patches), noxsave (kvm_pvm cannot run
# XSAVE/XRSTOR in guest kernel mode), clearcpuid=smap,popcnt (CLAC/STAC and
# POPCNT cannot be emulated, and kvm_pvm shows the host's CPUID leaf 1/7 bits
# whatever the VMM sets). Speedups: erms,fsrm off (the kernel then uses
# rep movsq/stosq: 8x fewer emulated iterations), no_timer_check,
# noreplace-smp (no lock-prefix patching on 1 vCPU), percpu_alloc=page,
# tsc=reliable (no clocksource watchdog).
PVM_APPEND="vzpvm noxsave clearcpuid=smap,popcnt,erms,fsrm no_timer_check noreplace-smp percpu_alloc=page tsc=reliable"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel= mode=both runs=1 cpu=host,-arch-capabilities,kvm-pv-ipi=off,kvm-pv-sched-yield=off extra= smp=1 mem=128 machine=microvm panic=0 tmo=120 keep=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--mode) mode=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--cpu) cpu=$2; shift 2 ;;
	--append) extra=$2; shift 2 ;;
	--pvm-append) PVM_APPEND=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--machine) machine=$2; shift 2 ;;
	--panic) panic=1; shift ;;
	--timeout) tmo=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	-h|--help) sed -n '5,26s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 not found (apt-get install qemu-system-x86)" >&2; exit 2; }
command -v gcc >/dev/null || { echo "run.sh: gcc not found" >&2; exit 2; }

if [ -n "$keep" ]; then work=$keep; mkdir -p "$work"; else
	work=$(mktemp -d /tmp/vz-qemu-check.XXXXXX); trap 'rm -rf "$work"' EXIT; fi
if [ -z "$kernel" ]; then
	"$here/../build.sh" --out "$work/vmlinux" >&2
	kernel=$work/vmlinux
fi
[ -f "$kernel" ] || { echo "run.sh: kernel $kernel not found" >&2; exit 2; }

gcc -static -O2 -Wall -o "$work/init" "$here/init.c"
python3 "$here/mkcpio.py" "$work/init" "$work/test.cpio"

rm -f "$work"/times.*
base_append="console=ttyS0 panic=-1"
failed=0

# boot NAME ACCEL CPU APPEND [expect: pass|panic]
boot() {
	local name=$1 accel=$2 cpuarg=$3 append=$4 expect=${5:-pass}
	local log=$work/$name.log t0 t_init= line rc
	: >"$log"; rm -f "$log.init"
	t0=$EPOCHREALTIME
	set +e
	timeout "$tmo" qemu-system-x86_64 -accel "$accel" -cpu "$cpuarg" -M "$machine" \
		-smp "$smp" -m "$mem" -nographic -no-reboot -nodefaults -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -device i8042 \
		-kernel "$kernel" -initrd "$work/test.cpio" -append "$append" </dev/null 2>&1 |
	{
		while IFS= read -r line; do
			line=${line%$'\r'}
			printf '%s %s\n' "$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))ms" "$line" >>"$log"
			case $line in
			*"vzcheck: init started"*) echo "$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))" >"$log.init" ;;
			esac
		done
	}
	rc=${PIPESTATUS[0]}
	set -e
	local t_end=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
	[ -f "$log.init" ] && t_init=$(cat "$log.init")
	local up; up=$(grep -o 'init started, uptime [0-9.]*' "$log" | awk '{print $4}' || true)
	local verdict=FAIL
	if [ "$expect" = pass ]; then
		# isa-debug-exit: (0 << 1) | 1 = 1; a reboot with -no-reboot: 0.
		if grep -q 'vzcheck: PASS' "$log" && { [ $rc = 1 ] || [ $rc = 0 ]; }; then verdict=PASS; fi
	else
		if grep -q 'Kernel panic' "$log" && [ $rc = 0 ]; then verdict=PASS; fi
	fi
	printf '%-5s %-28s qemu-exit=%-3s to-init=%6s ms  guest-uptime-at-init=%6s s  total=%6s ms\n' \
		"$verdict" "$name" "$rc" "${t_init:--}" "${up:--}" "$t_end" >&2
	if [ $verdict != PASS ]; then
		failed=1
		echo "---- console log of $name ($log) ----" >&2
		tail -n 60 "$log" >&2
		echo "----" >&2
	fi
	[ -n "$t_init" ] && echo "$t_init" >>"$work/times.$accel"
	return 0
}

echo "kernel: $kernel" >&2
if [ "$mode" = kvm ] || [ "$mode" = both ]; then
	[ -w /dev/kvm ] || { echo "run.sh: /dev/kvm not usable" >&2; exit 2; }
	app="$base_append $PVM_APPEND $extra"
	echo "kvm: -cpu $cpu -append '$app'" >&2
	for i in $(seq "$runs"); do boot "kvm-$i" kvm "$cpu" "$app"; done
	[ $panic = 1 ] && boot kvm-panic kvm "$cpu" "$app rdinit=/nonexistent init=/nonexistent" panic
fi
if [ "$mode" = tcg ] || [ "$mode" = both ]; then
	app="$base_append $extra"
	echo "tcg: -cpu max -append '$app'" >&2
	for i in $(seq "$runs"); do boot "tcg-$i" tcg max "$app"; done
	[ $panic = 1 ] && boot tcg-panic tcg max "$app rdinit=/nonexistent init=/nonexistent" panic
fi
for a in kvm tcg; do
	[ -f "$work/times.$a" ] || continue
	awk -v a=$a '{s+=$1; if(min==""||$1<min)min=$1; if($1>max)max=$1} END {printf "%s: %d boots to init: mean %.0f ms, min %d, max %d\n", a, NR, s/NR, min, max}' "$work/times.$a" >&2
done
exit $failed
