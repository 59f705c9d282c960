#!/bin/sh
# Started by xpra as its only child. The URL arrives in the environment, never on a command
# line that xpra would parse, so no URL can inject arguments. Firefox listens on the session bus
# (started by the entrypoint) so that hackstream-open-url can hand it another URL later.
set -eu
profile="${HOME}/.mozilla/hackstream-profile"
mkdir -p "$profile"
cp /etc/hackstream/firefox-user.js "$profile/user.js"
# The quality preset's frame rate (a number, or 0 for Firefox's default).
case "${HACKSTREAM_FRAME_RATE:-0}" in
  0) ;;
  *[!0-9]*) echo "hackstream-start-app: HACKSTREAM_FRAME_RATE must be a number" >&2; exit 2 ;;
  *) echo "user_pref(\"layout.frame_rate\", ${HACKSTREAM_FRAME_RATE});" >> "$profile/user.js" ;;
esac
exec firefox-esr --profile "$profile" "${HACKSTREAM_URL:-about:blank}"
