//! `hookroute sign`: the request a real provider would send for a body. Prints the headers one
//! per line (`Name: value`); when the scheme changes the URL, a first line `POST URL`; when it
//! changes the body, a blank line and the body (an HTTP message, in short). With `--curl URL`,
//! a ready-to-paste curl command instead. With `--new-secret`, a fresh secret: the only time a
//! secret is printed.

use super::args::SignArgs;
use super::signer::{self, Signer};
use super::{curl, input, CommandOutput, ToolError};
use crate::config::Environment;

pub fn run(args: &SignArgs, env: &dyn Environment) -> Result<CommandOutput, ToolError> {
    let signer = Signer::from_args(&args.signer, env, !args.new_secret)?;
    if args.new_secret {
        return new_secret(&signer);
    }
    let body = signer::read_body(&args.signer)?;
    let options = signer::options(&args.signer, args.curl.as_deref());
    let signed = signer.sign(&body.bytes, &options)?;
    let stdout = match &args.curl {
        Some(url) => curl::command(
            url,
            &signed,
            input::content_type(&signed.message.body),
            body.file.as_deref(),
        )?,
        None => message_text(&signed),
    };
    Ok(CommandOutput::ok(stdout).with_notes(signed.notes))
}

/// The signed request as text: `POST URL` if the URL changed, the headers, the body if changed.
pub fn message_text(signed: &signer::SignedRequest) -> String {
    let mut out = String::new();
    if let (true, Some(url)) = (signed.url_changed, &signed.message.url) {
        out.push_str(&format!("POST {url}\n"));
    }
    for (name, value) in &signed.message.headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    if signed.body_changed {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&signed.message.body));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// A fresh signing secret, and the text the receiver configures (the same for shared secrets,
/// the public key for asymmetric schemes).
fn new_secret(signer: &Signer) -> Result<CommandOutput, ToolError> {
    let scheme = &signer.scheme;
    let signing = scheme
        .generate_signing_secret()
        .map_err(|e| ToolError::usage(format!("cannot generate a secret for this scheme: {e}")))?;
    let verifying = scheme
        .verifying_secret_text(&signing)
        .map_err(|e| ToolError::usage(format!("cannot derive the verifying secret: {e}")))?;
    Ok(CommandOutput::ok(format!(
        "signing_secret: {signing}\nverifying_secret: {verifying}\n"
    )))
}
