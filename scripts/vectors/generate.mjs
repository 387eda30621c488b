// Produces tests/vectors/providers_sdk.json: test vectors for hookroute's provider presets, each
// signed and/or judged by the provider's own official SDK (installed from npm with the versions
// pinned in package.json). hookroute's signer is never used here.
//
//   cd scripts/vectors && npm ci && node generate.mjs > ../../tests/vectors/providers_sdk.json
//
// For every vector the SDK's verification function is run on exactly the bytes written to the
// file, at the vector's clock (`Date.now` is pinned to `now`), and its verdict is recorded as
// `expected_valid`; the script stops if the verdict is not the one the vector was built for (a
// valid vector that the SDK refuses, or a forged one it accepts). Where the SDK can sign, the
// signature comes from the SDK; otherwise it is computed here with node:crypto from the scheme
// the SDK's source verifies, and the SDK's verdict is what makes it a vector. Output is
// deterministic: fixed secrets, ids, clocks and Ed25519 seed.

import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const SCRIPT = "scripts/vectors/generate.mjs";

/** The fixed clock: 2026-12-01T00:00:00Z, and a delivery 20 s after signing. */
const SIGNED_AT = 1796083200;
const RECEIVED_AT = SIGNED_AT + 20;

const realNow = Date.now;
async function at(nowSecs, fn) {
  Date.now = () => nowSecs * 1000;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

/** Runs an SDK check: `true` if it accepted, `false` if it returned false or threw. */
async function verdict(nowSecs, fn) {
  try {
    const result = await at(nowSecs, fn);
    return result !== false;
  } catch {
    return false;
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
function version(pkg) {
  const manifest = JSON.parse(fs.readFileSync(path.join(here, "node_modules", pkg, "package.json"), "utf8"));
  return `${pkg}@${manifest.version}`;
}

const vectors = [];

/**
 * Records one vector after checking the SDK's verdict. `check(v)` runs the SDK on the vector.
 */
async function add(v, check) {
  const accepted = await verdict(v.now ?? v.timestamp ?? RECEIVED_AT, () => check(v));
  if (accepted !== v.intended_valid) {
    throw new Error(`${v.id}: built to be ${v.intended_valid ? "valid" : "invalid"}, the SDK says ${accepted}`);
  }
  const { intended_valid, source, ...rest } = v;
  vectors.push({
    ...rest,
    expected_valid: accepted,
    source: { ...source, script: SCRIPT },
  });
}

const hmac = (alg, key, msg, enc) => crypto.createHmac(alg, key).update(msg).digest(enc);
const tamper = (body) => body.replace(/"$|}$/, (c) => ` ${c}`).replace(/1/, "2");

// ---------------------------------------------------------------------------------------------
// Standard Webhooks and its users (webhook-* or svix-* headers, whsec_ base64 secrets)
// ---------------------------------------------------------------------------------------------

const { Webhook: StandardWebhook } = require("standardwebhooks");
const WHSEC = "whsec_" + Buffer.from("hookroute-vectors-32-byte-secret").toString("base64");

/** Signs with the standardwebhooks library (the one these SDKs call). */
function swSign(secret, id, ts, body) {
  return new StandardWebhook(secret).sign(id, new Date(ts * 1000), body);
}

/** valid, tampered body, stale (beyond 300 s), and signed with another secret. */
async function standardFamily({ provider, names, secret, body, signSecret, sdk, fn, check, stale = true }) {
  const id = `msg_${provider}_2Ld9fKjQ`;
  const make = (suffix, { ts = SIGNED_AT, now = RECEIVED_AT, b = body, s = signSecret ?? secret, valid }) => ({
    id: `${provider}-${suffix}`,
    provider,
    preset: provider,
    secret,
    headers: {
      [names.id]: id,
      [names.timestamp]: String(ts),
      [names.signature]: swSign(s, id, ts, b),
    },
    body: b,
    timestamp: ts,
    now,
    intended_valid: valid,
    source: { sdk: version(sdk), function: fn, signed_with: version("standardwebhooks") + " Webhook.sign" },
  });
  await add(make("valid", { valid: true }), check);
  const forged = make("tampered-body", { valid: false });
  forged.body = tamper(body);
  await add(forged, check);
  if (stale) await add(make("stale", { ts: SIGNED_AT - 600, valid: false }), check);
  const other = "whsec_" + Buffer.from("another-endpoint-secret-32-bytes").toString("base64");
  await add(make("other-secret", { s: signSecret ? Buffer.from("polar_whs_other").toString("base64") : other, valid: false }), check);
}

const svixNames = { id: "svix-id", timestamp: "svix-timestamp", signature: "svix-signature" };
const swNames = { id: "webhook-id", timestamp: "webhook-timestamp", signature: "webhook-signature" };

{
  const { verifyWebhook } = require("@clerk/backend/webhooks");
  await standardFamily({
    provider: "clerk",
    names: svixNames,
    secret: WHSEC,
    body: '{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user"},"object":"event","type":"user.created","timestamp":1654012591835,"instance_id":"ins_123"}',
    sdk: "@clerk/backend",
    fn: "verifyWebhook (@clerk/backend/webhooks)",
    check: (v) =>
      verifyWebhook(new Request("https://example.com/webhook/clerk", { method: "POST", headers: v.headers, body: v.body }), {
        signingSecret: v.secret,
      }),
  });
}

{
  const { Resend } = require("resend");
  const resend = new Resend("re_123");
  await standardFamily({
    provider: "resend",
    names: svixNames,
    secret: WHSEC,
    body: '{"type":"email.delivered","created_at":"2026-12-01T00:00:00.000Z","data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618","from":"Acme <onboarding@resend.dev>","to":["delivered@resend.dev"],"subject":"Sending this example"}}',
    sdk: "resend",
    fn: "Resend.webhooks.verify",
    check: (v) =>
      resend.webhooks.verify({
        payload: v.body,
        headers: { id: v.headers["svix-id"], timestamp: v.headers["svix-timestamp"], signature: v.headers["svix-signature"] },
        webhookSecret: v.secret,
      }),
  });
}

{
  const { validateWebhook } = require("replicate");
  await standardFamily({
    provider: "replicate",
    names: swNames,
    secret: WHSEC,
    body: '{"id":"ufawqhfynnddngldkgtslldrkq","version":"5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa","status":"succeeded","input":{"text":"Alice"},"output":"hello Alice"}',
    sdk: "replicate",
    fn: "validateWebhook",
    // Replicate's SDK checks no timestamp, so no stale vector is its verdict.
    stale: false,
    check: (v) => validateWebhook({ headers: v.headers, body: v.body }, v.secret, crypto.webcrypto),
  });
}

{
  const OpenAI = require("openai").default ?? require("openai");
  const openai = new OpenAI({ apiKey: "sk-test" });
  await standardFamily({
    provider: "openai",
    names: swNames,
    secret: WHSEC,
    body: '{"id":"evt_685343a1381c819085d44c354e1b330e","type":"response.completed","created_at":1750287018,"data":{"id":"resp_abc123"},"object":"event"}',
    sdk: "openai",
    fn: "OpenAI.webhooks.verifySignature",
    check: (v) => openai.webhooks.verifySignature(v.body, v.headers, v.secret),
  });
}

{
  const { validateEvent, WebhookVerificationError } = require("@polar-sh/sdk/webhooks");
  const secret = "polar_whs_hookroute_vectors_k3y";
  await standardFamily({
    provider: "polar",
    names: swNames,
    secret,
    // Polar's SDK base64-encodes the secret's UTF-8 bytes before handing it to standardwebhooks.
    signSecret: Buffer.from(secret, "utf-8").toString("base64"),
    body: '{"type":"customer.deleted","timestamp":"2026-12-01T00:00:00Z","data":{"id":"992fae2a-2a17-4b7a-8d9e-e287cf90131b"}}',
    sdk: "@polar-sh/sdk",
    fn: "validateEvent (@polar-sh/sdk/webhooks)",
    check: (v) => {
      try {
        validateEvent(v.body, v.headers, v.secret);
        return true;
      } catch (e) {
        // Only a WebhookVerificationError is a signature verdict; a payload that passes the
        // signature but not the SDK's event schema still counts as verified.
        if (e instanceof WebhookVerificationError) return false;
        if (e?.name === "SDKValidationError") return true;
        throw e;
      }
    },
  });
}

{
  const { WebhookHandler } = require("@liveblocks/node");
  await standardFamily({
    provider: "liveblocks",
    names: swNames,
    secret: WHSEC,
    body: '{"type":"storageUpdated","data":{"roomId":"my-room-id","projectId":"my-project-id","updatedAt":"2026-12-01T00:00:00.000Z"}}',
    sdk: "@liveblocks/node",
    fn: "WebhookHandler.verifyRequest",
    check: (v) => new WebhookHandler(v.secret).verifyRequest({ headers: v.headers, rawBody: v.body }),
  });
}

{
  const DodoPayments = require("dodopayments").default ?? require("dodopayments");
  const dodo = new DodoPayments({ bearerToken: "test" });
  await standardFamily({
    provider: "dodopayments",
    names: swNames,
    secret: WHSEC,
    body: '{"business_id":"bus_123","type":"payment.succeeded","timestamp":"2026-12-01T00:00:00Z","data":{"payload_type":"Payment","payment_id":"pay_123"}}',
    sdk: "dodopayments",
    fn: "DodoPayments.webhooks.unwrap",
    check: (v) => dodo.webhooks.unwrap(v.body, { headers: v.headers, key: v.secret }),
  });
}

{
  const Lithic = require("lithic").default ?? require("lithic");
  const lithic = new Lithic({ apiKey: "test" });
  await standardFamily({
    provider: "lithic",
    names: swNames,
    secret: WHSEC,
    body: '{"event_type":"card.created","token":"a0b1c2d3-e4f5-4a6b-8c9d-0e1f2a3b4c5d","card_token":"7ef7d65c-9023-4da3-b113-3b8583fd7951"}',
    sdk: "lithic",
    fn: "Lithic.webhooks.verifySignature",
    check: (v) => lithic.webhooks.verifySignature(v.body, v.headers, v.secret),
  });
}

// ---------------------------------------------------------------------------------------------
// Stripe-like `t=...,v1=...` headers
// ---------------------------------------------------------------------------------------------

{
  const Mux = require("@mux/mux-node").default ?? require("@mux/mux-node");
  const mux = new Mux({ tokenId: "id", tokenSecret: "secret" });
  const secret = "muxwhsec_hookroute_vectors";
  const body = '{"type":"video.asset.ready","object":{"type":"asset","id":"0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002"},"id":"3a56ac3d-33da-4366-855b-f592d898409d","environment":{"name":"Demo","id":"j0863n"},"data":{"status":"ready"},"created_at":"2026-12-01T00:00:00.000000Z"}';
  const header = (ts, b, s = secret) => `t=${ts},v1=${hmac("sha256", s, `${ts}.${b}`, "hex")}`;
  const base = (suffix, ts, b, s, valid) => ({
    id: `mux-${suffix}`,
    provider: "mux",
    preset: "mux",
    secret,
    headers: { "Mux-Signature": header(ts, b, s) },
    body,
    timestamp: ts,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("@mux/mux-node"), function: "Mux.webhooks.verifySignature", signed_with: "node:crypto HMAC-SHA256, as the SDK's computeSignature" },
  });
  const check = (v) => mux.webhooks.verifySignature(v.body, v.headers, v.secret);
  await add(base("valid", SIGNED_AT, body, secret, true), check);
  const forged = base("tampered-body", SIGNED_AT, body, secret, false);
  forged.body = tamper(body);
  await add(forged, check);
  await add(base("stale", SIGNED_AT - 400, body, secret, false), check);
  await add(base("other-secret", SIGNED_AT, body, "muxwhsec_other", false), check);
}

{
  const { WorkOS } = require("@workos-inc/node");
  const workos = new WorkOS("sk_test_123");
  const secret = "wrkos_hookroute_vectors_secret";
  // WorkOS re-serializes the parsed payload with JSON.stringify: a compact body is what it signs.
  const body = '{"id":"event_01H2GNQD5B7G0V3WZ7Y5W6PRJ9","event":"user.created","data":{"object":"user","id":"user_01E4ZCR3C56J083X43JQXF3JK5","email":"marcelina.davis@example.com"},"created_at":"2026-12-01T00:00:00.000Z"}';
  const check = (v) => workos.webhooks.constructEvent({ payload: JSON.parse(v.body), sigHeader: v.headers["WorkOS-Signature"], secret: v.secret });
  const make = async (suffix, tsMs, s, valid, b = body) => {
    const sig = await workos.webhooks.computeSignature(tsMs, JSON.parse(body), s);
    return {
      id: `workos-${suffix}`,
      provider: "workos",
      preset: "workos",
      secret,
      headers: { "WorkOS-Signature": `t=${tsMs}, v1=${sig}` },
      body: b,
      timestamp: tsMs,
      now: RECEIVED_AT,
      intended_valid: valid,
      source: { sdk: version("@workos-inc/node"), function: "WorkOS.webhooks.constructEvent", signed_with: "WorkOS.webhooks.computeSignature" },
    };
  };
  await add(await make("valid", SIGNED_AT * 1000, secret, true), check);
  await add(await make("tampered-body", SIGNED_AT * 1000, secret, false, body.replace("marcelina", "mallory")), check);
  await add(await make("stale", (SIGNED_AT - 300) * 1000, secret, false), check);
  await add(await make("other-secret", SIGNED_AT * 1000, "wrkos_other", false), check);
}


{
  const { encodeSignatureHeader, isValidSignature } = require("@sanity/webhook");
  const secret = "sanity-hookroute-vectors-secret";
  const body = '{"_id":"movie_10681","_type":"movie","title":"WALL·E","slug":{"_type":"slug","current":"wall-e"}}';
  const make = async (suffix, tsMs, s, valid, b = body) => ({
    id: `sanity-${suffix}`,
    provider: "sanity",
    preset: "sanity",
    secret,
    headers: {
      "sanity-webhook-signature": await encodeSignatureHeader(body, tsMs, s),
      "idempotency-key": "idem-7c2f0e1a",
      "sanity-operation": "update",
    },
    body: b,
    timestamp: tsMs,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("@sanity/webhook"), function: "isValidSignature", signed_with: "encodeSignatureHeader" },
  });
  const check = (v) => isValidSignature(v.body, v.headers["sanity-webhook-signature"], v.secret);
  await add(await make("valid", SIGNED_AT * 1000, secret, true), check);
  await add(await make("tampered-body", SIGNED_AT * 1000, secret, false, body.replace("WALL·E", "EVE")), check);
  await add(await make("other-secret", SIGNED_AT * 1000, "sanity-other", false), check);
}


// ---------------------------------------------------------------------------------------------
// HMAC of the body alone
// ---------------------------------------------------------------------------------------------

/** valid, tampered body and another secret, for a scheme without a timestamp. */
async function bodyOnly({ provider, secret, body, headers, sign, sdk, fn, signedWith, check }) {
  const make = (suffix, s, valid, b = body) => ({
    id: `${provider}-${suffix}`,
    provider,
    preset: provider,
    secret,
    headers: { ...headers, ...sign(body, s) },
    body: b,
    timestamp: null,
    now: null,
    intended_valid: valid,
    source: { sdk: version(sdk), function: fn, signed_with: signedWith },
  });
  await add(make("valid", secret, true), check);
  await add(make("tampered-body", secret, false, tamper(body)), check);
  await add(make("other-secret", secret + "-other", false), check);
}

{
  const { validateWebhookSignature } = require("razorpay/dist/utils/razorpay-utils");
  await bodyOnly({
    provider: "razorpay",
    secret: "razorpay_hookroute_secret",
    body: '{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","amount":100,"currency":"INR"}}},"created_at":1567674606}',
    headers: { "x-razorpay-event-id": "KmqT3y4sVbxAwz" },
    sign: (b, s) => ({ "X-Razorpay-Signature": hmac("sha256", s, b, "hex") }),
    sdk: "razorpay",
    fn: "validateWebhookSignature",
    signedWith: "node:crypto HMAC-SHA256 hex, as the SDK",
    check: (v) => validateWebhookSignature(v.body, v.headers["X-Razorpay-Signature"], v.secret),
  });
}

{
  const { Webhook } = require("coinbase-commerce-node");
  await bodyOnly({
    provider: "coinbase-commerce",
    secret: "cc-hookroute-shared-secret",
    body: '{"attempt_number":1,"event":{"api_version":"2018-03-22","created_at":"2026-12-01T00:00:00Z","data":{"code":"66BEOV2A","name":"The Sovereign Individual"},"id":"24934862-d980-46cb-9402-43c81b0cdba6","resource":"event","type":"charge:created"},"id":"f6d6a4c2-3d9a-4c1c-9f0e-4a6a1d6b2a10","scheduled_for":"2026-12-01T00:00:00Z"}',
    headers: {},
    sign: (b, s) => ({ "X-CC-Webhook-Signature": Webhook.computeSignature(b, s) }),
    sdk: "coinbase-commerce-node",
    fn: "Webhook.verifySigHeader",
    signedWith: "Webhook.computeSignature",
    check: (v) => Webhook.verifySigHeader(v.body, v.headers["X-CC-Webhook-Signature"], v.secret),
  });
}

{
  const webhooks = require("gocardless-nodejs/webhooks");
  await bodyOnly({
    provider: "gocardless",
    secret: "gocardless-hookroute-endpoint-secret",
    body: '{"events":[{"id":"EV123","created_at":"2026-12-01T00:00:00.000Z","action":"confirmed","resource_type":"payments","links":{"payment":"PM123"}}],"meta":{"webhook_id":"WB123"}}',
    headers: {},
    sign: (b, s) => ({ "Webhook-Signature": hmac("sha256", s, b, "hex") }),
    sdk: "gocardless-nodejs",
    fn: "webhooks.parse",
    signedWith: "node:crypto HMAC-SHA256 hex, as the SDK's verifySignature",
    check: (v) => webhooks.parse(v.body, v.secret, v.headers["Webhook-Signature"]),
  });
}

{
  const Token = require("pusher/lib/token");
  const WebHook = require("pusher/lib/webhook");
  const key = "278d425bdf160c739803";
  await bodyOnly({
    provider: "pusher",
    secret: "7ad3773142a6692b25b8",
    body: '{"time_ms":1796083200000,"events":[{"name":"channel_occupied","channel":"test_channel"}]}',
    headers: { "X-Pusher-Key": key, "Content-Type": "application/json" },
    sign: (b, s) => ({ "X-Pusher-Signature": new Token(key, s).sign(b) }),
    sdk: "pusher",
    fn: "WebHook.isValid",
    signedWith: "Token.sign",
    check: (v) =>
      new WebHook(new Token(key, v.secret), {
        headers: Object.fromEntries(Object.entries(v.headers).map(([k, x]) => [k.toLowerCase(), x])),
        rawBody: v.body,
      }).isValid(),
  });
}

{
  const { validateSignature } = require("@line/bot-sdk");
  await bodyOnly({
    provider: "line",
    secret: "8c570fa6dd201bb328f1c1eac23a96d8",
    body: '{"destination":"xxxxxxxxxx","events":[{"type":"message","message":{"type":"text","id":"14353798921116","text":"Hello, world"},"webhookEventId":"01FZ74A0TDDPYRVKNK77XKC3ZR","deliveryContext":{"isRedelivery":false},"timestamp":1625665242211,"mode":"active"}]}',
    headers: {},
    sign: (b, s) => ({ "x-line-signature": hmac("sha256", s, b, "base64") }),
    sdk: "@line/bot-sdk",
    fn: "validateSignature",
    signedWith: "node:crypto HMAC-SHA256 base64, as the SDK",
    check: (v) => validateSignature(v.body, v.secret, v.headers["x-line-signature"]),
  });
}


// ---------------------------------------------------------------------------------------------
// Timestamp plus body
// ---------------------------------------------------------------------------------------------

{
  const { WebflowClient } = require("webflow-api");
  const client = new WebflowClient({ accessToken: "test" });
  const secret = "webflow-hookroute-client-secret";
  const body = '{"triggerType":"form_submission","payload":{"name":"Contact Us","siteId":"65427cf400e02b306eaa049c","data":{"First Name":"Zaphod"},"id":"6321ca84df3949bfc6752327"}}';
  const make = (suffix, tsMs, s, valid, b = body) => ({
    id: `webflow-${suffix}`,
    provider: "webflow",
    preset: "webflow",
    secret,
    headers: { "x-webflow-timestamp": String(tsMs), "x-webflow-signature": hmac("sha256", s, `${tsMs}:${body}`, "hex") },
    body: b,
    timestamp: tsMs,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("webflow-api"), function: "WebflowClient.webhooks.verifySignature", signed_with: "node:crypto HMAC-SHA256 hex, as the SDK" },
  });
  const check = (v) => client.webhooks.verifySignature({ headers: v.headers, body: v.body, secret: v.secret });
  await add(make("valid", SIGNED_AT * 1000, secret, true), check);
  await add(make("tampered-body", SIGNED_AT * 1000, secret, false, tamper(body)), check);
  await add(make("other-secret", SIGNED_AT * 1000, secret + "-other", false), check);
}

{
  const { Signature } = require("@hubspot/api-client/lib/src/utils/signature");
  const secret = "hubspot-app-client-secret-hookroute";
  const url = "https://hooks.example.com/webhook/hubspot";
  const body = '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"appId":54321,"occurredAt":1796083190000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeFlag":"CREATED","changeSource":"CRM"}]';
  const make = (suffix, tsMs, s, valid, b = body) => ({
    id: `hubspot-${suffix}`,
    provider: "hubspot",
    preset: "hubspot",
    secret,
    headers: {
      "X-HubSpot-Request-Timestamp": String(tsMs),
      "X-HubSpot-Signature-v3": Signature.getSignature("POST", "v3", { clientSecret: s, requestBody: body, url, timestamp: tsMs }),
    },
    body: b,
    url,
    timestamp: tsMs,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("@hubspot/api-client"), function: "Signature.isValid (signatureVersion v3)", signed_with: "Signature.getSignature" },
  });
  const check = (v) =>
    Signature.isValid({
      signatureVersion: "v3",
      method: "POST",
      signature: v.headers["X-HubSpot-Signature-v3"],
      clientSecret: v.secret,
      requestBody: v.body,
      url: v.url,
      timestamp: Number(v.headers["X-HubSpot-Request-Timestamp"]),
    });
  await add(make("valid", SIGNED_AT * 1000, secret, true), check);
  await add(make("tampered-body", SIGNED_AT * 1000, secret, false, tamper(body)), check);
  await add(make("stale", (SIGNED_AT - 400) * 1000, secret, false), check);
  await add(make("other-secret", SIGNED_AT * 1000, secret + "-other", false), check);
  const otherUrl = make("other-url", SIGNED_AT * 1000, secret, false);
  otherUrl.url = "https://hooks.example.com/webhook/other";
  await add(otherUrl, check);
}

