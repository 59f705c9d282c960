# shellcheck shell=bash
# Shared by build-deb.sh and build-repo.sh: paths, settings and the archive signing key.
#
# Settings (environment):
#   HACKSTREAM_DATA_DIR       the installation's state (default: <repo>/.data)
#   HACKSTREAM_APT_GNUPGHOME  a GnuPG home holding the archive's secret key, provided by the
#                             operator (default: $HACKSTREAM_DATA_DIR/client-apt/gnupg, created
#                             with a new ed25519 key on first use)
#   HACKSTREAM_APT_KEY_ID     which secret key of that home signs (default: the first one)
#   HACKSTREAM_APT_URI        the repository URI written into the package's apt source
#                             (default: https://$HACKSTREAM_PUBLIC_HOST:$HACKSTREAM_PUBLIC_PORT/apt/,
#                             i.e. https://localhost:8443/apt/ - the stack's ingress)
#   HACKSTREAM_APT_REPO_DIR   where build-repo.sh writes the repository, relative to the data
#                             directory (default: client-apt/repo; the API serves it at /apt/)

PKG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLIENT_DIR="$(cd "$PKG_DIR/.." && pwd)"
ROOT_DIR="$(cd "$CLIENT_DIR/.." && pwd)"
DIST_DIR="$CLIENT_DIR/dist"
PACKAGE=hackstream
SUITE=stable
COMPONENT=main
# Debian (and Raspberry Pi OS) architectures the repository announces; the package itself is
# architecture-independent (one JavaScript bundle on Debian's Node.js).
REPO_ARCHES=(amd64 arm64 armhf)
KEYRING_NAME=hackstream-archive-keyring.gpg

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# A step that fails without a message of its own still says where.
trap 'rc=$?; printf "error: %s failed (exit %s) at line %s: %s\n" "${BASH_SOURCE[0]##*/}" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

need() {
  local cmd="$1" pkg="$2"
  command -v "$cmd" >/dev/null || die "$cmd not found: install the Debian package $pkg"
}

DATA_DIR="${HACKSTREAM_DATA_DIR:-$ROOT_DIR/.data}"
APT_URI="${HACKSTREAM_APT_URI:-https://${HACKSTREAM_PUBLIC_HOST:-localhost}:${HACKSTREAM_PUBLIC_PORT:-8443}/apt/}"
# Resolved as the API resolves it (relative to the data directory): both name one directory.
repo_setting="${HACKSTREAM_APT_REPO_DIR:-client-apt/repo}"
case "$repo_setting" in
  /*) REPO_DIR="$repo_setting" ;;
  *) REPO_DIR="$DATA_DIR/$repo_setting" ;;
esac

# The version comes from client/package.json; the Debian changelog must have an entry for it
# (dpkg reads a package's version history from there, so they must not drift apart).
client_version() {
  node -p 'require(process.argv[1]).version' "$CLIENT_DIR/package.json"
}

# --- the archive signing key ----------------------------------------------------------------
# One key per installation, so every .deb it builds ships the key its repository is signed with.

GNUPGHOME_DIR="${HACKSTREAM_APT_GNUPGHOME:-$DATA_DIR/client-apt/gnupg}"
gpg_() { gpg --batch --quiet --no-tty --homedir "$GNUPGHOME_DIR" "$@"; }

# gpg starts an agent for the home it uses; stop it when the script ends so nothing lingers.
stop_gpg_agent() {
  [ -d "$GNUPGHOME_DIR" ] && gpgconf --homedir "$GNUPGHOME_DIR" --kill gpg-agent >/dev/null 2>&1 || true
}

# Prints the fingerprint of the signing key, creating the key first when this installation has
# none (and no operator-provided home).
signing_key() {
  need gpg gnupg
  if [ -n "${HACKSTREAM_APT_GNUPGHOME:-}" ]; then
    [ -d "$GNUPGHOME_DIR" ] || die "HACKSTREAM_APT_GNUPGHOME=$GNUPGHOME_DIR is not a directory"
  else
    mkdir -p "$GNUPGHOME_DIR"
    chmod 700 "$(dirname "$GNUPGHOME_DIR")" "$GNUPGHOME_DIR"
    # Two builds at once must not each make a key.
    exec 9>"$(dirname "$GNUPGHOME_DIR")/.lock"
    flock 9
    if [ -z "$(gpg_ --list-secret-keys --with-colons 2>/dev/null | awk -F: '$1=="sec"')" ]; then
      say "apt signing key: creating one for this installation in $GNUPGHOME_DIR" >&2
      gpg_ --passphrase '' --quick-gen-key 'HackStream client archive signing key' ed25519 sign never \
        || die "gpg could not create the signing key in $GNUPGHOME_DIR"
    fi
    flock -u 9
  fi
  local fpr
  if [ -n "${HACKSTREAM_APT_KEY_ID:-}" ]; then
    fpr="$(gpg_ --list-secret-keys --with-colons "$HACKSTREAM_APT_KEY_ID" 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')"
    [ -n "$fpr" ] || die "no secret key $HACKSTREAM_APT_KEY_ID in $GNUPGHOME_DIR"
  else
    # The first fpr record after the first secret key is that primary key's fingerprint.
    fpr="$(gpg_ --list-secret-keys --with-colons 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')"
    [ -n "$fpr" ] || die "no secret key in $GNUPGHOME_DIR (set HACKSTREAM_APT_GNUPGHOME to a GnuPG home that has one)"
  fi
  printf '%s\n' "$fpr"
}

# Writes the binary (not armored) public key, the format apt's Signed-By expects in a .gpg file.
export_public_key() {
  local fpr="$1" out="$2"
  gpg_ --export "$fpr" >"$out.tmp"
  [ -s "$out.tmp" ] || die "gpg exported an empty public key for $fpr"
  mv "$out.tmp" "$out"
}
