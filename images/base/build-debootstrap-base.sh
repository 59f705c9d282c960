#!/usr/bin/env bash
# Builds a minimal Debian bookworm base image with debootstrap + `docker import`, for hosts that
# reach Debian's package mirror but no container registry (air-gapped hosts, our CI).
#
# usage: images/base/build-debootstrap-base.sh [IMAGE_TAG]
#   IMAGE_TAG              default: hackstream/debian-base:bookworm
#   HACKSTREAM_DEBIAN_MIRROR  mirror URL; default: the first bookworm URI of this host's apt sources
#
# Idempotent: does nothing when the tag already exists.
set -euo pipefail

tag="${1:-hackstream/debian-base:bookworm}"
suite=bookworm

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi

# The host's own apt configuration names the mirror it may reach; reuse it rather than naming one.
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 ~ / '"$suite"'( |$)/ && u != "") { print u; exit } }' "$f"
  done | head -n1
  if [ -f /etc/apt/sources.list ]; then
    awk '$1=="deb" && $3=="'"$suite"'" {print $2; exit}' /etc/apt/sources.list
  fi
}
mirror="${HACKSTREAM_DEBIAN_MIRROR:-$(host_mirror | head -n1)}"
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror found in /etc/apt sources; set HACKSTREAM_DEBIAN_MIRROR" >&2
  exit 1
fi

command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed" >&2; exit 1; }

work="$(mktemp -d /var/tmp/hackstream-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "debootstrap $suite (minbase) from the host's Debian mirror ..."
debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# Same package sources as the host (deb822 files or sources.list), so `apt-get` inside image
# builds uses the mirrors this host is configured for, security updates included.
rm -f "$work/root/etc/apt/sources.list"
mkdir -p "$work/root/etc/apt/sources.list.d"
cp /etc/apt/sources.list.d/*.sources "$work/root/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$work/root/etc/apt/sources.list"
# Keep images small: no apt caches, docs or translations.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*

echo "importing as $tag ..."
tar -C "$work/root" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "base image $tag built"
