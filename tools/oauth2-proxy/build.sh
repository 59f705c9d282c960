#!/usr/bin/env bash
# Builds oauth2-proxy (github.com/oauth2-proxy/oauth2-proxy/v7, whose module root is its main
# package) from the Go module proxy into .tools/oauth2-proxy/bin/ (override: OAUTH2_PROXY_BIN),
# for the delegated sign-in's end-to-end test (test/e2e/proxy-sign-in.test.ts): the sign-in proxy
# operators put in front of the API. A second run with the same inputs does nothing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${OAUTH2_PROXY_BIN:-$REPO_ROOT/.tools/oauth2-proxy/bin}"
VERSION=v7.15.6

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || die "go 1.26 or later is needed"
# Never download a toolchain; never let a caller's GOFLAGS change what is built.
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

stamp="$(go env GOVERSION) oauth2-proxy=$VERSION $(sha256sum < "${BASH_SOURCE[0]}" | cut -c1-64)"
if [ -x "$OUT/oauth2-proxy" ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
  say "oauth2-proxy: up to date in $OUT"
  exit 0
fi
mkdir -p "$OUT"
rm -f "$OUT/.stamp"
say "oauth2-proxy $VERSION: building (a few minutes the first time)"
GOBIN="$OUT" go install -trimpath -ldflags="-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$VERSION" \
  "github.com/oauth2-proxy/oauth2-proxy/v7@$VERSION"
"$OUT/oauth2-proxy" --version
echo "$stamp" > "$OUT/.stamp"
