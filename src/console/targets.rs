//! The targets page: per target, its delivery state (paused or delivering, circuit breaker) with
//! a pause / resume switch, its queue (pending jobs, dead letters, how long the oldest due job
//! has waited) from the store and the dispatcher's last scan, and how its recent attempts went
//! (success rate, mean and worst latency over [`RECENT`]) from the metrics.

use super::error::ConsoleError;
use super::html::{self, csrf_field, esc, Section};
use super::session::{html_response, redirect, Session};
use crate::admin::{AdminError, AdminState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window "recent" attempts are taken from.
pub const RECENT: Duration = Duration::from_secs(15 * 60);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

async fn table(state: &AdminState, csrf: &str) -> Result<String, ConsoleError> {
    let config = state.config.load_full();
    let depths: BTreeMap<String, crate::store::TargetJobs> = state
        .store
        .queue
        .depths()
        .await
        .map_err(|e| ConsoleError::Admin(AdminError::Store(e)))?
        .into_iter()
        .map(|(t, j)| (t.to_string(), j))
        .collect();
    let oldest = state.metrics.oldest_due_ms();
    let now = now_ms();
    let since = now.saturating_sub(RECENT.as_millis() as u64);
    let mut names: Vec<String> = config.targets.keys().map(|k| k.to_string()).collect();
    names.extend(
        depths
            .keys()
            .filter(|k| !config.targets.contains_key(k.as_str()))
            .cloned(),
    );
    let mut out = String::from(
        r#"<div class="scroll"><table class="targets stack"><caption class="sr-only">Targets</caption><thead><tr><th scope="col">Target</th><th scope="col">State</th><th scope="col">Breaker</th><th scope="col">URL</th><th scope="col">Queued</th><th scope="col">Dead letters</th><th scope="col">Oldest due waiting</th><th scope="col">Success (15 min)</th><th scope="col">Latency mean / max</th></tr></thead><tbody>"#,
    );
    for name in names {
        let jobs = depths.get(&name).copied().unwrap_or_default();
        let target = config.targets.get(name.as_str());
        let (delivery, breaker) = match target {
            Some(t) => {
                let view = state.controls.view(t);
                let (label, action) = if view.paused {
                    ("paused", "resume")
                } else {
                    ("delivering", "pause")
                };
                let switch = format!(
                    r#"{label} <form method="post" action="/ui/targets/{n}/{action}" class="inline">{csrf}<button type="submit" aria-label="{Action} delivery to {n}">{Action}</button></form>"#,
                    n = esc(&name),
                    csrf = csrf_field(csrf),
                    Action = if view.paused { "Resume" } else { "Pause" },
                );
                (switch, view.breaker.as_str().replace('_', "-"))
            }
            None => ("-".to_string(), "-".to_string()),
        };
        let url = match target {
            Some(t) => {
                let mut url = t.url.clone();
                let _ = url.set_password(None);
                esc(url.as_str()).to_string()
            }
            None => "<em>not configured (removed by a reload)</em>".to_string(),
        };
        let waiting = match oldest.get(name.as_str()) {
            Some(due) if jobs.pending > 0 => html::duration_ms(now.saturating_sub(*due)),
            _ => "-".into(),
        };
        let recent = state.metrics.recent_deliveries(&name, since);
        let success = match recent.success_rate() {
            Some(rate) => format!(
                "{:.0}% of {} attempt{}",
                rate * 100.0,
                recent.attempts,
                if recent.attempts == 1 { "" } else { "s" }
            ),
            None => "no attempts".into(),
        };
        let latency = match (recent.mean_latency_ms, recent.max_latency_ms) {
            (Some(mean), Some(max)) => {
                format!("{} / {}", html::duration_ms(mean), html::duration_ms(max))
            }
            _ => "-".into(),
        };
        let _ = write!(
            out,
            r#"<tr data-target="{n}"><th scope="row">{n}</th><td data-label="State" class="state">{delivery}</td><td data-label="Breaker" class="breaker">{breaker}</td><td class="url" data-label="URL">{url}</td><td data-label="Queued">{q}</td><td data-label="Dead letters">{d}</td><td data-label="Oldest due waiting">{w}</td><td data-label="Success (15 min)">{s}</td><td data-label="Latency mean / max">{l}</td></tr>"#,
            n = esc(&name),
            breaker = esc(&breaker),
            q = jobs.pending,
            d = jobs.dead,
            w = esc(&waiting),
            s = esc(&success),
            l = esc(&latency),
        );
    }
    out.push_str("</tbody></table></div>");
    Ok(out)
}

/// `GET /ui/targets`
pub async fn page(
    state: web::Data<AdminState>,
    session: Session,
) -> Result<HttpResponse, ConsoleError> {
    let body = format!(
        r#"<p>Queued counts jobs waiting or in flight; "oldest due waiting" is how long the earliest due job has waited to start, as of the dispatcher's last scan. Success and latency cover the last 15 minutes (up to 200 attempts per target) since the router started.</p>
<div class="live" data-live="/ui/targets/table">{}</div>"#,
        table(&state, session.csrf()).await?
    );
    Ok(html_response(
        StatusCode::OK,
        html::page("Targets", Section::Targets, Some(session.csrf()), "", &body),
    ))
}

/// `GET /ui/targets/table`: the table alone, for the live refresh.
pub async fn table_fragment(
    state: web::Data<AdminState>,
    session: Session,
) -> Result<HttpResponse, ConsoleError> {
    Ok(html_response(
        StatusCode::OK,
        table(&state, session.csrf()).await?,
    ))
}

#[derive(Debug, serde::Deserialize)]
pub struct SwitchForm {
    csrf: Option<String>,
}

/// `POST /ui/targets/{name}/pause` and `/resume`: the admin API's switch (stored, so it
/// outlives a restart), behind the session and its CSRF token.
pub async fn switch(
    state: web::Data<AdminState>,
    session: Session,
    path: web::Path<(String, String)>,
    form: web::Form<SwitchForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    let (name, action) = path.into_inner();
    let paused = match action.as_str() {
        "pause" => true,
        "resume" => false,
        other => {
            return Err(AdminError::BadRequest(format!("no action {other:?}")).into());
        }
    };
    let config = state.config.load_full();
    crate::admin::targets::switch_pause(&state.store, &config, &state.controls, &name, paused)
        .await?;
    Ok(redirect("/ui/targets"))
}
