#!/usr/bin/env bash
# Brings the whole single-host platform up with embedded defaults: installs what is missing,
# builds the session image and the control plane, starts the Docker engine, Redis, the Temporal
# dev server, the worker, the API and the node gateway (enrolled nodes' mutual TLS to Temporal), and the watchdog that restarts any of them that dies and
# rotates the logs (stack/watchdog.sh), then prints the URLs and the first admin's credentials.
# Running it again changes nothing that is already in place (code changes restart the worker
# and API).
#
#   HACKSTREAM_DATA_DIR         state: databases, logs, pid files, secrets (default ./.data)
#   HACKSTREAM_PUBLIC_PORT      HTTPS port of the ingress (Traefik) for the API and sessions (default 8443)
#   HACKSTREAM_API_PORT         API port on loopback, behind the ingress (default 8080)
#   HACKSTREAM_REDIS_PORT       Redis port (default 6379)
#   HACKSTREAM_TEMPORAL_PORT    Temporal frontend port (default 7233)
#   HACKSTREAM_TEMPORAL_UI_PORT Temporal UI port (default 8233)
#   HACKSTREAM_NODE_GATEWAY_PORT  the node gateway's port (default 7443)
#   HACKSTREAM_ADMIN_USERNAME / HACKSTREAM_ADMIN_PASSWORD   first admin (password generated if unset)
# Any other HACKSTREAM_* variable (see README) is passed to the worker and API.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

# The data directory is its user's alone (password hashes, keys, Temporal's history, logs,
# routes): 700 also covers files an older version created with wider modes.
data_dir="$(umask 077 && mkdir -p "${HACKSTREAM_DATA_DIR:-$HS_ROOT/.data}" && cd "${HACKSTREAM_DATA_DIR:-$HS_ROOT/.data}" && pwd)"
chmod 700 "$data_dir"
api_port="${HACKSTREAM_API_PORT:-8080}"
public_port="${HACKSTREAM_PUBLIC_PORT:-8443}"
redis_port="${HACKSTREAM_REDIS_PORT:-6379}"
temporal_port="${HACKSTREAM_TEMPORAL_PORT:-7233}"
ui_port="${HACKSTREAM_TEMPORAL_UI_PORT:-8233}"
(umask 077 && mkdir -p "$data_dir/logs" "$data_dir/run")

ensure_apt_packages "${HS_APT_RUNTIME[@]}"
ensure_node
ensure_npm_deps
ensure_python_tools
ensure_dockerd "$data_dir/logs"
ensure_memory_merge
ensure_session_image
"$HS_ROOT/stack/build-app.sh"
# From here on everything writes into the data directory, and what it creates is private (the
# processes started below inherit this). Not earlier: the builds keep their usual modes.
umask 077
HACKSTREAM_PUBLIC_PORT="$public_port" ensure_client_repo "$data_dir"

# Secrets are generated once and kept (mode 600) in the data directory, never in the repository;
# an older data directory gets the ones it lacks.
secrets="$data_dir/secrets.env"
secrets_existed=""
if [ -f "$secrets" ]; then secrets_existed=1; else say "secrets: generating $secrets"; fi
random_secret() { head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | cut -c1-"$1"; }
add_secret() { # add_secret NAME VALUE: only when the file does not have it yet
  grep -q "^$1=" "$secrets" 2>/dev/null && return 0
  [ -z "$secrets_existed" ] || say "secrets: adding $1 to $secrets"
  (umask 077 && echo "$1=$2" >>"$secrets")
}
add_secret HACKSTREAM_JWT_SECRET "$(random_secret 48)"
add_secret HACKSTREAM_SESSION_TOKEN_SECRET "$(random_secret 48)"
add_secret HACKSTREAM_SECRET_KEY "$(random_secret 48)"
add_secret HACKSTREAM_ADMIN_PASSWORD "${HACKSTREAM_ADMIN_PASSWORD:-$(random_secret 20)}"
# Redis's two users (core/redis-acl.ts): the API's and the worker's.
add_secret REDIS_API_PASSWORD "$(random_secret 48)"
add_secret REDIS_WORKER_PASSWORD "$(random_secret 48)"
set -a
# shellcheck disable=SC1090
source "$secrets"
set +a