{
  const Orb = require("orb-billing").default ?? require("orb-billing");
  const orb = new Orb({ apiKey: "test" });
  const secret = "orb-hookroute-webhook-secret";
  const body = '{"id":"o4mmewpfNNTnjfZc","created_at":"2026-12-01T00:00:00.000000+00:00","type":"subscription.started","properties":{},"subscription":{"id":"VCF8DQZDRB8fNFs7"}}';
  const isoAt = (secs) => new Date(secs * 1000).toISOString().replace("Z", "");
  const make = (suffix, secs, s, valid, b = body) => {
    const ts = isoAt(secs);
    return {
      id: `orb-${suffix}`,
      provider: "orb",
      preset: "orb",
      secret,
      headers: { "X-Orb-Timestamp": ts, "X-Orb-Signature": orb.webhooks.signPayload(body, { timestamp: ts, secret: Buffer.from(s) }) },
      body: b,
      timestamp: null,
      now: RECEIVED_AT,
      intended_valid: valid,
      source: { sdk: version("orb-billing"), function: "Orb.webhooks.verifySignature", signed_with: "Orb.webhooks.signPayload" },
    };
  };
  const check = (v) => orb.webhooks.verifySignature(v.body, v.headers, v.secret);
  await add(make("valid", SIGNED_AT, secret, true), check);
  await add(make("tampered-body", SIGNED_AT, secret, false, tamper(body)), check);
  await add(make("other-secret", SIGNED_AT, secret + "-other", false), check);
}

