#!/bin/bash
# Build and test everything, as CI does (run as root for the container tests):
#
#   0. the guest kernel (tools/guest-kernel/build.sh, cached by its inputs)
#   1. ./build       RelWithDebInfo: build, then ctest (all labels)
#   2. ./build-asan  Debug with -DVZ_SANITIZE=address,undefined: build, then ctest
#   3. the docs target (Doxygen; any warning fails it)
#
# Every step runs even when an earlier one failed; the exit status is non-zero if any
# failed. The last line sums up both ctest runs: "N passed, N failed, N skipped".
#
# Environment: VZ_TEST_REQUIRE (e.g. "container,kvm") turns the tests' skips for those
# features into failures. ASAN_OPTIONS and UBSAN_OPTIONS override the sanitizer
# defaults. Build output goes to <build dir>/build.log; a failing build prints its end.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

passed=0 failed=0 skipped=0
failed_steps=()

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
fail_step() {
	printf 'test.sh: FAILED: %s\n' "$*" >&2
	failed_steps+=("$*")
}

# build DIR CMAKE_ARGS...: configure and build, output in DIR/build.log. Returns 1 on failure.
build() {
	local dir=$1 log=$1/build.log
	shift
	mkdir -p "$dir"
	: >"$log"
	if ! cmake -S . -B "$dir" "$@" </dev/null >>"$log" 2>&1 ||
		! cmake --build "$dir" --parallel "$(nproc)" </dev/null >>"$log" 2>&1; then
		printf -- '--- errors in %s ---\n' "$log" >&2
		grep -E '(error|Error|undefined reference)' "$log" | head -n 40 >&2
		printf -- '--- last lines of %s ---\n' "$log" >&2
		tail -n 30 "$log" >&2
		return 1
	fi
	note "built ($log)"
}

# run_ctest DIR [ENV=VALUE...]: run every test of DIR and add its counts to the totals.
run_ctest() {
	local dir=$1 log=$1/ctest.log rc summary t_failed t_total t_skipped
	shift
	env "$@" ctest --test-dir "$dir" --output-on-failure --no-tests=error ${ctest_args:-} </dev/null 2>&1 |
		tee "$log"
	rc=${PIPESTATUS[0]}
	# "97% tests passed, 1 tests failed out of 40"; skipped tests count as passed there
	# and are listed afterwards as "  7 - name (Skipped)" (or "(Disabled)").
	summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [[ $summary =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		t_failed=${BASH_REMATCH[1]}
		t_total=${BASH_REMATCH[2]}
		t_skipped=$(sed -n '/% tests passed, /,$p' "$log" |
			grep -cE '^[[:space:]]+[0-9]+ - .+ \((Skipped|Disabled)\)$')
		passed=$((passed + t_total - t_failed - t_skipped))
		failed=$((failed + t_failed))
		skipped=$((skipped + t_skipped))
	fi
	if ((rc != 0)); then
		fail_step "ctest in $dir (exit $rc)"
	elif [[ -z $summary ]]; then
		fail_step "ctest in $dir: no summary line in $log"
	fi
}

printf 'libvz tests on %s, kernel %s, %s CPUs, /sys/fs/cgroup is %s, uid %s\n' \
	"$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)" \
	"$(uname -r)" "$(nproc)" \
	"$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo absent)" "$(id -u)"
note "VZ_TEST_REQUIRE=${VZ_TEST_REQUIRE:-} (skips of these features fail)"
if [[ -e /dev/kvm ]]; then
	kvm_module="module unknown"
	for m in kvm_intel kvm_amd kvm_pvm; do
		[[ -d /sys/module/$m ]] && kvm_module=$m
	done
	note "/dev/kvm: present ($kvm_module)"
else
	note "/dev/kvm: absent: the VM tests on this host skip (the kvm_testbed ones emulate their own)"
fi
[[ $(id -u) == 0 ]] || note "not root: container tests may skip or fail (cgroup limits need root)"
export VZ_TEST_REQUIRE=${VZ_TEST_REQUIRE:-}

step "[0/5] guest kernel for the VM tests (cached by its inputs)"
# tools/guest-kernel/build.sh keeps the result under /var/cache/libvz (or
# $VZ_CACHE_DIR), so only the first run on a machine compiles. Without a kernel the VM
# tests skip (and fail where VZ_TEST_REQUIRE names kvm).
guest_kernel=$PWD/build/guest-kernel/vmlinux
mkdir -p build/guest-kernel
if bash tools/guest-kernel/build.sh --out "$guest_kernel" </dev/null; then
	note "guest kernel: $guest_kernel"
else
	fail_step "guest kernel build (tools/guest-kernel/build.sh)"
	guest_kernel=
fi

step "[1/5] build ./build (RelWithDebInfo)"
# Options are set explicitly: a ./build configured by hand may have turned parts off.
if build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVZ_SANITIZE= -DVZ_WERROR=ON \
	-DVZ_BUILD_TESTS=ON -DVZ_BUILD_EXAMPLES=ON -DVZ_BUILD_BENCH=ON -DVZ_BUILD_DOCS=ON \
	-DVZ_WITH_CONTAINER=ON -DVZ_WITH_KVM=ON -DVZ_GUEST_KERNEL="$guest_kernel"; then
	step "[2/5] ctest ./build"
	run_ctest build
else
	fail_step "build ./build"
fi

step "[3/5] build ./build-asan (Debug, address+undefined sanitizers)"
if build build-asan -DCMAKE_BUILD_TYPE=Debug -DVZ_SANITIZE=address,undefined -DVZ_WERROR=ON \
	-DVZ_BUILD_TESTS=ON -DVZ_BUILD_EXAMPLES=ON -DVZ_BUILD_BENCH=ON -DVZ_BUILD_DOCS=OFF \
	-DVZ_WITH_CONTAINER=ON -DVZ_WITH_KVM=ON -DVZ_GUEST_KERNEL="$guest_kernel"; then
	step "[4/5] ctest ./build-asan"
	# Guest boots take tens of seconds each on kvm_pvm, so this run boots none
	# (conformance_vm and the testbed are left out, VZ_TEST_VM_BOOTS=0 for the rest):
	# the sanitizers still see the VMM run the hostile hand-made guests of tests/vm.c.
	# The fuzz targets are the same clang build in both trees: they run in ./build only.
	ctest_args="-E ^conformance_vm$ -LE kvm_testbed|fuzz" run_ctest build-asan VZ_TEST_VM_BOOTS=0 \
		"ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
		"UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
	fail_step "build ./build-asan"
fi

step "[5/5] docs (Doxygen, warnings are errors)"
if ! command -v doxygen >/dev/null; then
	if [[ ${CI:-} == true ]]; then
		fail_step "docs: doxygen is not installed (tools/setup.sh --deps-only installs it)"
	else
		note "SKIPPED: doxygen is not installed (tools/setup.sh --deps-only installs it)"
	fi
elif [[ ! -f build/CMakeCache.txt ]]; then
	fail_step "docs: ./build is not configured"
else
	# Re-configure so that a Doxygen installed after the last configure is found.
	if cmake -S . -B build </dev/null >/dev/null 2>&1 &&
		cmake --build build --target docs </dev/null 2>&1 | tee build/docs.log; then
		note "docs in build/docs/html"
	else
		fail_step "docs (see build/docs.log)"
	fi
fi

echo
if ((${#failed_steps[@]})); then
	printf 'FAILED steps:\n'
	printf '  %s\n' "${failed_steps[@]}"
fi
printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
((${#failed_steps[@]} == 0 && failed == 0))
