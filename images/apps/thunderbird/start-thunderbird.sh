#!/bin/sh
# Started by xpra as its only child (the catalog's `command` for thunderbird, core/apps.json).
set -eu
# A persistent session's profile is mounted here (the catalog's `dataDir`); an ephemeral one's
# starts empty in the home's tmpfs, and Thunderbird makes its profile at its first start.
profile="${HOME}/.thunderbird/hackstream-profile"
mkdir -p "$profile"
# Left by a session whose container was killed: the platform lets one session at a time have
# the profile, and Thunderbird would otherwise refuse it as in use.
rm -f "$profile/lock" "$profile/.parentlock"
cp /etc/hackstream/thunderbird-user.js "$profile/user.js"
hackstream-screen-size 1280x720 || echo "hackstream-start-thunderbird: keeping the screen's size" >&2
# Its window class, named here: the default one ("thunderbird-default") depends on the build.
exec thunderbird --class thunderbird --profile "$profile"
