#!/usr/bin/env bash
# Builds the session image (xpra + Firefox ESR) unless an image of the same inputs exists, then
# each app image of images/apps/<app>/ (FROM the session image: the same xpra and hardening, plus
# the app) as hackstream/session-<app>:latest, the name the catalog (core/apps.json) gives it.
#
#   HACKSTREAM_SESSION_IMAGE  tag to (re)point at the build (default hackstream/session-firefox:latest)
#   HACKSTREAM_BASE_IMAGE     base to build FROM; by default debian:bookworm-slim when it is present
#                             or can be pulled, else a debootstrap base built locally
#   HACKSTREAM_IMAGE_BUILDS_KEPT  superseded builds kept per image as a cache (default 3)
#
#   build-session-image.sh --content-tags   prints each image's content tag (below) for the
#                                            sources as they are, one per line, and builds nothing
#
# The content tag (repository:<hash of images/session and the base>) is the cache key: same
# inputs, no rebuild (image-builds.sh).
set -euo pipefail
case "${1:-}" in
  "" | --content-tags) ;;
  *) echo "usage: $0 [--content-tags]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/image-builds.sh"
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

# build_image WHAT TARGET CONTENT_TAG DIR BUILD_ARG: tags TARGET at CONTENT_TAG, building that first unless it exists.
build_image() {
  local what="$1" target="$2" tag="$3" dir="$4" arg="$5" log
  if docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" "$target"
    echo "==> $what: $target is up to date (${tag##*:})"
    return
  fi
  if [ "$arg" = "BASE_IMAGE=$offline_base" ]; then
    echo "==> $what: no registry base available, using a debootstrap base"
    "$here/base/build-debootstrap-base.sh" "$offline_base"
  fi
  log="$(mktemp /tmp/hackstream-image-build.XXXXXX.log)"
  echo "==> $what: building $tag from ${arg#*=} (a minute or two; log: $log)"
  # --force-rm: the classic builder otherwise keeps the container of a step that failed.
  if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "$arg" -t "$tag" -t "$target" "$dir" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: docker build of $target failed (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
  echo "==> $what: built $target (${tag##*:})"
  prune_builds "${tag%:*}"
}

content_tag="$repo:$(content_hash "$here/session" "base=$base")"
app_content_tag() { echo "hackstream/session-$(basename "$1"):$(content_hash "$1" "session=$content_tag")"; }
app_dirs=()
for dir in "$here"/apps/*/; do
  [ -f "$dir/Dockerfile" ] && app_dirs+=("$dir")
done
if [ "${1:-}" = --content-tags ]; then
  echo "$content_tag"
  for dir in "${app_dirs[@]}"; do app_content_tag "$dir"; done
  exit 0
fi

build_image "session image" "$target" "$content_tag" "$here/session" "BASE_IMAGE=$base"
for dir in "${app_dirs[@]}"; do
  build_image "app image" "hackstream/session-$(basename "$dir"):latest" "$(app_content_tag "$dir")" "$dir" "SESSION_IMAGE=$content_tag"
done
