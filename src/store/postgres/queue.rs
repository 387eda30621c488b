//! The delivery queue in `hr_jobs`: a claim is a lease written into the job's row (owner, token
//! from a sequence, expiry). Claims of all instances run one at a time (a transaction-scoped
//! advisory lock), so the live leases of the other instances can be subtracted from a target's
//! free slots exactly: a target's `concurrency` holds across instances. The picked rows are
//! taken `FOR UPDATE SKIP LOCKED`, passing over a job whose record or renewal is being written.
//! Renew, record, postpone and release match on the token, so a holder whose lease was taken
//! over changes nothing.

use super::reads::{job_of, JOB_COLUMNS};
use super::{Shared, WAKE_CHANNEL};
use crate::store::model::*;
use crate::store::{QueueError, StoreError};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

/// The advisory lock every claim transaction takes (any fixed number; "hookrt" in ASCII).
const CLAIM_LOCK: i64 = 0x686f_6f6b_7274;

const STATE_PENDING: i16 = 0;
const STATE_DELIVERED: i16 = 1;
const STATE_DEAD: i16 = 2;

pub async fn claim(s: &Shared, request: ClaimRequest) -> Result<Claimed, StoreError> {
    let fail = |e| s.fail("claiming due jobs", e);
    let now = request.now_ms as i64;
    let until = now.saturating_add(request.lease.as_millis() as i64);
    let mut free = request.free;
    if free.values().all(|n| *n == 0) {
        return Ok(SlotBudget::new(free).into_claimed(Vec::new()));
    }
    let mut tx = s.pool.begin().await.map_err(fail)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CLAIM_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
    // Slots the other instances hold now: this instance's own are already out of `free`.
    let elsewhere: Vec<(String, i64)> = sqlx::query_as(
        "SELECT target, count(*) FROM hr_jobs \
         WHERE state = 0 AND lease_token IS NOT NULL AND lease_expires_ms > $1 AND lease_owner <> $2 \
         GROUP BY target",
    )
    .bind(now)
    .bind(&s.owner)
    .fetch_all(&mut *tx)
    .await
    .map_err(fail)?;
    for (target, held) in elsewhere {
        if let Some(n) = free.get_mut(target.as_str()) {
            *n = n.saturating_sub(held as usize);
        }
    }
    let mut budget = SlotBudget::new(free);
    if budget.exhausted() {
        tx.rollback().await.map_err(fail)?;
        return Ok(budget.into_claimed(Vec::new()));
    }
    // `held`: an earlier job of the same target and ordering key is still pending (in flight
    // included), so this one waits its turn (`key_allows`).
    let due: Vec<(i64, String, i64, bool)> = sqlx::query_as(
        "SELECT j.id, j.target, j.next_attempt_at_ms, \
                (j.ordering_key IS NOT NULL AND EXISTS ( \
                    SELECT 1 FROM hr_jobs e WHERE e.state = 0 AND e.target = j.target \
                      AND e.ordering_key = j.ordering_key AND e.id < j.id)) AS held \
         FROM hr_jobs j \
         WHERE j.state = 0 AND j.next_attempt_at_ms <= $1 \
           AND (j.lease_expires_ms IS NULL OR j.lease_expires_ms <= $1) \
         ORDER BY j.next_attempt_at_ms, j.id LIMIT $2",
    )
    .bind(now)
    .bind(request.limit as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(fail)?;
    let mut picked: Vec<i64> = Vec::new();
    for (id, target, at, held) in &due {
        if *held {
            budget.hold(target, *at as u64);
            continue;
        }
        match budget.pick(target, *at as u64) {
            ScanPick::Leave => continue,
            ScanPick::Take => picked.push(*id),
            ScanPick::TakeLast => {
                picked.push(*id);
                break;
            }
        }
    }
    let mut jobs = Vec::new();
    if !picked.is_empty() {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH picked AS ( \
               SELECT id FROM hr_jobs WHERE id = ANY($1) AND state = 0 \
                 AND (lease_expires_ms IS NULL OR lease_expires_ms <= $2) \
               FOR UPDATE SKIP LOCKED) \
             UPDATE hr_jobs j SET lease_owner = $3, lease_token = nextval('hr_lease_token'), \
               lease_expires_ms = $4 \
             FROM picked WHERE j.id = picked.id \
             RETURNING j.id, j.lease_token, {JOB_COLUMNS}"
        )))
        .bind(&picked)
        .bind(now)
        .bind(&s.owner)
        .bind(until)
        .fetch_all(&mut *tx)
        .await
        .map_err(fail)?;
        for row in rows {
            let id: i64 = row.try_get(0).map_err(fail)?;
            let token: i64 = row.try_get(1).map_err(fail)?;
            jobs.push(ClaimedJob {
                id: id as JobId,
                job: job_of(&row, 2).map_err(fail)?,
                lease: Lease {
                    token: token as u64,
                    expires_at_ms: until as u64,
                },
            });
        }
        jobs.sort_by_key(|c| (c.job.next_attempt_at_ms, c.id));
    }
    tx.commit().await.map_err(fail)?;
    Ok(budget.into_claimed(jobs))
}

