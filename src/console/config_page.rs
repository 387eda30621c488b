//! The configuration page: what hot reload did last (in effect or not, counts, the rejected
//! file's errors with their line and column, settings waiting for a restart), then the loaded
//! configuration: endpoints with their signature schemes, rules, targets and settings. Secret
//! values and target header values are never shown, only how many there are and their names.

use super::error::ConsoleError;
use super::html::{self, esc, Section};
use super::session::{html_response, Session};
use crate::admin::AdminState;
use crate::config::raw::UnmatchedPolicy;
use crate::config::Config;
use crate::reload::ReloadStatus;
use crate::rules::{Condition, TypeMatcher};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A rule condition as one line of text (escaped by the caller).
pub fn condition_text(c: &Condition) -> String {
    let list = |cs: &[Condition]| cs.iter().map(condition_text).collect::<Vec<_>>().join(", ");
    match c {
        Condition::All(cs) => format!("all({})", list(cs)),
        Condition::Any(cs) => format!("any({})", list(cs)),
        Condition::Not(c) => format!("not({})", condition_text(c)),
        Condition::Leaf { path, tests } => {
            let tests: Vec<String> = tests.iter().map(|t| t.to_string()).collect();
            format!("{} {}", path.as_str(), tests.join(", "))
        }
    }
}

fn reload_html(status: Option<&ReloadStatus>) -> String {
    let Some(s) = status else {
        return r#"<p>Hot reload has not started yet.</p>"#.to_string();
    };
    let mut out = String::new();
    if s.file_in_effect() {
        let _ = write!(
            out,
            r#"<p class="ok" id="reload-state">The file on disk is in effect, loaded {}.</p>"#,
            html::time_tag(unix_ms(s.last_success))
        );
    } else {
        let _ = write!(
            out,
            r#"<p class="error" id="reload-state" role="alert">The last reload was rejected: the router keeps serving the configuration loaded {}.</p>"#,
            html::time_tag(unix_ms(s.last_success))
        );
    }
    let _ = write!(
        out,
        "<p>Reloads applied: {}, unchanged: {}, rejected: {}.</p>",
        s.applied, s.unchanged, s.failed
    );
    if let Some(f) = &s.last_failure {
        let _ = write!(
            out,
            r#"<h3>Last rejected file ({})</h3><ul class="reload-errors">"#,
            html::time_tag(unix_ms(f.at))
        );
        for e in &f.errors {
            let _ = write!(out, "<li><code>{}</code></li>", esc(e));
        }
        out.push_str("</ul>");
    }
    if !s.needs_restart.is_empty() {
        out.push_str("<h3>Waiting for a restart</h3><ul>");
        for r in &s.needs_restart {
            let _ = write!(out, "<li><code>{}</code></li>", esc(&r.to_string()));
        }
        out.push_str("</ul>");
    }
    out
}

fn endpoints_html(config: &Config) -> String {
    let mut out = String::from(
        r#"<div class="scroll"><table><thead><tr><th scope="col">Name</th><th scope="col">Path</th><th scope="col">Provider</th><th scope="col">Scheme</th><th scope="col">Secrets</th><th scope="col">Event id / type</th><th scope="col">Unmatched</th></tr></thead><tbody>"#,
    );
    for e in &config.endpoints {
        let event = format!(
            "{} / {}",
            e.event_id,
            e.event_type
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into())
        );
        let mut scheme = e.scheme.describe();
        if let Some(h) = &e.handshake {
            let _ = write!(scheme, "; handshake: {}", h.describe());
        }
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&e.name),
            esc(&e.path),
            esc(e.provider.as_deref().unwrap_or("custom")),
            esc(&scheme),
            e.secrets.len(),
            esc(&event),
            match e.unmatched {
                UnmatchedPolicy::Ignore => "ignore (200)",
                UnmatchedPolicy::Reject => "reject (400)",
            },
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

