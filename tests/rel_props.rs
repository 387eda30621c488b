//! Reliability scenario 7, property tests (proptest):
//! - every signature preset's parsers and payload template never panic on arbitrary header
//!   values and bodies, through the public verify API;
//! - sign -> verify round-trips for every preset whose secret `generate_signing_secret` can
//!   make, and flipping any byte of a signed body makes verification fail (token schemes sign no
//!   body and are left out of that half);
//! - arbitrary payload templates and arbitrary config text never panic the compilers (the
//!   stand-in for cargo-fuzz targets, see RELIABILITY.md);
//! - the queue as a state machine: random sequences of accept, take a due job, record it
//!   delivered / failed (retry) / dead, retry a dead job, and crash (drop and reopen the store)
//!   on the real `SledStore` never lose an acknowledged event's job: each is delivered, still
//!   due, or dead-lettered, and the state the model expects.
//!
//! `PROPTEST_CASES` scales them (the long run uses 2,000).

use hookroute::config::{self, MapEnvironment};
use hookroute::signature::{
    preset, preset_names, scheme_from_value, HeaderList, Scheme, SignInput, SignedRequest,
};
use hookroute::store::{
    AcceptOutcome, Attempt, ClaimRequest, JobState, JobTransition, NewEvent, RecordOutcome,
    SledStore, Stores,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_790_000_000;
const URL: &str = "https://hooks.example.com/webhook?x=1";

/// Every preset, compiled, with a signing secret when one can be generated.
fn presets() -> Vec<(String, Scheme, Option<hookroute::signature::SecretKey>)> {
    preset_names()
        .into_iter()
        .map(|name| {
            let scheme = scheme_from_value(preset(name).unwrap().scheme.clone())
                .unwrap_or_else(|e| panic!("preset {name} compiles: {e:?}"));
            let secret = scheme.generate_signing_secret().ok().map(|text| {
                scheme
                    .decode_secret(&text)
                    .expect("a generated secret decodes")
            });
            (name.to_string(), scheme, secret)
        })
        .collect()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        // Integration tests have no lib.rs next to them to persist failures beside.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn try_sign(
    scheme: &Scheme,
    secret: &hookroute::signature::SecretKey,
    body: &[u8],
    id: &str,
) -> Result<hookroute::signature::SignedMessage, hookroute::signature::SignatureError> {
    scheme.sign_message(SignInput {
        secret,
        body,
        url: Some(URL),
        now_unix_secs: NOW,
        id,
    })
}

fn signed(
    scheme: &Scheme,
    secret: &hookroute::signature::SecretKey,
    body: &[u8],
    id: &str,
) -> hookroute::signature::SignedMessage {
    try_sign(scheme, secret, body, id).expect("signs")
}

#[test]
fn every_preset_generates_a_signing_secret_and_most_sign_the_raw_body() {
    let all = presets();
    let no_secret: Vec<&str> = all
        .iter()
        .filter(|(_, _, secret)| secret.is_none())
        .map(|(name, _, _)| name.as_str())
        .collect();
    assert!(no_secret.is_empty(), "no signing secret for {no_secret:?}");
    // The round-trip property below covers the schemes that sign every body byte; the ones
    // signing fields are listed so a scheme cannot drop out of it unnoticed.
    let field_signed: Vec<&str> = all
        .iter()
        .filter(|(_, scheme, _)| !scheme.signs_raw_body())
        .map(|(name, _, _)| name.as_str())
        .collect();
    assert_eq!(field_signed, ["adyen", "gitlab", "mailgun", "twilio"]);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn verify_never_panics_on_arbitrary_headers_and_bodies(
        values in prop::collection::vec(any::<String>(), 6),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
    ) {
        for (_, scheme, secret) in presets() {
            // The header names a real sender would use, with arbitrary values.
            // (Adyen cannot sign `{}`, which has no items: its signature header is enough.)
            let sent = secret.as_ref().and_then(|secret| try_sign(&scheme, secret, b"{}", "id").ok());
            let names: Vec<String> = match sent {
                Some(message) => message.headers.into_iter().map(|(k, _)| k).collect(),
                None => scheme.signature_header().map(str::to_string).into_iter().collect(),
            };
            let headers = HeaderList(names.iter().zip(values.iter().cycle()).map(|(k, v)| (k.clone(), v.clone())).collect());
            let secrets: Vec<_> = secret.iter().cloned().collect();
            let request = SignedRequest::new(&headers, &body).with_url(URL);
            let _ = scheme.verify(&request, &secrets, now);
        }
    }

    #[test]
    fn sign_then_verify_round_trips_and_any_flipped_body_byte_fails(
        body in prop::collection::vec(any::<u8>(), 1..512),
        id in "[a-zA-Z0-9_]{1,24}",
        flip_at in any::<prop::sample::Index>(),
        flip_with in 1u8..=255,
    ) {
        // Schemes that sign fields of the body (Mailgun, Adyen, Twilio's form parameters) or read
        // a value from it (Linear's timestamp) need a body of their shape:
        // src/signature/roundtrip_tests.rs and tests/cli_tools.rs cover them.
        let arbitrary_bodies = |s: &Scheme| s.signs_raw_body() && !s.reads_json_body();
        for (name, scheme, secret) in presets().into_iter().filter(|(_, s, _)| arbitrary_bodies(s)) {
            let Some(secret) = secret else { continue };
            let message = signed(&scheme, &secret, &body, &id);
            let headers = HeaderList(message.headers.clone());
            let url = message.url.clone();
            let mut request = SignedRequest::new(&headers, &message.body);
            request.url = url.as_deref();
            let verified = scheme.verify(&request, std::slice::from_ref(&secret), NOW);
            prop_assert!(verified.is_ok(), "{}: {:?}", name, verified.err());
            let mut flipped = message.body.clone();
            let i = flip_at.index(flipped.len());
            flipped[i] ^= flip_with;
            let mut request = SignedRequest::new(&headers, &flipped);
            request.url = url.as_deref();
            prop_assert!(
                scheme.verify(&request, std::slice::from_ref(&secret), NOW).is_err(),
                "{}: a body with byte {} flipped still verified", name, i
            );
        }
    }

    #[test]
    fn arbitrary_payload_templates_never_panic_the_scheme_compiler(template in any::<String>(), header in any::<String>()) {
        let mut value: serde_yaml::Value = serde_yaml::from_str(
            "algorithm: hmac-sha256\nsignature: { from: \"header:X-Sig\", encoding: hex }\n",
        ).unwrap();
        value["payload"] = serde_yaml::Value::String(template);
        if let Ok(scheme) = scheme_from_value(value) {
            let headers = HeaderList::new().with("X-Sig", header.clone()).with(header, "v");
            let secret = scheme.decode_secret("secret").unwrap();
            let _ = scheme.verify(&SignedRequest::new(&headers, b"{}"), &[secret], NOW);
        }
    }

    #[test]
    fn arbitrary_config_text_never_panics_the_loader(text in any::<String>()) {
        let _ = config::load_str(&text, Path::new("."), &MapEnvironment::default());
    }

    #[test]
    fn config_like_yaml_never_panics_the_loader(
        keys in prop::collection::vec(prop::sample::select(vec![
            "server:", "  listen: 127.0.0.1:0", "  max_body_size: 1x", "storage:", "  max_size: -1",
            "  min_free_space: 0", "targets:", "  t: { url: 'http://x' }", "  u:", "    url: 5",
            "endpoints:", "  - path: /a", "    verify: { provider: stripe }", "    rules:",
            "      - forward: [t]", "      - match: { type: ['*'] }", "    event: { id: 'json:$[' }",
            "  - {}", "admin: { listen: off }", "- [", "  &a *a", "\t",
        ]), 0..24),
    ) {
        let text = keys.join("\n");
        let _ = config::load_str(&text, Path::new("."), &MapEnvironment::default());
    }
}

/// An operation on the queue.
#[derive(Debug, Clone)]
enum Op {
    /// Accept event `id` (ids repeat: duplicates) for 1 or 2 targets.
    Accept { id: u8, two_targets: bool },
    /// Take the first due job (as the dispatcher leases it) and record an outcome.
    Attempt {
        pick: prop::sample::Index,
        outcome: Outcome,
    },
    /// Put a dead job back in the queue.
    RetryDead { pick: prop::sample::Index },
    /// Drop the store and open it again.
    Crash,
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Delivered,
    Retry,
    Dead,
    /// The attempt is in flight when the next operation (perhaps a crash) comes: no record.
    Abandoned,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..16, any::<bool>()).prop_map(|(id, two_targets)| Op::Accept { id, two_targets }),
        6 => (any::<prop::sample::Index>(), prop_oneof![
            Just(Outcome::Delivered), Just(Outcome::Retry), Just(Outcome::Dead), Just(Outcome::Abandoned)
        ]).prop_map(|(pick, outcome)| Op::Attempt { pick, outcome }),
        1 => any::<prop::sample::Index>().prop_map(|pick| Op::RetryDead { pick }),
        1 => Just(Op::Crash),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Pending,
    Delivered,
    Dead,
}

