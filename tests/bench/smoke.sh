#!/bin/sh
# smoke.sh VZ_BENCH SOURCE_DIR ROOTFS: run vz-bench with small counts over every mode
# this host has, then check what it wrote (check_results.py), draw the charts
# (bench/charts.py) and check them, and check that the run left nothing behind:
# temporary directories, OCI state, cgroups, mounts or processes.
set -eu
bench=$1 src=$2 rootfs=$3
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "SKIP: no python3 to check the results"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: vz-bench runs its container peers as root"; exit 77; }
out=$(mktemp -d /tmp/vz-bench-test-XXXXXX)
trap 'rm -rf "$out"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# Bad input: a clear error naming the problem, exit 2, nothing run.
for bad in "--runs 0" "--workloads nosuch" "--concurrency 1,x" "--no-vm --no-container" \
	   "--vm-memory 1"; do
	# shellcheck disable=SC2086
	if "$bench" $bad >"$out/bad.out" 2>&1; then fail "vz-bench $bad succeeded"; fi
	grep -q "vz-bench: " "$out/bad.out" || fail "vz-bench $bad: no error message"
done
"$bench" --rootfs /nonexistent --no-vm >"$out/bad.out" 2>&1 &&
	fail "vz-bench with a missing rootfs succeeded"
grep -q "/nonexistent" "$out/bad.out" || fail "missing rootfs: the error does not name it"

# What the host had before: to compare after.
snapshot() {
	{
		ls -d /tmp/vz-bench-* 2>/dev/null | grep -v "^$out\$" || true
		find /sys/fs/cgroup -maxdepth 3 -type d \( -name 'vz-bench-*' -o -name 'libvz*' \) \
			2>/dev/null || true
		grep -E 'vz-bench|libvz' /proc/self/mountinfo || true
		pgrep -a -f 'vz-bench-[0-9]|qemu-system-x86_64 -M microvm|sleep 3600' || true
	} | sort
}

# bench_run NAME ARGS...: one run into $out/NAME, then every check on what it wrote.
bench_run() {
	name=$1
	shift
	snapshot >"$out/before"
	"$bench" --rootfs "$rootfs" --out "$out/$name" "$@" >"$out/$name.table" \
		2>"$out/$name.progress" || {
		cat "$out/$name.table" "$out/$name.progress"; fail "$name: vz-bench failed"; }
	cat "$out/$name.table"
	sleep 1
	snapshot >"$out/after"
	if ! cmp -s "$out/before" "$out/after"; then
		diff "$out/before" "$out/after" || true
		fail "$name: the run left something behind (above: > lines)"
	fi
	"$py" "$src/tests/bench/check_results.py" "$out/$name/results.json" \
		"$out/$name/results.csv" "$out/$name.table" || fail "$name: check_results.py"
	"$py" "$src/bench/charts.py" "$out/$name/results.json" "$out/$name/charts" \
		>"$out/$name.charts" || fail "$name: charts.py"
	"$py" "$src/tests/bench/check_results.py" --charts "$out/$name/charts" \
		"$out/$name/results.json" || fail "$name: the charts"
}

# Container class: every workload, two concurrency levels.
bench_run container --no-vm --runs 4 --warmup 1 --concurrency 1,4 --rounds 2
# VM class: boots take tens of seconds on a kvm_pvm host, so /bin/true only.
if [ "${VZ_TEST_VM_BOOTS:-1}" = 0 ]; then
	echo "VZ_TEST_VM_BOOTS=0: no VM-class run"
else
	bench_run vm --no-container --workloads true --vm-runs 1 --vm-warmup 0 \
		--vm-concurrency 1,2 --vm-rounds 1
fi
echo "PASS"