// ---------------------------------------------------------------------------------------------
// Ed25519
// ---------------------------------------------------------------------------------------------

{
  const { TelnyxWebhook } = require("telnyx/lib/webhooks");
  // A fixed seed, so the output is the same on every run.
  const seed = Buffer.alloc(32, 7);
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = crypto.createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(12).toString("base64");
  const otherKey = crypto.createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.alloc(32, 9)]),
    format: "der",
    type: "pkcs8",
  });
  const body = '{"data":{"event_type":"message.received","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0","occurred_at":"2026-12-01T00:00:00.000+00:00","payload":{"text":"Hello"},"record_type":"event"},"meta":{"attempt":1}}';
  const make = (suffix, ts, key, valid, b = body) => ({
    id: `telnyx-${suffix}`,
    provider: "telnyx",
    preset: "telnyx",
    secret: publicKey,
    headers: {
      "telnyx-timestamp": String(ts),
      "telnyx-signature-ed25519": crypto.sign(null, Buffer.from(`${ts}|${body}`), key).toString("base64"),
    },
    body: b,
    timestamp: ts,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("telnyx"), function: "TelnyxWebhook.verify", signed_with: "node:crypto Ed25519 (fixed test seed)" },
  });
  const check = (v) => new TelnyxWebhook(v.secret).verify(v.body, v.headers);
  await add(make("valid", SIGNED_AT, privateKey, true), check);
  await add(make("tampered-body", SIGNED_AT, privateKey, false, tamper(body)), check);
  await add(make("stale", SIGNED_AT - 400, privateKey, false), check);
  await add(make("future", RECEIVED_AT + 400, privateKey, false), check);
  await add(make("other-key", SIGNED_AT, otherKey, false), check);
}

