//! Signing like a sender, for outbound signing, `hookroute sign`/`send` and round-trip tests:
//! fill in what the sender supplies (timestamp, id headers and fields, the body digest), render
//! the payload, and put the signature where the scheme reads it (a header, a field of the JSON
//! body or of each `for_each` item, a form field, a query parameter). Also makes fresh secrets
//! in the form a provider hands them out, and derives the receiver's (public) side.

use base64::Engine as _;
use serde_json::Value;

use super::compile::{Scheme, TimestampSource};
use super::field::{FieldSource, RequestView};
use super::header::{encode_signature, format_signature_header};
use super::keys::{
    ecdsa_generate, ecdsa_public, ecdsa_sign, ed25519_generate, ed25519_public, ed25519_sign,
};
use super::raw::{KeyDecoding, RawAlgorithm, TimestampUnit};
use super::request::{HeaderList, HeaderSource, SignInput, SignedMessage, SignedRequest};
use super::secret::SecretKey;
use super::template::RenderInput;
use super::url::with_query_param;
use super::verify::{body_digest, SignatureError};

impl Scheme {
    /// The headers a sender would send for `body` at `now_unix_secs`, for schemes that carry
    /// everything in headers (see [`Scheme::sign_message`] for the others).
    ///
    /// # Panics
    /// If the scheme signs the URL or changes the body (use [`Scheme::sign_message`]), or the
    /// secret cannot sign (an ed25519 public key, an ECDSA public key).
    pub fn sign(
        &self,
        secret: &SecretKey,
        body: &[u8],
        now_unix_secs: i64,
        id: &str,
    ) -> Vec<(String, String)> {
        let message = self
            .sign_message(SignInput {
                secret,
                body,
                url: None,
                now_unix_secs,
                id,
            })
            .unwrap_or_else(|err| panic!("Scheme::sign: {err}"));
        assert!(
            message.body == body,
            "Scheme::sign: this scheme changes the body; use sign_message"
        );
        message.headers
    }

