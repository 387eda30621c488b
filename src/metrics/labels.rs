//! The label sets of hookroute's metrics and the closed vocabularies their values come from.
//! Every label value is either a name from the configuration (an endpoint or a target) or one
//! of the fixed words below: never an event id, a path from a request, or an error text, so the
//! number of series is bounded by what was ever configured.

use prometheus_client::encoding::EncodeLabelSet;
use std::sync::Arc;

/// How one webhook request on a configured endpoint ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    Accepted,
    Duplicate,
    Ignored,
    /// A provider handshake (Slack challenge, Zoom validation, Discord PING, Meta GET) answered.
    Handshake,
    Rejected(RejectReason),
}

/// Why a request on a configured endpoint was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Missing, malformed or non-matching signature, or no secret configured.
    Signature,
    /// The signed timestamp is outside the tolerance (too old or in the future).
    Stale,
    TooLarge,
    /// The client took longer than `server.request_timeout` to send its body.
    Timeout,
    /// The body could not be read at all.
    Unreadable,
    BadJson,
    MissingEventId,
    MissingEventType,
    /// The event id or type is longer than the endpoint's `event.max_length`.
    EventFieldTooLong,
    /// No rule matched and the endpoint rejects such events.
    Unmatched,
    /// Storing or fsyncing the event failed: answered 503.
    Storage,
    /// The endpoint accepts POST only.
    Method,
    /// A provider handshake refused (wrong verify token, missing challenge, not a handshake).
    Handshake,
}

impl RejectReason {
    pub const ALL: [RejectReason; 13] = [
        Self::Signature,
        Self::Stale,
        Self::TooLarge,
        Self::Timeout,
        Self::Unreadable,
        Self::BadJson,
        Self::MissingEventId,
        Self::MissingEventType,
        Self::EventFieldTooLong,
        Self::Unmatched,
        Self::Storage,
        Self::Method,
        Self::Handshake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Stale => "stale",
            Self::TooLarge => "too_large",
            Self::Timeout => "timeout",
            Self::Unreadable => "unreadable",
            Self::BadJson => "bad_json",
            Self::MissingEventId => "missing_event_id",
            Self::MissingEventType => "missing_event_type",
            Self::EventFieldTooLong => "event_field_too_long",
            Self::Unmatched => "unmatched",
            Self::Storage => "storage",
            Self::Method => "method",
            Self::Handshake => "handshake",
        }
    }
}

impl RequestOutcome {
    /// Every outcome, for pre-registering an endpoint's series at zero.
    pub fn all() -> impl Iterator<Item = RequestOutcome> {
        [
            Self::Accepted,
            Self::Duplicate,
            Self::Ignored,
            Self::Handshake,
        ]
        .into_iter()
        .chain(RejectReason::ALL.into_iter().map(Self::Rejected))
    }

    fn words(self) -> (&'static str, &'static str) {
        match self {
            Self::Accepted => ("accepted", ""),
            Self::Duplicate => ("duplicate", ""),
            Self::Ignored => ("ignored", ""),
            Self::Handshake => ("handshake", ""),
            Self::Rejected(reason) => ("rejected", reason.as_str()),
        }
    }
}

/// What one delivery attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed, and another attempt is scheduled.
    Retried,
    /// Failed for good: the job is now a dead letter.
    DeadLettered,
}

impl DeliveryOutcome {
    pub const ALL: [DeliveryOutcome; 3] = [Self::Delivered, Self::Retried, Self::DeadLettered];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

/// `hookroute_requests_total`: `reason` is empty unless `outcome` is `rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: Arc<str>,
    pub outcome: &'static str,
    pub reason: &'static str,
}

impl RequestLabels {
    pub fn new(endpoint: &Arc<str>, outcome: RequestOutcome) -> Self {
        let (outcome, reason) = outcome.words();
        Self {
            endpoint: endpoint.clone(),
            outcome,
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TargetLabels {
    pub target: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub target: Arc<str>,
    pub outcome: &'static str,
}

/// `hookroute_config_reloads_total`: `applied`, `unchanged` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

/// `hookroute_retention_pruned_total`: `event`, `job` or `attempt`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PrunedLabels {
    pub record: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct BreakerLabels {
    pub target: Arc<str>,
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
}
