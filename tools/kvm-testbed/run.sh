#!/bin/bash
# kvm-testbed: run a command next to a real kvm_amd (AMD SVM with nested paging), inside
# a Debian kernel booted under QEMU's software emulator (TCG). Needs no VMX/SVM on the host.
#
#   run.sh [OPTIONS] -- CMD [ARGS...]
#
#   --copy PATH     put PATH (file or directory) into the guest at the same absolute path,
#                   with the shared libraries its ELF files need (found with ldd) and the
#                   dynamic loader; repeatable
#   --env NAME[=VALUE]  pass NAME (its value here, or VALUE) into the guest; VZ_*, CI and
#                   the sanitizer *_OPTIONS variables of this environment always pass
#   --cache DIR     cache directory (default $VZ_CACHE_DIR/kvm-testbed, else the first
#                   writable of /var/cache/libvz/kvm-testbed, ~/.cache/libvz/kvm-testbed,
#                   /tmp/libvz-cache-UID/kvm-testbed)
#   --timeout SEC   wall-clock limit for QEMU: boot, command, power-off (default 900)
#   --retry-stuck N boot again, up to N times, when QEMU ran out of time without the
#                   command ever reporting an end: the emulated machine itself stopped
#                   making progress (seen, rarely, with ten nested VMs at once: even a
#                   timer in the outer guest no longer fired). A command that reports a
#                   failure is never retried. Default 0
#   --mem MIB       memory of the outer guest (default 2048; the payload lives in it)
#   --cpu MODEL     QEMU CPU model (default EPYC,+svm,+npt)
#   --machine TYPE  QEMU machine (default pc; q35 works too; microvm boots 0.3 s faster
#                   but can hang calibrating the TSC, having neither HPET nor PM timer)
#   --bzimage       boot the compressed kernel instead of its extracted PVH vmlinux
#   --stock-kernel  give CMD the testbed's own Debian kernel to boot as a libvz guest:
#                   its vmlinuz at $VZ_TESTBED_STOCK_KERNEL and a module tree with the
#                   drivers libvz's guest needs (virtio-mmio, virtio-console, FUSE,
#                   virtio-fs, overlayfs: modules there) at $VZ_TESTBED_STOCK_MODULES
#   --append ARGS   more kernel command line for the outer guest
#   --verbose       show the kernel's boot log and QEMU's warnings
#
# CMD runs in the guest as root, in this directory when the payload has it (else /), with
# stdin from /dev/null and its output on the console, which is this program's stdout.
# Exit status: CMD's own; 77 when the testbed cannot be had here (no QEMU, no kernel
# package, no static busybox: the "SKIP:" line says why; VZ_TEST_REQUIRE naming
# kvm_testbed makes that a failure, 1); 124 on timeout; 125 when the testbed failed
# (kvm_amd did not load, the guest died, no exit marker); 2 on a usage error.
#
# The kernel is the one Debian's linux-image-amd64 depends on, fetched with
# `apt-get download` once and cached per package version: later runs are offline.
# VZ_KVM_TESTBED_DEB=/path/to/linux-image-*.deb uses that package instead (hosts without
# Debian's archive). VZ_KVM_TESTBED_QEMU names another qemu-system-x86_64.
set -uo pipefail

me=kvm-testbed
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 125
qemu=${VZ_KVM_TESTBED_QEMU:-qemu-system-x86_64}
cache=
timeout_s=900
retry_stuck=0
mem=2048
cpu=EPYC,+svm,+npt
machine=pc
use_bzimage=0
stock_kernel=0
extra_append=
verbose=0
copies=()
env_names=()
declare -A env_values=()

