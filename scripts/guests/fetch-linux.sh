#!/bin/sh
# fetch-linux.sh: fetches Debian's cloud kernel for vmscope's Linux guest
# (examples/linux) and leaves it at a stable path:
#
#   $CACHE/linux/vmlinuz      the bzImage
#   $CACHE/linux/System.map   Debian's (a placeholder: the real symbols are in
#                             the -dbg package, which this does not fetch)
#   $CACHE/linux/config       the kernel's build configuration
#   $CACHE/linux/package      the package name and version it came from
#
# The package is the -unsigned build of what the linux-image-cloud-amd64
# meta-package depends on (the newest 6.1 cloud kernel on bookworm), unless
# LINUX_PACKAGE names one. CACHE is as in fetch-deb.sh. Idempotent: does
# nothing when vmlinuz is present (FORCE=1 refetches).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${VMSCOPE_GUESTS_CACHE:-$here/../../guests-cache}
mkdir -p "$cache/linux"
out=$(cd "$cache/linux" && pwd)

if [ -f "$out/vmlinuz" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "$out/vmlinuz"
	exit 0
fi

if [ -z "${LINUX_PACKAGE:-}" ]; then
	if ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
		"$here/fetch-deb.sh" linux-image-cloud-amd64 >/dev/null # refreshes the lists
	fi
	# "Depends: linux-image-6.1.0-NN-cloud-amd64" (the signed build).
	signed=$(apt-cache depends linux-image-cloud-amd64 |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
	if [ -z "$signed" ]; then
		echo "fetch-linux: cannot tell which kernel linux-image-cloud-amd64 depends on" >&2
		exit 1
	fi
	if apt-cache show "$signed-unsigned" >/dev/null 2>&1; then
		LINUX_PACKAGE=$signed-unsigned
	else
		LINUX_PACKAGE=$signed
	fi
fi

echo "fetch-linux: $LINUX_PACKAGE" >&2
root=$("$here/fetch-deb.sh" "$LINUX_PACKAGE")
vmlinuz=$(ls "$root"/boot/vmlinuz-* | head -n 1)
version=${vmlinuz##*/vmlinuz-}
cp "$root/boot/System.map-$version" "$out/System.map"
cp "$root/boot/config-$version" "$out/config"
cat "$(dirname "$root")/control" > "$out/package"
cp "$vmlinuz" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz" # last, so its presence means complete
rm -rf "$(dirname "$root")" # the unpacked modules: 130 MB nothing here uses
echo "$out/vmlinuz"
