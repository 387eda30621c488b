//! `GET /fixture/{seq | endpoint/event_id}`: a stored event written as a fixture (see
//! `crate::fixtures::export`), with the router's answer to it under the live config, for
//! `hookroute events export ID --fixture`. The answer is JSON: the fixture's YAML text and a
//! file name to save it under.

use super::error::AdminError;
use super::{ops, AdminState};
use crate::config::Config;
use crate::fixtures::export::{fixture_yaml, ExportError, RecordedRequest};
use crate::store::Stores;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixtureExportView {
    pub event_seq: u64,
    /// `ENDPOINT-EVENTID.yaml`, with anything but letters, digits, `-`, `_` and `.` as `_`.
    pub file_name: String,
    /// The fixture file's text (YAML).
    pub fixture: String,
}

pub async fn fixture(
    state: web::Data<AdminState>,
    key: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let config = state.config.load_full();
    Ok(HttpResponse::Ok().json(event_fixture(&state.store, &config, &key).await?))
}

pub async fn event_fixture(
    store: &Stores,
    config: &Config,
    key: &str,
) -> Result<FixtureExportView, AdminError> {
    let seq = ops::resolve_event(store, key).await?;
    let event = store
        .events
        .event(seq)
        .await?
        .ok_or_else(|| AdminError::EventNotFound(key.to_string()))?;
    let body = store.events.body(seq).await?;
    let recorded = RecordedRequest {
        seq,
        endpoint: &event.endpoint,
        event_id: &event.event_id,
        received_at_ms: event.received_at_ms,
        headers: &event.headers,
        body: &body,
    };
    let fixture = fixture_yaml(&recorded, config, crate::tools::signer::now_unix_secs())
        .map_err(|ExportError::EndpointGone(name)| AdminError::EndpointGone(name))?;
    let file_name: String = format!("{}-{}.yaml", event.endpoint, event.event_id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(FixtureExportView {
        event_seq: seq,
        file_name,
        fixture,
    })
}
