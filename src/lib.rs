//! hookroute: a config-driven webhook router. Requests come in on endpoints declared in
//! `routes.yaml`; each is verified (signature over the raw bytes), its event id and type
//! extracted, routed by rules to targets, and stored durably with one delivery job per target
//! before it is acknowledged.
//!
//! The pipeline, stage by stage: [`ingress`] (HTTP, body limit) -> [`signature`] (verify) ->
//! [`source`] / [`jsonpath`] (extract) -> [`rules`] (route) -> [`store`] (dedup and persist,
//! group commit) -> answer. [`config`] turns the YAML into the compiled types these stages use.
//! [`tools`] holds the test-loop commands (`sign`, `send`, `explain`) built on those stages;
//! [`fixtures`] the recorded requests that test a config (`hookroute test`, the reload gate).

pub mod admin;
pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod endpoint;
pub mod fixtures;
pub mod handshake;
pub mod ingress;
pub mod jsonpath;
pub mod metrics;
pub mod reload;
pub mod rules;
pub mod signature;
pub mod source;
pub mod store;
pub mod stored_headers;
pub mod target;
pub mod tools;
