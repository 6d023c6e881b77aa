#!/usr/bin/env bash
# PostgreSQL and Redis for the tests that run the bot on them (tests/e2e/test_stores.py), and
# nginx for the production layout's tests (tests/deploy, helpdesk/layout.py).
# Installed from Debian's packages when missing and we are root (CI, the development
# machines); elsewhere those tests are skipped with the reason.
set -euo pipefail
have() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null &&
    test -x /usr/sbin/nginx
}
have && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "PostgreSQL/Redis/nginx not installed and not root: their tests will be skipped." >&2
  exit 0
fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server nginx >/dev/null
# Debian starts them as system services; the tests run their own, on their own ports.
service postgresql stop >/dev/null 2>&1 || true
service redis-server stop >/dev/null 2>&1 || true
service nginx stop >/dev/null 2>&1 || true
