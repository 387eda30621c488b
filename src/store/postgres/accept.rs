//! Group commit of accepts: one writer task per instance takes every request waiting and writes
//! them in one transaction (dedup rows with `INSERT ... ON CONFLICT`, events and jobs as `UNNEST`
//! batches, a `NOTIFY`), committed with `synchronous_commit = on`; only then does any request of
//! the batch get its answer. Copies of one `(endpoint, event id)` within a batch are answered
//! as duplicates of the first; across instances the dedup row's unique key makes the second
//! writer wait for the first one's commit and then see its row.

use super::{Shared, WAKE_CHANNEL};
use crate::store::model::{AcceptOutcome, EventSeq, NewEvent};
use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Requests waiting for the writer before `accept_durable` waits for room.
pub const INBOX: usize = 4096;
/// Most requests in one transaction.
pub const MAX_BATCH: usize = 256;
/// A batch not committed within this answers 503 (the commit may still land: a retry of the
/// provider is then a duplicate, never a loss).
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

pub type CommitObserver = Box<dyn Fn(usize) + Send + Sync>;

/// An accept as the writer holds it.
pub struct OwnedEvent {
    endpoint: String,
    event_id: String,
    event_type: Option<String>,
    received_at_ms: i64,
    headers: Vec<u8>,
    body: Vec<u8>,
    targets: Vec<Arc<str>>,
    /// One per target: its ordering key, if the target orders by key.
    ordering_keys: Vec<Option<String>>,
}

impl From<NewEvent<'_>> for OwnedEvent {
    fn from(ev: NewEvent<'_>) -> Self {
        Self {
            endpoint: ev.endpoint.to_string(),
            event_id: ev.event_id.to_string(),
            event_type: ev.event_type.map(str::to_string),
            received_at_ms: ev.received_at_ms as i64,
            headers: encode_headers(&ev.headers),
            body: ev.body.to_vec(),
            targets: ev.targets.to_vec(),
            ordering_keys: (0..ev.targets.len())
                .map(|i| ev.ordering_keys.get(i).cloned().flatten())
                .collect(),
        }
    }
}

/// Request headers as stored in `hr_events.headers`.
pub fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    postcard::to_allocvec(headers).unwrap_or_default()
}

pub struct PendingAccept {
    event: OwnedEvent,
    reply: oneshot::Sender<Result<AcceptOutcome, StoreError>>,
}

/// Hands `event` to the writer and waits for its batch's commit.
pub async fn submit(
    writer: &mpsc::Sender<PendingAccept>,
    event: OwnedEvent,
) -> Result<AcceptOutcome, StoreError> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(PendingAccept { event, reply })
        .await
        .map_err(|_| StoreError::storage("the PostgreSQL writer has stopped"))?;
    answer
        .await
        .map_err(|_| StoreError::storage("the PostgreSQL writer dropped the request"))?
}

