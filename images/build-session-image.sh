#!/usr/bin/env bash
# Builds the session image (xpra + Firefox ESR) unless an image of the same inputs exists.
#
#   HACKSTREAM_SESSION_IMAGE  tag to (re)point at the build (default hackstream/session-firefox:latest)
#   HACKSTREAM_BASE_IMAGE     base to build FROM; by default debian:bookworm-slim when it is present
#                             or can be pulled, else a debootstrap base built locally
#
# The content tag (repository:<hash of images/session and the base>) is the cache key: same
# inputs, no rebuild.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${HACKSTREAM_SESSION_IMAGE:-hackstream/session-firefox:latest}"
repo="${target%:*}"
offline_base=hackstream/debian-base:bookworm

choose_base() {
  if [ -n "${HACKSTREAM_BASE_IMAGE:-}" ]; then echo "$HACKSTREAM_BASE_IMAGE"; return; fi
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then echo debian:bookworm-slim; return; fi
  if docker image inspect "$offline_base" >/dev/null 2>&1; then echo "$offline_base"; return; fi
  if timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then echo debian:bookworm-slim; return; fi
  echo "$offline_base"
}

base="$(choose_base)"
hash="$( (cd "$here/session" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "base=$base") | sha256sum | cut -c1-16)"
content_tag="$repo:$hash"

if docker image inspect "$content_tag" >/dev/null 2>&1; then
  docker tag "$content_tag" "$target"
  echo "==> session image: $target is up to date ($hash)"
  exit 0
fi

if [ "$base" = "$offline_base" ]; then
  echo "==> session image: no registry base available, using a debootstrap base"
  "$here/base/build-debootstrap-base.sh" "$offline_base"
fi

log="$(mktemp /tmp/hackstream-image-build.XXXXXX.log)"
echo "==> session image: building $content_tag from $base (about a minute; log: $log)"
if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$base" -t "$content_tag" -t "$target" "$here/session" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "error: docker build failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "==> session image: built $target ($hash)"