fn rules_html(config: &Config) -> String {
    let mut out = String::from(
        r#"<div class="scroll"><table><thead><tr><th scope="col">Endpoint</th><th scope="col">Rule</th><th scope="col">Types</th><th scope="col">When</th><th scope="col">Forward to</th></tr></thead><tbody>"#,
    );
    for e in &config.endpoints {
        for r in &e.rules {
            let types = match &r.types {
                TypeMatcher::Any => "*".to_string(),
                TypeMatcher::OneOf(ps) => {
                    ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                }
            };
            let when = r
                .when
                .iter()
                .map(condition_text)
                .collect::<Vec<_>>()
                .join("; ");
            let targets = r
                .targets
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&e.name),
                esc(&r.name),
                esc(&types),
                esc(&when),
                esc(&targets)
            );
        }
    }
    out.push_str("</tbody></table></div>");
    out
}

fn targets_html(config: &Config) -> String {
    let mut out = String::from(
        r#"<div class="scroll"><table><thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Timeout</th><th scope="col">Concurrency</th><th scope="col">Retry</th><th scope="col">Headers set</th><th scope="col">Signing</th></tr></thead><tbody>"#,
    );
    for (name, t) in &config.targets {
        let mut url = t.url.clone();
        let _ = url.set_password(None);
        let retry = format!(
            "{} attempts, {} → {}, for {}",
            t.retry.max_attempts,
            humantime::format_duration(t.retry.initial_delay),
            humantime::format_duration(t.retry.max_delay),
            humantime::format_duration(t.retry.max_age)
        );
        let headers: Vec<&str> = t.headers.iter().map(|(k, _)| k.as_str()).collect();
        let signing = t
            .signing
            .as_ref()
            .map(|s| s.scheme.describe())
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"url\"><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(name),
            esc(url.as_str()),
            esc(&humantime::format_duration(t.timeout).to_string()),
            t.concurrency,
            esc(&retry),
            esc(&headers.join(", ")),
            esc(&signing),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

fn settings_html(config: &Config) -> String {
    let retention = config
        .storage
        .retention
        .map(|r| humantime::format_duration(r).to_string())
        .unwrap_or_else(|| "off".into());
    format!(
        r#"<dl class="facts"><dt>Listen</dt><dd><code>{}</code></dd><dt>Max body</dt><dd>{} bytes</dd><dt>Data directory</dt><dd><code>{}</code></dd><dt>Dedup window</dt><dd>{}</dd><dt>Retention</dt><dd>{}</dd><dt>Admin token</dt><dd>{}</dd></dl>"#,
        config.server.listen,
        config.server.max_body_size,
        esc(&config.storage.data_dir.display().to_string()),
        humantime::format_duration(config.storage.dedup_ttl),
        esc(&retention),
        if config.admin.token.is_some() {
            "required"
        } else {
            "none (the listener's address is the only guard)"
        },
    )
}

/// `GET /ui/config`
pub async fn page(
    state: web::Data<AdminState>,
    session: Session,
) -> Result<HttpResponse, ConsoleError> {
    let config = state.config.load_full();
    let status = state.reload.get().map(|s| {
        s.read()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    });
    let warnings = if config.warnings.is_empty() {
        String::new()
    } else {
        let items: String = config
            .warnings
            .iter()
            .map(|w| format!("<li><code>{}</code></li>", esc(&w.to_string())))
            .collect();
        format!(
            r#"<section aria-labelledby="warn-h"><h2 id="warn-h">Warnings</h2><ul>{items}</ul></section>"#
        )
    };
    let body = format!(
        r#"<section aria-labelledby="reload-h"><h2 id="reload-h">Reload</h2>{reload}</section>{warnings}
<section aria-labelledby="ep-h"><h2 id="ep-h">Endpoints</h2>{endpoints}</section>
<section aria-labelledby="rules-h"><h2 id="rules-h">Rules</h2>{rules}</section>
<section aria-labelledby="targets-h"><h2 id="targets-h">Targets</h2>{targets}</section>
<section aria-labelledby="settings-h"><h2 id="settings-h">Settings</h2>{settings}</section>"#,
        reload = reload_html(status.as_ref()),
        endpoints = endpoints_html(&config),
        rules = rules_html(&config),
        targets = targets_html(&config),
        settings = settings_html(&config),
    );
    Ok(html_response(
        StatusCode::OK,
        html::page(
            "Configuration",
            Section::Configuration,
            Some(session.csrf()),
            "",
            &body,
        ),
    ))
}
