#!/bin/sh
# Session container entrypoint: one xpra server on display :100 whose only child is the app.
# xpra starts Xvfb itself, serves its HTML5 client and websocket on port 14500, and exits when
# the app exits (so the container ends with it). Extra arguments (quality presets) are appended.
set -eu
mkdir -p "$XDG_RUNTIME_DIR" /tmp/xpra && chmod 0700 "$XDG_RUNTIME_DIR"
# Xvfb (non-root) cannot create the X socket directory itself.
mkdir -p -m 1777 /tmp/.X11-unix 2>/dev/null || true
# A session bus for Firefox's remote protocol (hackstream-open-url); xpra passes it to Firefox.
dbus-daemon --session --fork --address="unix:path=$XDG_RUNTIME_DIR/bus" >/dev/null
export DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus"
# A warm container waits for the URL of the session that claims it (hackstream-url-watch).
if [ "${HACKSTREAM_WARM:-0}" = 1 ]; then hackstream-url-watch & fi
# The app's start script: the catalog's `command` (core/apps.json), set by the worker; this
# image's own Firefox when unset.
app_command="${HACKSTREAM_APP_COMMAND:-/usr/local/bin/hackstream-start-app}"
case "$app_command" in
  /usr/local/bin/hackstream-start-*) ;;
  *) echo "hackstream-entrypoint: HACKSTREAM_APP_COMMAND must be one of the image's hackstream-start-* scripts" >&2; exit 2 ;;
esac
# Xvfb without GLX: with it, Xvfb and xpra (through GTK) each load Mesa's software GL and LLVM at
# start, about 10 MiB of memory each, for nothing: Firefox draws in software and gets GL from EGL
# when a page asks (WebGL), which needs no GLX (bench/results/xvfb-glx-ab-2026-12-04.md).
# The largest screen a client can get (the quality preset's, core/quality-presets.ts): Xvfb
# allocates and touches its framebuffer at this size whatever the screen's current one, 4 bytes a
# pixel of each session's memory.
max_screen="${HACKSTREAM_MAX_SCREEN:-3840x2160}"
if ! printf '%s' "$max_screen" | grep -Eqx '[1-9][0-9]{2,3}x[1-9][0-9]{2,3}'; then
  echo "hackstream-entrypoint: HACKSTREAM_MAX_SCREEN must be WIDTHxHEIGHT (100 to 9999 pixels each)" >&2; exit 2
fi
# Same-page merging with other sessions (memory-merge.py): only where the worker says so.
merge=
if [ "${HACKSTREAM_MEMORY_MERGE:-0}" = 1 ]; then merge=hackstream-memory-merge; fi
exec $merge xpra start :100 \
  --daemon=no --socket-dir=/tmp/xpra \
  --bind-ws=0.0.0.0:14500 --html=on \
  --start-child="$app_command" --exit-with-children=yes \
  --start-new-commands=no --open-url=no --open-files=no \
  --file-transfer=no --printing=no --webcam=no --clipboard=yes \
  --mdns=no --pulseaudio=no --speaker=disabled --microphone=disabled --notifications=no \
  --dbus-launch=no --dbus-proxy=no --systemd-run=no \
  --xvfb="Xvfb -extension GLX +extension Composite -screen 0 ${max_screen}x24+32 -dpi 96 -nolisten tcp -noreset -auth \$XAUTHORITY" \
  "$@"
