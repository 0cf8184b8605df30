#!/bin/sh
# fetch-seabios.sh: fetches Debian's seabios package and leaves its 128 KiB
# ROM at $CACHE/seabios/bios.bin for examples/seabios (CACHE as in
# fetch-deb.sh). Idempotent: does nothing when bios.bin is present (FORCE=1
# refetches).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${VMSCOPE_GUESTS_CACHE:-$here/../../guests-cache}
mkdir -p "$cache/seabios"
out=$(cd "$cache/seabios" && pwd)

if [ -f "$out/bios.bin" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "$out/bios.bin"
	exit 0
fi

root=$("$here/fetch-deb.sh" seabios)
cat "$(dirname "$root")/control" > "$out/package"
cp "$root/usr/share/seabios/bios.bin" "$out/bios.bin.tmp"
mv "$out/bios.bin.tmp" "$out/bios.bin"
echo "$out/bios.bin"