usage() {
	sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
	say "FAILED: $*"
	exit 125
}
skip() {
	local req=",${VZ_TEST_REQUIRE:-},"
	if [[ $req == *,kvm_testbed,* ]]; then
		echo "$me: FAILED: required feature kvm_testbed unavailable: $*"
		exit 1
	fi
	echo "SKIP: $me: $*"
	exit 77
}
need_arg() { (($# >= 2)) || { say "$1 needs an argument"; usage; }; }
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { say "$1 takes a positive number, not '$2'"; exit 2; }; }

while (($#)); do
	case $1 in
	--copy) need_arg "$@"; copies+=("$2"); shift 2 ;;
	--env)
		need_arg "$@"
		name=${2%%=*}
		[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { say "--env: bad name '$name'"; exit 2; }
		env_names+=("$name")
		if [[ $2 == *=* ]]; then env_values[$name]=${2#*=}; fi
		shift 2 ;;
	--cache) need_arg "$@"; cache=$2; shift 2 ;;
	--timeout) need_arg "$@"; positive "$1" "$2"; timeout_s=$2; shift 2 ;;
	--retry-stuck) need_arg "$@"; retry_stuck=$2; shift 2
		[[ $retry_stuck =~ ^[0-9]+$ ]] || { say "--retry-stuck: not a count: $retry_stuck"; exit 2; } ;;
	--mem) need_arg "$@"; positive "$1" "$2"; mem=$2; shift 2 ;;
	--cpu) need_arg "$@"; cpu=$2; shift 2 ;;
	--machine) need_arg "$@"; machine=$2; shift 2 ;;
	--bzimage) use_bzimage=1; shift ;;
	--stock-kernel) stock_kernel=1; shift ;;
	--append) need_arg "$@"; extra_append="$extra_append $2"; shift 2 ;;
	--verbose) verbose=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	*) say "unknown argument '$1'"; usage ;;
	esac
