#!/usr/bin/env bash
# What test/integration/platform-host-reboot.test.ts runs in its virtual machine, as root, boot
# after boot on the same disk: the whole platform as the quick start brings it up (stack/up.sh),
# used through its ingress as a user would, and what the test asserts reported on the console
# (one line: HS-VM-REPORT and JSON, test/support/test-vm.ts).
#
#   platform-reboot-guest.sh before          up, a persistent Firefox started, MARK written into its profile
#   platform-reboot-guest.sh after SESSION   up again; what became of SESSION; the next persistent Firefox
#
# The environment: MARK (the text written and looked for), MARK_FILE (where, in the session's
# container: in its app's profile), HS_VM_DISK (where the machine's disk is mounted: the Docker
# engine's store, filled by the test before the first boot, is there).
set -euo pipefail
phase=${1:?before or after}
started=$(date +%s)
log() { echo "[guest $(($(date +%s) - started))s] $*" >&2; }

# The engine's store on the disk itself: its overlay2 driver cannot keep its layers on the
# machine's root, an overlay itself.
mkdir -p /var/lib/docker
mount --bind "${HS_VM_DISK:?}/docker" /var/lib/docker
ip link set lo up

export HACKSTREAM_DATA_DIR=/var/lib/hackstream-vm HACKSTREAM_POOL=off
# Emulated, everything takes many times as long as on a host: a session's start too.
export HACKSTREAM_CREATE_TIMEOUT_SECONDS=600 HACKSTREAM_READY_TIMEOUT_SECONDS=600
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
log "stack/up.sh"
if ! bash stack/up.sh 2>&1 | while IFS= read -r line; do log "$line"; done; then
  log "stack/up.sh failed; the last lines of each log:"
  tail -n 15 "$HACKSTREAM_DATA_DIR"/logs/*.log
  exit 1
fi

api=https://localhost:8443
ca=$HACKSTREAM_DATA_DIR/ca/ca.pem
mark_file=${MARK_FILE:?}
# call METHOD PATH [JSON]: the response's body, then its status on a line of its own.
call() {
  curl -sS -m 600 --cacert "$ca" -X "$1" -H "authorization: Bearer ${token:-}" -H 'content-type: application/json' \
    ${3:+-d "$3"} -w '\n%{http_code}\n' "$api$2"
}
body() { sed '$d'; }
status() { tail -n1; }
password=$(sed -n 's/^HACKSTREAM_ADMIN_PASSWORD=//p' "$HACKSTREAM_DATA_DIR/secrets.env")
token=$(call POST /v1/login "$(jq -nc --arg p "$password" '{username: "admin", password: $p}')" | body | jq -r .access_token)
log "logged in"

container_of() { docker ps -aq --filter "name=^hackstream-session-$1\$"; }
persistent_firefox() {
  local created
  created=$(call POST /v1/sessions '{"app":"firefox","profile":"persist"}')
  log "persistent Firefox: $(echo "$created" | status) $(echo "$created" | body | jq -c '{session_id, state, error}')"
  echo "$created" | body | jq -r '.session_id // empty'
}
state_of() { call GET "/v1/sessions/$1" | body | jq -c '{state, reason}'; }
# await_state SESSION STATES SECONDS: its state and reason once the state is one of STATES (a|b),
# or as last seen when SECONDS have passed.
await_state() {
  local seen
  for _ in $(seq 1 "$3"); do
    seen=$(state_of "$1")
    [[ $(jq -r .state <<<"$seen") =~ ^($2)$ ]] && break
    sleep 1
  done
  log "session $1: $seen"
  echo "$seen"
}
report() { echo "HS-VM-REPORT $1"; }

case "$phase" in
  before)
    session=$(persistent_firefox)
    container=$(container_of "$session")
    docker exec "$container" sh -c "echo \"\$0\" > $mark_file && sync" "${MARK:?}"
    log "mark written"
    report "$(jq -nc --arg s "$session" --argjson st "$(state_of "$session")" \
      --arg m "$(docker exec "$container" cat "$mark_file")" '{session: $s, state: $st.state, mark: $m}')"
    ;;
  after)
    old=${2:?the session of the boot before}
    old_state=$(await_state "$old" 'stopped|failed' 300)
    old_containers=$(container_of "$old" | wc -l)
    # The reconciler's view of the profiles: each session's mount point (activities/profile-volumes.ts).
    mounts_left=$(ls "$HACKSTREAM_DATA_DIR/profiles/mounts" 2>/dev/null | jq -Rsc 'split("\n") | map(select(. != ""))')
    next=$(persistent_firefox)
    mark=$(docker exec "$(container_of "$next")" cat "$mark_file" || true)
    stopped=$(call POST "/v1/sessions/$next/stop" | status)
    next_state=$(await_state "$next" stopped 120)
    report "$(jq -nc --argjson old "$old_state" --argjson oc "$old_containers" --argjson ml "$mounts_left" \
      --arg next "$next" --arg mark "$mark" --arg stopped "$stopped" --argjson ns "$next_state" \
      '{old: ($old + {containers: $oc}), mountsLeft: $ml, next: {created: ($next != ""), mark: $mark, stopStatus: $stopped, state: $ns.state}}')"
    ;;
  *) echo "unknown phase: $phase" >&2; exit 2 ;;
esac
