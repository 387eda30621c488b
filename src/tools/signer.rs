//! Signing like a provider, for `sign` and `send`: a [`Signer`] holds a compiled scheme, the
//! signing key, and where the receiving endpoint reads the event id and type, resolved from a
//! preset (`--provider`) or from an endpoint of a config (`--config --endpoint`, its first
//! secret unless one is given). [`Signer::sign`] gives the whole request a provider would send:
//! the scheme's headers (via `Scheme::sign_message`), plus the event id and type headers the
//! endpoint reads, with notes on anything the router would still refuse.

use super::args::SignerArgs;
use super::input::{self, Body};
use super::ToolError;
use crate::config::{self, Config, Environment};
use crate::signature::{self, HeaderSource, Scheme, SecretKey, SignInput, SignedMessage};
use crate::source::ValueSource;
use actix_web::http::header::HeaderMap;
use std::net::SocketAddr;

/// A scheme ready to sign with, and what the receiving endpoint expects beside the signature.
pub struct Signer {
    pub scheme: Scheme,
    /// The signing key; `None` only while it is not needed (`--new-secret`).
    key: Option<SecretKey>,
    event_id: Option<ValueSource>,
    event_type: Option<ValueSource>,
    /// For `--config`: the endpoint's path and the router's listen address.
    pub endpoint: Option<(String, SocketAddr)>,
}

/// What one signed request needs besides the body.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    pub id: String,
    pub event_type: Option<String>,
    pub now_unix_secs: i64,
    pub url: Option<String>,
}

/// A request as a provider would send it, and what the router would still miss in it.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub message: SignedMessage,
    pub body_changed: bool,
    pub url_changed: bool,
    /// Warnings for the user (e.g. no event type header, so the router will answer 400).
    pub notes: Vec<String>,
}

impl Signer {
    /// Resolves `--provider` or `--config --endpoint`, and the secret. With `need_key`, a
    /// signing key must be found (given, or the endpoint's first secret for shared-secret
    /// schemes).
    pub fn from_args(
        args: &SignerArgs,
        env: &dyn Environment,
        need_key: bool,
    ) -> Result<Self, ToolError> {
        let secret_text =
            input::secret_text(args.secret_env.as_deref(), args.secret_file.as_deref(), env)?;
        let mut signer = match (&args.provider, &args.config, &args.endpoint) {
            (Some(name), _, _) => Self::from_provider(name)?,
            (None, Some(path), Some(endpoint)) => {
                let config = config::load(path, env).map_err(ToolError::Config)?;
                Self::from_endpoint(&config, endpoint, secret_text.is_none() && need_key)?
            }
            _ => {
                return Err(ToolError::usage(
                    "give --provider NAME, or --config FILE with --endpoint PATH",
                ))
            }
        };
        if let Some(text) = secret_text {
            signer = signer.with_secret_text(&text)?;
        }
        if need_key && signer.key.is_none() {
            return Err(ToolError::usage(
                "no signing secret: give --secret-env NAME or --secret-file PATH",
            ));
        }
        Ok(signer)
    }

    /// Signs with this secret (written as the provider hands it out), decoded by the scheme.
    pub fn with_secret_text(mut self, text: &str) -> Result<Self, ToolError> {
        let key = self
            .scheme
            .decode_secret(text)
            .map_err(|e| ToolError::usage(format!("the secret cannot be used: {e}")))?;
        self.key = Some(key.with_label("given"));
        Ok(self)
    }

    /// A preset's scheme and event sources, with no key yet.
    pub fn from_provider(name: &str) -> Result<Self, ToolError> {
        let preset = signature::preset(name).ok_or_else(|| {
            ToolError::usage(format!(
                "unknown provider {name:?}; the presets are: {}",
                signature::preset_names().join(", ")
            ))
        })?;
        let scheme = signature::scheme_from_value(preset.scheme.clone()).map_err(|errors| {
            let each: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect();
            ToolError::usage(format!(
                "preset {name} does not compile: {}",
                each.join("; ")
            ))
        })?;
        let source =
            |spec: &Option<String>| spec.as_deref().and_then(|s| ValueSource::parse(s).ok());
        Ok(Self {
            scheme,
            key: None,
            event_id: source(&preset.event_id),
            event_type: source(&preset.event_type),
            endpoint: None,
        })
    }