/// Opens the store, waiting (up to 10 s) while a dropped one's background threads still hold
/// sled's file lock: sled releases it shortly after the last handle is gone, not at once.
fn open(dir: &Path) -> SledStore {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match SledStore::open(dir, Duration::from_secs(3600)) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("the store does not open again: {e}"),
        }
    }
}

/// Claims every job due at `at` (a time past every lease) and gives the claims back: the ids a
/// dispatcher would attempt.
async fn due_ids(store: &Stores, at: u64) -> Vec<u64> {
    let claimed = store
        .queue
        .claim_due(ClaimRequest {
            now_ms: at,
            lease: Duration::from_secs(60),
            free: [(Arc::from("a"), 4096), (Arc::from("b"), 4096)].into(),
            limit: 8192,
        })
        .await
        .unwrap();
    let ids = claimed.jobs.iter().map(|c| c.id).collect();
    for c in claimed.jobs {
        store.queue.release(c).await.unwrap();
    }
    ids
}

/// Runs `ops` against a fresh sled store (dropped and reopened on `Crash`) through the store
/// traits, and checks the invariant after each.
fn run_queue_model(ops: &[Op]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Stores::of(Arc::new(open(dir.path())));
    let targets: [Arc<str>; 2] = [Arc::from("a"), Arc::from("b")];
    // Model: acknowledged event id -> its seq; job id -> expected state.
    let mut acked: BTreeMap<u8, u64> = BTreeMap::new();
    let mut jobs: HashMap<u64, Expect> = HashMap::new();
    // Attempts claim far in the future (everything is due); the invariant looks further still,
    // past every lease an abandoned attempt left.
    let far = u64::MAX / 4;
    let past_leases = far + 3_600_000;
    let mut now = 1_000u64;
    for op in ops {
        now += 1;
        match op {
            Op::Accept { id, two_targets } => {
                let event_id = format!("evt_{id}");
                let body = format!("{{\"id\":\"{event_id}\"}}");
                let n = if *two_targets { 2 } else { 1 };
                let outcome = rt
                    .block_on(store.ingest.accept_durable(NewEvent {
                        endpoint: "ep",
                        event_id: &event_id,
                        event_type: None,
                        received_at_ms: now,
                        headers: vec![],
                        body: body.as_bytes(),
                        targets: &targets[..n],
                        ordering_keys: &[],
                    }))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                // Acknowledged now.
                match outcome {
                    AcceptOutcome::Accepted {
                        event_seq,
                        deliveries,
                    } => {
                        prop_assert!(!acked.contains_key(id), "a duplicate was accepted twice");
                        prop_assert_eq!(deliveries, n);
                        acked.insert(*id, event_seq);
                        let detail = rt.block_on(store.events.event_detail(event_seq)).unwrap();
                        for job in detail.expect("accepted").jobs {
                            jobs.insert(job.id, Expect::Pending);
                        }
                    }
                    AcceptOutcome::Duplicate { event_seq } => {
                        prop_assert_eq!(acked.get(id), Some(&event_seq));
                    }
                }
            }
            Op::Attempt { pick, outcome } => {
                let free = [(Arc::from("a"), 1024), (Arc::from("b"), 1024)].into();
                let request = ClaimRequest {
                    now_ms: far,
                    lease: Duration::from_secs(60),
                    free,
                    limit: 1024,
                };
                let mut claimed = rt.block_on(store.queue.claim_due(request)).unwrap().jobs;
                if claimed.is_empty() {
                    continue;
                }
                let job = claimed.remove(pick.index(claimed.len()));
                for other in claimed {
                    rt.block_on(store.queue.release(other)).unwrap();
                }
                let transition = match outcome {
                    Outcome::Delivered => JobTransition::Delivered,
                    Outcome::Retry => JobTransition::RetryAt { at_ms: now + 5 },
                    Outcome::Dead => JobTransition::Dead {
                        reason: "test".into(),
                    },
                    // Claimed, never recorded: its lease holds until a crash or it runs out.
                    Outcome::Abandoned => continue,
                };
                let attempt = Attempt {
                    attempt: 0,
                    at_ms: now,
                    latency_ms: 1,
                    status: Some(200),
                    error: None,
                    response_body: vec![],
                };
                let id = job.id;
                let recorded = rt
                    .block_on(store.queue.record(job, attempt, transition))
                    .unwrap();
                prop_assert!(
                    matches!(recorded, RecordOutcome::Recorded(_)),
                    "{:?}",
                    recorded
                );
                let expect = jobs.get_mut(&id).expect("a due job the model knows");
                *expect = match outcome {
                    Outcome::Delivered => Expect::Delivered,
                    Outcome::Dead => Expect::Dead,
                    _ => Expect::Pending,
                };
            }
            Op::RetryDead { pick } => {
                let dead = rt.block_on(store.events.dead_letters(None, 1024)).unwrap();
                if dead.is_empty() {
                    continue;
                }
                let (id, _) = dead[pick.index(dead.len())];
                rt.block_on(store.queue.retry_dead(id, now)).unwrap();
                jobs.insert(id, Expect::Pending);
            }
            Op::Crash => {
                drop(store);
                store = Stores::of(Arc::new(open(dir.path())));
            }
        }
        // Invariant: every acknowledged event's jobs exist, in the state the model expects, and
        // a pending one is due (will be attempted), a dead one is dead-lettered.
        let due = rt.block_on(due_ids(&store, past_leases));
        let dead: Vec<u64> = rt
            .block_on(store.events.dead_letters(None, 4096))
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for (id, seq) in &acked {
            let found = rt
                .block_on(store.events.find_event("ep", &format!("evt_{id}")))
                .unwrap();
            prop_assert_eq!(found, Some(*seq), "acknowledged evt_{} vanished", id);
            let detail = rt.block_on(store.events.event_detail(*seq)).unwrap();
            let event_jobs = detail.map(|d| d.jobs).unwrap_or_default();
            prop_assert!(!event_jobs.is_empty(), "evt_{} has no jobs", id);
            for job in event_jobs {
                let expect = jobs[&job.id];
                let ok = match (&job.job.state, expect) {
                    (JobState::Pending, Expect::Pending) => due.contains(&job.id),
                    (JobState::Delivered { .. }, Expect::Delivered) => true,
                    (JobState::Dead { .. }, Expect::Dead) => dead.contains(&job.id),
                    _ => false,
                };
                prop_assert!(
                    ok,
                    "job {} of evt_{}: {:?}, expected {:?}",
                    job.id,
                    id,
                    job.job.state,
                    expect
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases / 2, ..config() })]

    #[test]
    fn the_queue_never_loses_an_acknowledged_event(ops in prop::collection::vec(op(), 1..60)) {
        run_queue_model(&ops)?;
    }
}