// ---------------------------------------------------------------------------------------------
// More Standard Webhooks users
// ---------------------------------------------------------------------------------------------

{
  const Anthropic = require("@anthropic-ai/sdk").default ?? require("@anthropic-ai/sdk");
  const anthropic = new Anthropic({ apiKey: "sk-ant-test" });
  await standardFamily({
    provider: "anthropic",
    names: swNames,
    secret: WHSEC,
    body: '{"id":"wevt_011CZkZYZd9rLxkAbCcbvGMj","created_at":"2026-12-01T00:00:00Z","data":{"id":"sesn_011CZkZAtmR3yMPDzynEDxu7","organization_id":"org_123","type":"session.idled","workspace_id":"wrkspc_123"},"type":"event"}',
    sdk: "@anthropic-ai/sdk",
    fn: "Anthropic.beta.webhooks.unwrap",
    check: (v) => anthropic.beta.webhooks.unwrap(v.body, { headers: v.headers, key: v.secret }),
  });
}

{
  // Finch: Standard Webhooks' payload under finch-* names; the secret is plain base64.
  const Finch = require("@tryfinch/finch-api").default ?? require("@tryfinch/finch-api");
  const finch = new Finch({ accessToken: "test" });
  const secret = Buffer.from("finch-hookroute-vectors-secret!!").toString("base64");
  const body = '{"account_id":"5d3e5b7e-0e2b-4c7a-9d8f-6b1a2c3d4e5f","company_id":"a7c1d2e3-f4a5-4b6c-8d7e-9f0a1b2c3d4e","event_type":"job.benefit_create.updated","data":{"job_id":"job_123","job_url":"https://api.tryfinch.com/jobs/job_123"}}';
  const make = (suffix, ts, s, valid, b = body) => ({
    id: `finch-${suffix}`,
    provider: "finch",
    preset: "finch",
    secret,
    headers: {
      "finch-event-id": "evt_2Ld9fKjQ",
      "finch-timestamp": String(ts),
      "finch-signature": finch.webhooks.signPayload(body, { eventId: "evt_2Ld9fKjQ", timestamp: new Date(ts * 1000), secret: Buffer.from(s, "base64") }),
    },
    body: b,
    timestamp: ts,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("@tryfinch/finch-api"), function: "Finch.webhooks.verifySignature", signed_with: "Finch.webhooks.signPayload" },
  });
  const check = (v) => finch.webhooks.verifySignature(v.body, v.headers, v.secret);
  await add(make("valid", SIGNED_AT, secret, true), check);
  await add(make("tampered-body", SIGNED_AT, secret, false, tamper(body)), check);
  await add(make("stale", SIGNED_AT - 400, secret, false), check);
  await add(make("future", RECEIVED_AT + 400, secret, false), check);
  await add(make("other-secret", SIGNED_AT, Buffer.from("another-finch-secret-32-bytes!!!").toString("base64"), false), check);
}

