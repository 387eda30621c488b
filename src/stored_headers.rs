//! Which inbound headers are stored with an event: only what delivery and replay can use. That
//! is `Content-Type` (always forwarded), the headers some target may forward
//! (`forward_headers` of any target, since a replay may pick any), and the headers the
//! endpoint's signature scheme reads. Credentials are never stored, whatever a target or a
//! scheme names: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, and the header
//! a `token-equals` scheme compares with the secret (GitLab's `X-Gitlab-Token` is the secret).

use crate::signature::Scheme;
use crate::target::Target;

/// Never stored (so never forwarded either).
pub const CREDENTIALS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// An endpoint's list of header names to store, lower-cased; built at config load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeaders {
    names: Vec<String>,
}

impl StoredHeaders {
    /// What an endpoint with `scheme` keeps when the configuration has `targets`.
    pub fn for_endpoint<'t>(
        scheme: &Scheme,
        targets: impl IntoIterator<Item = &'t Target>,
    ) -> Self {
        let secret_header = scheme.secret_header();
        let forwarded: Vec<String> = targets
            .into_iter()
            .flat_map(|t| t.forward_headers.iter().cloned())
            .collect();
        let mut names: Vec<String> = Vec::new();
        let candidates = std::iter::once("content-type".to_string())
            .chain(scheme.headers_read())
            .chain(forwarded);
        for name in candidates {
            let credential =
                CREDENTIALS.contains(&name.as_str()) || secret_header.as_deref() == Some(&name);
            if !credential && !names.contains(&name) {
                names.push(name);
            }
        }
        Self { names }
    }

    /// Whether a header named `name` (lower-cased, as actix gives them) is stored.
    pub fn keeps(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Whether `name` (any case) is a credential that is never stored.
pub fn is_credential(name: &str) -> bool {
    CREDENTIALS.contains(&name.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{preset, scheme_from_value};

    fn scheme(name: &str) -> Scheme {
        scheme_from_value(preset(name).unwrap().scheme.clone()).unwrap()
    }

    fn target(forward: &[&str]) -> Target {
        Target {
            name: "t".into(),
            url: "http://127.0.0.1:9/".parse().unwrap(),
            timeout: std::time::Duration::from_secs(1),
            headers: vec![],
            forward_headers: forward.iter().map(|s| s.to_string()).collect(),
            concurrency: 1,
            retry: Default::default(),
            signing: None,
            rate_limit: None,
            breaker: None,
            ordering_key: None,
        }
    }

    #[test]
    fn content_type_scheme_headers_and_forwarded_ones_are_kept() {
        let kept = StoredHeaders::for_endpoint(
            &scheme("stripe"),
            [&target(&["x-trace"]), &target(&["x-request-id", "x-trace"])],
        );
        assert_eq!(
            kept.names(),
            [
                "content-type",
                "stripe-signature",
                "x-trace",
                "x-request-id"
            ]
        );
        assert!(!kept.keeps("user-agent"));
    }

    #[test]
    fn credentials_are_never_kept_even_when_forwarded_or_read() {
        let kept = StoredHeaders::for_endpoint(
            &scheme("gitlab"),
            [&target(&["authorization", "cookie", "x-trace"])],
        );
        assert_eq!(kept.names(), ["content-type", "x-trace"]);
        assert!(is_credential("Proxy-Authorization"));
    }
}
