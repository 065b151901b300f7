#!/bin/sh
# tools/mkrootfs-debian.sh OUT [SUITE [MIRROR]]: a Debian root file system made with
# `debootstrap --variant=minbase SUITE` (default bookworm) into OUT, for the benchmark's
# second VM rootfs (vz-bench --alt-rootfs minbase=OUT; docs/benchmarks.md).
#
# The mirror is the one this host's apt uses for SUITE (deb822 files in
# /etc/apt/sources.list.d/ or one-line entries in /etc/apt/sources.list), unless MIRROR
# is given: a host that reaches Debian only through its configured mirror works as it is.
# debootstrap is installed with apt-get when it is missing. Runs as root.
#
# Cached: OUT with its stamp file (OUT/.vz-rootfs-debian) is reused as it is; it is built
# in OUT.tmp and renamed into place only when complete. Prints OUT.
set -eu
me=mkrootfs-debian
die() { echo "$me: $*" >&2; exit 1; }
out=${1:?usage: mkrootfs-debian.sh OUT [SUITE [MIRROR]]}
suite=${2:-bookworm}
mirror=${3:-}
out=$(realpath -m "$out")
stamp=$out/.vz-rootfs-debian

if [ -f "$stamp" ]; then
	echo "$out"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root"

# The URI of the first "deb" source that serves SUITE itself (not SUITE-updates).
host_mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") {
					split(uris, u, " "); print u[1]; found = 1; exit
				}
				types = suites = uris = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { $1 = ""; uris = $0 }
			END { if (!found) flush() }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
		awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
}
if [ -z "$mirror" ]; then
	mirror=$(host_mirror | head -n 1)
	[ -n "$mirror" ] || die "no apt source for $suite on this host; give MIRROR"
fi

if ! command -v debootstrap >/dev/null; then
	echo "$me: installing debootstrap" >&2
	apt-get install -y -q debootstrap >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q debootstrap >&2; } ||
		die "cannot install debootstrap"
fi

# One builder at a time for OUT.
mkdir -p "$(dirname "$out")"
if command -v flock >/dev/null; then
	exec 9>"$out.lock"
	flock 9
	if [ -f "$stamp" ]; then
		echo "$out"
		exit 0
	fi
fi

# A debootstrap that died may have left /proc or /sys mounted in its target: unmount
# what lies below it (deepest first) before removing it, and never cross into a mount.
clean_tmp() {
	awk -v t="$1" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$1"
}
tmp=$out.tmp
clean_tmp "$tmp"
echo "$me: debootstrap --variant=minbase $suite $tmp $mirror (minutes)" >&2
if ! debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$out.log" 2>&1; then
	tail -n 20 "$out.log" >&2
	clean_tmp "$tmp"
	die "debootstrap failed (log: $out.log)"
fi
[ -e "$tmp/bin/true" ] || { clean_tmp "$tmp"; die "the result has no /bin/true"; }
# Nothing of the host's apt state needs to stay in the image.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_* 2>/dev/null || true
printf 'debootstrap --variant=minbase %s %s\nmade %s\n' "$suite" "$mirror" \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/.vz-rootfs-debian"
rm -rf --one-file-system "$out"
mv "$tmp" "$out"
echo "$out"
