#!/usr/bin/env bash
# Installs Debian's Neovim when it is missing: tests/test_lsp_neovim.py opens a spec in headless
# Neovim, whose built-in LSP client (no plugin) talks to `archspec lsp`.
# Idempotent and quiet when nvim is already there; needs root (CI runs as root).
set -euo pipefail
if command -v nvim >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-neovim: not root; install Debian's neovim package to run the editor test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq neovim >/dev/null
command -v nvim >/dev/null
