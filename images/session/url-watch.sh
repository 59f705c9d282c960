#!/bin/sh
# Runs in a warm container (the pool's, HACKSTREAM_WARM=1) until a session claims it: the worker
# then hands Firefox the session's URL by writing it into the session's files (read-only here)
# as `open-url`, by rename: /run/hackstream on a Docker host, HACKSTREAM_LIVE_DIR in a pod
# (session-file.sh). Waiting costs no CPU (inotify); the hand-over costs no `docker exec`,
# whose process set-up was most of a claim when several ran at once (bench/results/). One URL,
# then this exits. The URL is read from the file and passed as one argument, never shell text.
set -eu
dir=${HACKSTREAM_LIVE_DIR:-/run/hackstream}
file="$dir/open-url"
events=/tmp/hackstream-url-watch
rm -f "$events"
mkfifo -m 0600 "$events"
inotifywait -m -e moved_to -e close_write --format '%f' "$dir" >"$events" 2>&1 &
watcher=$!
while IFS= read -r line; do
  case "$line" in
    # The watch is in place: a URL handed over before it was set up is already in the file.
    "Watches established.") [ -f "$file" ] && break ;;
    open-url) break ;;
  esac
done <"$events"
kill "$watcher" 2>/dev/null || true
rm -f "$events"
exec hackstream-open-url "$(cat "$file")"
