#!/bin/bash
# Build libvz's guest kernel (Linux 6.1 from Debian's linux-source-6.1, with
# vz-guest.config and patches/*.patch) and cache it.
#
# Usage: tools/guest-kernel/build.sh [--cache DIR] [--out FILE] [-j N]
#
#   --cache DIR  cache root (default ${VZ_CACHE_DIR:-/var/cache/libvz}/guest-kernel)
#   --out FILE   also copy the resulting vmlinux to FILE
#   -j N         parallel make jobs (default: nproc)
#
# The result lives in DIR/<key>/ (vmlinux: uncompressed ELF with the PVH entry
# note, debug info stripped; config; System.map; build.log), where <key> is a
# hash of the source tarball, the config fragment, the patches and this script.
# If DIR/<key>/vmlinux exists nothing is built. The source tarball is looked
# for in ${VZ_LINUX_SOURCE_DIR:-/usr/src}. The unpacked, patched source
# tree is kept in DIR/build/ and reused by the next build (patches that changed
# are reverted and re-applied, make rebuilds only what changed), so a fragment
# change costs an incremental build, while its key is still new.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/vz-guest.config
patchdir=$here/patches
srcname=linux-source-6.1
karch=x86_64

cache_root=${VZ_CACHE_DIR:-/var/cache/libvz}/guest-kernel
out=
jobs=$(nproc 2>/dev/null || echo 2)

