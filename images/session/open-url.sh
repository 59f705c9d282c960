#!/bin/sh
# Opens a URL in the Firefox already running in this container (a warm container claimed by a
# session), through Firefox's remote protocol on the container's session bus.
set -eu
[ $# -eq 1 ] || { echo "usage: hackstream-open-url URL" >&2; exit 2; }
# Only web URLs (the API admits nothing else): never anything Firefox could read as an option.
case "$1" in http://*|https://*) ;; *) echo "hackstream-open-url: not an http(s) URL" >&2; exit 2 ;; esac
export DISPLAY=:100 DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus"
exec firefox-esr --profile "$HOME/.mozilla/hackstream-profile" "$1"
