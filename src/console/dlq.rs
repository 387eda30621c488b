//! The dead letters page: dead-lettered jobs in id order (paged), a retry button on each, and
//! "retry all shown". With script, "retry all shown" posts the ids in batches of
//! [`BATCH`] and fills a progress bar; without, one post retries them all.

use super::error::ConsoleError;
use super::html::{self, csrf_field, esc, Section};
use super::session::{html_response, redirect, Session};
use crate::admin::{ops, AdminError, AdminState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::fmt::Write;

/// Dead letters per page.
pub const PAGE: usize = 100;
/// Ids per request when the page's script retries everything shown.
pub const BATCH: usize = 25;
/// Most ids one retry request takes.
const MAX_IDS: usize = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct DlqQuery {
    after: Option<u64>,
    done: Option<String>,
    n: Option<u64>,
}

/// `GET /ui/dlq`
pub async fn list(
    state: web::Data<AdminState>,
    session: Session,
    query: web::Query<DlqQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let mut jobs = ops::dead_letters(&state.store, query.after, PAGE + 1).await?;
    let more = jobs.len() > PAGE;
    jobs.truncate(PAGE);
    let csrf = session.csrf();
    let mut rows = String::new();
    for j in &jobs {
        let _ = write!(
            rows,
            r#"<tr data-job="{id}"><td data-label="Job">{id}</td><td data-label="Event"><a href="/ui/events/{seq}">event {seq}</a></td><td data-label="Target">{target}</td><td data-label="Attempts">{attempts}</td><td data-label="Dead since">{at}</td><td data-label="Reason">{reason}</td>
<td><form method="post" action="/ui/dlq/{id}/retry">{csrf}<button type="submit" aria-label="Retry job {id}">Retry</button></form></td></tr>"#,
            id = j.job_id,
            seq = j.event_seq,
            target = esc(&j.target),
            attempts = j.attempts,
            at = j.finished_at_ms.map(html::time_tag).unwrap_or_default(),
            reason = esc(j.dead_reason.as_deref().unwrap_or("")),
            csrf = csrf_field(csrf),
        );
    }
    let table = if jobs.is_empty() {
        "<p class=\"empty\" id=\"no-dead-letters\">No dead letters.</p>".to_string()
    } else {
        let ids: Vec<String> = jobs.iter().map(|j| j.job_id.to_string()).collect();
        format!(
            r#"<form method="post" action="/ui/dlq/retry" data-batch="{BATCH}" class="retry-all">{csrf}
<input type="hidden" name="ids" value="{ids}">
<button type="submit" id="retry-all">Retry all {n} shown</button>
<progress max="{n}" value="0" hidden aria-label="Dead letters requeued"></progress>
<span role="status" aria-live="polite"></span>
</form>
<div class="scroll"><table class="dlq stack"><caption class="sr-only">Dead letters, oldest first</caption>
<thead><tr><th scope="col">Job</th><th scope="col">Event</th><th scope="col">Target</th><th scope="col">Attempts</th><th scope="col">Dead since</th><th scope="col">Reason</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
<tbody>{rows}</tbody></table></div>"#,
            csrf = csrf_field(csrf),
            ids = ids.join(","),
            n = jobs.len(),
        )
    };
    let pager = match (more, jobs.last()) {
        (true, Some(last)) => format!(
            r#"<p class="pager"><a href="/ui/dlq?after={}" rel="next">Next dead letters</a></p>"#,
            last.job_id
        ),
        _ => String::new(),
    };
    let flash = match (query.done.as_deref(), query.n) {
        (Some("retry"), Some(id)) => format!("Job {id} is queued again."),
        (Some("retry_all"), Some(n)) => format!("{n} dead letters queued again."),
        _ => String::new(),
    };
    let body = format!("{table}{pager}");
    Ok(html_response(
        StatusCode::OK,
        html::page(
            "Dead letters",
            Section::DeadLetters,
            Some(csrf),
            &flash,
            &body,
        ),
    ))
}

#[derive(Debug, Deserialize)]
pub struct RetryOneForm {
    csrf: Option<String>,
}

/// `POST /ui/dlq/{job_id}/retry`
pub async fn retry_one(
    state: web::Data<AdminState>,
    session: Session,
    job_id: web::Path<u64>,
    form: web::Form<RetryOneForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    ops::retry_one(&state.store, *job_id).await?;
    tracing::info!(job_id = *job_id, "dead letter retried from the console");
    Ok(redirect(&format!("/ui/dlq?done=retry&n={}", *job_id)))
}

#[derive(Debug, Deserialize)]
pub struct RetryManyForm {
    csrf: Option<String>,
    #[serde(default)]
    ids: String,
    /// `json` from the page's script; otherwise the answer is a redirect.
    format: Option<String>,
}

/// `POST /ui/dlq/retry`: requeues the listed jobs; one that is no longer dead is skipped.
pub async fn retry_many(
    state: web::Data<AdminState>,
    session: Session,
    form: web::Form<RetryManyForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    let ids: Vec<u64> = form
        .ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|e| ConsoleError::BadRequest(format!("ids: {e}")))?;
    if ids.len() > MAX_IDS {
        return Err(ConsoleError::BadRequest(format!(
            "at most {MAX_IDS} jobs per request"
        )));
    }
    let (mut retried, mut skipped) = (0u64, 0u64);
    for id in ids {
        match ops::retry_one(&state.store, id).await {
            Ok(_) => retried += 1,
            Err(AdminError::NotDead(_) | AdminError::JobNotFound(_)) => skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(retried, skipped, "dead letters retried from the console");
    if form.format.as_deref() == Some("json") {
        return Ok(
            HttpResponse::Ok().json(serde_json::json!({"retried": retried, "skipped": skipped}))
        );
    }
    Ok(redirect(&format!("/ui/dlq?done=retry_all&n={retried}")))
}
