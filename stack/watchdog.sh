#!/usr/bin/env bash
# Keeps the stack of a data directory up: every few seconds it restarts a component that died
# (Redis, Temporal, Traefik, the API, the worker, and the Docker engine when this stack started
# it), and it rotates the logs (logrotate, copytruncate: the processes keep their files open).
# stack/up.sh starts it with the settings of the stack (see ensure_component in stack/lib.sh);
# stack/down.sh stops it first. Its own log is DATA_DIR/logs/watchdog.log.
#
#   stack/watchdog.sh DATA_DIR
#   HACKSTREAM_LOG_ROTATE_MB  a log is rotated past this size (default 50); 5 old ones are kept
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap - ERR # a failed restart is logged and tried again, never the end of the watchdog

data_dir=${1:?data dir}
check_every=2
rotate_every=10
log() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

rotate_conf="$data_dir/run/logrotate.conf"
cat >"$rotate_conf" <<CONF
$data_dir/logs/*.log {
  size ${HACKSTREAM_LOG_ROTATE_MB:-50}M
  rotate 5
  copytruncate
  compress
  delaycompress
  missingok
  notifempty
}
CONF

trap 'log "stopping"; exit 0' TERM INT
log "watching ${HS_COMPONENTS[*]} of $data_dir"
since_rotation=$rotate_every
while :; do
  for name in "${HS_COMPONENTS[@]}"; do
    component_alive "$name" "$data_dir" && continue
    log "$name is not running: starting it"
    # In a subshell: a step that dies (die) ends the attempt, not the watchdog.
    if (ensure_component "$name"); then log "$name: started"; else log "$name: starting failed; trying again"; fi
  done
  if [ -n "${HS_WATCH_DOCKERD:-}" ] && ! docker info >/dev/null 2>&1; then
    log "the Docker engine is not answering: starting it"
    (start_dockerd "$data_dir/logs") || log "starting dockerd failed; trying again"
  fi
  if ((since_rotation >= rotate_every)); then
    logrotate --state "$data_dir/run/logrotate.state" "$rotate_conf" || log "logrotate failed"
    since_rotation=0
  fi
  sleep "$check_every" & wait $!
  since_rotation=$((since_rotation + check_every))
done
