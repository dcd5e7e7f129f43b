#!/usr/bin/env bash
# SCIM conformance: starts the built service on a fresh SQLite database, creates a tenant
# token, and runs scim2-tester (pinned versions, in a venv) against that tenant. The tester
# sends its ~830 requests back to back (about 170 a second here), faster than the default
# per-token limit, so this run lifts the limit: rate limiting has its own tests.
# Usage: tests/conformance/run.sh [path-to-shopify-scim-binary]
set -euo pipefail
cd "$(dirname "$0")/../.."

binary=${1:-target/debug/shopify-scim}
venv=${SCIM_CONFORMANCE_VENV:-.venv/conformance}
work=$(mktemp -d)
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q scim2-cli==0.6.0 scim2-tester==0.5.2

export DATABASE_URL="sqlite://$work/conformance.db"
token=$("$binary" token create --shop conformance --label scim2-tester 2>/dev/null)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SHOPIFY_SCIM_SERVER__LISTEN="127.0.0.1:$port" \
SHOPIFY_SCIM_SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
SHOPIFY_SCIM_SHOPIFY__API_KEY=conformance \
SHOPIFY_SCIM_SHOPIFY__API_SECRET=conformance-secret \
SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \
SHOPIFY_SCIM_LOG__FILTER=warn \
SHOPIFY_SCIM_SCIM__RATE_LIMIT_PER_SECOND=100000 \
SHOPIFY_SCIM_SCIM__RATE_LIMIT_BURST=100000 \
  "$binary" serve > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

SCIM_URL="http://127.0.0.1:$port/scim/v2/conformance" SCIM_TOKEN="$token" \
  "$venv/bin/python" tests/conformance/run_tester.py "${SCIM_TESTER_TAGS:-}"
