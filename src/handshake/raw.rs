//! A handshake as written in YAML (a built-in in `builtins.yaml`, or an endpoint's
//! `handshake:` mapping): which requests it answers (`method`, `when`), an optional verify token
//! the request must carry, and the response. Serde types only; [`super::compile`] validates them.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandshake {
    /// POST handshakes are answered after the signature verifies; GET ones are not signed.
    #[serde(default)]
    pub method: HandshakeMethod,
    pub when: RawWhen,
    /// Where the request carries its verify token (`query:NAME` or `json:$.path`); it must equal
    /// the value of `verify_token_env`.
    pub verify_token: Option<String>,
    /// The environment variable holding the expected verify token.
    pub verify_token_env: Option<String>,
    pub respond: RawRespond,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum HandshakeMethod {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "GET", alias = "get")]
    Get,
}

impl HandshakeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Get => "GET",
        }
    }
}

/// Conditions that all hold on a handshake request: JSON body values (POST) or query parameters
/// (GET) equal to the values given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    #[serde(default)]
    pub json: IndexMap<String, serde_json::Value>,
    #[serde(default)]
    pub query: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRespond {
    /// A 2xx status (default 200).
    pub status: Option<u16>,
    /// Default: `application/json` with `json`, `text/plain` with `body`.
    pub content_type: Option<String>,
    /// A JSON body whose strings may hold placeholders.
    pub json: Option<serde_json::Value>,
    /// A text body with placeholders.
    pub body: Option<String>,
}
