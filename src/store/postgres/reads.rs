//! Reads for the admin API and tools (events, details, dead letters, counts) and retention over
//! the same tables: finished events removed `batch` at a time, each batch one statement that
//! deletes the events, their jobs and their attempts together; dedup markers past the window.

use super::Shared;
use crate::store::model::*;
use crate::store::StoreError;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// The columns [`job_of`] reads, in its order.
pub const JOB_COLUMNS: &str = "event_seq, target, created_at_ms, state, finished_at_ms, \
     dead_reason, attempts, next_attempt_at_ms, ordering_key";

/// A job from [`JOB_COLUMNS`] starting at column `at`.
pub fn job_of(row: &PgRow, at: usize) -> Result<Job, sqlx::Error> {
    let state: i16 = row.try_get(at + 3)?;
    let finished: Option<i64> = row.try_get(at + 4)?;
    let reason: Option<String> = row.try_get(at + 5)?;
    let finished = finished.unwrap_or_default() as u64;
    Ok(Job {
        event_seq: row.try_get::<i64, _>(at)? as EventSeq,
        target: row.try_get(at + 1)?,
        created_at_ms: row.try_get::<i64, _>(at + 2)? as u64,
        state: match state {
            0 => JobState::Pending,
            1 => JobState::Delivered { at_ms: finished },
            _ => JobState::Dead {
                at_ms: finished,
                reason: reason.unwrap_or_default(),
            },
        },
        attempts: row.try_get::<i32, _>(at + 6)? as u32,
        next_attempt_at_ms: row.try_get::<i64, _>(at + 7)? as u64,
        ordering_key: row.try_get(at + 8)?,
    })
}

const EVENT_COLUMNS: &str =
    "seq, endpoint, event_id, event_type, received_at_ms, headers, octet_length(body)";

fn event_of(row: &PgRow) -> Result<(EventSeq, Event), sqlx::Error> {
    let headers: Vec<u8> = row.try_get(5)?;
    let headers = postcard::from_bytes(&headers).map_err(|e| sqlx::Error::ColumnDecode {
        index: "headers".into(),
        source: Box::new(e),
    })?;
    Ok((
        row.try_get::<i64, _>(0)? as EventSeq,
        Event {
            endpoint: row.try_get(1)?,
            event_id: row.try_get(2)?,
            event_type: row.try_get(3)?,
            received_at_ms: row.try_get::<i64, _>(4)? as u64,
            headers,
            body_len: row.try_get::<i32, _>(6)? as u64,
        },
    ))
}

pub async fn event_with_body(
    s: &Shared,
    seq: EventSeq,
) -> Result<Option<(Event, Vec<u8>)>, StoreError> {
    let fail = |e| s.fail("reading an event", e);
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS}, body FROM hr_events WHERE seq = $1"
    )))
    .bind(seq as i64)
    .fetch_optional(&s.pool)
    .await
    .map_err(fail)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (_, event) = event_of(&row).map_err(fail)?;
    let body: Vec<u8> = row.try_get(7).map_err(fail)?;
    Ok(Some((event, body)))
}

async fn jobs_of(s: &Shared, seqs: &[i64]) -> Result<Vec<(JobId, Job)>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, {JOB_COLUMNS} FROM hr_jobs WHERE event_seq = ANY($1) ORDER BY id"
    )))
    .bind(seqs)
    .fetch_all(&s.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)? as JobId, job_of(r, 1)?)))
        .collect()
}

pub async fn events_page(
    s: &Shared,
    after: Option<EventSeq>,
    limit: usize,
) -> Result<Vec<EventSummary>, StoreError> {
    let fail = |e| s.fail("reading a page of events", e);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM hr_events WHERE seq > $1 ORDER BY seq LIMIT $2"
    )))
    .bind(after.map_or(0, |a| a as i64))
    .bind(limit as i64)
    .fetch_all(&s.pool)
    .await
    .map_err(fail)?;
    let events = rows
        .iter()
        .map(event_of)
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq as i64).collect();
    let jobs = jobs_of(s, &seqs).await.map_err(fail)?;
    Ok(events
        .into_iter()
        .map(|(seq, event)| EventSummary {
            seq,
            event,
            jobs: jobs
                .iter()
                .filter(|(_, j)| j.event_seq == seq)
                .map(|(_, j)| j.clone())
                .collect(),
        })
        .collect())
}

pub async fn find_event(
    s: &Shared,
    endpoint: &str,
    event_id: &str,
) -> Result<Option<EventSeq>, StoreError> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM hr_dedup WHERE endpoint = $1 AND event_id = $2")
            .bind(endpoint)
            .bind(event_id)
            .fetch_optional(&s.pool)
            .await
            .map_err(|e| s.fail("finding an event", e))?;
    Ok(seq.map(|s| s as EventSeq))
}

