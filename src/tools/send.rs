//! `hookroute send`: sign a body like `sign` does and POST it to a running router (by default
//! the config's `server.listen` plus the endpoint's path). Prints the status and the router's
//! JSON answer; exits 0 on a 2xx, 1 on any other status, 69 when the router is unreachable.

use super::args::SendArgs;
use super::signer::{self, Signer};
use super::{input, CommandOutput, ToolError};
use crate::config::Environment;
use std::net::SocketAddr;

pub fn run(args: &SendArgs, env: &dyn Environment) -> Result<CommandOutput, ToolError> {
    let signer = Signer::from_args(&args.signer, env, true)?;
    let url = destination(args.to.as_deref(), signer.endpoint.as_ref())?;
    let body = signer::read_body(&args.signer)?;
    let options = signer::options(&args.signer, Some(&url));
    let signed = signer.sign(&body.bytes, &options)?;
    let url = signed.message.url.clone().unwrap_or(url);
    let content_type = input::content_type(&signed.message.body);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ToolError::usage(format!("cannot start a runtime: {e}")))?;
    let (status, answer) = runtime.block_on(post(&url, content_type, &signed.message))?;
    let shown = match serde_json::from_str::<serde_json::Value>(&answer) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or(answer),
        Err(_) => answer,
    };
    let exit_code = if (200..300).contains(&status) { 0 } else { 1 };
    Ok(
        CommandOutput::ok(format!("POST {url}\nHTTP {status}\n{shown}\n"))
            .with_notes(signed.notes)
            .with_exit_code(exit_code),
    )
}

/// Where to POST: `--to` as it is when it has a path; else `--to` (or the config's listen
/// address) followed by the endpoint's path. Without a config, `--to` is required.
pub fn destination(
    to: Option<&str>,
    endpoint: Option<&(String, SocketAddr)>,
) -> Result<String, ToolError> {
    let Some((path, listen)) = endpoint else {
        return to.map(str::to_string).ok_or_else(|| {
            ToolError::usage("give the URL to send to with --to URL (or use --config --endpoint)")
        });
    };
    let base = match to {
        Some(to) => to.to_string(),
        None => {
            let mut addr = *listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    let parsed = reqwest::Url::parse(&base)
        .map_err(|e| ToolError::usage(format!("--to {base:?} is not a URL: {e}")))?;
    if parsed.path() != "/" {
        return Ok(base);
    }
    Ok(format!("{}{path}", base.trim_end_matches('/')))
}

async fn post(
    url: &str,
    content_type: &str,
    message: &crate::signature::SignedMessage,
) -> Result<(u16, String), ToolError> {
    let unreachable = |e: reqwest::Error| ToolError::Unreachable {
        url: url.to_string(),
        cause: e.to_string(),
    };
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(message.body.clone());
    for (name, value) in &message.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(unreachable)?;
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_appends_the_endpoint_path_to_a_base_url_only() {
        let ep = ("/hooks/x".to_string(), "0.0.0.0:8080".parse().unwrap());
        assert_eq!(
            destination(None, Some(&ep)).unwrap(),
            "http://127.0.0.1:8080/hooks/x"
        );
        assert_eq!(
            destination(Some("http://h:1/"), Some(&ep)).unwrap(),
            "http://h:1/hooks/x"
        );
        assert_eq!(
            destination(Some("http://h:1/other"), Some(&ep)).unwrap(),
            "http://h:1/other"
        );
        assert!(destination(None, None).is_err());
    }
}
