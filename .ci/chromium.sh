#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright drives it; no downloaded browser build).
# Idempotent; needs root (CI is root).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version