# Redis's users, from the passwords in the environment (not the command line): only their hashes
# go into the ACL file. Each process then gets its own user's URL, and never the other password.
node "$HS_ROOT/dist/scripts/redis-acl.js" --output "$data_dir/redis/users.acl"
# What ensure_component (stack/lib.sh) starts each component with, here and in the watchdog.
export HS_DATA_DIR="$data_dir" HS_REDIS_PORT="$redis_port" HS_TEMPORAL_PORT="$temporal_port" HS_UI_PORT="$ui_port" HS_PUBLIC_PORT="$public_port"
export HS_API_REDIS_URL="redis://hackstream-api:$REDIS_API_PASSWORD@127.0.0.1:$redis_port"
export HS_WORKER_REDIS_URL="redis://hackstream-worker:$REDIS_WORKER_PASSWORD@127.0.0.1:$redis_port"
unset REDIS_API_PASSWORD REDIS_WORKER_PASSWORD
ensure_component redis
ensure_component temporal
ensure_component traefik

export HACKSTREAM_DATA_DIR="$data_dir"
export HACKSTREAM_API_PORT="$api_port"
export HACKSTREAM_PUBLIC_PORT="$public_port"
export HACKSTREAM_TEMPORAL_ADDRESS="127.0.0.1:$temporal_port"
export HACKSTREAM_TEMPORAL_UI_URL="${HACKSTREAM_TEMPORAL_UI_URL:-http://127.0.0.1:$ui_port}"
# The worker's Temporal SDK metrics, where deploy/prometheus/prometheus.yml scrapes them.
export HACKSTREAM_TEMPORAL_METRICS_ADDRESS="${HACKSTREAM_TEMPORAL_METRICS_ADDRESS:-127.0.0.1:9466}"
export HACKSTREAM_ENV="${HACKSTREAM_ENV:-production}"

# A Redis just given new users leaves its running clients with stale credentials: start afresh.
if [ -n "${HS_REDIS_RESTARTED:-}" ]; then
  "$HS_ROOT/stack/service.sh" stop api "$data_dir"
  "$HS_ROOT/stack/service.sh" stop worker "$data_dir"
fi
ensure_component api
ensure_component worker
ensure_component node-gateway
ensure_watchdog "$data_dir"

ca="$data_dir/ca/ca.pem"
api_url="https://localhost:$public_port"
# Through the ingress, verifying its certificate against the HackStream CA the worker created.
wait_for 60 ready curl -fsS --cacert "$ca" "$api_url/ready" || {
  curl -sS --cacert "$ca" "$api_url/ready" || true
  die "the platform did not become ready; logs are in $data_dir/logs"
}

cat <<EOF

HackStream is up.
  API:          $api_url   (health: /health, readiness: /ready, contract: /v1/openapi.json, docs: /docs/)
  CA:           $ca   (trust it, or pin its fingerprint; also served at $api_url/ca.pem)
  Temporal UI:  http://127.0.0.1:$ui_port
  Node gateway: ${HACKSTREAM_NODE_GATEWAY_PORT:-7443}   (enrolled session nodes dial it; see README, "Edge nodes")
  Client:       $api_url/apt/   (signed apt repository of the hackstream client; see README)
  Admin:        ${HACKSTREAM_ADMIN_USERNAME:-admin} / $HACKSTREAM_ADMIN_PASSWORD   (initial password, kept in $secrets)
  Logs:         $data_dir/logs
  Stop:         stack/down.sh

Try it:
  curl -s --cacert $ca -X POST $api_url/v1/login -H 'content-type: application/json' \\
    -d '{"username":"${HACKSTREAM_ADMIN_USERNAME:-admin}","password":"<password>"}'
EOF