/// The writer's life: take what waits, commit it, answer, until `stop`.
pub async fn writer(
    shared: Arc<Shared>,
    mut inbox: mpsc::Receiver<PendingAccept>,
    observe: Arc<OnceLock<CommitObserver>>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => return,
            got = inbox.recv() => match got {
                Some(p) => p,
                None => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let events: Vec<&OwnedEvent> = batch.iter().map(|p| &p.event).collect();
        let result = match tokio::time::timeout(COMMIT_TIMEOUT, commit(&shared, &events)).await {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(e)) => Err(shared.fail("committing a batch of accepted events", e)),
            Err(_) => Err(StoreError::storage(format!(
                "committing a batch of accepted events took over {COMMIT_TIMEOUT:?}"
            ))),
        };
        match result {
            Ok(outcomes) => {
                if let Some(observe) = observe.get() {
                    observe(batch.len());
                }
                for (p, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = p.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                for p in batch {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Writes one batch in one transaction; the outcomes in the batch's order.
async fn commit(shared: &Shared, batch: &[&OwnedEvent]) -> Result<Vec<AcceptOutcome>, sqlx::Error> {
    // The first copy of each key leads; later copies in the batch follow its outcome.
    let mut leader_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut leaders: Vec<usize> = Vec::new();
    let mut follows: Vec<Option<usize>> = vec![None; batch.len()];
    for (i, ev) in batch.iter().enumerate() {
        let key = (ev.endpoint.as_str(), ev.event_id.as_str());
        match leader_of.get(&key) {
            Some(&lead) => follows[i] = Some(lead),
            None => {
                leader_of.insert(key, i);
                leaders.push(i);
            }
        }
    }
    // One lock order for every writer: fewer deadlocks between instances.
    leaders.sort_by(|a, b| {
        (&batch[*a].endpoint, &batch[*a].event_id).cmp(&(&batch[*b].endpoint, &batch[*b].event_id))
    });

    let mut tx = shared.pool.begin().await?;
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT nextval('hr_event_seq') FROM generate_series(1, $1)")
            .bind(leaders.len() as i32)
            .fetch_all(&mut *tx)
            .await?;
    let endpoints: Vec<&str> = leaders
        .iter()
        .map(|i| batch[*i].endpoint.as_str())
        .collect();
    let ids: Vec<&str> = leaders
        .iter()
        .map(|i| batch[*i].event_id.as_str())
        .collect();
    let ats: Vec<i64> = leaders.iter().map(|i| batch[*i].received_at_ms).collect();
    // A marker older than the window is taken over; a live one is kept (and locked until this
    // transaction ends, so the lookup below sees it).
    let won: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO hr_dedup (endpoint, event_id, seq, accepted_at_ms) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) \
         ON CONFLICT (endpoint, event_id) DO UPDATE \
           SET seq = EXCLUDED.seq, accepted_at_ms = EXCLUDED.accepted_at_ms \
           WHERE hr_dedup.accepted_at_ms + $5 <= EXCLUDED.accepted_at_ms \
         RETURNING seq",
    )
    .bind(&endpoints)
    .bind(&ids)
    .bind(&seqs)
    .bind(&ats)
    .bind(shared.dedup_ttl_ms)
    .fetch_all(&mut *tx)
    .await?;
    let won: std::collections::HashSet<i64> = won.into_iter().collect();

    let mut outcome: HashMap<usize, AcceptOutcome> = HashMap::new();
    let mut lost: Vec<usize> = Vec::new();
    for (k, &i) in leaders.iter().enumerate() {
        if won.contains(&seqs[k]) {
            outcome.insert(
                i,
                AcceptOutcome::Accepted {
                    event_seq: seqs[k] as EventSeq,
                    deliveries: batch[i].targets.len(),
                },
            );
        } else {
            lost.push(i);
        }
    }
    if !lost.is_empty() {
        let eps: Vec<&str> = lost.iter().map(|i| batch[*i].endpoint.as_str()).collect();
        let ids: Vec<&str> = lost.iter().map(|i| batch[*i].event_id.as_str()).collect();
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT d.endpoint, d.event_id, d.seq FROM hr_dedup d \
             JOIN UNNEST($1::text[], $2::text[]) AS k(endpoint, event_id) \
               ON d.endpoint = k.endpoint AND d.event_id = k.event_id",
        )
        .bind(&eps)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let existing: HashMap<(&str, &str), i64> = rows
            .iter()
            .map(|(e, i, s)| ((e.as_str(), i.as_str()), *s))
            .collect();
        for i in lost {
            let key = (batch[i].endpoint.as_str(), batch[i].event_id.as_str());
            let Some(&seq) = existing.get(&key) else {
                return Err(sqlx::Error::Protocol(format!(
                    "the dedup marker of {}/{} vanished during its batch",
                    key.0, key.1
                )));
            };
            outcome.insert(
                i,
                AcceptOutcome::Duplicate {
                    event_seq: seq as EventSeq,
                },
            );
        }
    }

    let accepted: Vec<(usize, i64)> = leaders
        .iter()
        .filter_map(|i| match outcome.get(i) {
            Some(AcceptOutcome::Accepted { event_seq, .. }) => Some((*i, *event_seq as i64)),
            _ => None,
        })
        .collect();
    if !accepted.is_empty() {
        let seqs: Vec<i64> = accepted.iter().map(|(_, s)| *s).collect();
        let ev = |i: &usize| batch[*i];
        let endpoints: Vec<&str> = accepted
            .iter()
            .map(|(i, _)| ev(i).endpoint.as_str())
            .collect();
        let ids: Vec<&str> = accepted
            .iter()
            .map(|(i, _)| ev(i).event_id.as_str())
            .collect();
        let types: Vec<Option<&str>> = accepted
            .iter()
            .map(|(i, _)| ev(i).event_type.as_deref())
            .collect();
        let ats: Vec<i64> = accepted.iter().map(|(i, _)| ev(i).received_at_ms).collect();
        let headers: Vec<&[u8]> = accepted
            .iter()
            .map(|(i, _)| ev(i).headers.as_slice())
            .collect();
        let bodies: Vec<&[u8]> = accepted
            .iter()
            .map(|(i, _)| ev(i).body.as_slice())
            .collect();
        sqlx::query(
            "INSERT INTO hr_events (seq, endpoint, event_id, event_type, received_at_ms, headers, body) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::bytea[], $7::bytea[])",
        )
        .bind(&seqs)
        .bind(&endpoints)
        .bind(&ids)
        .bind(&types)
        .bind(&ats)
        .bind(&headers)
        .bind(&bodies)
        .execute(&mut *tx)
        .await?;
        let mut job_seqs = Vec::new();
        let mut job_targets: Vec<&str> = Vec::new();
        let mut job_ats = Vec::new();
        let mut job_keys: Vec<Option<&str>> = Vec::new();
        for (i, seq) in &accepted {
            for (t, key) in ev(i).targets.iter().zip(&ev(i).ordering_keys) {
                job_seqs.push(*seq);
                job_targets.push(t);
                job_ats.push(ev(i).received_at_ms);
                job_keys.push(key.as_deref());
            }
        }
        // Inserted in acceptance order, so ids order each key's jobs.
        sqlx::query(
            "INSERT INTO hr_jobs (event_seq, target, created_at_ms, next_attempt_at_ms, ordering_key) \
             SELECT s, t, a, a, k FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[]) \
             WITH ORDINALITY AS x(s, t, a, k, n) ORDER BY n",
        )
        .bind(&job_seqs)
        .bind(&job_targets)
        .bind(&job_ats)
        .bind(&job_keys)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(WAKE_CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;

    Ok((0..batch.len())
        .map(|i| {
            let lead = follows[i].unwrap_or(i);
            match outcome[&lead] {
                o if lead == i => o,
                AcceptOutcome::Accepted { event_seq, .. }
                | AcceptOutcome::Duplicate { event_seq } => AcceptOutcome::Duplicate { event_seq },
            }
        })
        .collect())
}