pub async fn event_detail(s: &Shared, seq: EventSeq) -> Result<Option<EventDetail>, StoreError> {
    let fail = |e| s.fail("reading an event's detail", e);
    let Some((event, _)) = event_with_body(s, seq).await? else {
        return Ok(None);
    };
    let jobs = jobs_of(s, &[seq as i64]).await.map_err(fail)?;
    let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id as i64).collect();
    let rows = sqlx::query(
        "SELECT job_id, attempt, at_ms, latency_ms, status, error, response_body \
         FROM hr_attempts WHERE job_id = ANY($1) ORDER BY job_id, attempt",
    )
    .bind(&ids)
    .fetch_all(&s.pool)
    .await
    .map_err(fail)?;
    let mut attempts: Vec<(i64, Attempt)> = Vec::new();
    for r in rows {
        let attempt = Attempt {
            attempt: r.try_get::<i32, _>(1).map_err(fail)? as u32,
            at_ms: r.try_get::<i64, _>(2).map_err(fail)? as u64,
            latency_ms: r.try_get::<i64, _>(3).map_err(fail)? as u64,
            status: r
                .try_get::<Option<i32>, _>(4)
                .map_err(fail)?
                .map(|s| s as u16),
            error: r.try_get(5).map_err(fail)?,
            response_body: r.try_get(6).map_err(fail)?,
        };
        attempts.push((r.try_get(0).map_err(fail)?, attempt));
    }
    Ok(Some(EventDetail {
        seq,
        event,
        jobs: jobs
            .into_iter()
            .map(|(id, job)| JobDetail {
                id,
                job,
                attempts: attempts
                    .iter()
                    .filter(|(j, _)| *j == id as i64)
                    .map(|(_, a)| a.clone())
                    .collect(),
            })
            .collect(),
    }))
}

pub async fn job(s: &Shared, id: JobId) -> Result<Option<Job>, StoreError> {
    let fail = |e| s.fail("reading a job", e);
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM hr_jobs WHERE id = $1"
    )))
    .bind(id as i64)
    .fetch_optional(&s.pool)
    .await
    .map_err(fail)?;
    row.map(|r| job_of(&r, 0)).transpose().map_err(fail)
}

pub async fn dead_letters(
    s: &Shared,
    after: Option<JobId>,
    limit: usize,
) -> Result<Vec<(JobId, Job)>, StoreError> {
    let fail = |e| s.fail("reading dead letters", e);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, {JOB_COLUMNS} FROM hr_jobs WHERE state = 2 AND id > $1 ORDER BY id LIMIT $2"
    )))
    .bind(after.map_or(0, |a| a as i64))
    .bind(limit as i64)
    .fetch_all(&s.pool)
    .await
    .map_err(fail)?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)? as JobId, job_of(r, 1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(fail)
}

pub async fn counts(s: &Shared) -> Result<StoreCounts, StoreError> {
    let (events, jobs, queued): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM hr_events), (SELECT count(*) FROM hr_jobs), \
                (SELECT count(*) FROM hr_jobs WHERE state = 0)",
    )
    .fetch_one(&s.pool)
    .await
    .map_err(|e| s.fail("counting the store", e))?;
    Ok(StoreCounts {
        events: events as usize,
        jobs: jobs as usize,
        queued: queued as usize,
    })
}

pub async fn prune_finished(
    s: &Shared,
    cutoff_ms: u64,
    batch: usize,
) -> Result<PruneReport, StoreError> {
    let fail = |e| s.fail("pruning finished events", e);
    let mut report = PruneReport::default();
    let batch = batch.max(1) as i64;
    loop {
        let (events, jobs, attempts): (i64, i64, i64) = sqlx::query_as(
            "WITH victims AS ( \
               SELECT seq FROM hr_events e WHERE e.received_at_ms < $1 \
                 AND NOT EXISTS (SELECT 1 FROM hr_jobs j WHERE j.event_seq = e.seq AND j.state = 0) \
               ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED), \
             dj AS (DELETE FROM hr_jobs j USING victims v WHERE j.event_seq = v.seq RETURNING j.id), \
             da AS (DELETE FROM hr_attempts a USING dj WHERE a.job_id = dj.id RETURNING 1), \
             de AS (DELETE FROM hr_events e USING victims v WHERE e.seq = v.seq RETURNING 1) \
             SELECT (SELECT count(*) FROM de), (SELECT count(*) FROM dj), (SELECT count(*) FROM da)",
        )
        .bind(cutoff_ms as i64)
        .bind(batch)
        .fetch_one(&s.pool)
        .await
        .map_err(fail)?;
        report.events += events as u64;
        report.jobs += jobs as u64;
        report.attempts += attempts as u64;
        if events < batch {
            break;
        }
    }
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM hr_events e WHERE e.received_at_ms < $1 \
           AND EXISTS (SELECT 1 FROM hr_jobs j WHERE j.event_seq = e.seq AND j.state = 0)",
    )
    .bind(cutoff_ms as i64)
    .fetch_one(&s.pool)
    .await
    .map_err(fail)?;
    report.kept_pending = kept as u64;
    Ok(report)
}

/// Markers older than the window, removed this many per statement.
const DEDUP_PRUNE_BATCH: i64 = 10_000;

pub async fn prune_dedup(s: &Shared, now_ms: u64) -> Result<usize, StoreError> {
    let mut removed = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM hr_dedup WHERE ctid = ANY(ARRAY( \
               SELECT ctid FROM hr_dedup WHERE accepted_at_ms <= $1 - $2 LIMIT $3))",
        )
        .bind(now_ms as i64)
        .bind(s.dedup_ttl_ms)
        .bind(DEDUP_PRUNE_BATCH)
        .execute(&s.pool)
        .await
        .map_err(|e| s.fail("pruning dedup markers", e))?
        .rows_affected();
        removed += done as usize;
        if (done as i64) < DEDUP_PRUNE_BATCH {
            return Ok(removed);
        }
    }
}
