//! One event's page: what was stored (headers, the body pretty-printed), its deliveries with
//! every attempt (refreshed live, so a replay's attempts appear without a reload), and a form
//! that replays it to every target its endpoint's rules route it to now, or to one target.

use super::error::ConsoleError;
use super::events::{event_status, status_badge};
use super::html::{self, csrf_field, esc, Section};
use super::session::{html_response, redirect, Session};
use crate::admin::views::EventView;
use crate::admin::{ops, AdminState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::fmt::Write;

/// Most body bytes shown on an event's page.
const BODY_SHOWN: usize = 256 * 1024;

fn deliveries_html(view: &EventView) -> String {
    let mut out = String::new();
    if view.jobs.is_empty() {
        out.push_str("<p>No deliveries: no rule routed this event to a target.</p>");
    }
    for d in &view.jobs {
        let j = &d.job;
        let mut facts = format!(
            "{} attempt{}",
            j.attempts,
            if j.attempts == 1 { "" } else { "s" }
        );
        match j.state.as_str() {
            "pending" => {
                let _ = write!(
                    facts,
                    " · next attempt {}",
                    html::time(j.next_attempt_at_ms)
                );
            }
            _ => {
                if let Some(at) = j.finished_at_ms {
                    let _ = write!(facts, " · {} {}", j.state, html::time(at));
                }
            }
        }
        let _ = write!(
            out,
            r#"<article class="job" id="job-{id}" data-job="{id}" data-state="{state}"><h3>Job {id} → {target} {badge}</h3><p>{facts}</p>"#,
            id = j.job_id,
            state = esc(&j.state),
            target = esc(&j.target),
            badge = status_badge(&j.state),
            facts = esc(&facts),
        );
        if let Some(reason) = &j.dead_reason {
            let _ = write!(out, r#"<p class="error">Dead: {}</p>"#, esc(reason));
        }
        if d.attempt_log.is_empty() {
            out.push_str("<p>No attempt yet.</p>");
        } else {
            let _ = write!(
                out,
                r#"<div class="scroll"><table class="attempts"><caption class="sr-only">Attempts of job {}</caption><thead><tr><th scope="col">#</th><th scope="col">At</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col">Error</th><th scope="col">Response (start)</th></tr></thead><tbody>"#,
                j.job_id
            );
            for a in &d.attempt_log {
                let _ = write!(
                    out,
                    r#"<tr class="attempt"><td>{n}</td><td>{at}</td><td>{status}</td><td>{lat}</td><td>{err}</td><td><pre class="response">{body}</pre></td></tr>"#,
                    n = a.attempt,
                    at = html::time_tag(a.at_ms),
                    status = a
                        .status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    lat = esc(&html::duration_ms(a.latency_ms)),
                    err = esc(a.error.as_deref().unwrap_or("")),
                    body = esc(&a.response_body),
                );
            }
            out.push_str("</tbody></table></div>");
        }
        out.push_str("</article>");
    }
    out
}

/// The body as shown: pretty JSON when it parses, else the text (lossy UTF-8), cut at
/// [`BODY_SHOWN`] bytes.
pub fn pretty_body(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Ok(pretty) = serde_json::to_string_pretty(&v) {
            if pretty.len() <= BODY_SHOWN {
                return pretty;
            }
        }
    }
    let shown = &body[..body.len().min(BODY_SHOWN)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if body.len() > BODY_SHOWN {
        let _ = write!(text, "\n… ({} more bytes)", body.len() - BODY_SHOWN);
    }
    text
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
    n: Option<u64>,
}

/// `GET /ui/events/{seq}`
pub async fn show(
    state: web::Data<AdminState>,
    session: Session,
    seq: web::Path<u64>,
    done: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    let seq = *seq;
    let view = ops::show_event(&state.store, &seq.to_string()).await?;
    let event = state
        .store
        .events
        .event(seq)
        .await
        .map_err(|e| ConsoleError::Admin(e.into()))?;
    let body = state
        .store
        .events
        .body(seq)
        .await
        .map_err(|e| ConsoleError::Admin(e.into()))?;
    let s = &view.summary;
    let mut headers = String::new();
    for (name, value) in event.map(|e| e.headers).unwrap_or_default() {
        let _ = write!(
            headers,
            r#"<tr><th scope="row">{}</th><td>{}</td></tr>"#,
            esc(&name),
            esc(&String::from_utf8_lossy(&value))
        );
    }
    if headers.is_empty() {
        headers.push_str(r#"<tr><td colspan="2">No headers stored.</td></tr>"#);
    }
    let mut target_options = String::from(
        r#"<option value="">every target its endpoint's rules route it to now</option>"#,
    );
    for name in state.config.load().targets.keys() {
        let _ = write!(
            target_options,
            r#"<option value="{0}">{0}</option>"#,
            esc(name)
        );
    }
    let flash = match (done.done.as_deref(), done.n) {
        (Some("replay"), Some(n)) => format!(
            "Replayed: {n} new deliver{} queued.",
            if n == 1 { "y" } else { "ies" }
        ),
        _ => String::new(),
    };
    let page_body = format!(
        r#"<dl class="facts">
<dt>Sequence</dt><dd>{seq}</dd>
<dt>Endpoint</dt><dd>{ep}</dd>
<dt>Event id</dt><dd id="event-id">{id}</dd>
<dt>Type</dt><dd>{ty}</dd>
<dt>Received</dt><dd>{at}</dd>
<dt>Status</dt><dd>{status}</dd>
<dt>Body</dt><dd>{len} bytes</dd>
</dl>
<section aria-labelledby="replay-h"><h2 id="replay-h">Replay</h2>
<form method="post" action="/ui/events/{seq}/replay" class="inline">{csrf}
<label for="replay-target">Deliver again to</label>
<select id="replay-target" name="target">{target_options}</select>
<button type="submit" id="replay">Replay</button>
</form></section>
<section aria-labelledby="deliveries-h"><h2 id="deliveries-h">Deliveries</h2>
<div class="live" data-live="/ui/events/{seq}/deliveries" aria-live="polite">{deliveries}</div></section>
<section aria-labelledby="headers-h"><h2 id="headers-h">Stored headers</h2>
<div class="scroll"><table class="headers"><tbody>{headers}</tbody></table></div></section>
<section aria-labelledby="body-h"><h2 id="body-h">Body</h2>
<pre class="body" tabindex="0" aria-label="Event body">{body}</pre></section>"#,
        ep = esc(&s.endpoint),
        id = esc(&s.event_id),
        ty = esc(s.event_type.as_deref().unwrap_or("-")),
        at = html::time_tag(s.received_at_ms),
        status = status_badge(event_status(&s.deliveries)),
        len = view.body_len,
        csrf = csrf_field(session.csrf()),
        deliveries = deliveries_html(&view),
        body = esc(&pretty_body(&body)),
    );
    let title = format!("Event {}", s.event_id);
    Ok(html_response(
        StatusCode::OK,
        html::page(
            &title,
            Section::Events,
            Some(session.csrf()),
            &flash,
            &page_body,
        ),
    ))
}

/// `GET /ui/events/{seq}/deliveries`: the deliveries section alone, for the live refresh.
pub async fn deliveries(
    state: web::Data<AdminState>,
    _session: Session,
    seq: web::Path<u64>,
) -> Result<HttpResponse, ConsoleError> {
    let view = ops::show_event(&state.store, &seq.to_string()).await?;
    Ok(html_response(StatusCode::OK, deliveries_html(&view)))
}

#[derive(Debug, Deserialize)]
pub struct ReplayForm {
    csrf: Option<String>,
    #[serde(default)]
    target: String,
}

/// `POST /ui/events/{seq}/replay`
pub async fn replay(
    state: web::Data<AdminState>,
    session: Session,
    seq: web::Path<u64>,
    form: web::Form<ReplayForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    let target = Some(form.target.trim()).filter(|t| !t.is_empty());
    let config = state.config.load_full();
    let view = ops::replay(&state.store, &config, *seq, target).await?;
    tracing::info!(
        event_seq = *seq,
        jobs = view.jobs.len(),
        "replayed from the console"
    );
    Ok(redirect(&format!(
        "/ui/events/{}?done=replay&n={}",
        *seq,
        view.jobs.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_pretty_printed_when_it_is_json() {
        assert_eq!(pretty_body(br#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty_body(b"a=1&b=2"), "a=1&b=2");
    }
}
