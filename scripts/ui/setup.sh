#!/usr/bin/env bash
# Installs what the UI test needs: Debian's Chromium and ripgrep (plus the
# headers code-server's native modules build against), and code-server from
# the npm registry, with its native modules built here (its own install
# scripts would download prebuilt binaries, which this network refuses).
#
# The code-server install is cached in $VMSCOPE_UI_CACHE (default
# ~/.cache/vmscope-ui)/code-server-$VERSION and reused while its marker file
# is there. Prints the code-server entry script's path as the last line.
set -euo pipefail

VERSION=4.99.4
CACHE="${VMSCOPE_UI_CACHE:-$HOME/.cache/vmscope-ui}"
DIR="$CACHE/code-server-$VERSION"
MARKER="$DIR/.vmscope-ready"
CS="$DIR/node_modules/code-server"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
log() { echo "[setup] $*" >&2; }

# --- Debian packages --------------------------------------------------------
APT_PKGS=(chromium ripgrep libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- code-server ------------------------------------------------------------
if [ -f "$MARKER" ] && [ -f "$CS/out/node/entry.js" ]; then
  log "code-server $VERSION cached in $DIR"
  echo "$CS/out/node/entry.js"
  exit 0
fi

start=$(date +%s)
rm -rf "$DIR"
mkdir -p "$DIR"
log "npm install code-server@$VERSION into $DIR"
# A package.json of its own, so npm does not walk up to an enclosing project.
echo '{ "name": "vmscope-ui-code-server", "private": true }' >"$DIR/package.json"
(cd "$DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "code-server@$VERSION" >&2)

log "npm install --omit=dev in lib/vscode and lib/vscode/extensions"
(cd "$CS/lib/vscode" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
(cd "$CS/lib/vscode/extensions" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)

# @vscode/ripgrep's postinstall downloads rg; use Debian's.
mkdir -p "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin"
cp "$(command -v rg)" "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"

# node-gyp, against this Node's own headers (no header download).
NODE_GYP="$REPO/node_modules/.bin/node-gyp"
[ -x "$NODE_GYP" ] || NODE_GYP="npx --yes node-gyp"
NODEDIR="$(dirname "$(dirname "$(command -v node)")")"
[ -f "$NODEDIR/include/node/node.h" ] || NODEDIR="$(npm config get nodedir 2>/dev/null || true)"
JOBS="$(nproc 2>/dev/null || echo 2)"
gyp() { $NODE_GYP rebuild --nodedir="$NODEDIR" --jobs="$JOBS" --loglevel=error "$@" >&2; }

while IFS= read -r gypfile; do
  mod="$(dirname "$gypfile")"
  log "node-gyp rebuild ${mod#"$CS/"}"
  (cd "$mod" && gyp)
done < <(find "$CS/lib/vscode/node_modules" -name binding.gyp -not -path '*/node_modules/*/node_modules/*/node_modules/*' \
           -not -path '*/test/*' -not -path '*/deps/*' -not -path '*/src/*' | sort)

# argon2 (code-server's password hashing; loaded even with --auth none).
ARGON2="$(cd "$DIR" && node -p "require('path').dirname(require.resolve('argon2/package.json', { paths: ['$CS'] }))")"
log "node-gyp rebuild argon2"
(cd "$ARGON2" && gyp --module_name=argon2 --module_path=lib/binding/napi-v3 --napi_build_version=3)
mkdir -p "$ARGON2/lib/binding/napi-v3"
cp "$ARGON2/build/Release/argon2.node" "$ARGON2/lib/binding/napi-v3/argon2.node"

ln -sfn node_modules "$CS/lib/vscode/node_modules.asar"

date -u +%FT%TZ >"$MARKER"
log "code-server $VERSION installed in $(( $(date +%s) - start )) s"
echo "$CS/out/node/entry.js"