pub async fn renew(
    s: &Shared,
    id: JobId,
    token: u64,
    until_ms: u64,
) -> Result<Option<Lease>, StoreError> {
    let renewed: Option<i64> = sqlx::query_scalar(
        "UPDATE hr_jobs SET lease_expires_ms = $3 WHERE id = $1 AND lease_token = $2 \
         RETURNING lease_token",
    )
    .bind(id as i64)
    .bind(token as i64)
    .bind(until_ms as i64)
    .fetch_optional(&s.pool)
    .await
    .map_err(|e| s.fail("renewing a lease", e))?;
    Ok(renewed.map(|t| Lease {
        token: t as u64,
        expires_at_ms: until_ms,
    }))
}

pub async fn record(
    s: &Shared,
    claim: ClaimedJob,
    attempt: Attempt,
    transition: JobTransition,
) -> Result<RecordOutcome, StoreError> {
    let fail = |e| s.fail("recording an attempt", e);
    let mut tx = s.pool.begin().await.map_err(fail)?;
    // As on sled, an outcome is not worth a WAL flush of its own: lost in a crash of the
    // database, the attempt is made again (delivery is at least once). Accepts keep theirs.
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM hr_jobs WHERE id = $1 AND lease_token = $2 FOR UPDATE"
    )))
    .bind(claim.id as i64)
    .bind(claim.lease.token as i64)
    .fetch_optional(&mut *tx)
    .await
    .map_err(fail)?;
    let Some(row) = row else {
        return Ok(RecordOutcome::Stale);
    };
    let mut job = job_of(&row, 0).map_err(fail)?;
    if job.state != JobState::Pending || job.attempts != claim.job.attempts {
        end_lease(&mut tx, claim.id, claim.lease.token)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        return Ok(RecordOutcome::Stale);
    }
    job.attempts += 1;
    let at_ms = attempt.at_ms;
    sqlx::query(
        "INSERT INTO hr_attempts (job_id, attempt, at_ms, latency_ms, status, error, response_body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(claim.id as i64)
    .bind(job.attempts as i32)
    .bind(attempt.at_ms as i64)
    .bind(attempt.latency_ms as i64)
    .bind(attempt.status.map(i32::from))
    .bind(&attempt.error)
    .bind(&attempt.response_body)
    .execute(&mut *tx)
    .await
    .map_err(fail)?;
    let (state, finished, reason) = match transition {
        JobTransition::Delivered => {
            job.state = JobState::Delivered { at_ms };
            (STATE_DELIVERED, Some(at_ms as i64), None)
        }
        JobTransition::RetryAt { at_ms: next } => {
            job.next_attempt_at_ms = next;
            (STATE_PENDING, None, None)
        }
        JobTransition::Dead { reason } => {
            job.state = JobState::Dead {
                at_ms,
                reason: reason.clone(),
            };
            (STATE_DEAD, Some(at_ms as i64), Some(reason))
        }
    };
    sqlx::query(
        "UPDATE hr_jobs SET attempts = $2, state = $3, finished_at_ms = $4, dead_reason = $5, \
           next_attempt_at_ms = $6, lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL \
         WHERE id = $1",
    )
    .bind(claim.id as i64)
    .bind(job.attempts as i32)
    .bind(state)
    .bind(finished)
    .bind(reason)
    .bind(job.next_attempt_at_ms as i64)
    .execute(&mut *tx)
    .await
    .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    Ok(RecordOutcome::Recorded(job))
}

async fn end_lease(tx: &mut sqlx::PgConnection, id: JobId, token: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE hr_jobs SET lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL \
         WHERE id = $1 AND lease_token = $2",
    )
    .bind(id as i64)
    .bind(token as i64)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn postpone(s: &Shared, claim: ClaimedJob, until_ms: u64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE hr_jobs SET \
           next_attempt_at_ms = CASE WHEN state = 0 THEN $3 ELSE next_attempt_at_ms END, \
           lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL \
         WHERE id = $1 AND lease_token = $2",
    )
    .bind(claim.id as i64)
    .bind(claim.lease.token as i64)
    .bind(until_ms as i64)
    .execute(&s.pool)
    .await
    .map_err(|e| s.fail("postponing a job", e))?;
    Ok(())
}

