#!/bin/sh
# Started by xpra as its only child. The URL arrives in the environment, never on a command
# line that xpra would parse, so no URL can inject arguments.
set -eu
profile="${HOME}/.mozilla/hackstream-profile"
mkdir -p "$profile"
exec firefox-esr --no-remote --profile "$profile" "${HACKSTREAM_URL:-about:blank}"
