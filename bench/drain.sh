#!/usr/bin/env bash
# Delivery under a backlog (storage seam issue): fills a store with BENCH_BACKLOG (100,000)
# pending 1 KiB events for one target (examples/bench_fill.rs, straight through the store), starts
# hookroute on it with the target a fast counting loopback sink (examples/bench_sink.rs), and
# measures while the backlog drains:
#   - drain rate: deliveries/s from start-up until the sink has every event;
#   - /readyz latency: a request every 20 ms on the admin listener, p50 / p99 / max;
#   - reload apply time: routes.yaml rewritten with a changed target timeout every 2 s, the time
#     from the write until /readyz reports the new reload (applied count +1), p50 / max.
# hookroute runs on core BENCH_SERVER_CORE (0), the sink on BENCH_LOAD_CORE (1), as bench/run.sh.
#
# Usage: bench/drain.sh
#   BENCH_BACKLOG=100000
#   BENCH_HOOKROUTE=path   another hookroute binary (A/B of a change; it must read the store
#                          bench_fill writes, or migrate it at open)
#   BENCH_FILL=path        the bench_fill built with that binary's store (A/B across layouts)
#   BENCH_NO_BUILD=1       use the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."

n=${BENCH_BACKLOG:-100000}
server_core=${BENCH_SERVER_CORE:-0}
load_core=${BENCH_LOAD_CORE:-1}
port=18180 admin_port=18191 sink_port=18190
hookroute=${BENCH_HOOKROUTE:-target/release/hookroute}
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux; }
[[ ${BENCH_NO_BUILD:-0} == 1 ]] ||
  cargo build --release --locked --quiet --bin hookroute --example bench_sink --example bench_fill

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT

write_config() { # timeout
  cat > "$work/routes.yaml.tmp" <<YAML
server: { listen: "127.0.0.1:$port", workers: 1 }
storage: { data_dir: "$work/data" }
admin: { listen: "127.0.0.1:$admin_port" }
targets:
  sink: { url: "http://127.0.0.1:$sink_port/hook", timeout: $1, retry: { max_attempts: 3, initial_delay: 1h } }
endpoints:
  - path: /stripe
    name: stripe
    verify: { provider: stripe, secrets: [{ env: BENCH_STRIPE_SECRET }] }
    rules: [{ match: { type: "payment_intent.*" }, forward: [sink] }]
YAML
  mv "$work/routes.yaml.tmp" "$work/routes.yaml"
}

${BENCH_FILL:-target/release/examples/bench_fill} "$work/data" "$n" >/dev/null
write_config 10s
taskset -c "$load_core" target/release/examples/bench_sink "127.0.0.1:$sink_port" & pids+=($!)
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$sink_port/count" && break; sleep 0.05; done
started=$(date +%s.%N)
BENCH_STRIPE_SECRET=whsec_x HOOKROUTE_LOG=error taskset -c "$server_core" \
  "$hookroute" serve --config "$work/routes.yaml" & pids+=($!)

python3 - "$n" "$sink_port" "$admin_port" "$started" "$work" <<'PY'
import json, os, sys, time, urllib.error, urllib.request
n, sink, admin, started, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]

def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()

def readyz():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

def applied(body):
    return (body.get("config") or {}).get("reloads_applied", 0)

while True:
    try:
        readyz(); break
    except Exception:
        time.sleep(0.02)
lat, reloads = [], []
timeout_s, next_reload = 10, time.time() + 2
pending_reload = None
while True:
    count = int(get(f"http://127.0.0.1:{sink}/count"))
    if count >= n:
        break
    t0 = time.perf_counter()
    status, body = readyz()
    lat.append(time.perf_counter() - t0)
    if pending_reload and applied(body) > pending_reload[1]:
        reloads.append(time.time() - pending_reload[0])
        pending_reload = None
    if pending_reload is None and time.time() >= next_reload:
        timeout_s = 11 if timeout_s == 10 else 10
        before = applied(body)
        text = open(f"{work}/routes.yaml").read().replace(f"timeout: {21 - timeout_s}s", f"timeout: {timeout_s}s")
        open(f"{work}/routes.yaml.tmp", "w").write(text)
        os.replace(f"{work}/routes.yaml.tmp", f"{work}/routes.yaml")
        pending_reload = (time.time(), before)
        next_reload = time.time() + 2
    if time.time() - started > 600:
        print("gave up after 600 s", file=sys.stderr); break
    time.sleep(0.02)
elapsed = time.time() - started
lat.sort()
pct = lambda xs, p: xs[min(len(xs) - 1, int(len(xs) * p))] * 1000
print(f"drained {n} in {elapsed:.1f} s: {n / elapsed:,.0f} deliveries/s (from start-up, store open included)")
print(f"/readyz during the drain: {len(lat)} requests, p50 {pct(lat, .5):.2f} ms, p99 {pct(lat, .99):.2f} ms, max {lat[-1]*1000:.2f} ms")
if reloads:
    reloads.sort()
    print(f"reload apply (write -> /readyz shows it): {len(reloads)} reloads, p50 {pct(reloads, .5):.0f} ms, max {reloads[-1]*1000:.0f} ms")
else:
    print("reload apply: no reload seen during the drain")
PY