pub async fn release(s: &Shared, claim: ClaimedJob) -> Result<(), StoreError> {
    let mut conn = s
        .pool
        .acquire()
        .await
        .map_err(|e| s.fail("releasing a claim", e))?;
    end_lease(&mut conn, claim.id, claim.lease.token)
        .await
        .map_err(|e| s.fail("releasing a claim", e))?;
    s.wake.notify_one();
    Ok(())
}

pub async fn next_due_after(s: &Shared, now_ms: u64) -> Result<Option<u64>, StoreError> {
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT min(next_attempt_at_ms) FROM hr_jobs WHERE state = 0 AND next_attempt_at_ms > $1",
    )
    .bind(now_ms as i64)
    .fetch_one(&s.pool)
    .await
    .map_err(|e| s.fail("reading the next due time", e))?;
    Ok(next.map(|n| n as u64))
}

pub async fn retry_dead(s: &Shared, id: JobId, now_ms: u64) -> Result<Job, QueueError> {
    let fail = |e| QueueError::Store(s.fail("retrying a dead letter", e));
    let mut tx = s.pool.begin().await.map_err(fail)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE hr_jobs SET state = 0, finished_at_ms = NULL, dead_reason = NULL, \
           next_attempt_at_ms = $2, lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL \
         WHERE id = $1 AND state = 2 RETURNING {JOB_COLUMNS}"
    )))
    .bind(id as i64)
    .bind(now_ms as i64)
    .fetch_optional(&mut *tx)
    .await
    .map_err(fail)?;
    let Some(row) = row else {
        let exists: Option<i16> = sqlx::query_scalar("SELECT state FROM hr_jobs WHERE id = $1")
            .bind(id as i64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
        return Err(match exists {
            None => QueueError::JobNotFound(id),
            Some(_) => QueueError::NotDead(id),
        });
    };
    let job = job_of(&row, 0).map_err(fail)?;
    notify(&mut tx).await.map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    s.wake.notify_one();
    Ok(job)
}

pub async fn replay(
    s: &Shared,
    seq: EventSeq,
    targets: Vec<Arc<str>>,
    now_ms: u64,
) -> Result<Vec<JobId>, QueueError> {
    let fail = |e| QueueError::Store(s.fail("replaying an event", e));
    let mut tx = s.pool.begin().await.map_err(fail)?;
    // Held until the jobs are in: retention cannot remove the event meanwhile.
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM hr_events WHERE seq = $1 FOR SHARE")
        .bind(seq as i64)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
    if found.is_none() {
        return Err(QueueError::EventNotFound(seq));
    }
    let names: Vec<&str> = targets.iter().map(|t| &**t).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO hr_jobs (event_seq, target, created_at_ms, next_attempt_at_ms) \
         SELECT $1, t, $3, $3 FROM UNNEST($2::text[]) AS x(t) RETURNING id",
    )
    .bind(seq as i64)
    .bind(&names)
    .bind(now_ms as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(fail)?;
    notify(&mut tx).await.map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    s.wake.notify_one();
    Ok(ids.into_iter().map(|i| i as JobId).collect())
}

/// Wakes every instance's dispatcher when the transaction commits.
async fn notify(tx: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WAKE_CHANNEL)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn depths(s: &Shared) -> Result<Vec<(Arc<str>, TargetJobs)>, StoreError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT target, count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 2) \
         FROM hr_jobs WHERE state <> 1 GROUP BY target ORDER BY target",
    )
    .fetch_all(&s.pool)
    .await
    .map_err(|e| s.fail("reading queue depths", e))?;
    let mut out: HashMap<Arc<str>, TargetJobs> = HashMap::new();
    for (target, pending, dead) in rows {
        out.insert(Arc::from(target.as_str()), TargetJobs { pending, dead });
    }
    let mut out: Vec<_> = out.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Marks `target` paused or not, for every instance.
pub async fn set_paused(shared: &Shared, target: &str, paused: bool) -> Result<(), StoreError> {
    let query = if paused {
        "INSERT INTO hr_paused (target) VALUES ($1) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM hr_paused WHERE target = $1"
    };
    sqlx::query(query)
        .bind(target)
        .execute(&shared.pool)
        .await
        .map_err(|e| shared.fail("recording a pause", e))?;
    Ok(())
}

/// The paused targets, sorted by name.
pub async fn paused(shared: &Shared) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("SELECT target FROM hr_paused ORDER BY target")
        .fetch_all(&shared.pool)
        .await
        .map_err(|e| shared.fail("reading the paused targets", e))
}
