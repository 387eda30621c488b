//! The events list: filtered (event id, endpoint, type glob, status, time range) and paged,
//! newest first; its first page refreshes itself. One event's page is in [`super::event_page`].
//!
//! DECISION: the store reads events in ascending sequence pages only ([`EventReads::events_page`]
//! after a cursor). The list finds the newest sequence number by galloping then bisecting on
//! one-event pages (about 2·log2(n) cheap reads), then walks windows of sequence numbers
//! backwards, filtering in memory, until a page is full or [`SCAN_BUDGET`] events were read;
//! the "older" link carries on from there. An event id is looked up directly on each endpoint.
//! This assumes sequence numbers are nearly consecutive (sled hands them out one by one); a gap
//! only costs windows that come back empty.
//!
//! [`EventReads::events_page`]: crate::store::EventReads::events_page

use super::error::ConsoleError;
use super::html::{self, esc, url_part, Section};
use super::session::{html_response, Session};
use crate::admin::views::{DeliverySummary, EventSummary};
use crate::admin::{ops, AdminState};
use crate::store::Stores;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::fmt::Write;

/// Events per page.
pub const PAGE: usize = 50;
/// Most events one list request reads while filtering.
pub const SCAN_BUDGET: u64 = 20_000;
/// Sequence numbers read per store call while filtering.
const WINDOW: u64 = 1000;

/// The list's filters, as the form sends them (empty fields mean "any").
#[derive(Debug, Default, Clone, Deserialize)]
pub struct EventFilter {
    #[serde(default)]
    endpoint: String,
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    event_id: String,
    /// Show events with a sequence number below this (the "older" cursor).
    #[serde(default)]
    before: String,
}

/// An event's delivery state, from its jobs.
pub fn event_status(d: &DeliverySummary) -> &'static str {
    if d.dead > 0 {
        "dead"
    } else if d.pending > 0 {
        "pending"
    } else if d.delivered > 0 {
        "delivered"
    } else {
        "no deliveries"
    }
}

/// The filters compiled once per request.
struct Matcher {
    endpoint: Option<String>,
    event_type: Option<globset::GlobMatcher>,
    status: Option<String>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
}

impl Matcher {
    fn new(f: &EventFilter) -> Result<Self, ConsoleError> {
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let time = |s: &str, what: &str| -> Result<Option<u64>, ConsoleError> {
            match non_empty(s) {
                None => Ok(None),
                Some(s) => html::parse_datetime(&s).map(Some).ok_or_else(|| {
                    ConsoleError::BadRequest(format!("{what}: not a date and time: {s}"))
                }),
            }
        };
        let event_type = match non_empty(&f.event_type) {
            None => None,
            Some(t) => Some(
                globset::Glob::new(&t)
                    .map_err(|e| ConsoleError::BadRequest(format!("type: {e}")))?
                    .compile_matcher(),
            ),
        };
        Ok(Self {
            endpoint: non_empty(&f.endpoint),
            event_type,
            status: non_empty(&f.status),
            from_ms: time(&f.from, "from")?,
            to_ms: time(&f.to, "to")?,
        })
    }

    fn matches(&self, e: &EventSummary) -> bool {
        self.endpoint.as_ref().is_none_or(|ep| *ep == e.endpoint)
            && self
                .event_type
                .as_ref()
                .is_none_or(|m| e.event_type.as_deref().is_some_and(|t| m.is_match(t)))
            && self.status.as_ref().is_none_or(|s| match s.as_str() {
                "pending" => e.deliveries.pending > 0,
                "dead" => e.deliveries.dead > 0,
                "delivered" => {
                    e.deliveries.delivered > 0
                        && e.deliveries.pending == 0
                        && e.deliveries.dead == 0
                }
                _ => true,
            })
            && self.from_ms.is_none_or(|t| e.received_at_ms >= t)
            && self.to_ms.is_none_or(|t| e.received_at_ms < t + 60_000)
    }
}

/// The smallest sequence number above `after` (`None`: from the start), if any.
async fn first_after(store: &Stores, after: Option<u64>) -> Result<Option<u64>, ConsoleError> {
    let page = ops::list_events(store, after, 1)
        .await
        .map_err(ConsoleError::from)?;
    Ok(page.first().map(|e| e.seq))
}

