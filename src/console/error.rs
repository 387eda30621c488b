//! Why a console request failed, as an HTML page: the admin operations' refusals (4xx) with
//! their message, a missing session or CSRF token, and storage failures as an opaque 500 whose
//! cause is logged (as the JSON API does).

use crate::admin::AdminError;
use crate::console::html::{self, esc, Section};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("this action did not carry this session's CSRF token: reload the page and try again")]
    Csrf,
    #[error("log in first")]
    NoSession,
    #[error("{0}")]
    BadRequest(String),
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Admin(e) => e.status_code(),
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::NoSession => StatusCode::UNAUTHORIZED,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            let cause = match self {
                ConsoleError::Admin(AdminError::Store(e)) => e.chain(),
                other => other.to_string(),
            };
            tracing::error!(error = %cause, "console request failed");
            "Internal error: the router's log has the cause.".to_string()
        } else {
            self.to_string()
        };
        let body = format!(
            r#"<p class="error" role="alert">{}</p><p><a href="/ui/events">Back to the events</a></p>"#,
            esc(&message)
        );
        let title = status.canonical_reason().unwrap_or("Error");
        super::session::html_response(status, html::page(title, Section::Events, None, "", &body))
    }
}
