#!/usr/bin/env bash
# Stops what stack/up.sh started for a data directory: the watchdog, API, worker, node gateway, Traefik,
# Temporal and Redis.
# The Docker engine is left running (other software may use it); the stopping worker removes
# its unclaimed warm containers; session containers are removed by their workflows.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
data_dir="${HACKSTREAM_DATA_DIR:-$HS_ROOT/.data}"
[ -d "$data_dir" ] || { say "nothing to stop ($data_dir does not exist)"; exit 0; }
data_dir="$(cd "$data_dir" && pwd)"
# First: it would start again what is stopped below.
stop_watchdog "$data_dir"
say "watchdog: stopped"
"$HS_ROOT/stack/service.sh" stop api "$data_dir"
"$HS_ROOT/stack/service.sh" stop worker "$data_dir"
"$HS_ROOT/stack/service.sh" stop node-gateway "$data_dir"
# The gateway stops its tunnel sshd; one a killed gateway left behind is stopped here.
tunnel_pid="$(cat "$data_dir/tunnel/sshd.pid" 2>/dev/null || true)"
if [ -n "$tunnel_pid" ] && grep -qs "$data_dir/tunnel/sshd_config" "/proc/$tunnel_pid/cmdline"; then
  kill -TERM "$tunnel_pid" 2>/dev/null || true
fi
for svc in traefik temporal redis; do
  pid_file="$data_dir/run/$svc.pid"
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    say "$svc: stopped"
  fi
  rm -f "$pid_file"
done
