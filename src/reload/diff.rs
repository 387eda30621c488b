//! What a reload changes, in one log line: endpoints (by path), rules (by endpoint path and rule
//! name), targets (by name) added, removed or changed, and live settings changed. "Changed"
//! compares what the file declares: plain data by equality, compiled matchers (regexes, globs,
//! JSONPath) by the source text they were compiled from, never by their `Debug` text (a glob
//! matcher's changes as it is used, which made an unchanged file count as a change). Secret
//! bytes are compared, never printed.

use super::status::RestartSetting;
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::rules::Rule;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Names added, removed and changed in one kind of item, in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Compares two keyed lists; `same` decides whether an item present in both is unchanged.
    fn between<T>(
        old: Vec<(String, T)>,
        new: Vec<(String, T)>,
        same: impl Fn(&T, &T) -> bool,
    ) -> Self {
        let old_by: HashMap<&str, &T> = old.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let new_keys: HashSet<&str> = new.iter().map(|(k, _)| k.as_str()).collect();
        let mut changes = Changes::default();
        for (key, item) in &new {
            match old_by.get(key.as_str()) {
                None => changes.added.push(key.clone()),
                Some(before) if !same(before, item) => changes.changed.push(key.clone()),
                Some(_) => {}
            }
        }
        for (key, _) in &old {
            if !new_keys.contains(key.as_str()) {
                changes.removed.push(key.clone());
            }
        }
        changes
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, what: &str) -> fmt::Result {
        f.write_str(what)?;
        for (sign, names) in [
            ("+", &self.added),
            ("-", &self.removed),
            ("~", &self.changed),
        ] {
            for name in names {
                write!(f, " {sign}{name}")?;
            }
        }
        Ok(())
    }
}

/// Everything one reload changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfigDiff {
    pub endpoints: Changes,
    /// Rules of endpoints present before and after, keyed `PATH#RULE_NAME`. A change to an
    /// endpoint's rules alone does not list the endpoint as changed.
    pub rules: Changes,
    pub targets: Changes,
    /// Settings that changed and take effect now.
    pub settings: Vec<&'static str>,
    /// Settings that changed in the file but wait for a restart (the running value is kept).
    pub needs_restart: Vec<RestartSetting>,
}

impl ConfigDiff {
    /// `old` is the running snapshot, `new` the configuration just loaded from the file.
    pub fn between(old: &Config, new: &Config) -> Self {
        let by_path = |c: &Config| {
            c.endpoints
                .iter()
                .map(|e| (e.path.clone(), e.clone()))
                .collect::<Vec<_>>()
        };
        let endpoints = Changes::between(by_path(old), by_path(new), |a, b| {
            endpoint_settings_equal(a, b)
        });

        let new_paths: HashMap<&str, &Endpoint> = new
            .endpoints
            .iter()
            .map(|e| (e.path.as_str(), &**e))
            .collect();
        let mut rules = Changes::default();
        for before in &old.endpoints {
            if let Some(after) = new_paths.get(before.path.as_str()) {
                let c = Changes::between(rules_of(before), rules_of(after), |a, b| a == b);
                rules.added.extend(c.added);
                rules.removed.extend(c.removed);
                rules.changed.extend(c.changed);
            }
        }

        let by_name = |c: &Config| {
            c.targets
                .iter()
                .map(|(name, t)| (name.to_string(), t.clone()))
                .collect::<Vec<_>>()
        };
        let targets = Changes::between(by_name(old), by_name(new), |a, b| a == b);

        let mut settings = Vec::new();
        if old.server.max_body_size != new.server.max_body_size {
            settings.push("server.max_body_size");
        }
        if old.server.request_timeout != new.server.request_timeout {
            settings.push("server.request_timeout");
        }
        if old.server.trust_forwarded_headers != new.server.trust_forwarded_headers {
            settings.push("server.trust_forwarded_headers");
        }
        if old.admin.token != new.admin.token {
            settings.push("admin.token");
        }
        let (was, now) = (&old.storage, &new.storage);
        for (name, changed) in [
            ("storage.retention", was.retention != now.retention),
            (
                "storage.prune_interval",
                was.prune_interval != now.prune_interval,
            ),
            ("storage.max_size", was.max_size != now.max_size),
            (
                "storage.min_free_space",
                was.min_free_space != now.min_free_space,
            ),
        ] {
            if changed {
                settings.push(name);
            }
        }

        Self {
            endpoints,
            rules,
            targets,
            settings,
            needs_restart: super::restart::restart_settings(old, new),
        }
    }

    /// Nothing to apply (settings that need a restart are not applied either).
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
            && self.rules.is_empty()
            && self.targets.is_empty()
            && self.settings.is_empty()
    }
}

impl fmt::Display for ConfigDiff {
    /// `endpoints +/new -/old; rules ~/orders#all; targets ~audit-log; settings
    /// ~server.request_timeout; needs a restart: server.listen (a -> b)`, or `no changes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = 0;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            parts += 1;
            if parts > 1 {
                f.write_str("; ")
            } else {
                Ok(())
            }
        };
        for (changes, what) in [
            (&self.endpoints, "endpoints"),
            (&self.rules, "rules"),
            (&self.targets, "targets"),
        ] {
            if !changes.is_empty() {
                sep(f)?;
                changes.write(f, what)?;
            }
        }
        if !self.settings.is_empty() {
            sep(f)?;
            f.write_str("settings")?;
            for s in &self.settings {
                write!(f, " ~{s}")?;
            }
        }
        if !self.needs_restart.is_empty() {
            sep(f)?;
            f.write_str("needs a restart:")?;
            for (i, s) in self.needs_restart.iter().enumerate() {
                write!(f, "{}{s}", if i == 0 { " " } else { ", " })?;
            }
        }
        if parts == 0 {
            f.write_str("no changes")?;
        }
        Ok(())
    }
}

/// Rules keyed `PATH#NAME` (a repeated name gets `#2`, `#3`...).
fn rules_of(e: &Endpoint) -> Vec<(String, &Rule)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    e.rules
        .iter()
        .map(|r| {
            let n = seen.entry(r.name.as_str()).or_default();
            *n += 1;
            let key = match *n {
                1 => format!("{}#{}", e.path, r.name),
                n => format!("{}#{}#{n}", e.path, r.name),
            };
            (key, r)
        })
        .collect()
}

/// Everything about an endpoint except its rules (compared one by one).
fn endpoint_settings_equal(a: &Endpoint, b: &Endpoint) -> bool {
    // Destructured so that a field added to `Endpoint` does not compile here until it is
    // compared.
    let Endpoint {
        name,
        path,
        provider,
        scheme,
        secrets,
        event_id,
        event_type,
        invalid_signature_status,
        unmatched,
        max_body_size,
        rules: _,
        needs_json,
        handshake,
        needs_form,
        public_url,
        ordering,
        max_event_field_length,
        stored_headers,
    } = a;
    *name == b.name
        && *path == b.path
        && *provider == b.provider
        && *scheme == b.scheme
        && *secrets == b.secrets
        && *event_id == b.event_id
        && *event_type == b.event_type
        && *invalid_signature_status == b.invalid_signature_status
        && *unmatched == b.unmatched
        && *max_body_size == b.max_body_size
        && *needs_json == b.needs_json
        && *handshake == b.handshake
        && *needs_form == b.needs_form
        && *public_url == b.public_url
        && *ordering == b.ordering
        && *max_event_field_length == b.max_event_field_length
        && *stored_headers == b.stored_headers
}