{
  const { StreamChat } = require("stream-chat");
  const apiKey = "a1b23cdefgh4";
  const secret = "stream-hookroute-api-secret-0123456789";
  await bodyOnly({
    provider: "stream",
    secret,
    body: '{"type":"message.new","cid":"messaging:fun","channel_type":"messaging","channel_id":"fun","message":{"id":"fff0d7c0-60bd-4835-833b-3843007817bf","text":"8b780762-4830-4e2a-aa43-18aabaf1732d","type":"regular"},"user":{"id":"17d3d1ae-0b1f-4cc5-9b2b-e1b4e5ad5f21"},"created_at":"2026-12-01T00:00:00.000Z"}',
    headers: { "X-Webhook-Id": "123e4567-e89b-12d3-a456-426614174000", "X-Webhook-Attempt": "1", "X-Api-Key": apiKey },
    sign: (b, s) => ({ "X-Signature": hmac("sha256", s, b, "hex") }),
    sdk: "stream-chat",
    fn: "StreamChat.verifyWebhook",
    signedWith: "node:crypto HMAC-SHA256 hex, as the SDK",
    check: (v) => new StreamChat(apiKey, v.secret).verifyWebhook(v.body, v.headers["X-Signature"]),
  });
}

// ---------------------------------------------------------------------------------------------
// Older presets: vectors from their providers' SDKs
// ---------------------------------------------------------------------------------------------

