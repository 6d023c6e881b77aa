#!/usr/bin/env bash
# The third-party widget rasa-webchat (npm, Apache-2.0) for tests/e2e/test_webchat.py: only
# its self-contained bundle lib/index.js and its LICENSE, cached in build/vendor/ (ignored by
# git, never committed). Fetched with npm when missing; the bundle's sha256 is pinned, so a
# changed upload is refused. Offline or without npm: one warning, and that test is skipped.
set -euo pipefail
VERSION=1.0.1
SHA256=bfedd788e4bd7df12f64b5bf2963e634f84bac1cb176b6cede60c507d3553f1e  # lib/index.js
DEST="$(cd "$(dirname "$0")/.." && pwd)/build/vendor/rasa-webchat-$VERSION"

verified() { [ -f "$1/LICENSE" ] && echo "$SHA256  $1/index.js" | sha256sum --check --status; }
warn() { echo "rasa-webchat $VERSION not installed ($1): the rasa-webchat test will be skipped." >&2; }

verified "$DEST" && exit 0
command -v npm >/dev/null || { warn "npm missing"; exit 0; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# npm checks the tarball against the registry's integrity hash; the pin below checks the
# bundle itself. Few retries and a short timeout: offline, npm would otherwise retry for minutes.
if ! (cd "$tmp" && npm pack "rasa-webchat@$VERSION" --silent --ignore-scripts \
      --fetch-retries=1 --fetch-timeout=30000 >/dev/null 2>&1); then
  warn "npm could not fetch it: offline?"
  exit 0
fi
tar -xzf "$tmp/rasa-webchat-$VERSION.tgz" -C "$tmp" package/lib/index.js package/LICENSE
mkdir -p "$tmp/out"
cp "$tmp/package/lib/index.js" "$tmp/package/LICENSE" "$tmp/out/"
if ! verified "$tmp/out"; then
  echo "rasa-webchat $VERSION: lib/index.js does not have the pinned sha256 $SHA256" >&2
  exit 1
fi
# Into place in one step, so that a half-written bundle is never taken for the real one.
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$tmp/out" "$DEST"
