//! Provider handshakes declared in YAML: the requests a provider sends to check an endpoint
//! before it sends events (Slack `url_verification`, Zoom `endpoint.url_validation`, Discord
//! PING, Meta's `GET ?hub.mode=subscribe`), answered by the router itself and never stored or
//! forwarded. Built-ins are data (`builtins.yaml`); an endpoint names one, overrides one, or
//! writes its own under `handshake:`.
//!
//! Stages: [`raw`] (serde types) -> [`compile`] (an endpoint's `handshake:` value into a
//! [`Handshake`], errors with their place) -> [`answer`] (match a request, check its verify
//! token, build the [`HandshakeAnswer`]). [`template`] holds the request values and response
//! templates both use; [`builtins`] the embedded definitions.

pub mod answer;
pub mod builtins;
pub mod compile;
pub mod raw;
pub mod template;

#[cfg(test)]
mod compile_tests;

pub use answer::{query_pairs, Handshake, HandshakeAnswer, HandshakeError, HandshakeOutcome};
pub use builtins::{builtin, builtin_names, Builtin};
pub use compile::{compile_endpoint_handshake, EndpointContext};
pub use raw::HandshakeMethod;
pub use template::RequestValues;
