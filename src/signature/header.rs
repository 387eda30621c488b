//! The signature header's own format: splitting a value such as `t=1,v1=ab,v1=cd` or
//! `v1,AB== v1,CD==` into signature candidates and labelled fields, stripping the literal prefix
//! (`sha256=`), decoding candidates (hex / base64 / base64url), and writing a header in the same
//! format when signing. Garbage never errors here: unusable entries are simply not candidates.

use base64::Engine as _;

use super::raw::SignatureEncoding;
use super::secret::{BASE64URL_LENIENT, BASE64_LENIENT};

/// How the signature header is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureLayout {
    /// The whole value is one signature.
    Whole,
    KvList(KvListFormat),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvListFormat {
    pub(crate) pair_sep: String,
    pub(crate) kv_sep: String,
    /// Labels whose values are signatures (never empty after compile).
    pub(crate) keys: Vec<String>,
}

/// A signature header split into its parts; borrowed from the header value.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SignatureHeader<'a> {
    /// Signature values with the prefix removed, not yet decoded.
    pub(crate) candidates: Vec<&'a str>,
    /// Every `label, value` pair of a kv list, in order.
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> SignatureHeader<'a> {
    /// The first field with this label (e.g. Stripe's `t`).
    pub(crate) fn field(&self, label: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, value)| *value)
    }
}

/// Splits a signature header value. Entries whose label is not a signature key, that lack the
/// key/value separator or that lack the required prefix are ignored.
pub(crate) fn split_signature_header<'a>(
    value: &'a str,
    layout: &SignatureLayout,
    prefix: Option<&str>,
) -> SignatureHeader<'a> {
    let strip = |signature: &'a str| -> Option<&'a str> {
        let signature = signature.trim();
        let signature = match prefix {
            Some(prefix) => signature.strip_prefix(prefix)?,
            None => signature,
        };
        (!signature.is_empty()).then_some(signature)
    };
    match layout {
        SignatureLayout::Whole => SignatureHeader {
            candidates: strip(value).into_iter().collect(),
            fields: Vec::new(),
        },
        SignatureLayout::KvList(format) => {
            let fields: Vec<(&str, &str)> = value
                .split(format.pair_sep.as_str())
                .filter_map(|entry| entry.split_once(format.kv_sep.as_str()))
                .map(|(label, value)| (label.trim(), value.trim()))
                .collect();
            let candidates = fields
                .iter()
                .filter(|(label, _)| format.keys.iter().any(|key| key == label))
                .filter_map(|(_, value)| strip(value))
                .collect();
            SignatureHeader { candidates, fields }
        }
    }
}

/// Decodes one signature candidate; `None` if it is not valid in the encoding.
pub(crate) fn decode_signature(candidate: &str, encoding: SignatureEncoding) -> Option<Vec<u8>> {
    match encoding {
        SignatureEncoding::Hex => hex::decode(candidate).ok(),
        SignatureEncoding::Base64 => BASE64_LENIENT.decode(candidate).ok(),
        SignatureEncoding::Base64url => BASE64URL_LENIENT.decode(candidate).ok(),
    }
}

/// Encodes signature bytes the way a sender would: lowercase hex, padded base64, unpadded
/// base64url.
pub(crate) fn encode_signature(bytes: &[u8], encoding: SignatureEncoding) -> String {
    match encoding {
        SignatureEncoding::Hex => hex::encode(bytes),
        SignatureEncoding::Base64 => BASE64_LENIENT.encode(bytes),
        SignatureEncoding::Base64url => BASE64URL_LENIENT.encode(bytes),
    }
}

