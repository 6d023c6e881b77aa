#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/e2e/test_browser.py), driven by Playwright
# through /usr/bin/chromium: test tools cannot download browsers here. Installed when missing
# and we are root (CI, the development machines); elsewhere those tests are skipped with the
# reason. The emoji font makes the widget's thumbs and launcher icon readable in screenshots.
set -euo pipefail
have() { command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; }
have && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  command -v chromium >/dev/null || echo "chromium not installed and not root: the browser tests will be skipped." >&2
  exit 0
fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