    /// Signs a whole message as a real provider would send it: the headers, and for schemes
    /// that carry the signature (or the signed inputs) in the body or the URL, the changed body
    /// or URL. Values the payload reads from headers or `vars` that the body does not already
    /// hold are set to `id`; a timestamp is set to `now_unix_secs`.
    pub fn sign_message(&self, input: SignInput<'_>) -> Result<SignedMessage, SignatureError> {
        let mut headers = HeaderList::new();
        let mut url = input.url.map(str::to_string);
        if self.needs_url() && url.is_none() {
            return Err(SignatureError::UrlUnknown);
        }
        let id = if input.id.is_empty() {
            hex::encode(rand::random::<[u8; 16]>())
        } else {
            input.id.to_string()
        };
        let timestamp = self.timestamp.as_ref().map(|rule| match rule.unit {
            TimestampUnit::S => input.now_unix_secs.to_string(),
            TimestampUnit::Ms => input.now_unix_secs.saturating_mul(1000).to_string(),
        });

        // What the sender supplies outside the body.
        let mut timestamp_field = None;
        if let (Some(rule), Some(text)) = (&self.timestamp, &timestamp) {
            match &rule.source {
                TimestampSource::SignatureField(label) => timestamp_field = Some(label.as_str()),
                TimestampSource::Field(FieldSource::Header(name)) => {
                    headers.0.push((name.clone(), text.clone()))
                }
                TimestampSource::Field(FieldSource::Query(name)) => {
                    url = url.map(|u| with_query_param(&u, name, text))
                }
                TimestampSource::Field(FieldSource::Form(name)) => {
                    return Err(SignatureError::CannotSign(format!(
                        "the timestamp is read from form field {name}, which is the sender's body"
                    )))
                }
                TimestampSource::Field(FieldSource::Json(_)) => {}
            }
        }
        for name in self.payload.header_names() {
            if headers.header(name).is_none() {
                headers.0.push((name.to_string(), id.clone()));
            }
        }
        for source in self.vars.values() {
            if let FieldSource::Query(name) = source {
                url = url.map(|u| with_query_param(&u, name, &id));
            }
        }

        // What the sender supplies inside a JSON body.
        let mut body = input.body.to_vec();
        let mut doc = if self.writes_json() {
            let mut doc: Value = serde_json::from_slice(&body).map_err(|err| {
                SignatureError::CannotSign(format!(
                    "the scheme writes into a JSON body, and the body is not JSON: {err}"
                ))
            })?;
            for unit in self.units_mut(&mut doc) {
                self.fill_json(unit, timestamp.as_deref(), &id)?;
            }
            body = serde_json::to_vec(&doc).expect("a JSON value serializes");
            Some(doc)
        } else {
            None
        };

        if let Some(rule) = &self.body_digest {
            let digest = encode_signature(&body_digest(rule.algorithm, &body), rule.encoding);
            match &rule.source {
                FieldSource::Query(name) => url = url.map(|u| with_query_param(&u, name, &digest)),
                FieldSource::Header(name) => headers.0.push((name.clone(), digest)),
                _ => unreachable!("compile allows a digest only in the query or a header"),
            }
        }

        // The signature of each unit, computed over the request as it now stands.
        let values: Vec<String> = {
            let request = SignedRequest {
                headers: &headers,
                body: &body,
                url: url.as_deref(),
            };
            let view = RequestView::new(request);
            match (&self.for_each, &doc) {
                (Some(path), Some(doc)) => path
                    .select(doc)
                    .into_iter()
                    .map(|item| {
                        self.signature_value(
                            &view,
                            Some(item),
                            &timestamp,
                            timestamp_field,
                            input.secret,
                        )
                    })
                    .collect::<Result<_, _>>()?,
                _ => vec![self.signature_value(
                    &view,
                    None,
                    &timestamp,
                    timestamp_field,
                    input.secret,
                )?],
            }
        };
        if self.for_each.is_some() && values.is_empty() {
            return Err(SignatureError::CannotSign(
                "the body has no items to sign".to_string(),
            ));
        }

        match (&self.signature.source, doc.as_mut()) {
            (FieldSource::Header(name), _) => {
                let value = values.into_iter().next().expect("one signature");
                headers.0.insert(0, (name.clone(), value));
            }
            (FieldSource::Json(path), Some(doc)) => {
                let units = self.units_mut(doc);
                for (unit, value) in units.into_iter().zip(values) {
                    path.set(unit, Value::String(value))
                        .map_err(SignatureError::CannotSign)?;
                }
                body = serde_json::to_vec(&doc).expect("a JSON value serializes");
            }
            (FieldSource::Form(name), _) => {
                let value = values.into_iter().next().expect("one signature");
                let pair = form_urlencoded::Serializer::new(String::new())
                    .append_pair(name, &value)
                    .finish();
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(pair.as_bytes());
            }
            (FieldSource::Query(name), _) => {
                let value = values.into_iter().next().expect("one signature");
                url = url.map(|u| with_query_param(&u, name, &value));
            }
            (FieldSource::Json(_), None) => unreachable!("writes_json parsed the body"),
        }
        Ok(SignedMessage {
            headers: headers.0,
            body,
            url,
        })
    }

    /// Whether signing writes into a JSON body (the signature, the timestamp or a var lives
    /// there, or the body holds items).
    fn writes_json(&self) -> bool {
        self.for_each.is_some()
            || self.signature.source.reads_json()
            || self.vars.values().any(FieldSource::reads_json)
            || matches!(&self.timestamp, Some(rule) if matches!(&rule.source, TimestampSource::Field(f) if f.reads_json()))
    }