say() { echo "guest kernel: $*" >&2; }
die() { echo "guest kernel: error: $*" >&2; exit 1; }
usage() { sed -n '5,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

while [ $# -gt 0 ]; do
	case $1 in
	--cache) [ $# -ge 2 ] || die "--cache needs a directory"; cache_root=$2; shift 2 ;;
	--cache=*) cache_root=${1#*=}; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a file name"; out=$2; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	-j) [ $# -ge 2 ] || die "-j needs a number"; jobs=$2; shift 2 ;;
	-j*) jobs=${1#-j}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done
case $jobs in ''|*[!0-9]*|0) die "-j wants a positive number, not '$jobs'" ;; esac

# --- inputs ---------------------------------------------------------------
srcdir=${VZ_LINUX_SOURCE_DIR:-/usr/src}	# where linux-source-6.1 puts its tarball
tarball=
for t in "$srcdir/$srcname.tar.xz" "$srcdir/$srcname.tar.bz2" "$srcdir/$srcname.tar.gz" "$srcdir/$srcname.tar"; do
	[ -f "$t" ] && { tarball=$t; break; }
done
[ -n "$tarball" ] || die "$srcdir/$srcname.tar.xz not found: install the Debian package $srcname (apt-get install $srcname)"
[ -f "$fragment" ] || die "config fragment $fragment is missing"
patches=()
for p in "$patchdir"/*.patch; do [ -f "$p" ] && patches+=("$p"); done

mkdir -p "$cache_root" 2>/dev/null || die "cannot create cache directory $cache_root (use --cache DIR or VZ_CACHE_DIR)"
cache_root=$(cd "$cache_root" && pwd)

# Hashing the 130 MiB tarball takes ~0.6 s; remember its hash by size+mtime.
tar_stat=$(stat -c '%s %Y' "$tarball")
tar_hash=
if [ -f "$cache_root/tarball.sha256" ]; then
	read -r s_path s_size s_mtime s_hash <"$cache_root/tarball.sha256" || true
	[ "${s_path:-} ${s_size:-} ${s_mtime:-}" = "$tarball $tar_stat" ] && tar_hash=${s_hash:-}
fi
if [ -z "$tar_hash" ]; then
	tar_hash=$(sha256sum "$tarball" | cut -d' ' -f1)
	echo "$tarball $tar_stat $tar_hash" >"$cache_root/tarball.sha256.$$" &&
		mv -f "$cache_root/tarball.sha256.$$" "$cache_root/tarball.sha256"
fi

patch_list=
for p in ${patches[@]+"${patches[@]}"}; do
	patch_list+="patch $(basename "$p") $(sha256sum <"$p" | cut -d' ' -f1)"$'\n'
done
key=$({
	echo "libvz guest kernel v1"
	echo "source $(basename "$tarball") $tar_hash"
	echo "fragment $(sha256sum <"$fragment" | cut -d' ' -f1)"
	printf '%s' "$patch_list"
	echo "script $(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
} | sha256sum | cut -c1-20)
dest=$cache_root/$key

deliver() {
	if [ -n "$out" ]; then
		mkdir -p "$(dirname "$out")"
		cp -f "$dest/vmlinux" "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
	fi
}

if [ -f "$dest/vmlinux" ]; then
	deliver
	echo "guest kernel: cached $dest/vmlinux"
	exit 0
fi

# --- build ------------------------------------------------------------------
for tool in make gcc ld flex bison bc perl readelf objcopy flock tar; do
	command -v $tool >/dev/null 2>&1 && continue
	case $tool in
	ld|readelf|objcopy) pkg=binutils ;; flock) pkg=util-linux ;; *) pkg=$tool ;;
	esac
	die "'$tool' not found: apt-get install $pkg"
done
[ -f /usr/include/libelf.h ] || [ -f /usr/include/gelf.h ] || die "libelf headers not found (objtool needs them): apt-get install libelf-dev"
case $tarball in
*.xz) command -v xz >/dev/null || die "'xz' not found: apt-get install xz-utils" ;;
esac

mkdir -p "$dest"
log=$dest/build.log
: >"$log"
build=$cache_root/build
mkdir -p "$build"
exec 9>"$build/.lock"
if ! flock -n 9; then
	say "waiting for another build in $build"
	flock 9
	# It may have built exactly this.
	if [ -f "$dest/vmlinux" ]; then deliver; echo "guest kernel: cached $dest/vmlinux"; exit 0; fi
fi

start=$(date +%s)
stage() { say "[$(( $(date +%s) - start ))s] $*"; echo "=== $* ===" >>"$log"; }
fail() {
	echo "guest kernel: error: $*; full log ($log):" >&2
	cat "$log" >&2
	echo "guest kernel: error: $* (log: $log)" >&2
	exit 1
}
run() { "$@" >>"$log" 2>&1 || fail "'$*' failed"; }

tree=$build/$srcname
state=$build/state
applied=$build/applied

# 1. Source tree: reuse it if it came from the same tarball.
if [ -d "$tree" ] && [ -f "$state" ] && [ "$(cat "$state")" = "$tar_hash" ]; then
	stage "reusing source tree $tree"
else
	stage "unpacking $tarball"
	rm -rf "$tree" "$applied" "$state"
	run tar -xf "$tarball" -C "$build"
	[ -d "$tree" ] || fail "$tarball did not unpack to $srcname/"
	mkdir -p "$applied"
	echo "$tar_hash" >"$state"
fi
mkdir -p "$applied"

# 2. Patches: revert the applied ones that are no longer wanted (or changed),
# apply the missing ones, in order. Reverting in reverse order keeps it sane.
wanted=" "
for p in ${patches[@]+"${patches[@]}"}; do wanted+="$(basename "$p") "; done
for a in $(ls -r "$applied" 2>/dev/null); do
	if [[ $wanted == *" $a "* ]] && cmp -s "$applied/$a" "$patchdir/$a"; then continue; fi
	stage "reverting old patch $a"
	(cd "$tree" && patch -p1 -R -s <"$applied/$a") >>"$log" 2>&1 || {
		rm -rf "$tree" "$state"; fail "could not revert $a (source tree removed; run again)"; }
	rm -f "$applied/$a"
done
# Later patches may sit on top of an earlier changed one: revert them too.
reverting=0
for p in ${patches[@]+"${patches[@]}"}; do
	b=$(basename "$p")
	[ -f "$applied/$b" ] || reverting=1
	if [ $reverting = 1 ] && [ -f "$applied/$b" ]; then
		(cd "$tree" && patch -p1 -R -s <"$applied/$b") >>"$log" 2>&1 || {
			rm -rf "$tree" "$state"; fail "could not revert $b (source tree removed; run again)"; }
		rm -f "$applied/$b"
	fi
done
for p in ${patches[@]+"${patches[@]}"}; do
	b=$(basename "$p")
	[ -f "$applied/$b" ] && continue
	stage "applying $b"
	(cd "$tree" && patch -p1 -N -s --no-backup-if-mismatch <"$p") >>"$log" 2>&1 || {
		rm -rf "$tree" "$state"; fail "patch $b does not apply (source tree removed)"; }
	cp "$p" "$applied/$b"
done

# 3. Configuration: allnoconfig + fragment, olddefconfig, then verify.
export KBUILD_BUILD_USER=libvz KBUILD_BUILD_HOST=libvz KBUILD_BUILD_VERSION=1
# Fixed and parseable by date(1): it also sets the mtimes in the built-in
# initramfs, which would otherwise make every build differ.
export KBUILD_BUILD_TIMESTAMP="2000-01-01 00:00:00 UTC"
export LC_ALL=C
mk() { make -C "$tree" ARCH=$karch "$@"; }
stage "configuring (allnoconfig + $(basename "$fragment"), olddefconfig)"
run mk KCONFIG_ALLCONFIG="$fragment" allnoconfig
run mk olddefconfig
bad=
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	CONFIG_*=*)
		sym=${line%%=*}
		got=$(grep -m1 "^$sym=" "$tree/.config" || true)
		[ "$got" = "$line" ] || bad+="  $line  (got: ${got:-not set})"$'\n'
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		got=$(grep -m1 "^$sym=" "$tree/.config" || true)
		[ -z "$got" ] || bad+="  $line  (got: $got)"$'\n'
		;;
	esac
done <"$fragment"
if [ -n "$bad" ]; then
	echo "guest kernel: error: these options of $fragment did not survive olddefconfig" \
		"(a dependency is missing or the symbol does not exist):" >&2
	printf '%s' "$bad" >&2
	exit 1
fi
grep -q '^CONFIG_PVH=y' "$tree/.config" || fail "CONFIG_PVH is not set"

# 4. Compile.
stage "compiling vmlinux (make -j$jobs; log: $log)"
# The built-in (empty) initramfs carries KBUILD_BUILD_TIMESTAMP as mtimes, but
# make does not track that variable: regenerate it (512 bytes) every time.
rm -f "$tree/usr/initramfs_data.cpio"
run mk -j"$jobs" vmlinux

# 5. Result: strip debug info, check the PVH note, publish atomically.
stage "checking and installing into $dest"
tmp=$dest/.tmp.$$
rm -rf "$tmp"; mkdir -p "$tmp"
run objcopy --strip-debug "$tree/vmlinux" "$tmp/vmlinux"
# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point.
readelf -n "$tmp/vmlinux" 2>/dev/null | grep -A1 '^ *Xen ' | grep -qi '0x00000012\|PHYS32_ENTRY' ||
	fail "vmlinux has no Xen PHYS32_ENTRY note (PVH entry)"
cp "$tree/.config" "$tmp/config"
cp "$tree/System.map" "$tmp/System.map"
mv -f "$tmp/config" "$dest/config"
mv -f "$tmp/System.map" "$dest/System.map"
mv -f "$tmp/vmlinux" "$dest/vmlinux"
rmdir "$tmp"
deliver
say "built in $(( $(date +%s) - start ))s: $dest/vmlinux ($(stat -c %s "$dest/vmlinux") bytes)"
[ -z "$out" ] || say "copied to $out"
echo "$dest/vmlinux"
