//! `hookroute explain`'s verdict for humans: one line per step (signature, event id and type,
//! each rule, targets), then the answer the router would give.

use super::explain::Explanation;

pub fn render(e: &Explanation) -> String {
    let mut out = Vec::new();
    let provider = e
        .provider
        .as_deref()
        .map(|p| format!(", provider {p}"))
        .unwrap_or_default();
    out.push(format!("endpoint   {} ({}{provider})", e.endpoint, e.name));
    if let Some(size) = &e.body_size {
        out.push(format!(
            "body       REFUSED: {} bytes, over the limit of {}",
            size.size, size.limit
        ));
    }
    if let Some(sig) = &e.signature {
        if sig.verified {
            let at = sig
                .timestamp
                .map(|t| format!(", timestamp {t} within tolerance"))
                .unwrap_or_default();
            let secret = sig.secret.as_deref().unwrap_or("?");
            out.push(format!("signature  verifies with secret {secret}{at}"));
        } else {
            out.push(format!(
                "signature  FAILS: {}: {}",
                sig.error.as_deref().unwrap_or("?"),
                sig.reason.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(handshake) = &e.handshake {
        out.push(format!(
            "handshake  {handshake}: answered as the provider expects (not stored, not forwarded)"
        ));
    }
    if let Some(event) = &e.event {
        match &event.error {
            Some(error) => out.push(format!("event      FAILS: {error}")),
            None => {
                out.push(format!(
                    "event id   {} (from {})",
                    event.id.as_deref().unwrap_or("-"),
                    event.id_source
                ));
                match (&event.event_type, &event.type_source) {
                    (Some(t), Some(src)) => out.push(format!("event type {t} (from {src})")),
                    _ => out.push("event type none (the endpoint reads no type)".to_string()),
                }
            }
        }
    }
    let width = e.rules.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for rule in &e.rules {
        let verdict = if rule.matched {
            format!("matches -> {}", rule.targets.join(", "))
        } else {
            format!("does not match: {}", rule.reason.as_deref().unwrap_or(""))
        };
        out.push(format!("rule       {:width$}  {verdict}", rule.name));
    }
    if e.event.as_ref().is_some_and(|ev| ev.error.is_none()) {
        if e.rules.is_empty() {
            out.push("rules      none configured".to_string());
        }
        if e.targets.is_empty() {
            out.push("targets    none".to_string());
        } else {
            out.push(format!("targets    {}", e.targets.join(", ")));
        }
    }
    out.push(format!("answer     {} {}", e.answer.status, e.answer.body));
    if e.answer.body.get("status").and_then(|s| s.as_str()) == Some("accepted") {
        out.push(
            "           (200 duplicate instead if this event id was already accepted within \
             dedup_ttl)"
                .to_string(),
        );
    }
    format!("{}\n", out.join("\n"))
}
