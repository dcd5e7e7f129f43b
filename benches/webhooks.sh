#!/usr/bin/env bash
# Webhook acknowledgement benchmark: a burst of BENCH_DELIVERIES signed Shopify deliveries
# (default 5,000; 4 in 5 customers/update, 1 in 5 app/scopes_update, 1 in 20 sent twice with
# the same webhook id), BENCH_CONCURRENCY in flight (default 64), against
#   1. shopify-scim on SQLite,
#   2. shopify-scim on PostgreSQL (BENCH_PG_ADMIN_URL, default the local server),
# one at a time on this machine. Then it waits for the background processor and checks the
# inbox: none lost, none stored or processed twice. Prints JSON lines and a table; exits
# non-zero when a check fails.
# Usage: benches/webhooks.sh   (a few minutes after the build; run it on an idle machine)
set -euo pipefail
cd "$(dirname "$0")/.."

deliveries=${BENCH_DELIVERIES:-5000}
concurrency=${BENCH_CONCURRENCY:-64}
pg_admin=${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_host=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname)' "$pg_admin")
pg_port=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 5432)' "$pg_admin")
shop=bench.myshopify.com
secret=bench-webhook-secret
work=$(mktemp -d)
results="$work/results.jsonl"
server_pid=0
pg_db=""
failed=0
cleanup() {
  if [ "$server_pid" -ne 0 ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -n "$pg_db" ] && psql "$pg_admin" -qc "drop database if exists $pg_db with (force)" || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet
cargo bench --bench webhook_burst --no-run --quiet
binary=target/release/shopify-scim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

run_ours() {
  local label=$1 database_url=$2 port
  port=$(free_port)
  export DATABASE_URL="$database_url"
  # Creates the shop ("not installed"), so app/scopes_update has a shop to update.
  "$binary" token create --shop "$shop" --label bench > /dev/null 2>&1
  SHOPIFY_SCIM_SERVER__LISTEN="127.0.0.1:$port" \
  SHOPIFY_SCIM_SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
  SHOPIFY_SCIM_SHOPIFY__API_KEY=bench SHOPIFY_SCIM_SHOPIFY__API_SECRET="$secret" \
  SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \
  SHOPIFY_SCIM_LOG__FILTER=warn \
    "$binary" serve > "$work/$label.log" 2>&1 &
  server_pid=$!
  wait_for "http://127.0.0.1:$port/readyz"
  BENCH_URL="http://127.0.0.1:$port" BENCH_SECRET="$secret" BENCH_SHOP="$shop" \
    BENCH_LABEL="$label" BENCH_DELIVERIES="$deliveries" BENCH_CONCURRENCY="$concurrency" \
    cargo bench --bench webhook_burst --quiet | tee -a "$results" || failed=1
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  server_pid=0
  unset DATABASE_URL
}

run_ours "shopify-scim (SQLite)" "sqlite://$work/bench.db"

pg_answers() { pg_isready -h "$pg_host" -p "$pg_port" -q 2>/dev/null; }
if ! pg_answers; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
fi
pg_db="shopify_scim_bench_$(date +%s)"
psql "$pg_admin" -qc "create database $pg_db"
run_ours "shopify-scim (PostgreSQL)" "${pg_admin%/*}/$pg_db"
psql "$pg_admin" -qc "drop database $pg_db with (force)"
pg_db=""

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
head = ("backend", "deliveries", "duplicates", "req/s", "p50 ms", "p90 ms", "p99 ms",
        "max ms", "backlog s", "lost", "stored twice", "processed twice")
print("\n| " + " | ".join(head) + " |")
print("|---|" + "---:|" * (len(head) - 1))
for r in rows:
    cells = (r["server"], f"{r['deliveries']:,}", f"{r['duplicates']:,}", f"{r['per_second']:,.0f}",
             f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['max_ms']:.2f}",
             f"{r['backlog_after_burst_s']:.2f}", r["lost"], r["stored_twice"], r["processed_twice"])
    print("| " + " | ".join(str(c) for c in cells) + " |")
PY
if [ "$failed" -ne 0 ]; then
  echo "a check failed; see the FAIL lines above" >&2
fi
exit "$failed"
