#!/usr/bin/env bash
# Starts, stops or reports the control-plane processes (api, worker, node-gateway) of a data directory.
#   stack/service.sh ensure|stop|status api|worker|node-gateway DATA_DIR
# `ensure` leaves a process alone when it runs the current build, and restarts it otherwise.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

action=${1:?action}; name=${2:?service}; data_dir=${3:?data dir}
case "$name" in
  api) entry="$HS_ROOT/dist/api/main.js" ;;
  worker) entry="$HS_ROOT/dist/worker/main.js" ;;
  node-gateway) entry="$HS_ROOT/dist/node-gateway/main.js" ;;
  *) die "unknown service: $name" ;;
esac
pid_file="$data_dir/run/$name.pid"
build_file="$data_dir/run/$name.build"
log_file="$data_dir/logs/$name.log"

running_pid() {
  local pid
  [ -f "$pid_file" ] && pid=$(cat "$pid_file") && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop() {
  local pid i
  pid=$(running_pid) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

# One ensure or stop at a time per service: stack/up.sh and the watchdog never start it twice.
# (The process started below does not inherit the lock.)
if [ "$action" != status ]; then
  (umask 077 && mkdir -p "$data_dir/run")
  exec 9>"$data_dir/run/$name.lock"
  flock 9
fi

case "$action" in
  status)
    if pid=$(running_pid); then echo "$name: running (pid $pid)"; else echo "$name: stopped"; exit 3; fi ;;
  stop)
    stop; say "$name: stopped" ;;
  ensure)
    current="$(cat "$HS_ROOT/dist/.build-stamp" 2>/dev/null || echo none)"
    if pid=$(running_pid) && [ "$(cat "$build_file" 2>/dev/null)" = "$current" ]; then
      say "$name: running (pid $pid)"
      exit 0
    fi
    if running_pid >/dev/null; then say "$name: restarting on the new build"; stop; else say "$name: starting"; fi
    command -v node >/dev/null && node --version | grep -q '^v24\.' || ensure_node >/dev/null
    # The log, pid and build files are private like the rest of the data directory (the
    # processes set their own umask too: api/main.ts, worker/main.ts).
    umask 077
    mkdir -p "$data_dir/run" "$data_dir/logs"
    nohup node "$entry" >>"$log_file" 2>&1 </dev/null 9>&- &
    echo $! >"$pid_file"
    echo "$current" >"$build_file"
    sleep 1
    running_pid >/dev/null || { tail -n 20 "$log_file" >&2; die "$name exited at start; see $log_file"; }
    ;;
  *) die "unknown action: $action" ;;
esac
