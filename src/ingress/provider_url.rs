//! The URL a provider sent a request to, for schemes that sign it (Twilio, Square): the
//! endpoint's `public_url` when set, else rebuilt from the request's Host header and path
//! (from `X-Forwarded-Proto` / `X-Forwarded-Host` only when the server is told to trust them);
//! the request's query string is appended either way. `None` when it cannot be known (no Host),
//! which makes the verifier fail closed.

use actix_web::http::header::{HeaderMap, HOST};
use actix_web::http::Uri;

/// The URL as the provider saw it, or `None` if nothing tells.
pub fn provider_url(
    uri: &Uri,
    headers: &HeaderMap,
    public_url: Option<&str>,
    trust_forwarded_headers: bool,
) -> Option<String> {
    let base = match public_url {
        Some(url) => url.to_string(),
        None => {
            let forwarded = |name: &str| {
                trust_forwarded_headers
                    .then(|| first_value(headers, name))
                    .flatten()
            };
            let scheme = forwarded("x-forwarded-proto")
                .or(uri.scheme_str())
                .unwrap_or("http");
            let host = forwarded("x-forwarded-host")
                .or_else(|| first_value(headers, HOST.as_str()))
                .or_else(|| uri.authority().map(|a| a.as_str()))?;
            format!("{scheme}://{host}{}", uri.path())
        }
    };
    Some(match uri.query() {
        Some(query) => format!("{base}?{query}"),
        None => base,
    })
}

/// The first comma-separated value of a header (proxies append theirs), if any.
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split(',')
        .next()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn public_url_wins_and_gets_the_request_query() {
        let uri: Uri = "/twilio?foo=1&bar=2".parse().unwrap();
        let h = headers(&[("host", "127.0.0.1:8080")]);
        assert_eq!(
            provider_url(&uri, &h, Some("https://hooks.example.com/tw"), false).as_deref(),
            Some("https://hooks.example.com/tw?foo=1&bar=2")
        );
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted() {
        let uri: Uri = "/in".parse().unwrap();
        let h = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com, proxy.internal"),
        ]);
        assert_eq!(
            provider_url(&uri, &h, None, false).as_deref(),
            Some("http://10.0.0.5:8080/in")
        );
        assert_eq!(
            provider_url(&uri, &h, None, true).as_deref(),
            Some("https://hooks.example.com/in")
        );
    }

    #[test]
    fn no_host_means_unknown() {
        let uri: Uri = "/in?x=1".parse().unwrap();
        assert_eq!(provider_url(&uri, &HeaderMap::new(), None, true), None);
    }
}