    /// An endpoint's scheme and event sources; with `use_first_secret`, its first configured
    /// secret as the key (refused for asymmetric schemes, where the config holds the public key).
    pub fn from_endpoint(
        config: &Config,
        path: &str,
        use_first_secret: bool,
    ) -> Result<Self, ToolError> {
        let endpoint = config.endpoint(path).ok_or_else(|| {
            let paths: Vec<&str> = config.endpoints.iter().map(|e| e.path.as_str()).collect();
            ToolError::usage(format!(
                "the config has no endpoint {path:?}; its endpoints are: {}",
                paths.join(", ")
            ))
        })?;
        let key = if use_first_secret {
            if is_asymmetric(&endpoint.scheme) {
                return Err(ToolError::usage(format!(
                    "{path} verifies with a public key, which cannot sign: give the private \
                     key with --secret-env NAME or --secret-file PATH"
                )));
            }
            endpoint.secrets.first().cloned()
        } else {
            None
        };
        Ok(Self {
            scheme: endpoint.scheme.clone(),
            key,
            event_id: Some(endpoint.event_id.clone()),
            event_type: endpoint.event_type.clone(),
            endpoint: Some((endpoint.path.clone(), config.server.listen)),
        })
    }

    /// Signs `body`: the scheme's headers (body and URL changed where the scheme says), then
    /// the event id and type headers the endpoint reads, if the scheme did not set them.
    pub fn sign(&self, body: &[u8], options: &SignOptions) -> Result<SignedRequest, ToolError> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| ToolError::usage("no signing secret"))?;
        let mut message = self.scheme.sign_message(SignInput {
            secret: key,
            body,
            url: options.url.as_deref(),
            now_unix_secs: options.now_unix_secs,
            id: &options.id,
        })?;
        let mut notes = Vec::new();
        let parsed = crate::source::ParsedBody {
            json: serde_json::from_slice::<serde_json::Value>(&message.body).ok(),
            form: None,
        };
        let sources = [
            (
                "event id",
                &self.event_id,
                Some(options.id.as_str()),
                "--id",
            ),
            (
                "event type",
                &self.event_type,
                options.event_type.as_deref(),
                "--event-type",
            ),
        ];
        for (what, source, value, flag) in sources {
            match source {
                Some(ValueSource::Header(name)) => {
                    if message.headers.as_slice().header(name).is_some() {
                        continue;
                    }
                    match value {
                        Some(value) => message.headers.push((name.clone(), value.to_string())),
                        None => notes.push(format!(
                            "the endpoint reads the {what} from header {name}, which this request \
                             lacks (the router will answer 400): give {flag}"
                        )),
                    }
                }
                Some(json_source @ ValueSource::Json(_))
                    if json_source.read(&HeaderMap::new(), &parsed).is_none() =>
                {
                    notes.push(format!(
                        "the body has no {what} at {json_source} (the router will answer 400)"
                    ));
                }
                _ => {}
            }
        }
        Ok(SignedRequest {
            body_changed: message.body != body,
            url_changed: message.url.as_deref() != options.url.as_deref(),
            message,
            notes,
        })
    }
}

/// Whether the secret a receiver configures differs from the one a sender signs with (Ed25519,
/// ECDSA). Asked through the signing interface, so a new asymmetric algorithm needs no change
/// here; a scheme that cannot make a key is taken as asymmetric (signing with what the receiver
/// holds would then be wrong).
pub fn is_asymmetric(scheme: &Scheme) -> bool {
    match scheme.generate_signing_secret() {
        Ok(signing) => scheme.verifying_secret_text(&signing).ok().as_ref() != Some(&signing),
        Err(_) => true,
    }
}

/// A fresh id like the ones providers send (`msg_` and 24 hex digits).
pub fn random_id() -> String {
    format!("msg_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// The current unix time in seconds.
pub fn now_unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The body from `--body` (required when signing).
pub fn read_body(args: &SignerArgs) -> Result<Body, ToolError> {
    let path = args.body.as_deref().ok_or_else(|| {
        ToolError::usage("give the body to sign with --body FILE (or - for stdin)")
    })?;
    Body::read(path)
}

/// The options of one signed request from the command line; `default_url` is where it goes.
pub fn options(args: &SignerArgs, default_url: Option<&str>) -> SignOptions {
    SignOptions {
        id: args.id.clone().unwrap_or_else(random_id),
        event_type: args.event_type.clone(),
        now_unix_secs: args.timestamp.unwrap_or_else(now_unix_secs),
        url: args.url.clone().or(default_url.map(str::to_string)),
    }
}
