"""The FastAPI row of bench/run.sh: seed 004's Stripe webhook handler written the way a careful
user would write it by hand, for comparison with hookroute. It verifies `Stripe-Signature`
(`t=<unix>,v1=<hex>`, HMAC-SHA256 of `<t>.<raw body>`, constant-time compare, any of several
`v1`s, timestamp tolerance), parses the JSON, deduplicates on the event id in memory and answers
200 with JSON. It does not persist anything: a crash loses every event it acknowledged.

Run: BENCH_STRIPE_SECRET=... uvicorn --workers 1 fastapi_seed:app (bench/run.sh does this).
"""
import hashlib
import hmac
import json
import os
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SECRET = os.environ["BENCH_STRIPE_SECRET"].encode()
TOLERANCE = int(os.environ.get("BENCH_TOLERANCE_SECONDS", "300"))

app = FastAPI()
seen: dict[str, float] = {}


def refuse(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def verify(header: str, body: bytes) -> str | None:
    """None when the signature is valid, else the reason."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return "malformed Stripe-Signature"
    try:
        if abs(time.time() - int(timestamp)) > TOLERANCE:
            return "timestamp outside the tolerance"
    except ValueError:
        return "malformed timestamp"
    expected = hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if any(hmac.compare_digest(expected, s) for s in signatures):
        return None
    return "no signature matches"


@app.post("/stripe")
async def stripe_webhook(request: Request):
    body = await request.body()
    header = request.headers.get("stripe-signature")
    if header is None:
        return refuse(401, "missing_signature", "no Stripe-Signature header")
    reason = verify(header, body)
    if reason is not None:
        return refuse(401, "invalid_signature", reason)
    try:
        event = json.loads(body)
        event_id, event_type = event["id"], event["type"]
    except (ValueError, KeyError, TypeError):
        return refuse(400, "invalid_json", "expected a JSON object with id and type")
    if event_id in seen:
        return {"status": "duplicate", "event_id": event_id}
    seen[event_id] = time.time()
    # A real handler would enqueue the event here; this one only remembers it.
    return {"status": "accepted", "event_id": event_id, "type": event_type}