{
  const { Webhook } = require("svix");
  await standardFamily({
    provider: "svix",
    names: svixNames,
    secret: WHSEC,
    body: '{"type":"invoice.paid","id":"evt_svix_1","data":{"amount":1000}}',
    sdk: "svix",
    fn: "Webhook.verify",
    check: (v) => new Webhook(v.secret).verify(v.body, v.headers),
  });
}

{
  // Zoom's Rivet SDK verifies JSON.stringify of the parsed body: a compact body is what it signs.
  const { AwsLambdaReceiver } = require("@zoom/rivet/meetings");
  const secret = "zoom-hookroute-secret-token";
  const body = '{"event":"meeting.started","event_ts":1796083200123,"payload":{"account_id":"AAAAAABBBB","object":{"id":"1234567890","uuid":"4444AAAiAAAAAiAiAiiAii==","topic":"My Meeting"}}}';
  const make = (suffix, s, valid, b = body) => ({
    id: `zoom-${suffix}`,
    provider: "zoom",
    preset: "zoom",
    secret,
    headers: {
      "x-zm-request-timestamp": String(SIGNED_AT),
      "x-zm-signature": "v0=" + hmac("sha256", s, `v0:${SIGNED_AT}:${body}`, "hex"),
    },
    body: b,
    timestamp: SIGNED_AT,
    now: RECEIVED_AT,
    intended_valid: valid,
    source: { sdk: version("@zoom/rivet"), function: "AwsLambdaReceiver (CommonHttpRequest.isEventVerified)", signed_with: "node:crypto HMAC-SHA256 hex, as the SDK" },
  });
  const check = async (v) => {
    const debug = console.debug;
    console.debug = () => {};
    try {
      const answer = await new AwsLambdaReceiver({ webhooksSecretToken: v.secret }).start()(
        { body: v.body, headers: v.headers, isBase64Encoded: false },
        {},
      );
      return answer.statusCode === 200;
    } finally {
      console.debug = debug;
    }
  };
  await add(make("valid", secret, true), check);
  await add(make("tampered-body", secret, false, body.replace("My Meeting", "Your Meeting")), check);
  await add(make("other-secret", secret + "-other", false), check);
}

