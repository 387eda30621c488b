-- wrk script: each thread posts its own slice of the pre-signed requests, so no two requests
-- carry the same event id.
local reqs = {}
for line in io.lines(os.getenv("HOOKROUTE_BENCH_REQS")) do
  local sig, body = line:match("^([^\t]*)\t(.*)$")
  table.insert(reqs, {sig, body})
end
local threads = {}
local counter = 0

function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = #reqs
  local per = math.floor(n / 2)
  start = id * per + 1
  stop = start + per - 1
  i = start
  path = os.getenv("HOOKROUTE_BENCH_PATH") or "/stripe"
end

function request()
  local r = reqs[i]
  i = i + 1
  if i > stop then i = start end
  return wrk.format("POST", path, {["Stripe-Signature"] = r[1], ["Content-Type"] = "application/json"}, r[2])
end
