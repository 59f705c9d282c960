#!/usr/bin/env bash
# Builds client/dist/hackstream_<version>_all.deb: the client's one-file bundle on Debian's
# Node.js, its desktop entries, icon and man page, and the apt source and key of this
# installation's repository (see lib.sh for the settings).
#
# usage: client/packaging/build-deb.sh [--no-build]
#   --no-build   package the bundle already in client/dist/hackstream.cjs (e.g. built by CI)
#
# Same inputs give the same bytes (file times come from the changelog), so running it again is
# harmless and the repository built from it does not churn.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) die "unknown argument: $arg (usage: build-deb.sh [--no-build])" ;;
  esac
done

need node nodejs
need dpkg-deb dpkg
need dpkg-parsechangelog dpkg-dev
need gzip gzip

version="$(client_version)"
changelog_version="$(dpkg-parsechangelog -l "$PKG_DIR/changelog" -S Version)"
[ "$version" = "$changelog_version" ] \
  || die "client/package.json says $version but client/packaging/changelog's latest entry is $changelog_version: add an entry for $version (dch -c client/packaging/changelog -v $version)"
case "$APT_URI" in
  https://* | http://* | file:/*) ;;
  *) die "HACKSTREAM_APT_URI=$APT_URI is not an http(s):// or file:/ URI" ;;
esac
# File times inside the package: the release's date, not the build's.
SOURCE_DATE_EPOCH="$(dpkg-parsechangelog -l "$PKG_DIR/changelog" -S Timestamp)"
export SOURCE_DATE_EPOCH
maintainer="$(dpkg-parsechangelog -l "$PKG_DIR/changelog" -S Maintainer)"

bundle="$DIST_DIR/hackstream.cjs"
if [ "$build" = 1 ]; then
  [ -f "$CLIENT_DIR/src/main.ts" ] || die "client/src/main.ts does not exist yet: nothing to bundle"
  # Install the client's dependencies only when its lockfile changed since the last install.
  if [ ! -f "$CLIENT_DIR/node_modules/.package-lock.json" ] \
    || [ "$CLIENT_DIR/package-lock.json" -nt "$CLIENT_DIR/node_modules/.package-lock.json" ]; then
    say "client: installing its npm dependencies (npm ci)"
    (umask 022 && npm --prefix "$CLIENT_DIR" ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  say "client: bundling $version"
  # Usual modes in client/ whatever the caller's umask (stack/up.sh builds the repository under
  # 077, which keeps the signing key's home and the repository in the data directory private).
  (umask 022 && npm --prefix "$CLIENT_DIR" run --silent build)
fi
[ -f "$bundle" ] || die "$bundle is missing (run npm --prefix client run build)"
[ "$(head -n1 "$bundle")" = '#!/usr/bin/node' ] \
  || die "$bundle must start with #!/usr/bin/node (Debian's Node.js)"

fpr="$(signing_key)"
trap 'stop_gpg_agent; rm -rf "${stage:-}"' EXIT

umask 022
stage="$(mktemp -d "${TMPDIR:-/tmp}/hackstream-deb.XXXXXX")"
root="$stage/root"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/hackstream" "$root/usr/share/applications" \
  "$root/usr/share/icons/hicolor/scalable/apps" "$root/usr/share/man/man1" "$root/usr/share/doc/$PACKAGE" \
  "$root/usr/share/keyrings" "$root/usr/share/lintian/overrides" "$root/etc/apt/sources.list.d"

install -m 755 "$bundle" "$root/usr/share/hackstream/hackstream.cjs"
# Relative, as Debian policy wants for links within /usr; node follows it to the bundle.
ln -s ../share/hackstream/hackstream.cjs "$root/usr/bin/hackstream"
install -m 644 "$PKG_DIR/hackstream.desktop" "$PKG_DIR/hackstream-open.desktop" "$root/usr/share/applications/"
install -m 644 "$PKG_DIR/hackstream.svg" "$root/usr/share/icons/hicolor/scalable/apps/hackstream.svg"
gzip -9n <"$PKG_DIR/hackstream.1" >"$root/usr/share/man/man1/hackstream.1.gz"
gzip -9n <"$PKG_DIR/changelog" >"$root/usr/share/doc/$PACKAGE/changelog.gz"
node "$PKG_DIR/copyright.mjs" "$CLIENT_DIR" >"$root/usr/share/doc/$PACKAGE/copyright"
install -m 644 "$PKG_DIR/lintian-overrides" "$root/usr/share/lintian/overrides/$PACKAGE"

# The repository's key and source: after the first install, `apt upgrade` brings new versions.
export_public_key "$fpr" "$root/usr/share/keyrings/$KEYRING_NAME"
chmod 644 "$root/usr/share/keyrings/$KEYRING_NAME"
cat >"$root/etc/apt/sources.list.d/$PACKAGE.sources" <<EOF
# The HackStream client's apt repository; installed by the $PACKAGE package.
Types: deb
URIs: $APT_URI
Suites: $SUITE
Components: $COMPONENT
Signed-By: /usr/share/keyrings/$KEYRING_NAME
EOF
# A conffile: an administrator's edit (another URI, a proxy) survives upgrades; purge removes it.
echo "/etc/apt/sources.list.d/$PACKAGE.sources" >"$root/DEBIAN/conffiles"

# python3-gi-cairo: xpra 3.1's GTK client paints windows through it but does not depend on it
# (without it every window stays black: "Couldn't find foreign struct converter for cairo.Context").
cat >"$root/DEBIAN/control" <<EOF
Package: $PACKAGE
Version: $version
Architecture: all
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: nodejs (>= 18.19), xpra, python3-gi-cairo, zenity
Section: net
Priority: optional
Description: run heavy desktop applications on a HackStream server
 HackStream runs applications such as Firefox in isolated containers on a
 server and streams them to weak devices with xpra. This package provides
 the hackstream command (log in, launch a session, open hackstream:// links),
 a zenity launcher in the desktop menu, and the apt source and signing key
 of the repository it comes from.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/"*
find "$root" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$DIST_DIR"
deb="$DIST_DIR/${PACKAGE}_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$stage/out.deb" >/dev/null
mv "$stage/out.deb" "$deb"
say "package: $deb (apt source $APT_URI, key ${fpr: -16})"