/// The newest event's sequence number.
pub async fn last_seq(store: &Stores) -> Result<Option<u64>, ConsoleError> {
    let Some(mut lo) = first_after(store, None).await? else {
        return Ok(None);
    };
    let mut step = 1u64;
    let mut hi = loop {
        match first_after(store, Some(lo + step - 1)).await? {
            Some(s) => {
                lo = s;
                step = step.saturating_mul(2);
            }
            None => break lo + step - 1,
        }
    };
    // The newest is in [lo, hi] and lo exists.
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match first_after(store, Some(mid - 1)).await? {
            Some(s) if s <= hi => lo = s,
            _ => hi = mid - 1,
        }
    }
    Ok(Some(lo))
}

/// One page of the list.
struct ListPage {
    events: Vec<EventSummary>,
    /// Where the next (older) page starts, if there may be one.
    older: Option<u64>,
    scanned: u64,
}

/// The page `f` asks for; an event id is looked up on each of `endpoints` (the configured ones)
/// unless the filter names one.
async fn find(
    store: &Stores,
    endpoints: &[String],
    f: &EventFilter,
) -> Result<ListPage, ConsoleError> {
    let matcher = Matcher::new(f)?;
    let id = f.event_id.trim();
    if !id.is_empty() {
        let endpoints: Vec<String> = match &matcher.endpoint {
            Some(ep) => vec![ep.clone()],
            None => endpoints.to_vec(),
        };
        let mut events = Vec::new();
        for ep in endpoints {
            let found = store
                .events
                .find_event(&ep, id)
                .await
                .map_err(|e| ConsoleError::Admin(e.into()))?;
            if let Some(seq) = found {
                let page = ops::list_events(store, seq.checked_sub(1), 1).await?;
                events.extend(page.into_iter().filter(|e| e.seq == seq));
            }
        }
        events.sort_by_key(|e| std::cmp::Reverse(e.seq));
        return Ok(ListPage {
            events,
            older: None,
            scanned: 0,
        });
    }
    let mut upper = match f.before.trim().parse::<u64>() {
        Ok(before) => before,
        Err(_) => match last_seq(store).await? {
            Some(last) => last + 1,
            None => 0,
        },
    };
    let mut events = Vec::new();
    let mut scanned = 0;
    while upper > 0 && events.len() <= PAGE && scanned < SCAN_BUDGET {
        let lower = upper.saturating_sub(WINDOW);
        let page = ops::list_events(store, lower.checked_sub(1), (upper - lower) as usize).await?;
        scanned += upper - lower;
        events.extend(
            page.into_iter()
                .rev()
                .filter(|e| e.seq < upper && matcher.matches(e)),
        );
        upper = lower;
    }
    let older = if events.len() > PAGE {
        events.truncate(PAGE);
        events.last().map(|e| e.seq)
    } else {
        (upper > 0).then_some(upper)
    };
    Ok(ListPage {
        events,
        older,
        scanned,
    })
}

fn deliveries_text(d: &DeliverySummary) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (d.delivered, "delivered"),
        (d.pending, "pending"),
        (d.dead, "dead"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" · ")
    }
}

pub fn status_badge(status: &str) -> String {
    let class = status.replace(' ', "-");
    format!(
        r#"<span class="badge {}">{}</span>"#,
        esc(&class),
        esc(status)
    )
}

