#!/usr/bin/env python3
"""Writes N Stripe-signed webhook requests (unique event ids, ~1 KiB JSON body), one per line as
`<Stripe-Signature>\t<body>`, for bench/signed.lua: every request is a new event, so the router
does the full durable path for each."""
import hashlib, hmac, json, sys, time

n, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
pad = "x" * 760
ts = str(int(time.time()))
with open(out, "w") as f:
    for i in range(n):
        body = json.dumps({"id": f"evt_bench_{ts}_{i}", "type": "payment_intent.succeeded",
                           "data": {"object": {"amount": 1000 + i, "currency": "usd", "pad": pad}}},
                          separators=(",", ":"))
        sig = hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
        f.write(f"t={ts},v1={sig}\t{body}\n")
