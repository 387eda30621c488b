#!/usr/bin/env python3
"""Prints the delivery backlog of a running hookroute, read from its admin API: pages through
`GET /events` (1000 a page) and sums each event's pending deliveries. Prints `events pending`.

Usage: backlog.py http://127.0.0.1:18091
"""
import json, sys, urllib.request

base = sys.argv[1].rstrip("/")
after, events, pending = None, 0, 0
while True:
    url = f"{base}/events?limit=1000" + (f"&after={after}" if after is not None else "")
    with urllib.request.urlopen(url, timeout=60) as resp:
        page = json.load(resp)
    if not page:
        break
    events += len(page)
    pending += sum(e["deliveries"]["pending"] for e in page)
    after = page[-1]["seq"]
print(events, pending)
