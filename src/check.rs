//! `hookroute check`: the same load as start-up, then a table of what the file defines.

use crate::config::Config;
use crate::rules::TypeMatcher;
use std::fmt::Write;

pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let store = match &config.storage.backend {
        crate::config::StorageBackend::Sled => {
            format!("data_dir {}", config.storage.data_dir.display())
        }
        backend => format!("storage {}", backend.describe()),
    };
    let _ = writeln!(
        out,
        "listen {}  {store}  dedup_ttl {}  max_body {} bytes",
        config.server.listen,
        humantime::format_duration(config.storage.dedup_ttl),
        config.server.max_body_size
    );
    let _ = writeln!(out, "\nENDPOINTS");
    let rows: Vec<[String; 5]> = config
        .endpoints
        .iter()
        .map(|e| {
            [
                e.path.clone(),
                e.provider.clone().unwrap_or_else(|| "custom".into()),
                e.scheme.describe(),
                format!(
                    "{} secret{}",
                    e.secrets.len(),
                    if e.secrets.len() == 1 { "" } else { "s" }
                ),
                format!(
                    "id {} type {}",
                    e.event_id,
                    e.event_type
                        .as_ref()
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into())
                ),
            ]
        })
        .collect();
    table(
        &mut out,
        ["PATH", "PROVIDER", "SCHEME", "SECRETS", "EVENT"],
        &rows,
    );
    let rows: Vec<[String; 2]> = config
        .endpoints
        .iter()
        .filter_map(|e| Some([e.path.clone(), e.handshake.as_ref()?.describe()]))
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(out, "\nHANDSHAKES");
        table(&mut out, ["ENDPOINT", "ANSWERS"], &rows);
    }
    let _ = writeln!(out, "\nRULES");
    let rows: Vec<[String; 4]> = config
        .endpoints
        .iter()
        .flat_map(|e| {
            e.rules.iter().map(move |r| {
                [
                    e.path.clone(),
                    r.name.clone(),
                    match &r.types {
                        TypeMatcher::Any => "*".to_string(),
                        TypeMatcher::OneOf(ps) => {
                            ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    } + &if r.when.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (+{} condition{})",
                            r.when.len(),
                            if r.when.len() == 1 { "" } else { "s" }
                        )
                    },
                    r.targets
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
        })
        .collect();
    table(&mut out, ["ENDPOINT", "RULE", "MATCH", "FORWARD TO"], &rows);
    let _ = writeln!(out, "\nTARGETS");
    let rows: Vec<[String; 4]> = config
        .targets
        .values()
        .map(|t| {
            [
                t.name.to_string(),
                t.url.to_string(),
                format!("timeout {}", humantime::format_duration(t.timeout)),
                crate::delivery::controls::policy_summary(t),
            ]
        })
        .collect();
    table(&mut out, ["NAME", "URL", "TIMEOUT", "POLICY"], &rows);
    if !config.warnings.is_empty() {
        let _ = writeln!(out, "\nWARNINGS");
        for w in &config.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}

pub(crate) fn table<const N: usize>(out: &mut String, head: [&str; N], rows: &[[String; N]]) {
    let mut widths = head.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(s, "{:<w$}  ", c, w = widths[i]);
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(out, head.to_vec());
    if rows.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for row in rows {
        line(out, row.iter().map(String::as_str).collect());
    }
}
