# Sourced by build-session-image.sh (and its test): the session and app images' builds, cached by
# content. An image is tagged <repository>:<hash of its inputs> (the cache key: same inputs, no
# rebuild) and <repository>:latest (what the catalog names). A build that a change superseded
# stays as a cache (switching back to an earlier commit costs no rebuild) until newer builds push
# it out: each repository keeps its newest HACKSTREAM_IMAGE_BUILDS_KEPT content tags (3), so that
# upgrades do not fill the host's disk with gigabytes of images nobody runs.

HS_IMAGE_BUILDS_KEPT="${HACKSTREAM_IMAGE_BUILDS_KEPT:-3}"
[[ "$HS_IMAGE_BUILDS_KEPT" =~ ^[1-9][0-9]*$ ]] || { echo "error: HACKSTREAM_IMAGE_BUILDS_KEPT must be a positive whole number" >&2; exit 2; }

# content_hash DIR EXTRA: the cache key of an image built from DIR (its files, not Python's caches, which a clone lacks) and EXTRA (what it is built FROM).
content_hash() {
  ( (cd "$1" && find . -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum; echo "$2") | sha256sum | cut -c1-16)
}

# prune_builds REPOSITORY: removes its content tags beyond the newest HS_IMAGE_BUILDS_KEPT, never
# the build :latest names; the engine refuses to remove an image a container still uses (a
# session started before the upgrade), which then stays until a later build's prune.
prune_builds() {
  local repo="$1" latest tag id
  latest="$(docker image inspect -f '{{.Id}}' "$repo:latest" 2>/dev/null || true)"
  # Newest first, as the engine lists them.
  docker image ls "$repo" --format '{{.Tag}} {{.ID}}' | { grep -E '^[0-9a-f]{16} ' || true; } | tail -n "+$((HS_IMAGE_BUILDS_KEPT + 1))" | while read -r tag id; do
    [ -n "$latest" ] && [[ "$latest" == *"$id"* ]] && continue
    if docker image rm "$repo:$tag" >/dev/null 2>&1; then echo "==> removed the superseded build $repo:$tag"; fi
  done
}
