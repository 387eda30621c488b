#!/usr/bin/env bash
# The one benchmark command (issue 6): in one run on one machine, loads four servers with the same
# load generator (wrk, one thread, every request pre-formatted: bench/prebuilt.lua) and the same
# pool of 1 KiB Stripe-signed JSON requests (unique event ids), at 16, 64 and 256 connections, and
# prints a markdown table of req/s, p50, p99, errors and each row's ratio to the bare row:
#
#   bare      examples/bench_bare.rs: actix-web, one worker, reads the body, answers 200
#   ingest    hookroute serve: /stripe, one rule, one target; verify -> extract -> route -> sled
#             transaction -> group-commit fdatasync -> 200. The target hangs (bench_sink --hang),
#             so delivery is paused: 8 attempts (its default concurrency) in flight, the rest pending
#   e2e       the same, with the target a counting loopback sink (bench_sink): ingest and delivery
#             together; reports delivered events/s during the load and the backlog at the end
#             (pending deliveries summed from the admin API's GET /events)
#   pg-ingest, pg-e2e (only when named in BENCH_ROWS): the ingest and e2e rows with
#             `storage.backend: postgres`, on a PostgreSQL 15 this script starts in a temp dir
#             (initdb/pg_ctl from /usr/lib/postgresql/*/bin, fsync on, run as the postgres user,
#             pinned to the server core too), a fresh database per cell
#   fastapi   bench/fastapi_seed.py: seed 004's Stripe handler in FastAPI + uvicorn, 1 worker
#             (HMAC verify, in-memory dedup, nothing persisted)
#
# Pinning: every server (hookroute with its dispatcher and commit thread, bare, uvicorn) runs on
# core BENCH_SERVER_CORE (0); wrk, and the e2e sink, on BENCH_LOAD_CORE (1). hookroute is given
# `server.workers: 1`, like the others. Each cell (row x connections) starts its server afresh on
# a new data dir, so no cell sees another's events or dedup entries.
#
# Usage: bench/run.sh
#   BENCH_SECONDS=10        seconds per cell (BENCH_QUICK=1: 2)
#   BENCH_CONNECTIONS="16 64 256"
#   BENCH_ROWS="bare ingest e2e fastapi"
#   BENCH_POOL=250000       pre-signed requests (wrk wraps around after that: duplicates)
#   BENCH_SERVER_CORE=0 BENCH_LOAD_CORE=1
#   BENCH_HOOKROUTE=path    another hookroute binary for the ingest and e2e rows (A/B of a change)
#   BENCH_CACHE_SIZE=64MiB  storage.cache_size of the hookroute rows (default: the built-in one)
# Raw wrk outputs and the table go to bench/results/<UTC time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_SECONDS:-10}
[[ ${BENCH_QUICK:-0} == 1 ]] && secs=${BENCH_SECONDS:-2}
conns=${BENCH_CONNECTIONS:-16 64 256}
rows=${BENCH_ROWS:-bare ingest e2e fastapi}
pool=${BENCH_POOL:-250000}
[[ ${BENCH_QUICK:-0} == 1 ]] && pool=${BENCH_POOL:-60000}
server_core=${BENCH_SERVER_CORE:-0}
load_core=${BENCH_LOAD_CORE:-1}
port=18080 admin_port=18091 sink_port=18090 pg_port=18092
secret=whsec_bench_secret
hookroute=${BENCH_HOOKROUTE:-target/release/hookroute}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux; }
cargo build --release --locked --quiet --bin hookroute --example bench_bare --example bench_sink
if [[ $rows == *fastapi* && ! -x bench/.venv/bin/uvicorn ]]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q -r bench/requirements-fastapi.txt
fi

out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
work=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
pg_dir=""
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_stop() { [[ -n $pg_dir ]] && as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true; }
trap 'stop_all; pg_stop; rm -rf "$work"' EXIT
if [[ $rows == *pg-* ]]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)
  [[ -x $pg_bin/initdb ]] || { apt-get update -qq && apt-get install -y -qq postgresql; pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1); }
  pg_dir=$work/pg; mkdir -p "$pg_dir"; [[ $(id -u) == 0 ]] && chown -R postgres: "$work"
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres --no-sync >/dev/null
  as_postgres taskset -c "$server_core" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on" start >/dev/null
fi

python3 bench/gen_requests.py "$pool" "$secret" "$work/reqs.tsv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pool: $pool requests of $(($(head -1 "$work/reqs.tsv" | cut -f2 | wc -c) - 1)) bytes; $secs s per cell; server on core $server_core, wrk on core $load_core" | tee "$out/run.txt"

wait_http() { # url: until it answers at all (any status)
  for _ in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "no answer from $1" >&2; return 1
}

