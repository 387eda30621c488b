//! The admin API's HTTP client, used by the CLI (which must not open the store: sled allows one
//! process per store). Answers come back as JSON values; an error answer becomes
//! [`ClientError::Api`] with the API's code and message.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the admin API at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the admin API answered {status}: {message} ({code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the admin API answered {status} with an unreadable body: {body}")]
    InvalidAnswer { status: u16, body: String },
}

pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(self.url(path)), path).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let mut req = self.http.post(self.url(path));
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req, path).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<Value, ClientError> {
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let unreachable = |source| ClientError::Unreachable {
            url: self.url(path),
            source,
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(unreachable)?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        match json {
            Some(v) if (200..300).contains(&status) => Ok(v),
            Some(v) if v.get("error").is_some() => Err(ClientError::Api {
                status,
                code: v["error"].as_str().unwrap_or_default().to_string(),
                message: v["message"].as_str().unwrap_or_default().to_string(),
            }),
            _ => Err(ClientError::InvalidAnswer { status, body: text }),
        }
    }
}
