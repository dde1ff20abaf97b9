#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium when it is missing. `archspec draw -o x.png`
# and tests/test_draw.py use it (the page tests open each diagram in a real browser).
# Idempotent and quiet when Chromium is already there; needs root (CI runs as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: not root; install Debian's chromium package to run the drawing tests" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
