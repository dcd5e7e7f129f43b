#!/usr/bin/env bash
# SCIM load benchmark: one tenant loaded with BENCH_USERS users (default 50,000), then
# create / userName lookup / PATCH / deep-page throughput and latency, against
#   1. shopify-scim on SQLite,
#   2. shopify-scim on PostgreSQL (BENCH_PG_ADMIN_URL, default the local server),
#   3. scim2-server 0.8.3 (the Python reference server, in memory),
# all on this machine, one at a time. Prints JSON lines and a table with ratios.
# Usage: benches/scim.sh   (several minutes; run it on an otherwise idle machine)
set -euo pipefail
cd "$(dirname "$0")/.."

users=${BENCH_USERS:-50000}
pg_admin=${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
venv=${SCIM_CONFORMANCE_VENV:-.venv/conformance}
work=$(mktemp -d)
results="$work/results.jsonl"
server_pid=0
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet
cargo bench --bench scim_load --no-run --quiet
binary=target/release/shopify-scim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

run_ours() {
  local label=$1 database_url=$2 port token
  port=$(free_port)
  export DATABASE_URL="$database_url"
  token=$("$binary" token create --shop bench --label bench 2>/dev/null)
  SHOPIFY_SCIM_SERVER__LISTEN="127.0.0.1:$port" \
  SHOPIFY_SCIM_SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
  SHOPIFY_SCIM_SHOPIFY__API_KEY=bench SHOPIFY_SCIM_SHOPIFY__API_SECRET=bench \
  SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \
  SHOPIFY_SCIM_SCIM__RATE_LIMIT_PER_SECOND=1000000 SHOPIFY_SCIM_SCIM__RATE_LIMIT_BURST=1000000 \
  SHOPIFY_SCIM_LOG__FILTER=warn \
    "$binary" serve > "$work/$label.log" 2>&1 &
  server_pid=$!
  wait_for "http://127.0.0.1:$port/readyz"
  BENCH_URL="http://127.0.0.1:$port/scim/v2/bench" BENCH_TOKEN="$token" BENCH_LABEL="$label" \
    BENCH_USERS="$users" cargo bench --bench scim_load --quiet | tee -a "$results"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  unset DATABASE_URL
}

run_ours "shopify-scim (SQLite)" "sqlite://$work/bench.db"

pg_db="shopify_scim_bench_$(date +%s)"
psql "$pg_admin" -qc "create database $pg_db"
run_ours "shopify-scim (PostgreSQL)" "${pg_admin%/*}/$pg_db"
psql "$pg_admin" -qc "drop database $pg_db with (force)"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q scim2-server==0.8.3
port=$(free_port)
"$venv/bin/scim2-server" --port "$port" --bearer-token bench > "$work/scim2-server.log" 2>&1 &
server_pid=$!
wait_for "http://127.0.0.1:$port/v2/ServiceProviderConfig" || true
# The reference server scans every user for each query, so it gets fewer samples
# (BENCH_REF_SAMPLES, default 100); percentiles stay comparable, the run stays short.
BENCH_URL="http://127.0.0.1:$port/v2" BENCH_TOKEN=bench BENCH_LABEL="scim2-server 0.8.3" \
  BENCH_SAMPLES="${BENCH_REF_SAMPLES:-100}" BENCH_USERS="$users" cargo bench --bench scim_load --quiet | tee -a "$results"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
ref = {r["operation"]: r for r in rows if r["server"].startswith("scim2-server")}
print(f"\n{'server':28} {'operation':28} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'x req/s vs ref':>15}")
for r in rows:
    base = ref.get(r["operation"])
    ratio = f"{r['per_second'] / base['per_second']:.1f}x" if base and base["per_second"] else "-"
    print(f"{r['server']:28} {r['operation']:28} {r['per_second']:>9.0f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} {ratio:>15}")
PY
