#!/usr/bin/env bash
# Profiles hookroute's durable ingest (the `ingest` row of bench/run.sh: delivery paused by a
# hanging target) under wrk at BENCH_CONNECTIONS (64) with `perf record -g` on the server, and
# prints the top of `perf report`. Needs perf (apt-get install linux-perf).
# Usage: bench/profile_ingest.sh [seconds=10]   (perf.data goes to bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; c=${BENCH_CONNECTIONS:-64}
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked --quiet --bin hookroute --example bench_sink
work=$(mktemp -d); out=bench/results; mkdir -p "$out"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$work"' EXIT
secret=whsec_bench_secret
python3 bench/gen_requests.py 200000 "$secret" "$work/reqs.tsv"
cat > "$work/routes.yaml" <<YAML
server: { listen: "127.0.0.1:18080", workers: 1 }
storage: { data_dir: "$work/data" }
admin: { listen: "127.0.0.1:18091" }
targets:
  sink: { url: "http://127.0.0.1:18090/hook", timeout: 1h }
endpoints:
  - path: /stripe
    verify: { provider: stripe, secrets: [{ env: BENCH_STRIPE_SECRET }], timestamp: { tolerance_seconds: 3600 } }
    rules:
      - match: { type: "payment_intent.*" }
        forward: [sink]
YAML
taskset -c 1 target/release/examples/bench_sink 127.0.0.1:18090 --hang & pids+=($!)
BENCH_STRIPE_SECRET=$secret HOOKROUTE_LOG=error taskset -c 0 target/release/hookroute serve --config "$work/routes.yaml" & pids+=($!)
server=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18080/ && break; sleep 0.05; done
perf record -g --call-graph dwarf,16384 -F 499 -o "$out/perf.data" -p "$server" -- sleep "$secs" 2>/dev/null &
perfpid=$!
BENCH_REQS=$work/reqs.tsv taskset -c 1 wrk -t1 -c"$c" -d"${secs}s" -s bench/prebuilt.lua http://127.0.0.1:18080 | grep BENCH
wait "$perfpid"
perf report -i "$out/perf.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null | grep -v '^$' | head -${BENCH_REPORT_LINES:-120}