{
  const { verifyKey } = require("discord-interactions");
  const key = crypto.createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.alloc(32, 11)]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = crypto.createPublicKey(key).export({ format: "der", type: "spki" }).subarray(12).toString("hex");
  const otherKey = crypto.createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.alloc(32, 13)]),
    format: "der",
    type: "pkcs8",
  });
  const body = '{"application_id":"1234567890","id":"1098765432","token":"tok","type":2,"version":1,"data":{"id":"55","name":"ping","type":1}}';
  const make = (suffix, k, valid, b = body) => ({
    id: `discord-${suffix}`,
    provider: "discord",
    preset: "discord",
    secret: publicKey,
    headers: {
      "X-Signature-Timestamp": String(SIGNED_AT),
      "X-Signature-Ed25519": crypto.sign(null, Buffer.from(`${SIGNED_AT}${body}`), k).toString("hex"),
    },
    body: b,
    timestamp: null,
    now: null,
    intended_valid: valid,
    source: { sdk: version("discord-interactions"), function: "verifyKey", signed_with: "node:crypto Ed25519 (fixed test seed)" },
  });
  const check = (v) => verifyKey(v.body, v.headers["X-Signature-Ed25519"], v.headers["X-Signature-Timestamp"], v.secret);
  await add(make("valid", key, true), check);
  await add(make("tampered-body", key, false, tamper(body)), check);
  await add(make("other-key", otherKey, false), check);
}

