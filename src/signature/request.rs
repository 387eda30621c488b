//! What a verifier sees of an HTTP request: its headers, behind the [`HeaderSource`] trait so the
//! signature code depends on no HTTP framework, and its raw body bytes. [`HeaderList`] is a
//! plain implementation for tests and the `sign` command.

/// Read access to request headers. Names are matched case-insensitively.
pub trait HeaderSource {
    /// The value of the first header with this name, if any.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderSource for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl HeaderSource for [(String, String)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An ordered list of headers, e.g. the ones [`super::Scheme::sign`] produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(String, String)>);

impl HeaderList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }
}

impl From<Vec<(String, String)>> for HeaderList {
    fn from(headers: Vec<(String, String)>) -> Self {
        Self(headers)
    }
}

impl HeaderSource for HeaderList {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.as_slice().header(name)
    }
}

/// The parts of a request a signature covers: headers, the exact body bytes as received, and
/// the full URL as the provider saw it (scheme, host, path and query; behind a proxy this is the
/// public URL, not the one the router was reached on). Schemes that do not sign the URL ignore it.
#[derive(Clone, Copy)]
pub struct SignedRequest<'a> {
    pub headers: &'a dyn HeaderSource,
    pub body: &'a [u8],
    pub url: Option<&'a str>,
}

impl<'a> SignedRequest<'a> {
    pub fn new(headers: &'a dyn HeaderSource, body: &'a [u8]) -> Self {
        Self {
            headers,
            body,
            url: None,
        }
    }

    /// The same request with the URL the provider sent it to.
    pub fn with_url(mut self, url: &'a str) -> Self {
        self.url = Some(url);
        self
    }
}

/// What [`super::Scheme::sign_message`] signs: a body a sender is about to send, and where to.
#[derive(Clone, Copy)]
pub struct SignInput<'a> {
    pub secret: &'a super::SecretKey,
    pub body: &'a [u8],
    /// The URL the request is sent to, for schemes that sign it.
    pub url: Option<&'a str>,
    pub now_unix_secs: i64,
    /// The message id, for schemes whose payload or headers carry one.
    pub id: &'a str,
}

/// A request as a real provider would send it: the headers to add, the body (changed only by
/// schemes that carry the signature inside it) and the URL (changed only by schemes that add a
/// query parameter to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_ignores_case_and_returns_the_first_match() {
        let headers = HeaderList::new()
            .with("Stripe-Signature", "a")
            .with("stripe-signature", "b");
        assert_eq!(headers.header("STRIPE-SIGNATURE"), Some("a"));
        assert_eq!(headers.header("missing"), None);
    }
}
