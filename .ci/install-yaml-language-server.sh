#!/usr/bin/env bash
# Installs the YAML language server that tests/test_editor.py drives (the npm package behind
# VS Code's YAML extension and Neovim's/Helix's YAML support), at the version pinned by
# .ci/yaml-language-server/package-lock.json, into a cache folder reused across runs and clones:
#   ${ARCHSPEC_YAML_LS_DIR:-${XDG_CACHE_HOME:-~/.cache}/archspec/yaml-language-server}
# Needs node and npm (installed from Debian when missing and run as root, as CI does) and the
# npm registry. Idempotent and quiet when that exact lock is already installed; safe to run from
# several test workers at once. Prints the server's entry point.
set -euo pipefail
here="$(cd "$(dirname "$0")/yaml-language-server" && pwd)"
dir="${ARCHSPEC_YAML_LS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/archspec/yaml-language-server}"
entry="$dir/node_modules/yaml-language-server/bin/yaml-language-server"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
stamp="$dir/.installed-lock.json"   # the lock of the last complete install
if [ -f "$entry" ] && cmp -s "$here/package-lock.json" "$stamp"; then
  echo "$entry"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-yaml-language-server: node/npm not found; install Debian's nodejs and npm packages" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
fi
rm -rf "$dir/node_modules" "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
test -f "$entry"
cp "$here/package-lock.json" "$stamp"
echo "$entry"