fn rows_html(page: &ListPage) -> String {
    let mut out = String::from(
        r#"<div class="scroll"><table class="events stack"><caption class="sr-only">Events, newest first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Received</th><th scope="col">Endpoint</th><th scope="col">Event id</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Deliveries</th></tr></thead><tbody>"#,
    );
    if page.events.is_empty() {
        out.push_str(r#"<tr><td colspan="7" class="empty">No event matches.</td></tr>"#);
    }
    for e in &page.events {
        let _ = write!(
            out,
            r#"<tr data-seq="{seq}"><td data-label="Seq"><a href="/ui/events/{seq}">{seq}</a></td><td data-label="Received">{at}</td><td data-label="Endpoint">{ep}</td><td data-label="Event id"><a class="event-link" href="/ui/events/{seq}">{id}</a></td><td data-label="Type">{ty}</td><td data-label="Status">{status}</td><td data-label="Deliveries">{d}</td></tr>"#,
            seq = e.seq,
            at = html::time_tag(e.received_at_ms),
            ep = esc(&e.endpoint),
            id = esc(&e.event_id),
            ty = esc(e.event_type.as_deref().unwrap_or("-")),
            status = status_badge(event_status(&e.deliveries)),
            d = esc(&deliveries_text(&e.deliveries)),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

fn filter_query(f: &EventFilter, before: Option<u64>) -> String {
    let mut q = Vec::new();
    for (k, v) in [
        ("endpoint", &f.endpoint),
        ("type", &f.event_type),
        ("status", &f.status),
        ("from", &f.from),
        ("to", &f.to),
        ("event_id", &f.event_id),
    ] {
        if !v.trim().is_empty() {
            q.push(format!("{k}={}", url_part(v.trim())));
        }
    }
    if let Some(b) = before {
        q.push(format!("before={b}"));
    }
    q.join("&")
}

fn filter_form(f: &EventFilter, endpoints: &[String]) -> String {
    let mut ep_options = String::from(r#"<option value="">any</option>"#);
    for ep in endpoints {
        let sel = if *ep == f.endpoint { " selected" } else { "" };
        let _ = write!(
            ep_options,
            r#"<option value="{0}"{sel}>{0}</option>"#,
            esc(ep)
        );
    }
    let mut st_options = String::new();
    for (v, label) in [
        ("", "any"),
        ("pending", "pending"),
        ("delivered", "delivered"),
        ("dead", "dead"),
    ] {
        let sel = if v == f.status { " selected" } else { "" };
        let _ = write!(st_options, r#"<option value="{v}"{sel}>{label}</option>"#);
    }
    format!(
        r#"<form method="get" action="/ui/events" class="filters" role="search" aria-label="Filter events">
<div><label for="f-id">Event id</label><input id="f-id" name="event_id" value="{id}" placeholder="evt_123"></div>
<div><label for="f-endpoint">Endpoint</label><select id="f-endpoint" name="endpoint">{ep_options}</select></div>
<div><label for="f-type">Type</label><input id="f-type" name="type" value="{ty}" placeholder="invoice.*"></div>
<div><label for="f-status">Status</label><select id="f-status" name="status">{st_options}</select></div>
<div><label for="f-from">From (UTC)</label><input id="f-from" name="from" type="datetime-local" value="{from}"></div>
<div><label for="f-to">To (UTC)</label><input id="f-to" name="to" type="datetime-local" value="{to}"></div>
<div class="buttons"><button type="submit">Filter</button> <a href="/ui/events">Clear</a></div>
</form>"#,
        id = esc(&f.event_id),
        ty = esc(&f.event_type),
        from = esc(&f.from),
        to = esc(&f.to),
    )
}

fn pager(f: &EventFilter, page: &ListPage) -> String {
    let mut out = String::from(r#"<p class="pager">"#);
    if !f.before.trim().is_empty() {
        let q = filter_query(f, None);
        let _ = write!(out, r#"<a href="/ui/events?{}">Newest</a> "#, esc(&q));
    }
    if let Some(older) = page.older {
        let q = filter_query(f, Some(older));
        let note = if page.events.len() < PAGE && page.scanned > 0 {
            format!(" (searched {} sequence numbers)", page.scanned)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<a href="/ui/events?{}" rel="next">Older events</a>{}"#,
            esc(&q),
            esc(&note)
        );
    }
    out.push_str("</p>");
    out
}

fn endpoint_names(state: &AdminState) -> Vec<String> {
    state
        .config
        .load()
        .endpoints
        .iter()
        .map(|e| e.name.to_string())
        .collect()
}

/// `GET /ui/events`
pub async fn list(
    state: web::Data<AdminState>,
    session: Session,
    filter: web::Query<EventFilter>,
) -> Result<HttpResponse, ConsoleError> {
    let endpoints = endpoint_names(&state);
    let page = find(&state.store, &endpoints, &filter).await?;
    // The newest page refreshes itself; older pages stay put.
    let live = if filter.before.trim().is_empty() {
        format!(
            r#" data-live="/ui/events/rows?{}""#,
            esc(&filter_query(&filter, None))
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{form}<section aria-labelledby="list-h"><h2 id="list-h">Events <small>newest first</small></h2>
<div class="live"{live}>{rows}</div>{pager}</section>"#,
        form = filter_form(&filter, &endpoints),
        rows = rows_html(&page),
        pager = pager(&filter, &page),
    );
    Ok(html_response(
        StatusCode::OK,
        html::page("Events", Section::Events, Some(session.csrf()), "", &body),
    ))
}

/// `GET /ui/events/rows`: the list's table alone, for the live refresh.
pub async fn rows(
    state: web::Data<AdminState>,
    _session: Session,
    filter: web::Query<EventFilter>,
) -> Result<HttpResponse, ConsoleError> {
    let page = find(&state.store, &endpoint_names(&state), &filter).await?;
    Ok(html_response(StatusCode::OK, rows_html(&page)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, NewEvent};
    use std::sync::Arc;
    use std::time::Duration;

    async fn store_with(n: usize) -> Stores {
        let store = Stores::of(Arc::new(MemoryStore::new(Duration::from_secs(60))));
        for i in 0..n {
            let id = format!("e{i}");
            store
                .ingest
                .accept_durable(NewEvent {
                    endpoint: "in",
                    event_id: &id,
                    event_type: Some(if i % 3 == 0 { "a.one" } else { "b.two" }),
                    received_at_ms: 1000 + i as u64,
                    headers: vec![],
                    body: b"{}",
                    targets: &[],
                    ordering_keys: &[],
                })
                .await
                .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn the_newest_sequence_number_is_found_by_bisection() {
        assert_eq!(last_seq(&store_with(0).await).await.unwrap(), None);
        for n in [1, 2, 3, 17, 1030] {
            let store = store_with(n).await;
            let newest = ops::list_events(&store, None, 5000).await.unwrap();
            assert_eq!(
                last_seq(&store).await.unwrap(),
                newest.last().map(|e| e.seq),
                "{n} events"
            );
        }
    }

    /// Follows the "older" links from the newest page; returns every event shown, in order.
    async fn every_page(store: &Stores, mut filter: EventFilter) -> Vec<EventSummary> {
        let mut shown = Vec::new();
        loop {
            let page = find(store, &["in".to_string()], &filter).await.unwrap();
            assert!(page.events.len() <= PAGE);
            shown.extend(page.events);
            match page.older {
                Some(older) => filter.before = older.to_string(),
                None => return shown,
            }
        }
    }

    #[tokio::test]
    async fn pages_run_newest_first_through_every_match_once() {
        let store = store_with(1030).await;
        let all = every_page(&store, EventFilter::default()).await;
        let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
        let mut expected: Vec<u64> = ops::list_events(&store, None, 5000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        expected.reverse();
        assert_eq!(seqs, expected);

        let typed = every_page(
            &store,
            EventFilter {
                event_type: "a.*".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(typed.len(), 1030_usize.div_ceil(3));
        assert!(typed
            .iter()
            .all(|e| e.event_type.as_deref() == Some("a.one")));

        let by_id = every_page(
            &store,
            EventFilter {
                event_id: "e7".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(by_id.len(), 1);
        assert_eq!(by_id[0].event_id, "e7");
        let window = every_page(
            &store,
            EventFilter {
                from: html::datetime_value(1000),
                to: html::datetime_value(1000),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(window.len(), 1030, "all received in the same minute");
    }

    #[test]
    fn filters_combine() {
        let f = EventFilter {
            event_type: "a.*".into(),
            status: "delivered".into(),
            ..Default::default()
        };
        let m = Matcher::new(&f).unwrap();
        let mut e = EventSummary {
            seq: 1,
            endpoint: "in".into(),
            event_id: "x".into(),
            event_type: Some("a.one".into()),
            received_at_ms: 0,
            deliveries: DeliverySummary {
                pending: 0,
                delivered: 1,
                dead: 0,
            },
        };
        assert!(m.matches(&e));
        e.deliveries.dead = 1;
        assert!(!m.matches(&e), "a dead delivery makes it not delivered");
        e.deliveries.dead = 0;
        e.event_type = Some("b.one".into());
        assert!(!m.matches(&e));
        assert!(Matcher::new(&EventFilter {
            from: "not a time".into(),
            ..Default::default()
        })
        .is_err());
    }
}
