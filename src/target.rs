//! A downstream target, compiled: where events are POSTed and the delivery policy (timeout,
//! headers, concurrency, retries, rate limit, circuit breaker, ordering key). Built at config load; the dispatcher only reads it.

use crate::signature::{Scheme, SecretKey};
use std::sync::Arc;
use std::time::Duration;

/// Equality compares what the file declares (after env substitution), for the reload diff.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: Arc<str>,
    pub url: reqwest::Url,
    pub timeout: Duration,
    /// Configured headers, env values already substituted.
    pub headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// Lower-cased names of original request headers passed through.
    pub forward_headers: Vec<String>,
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Present when outbound signing is on.
    pub signing: Option<OutboundSigner>,
    pub rate_limit: Option<RateLimit>,
    pub breaker: Option<BreakerPolicy>,
    /// Where each event's ordering key comes from, when the target orders by key.
    pub ordering_key: Option<crate::source::ValueSource>,
}

/// A token bucket: `per_second` attempts start per second on average, `burst` at once at most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// After `failures` consecutive failed attempts, send nothing for `cool_down`, then one probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    pub failures: u32,
    pub cool_down: Duration,
}

/// The breaker's cool-down when the config names none.
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(30);

/// Signs outbound requests as a Standard Webhooks sender would, with the same compiled
/// `standard-webhooks` preset that verifies inbound ones.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundSigner {
    pub scheme: Arc<Scheme>,
    pub key: SecretKey,
}

impl OutboundSigner {
    /// `webhook-id` (= `id`), `webhook-timestamp` and `webhook-signature` for `body`. An error
    /// (a key that cannot sign, a scheme that would change the body) fails the attempt for good.
    pub fn headers(
        &self,
        id: &str,
        now_secs: i64,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let message = self
            .scheme
            .sign_message(crate::signature::SignInput {
                secret: &self.key,
                body,
                url: None,
                now_unix_secs: now_secs,
                id,
            })
            .map_err(|e| format!("signing the request failed: {e}"))?;
        if message.body != body {
            return Err("the signing scheme changes the body; it cannot sign deliveries".into());
        }
        Ok(message.headers)
    }
}

/// Exponential backoff with jitter, bounded by attempts and by age.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    /// Modelled on Svix: 8 attempts, spreading to about a day.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(10 * 3600),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_CONCURRENCY: usize = 8;
