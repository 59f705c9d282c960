#!/bin/sh
# hackstream-session-file NAME: writes the line on standard input as the session file NAME in
# $HACKSTREAM_LIVE_DIR, the files a session's pod gets after its start (on Kubernetes, where the
# Secret with its certificate is immutable): the token public key and the URL a claimed warm pod
# takes (replaced whole, by rename, as the url watch expects), and the bound of native tokens
# refused after an account change (appended: the highest holds). Run by the worker's exec in the
# pod's `session-files` container, the one that may write that directory; the session's own
# container reads it through a read-only mount. Group-readable: the session's user is in the
# writer's group, nobody else reads it. One line, read up to its newline: the write does not
# wait for the end of the exec's input, which not every kubelet passes on.
set -eu
dir=${HACKSTREAM_LIVE_DIR:?HACKSTREAM_LIVE_DIR is not set}
umask 027
case "${1:-}" in
  token.pub | open-url | token.refused-until) ;;
  *)
    echo "usage: hackstream-session-file token.pub|open-url|token.refused-until <line" >&2
    exit 2
    ;;
esac
IFS= read -r line || [ -n "$line" ] || { echo "hackstream-session-file: no line on standard input" >&2; exit 2; }
if [ "$1" = token.refused-until ]; then
  printf '%s\n' "$line" >>"$dir/$1"
else
  tmp="$dir/.$1.tmp"
  printf '%s\n' "$line" >"$tmp"
  mv -f "$tmp" "$dir/$1"
fi
