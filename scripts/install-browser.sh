#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/browser), driven by Playwright through
# /usr/bin/chromium: test tools cannot download browsers here. Installed when missing and
# we are root (CI, the development machines); elsewhere those tests are skipped with the reason.
set -euo pipefail
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "chromium not installed and not root: the browser tests will be skipped." >&2
  exit 0
fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
