//! The request headers a compiled [`Scheme`] reads: the signature, the timestamp, the body
//! digest, vars and `{header:NAME}` placeholders, each a value chosen by the sender. What is
//! stored with an event is decided from this list, and tests send hostile text in each.

use super::compile::{Scheme, TimestampSource};
use super::field::FieldSource;
use super::raw::RawAlgorithm;

impl Scheme {
    /// Lower-cased names of every header the scheme reads, each once, in the order met.
    pub fn headers_read(&self) -> Vec<String> {
        let timestamp = self.timestamp.as_ref().and_then(|t| match &t.source {
            TimestampSource::Field(source) => Some(source),
            TimestampSource::SignatureField(_) => None,
        });
        let sources = std::iter::once(&self.signature.source)
            .chain(timestamp)
            .chain(self.body_digest.as_ref().map(|d| &d.source))
            .chain(self.vars.values())
            .chain(self.payload.fields());
        let mut names: Vec<String> = Vec::new();
        for source in sources {
            if let FieldSource::Header(name) = source {
                let name = name.to_ascii_lowercase();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The header whose value is compared with the secret itself (`token-equals`, e.g.
    /// GitLab's `X-Gitlab-Token`), lower-cased: that value is a credential, not a signature.
    pub fn secret_header(&self) -> Option<String> {
        match (&self.algorithm, &self.signature.source) {
            (RawAlgorithm::TokenEquals, FieldSource::Header(name)) => {
                Some(name.to_ascii_lowercase())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{preset, scheme_from_value};

    fn reads(name: &str) -> Vec<String> {
        scheme_from_value(preset(name).unwrap().scheme.clone())
            .unwrap()
            .headers_read()
    }

    #[test]
    fn signature_timestamp_and_payload_headers_are_read() {
        assert_eq!(reads("stripe"), ["stripe-signature"]);
        assert_eq!(
            reads("slack"),
            ["x-slack-signature", "x-slack-request-timestamp"]
        );
        assert_eq!(
            reads("standard-webhooks"),
            ["webhook-signature", "webhook-timestamp", "webhook-id"]
        );
    }

    #[test]
    fn only_a_token_compared_with_the_secret_is_a_secret_header() {
        let gitlab = scheme_from_value(preset("gitlab").unwrap().scheme.clone()).unwrap();
        assert_eq!(gitlab.secret_header().as_deref(), Some("x-gitlab-token"));
        let stripe = scheme_from_value(preset("stripe").unwrap().scheme.clone()).unwrap();
        assert_eq!(stripe.secret_header(), None);
    }
}
