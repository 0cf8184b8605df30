#!/bin/sh
# fetch-deb.sh: downloads one Debian package with `apt-get download` and
# unpacks it with `dpkg -x`, for the guests vmscope's examples and tests boot
# (Linux, busybox, SeaBIOS). Nothing fetched is ever committed.
#
#   scripts/guests/fetch-deb.sh PACKAGE
#
# Unpacks into $CACHE/pkgs/PACKAGE/root and prints that path. Skips the work
# when that directory is already complete (FORCE=1 refetches). CACHE is
# $VMSCOPE_GUESTS_CACHE or guests-cache/ at the repository root (gitignored).
# Runs as root without sudo (CI); as another user it needs the package lists
# to be present already, or sudo to refresh them.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 PACKAGE" >&2
	exit 2
fi
package=$1
here=$(cd "$(dirname "$0")" && pwd)
cache=${VMSCOPE_GUESTS_CACHE:-$here/../../guests-cache}
mkdir -p "$cache/pkgs"
cache=$(cd "$cache" && pwd)
dest=$cache/pkgs/$package

if [ -f "$dest/.complete" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "$dest/root"
	exit 0
fi

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "fetch-deb: '$*' needs root" >&2
		return 1
	fi
}

# A fresh container has no package lists: refresh them once, then ask again.
if ! apt-cache show "$package" >/dev/null 2>&1; then
	echo "fetch-deb: $package unknown to apt; running apt-get update" >&2
	as_root apt-get update -qq >&2
	if ! apt-cache show "$package" >/dev/null 2>&1; then
		echo "fetch-deb: no package $package in the configured Debian archives" >&2
		exit 1
	fi
fi

rm -rf "$dest"
mkdir -p "$dest/deb"
# apt drops to the _apt user for downloads: let it write here when we are root.
chmod 0777 "$dest/deb"
(cd "$dest/deb" && apt-get download -q "$package" >&2)
deb=$(ls "$dest/deb"/*.deb)
dpkg -x "$deb" "$dest/root"
dpkg-deb -f "$deb" Package Version > "$dest/control"
touch "$dest/.complete"
echo "$dest/root"
