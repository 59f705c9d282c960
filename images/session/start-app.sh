#!/bin/sh
# Started by xpra as its only child. The URL arrives in the environment, never on a command
# line that xpra would parse, so no URL can inject arguments. Firefox listens on the session bus
# (started by the entrypoint) so that hackstream-open-url can hand it another URL later.
set -eu
# A persistent session's profile is mounted here (the app's dataDir in core/catalog.ts); an
# ephemeral one's starts empty in the home's tmpfs.
profile="${HOME}/.mozilla/hackstream-profile"
mkdir -p "$profile"
# A new profile starts from the one Firefox's first start made at image build (see the
# Dockerfile): no first start here. A persistent one keeps what it has.
if [ ! -e "$profile/times.json" ]; then cp -R /usr/lib/hackstream/firefox-profile/. "$profile/"; fi
# Left by a session whose container was killed: the platform lets one session at a time have
# the profile, and Firefox would otherwise refuse it as in use by another host.
rm -f "$profile/lock" "$profile/.parentlock"
# Firefox's compiled scripts, made at image build (see the Dockerfile): linked, not copied, under
# the name Firefox maps its cache from (scriptCache-current.bin), so every session shares one copy
# in the page cache instead of holding its own in its memory (the home is a tmpfs) or compiling
# the scripts again (bench/results/firefox-script-cache-ab-2026-12-04.md). The directory is then
# made read-only: Firefox would otherwise write a cache of its own there once it settles, a copy
# in each session's memory (bench/results/idle-memory-ab-2026-12-05.md). A persistent
# profile has it read-only from its last session. The image's build runs this script before the
# compiled scripts exist, to have Firefox make them.
cache="$profile/startupCache"
compiled=/usr/lib/hackstream/firefox-script-cache
mkdir -p "$cache" && chmod u+w "$cache"
if [ -e "$compiled/scriptCache.bin" ]; then
  for f in scriptCache scriptCache-child; do rm -f "$cache/$f.bin"; ln -sf "$compiled/$f.bin" "$cache/$f-current.bin"; done
  chmod a-w "$cache"
fi
cp /etc/hackstream/firefox-user.js "$profile/user.js"
# Start maximized: the xpra client then fits the window to its own screen (the HTML5 client to
# the browser tab), instead of Firefox's default 1280x1040 that a smaller client shows cut off
# and that costs bandwidth for rows nobody sees.
cp /etc/hackstream/firefox-xulstore.json "$profile/xulstore.json"
# Until a client attaches, a screen of an HD display's size (not the 4K maximum): see the script.
hackstream-screen-size 1280x720 || echo "hackstream-start-app: keeping the screen's size" >&2
# Page scrollbars hidden (the `low` preset): a user stylesheet, which overrides pages' own.
case "${HACKSTREAM_SCROLLBARS:-shown}" in
  shown) ;;
  hidden)
    mkdir -p "$profile/chrome"
    echo '* { scrollbar-width: none !important; }' > "$profile/chrome/userContent.css"
    echo 'user_pref("toolkit.legacyUserProfileCustomizations.stylesheets", true);' >> "$profile/user.js" ;;
  *) echo "hackstream-start-app: HACKSTREAM_SCROLLBARS must be shown or hidden" >&2; exit 2 ;;
esac
exec firefox-esr --profile "$profile" "${HACKSTREAM_URL:-about:blank}"
