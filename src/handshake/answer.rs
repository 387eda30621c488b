//! A compiled handshake and how it answers: does the request match its conditions, does it
//! carry the right verify token (compared in constant time), and what is the response. Pure
//! functions over [`RequestValues`]; the ingress turns a [`HandshakeAnswer`] into HTTP.

use super::raw::{HandshakeMethod, RawHandshake};
use super::template::{JsonTemplate, MissingValue, RequestValue, RequestValues, Template};
use crate::jsonpath::JsonPath;
use crate::signature::SecretKey;
use serde_json::Value;
use subtle::ConstantTimeEq;

/// A handshake, validated and ready to answer. Immutable.
#[derive(Debug)]
pub struct Handshake {
    /// The built-in it started from, or `custom`.
    pub name: String,
    pub method: HandshakeMethod,
    /// The definition as merged from the file, for comparing two loads.
    pub(super) raw: RawHandshake,
    pub(super) conditions: Vec<Condition>,
    pub(super) verify_token: Option<(RequestValue, SecretKey)>,
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) body: ResponseBody,
    /// The endpoint's first secret, when a response holds an HMAC.
    pub(super) hmac_key: Option<SecretKey>,
}

impl PartialEq for Handshake {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.raw == other.raw
            && self.verify_token.as_ref().map(|t| &t.1) == other.verify_token.as_ref().map(|t| &t.1)
            && self.hmac_key == other.hmac_key
    }
}

#[derive(Debug)]
pub(super) enum Condition {
    Json(JsonPath, Value),
    Query(String, String),
}

#[derive(Debug)]
pub(super) enum ResponseBody {
    Json(JsonTemplate),
    Text(Template),
}

/// What a handshake made of one request.
#[derive(Debug)]
pub enum HandshakeOutcome {
    /// Its conditions do not hold: the request is something else.
    NotHandshake,
    Answer(HandshakeAnswer),
    Refused(HandshakeError),
}

/// The response to a handshake; never stored or forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeAnswer {
    pub handshake: String,
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the {handshake} handshake's verify token ({at}) is missing or wrong")]
    WrongVerifyToken { handshake: String, at: String },
    #[error("the {handshake} handshake needs {value}, which the request does not carry")]
    MissingValue { handshake: String, value: String },
    #[error("{method} on this endpoint is only for the {handshake} handshake ({expected})")]
    NotHandshake {
        handshake: String,
        method: &'static str,
        expected: String,
    },
}

impl HandshakeError {
    /// 403 for a wrong token (as Meta expects), 400 for a malformed handshake.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::WrongVerifyToken { .. } => 403,
            HandshakeError::MissingValue { .. } | HandshakeError::NotHandshake { .. } => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            HandshakeError::WrongVerifyToken { .. } => "invalid_verify_token",
            HandshakeError::MissingValue { .. } => "invalid_handshake",
            HandshakeError::NotHandshake { .. } => "not_a_handshake",
        }
    }
}

impl Handshake {
    /// Whether the handshake is answered on requests with this method.
    pub fn answers(&self, method: &str) -> bool {
        self.method.as_str().eq_ignore_ascii_case(method)
    }

    pub fn answer(&self, values: &RequestValues<'_>) -> HandshakeOutcome {
        if !self.conditions.iter().all(|c| c.holds(values)) {
            return HandshakeOutcome::NotHandshake;
        }
        if let Some((at, expected)) = &self.verify_token {
            let given = at.read(values).unwrap_or_default();
            if !bool::from(given.as_bytes().ct_eq(expected.bytes())) {
                return HandshakeOutcome::Refused(HandshakeError::WrongVerifyToken {
                    handshake: self.name.clone(),
                    at: at.to_string(),
                });
            }
        }
        let key = self.hmac_key.as_ref().map(SecretKey::bytes);
        let body = match &self.body {
            ResponseBody::Json(t) => t
                .render(values, key)
                .map(|v| serde_json::to_vec(&v).expect("a JSON value serializes")),
            ResponseBody::Text(t) => t.render(values, key).map(String::into_bytes),
        };
        match body {
            Ok(body) => HandshakeOutcome::Answer(HandshakeAnswer {
                handshake: self.name.clone(),
                status: self.status,
                content_type: self.content_type.clone(),
                body,
            }),
            Err(MissingValue(value)) => HandshakeOutcome::Refused(HandshakeError::MissingValue {
                handshake: self.name.clone(),
                value,
            }),
        }
    }

    /// Answers a handshake that comes without a body (a GET) from its URL query alone. Such a
    /// handshake owns the endpoint's requests of its method: one that is not the handshake is
    /// refused too.
    pub fn answer_query(&self, query: &str) -> Result<HandshakeAnswer, HandshakeError> {
        let query = query_pairs(query);
        let values = RequestValues {
            json: None,
            query: &query,
        };
        match self.answer(&values) {
            HandshakeOutcome::Answer(answer) => Ok(answer),
            HandshakeOutcome::Refused(err) => Err(err),
            HandshakeOutcome::NotHandshake => Err(HandshakeError::NotHandshake {
                handshake: self.name.clone(),
                method: self.method.as_str(),
                expected: self.describe_conditions(),
            }),
        }
    }

    /// One line for `hookroute check`: `slack: POST when $.type = "url_verification"`.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}: {} when {}",
            self.name,
            self.method.as_str(),
            self.describe_conditions()
        );
        if let Some((at, _)) = &self.verify_token {
            out.push_str(&format!(", verify token {at}"));
        }
        out
    }

    fn describe_conditions(&self) -> String {
        self.conditions
            .iter()
            .map(|c| match c {
                Condition::Json(path, v) => format!("{} = {v}", path.as_str()),
                Condition::Query(name, v) => format!("{name}={v}"),
            })
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

impl Condition {
    fn holds(&self, values: &RequestValues<'_>) -> bool {
        match self {
            Condition::Json(path, expected) => values
                .json
                .and_then(|json| path.first(json))
                .is_some_and(|v| v == expected),
            Condition::Query(name, expected) => values
                .query
                .iter()
                .find(|(k, _)| k == name)
                .is_some_and(|(_, v)| v == expected),
        }
    }
}

/// Decoded `name=value` pairs of a URL query string, in order; an undecodable query has none.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}
