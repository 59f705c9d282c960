#!/usr/bin/env bash
# Builds the client's signed apt repository (default client/dist/apt, HACKSTREAM_APT_REPO_DIR):
#
#   hackstream-archive-keyring.gpg            the public key (binary), as the package ships it
#   pool/main/h/hackstream/hackstream_*_all.deb
#   dists/stable/main/binary-all/Packages(.gz)
#   dists/stable/Release, InRelease, Release.gpg
#
# usage: client/packaging/build-repo.sh [--no-build]   (--no-build: see build-deb.sh)
#
# Serve the directory as the URI the package was built with (HACKSTREAM_APT_URI, see lib.sh).
# Versions already in the pool stay there (apt installs the newest); the current one is replaced.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need apt-ftparchive apt-utils
need gpgv gpgv

"$PKG_DIR/build-deb.sh" "$@"
version="$(client_version)"
deb="$DIST_DIR/${PACKAGE}_${version}_all.deb"
fpr="$(signing_key)"

# Built beside the old one and swapped in at the end: a failed run leaves the last good
# repository in place, and clients never see a half-written one.
new="$REPO_DIR.new.$$"
trap 'stop_gpg_agent; rm -rf "$new"' EXIT
mkdir -p "$(dirname "$REPO_DIR")"
rm -rf "$new"
pool="pool/$COMPONENT/${PACKAGE:0:1}/$PACKAGE"
mkdir -p "$new/$pool" "$new/dists/$SUITE/$COMPONENT/binary-all"
if [ -d "$REPO_DIR/$pool" ]; then
  find "$REPO_DIR/$pool" -maxdepth 1 -name '*.deb' ! -name "$(basename "$deb")" -exec cp -p {} "$new/$pool/" \;
fi
cp "$deb" "$new/$pool/"

export_public_key "$fpr" "$new/$KEYRING_NAME"
# The package must carry the key that signs its repository (a --no-build run could package a
# .deb made with another installation's key).
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/share/keyrings/$KEYRING_NAME" | cmp -s - "$new/$KEYRING_NAME" \
  || die "$deb ships a different archive key than ${fpr: -16}: rebuild it (build-deb.sh)"

say "apt repository: indexing $(find "$new/pool" -name '*.deb' | wc -l) package(s)"
(cd "$new" && apt-ftparchive packages "pool/$COMPONENT") >"$new/dists/$SUITE/$COMPONENT/binary-all/Packages"
gzip -9n <"$new/dists/$SUITE/$COMPONENT/binary-all/Packages" >"$new/dists/$SUITE/$COMPONENT/binary-all/Packages.gz"

# Release lists the indexes' hashes; apt-ftparchive must not see the file it is writing.
(cd "$new/dists/$SUITE" && apt-ftparchive \
  -o APT::FTPArchive::Release::Origin=HackStream \
  -o APT::FTPArchive::Release::Label="HackStream client" \
  -o APT::FTPArchive::Release::Suite="$SUITE" \
  -o APT::FTPArchive::Release::Codename="$SUITE" \
  -o APT::FTPArchive::Release::Architectures="all ${REPO_ARCHES[*]}" \
  -o APT::FTPArchive::Release::Components="$COMPONENT" \
  -o APT::FTPArchive::Release::Description="The HackStream client for Debian and Raspberry Pi OS" \
  release .) >"$new/dists/$SUITE/Release.tmp"
mv "$new/dists/$SUITE/Release.tmp" "$new/dists/$SUITE/Release"

say "apt repository: signing with key ${fpr: -16}"
# The "!" pins the exact key, not a subkey gpg might prefer.
gpg_ --local-user "$fpr!" --digest-algo SHA512 --clearsign -o "$new/dists/$SUITE/InRelease" "$new/dists/$SUITE/Release"
gpg_ --local-user "$fpr!" --digest-algo SHA512 --armor --detach-sign -o "$new/dists/$SUITE/Release.gpg" "$new/dists/$SUITE/Release"
# What apt will do: check both signatures against the exported key alone.
if ! gpgv --quiet --keyring "$new/$KEYRING_NAME" "$new/dists/$SUITE/InRelease" 2>/dev/null \
  || ! gpgv --quiet --keyring "$new/$KEYRING_NAME" "$new/dists/$SUITE/Release.gpg" "$new/dists/$SUITE/Release" 2>/dev/null; then
  die "the repository's signatures do not verify with its own public key"
fi

rm -rf "$REPO_DIR.old"
[ -e "$REPO_DIR" ] && mv "$REPO_DIR" "$REPO_DIR.old"
mv "$new" "$REPO_DIR"
rm -rf "$REPO_DIR.old"
say "apt repository: $REPO_DIR (hackstream $version; serve it at $APT_URI)"
