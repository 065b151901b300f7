#!/bin/bash
# Set up libvz on a fresh Debian bookworm machine, as root:
#
#   tools/setup.sh              install the Debian packages, build ./build, build the
#                               busybox rootfs, install libvz, the vz command and the
#                               default rootfs (cmake --install, /usr/local), and run
#                               the main job (a container)
#   tools/setup.sh --deps-only  only install the Debian packages (what CI calls)
#
# Idempotent: packages already installed are not fetched again (apt-get update runs only
# when something is missing), and ./build and build/rootfs are reused. Command output
# goes to build/setup.log; a failing step prints its tail.
set -euo pipefail

readonly PACKAGES=(
	build-essential cmake pkg-config # compiler, build system
	busybox-static                   # the test and example rootfs
	bubblewrap crun runc             # peers in the benchmark (bench/)
	doxygen graphviz                 # the docs target
	python3 python3-pytest           # the ctypes binding tests
	python3-pip python3-venv         # `pip install ./bindings/python`, tested offline
	valgrind                         # leak checks
	iproute2                         # network inspection in tests
	linux-source-6.1 flex bison bc   # the guest kernel (tools/guest-kernel/build.sh)
	libelf-dev xz-utils cpio
	qemu-system-x86                  # the kvm_amd testbed; the QEMU peer in bench/
	clang libclang-rt-14-dev         # the libFuzzer targets (tests/fuzz)
)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly BUILD=build
readonly LOG=$BUILD/setup.log

step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf 'setup.sh: error: %s\n' "$*" >&2
	exit 1
}

# Run a command with its output in $LOG; on failure show the end of it and stop.
quiet() {
	printf '\n$ %s\n' "$*" >>"$LOG"
	if ! "$@" </dev/null >>"$LOG" 2>&1; then
		printf 'setup.sh: failed: %s\n--- last lines of %s ---\n' "$*" "$LOG" >&2
		tail -n 40 "$LOG" >&2
		exit 1
	fi
}

usage() {
	sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

is_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

install_deps() {
	local missing=() p candidate

	step "checking ${#PACKAGES[@]} Debian packages"
	if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
		die "apt-get not found: this script is for Debian bookworm; install by hand: ${PACKAGES[*]}"
	fi
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		note "all installed"
		return
	fi
	note "missing: ${missing[*]}"
	[[ $(id -u) == 0 ]] || die "installing packages needs root: sudo $0 $*"
	step "apt-get update"
	quiet apt-get update
	for p in "${missing[@]}"; do
		candidate=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: *//p')
		[[ -n $candidate && $candidate != "(none)" ]] ||
			die "package $p has no installation candidate: check the apt sources (/etc/apt/sources.list*)"
	done
	step "apt-get install ${missing[*]}"
	quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		-o DPkg::Lock::Timeout=300 "${missing[@]}"
	for p in "${missing[@]}"; do
		is_installed "$p" || die "package $p is still not installed (see $LOG)"
	done
}

guest_kernel() {
	step "guest kernel for the VM backend (tools/guest-kernel/build.sh; cached by its inputs)"
	bash tools/guest-kernel/build.sh --out "$BUILD/guest-kernel/vmlinux" </dev/null ||
		die "the guest kernel build failed (see the lines above)"
}

build() {
	step "configuring ./$BUILD (RelWithDebInfo)"
	quiet cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVZ_BUILD_EXAMPLES=ON \
		-DVZ_INSTALL_ROOTFS=ON -DVZ_GUEST_KERNEL="$PWD/$BUILD/guest-kernel/vmlinux"
	step "building ./$BUILD"
	quiet cmake --build "$BUILD" --parallel "$(nproc)"
	step "building the busybox rootfs in ./$BUILD/rootfs"
	quiet sh tools/mkrootfs.sh "$BUILD/rootfs"
}

# cmake --install: libvz, its headers, the vz command and (VZ_INSTALL_ROOTFS) the default
# busybox rootfs that libvz uses when none is configured, so `vz run -- echo hello` works.
install_build() {
	local prefix
	prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
	if [[ $(id -u) != 0 ]]; then
		note "not root: not installing into $prefix (run: sudo cmake --install $BUILD && sudo ldconfig)"
		return
	fi
	step "installing libvz, vz and the default rootfs into $prefix (cmake --install)"
	quiet cmake --install "$BUILD"
	quiet install -D -m 0644 "$BUILD/guest-kernel/vmlinux" "$prefix/share/libvz/vmlinux"
	quiet ldconfig
	step "checking the installed command: $prefix/bin/vz run -- echo hello"
	env -u VZ_ROOTFS "$prefix/bin/vz" run -- echo hello </dev/null ||
		die "the installed vz failed (details above; vz check says what this host can run)"
}

# vm_unavailable VZ: print, in one line, why the VM run cannot happen here; fail (1) when
# it can. The last word is libvz's own (`vz check --backend vm`).
vm_unavailable() {
	local vz=$1 out why
	if [[ $(id -u) != 0 ]]; then
		echo "not root: vz is not installed and /dev/kvm is root's (sudo $0)"
	elif [[ ! -e /dev/kvm ]]; then
		echo "this host has no /dev/kvm (no KVM: a VM, container or CPU without VMX/SVM, or kvm_intel/kvm_amd not loaded)"
	elif [[ ! -f $BUILD/guest-kernel/vmlinux ]]; then
		echo "no guest kernel in $BUILD/guest-kernel/vmlinux (tools/guest-kernel/build.sh)"
	elif ! out=$("$vz" check --backend vm 2>&1 </dev/null); then
		why=$(sed -n 's/^ *vm  *no: *//p' <<<"$out" | head -n 1)
		echo "libvz says the VM backend is unavailable: ${why:-$(head -n 2 <<<"$out" | tr '\n' ' ')}"
	else
		return 1
	fi
}

main_job() {
	local rc=0 vz why
	step "running the main job: $BUILD/examples/vz-run-example $BUILD/rootfs /bin/sh -c '...'"
	[[ $(id -u) == 0 ]] || note "not root: the container runs in a user namespace, and cgroup limits may be refused"
	"$BUILD/examples/vz-run-example" "$BUILD/rootfs" /bin/sh -c \
		'echo hello from a libvz container; uname -n' </dev/null || rc=$?
	((rc == 0)) || die "the main job failed with exit code $rc (details above)"
	vz="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")/bin/vz"
	if why=$(vm_unavailable "$vz"); then
		step "no VM run: $why"
	else
		step "the same in a VM: vz run --backend vm -- ... (a boot takes tens of seconds on kvm_pvm)"
		"$vz" run --backend vm -- /bin/sh -c 'echo hello from a libvz VM; uname -r' </dev/null ||
			die "the VM run failed (details above; vz check says what this host can run)"
	fi
	step "done: next, run the tests with: sudo tools/test.sh"
}

deps_only=0
for arg in "$@"; do
	case $arg in
	--deps-only) deps_only=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

mkdir -p "$BUILD"
: >"$LOG"
install_deps "$@"
((deps_only)) && exit 0
mkdir -p "$BUILD/guest-kernel"
guest_kernel
build
install_build
main_job