{
  const { LinearWebhookClient } = await import("@linear/sdk/webhooks");
  const secret = "lin_wh_hookroute_vectors_secret";
  const bodyAt = (ms) => `{"action":"create","type":"Issue","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Bug"},"url":"https://linear.app/issue/LIN-1","createdAt":"2026-12-01T00:00:00.000Z","organizationId":"org_1","webhookTimestamp":${ms},"webhookId":"wh_1"}`;
  const make = (suffix, ms, s, valid, tamperBody = false) => {
    const body = bodyAt(ms);
    return {
      id: `linear-${suffix}`,
      provider: "linear",
      preset: "linear",
      secret,
      headers: { "linear-signature": hmac("sha256", s, body, "hex"), "Linear-Delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72" },
      body: tamperBody ? body.replace("Bug", "Bog") : body,
      timestamp: ms,
      now: RECEIVED_AT,
      intended_valid: valid,
      source: { sdk: version("@linear/sdk"), function: "LinearWebhookClient.verify", signed_with: "node:crypto HMAC-SHA256 hex, as the SDK" },
    };
  };
  const check = (v) => new LinearWebhookClient(v.secret).verify(v.body, v.headers["linear-signature"]);
  await add(make("valid", SIGNED_AT * 1000, secret, true), check);
  await add(make("tampered-body", SIGNED_AT * 1000, secret, false, true), check);
  await add(make("stale", (SIGNED_AT - 60) * 1000, secret, false), check);
  await add(make("future", (RECEIVED_AT + 90) * 1000, secret, false), check);
  await add(make("other-secret", SIGNED_AT * 1000, "lin_wh_other", false), check);
}

{
  // Adyen: the body is ONE NotificationRequestItem, as in shared/providers/vectors.json
  // (tests/vectors.rs verifies it alone and wrapped in a notification).
  const { hmacValidator: HmacValidator } = require("@adyen/api-library");
  const validator = new HmacValidator();
  const key = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";
  const item = {
    additionalData: {},
    amount: { currency: "EUR", value: 1130 },
    eventCode: "AUTHORISATION",
    eventDate: "2026-12-01T00:00:00+01:00",
    merchantAccountCode: "TestMerchant",
    merchantReference: "order-4711",
    originalReference: "",
    pspReference: "7914073381342284",
    success: "true",
  };
  const make = (suffix, k, valid, change) => {
    const signed = structuredClone(item);
    signed.additionalData.hmacSignature = validator.calculateHmac(signed, k);
    if (change) change(signed);
    return {
      id: `adyen-${suffix}`,
      provider: "adyen",
      preset: "adyen",
      secret: key,
      headers: {},
      body: JSON.stringify(signed),
      timestamp: null,
      now: null,
      intended_valid: valid,
      source: { sdk: version("@adyen/api-library"), function: "HmacValidator.validateHMAC", signed_with: "HmacValidator.calculateHmac" },
    };
  };
  const check = (v) => validator.validateHMAC(JSON.parse(v.body), v.secret);
  await add(make("valid", key, true), check);
  await add(make("tampered-amount", key, false, (i) => (i.amount.value = 1), check), check);
  await add(make("other-key", "00B1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00", false), check);
}

process.stdout.write(JSON.stringify(vectors, null, 2) + "\n");
process.stderr.write(`${vectors.length} vectors, ${new Set(vectors.map((v) => v.provider)).size} providers\n`);