    /// The JSON values signed one by one: each `for_each` item, or the whole document.
    fn units_mut<'v>(&self, doc: &'v mut Value) -> Vec<&'v mut Value> {
        match &self.for_each {
            Some(path) => path.select_mut(doc),
            None => vec![doc],
        }
    }

    /// Sets the timestamp (keeping a number a number) and any var the unit lacks.
    fn fill_json(
        &self,
        unit: &mut Value,
        timestamp: Option<&str>,
        id: &str,
    ) -> Result<(), SignatureError> {
        if let (Some(rule), Some(text)) = (&self.timestamp, timestamp) {
            if let TimestampSource::Field(FieldSource::Json(path)) = &rule.source {
                let value = match path.get(unit) {
                    Some(Value::Number(_)) => {
                        Value::Number(text.parse::<i64>().unwrap_or_default().into())
                    }
                    _ => Value::String(text.to_string()),
                };
                path.set(unit, value).map_err(SignatureError::CannotSign)?;
            }
        }
        for source in self.vars.values() {
            if let FieldSource::Json(path) = source {
                if path.get(unit).is_none() {
                    path.set(unit, Value::String(id.to_string()))
                        .map_err(SignatureError::CannotSign)?;
                }
            }
        }
        Ok(())
    }

    /// The signature as written where the scheme reads it (prefix, kv list, encoding).
    fn signature_value(
        &self,
        view: &RequestView<'_>,
        item: Option<&Value>,
        timestamp: &Option<String>,
        timestamp_field: Option<&str>,
        secret: &SecretKey,
    ) -> Result<String, SignatureError> {
        let rule = &self.signature;
        if self.algorithm == RawAlgorithm::TokenEquals {
            let token = String::from_utf8_lossy(secret.bytes());
            return Ok(format!("{}{token}", rule.prefix.as_deref().unwrap_or("")));
        }
        let payload = self.payload.render(RenderInput {
            view,
            item,
            timestamp: timestamp.as_deref(),
            url: view.request.url,
        })?;
        let signature = match self.algorithm {
            RawAlgorithm::Ed25519 => {
                ed25519_sign(secret.bytes(), &payload.concat()).ok_or_else(|| {
                    SignatureError::CannotSign(
                    "an ed25519 signing secret is a 32-byte seed or a 64-byte seed+public keypair"
                        .to_string(),
                )
                })?
            }
            RawAlgorithm::EcdsaP256Sha256 => ecdsa_sign(secret.bytes(), &payload.concat())
                .ok_or_else(|| {
                    SignatureError::CannotSign(
                        "an ecdsa-p256-sha256 signing secret is a DER PKCS#8 private key; a \
                         public key cannot sign"
                            .to_string(),
                    )
                })?,
            _ => self.mac(secret.bytes(), &payload),
        };
        let encoded = encode_signature(&signature, rule.encoding);
        Ok(format_signature_header(
            &rule.layout,
            rule.prefix.as_deref(),
            timestamp_field.zip(timestamp.as_deref()),
            &encoded,
        ))
    }

    /// The secret text a receiver configures to verify what `signing_secret` signs: the same
    /// text for shared-secret (HMAC, token) schemes, the encoded public key for asymmetric ones
    /// (`whpk_...` base64 for Standard Webhooks, hex for Discord, base64 DER
    /// SubjectPublicKeyInfo for SendGrid).
    pub fn verifying_secret_text(&self, signing_secret: &str) -> Result<String, String> {
        let public = match self.algorithm {
            RawAlgorithm::Ed25519 => ed25519_public(&self.key.decode(signing_secret)?).ok_or(
                "an ed25519 signing secret is a 32-byte seed or a 64-byte seed+public keypair",
            )?,
            RawAlgorithm::EcdsaP256Sha256 => ecdsa_public(&self.key.decode(signing_secret)?)
                .ok_or("an ecdsa-p256-sha256 signing secret is a DER PKCS#8 private key")?,
            _ => return Ok(signing_secret.to_string()),
        };
        Ok(self.encode_key(&public, "pk_"))
    }

    /// A fresh random signing secret written the way this scheme's senders hand it out (for
    /// `hookroute sign --new-secret` and round-trip tests): 32 random bytes in the key's
    /// encoding (hex for plain-text keys) with the scheme's prefix; for ed25519 a 64-byte
    /// seed+public keypair, for ECDSA a DER PKCS#8 private key, each in the key's encoding
    /// (`whsk_` base64 for Standard Webhooks). [`Scheme::verifying_secret_text`] gives the
    /// receiver's side.
    pub fn generate_signing_secret(&self) -> Result<String, String> {
        let bytes = match self.algorithm {
            RawAlgorithm::Ed25519 => ed25519_generate(),
            RawAlgorithm::EcdsaP256Sha256 => ecdsa_generate(),
            _ => rand::random::<[u8; 32]>().to_vec(),
        };
        Ok(self.encode_key(&bytes, "sk_"))
    }

    /// Key bytes as configured text: the prefix ending in `kind_suffix` (`sk_`, `pk_`) or else
    /// the first prefix, then the bytes in the key's encoding (hex for plain text).
    fn encode_key(&self, bytes: &[u8], kind_suffix: &str) -> String {
        let prefixes = &self.key.strip_prefix;
        let prefix = prefixes
            .iter()
            .find(|p| p.ends_with(kind_suffix))
            .or(prefixes.first())
            .map_or("", String::as_str);
        let text = match self.key.decode {
            KeyDecoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            KeyDecoding::Utf8 | KeyDecoding::Hex => hex::encode(bytes),
        };
        format!("{prefix}{text}")
    }
}
