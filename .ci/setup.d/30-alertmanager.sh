#!/usr/bin/env bash
# Monitoring test environment: Alertmanager v0.27.0, the version MetalK8s 129 ships, built from
# the Go module proxy and cached in $SDK_CACHE_DIR/bin/alertmanager-v0.27.0/. Skipped when it is
# there. When it cannot be built, the harness falls back to Debian's prometheus-alertmanager
# (0.25, .ci/apt/monitoring.txt) and the tests print which one ran.
set -euo pipefail
VERSION=v0.27.0
CACHE="${SDK_CACHE_DIR:-/var/cache/metalk8s-sdk}"
DEST="$CACHE/bin/alertmanager-$VERSION"
if [ -x "$DEST/alertmanager" ]; then
  echo "alertmanager $VERSION: cached in $DEST"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "alertmanager $VERSION: no Go toolchain; the tests will use Debian's prometheus-alertmanager" >&2
  exit 0
fi
mkdir -p "$DEST"
TMP="$(mktemp -d "$DEST/.build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
if GOBIN="$TMP" GOFLAGS=-trimpath go install -ldflags="-s -w" "github.com/prometheus/alertmanager/cmd/alertmanager@$VERSION"; then
  mv "$TMP/alertmanager" "$DEST/alertmanager"
  echo "alertmanager $VERSION: built into $DEST"
else
  echo "alertmanager $VERSION: go install failed; the tests will use Debian's prometheus-alertmanager" >&2
fi
