#!/usr/bin/env python3
"""Writes N Stripe-signed webhook requests, one per line as `<Stripe-Signature>\t<body>`, for
bench/prebuilt.lua (bench/run.sh) and bench/signed.lua (bench/ingest.sh). Every body is exactly
`--size` bytes of JSON (default 1024) with a unique event id, so the router does the full durable
path for each; all are signed with the same timestamp (now), so the run must start within the
receiver's timestamp tolerance (the bench configs allow an hour).

Usage: gen_requests.py N SECRET OUT [--size BYTES]
"""
import hashlib, hmac, json, sys, time

args = sys.argv[1:]
size = 1024
if "--size" in args:
    i = args.index("--size")
    size = int(args[i + 1])
    del args[i:i + 2]
n, secret, out = int(args[0]), args[1], args[2]
ts = str(int(time.time()))
key = secret.encode()


def body_for(i: int) -> str:
    event = {"id": f"evt_bench_{ts}_{i:08d}", "type": "payment_intent.succeeded",
             "created": int(ts), "livemode": False,
             "data": {"object": {"id": f"pi_{i:08d}", "object": "payment_intent",
                                 "amount": 1000 + i % 100000, "currency": "usd", "pad": ""}}}
    bare = json.dumps(event, separators=(",", ":"))
    event["data"]["object"]["pad"] = "x" * max(0, size - len(bare))
    return json.dumps(event, separators=(",", ":"))


with open(out, "w") as f:
    for i in range(n):
        body = body_for(i)
        sig = hmac.new(key, f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
        f.write(f"t={ts},v1={sig}\t{body}\n")
