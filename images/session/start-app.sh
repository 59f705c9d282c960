#!/bin/sh
# Started by xpra as its only child. The URL arrives in the environment, never on a command
# line that xpra would parse, so no URL can inject arguments. Firefox listens on the session bus
# (started by the entrypoint) so that hackstream-open-url can hand it another URL later.
set -eu
profile="${HOME}/.mozilla/hackstream-profile"
mkdir -p "$profile"
cp /etc/hackstream/firefox-user.js "$profile/user.js"
exec firefox-esr --profile "$profile" "${HACKSTREAM_URL:-about:blank}"
