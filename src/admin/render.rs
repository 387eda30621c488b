//! Human-readable output of the admin commands: aligned tables for lists, a short report for one
//! event. `--json` bypasses all of this and prints the API's answer as it came.

use super::views::*;
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

fn time(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

pub fn events(events: &[EventSummary]) -> String {
    if events.is_empty() {
        return "no events\n".into();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.endpoint.clone(),
                e.event_id.clone(),
                e.event_type.clone().unwrap_or_else(|| "-".into()),
                time(e.received_at_ms),
                format!(
                    "{} pending, {} delivered, {} dead",
                    e.deliveries.pending, e.deliveries.delivered, e.deliveries.dead
                ),
            ]
        })
        .collect();
    table(
        &[
            "SEQ",
            "ENDPOINT",
            "EVENT ID",
            "TYPE",
            "RECEIVED",
            "DELIVERIES",
        ],
        &rows,
    )
}

pub fn event(e: &EventView) -> String {
    let s = &e.summary;
    let mut out = format!(
        "event {} ({}/{})\n  type:     {}\n  received: {}\n  body:     {} bytes\n",
        s.seq,
        s.endpoint,
        s.event_id,
        s.event_type.as_deref().unwrap_or("-"),
        time(s.received_at_ms),
        e.body_len
    );
    if e.jobs.is_empty() {
        out.push_str("  no deliveries\n");
    }
    for d in &e.jobs {
        let _ = writeln!(
            out,
            "  job {} -> {}: {}{}",
            d.job.job_id,
            d.job.target,
            d.job.state,
            d.job
                .dead_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        for a in &d.attempt_log {
            let _ = writeln!(
                out,
                "    #{} {} {}ms {}",
                a.attempt,
                time(a.at_ms),
                a.latency_ms,
                a.error.clone().unwrap_or_else(|| match a.status {
                    Some(s) => format!("HTTP {s}"),
                    None => "-".into(),
                })
            );
        }
    }
    out
}

pub fn dead_letters(jobs: &[JobView]) -> String {
    if jobs.is_empty() {
        return "no dead letters\n".into();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.job_id.to_string(),
                j.event_seq.to_string(),
                j.target.clone(),
                j.attempts.to_string(),
                j.finished_at_ms.map(time).unwrap_or_else(|| "-".into()),
                j.dead_reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["JOB", "EVENT", "TARGET", "ATTEMPTS", "DEAD SINCE", "REASON"],
        &rows,
    )
}

pub fn retried_one(job: &JobView) -> String {
    format!(
        "job {} (event {} -> {}) requeued\n",
        job.job_id, job.event_seq, job.target
    )
}

pub fn retried_all(view: &RetryAllView) -> String {
    format!("retried {} dead letter(s)\n", view.retried)
}

pub fn replayed(view: &ReplayView) -> String {
    let mut out = format!(
        "event {} replayed to {} target(s)\n",
        view.event_seq,
        view.jobs.len()
    );
    for j in &view.jobs {
        let _ = writeln!(out, "  job {} -> {}", j.job_id, j.target);
    }
    out
}
