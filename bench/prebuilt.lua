-- wrk script for bench/run.sh: every request is formatted once, in init(), from the pre-signed
-- pool (BENCH_REQS, lines of `<Stripe-Signature>\t<body>`), so request() only hands back the next
-- string: wrk's per-request Lua cost is one table lookup, which keeps the bare row from being
-- capped by the load generator. Run with one thread (-t1): it takes the pool in order, so no
-- event id repeats until the pool is exhausted (then it wraps, and done() says so).
-- done() prints one machine-readable line for run.sh.

function init(args)
  local path = os.getenv("BENCH_PATH") or "/stripe"
  local host = os.getenv("BENCH_HOST") or "127.0.0.1"
  reqs = {}
  for line in io.lines(os.getenv("BENCH_REQS")) do
    local sig, body = line:match("^([^\t]*)\t(.*)$")
    reqs[#reqs + 1] = wrk.format("POST", path, {
      ["Host"] = host,
      ["Stripe-Signature"] = sig,
      ["Content-Type"] = "application/json",
    }, body)
  end
  n = #reqs
  -- BENCH_OFFSET: start further into the pool (bench/backlog_rss.sh loads in several runs).
  i = tonumber(os.getenv("BENCH_OFFSET") or "0") % n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
