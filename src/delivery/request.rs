//! The request one attempt sends: the original body byte for byte with its `Content-Type`, the
//! original headers the target allows through, the target's configured headers, hookroute's own
//! headers (event id, endpoint, attempt, delivery id) and, when the target has a signing key, a
//! Standard Webhooks signature. Later layers win: configured headers override forwarded ones,
//! and hookroute's headers override both.

use crate::store::Event;
use crate::target::Target;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use std::time::Duration;

pub const EVENT_ID: &str = "x-hookroute-event-id";
pub const ENDPOINT: &str = "x-hookroute-endpoint";
pub const ATTEMPT: &str = "x-hookroute-attempt";
pub const DELIVERY_ID: &str = "x-hookroute-delivery-id";

/// Never forwarded even when allow-listed: they describe the inbound connection or message
/// framing, which the outbound request sets for itself.
const NOT_FORWARDED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// One attempt's request, ready to send.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub url: reqwest::Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// What identifies one attempt of one job.
#[derive(Debug, Clone, Copy)]
pub struct AttemptId {
    pub job_id: u64,
    /// 1-based.
    pub attempt: u32,
}

/// Why a request could not be built: the attempt fails for good (a retry would fail the same).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the request: {0}")]
pub struct BuildError(pub String);

pub fn build(
    target: &Target,
    id: AttemptId,
    event: &Event,
    body: Vec<u8>,
    now_secs: u64,
) -> Result<OutboundRequest, BuildError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &event.headers {
        let forwarded = name.as_str() == CONTENT_TYPE.as_str()
            || (target.forward_headers.contains(name) && !NOT_FORWARDED.contains(&name.as_str()));
        if !forwarded {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    for (name, value) in &target.headers {
        headers.insert(name.clone(), value.clone());
    }
    let delivery_id = id.job_id.to_string();
    let own = [
        (EVENT_ID, event.event_id.as_str()),
        (ENDPOINT, event.endpoint.as_str()),
        (ATTEMPT, &id.attempt.to_string()),
        (DELIVERY_ID, &delivery_id),
    ];
    for (name, value) in own {
        // An event id that is not a valid header value (control characters) is left out.
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    if let Some(signer) = &target.signing {
        let signed = signer
            .headers(&delivery_id, now_secs as i64, &body)
            .map_err(BuildError)?;
        for (name, value) in signed {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                BuildError(format!("the signature header name {name:?} is invalid"))
            })?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| BuildError(format!("the {name} value is not a valid header")))?;
            headers.insert(name, value);
        }
    }
    Ok(OutboundRequest {
        url: target.url.clone(),
        headers,
        body,
        timeout: target.timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{OutboundSigner, RetryPolicy};
    use std::sync::Arc;

    fn signer(secret: &str) -> OutboundSigner {
        let scheme = crate::signature::scheme_from_value(
            crate::signature::preset("standard-webhooks")
                .unwrap()
                .scheme
                .clone(),
        )
        .unwrap();
        let key = scheme.decode_secret(secret).unwrap();
        OutboundSigner {
            scheme: Arc::new(scheme),
            key,
        }
    }

    fn signature_of(signer: &OutboundSigner, id: &str, at: i64, body: &[u8]) -> String {
        signer
            .headers(id, at, body)
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == "webhook-signature")
            .unwrap()
            .1
    }

    fn target(signing: Option<OutboundSigner>) -> Target {
        Target {
            name: Arc::from("t"),
            url: "http://127.0.0.1:1/in".parse().unwrap(),
            timeout: Duration::from_secs(3),
            headers: vec![(
                HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer x"),
            )],
            forward_headers: vec!["x-trace".into(), "host".into(), "authorization".into()],
            concurrency: 1,
            retry: RetryPolicy::default(),
            signing,
            rate_limit: None,
            breaker: None,
            ordering_key: None,
        }
    }

    fn event() -> Event {
        let h = |k: &str, v: &str| (k.to_string(), v.as_bytes().to_vec());
        Event {
            endpoint: "orders".into(),
            event_id: "evt_1".into(),
            event_type: None,
            received_at_ms: 0,
            headers: vec![
                h("content-type", "application/json; charset=utf-8"),
                h("x-trace", "abc"),
                h("host", "inbound.example"),
                h("authorization", "Bearer sender"),
                h("x-secret", "s"),
            ],
            body_len: 2,
        }
    }

    #[test]
    fn headers_are_layered_forwarded_then_configured_then_hookroute() {
        let id = AttemptId {
            job_id: 42,
            attempt: 3,
        };
        let req = build(&target(None), id, &event(), b"{}".to_vec(), 0).unwrap();
        let get = |n: &str| req.headers.get(n).map(|v| v.to_str().unwrap());
        assert_eq!(get("content-type"), Some("application/json; charset=utf-8"));
        assert_eq!(get("x-trace"), Some("abc"));
        assert_eq!(get("host"), None, "hop-level headers are never forwarded");
        assert_eq!(get("x-secret"), None, "only allow-listed headers pass");
        assert_eq!(get("authorization"), Some("Bearer x"), "configured wins");
        assert_eq!(get(EVENT_ID), Some("evt_1"));
        assert_eq!(get(ENDPOINT), Some("orders"));
        assert_eq!(get(ATTEMPT), Some("3"));
        assert_eq!(get(DELIVERY_ID), Some("42"));
        assert_eq!(get("webhook-signature"), None);
        assert_eq!(req.body, b"{}");
    }

    #[test]
    fn a_key_that_cannot_sign_fails_the_build_instead_of_panicking() {
        // An ed25519 key of the wrong length (neither a seed nor a keypair) cannot sign.
        let scheme = crate::signature::scheme_from_value(
            crate::signature::preset("standard-webhooks-ed25519")
                .unwrap()
                .scheme
                .clone(),
        )
        .unwrap();
        let signer = OutboundSigner {
            key: crate::signature::SecretKey::new("short", vec![7u8; 16]),
            scheme: Arc::new(scheme),
        };
        let id = AttemptId {
            job_id: 1,
            attempt: 1,
        };
        let err = build(&target(Some(signer)), id, &event(), b"{}".to_vec(), 0).unwrap_err();
        assert!(err.0.contains("signing"), "{err}");
    }

    #[test]
    fn signing_follows_standard_webhooks() {
        // The published example of the Standard Webhooks specification.
        let signer = signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature_of(&signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let id = AttemptId {
            job_id: 7,
            attempt: 1,
        };
        let req = build(
            &target(Some(signer.clone())),
            id,
            &event(),
            body.to_vec(),
            1614265330,
        )
        .unwrap();
        assert_eq!(req.headers["webhook-id"], "7");
        assert_eq!(req.headers["webhook-timestamp"], "1614265330");
        assert_eq!(
            req.headers["webhook-signature"].to_str().unwrap(),
            signature_of(&signer, "7", 1614265330, body)
        );
    }
}