/// Writes a signature header: `{prefix}{sig}` for a whole value; for a kv list the timestamp
/// field first (if it lives in this header), then the first signature key, e.g.
/// `t=1700000000,v1=ab..` or `v1,AB==`.
pub(crate) fn format_signature_header(
    layout: &SignatureLayout,
    prefix: Option<&str>,
    timestamp_field: Option<(&str, &str)>,
    encoded_signature: &str,
) -> String {
    let signature = format!("{}{encoded_signature}", prefix.unwrap_or(""));
    match layout {
        SignatureLayout::Whole => signature,
        SignatureLayout::KvList(format) => {
            let kv = &format.kv_sep;
            let mut entries = Vec::with_capacity(2);
            if let Some((label, value)) = timestamp_field {
                entries.push(format!("{label}{kv}{value}"));
            }
            entries.push(format!("{}{kv}{signature}", format.keys[0]));
            entries.join(&format.pair_sep)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pair_sep: &str, kv_sep: &str, keys: &[&str]) -> SignatureLayout {
        SignatureLayout::KvList(KvListFormat {
            pair_sep: pair_sep.into(),
            kv_sep: kv_sep.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        })
    }

    #[test]
    fn stripe_header_yields_every_v1_and_the_t_field() {
        let layout = kv(",", "=", &["v1"]);
        let h = split_signature_header("t=12, v1=aa,v0=bb,v1=cc", &layout, None);
        assert_eq!(h.candidates, vec!["aa", "cc"]);
        assert_eq!(h.field("t"), Some("12"));
        assert_eq!(h.field("v0"), Some("bb"));
        assert_eq!(h.field("x"), None);
    }

    #[test]
    fn kv_separator_splits_on_first_occurrence_so_base64_padding_survives() {
        let layout = kv(" ", ",", &["v1"]);
        let h = split_signature_header("v1,AB== v2,CD== v1,x,y", &layout, None);
        assert_eq!(h.candidates, vec!["AB==", "x,y"]);
    }

    #[test]
    fn garbage_header_gives_no_candidates_and_no_panic() {
        let layout = kv(",", "=", &["v1"]);
        for garbage in [
            "",
            ",,,",
            "====",
            "v1",
            "v1=",
            "t=1",
            "\u{fffd}=,=v1",
            "v1 = ",
        ] {
            let h = split_signature_header(garbage, &layout, None);
            assert!(
                h.candidates.is_empty(),
                "{garbage:?} gave {:?}",
                h.candidates
            );
        }
        let h = split_signature_header("   ", &SignatureLayout::Whole, None);
        assert!(h.candidates.is_empty());
    }

    #[test]
    fn prefix_is_required_and_stripped() {
        let h = split_signature_header("sha256=abcd", &SignatureLayout::Whole, Some("sha256="));
        assert_eq!(h.candidates, vec!["abcd"]);
        let h = split_signature_header("sha1=abcd", &SignatureLayout::Whole, Some("sha256="));
        assert!(h.candidates.is_empty());
        let h = split_signature_header("abcd", &SignatureLayout::Whole, Some("sha256="));
        assert!(h.candidates.is_empty());
    }

    #[test]
    fn prefix_applies_to_each_kv_entry_value() {
        let layout = kv(",", "=", &["s"]);
        let h = split_signature_header("s=p:aa,s=bb,s=p:cc", &layout, Some("p:"));
        assert_eq!(h.candidates, vec!["aa", "cc"]);
    }

    #[test]
    fn hex_decodes_in_any_case_and_bad_input_is_none() {
        let enc = SignatureEncoding::Hex;
        assert_eq!(decode_signature("ABcd", enc), Some(vec![0xab, 0xcd]));
        assert_eq!(decode_signature("abc", enc), None);
        assert_eq!(decode_signature("dummy", enc), None);
    }

    #[test]
    fn base64_decodes_with_or_without_padding() {
        let enc = SignatureEncoding::Base64;
        assert_eq!(decode_signature("aGk=", enc), Some(b"hi".to_vec()));
        assert_eq!(decode_signature("aGk", enc), Some(b"hi".to_vec()));
        assert_eq!(decode_signature("whoops_this_is_wrong", enc), None);
        let url = SignatureEncoding::Base64url;
        assert_eq!(decode_signature("-_8", url), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_signature("-_8=", url), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn formatted_headers_split_back_to_the_signature() {
        let cases = [
            (kv(",", "=", &["v1"]), Some(("t", "17")), "t=17,v1=ab"),
            (kv(" ", ",", &["v1"]), None, "v1,ab"),
            (kv(";", "=", &["h1"]), Some(("ts", "17")), "ts=17;h1=ab"),
            (SignatureLayout::Whole, None, "ab"),
        ];
        for (layout, ts, expected) in cases {
            let header = format_signature_header(&layout, None, ts, "ab");
            assert_eq!(header, expected);
            assert_eq!(
                split_signature_header(&header, &layout, None).candidates,
                vec!["ab"]
            );
        }
        let header = format_signature_header(&SignatureLayout::Whole, Some("v0="), None, "ab");
        assert_eq!(header, "v0=ab");
    }
}