done
(($#)) || { say "no command given"; usage; }

t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- tools on this host
command -v "$qemu" >/dev/null || skip "$qemu is not installed (Debian: apt-get install qemu-system-x86)"
for tool in cpio timeout; do
	command -v $tool >/dev/null || skip "$tool is not installed"
done
[[ -e /dev/null && -w /dev/null ]] || die "no /dev/null"

if [[ -z $cache && -n ${VZ_CACHE_DIR:-} ]]; then
	cache=$VZ_CACHE_DIR/kvm-testbed
elif [[ -z $cache ]]; then
	for cache in /var/cache/libvz/kvm-testbed "${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/libvz/kvm-testbed" \
		"${TMPDIR:-/tmp}/libvz-cache-$(id -u)/kvm-testbed"; do
		mkdir -p "$cache" 2>/dev/null && [[ -w $cache ]] && break
	done
fi
mkdir -p "$cache" 2>/dev/null && [[ -w $cache ]] || die "cannot write to the cache directory $cache"
cache=$(cd "$cache" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/kvm-testbed.XXXXXX") || die "mktemp failed"
cleanup() {
	local pid
	# QEMU runs in the background (see the boot section): stop it if we stop early.
	if [[ -f $work/qemu.pid ]] && read -r pid <"$work/qemu.pid" && [[ $pid =~ ^[0-9]+$ ]]; then
		kill "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'say "stopped by SIGINT"; exit 130' INT
trap 'say "stopped by SIGTERM"; exit 143' TERM
trap 'say "stopped by SIGHUP"; exit 129' HUP

# Serialise cache fills between runs started together (ctest -j).
lock_cache() {
	if command -v flock >/dev/null; then
		exec {lock_fd}>"$cache/.lock" && flock "$lock_fd"
	fi
}
unlock_cache() {
	[[ -n ${lock_fd:-} ]] && exec {lock_fd}>&-
	lock_fd=
}

# ------------------------------------------------------- Debian package fetch helpers
# fetch_deb NAME VERSION DIR: download the package into DIR; prints the .deb path.
fetch_deb() {
	local name=$1 version=$2 dir=$3 out deb
	command -v apt-get >/dev/null || return 1
	# _apt cannot write into a private directory: let it, or apt warns.
	chmod 777 "$dir" 2>/dev/null
	if ! out=$(cd "$dir" && apt-get download -q "$name=$version" 2>&1); then
		say "apt-get download $name=$version failed:"
		printf '%s\n' "$out" | tail -n 5 >&2
		return 1
	fi
	deb=$(ls "$dir"/"${name}"_*.deb 2>/dev/null | head -n 1)
	[[ -n $deb ]] && printf '%s\n' "$deb"
}

# unpack_deb DEB DIR
unpack_deb() {
	local deb=$1 dir=$2 member
	mkdir -p "$dir"
	if command -v dpkg-deb >/dev/null; then
		dpkg-deb -x "$deb" "$dir"
	elif command -v ar >/dev/null; then
		member=$(ar t "$deb" | grep '^data\.tar') || return 1
		ar p "$deb" "$member" | tar -x -a -f - -C "$dir" 2>/dev/null ||
			ar p "$deb" "$member" | tar -x -J -f - -C "$dir"
	else
		say "neither dpkg-deb nor ar is installed to unpack $deb"
		return 1
	fi
}

# candidate NAME: the version apt would install (empty when unknown).
candidate() {
	command -v apt-cache >/dev/null || return 0
	apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# decompress FILE: print FILE's content, decompressed by its suffix.
decompress() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

# ------------------------------------------------------------------- the kernel
# extract_vmlinux BZIMAGE OUT: the kernel's ELF image out of a bzImage (setup header
# fields payload_offset/payload_length, boot protocol 2.08+), kept only when it carries
# the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) that QEMU boots directly.
extract_vmlinux() {
	local bz=$1 out=$2 sects version off len magic
	[[ $(od -An -c -j $((0x202)) -N4 "$bz" | tr -d ' ') == HdrS ]] || return 1
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	((sects)) || sects=4
	version=$(od -An -tu2 -j $((0x206)) -N2 "$bz" | tr -d ' ')
	((version >= 0x208)) || return 1
	off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	off=$(((sects + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$off" -N4 "$bz" | tr -d ' ')
	payload() { tail -c +$((off + 1)) "$bz" | head -c "$len"; }
	case $magic in
	fd377a58) payload | xz -dcq --single-stream >"$out" 2>/dev/null ;;
	28b52ffd) payload | zstd -dcq 2>/dev/null >"$out" ;;
	1f8b*) payload | gzip -dcq 2>/dev/null >"$out" ;;
	*) return 1 ;;
	esac
	[[ $(od -An -c -N4 "$out" | tr -d ' ') == 177ELF ]] &&
		LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$out"
}

# The modules the guest loads, with what they need: kvm_amd (the point of the testbed),
# then for the container backend's tests there overlay (its root file system) and loop
# (a host block device for the device isolation cases).
readonly guest_modules=(kvm_amd overlay loop)
# The drivers libvz's guest needs, which Debian's kernel has as modules: kept as a
# module tree (stock/lib/modules/RELEASE) for --stock-kernel.
readonly stock_modules=(virtio_mmio virtio_console fuse virtiofs overlay)
# A cache entry's "ok" file names the modules it holds; one that names others (older
# entries: an empty file, kvm_amd's only) is filled again.
readonly cache_format="modules: ${guest_modules[*]}; stock: ${stock_modules[*]}"
entry_ok() { [[ -f $1/ok && $(cat "$1/ok" 2>/dev/null) == "$cache_format" ]]; }
mark_ok() { printf '%s\n' "$cache_format" >"$1/ok"; }

# walk_modules MODDIR VISIT NAME...: the modules NAME... and those they depend on (their
# modinfo depends=), each once, dependencies first. VISIT NAME FILE DEPS runs for each
# that is a module file; one built into the kernel (modules.builtin) is skipped. The
# caller declares `local -A walked=()`, the set already seen.
walk_modules() {
	local moddir=$1 visit=$2 m
	shift 2
	for m in "$@"; do
		walk_one "$moddir" "$visit" "$m" || return 1
	done
}
walk_one() {
	local moddir=$1 visit=$2 m=${3//-/_} f deps d
	[[ -z ${walked[$m]:-} ]] || return 0
	walked[$m]=1
	f=$(find "$moddir" \( -name "$m.ko*" -o -name "${m//_/-}.ko*" \) -print -quit)
	if [[ -z $f ]]; then
		grep -q "/${m//_/[_-]}\.ko" "$moddir/modules.builtin" 2>/dev/null && return 0
		say "module $m not found in the kernel package"
		return 1
	fi
	deps=$(decompress "$f" | tr '\0' '\n' | grep -a -m1 '^depends=' | cut -d= -f2)
	for d in ${deps//,/ }; do
		walk_one "$moddir" "$visit" "$d" || return 1
	done
	"$visit" "$m" "$f" "${deps//,/ }"
}

# fill_kernel DIR DEB: unpack DEB and put into DIR the kernel, its PVH image when it has
# one, and the modules in guest_modules with those they need, in load order,
# decompressed (busybox insmod reads plain .ko files); and the stock module tree.
fill_kernel() {
	local dir=$1 deb=$2 x=$1/x moddir release n=0
	local -A walked=()
	unpack_deb "$deb" "$x" || return 1
	moddir=$(ls -d "$x"/lib/modules/* "$x"/usr/lib/modules/* 2>/dev/null | head -n 1)
	[[ -d $moddir ]] || { say "no lib/modules in $deb"; return 1; }
	release=${moddir##*/}
	cp "$x/boot/vmlinuz-$release" "$dir/vmlinuz" || return 1
	extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux" || rm -f "$dir/vmlinux"
	mkdir -p "$dir/modules"
	guest_module() {
		n=$((n + 1))
		decompress "$2" >"$dir/modules/$(printf %02d "$n")-$1.ko"
	}
	walk_modules "$moddir" guest_module "${guest_modules[@]}" || return 1
	stock_tree "$dir/stock/lib/modules/$release" "$moddir" || return 1
	printf '%s\n' "$release" >"$dir/release"
	rm -rf "$x"
}

# stock_tree OUT MODDIR: a module tree in OUT as depmod would leave it, holding only
# stock_modules and what they depend on: the files as packaged (at their paths under
# kernel/), modules.builtin, and a modules.dep with their lines.
stock_tree() {
	local out=$1 moddir=$2 dep=''
	local -A walked=() rel=()
	mkdir -p "$out" && cp "$moddir/modules.builtin" "$out/" || return 1
	stock_module() {
		local d line
		rel[$1]=${2#"$moddir"/}
		mkdir -p "$out/${rel[$1]%/*}" && cp "$2" "$out/${rel[$1]}" || return 1
		line="${rel[$1]}:"
		for d in $3; do
			d=${d//-/_}
			[[ -z ${rel[$d]:-} ]] || line="$line ${rel[$d]}"
		done
		dep="$dep$line"$'\n'
	}
	walk_modules "$moddir" stock_module "${stock_modules[@]}" || return 1
	printf '%s' "$dep" >"$out/modules.dep"
}

# Pick the kernel: a cache entry named <package>_<version>.
kernel_dir=
if [[ -n ${VZ_KVM_TESTBED_DEB:-} ]]; then
	[[ -f $VZ_KVM_TESTBED_DEB ]] || die "VZ_KVM_TESTBED_DEB=$VZ_KVM_TESTBED_DEB is not a file"
	key=$(basename "$VZ_KVM_TESTBED_DEB" .deb)
	kernel_dir=$cache/$key
	if ! entry_ok "$kernel_dir"; then
		lock_cache
		if ! entry_ok "$kernel_dir"; then
			rm -rf "$kernel_dir.tmp"
			mkdir -p "$kernel_dir.tmp" && fill_kernel "$kernel_dir.tmp" "$VZ_KVM_TESTBED_DEB" ||
				die "cannot unpack $VZ_KVM_TESTBED_DEB"
			mark_ok "$kernel_dir.tmp" && rm -rf "$kernel_dir" && mv "$kernel_dir.tmp" "$kernel_dir"
		fi
		unlock_cache
	fi
else
	# Which versioned package linux-image-amd64 depends on, and its candidate version.
	# apt-cache takes seconds without a pkgcache.bin (Debian's container images): the
	# answer is kept in $cache/resolved until apt's lists or settings change.
	pkg='' version=''
	memo=$cache/resolved
	if [[ -s $memo ]] && [[ -z $(find /var/lib/apt/lists /etc/apt -maxdepth 2 -newer "$memo" \
		-print -quit 2>/dev/null) ]]; then
		read -r pkg version <"$memo"
	elif command -v apt-cache >/dev/null; then
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
		[[ -n $pkg ]] && version=$(candidate "$pkg")
		[[ -n $pkg && -n $version ]] && printf '%s %s\n' "$pkg" "$version" >"$memo.$$" &&
			mv "$memo.$$" "$memo"
	fi
	if [[ -n $pkg && -n $version ]]; then
		key=${pkg}_$version
		kernel_dir=$cache/$key
		if ! entry_ok "$kernel_dir"; then
			lock_cache
			if ! entry_ok "$kernel_dir"; then
				say "fetching $pkg $version (once; cached in $cache)"
				rm -rf "$kernel_dir.tmp"
				mkdir -p "$kernel_dir.tmp/deb"
				if deb=$(fetch_deb "$pkg" "$version" "$kernel_dir.tmp/deb") && [[ -n $deb ]]; then
					fill_kernel "$kernel_dir.tmp" "$deb" || die "cannot unpack $deb"
					rm -rf "$kernel_dir.tmp/deb"
					mark_ok "$kernel_dir.tmp" && rm -rf "$kernel_dir" &&
						mv "$kernel_dir.tmp" "$kernel_dir"
				else
					rm -rf "$kernel_dir.tmp"
					kernel_dir=
				fi
			fi
			unlock_cache
		fi
	fi
	if [[ -z $kernel_dir ]]; then
		# Offline, or no Debian archive: take the newest kernel already cached, one with
		# every module the guest loads if there is one.
		kernel_dir=
		while IFS= read -r ok; do
			if entry_ok "${ok%/ok}"; then
				kernel_dir=${ok%/ok}
				break
			fi
			[[ -n $kernel_dir ]] || kernel_dir=${ok%/ok}
		done < <(ls -td "$cache"/linux-image-*/ok 2>/dev/null)
		[[ -z $kernel_dir ]] || entry_ok "$kernel_dir" ||
			say "warning: ${kernel_dir##*/} was cached by an older run.sh and lacks some of" \
				"the modules ${guest_modules[*]}"
		[[ -n $kernel_dir ]] || skip "cannot fetch Debian's linux-image-amd64 kernel package" \
			"(no apt-get/apt-cache, no Debian archive, or offline) and none is cached in $cache;" \
			"set VZ_KVM_TESTBED_DEB to a downloaded linux-image-6.1.0-*-amd64 .deb"
		say "using cached ${kernel_dir##*/} (the current package could not be resolved or fetched)"
	fi
fi
release=$(cat "$kernel_dir/release")

# ------------------------------------------------------------------- static busybox
is_static() {
	[[ -x $1 ]] || return 1
	if command -v ldd >/dev/null; then
		! LC_ALL=C ldd "$1" >/dev/null 2>&1
	else
		! LC_ALL=C grep -qa 'ld-linux' "$1"
	fi
}
busybox=
for b in ${VZ_KVM_TESTBED_BUSYBOX:-} /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null)"; do
	if [[ -n $b ]] && is_static "$b"; then
		busybox=$b
		break
	fi
done
if [[ -z $busybox ]]; then
	bver=$(candidate busybox-static)
	if [[ -n $bver && -x $cache/busybox-static_$bver/busybox ]]; then
		busybox=$cache/busybox-static_$bver/busybox
	elif [[ -n $bver ]]; then
		lock_cache
		d=$cache/busybox-static_$bver
		rm -rf "$d.tmp" && mkdir -p "$d.tmp/deb"
		if deb=$(fetch_deb busybox-static "$bver" "$d.tmp/deb") && [[ -n $deb ]] &&
			unpack_deb "$deb" "$d.tmp/x" && cp "$d.tmp/x/bin/busybox" "$d.tmp/busybox"; then
			rm -rf "$d.tmp/deb" "$d.tmp/x" "$d" && mv "$d.tmp" "$d"
			busybox=$d/busybox
		fi
		rm -rf "$d.tmp"
		unlock_cache
	fi
	[[ -n $busybox ]] || skip "no static busybox (Debian: apt-get install busybox-static)"
fi

# ------------------------------------------------------------------- the initramfs
# The payload goes in as a cpio archive made from / so that nothing is copied twice:
# every path keeps its absolute name, with its parent directories, and a symbolic link
# on the way (/lib -> usr/lib) goes in as a link next to what it points to.
declare -A seen=()
payload=$work/payload.list
: >"$payload"
emit() { printf '%s\n' "${1#/}" >>"$payload"; }
add_path() {
	local p=$1 parent real target
	[[ -z ${seen[$p]:-} ]] || return 0
	seen[$p]=1
	parent=${p%/*}
	parent=${parent:-/}
	if [[ $parent != / ]]; then
		add_path "$parent"
		real=$(realpath -e "$parent") || return 1
		if [[ $real != "$parent" ]]; then
			add_path "$real/${p##*/}"
			return
		fi
	fi
	if [[ -L $p ]]; then
		emit "$p"
		target=$(readlink "$p")
		[[ $target == /* ]] || target=$parent/$target
		add_path "$(realpath -m -s "$target")"
	elif [[ -e $p ]]; then
		emit "$p"
	else
		say "warning: $p does not exist (skipped)"
	fi
}

elf_files=()
is_elf() {
	local magic=
	[[ -f $1 && -r $1 ]] || return 1
	IFS= LC_ALL=C read -r -n 4 magic <"$1" 2>/dev/null
	[[ $magic == $'\x7fELF' ]]
}
for c in "${copies[@]}"; do
	[[ $c == /* ]] || c=$PWD/$c
	[[ $c != *$'\n'* ]] || die "--copy: newline in path"
	c=$(realpath -m -s "$c")
	[[ -e $c ]] || die "--copy $c: no such file or directory"
	case $c in
	/ | /.testbed | /.testbed/* | /init | /dev | /dev/* | /proc | /proc/* | /sys | /sys/*)
		die "--copy $c: that path belongs to the testbed" ;;
	esac
	add_path "$c"
	real=$(realpath -e "$c")
	if [[ -d $real ]]; then
		[[ $real == "$c" ]] || add_path "$real"
		(cd / && find "${real#/}" -mindepth 1) >>"$payload"
		while IFS= read -r -d '' f; do
			is_elf "$f" && elf_files+=("$f")
		done < <(find "$real" -type f \( -perm /111 -o -name '*.so' -o -name '*.so.*' \) -print0)
	else
		is_elf "$real" && elf_files+=("$real")
	fi
done
if ((${#elf_files[@]})); then
	# "libx.so.1 => /path (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", "libx => not found"
	while read -r a b c _; do
		if [[ $b == "=>" && $c == /* ]]; then
			add_path "$c"
		elif [[ $a == /* && $b == \(0x* ]]; then
			add_path "$a"
		elif [[ $b == "=>" && $c == not ]]; then
			say "warning: shared library $a not found by ldd"
		fi
	done < <(LC_ALL=C ldd "${elf_files[@]}" 2>/dev/null)
fi

nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
stage=$work/stage
mkdir -p "$stage/.testbed/bin" "$stage/.testbed/modules" || die "mkdir failed"
if ((stock_kernel)); then
	[[ -f $kernel_dir/stock/lib/modules/$release/modules.dep ]] ||
		die "${kernel_dir##*/} has no stock module tree (cached by an older run.sh?)"
	mkdir -p "$stage/.testbed/stock" &&
		cp -a "$kernel_dir/stock/lib" "$stage/.testbed/stock/" &&
		cp "$kernel_dir/vmlinuz" "$stage/.testbed/stock/vmlinuz-$release" ||
		die "cannot stage the stock kernel"
fi
cp "$busybox" "$stage/.testbed/bin/busybox" &&
	cp "$kernel_dir"/modules/*.ko "$stage/.testbed/modules/" &&
	cp "$here/init" "$stage/init" && chmod 755 "$stage/init" || die "cannot stage the testbed files"

# shell-quote a value for the guest's sh
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	printf 'NONCE=%s\nKVM_MODULE=kvm_amd\nCWD=%s\n' "$nonce" "$(q "$PWD")"
} >"$stage/.testbed/config"
{
	for name in $(compgen -e | grep -E '^(VZ_[A-Za-z0-9_]*|CI|[A-Z]+SAN_OPTIONS)$'); do
		printf 'export %s=%s\n' "$name" "$(q "${!name}")"
	done
	if ((stock_kernel)); then
		printf 'export VZ_TESTBED_STOCK_KERNEL=%s\n' "/.testbed/stock/vmlinuz-$release"
		printf 'export VZ_TESTBED_STOCK_MODULES=%s\n' "/.testbed/stock/lib/modules/$release"
	fi
	# The testbed is a /dev/kvm: where it is required, the VM tests in it must run too.
	if [[ ,${VZ_TEST_REQUIRE:-}, == *,kvm_testbed,* && ,$VZ_TEST_REQUIRE, != *,kvm,* ]]; then
		printf 'export VZ_TEST_REQUIRE=%s\n' "$(q "$VZ_TEST_REQUIRE,kvm")"
	fi
	for name in "${env_names[@]}"; do
		if [[ -n ${env_values[$name]+set} ]]; then
			printf 'export %s=%s\n' "$name" "$(q "${env_values[$name]}")"
		elif [[ -n ${!name+set} ]]; then
			printf 'export %s=%s\n' "$name" "$(q "${!name}")"
		fi
	done
} >"$stage/.testbed/env"
{
	printf 'set --'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	printf '\n'
} >"$stage/.testbed/cmd"

# newc entry with no data: newc_entry NAME MODE [RDEVMAJOR RDEVMINOR]
newc_entry() {
	local name=$1 mode=$2 namesize=$((${#1} + 1)) pad
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$mode" 0 0 1 0 0 0 0 "${3:-0}" "${4:-0}" "$namesize" 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	((pad)) && printf '%*s' "$pad" '' | tr ' ' '\0'
	return 0
}
# Three archives one after the other, as the kernel allows: /dev/console (it must exist
# before /init runs; written here, so no mknod is needed), the payload, the testbed.
build_initrd() {
	newc_entry dev $((0040755))
	newc_entry dev/console $((0020600)) 5 1
	newc_entry TRAILER!!! 0
	(cd / && awk '!seen[$0]++' "$payload" | cpio -o -H newc --quiet) || return 1
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet) || return 1
}
initrd=$work/initrd.cpio
build_initrd >"$initrd" || die "building the initramfs failed"
initrd_mib=$(du -m "$initrd" | cut -f1)

# ------------------------------------------------------------------- boot
kernel=$kernel_dir/vmlinux
((use_bzimage == 0)) && [[ -f $kernel ]] || kernel=$kernel_dir/vmlinuz
append="console=ttyS0 panic=-1 mitigations=off"
((verbose)) || append="$append quiet"
[[ $machine != microvm* ]] || append="$append pci=off"
append="$append$extra_append"
say "booting ${kernel_dir##*/} ($release, ${kernel##*/}) on $machine, cpu $cpu, ${mem} MiB;" \
	"initramfs ${initrd_mib} MiB built in $(elapsed) s"

console=$work/console.log
qemu_args=(-accel tcg -cpu "$cpu" -m "$mem" -smp 1 -M "$machine" -nodefaults -no-user-config
	-display none -no-reboot -serial stdio -kernel "$kernel" -initrd "$initrd" -append "$append")
# QEMU's console: \r dropped, kept in $console, shown live without the marker lines.
# The TCG warnings about CPU model features it cannot emulate are noise unless --verbose.
# It runs in the background so that a signal to this script stops it at once (cleanup).
qemu_stderr() {
	if ((verbose)); then cat; else grep --line-buffered -v "TCG doesn't support requested feature"; fi
}
marker() { grep -a -o "@@kvm-testbed:$nonce:$1:[0-9.]*@@" "$console" | tail -n 1; }
for ((attempt = 0; ; attempt++)); do
	t_boot=$(date +%s.%N)
	(
		timeout --foreground -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" -pidfile "$work/qemu.pid" \
			</dev/null 2> >(qemu_stderr >&2) |
			sed -u 's/\r$//' | tee "$console" | sed -u "/@@kvm-testbed:$nonce:/d"
		exit "${PIPESTATUS[0]}"
	) &
	wait $!
	qemu_rc=$?
	t_end=$(date +%s.%N)
	((qemu_rc == 124 || qemu_rc == 137)) && [[ -z $(marker 'exit=[0-9]*') ]] &&
		((attempt < retry_stuck)) || break
	say "RETRY: the command reported no end within $timeout_s s (console above): the" \
		"emulated machine may have stopped; booting again ($((attempt + 1)) of $retry_stuck)"
done

took() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
start=$(marker start)
exit_line=$(marker 'exit=[0-9]*')
if [[ -n $exit_line ]]; then
	status=${exit_line#*:exit=}
	status=${status%%:*}
	t_cmd_start=${start%@@}
	t_cmd_start=${t_cmd_start##*:}
	t_cmd_end=${exit_line%@@}
	t_cmd_end=${t_cmd_end##*:}
	say "command exited with status $status; guest ready after ${t_cmd_start:-?} s of guest time," \
		"command $(took "${t_cmd_start:-0}" "$t_cmd_end") s, $(took "$t_boot" "$t_end") s in QEMU," \
		"$(took "$t_start" "$t_end") s in all"
	exit "$status"
fi
if ((qemu_rc == 124 || qemu_rc == 137)); then
	say "FAILED: TIMEOUT: no result after $timeout_s s (--timeout); the console is above"
	exit 124
fi
if [[ -n $(marker setup-failed) ]]; then
	die "the testbed could not set up kvm_amd in the guest (see the kvm-testbed: guest: line above)"
fi
if ((qemu_rc != 0)); then
	die "QEMU exited with status $qemu_rc before the command finished"
fi
die "the guest stopped without reporting the command's exit status (kernel panic or" \
	"init died; rerun with --verbose for the boot log)"
