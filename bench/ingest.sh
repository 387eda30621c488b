#!/usr/bin/env bash
# Durable ingest rate of the release binary, against a baseline from the same run: the same
# server answering 404 on an unknown path (HTTP alone, no verify/parse/store).
# Usage: bench/ingest.sh [connections=64] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-64}; secs=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet
work=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
secret=whsec_bench_secret
cat > "$work/routes.yaml" <<YAML
server: { listen: "127.0.0.1:18080" }
storage: { data_dir: "$work/data" }
admin: { listen: "off" }
targets:
  sink: { url: "http://127.0.0.1:9/" }
endpoints:
  - path: /stripe
    verify: { provider: stripe, secrets: [{ env: BENCH_STRIPE_SECRET }] }
    rules:
      - match: { type: "payment_intent.*" }
        forward: [sink]
YAML
# Enough unique events for the run (wrk cycles within each thread's half).
python3 bench/gen_requests.py 400000 "$secret" "$work/reqs.tsv"
# Server on core 0, load generator on core 1.
BENCH_STRIPE_SECRET=$secret HOOKROUTE_LOG=error taskset -c 0 target/release/hookroute serve --config "$work/routes.yaml" &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18080/ && break; sleep 0.1; done
run() { HOOKROUTE_BENCH_REQS="$work/reqs.tsv" HOOKROUTE_BENCH_PATH="$1" taskset -c 1 wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/signed.lua http://127.0.0.1:18080 ; }
echo "== baseline: unknown path (404), same server"; run /nope | tee "$work/base.txt"
echo "== durable ingest: verify + parse + route + sled transaction + fdatasync before 200"; run /stripe | tee "$work/ingest.txt"
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
echo "ratio ingest/baseline: $(python3 -c "print(round($(rate "$work/ingest.txt")/$(rate "$work/base.txt"),3))")"
