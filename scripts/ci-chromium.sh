#!/usr/bin/env bash
# Installs Debian's chromium for the portal's browser tests (apps/stack/src/portal.e2e.test.ts
# drives it through puppeteer-core; nothing is downloaded by npm). Idempotent: does nothing when
# a chromium is already on PATH or CHROMIUM_PATH names one. Needs root (CI) or sudo.
set -euo pipefail
if [[ -n "${CHROMIUM_PATH:-}" && -x "${CHROMIUM_PATH}" ]] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "chromium: $(command -v chromium || command -v chromium-browser || echo "$CHROMIUM_PATH")"
  exit 0
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(command -v chromium)"
