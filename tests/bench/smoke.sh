#!/bin/sh
# smoke.sh VZ_BENCH SOURCE_DIR ROOTFS [VZ]: run vz-bench with small counts over every mode
# this host has, then check what it wrote (check_results.py), draw the charts
# (bench/charts.py) and check them, and check that the run left nothing behind:
# temporary directories, OCI state, sandbox cgroups, mounts or processes.
#
# A class whose libvz backend this host lacks (the VM class without /dev/kvm or a guest
# kernel, say) is skipped with libvz's reason, asked of VZ (the `vz` command: `vz check
# --backend ...`); VZ_TEST_REQUIRE naming its feature (container, kvm) makes that a
# failure. Exit: 0 passed (a class may have been skipped), 1 failed, 77 nothing ran.
set -eu
export LC_ALL=C # sort and comm agree
bench=$1 src=$2 rootfs=$3 vz=${4:-}
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "SKIP: no python3 to check the results"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: vz-bench runs its container peers as root"; exit 77; }
out=$(mktemp -d /tmp/vz-bench-test-XXXXXX)
trap 'rm -rf "$out"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
required() { case ",${VZ_TEST_REQUIRE:-}," in *",$1,"*) return 0 ;; esac; return 1; }

# available BACKEND: is libvz's backend usable here? If not, $why says why (libvz's own
# verdict, vz_backend_available(), through `vz check`). Without VZ, vz-bench decides.
available() {
	why=
	[ -n "$vz" ] || return 0
	[ -x "$vz" ] || fail "$vz (the vz command) is not built"
	if "$vz" check --backend "$1" >"$out/check.$1" 2>&1; then
		return 0
	fi
	why=$(sed -n "s/^ *$1  *no: *//p" "$out/check.$1" | head -n 1)
	[ -n "$why" ] || why=$(head -n 3 "$out/check.$1" | tr '\n' ' ')
	return 1
}

# Bad input: a clear error naming the problem, exit 2, nothing run.
# --alt-rootfs: a NAME outside [a-z0-9-], no DIR, a DIR that is not a rootfs (no /bin/true).
for bad in "--runs 0" "--workloads nosuch" "--concurrency 1,x" "--no-vm --no-container" \
	   "--vm-memory 1" "--memory-sandboxes 0" "--alt-rootfs Bad=$rootfs" \
	   "--alt-rootfs x=/nonexistent" "--alt-rootfs x=/proc" "--alt-rootfs =$rootfs"; do
	rc=0
	# shellcheck disable=SC2086
	"$bench" $bad >"$out/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "vz-bench $bad: exit status $rc, not 2"
	grep -q "vz-bench: " "$out/bad.out" || fail "vz-bench $bad: no error message"
done
"$bench" --rootfs /nonexistent --no-vm >"$out/bad.out" 2>&1 &&
	fail "vz-bench with a missing rootfs succeeded"
grep -q "/nonexistent" "$out/bad.out" || fail "missing rootfs: the error does not name it"

# What the host has: compared before and after a run; only what the run added counts.
# Cgroups: the sandbox groups libvz makes below its own libvz/ directory of each
# hierarchy (sb-<pid>-..., named after the process that made them: vz-bench, PID), and
# the OCI runtimes' groups (vz-bench-<pid>-<seq>). The libvz/ parents themselves are
# libvz's for good (the first sandbox on a machine creates them), and groups of other
# processes (tests running beside this one, stale ones libvz removes) are not this run's.
snapshot() {
	pid=${1:-*}
	{
		ls -d /tmp/vz-bench-* 2>/dev/null | grep -v "^$out\$" || true
		find /sys/fs/cgroup -maxdepth 4 -type d \( -path "*/libvz/sb-$pid-*" -o \
			-name "vz-bench-$pid-*" \) 2>/dev/null || true
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
		2>"$out/$name.progress" &
	bpid=$!
	if ! wait "$bpid"; then
		cat "$out/$name.table" "$out/$name.progress"; fail "$name: vz-bench failed"
	fi
	cat "$out/$name.table"
	sleep 1
	snapshot "$bpid" >"$out/after"
	comm -13 "$out/before" "$out/after" >"$out/added"
	if [ -s "$out/added" ]; then
		cat "$out/added"
		fail "$name: the run left something behind (above)"
	fi
	"$py" "$src/tests/bench/check_results.py" "$out/$name/results.json" \
		"$out/$name/results.csv" "$out/$name.table" || fail "$name: check_results.py"
	"$py" "$src/bench/charts.py" "$out/$name/results.json" "$out/$name/charts" \
		>"$out/$name.charts" || fail "$name: charts.py"
	"$py" "$src/tests/bench/check_results.py" --charts "$out/$name/charts" \
		"$out/$name/results.json" || fail "$name: the charts"
	ran=$((ran + 1))
}

# skip_class CLASS FEATURE WHY: a class this host cannot run; a failure if required.
skip_class() {
	if required "$2"; then
		fail "$1 class: required feature $2 unavailable: $3"
	fi
	echo "SKIP: $1 class: $3"
}

ran=0
# Container class: every workload (the data ones too: libvz-container only, n/a for the
# peers), two concurrency levels.
if available container; then
	bench_run container --no-vm --workloads all --runs 4 --warmup 1 --concurrency 1,4 \
		--rounds 2
else
	skip_class container container "$why"
fi
# VM class: boots take tens of seconds on a kvm_pvm host, so /bin/true only; the same
# rootfs once more as --alt-rootfs (the mode libvz-vm-alt). libvz-vm starts from a
# template made ahead in a fresh template directory (removed at the end: the leftover
# check covers it), libvz-vm-cold boots every time; check_results.py checks that each
# did (the "restore" and "boot" phases). Two VMs of a mode at once in the memory run.
if [ "${VZ_TEST_VM_BOOTS:-1}" = 0 ]; then
	echo "VZ_TEST_VM_BOOTS=0: no VM-class run"
elif available vm; then
	bench_run vm --no-container --workloads true --vm-runs 1 --vm-warmup 0 \
		--vm-concurrency 1,2 --vm-rounds 1 --memory-sandboxes 2 --alt-rootfs "alt=$rootfs"
else
	skip_class VM kvm "$why"
fi
[ "$ran" -gt 0 ] || { echo "SKIP: no class ran (reasons above)"; exit 77; }
echo "PASS"
