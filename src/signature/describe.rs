//! The one-line human summary of a compiled [`Scheme`], for `check` output and tables, e.g.
//! `hmac-sha256 hex header:Stripe-Signature kv[v1] ts=kv:t-300s payload="{timestamp}.{body}"`.

use super::compile::{Scheme, TimestampSource};
use super::header::SignatureLayout;
use super::raw::{RawAlgorithm, TimestampUnit};

impl Scheme {
    /// A one-line summary for tables, e.g.
    /// `hmac-sha256 hex header:Stripe-Signature kv[v1] ts=kv:t-300s payload="{timestamp}.{body}"`.
    /// `±N s` checks both directions, `-N s` only the past.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.algorithm.as_str().to_string()];
        if self.algorithm != RawAlgorithm::TokenEquals {
            parts.push(self.signature.encoding.as_str().to_string());
        }
        parts.push(self.signature.source.to_string());
        if let Some(prefix) = &self.signature.prefix {
            parts.push(format!("prefix={prefix:?}"));
        }
        if let SignatureLayout::KvList(kv) = &self.signature.layout {
            parts.push(format!("kv[{}]", kv.keys.join(",")));
        }
        if let Some(ts) = &self.timestamp {
            let from = match &ts.source {
                TimestampSource::SignatureField(label) => format!("kv:{label}"),
                TimestampSource::Field(source) => source.to_string(),
            };
            let unit = if ts.unit == TimestampUnit::Ms {
                "(ms)"
            } else {
                ""
            };
            let sign = if ts.reject_future { "±" } else { "-" };
            parts.push(format!("ts{unit}={from}{sign}{}s", ts.tolerance_seconds));
        }
        if let Some(path) = &self.for_each {
            parts.push(format!("for_each={}", path.as_str()));
        }
        if self.algorithm != RawAlgorithm::TokenEquals && self.payload_source != "{body}" {
            parts.push(format!("payload={:?}", self.payload_source));
        }
        if self.payload.signs_url() && self.url_variants.len() > 1 {
            let variants: Vec<String> =
                self.url_variants.iter().map(|v| format!("{v:?}")).collect();
            parts.push(format!("url[{}]", variants.join(",")));
        }
        if let Some(digest) = &self.body_digest {
            parts.push(format!("digest={}", digest.source));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::{preset, scheme_from_value};

    fn describe_preset(name: &str) -> String {
        scheme_from_value(preset(name).unwrap().scheme.clone())
            .unwrap()
            .describe()
    }

    #[test]
    fn past_only_kv_timestamp_and_template_are_shown() {
        assert_eq!(
            describe_preset("stripe"),
            r#"hmac-sha256 hex header:Stripe-Signature kv[v1] ts=kv:t-300s payload="{timestamp}.{body}""#
        );
    }

    #[test]
    fn two_sided_header_timestamp_and_prefix_are_shown() {
        assert_eq!(
            describe_preset("slack"),
            r#"hmac-sha256 hex header:X-Slack-Signature prefix="v0=" ts=header:X-Slack-Request-Timestamp±300s payload="v0:{timestamp}:{body}""#
        );
    }

    #[test]
    fn body_only_and_token_schemes_stay_short() {
        assert_eq!(
            describe_preset("shopify"),
            "hmac-sha256 base64 header:X-Shopify-Hmac-Sha256"
        );
        assert_eq!(
            describe_preset("gitlab"),
            "token-equals header:X-Gitlab-Token"
        );
    }
}
