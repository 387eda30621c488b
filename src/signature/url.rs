//! Spellings of the URL a provider signed: as received, without its port, or with the scheme's
//! default port written out (Twilio's SDKs sign whichever their client used), and adding a
//! query parameter when signing (Twilio's `bodySHA256`). Plain string work: a URL parser would
//! normalize away the very port spellings that matter here.

use super::raw::UrlVariant;

/// `url` in each spelling of `variants`, without duplicates, in order.
pub(crate) fn url_spellings(url: &str, variants: &[UrlVariant]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(variants.len());
    for variant in variants {
        let spelled = match variant {
            UrlVariant::AsIs => url.to_string(),
            UrlVariant::StripPort => strip_port(url),
            UrlVariant::AddDefaultPort => add_default_port(url),
        };
        if !out.contains(&spelled) {
            out.push(spelled);
        }
    }
    out
}

/// The parts of `scheme://userinfo@host:port/rest`: (`scheme://userinfo@host`, port, rest).
fn split_authority(url: &str) -> Option<(&str, Option<&str>, &str)> {
    let scheme_end = url.find("://")? + 3;
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let port = authority.rfind(':').filter(|&colon| {
        colon >= host_start
            && !authority[colon..].contains(']')
            && authority[colon + 1..].bytes().all(|b| b.is_ascii_digit())
    });
    Some(match port {
        Some(colon) => (
            &url[..scheme_end + colon],
            Some(&authority[colon + 1..]),
            &url[authority_end..],
        ),
        None => (&url[..authority_end], None, &url[authority_end..]),
    })
}

fn strip_port(url: &str) -> String {
    match split_authority(url) {
        Some((head, Some(_), rest)) => format!("{head}{rest}"),
        _ => url.to_string(),
    }
}

fn add_default_port(url: &str) -> String {
    let default = if url.starts_with("https://") {
        "443"
    } else if url.starts_with("http://") {
        "80"
    } else {
        return url.to_string();
    };
    match split_authority(url) {
        Some((head, None, rest)) => format!("{head}:{default}{rest}"),
        _ => url.to_string(),
    }
}

/// `url` with query parameter `name` set to `value` (replacing any earlier value), before any
/// fragment.
pub(crate) fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let (url, fragment) = match url.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            form_urlencoded::parse(key.as_bytes())
                .next()
                .is_none_or(|(key, _)| key != name)
        })
        .collect();
    let added: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish();
    pairs.push(&added);
    let mut out = format!("{base}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use UrlVariant::*;

    #[test]
    fn port_spellings_follow_twilio() {
        let all = [AsIs, StripPort, AddDefaultPort];
        assert_eq!(
            url_spellings("https://a.com:1234/p?x=1", &all),
            vec!["https://a.com:1234/p?x=1", "https://a.com/p?x=1"]
        );
        assert_eq!(
            url_spellings("https://a.com/p", &all),
            vec!["https://a.com/p", "https://a.com:443/p"]
        );
        assert_eq!(
            url_spellings("http://u:pw@a.com?x=1", &all),
            vec!["http://u:pw@a.com?x=1", "http://u:pw@a.com:80?x=1"]
        );
        assert_eq!(
            url_spellings("http://[::1]:8080/", &[StripPort]),
            vec!["http://[::1]/"]
        );
        assert_eq!(
            url_spellings("http://[::1]/", &[AddDefaultPort]),
            vec!["http://[::1]:80/"]
        );
    }

    #[test]
    fn query_param_is_added_or_replaced() {
        assert_eq!(with_query_param("https://a/p", "d", "1"), "https://a/p?d=1");
        assert_eq!(
            with_query_param("https://a/p?x=1&d=0#f", "d", "2"),
            "https://a/p?x=1&d=2#f"
        );
    }
}
