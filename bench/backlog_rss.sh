#!/usr/bin/env bash
# Memory of hookroute (issue 6 target: RSS < 150 MiB with a 100k-event backlog). Starts the
# release binary with the bench config of bench/run.sh's `ingest` row (one target that never
# answers, concurrency 1: delivery paused, every job stays pending), reads VmRSS at idle, then
# posts BENCH_BACKLOG (100000) unique signed 1 KiB events with wrk (64 connections, server on
# core 0, wrk on core 1), checks the backlog through the admin API, and reads VmRSS and VmHWM
# (peak) again.
# Usage: bench/backlog_rss.sh   (BENCH_CACHE_SIZE=64MiB sets storage.cache_size; default: the built-in default)
set -euo pipefail
cd "$(dirname "$0")/.."
target_backlog=${BENCH_BACKLOG:-100000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked --quiet --bin hookroute --example bench_sink
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$work"' EXIT
secret=whsec_bench_secret
python3 bench/gen_requests.py "$target_backlog" "$secret" "$work/reqs.tsv"
cat > "$work/routes.yaml" <<YAML
server: { listen: "127.0.0.1:18080", workers: 1 }
storage: { data_dir: "$work/data"${BENCH_CACHE_SIZE:+, cache_size: $BENCH_CACHE_SIZE} }
admin: { listen: "127.0.0.1:18091" }
targets:
  sink: { url: "http://127.0.0.1:18090/hook", timeout: 1h, concurrency: 1 }
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
sleep 1
rss() { awk -v k="$1:" '$1 == k {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status"; }
echo "idle: RSS $(rss VmRSS)"
sent=0
while (( sent < target_backlog )); do
  secs=$(( (target_backlog - sent) / 2000 + 1 )); (( secs > 20 )) && secs=20
  line=$(BENCH_REQS=$work/reqs.tsv BENCH_OFFSET=$sent taskset -c 1 wrk -t1 -c64 -d"${secs}s" \
    -s bench/prebuilt.lua http://127.0.0.1:18080 | grep '^BENCH')
  n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  sent=$(( sent + n ))
  echo "posted $sent"
done
sleep 2
read -r events pending < <(python3 bench/backlog.py http://127.0.0.1:18091)
echo "backlog: $events events, $pending pending deliveries (posted $sent; beyond $target_backlog they repeat and are duplicates)"
echo "with backlog: RSS $(rss VmRSS), peak $(rss VmHWM); store on disk $(du -sh "$work/data" | cut -f1)"
