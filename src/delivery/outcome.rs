//! What one delivery attempt came to, classified by pure functions: a 2xx is delivered; 408,
//! 429, 5xx, timeouts and connection (including DNS) errors are worth retrying; a redirect (never
//! followed), 410 and every other 4xx are permanent. A failed delivery is an outcome, not an
//! error: the dispatcher records it and asks [`super::retry`] what to do next.

use std::time::{Duration, SystemTime};

/// The part of a response that classification needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHead<'a> {
    pub status: u16,
    pub location: Option<&'a str>,
    /// `Retry-After`, already turned into a delay (see [`parse_retry_after`]).
    pub retry_after: Option<Duration>,
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportFailure {
    Timeout(String),
    /// Connecting failed: refused, unreachable, DNS, TLS handshake.
    Connect(String),
    /// Anything else on the wire (reset, protocol error).
    Other(String),
    /// The request could not even be built: retrying cannot help.
    Request(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered { status: u16 },
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    /// For people: the status with its reason phrase, or the transport error.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailureKind {
    Retryable { retry_after: Option<Duration> },
    Permanent,
}

impl Failure {
    pub fn retryable(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            kind: FailureKind::Retryable { retry_after },
            reason: reason.into(),
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Permanent,
            reason: reason.into(),
        }
    }
}

pub fn classify_response(head: &ResponseHead<'_>) -> AttemptOutcome {
    let status = head.status;
    let described = describe_status(status);
    match status {
        200..=299 => AttemptOutcome::Delivered { status },
        300..=399 => AttemptOutcome::Failed(Failure::permanent(format!(
            "redirect not followed ({status} to {})",
            head.location.unwrap_or("no Location")
        ))),
        408 | 429 | 500..=599 => {
            AttemptOutcome::Failed(Failure::retryable(described, head.retry_after))
        }
        400..=499 => AttemptOutcome::Failed(Failure::permanent(described)),
        _ => AttemptOutcome::Failed(Failure::retryable(
            format!("unexpected status {status}"),
            None,
        )),
    }
}

pub fn classify_transport(failure: &TransportFailure) -> AttemptOutcome {
    AttemptOutcome::Failed(match failure {
        TransportFailure::Timeout(e) => Failure::retryable(format!("timed out: {e}"), None),
        TransportFailure::Connect(e) => Failure::retryable(format!("cannot connect: {e}"), None),
        TransportFailure::Other(e) => Failure::retryable(e.clone(), None),
        TransportFailure::Request(e) => Failure::permanent(format!("invalid request: {e}")),
    })
}

/// `HTTP 503 Service Unavailable`.
fn describe_status(status: u16) -> String {
    let phrase = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match phrase {
        Some(p) => format!("HTTP {status} {p}"),
        None => format!("HTTP {status}"),
    }
}

/// `Retry-After` as delta seconds or an HTTP date; a date in the past means now. `None` if the
/// value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> AttemptOutcome {
        classify_response(&ResponseHead {
            status,
            location: None,
            retry_after: None,
        })
    }

    fn kind(outcome: AttemptOutcome) -> Option<FailureKind> {
        match outcome {
            AttemptOutcome::Delivered { .. } => None,
            AttemptOutcome::Failed(f) => Some(f.kind),
        }
    }

    const RETRY: Option<FailureKind> = Some(FailureKind::Retryable { retry_after: None });
    const PERMANENT: Option<FailureKind> = Some(FailureKind::Permanent);

    #[test]
    fn success_statuses_are_delivered() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(status(s), AttemptOutcome::Delivered { status: s });
        }
    }

    #[test]
    fn throttling_timeouts_and_server_errors_are_retried() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(kind(status(s)), RETRY, "{s}");
        }
    }

    #[test]
    fn other_client_errors_and_gone_are_permanent() {
        for s in [400, 401, 403, 404, 405, 410, 413, 422, 499] {
            assert_eq!(kind(status(s)), PERMANENT, "{s}");
        }
        let AttemptOutcome::Failed(f) = status(404) else {
            panic!()
        };
        assert_eq!(f.reason, "HTTP 404 Not Found");
    }

    #[test]
    fn a_redirect_is_a_permanent_failure_naming_its_location() {
        let outcome = classify_response(&ResponseHead {
            status: 302,
            location: Some("http://elsewhere/x"),
            retry_after: None,
        });
        assert_eq!(
            outcome,
            AttemptOutcome::Failed(Failure::permanent(
                "redirect not followed (302 to http://elsewhere/x)"
            ))
        );
    }

    #[test]
    fn retry_after_travels_with_a_retryable_status_only() {
        let ra = Some(Duration::from_secs(2));
        let head = |status| ResponseHead {
            status,
            location: None,
            retry_after: ra,
        };
        let with = Some(FailureKind::Retryable { retry_after: ra });
        assert_eq!(kind(classify_response(&head(429))), with);
        assert_eq!(kind(classify_response(&head(503))), with);
        assert_eq!(kind(classify_response(&head(400))), PERMANENT);
    }

    #[test]
    fn transport_failures_are_retried_unless_the_request_is_invalid() {
        for f in [
            TransportFailure::Timeout("t".into()),
            TransportFailure::Connect("dns error".into()),
            TransportFailure::Other("reset".into()),
        ] {
            assert_eq!(kind(classify_transport(&f)), RETRY, "{f:?}");
        }
        let invalid = TransportFailure::Request("bad header".into());
        assert_eq!(kind(classify_transport(&invalid)), PERMANENT);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after(" 2 ", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }
}
