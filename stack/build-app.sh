#!/usr/bin/env bash
# Compiles the control plane (TypeScript → dist/, plus the prebuilt workflow bundle) unless the
# sources are unchanged since the last build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v node >/dev/null && node --version | grep -q '^v24\.' || ensure_node >/dev/null

# Everything the build reads; folders that do not exist (yet) are skipped.
inputs=()
for p in core workflows activities api worker scripts package-lock.json tsconfig.json tsconfig.build.json; do
  [ -e "$HS_ROOT/$p" ] && inputs+=("$p")
done
stamp="$(cd "$HS_ROOT" && find "${inputs[@]}" -type f \( -name '*.ts' -o -name '*.json' -o -name '*.js' \) -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)"
# One build at a time (two stack/up.sh at once, or a test beside one): a second would remove the
# first one's dist/ half-way. The one that waited finds the build done.
mkdir -p "$HS_ROOT/.tools"
exec 9>"$HS_ROOT/.tools/build-app.lock"
flock 9
if [ -f "$HS_ROOT/dist/.build-stamp" ] && [ "$(cat "$HS_ROOT/dist/.build-stamp")" = "$stamp" ]; then
  say "control plane: build up to date"
  exit 0
fi
say "control plane: building (tsc + workflow bundle)"
rm -rf "$HS_ROOT/dist"
(cd "$HS_ROOT" && npm run --silent build) || die "build failed"
echo "$stamp" >"$HS_ROOT/dist/.build-stamp"