hookroute_config() { # dir target_timeout [postgres]
  local storage="{ data_dir: \"$1/data\"${BENCH_CACHE_SIZE:+, cache_size: $BENCH_CACHE_SIZE} }"
  [[ ${3:-} == postgres ]] && storage="{ backend: postgres, url: { env: BENCH_PG_URL } }"
  cat > "$1/routes.yaml" <<YAML
server: { listen: "127.0.0.1:$port", workers: 1 }
storage: $storage
admin: { listen: "127.0.0.1:$admin_port" }
targets:
  sink:
    url: "http://127.0.0.1:$sink_port/hook"
    timeout: $2
    retry: { max_attempts: 3, initial_delay: 1h }
endpoints:
  - path: /stripe
    verify:
      provider: stripe
      secrets: [{ env: BENCH_STRIPE_SECRET }]
      timestamp: { tolerance_seconds: 3600 }
    rules:
      - match: { type: "payment_intent.*" }
        forward: [sink]
YAML
}

start_server() { # row dir
  local row=$1 dir=$2
  case $row in
    bare)
      taskset -c "$server_core" target/release/examples/bench_bare "127.0.0.1:$port" & pids+=($!) ;;
    ingest | e2e | pg-ingest | pg-e2e)
      local backend=sled db=""
      if [[ $row == pg-* ]]; then
        backend=postgres db="bench_${row//-/_}_$c"
        as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE $db" >/dev/null
      fi
      if [[ $row == *ingest ]]; then
        taskset -c "$load_core" target/release/examples/bench_sink "127.0.0.1:$sink_port" --hang & pids+=($!)
        hookroute_config "$dir" 1h "$backend"
      else
        taskset -c "$load_core" target/release/examples/bench_sink "127.0.0.1:$sink_port" & pids+=($!)
        hookroute_config "$dir" 10s "$backend"
      fi
      wait_http "http://127.0.0.1:$sink_port/count"
      BENCH_PG_URL="postgres://postgres@127.0.0.1:$pg_port/$db" \
      BENCH_STRIPE_SECRET=$secret HOOKROUTE_LOG=error taskset -c "$server_core" \
        "$hookroute" serve --config "$dir/routes.yaml" & pids+=($!) ;;
    fastapi)
      (cd bench && BENCH_STRIPE_SECRET=$secret BENCH_TOLERANCE_SECONDS=3600 exec taskset -c "$server_core" \
        .venv/bin/uvicorn --workers 1 --log-level error --no-access-log --host 127.0.0.1 --port "$port" fastapi_seed:app) & pids+=($!) ;;
  esac
  wait_http "http://127.0.0.1:$port/"
}

sink_count() { curl -s "http://127.0.0.1:$sink_port/count"; }

results=$work/results.tsv
for row in $rows; do
  for c in $conns; do
    dir=$work/$row-$c; mkdir -p "$dir"
    start_server "$row" "$dir"
    before=0; [[ $row == *e2e ]] && before=$(sink_count)
    BENCH_REQS=$work/reqs.tsv BENCH_PATH=/stripe taskset -c "$load_core" \
      wrk -t1 -c"$c" -d"${secs}s" --timeout 10s -s bench/prebuilt.lua "http://127.0.0.1:$port" > "$out/$row-$c.txt"
    extra="-"
    if [[ $row == *e2e ]]; then
      after=$(sink_count)
      read -r _events pending < <(python3 bench/backlog.py "http://127.0.0.1:$admin_port")
      extra="$(python3 -c "print(f'{($after-$before)/$secs:,.0f} delivered/s; backlog {$pending}')")"
    fi
    line=$(grep '^BENCH ' "$out/$row-$c.txt")
    echo "$row $c $line extra=$extra" | tee -a "$out/run.txt"
    printf '%s\t%s\t%s\t%s\n' "$row" "$c" "$line" "$extra" >> "$results"
    stop_all
    rm -rf "$dir"
  done
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$results" "$pool" "$load_before" "$load_after" > "$out/table.md" <<'PY'
import sys
rows, pool = [], int(sys.argv[2])
for line in open(sys.argv[1]):
    row, conns, bench, extra = line.rstrip("\n").split("\t")
    f = dict(kv.split("=") for kv in bench.split()[1:])
    rows.append((row, int(conns), {k: int(v) for k, v in f.items()}, extra))
bare = {c: f["requests"] / f["duration_us"] * 1e6 for r, c, f, _ in rows if r == "bare"}
print("| row | conns | req/s | p50 | p99 | errors | ratio to bare | delivery |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
wrapped = False
for row, c, f, extra in rows:
    rate = f["requests"] / f["duration_us"] * 1e6
    ratio = f"{rate / bare[c]:.2f}" if c in bare else "-"
    errors = f["non2xx"] + f["socket_errors"]
    wrapped |= f["requests"] > pool and row != "bare"
    print(f"| {row} | {c} | {rate:,.0f} | {f['p50_us']/1000:.2f} ms | {f['p99_us']/1000:.2f} ms "
          f"| {errors} | {ratio} | {extra} |")
print(f"\nLoad average (1, 5, 15 min) before the run: {sys.argv[3]}; after: {sys.argv[4]}. "
      "Above ~0.5 other work shared the cores: figures are noisy.")
if wrapped:
    print(f"\nNote: some cell sent more than the pool of {pool} requests; the rest were duplicates. "
          "Raise BENCH_POOL.")
PY
echo
cat "$out/table.md"
echo "(raw wrk outputs in $out)"
