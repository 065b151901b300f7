#!/bin/sh
# Build a minimal busybox root file system in DIR from Debian's busybox-static.
# Usage: tools/mkrootfs.sh DIR [BUSYBOX]
# Idempotent: an existing, complete DIR is left as it is.
set -eu
dir=${1:?usage: mkrootfs.sh DIR [BUSYBOX]}
bb=${2:-/bin/busybox}
[ -x "$bb" ] || { echo "mkrootfs: $bb not found (apt-get install busybox-static)" >&2; exit 1; }
case "$(LC_ALL=C ldd "$bb" 2>&1 || true)" in
*"not a dynamic"* | *"statically linked"*) ;;
*) echo "mkrootfs: $bb is not statically linked (apt-get install busybox-static)" >&2; exit 1 ;;
esac
[ -f "$dir/.vz-rootfs" ] && cmp -s "$bb" "$dir/bin/busybox" && exit 0
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/sbin" "$tmp/usr/bin" "$tmp/usr/sbin" "$tmp/etc" "$tmp/proc" \
	"$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/root" "$tmp/home" "$tmp/var" "$tmp/mnt"
chmod 1777 "$tmp/tmp"
cp "$bb" "$tmp/bin/busybox"
for applet in $("$bb" --list-full); do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$tmp/$(dirname "$applet")"
	ln -sf /bin/busybox "$tmp/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
echo "vz" >"$tmp/etc/hostname"
touch "$tmp/.vz-rootfs"
rm -rf "$dir"
mv "$tmp" "$dir"
