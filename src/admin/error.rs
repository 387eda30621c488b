//! Why an admin request was refused, and how each reason answers: 4xx as structured JSON
//! `{"error": code, "message": ..}`, storage failures as an opaque 500 whose cause is logged.

use crate::store::{QueueError, StoreError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("no event {0}")]
    EventNotFound(String),
    #[error("no job {0}")]
    JobNotFound(u64),
    #[error("job {0} is not dead-lettered")]
    NotDead(u64),
    #[error("no target named {0:?} in the current config")]
    UnknownTarget(String),
    #[error("the event's endpoint {0:?} is no longer configured: name a target")]
    EndpointGone(String),
    #[error("no target of the current config matches this event")]
    NothingToReplay,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<QueueError> for AdminError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::JobNotFound(id) => AdminError::JobNotFound(id),
            QueueError::NotDead(id) => AdminError::NotDead(id),
            QueueError::EventNotFound(seq) => AdminError::EventNotFound(seq.to_string()),
            QueueError::Store(e) => AdminError::Store(e),
        }
    }
}

impl AdminError {
    /// The machine-readable code in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Unauthorized => "unauthorized",
            AdminError::EventNotFound(_) => "event_not_found",
            AdminError::JobNotFound(_) => "job_not_found",
            AdminError::NotDead(_) => "job_not_dead",
            AdminError::UnknownTarget(_) => "unknown_target",
            AdminError::EndpointGone(_) => "endpoint_gone",
            AdminError::NothingToReplay => "no_matching_target",
            AdminError::BadRequest(_) => "bad_request",
            AdminError::Store(_) => "internal",
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::EventNotFound(_)
            | AdminError::JobNotFound(_)
            | AdminError::UnknownTarget(_) => StatusCode::NOT_FOUND,
            AdminError::NotDead(_) | AdminError::EndpointGone(_) | AdminError::NothingToReplay => {
                StatusCode::CONFLICT
            }
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            let error = match self {
                AdminError::Store(e) => e.chain(),
                other => other.to_string(),
            };
            tracing::error!(%error, "admin request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        resp.json(json!({"error": self.code(), "message": message}))
    }
}
