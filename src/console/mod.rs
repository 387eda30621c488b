//! The web console: server-rendered HTML pages on the admin listener under `/ui`, for the people
//! on call: events (filter, open, replay), dead letters (retry one or all shown, with
//! progress), targets (queue depth, oldest due age, recent success and latency) and the loaded
//! configuration with the last reload's result. It reads and acts through the same
//! [`crate::admin::ops`] functions as the JSON admin API, so the two cannot disagree.
//!
//! It lives under the admin listener's rules: loopback by default; with `admin.token_env`, a
//! log-in form trades the token for a session cookie ([`session`]), instead of the bearer
//! header the JSON API wants; every action (POST) carries the session's CSRF token. Its
//! stylesheet and script are compiled into the binary (`include_str!`), nothing is fetched at
//! run time and nothing needs Node to build. The script only refreshes the live regions
//! (`data-live`, polled every 2 s) and drives "retry all shown" in batches; every page and
//! action works without it.

pub mod config_page;
pub mod dlq;
pub mod error;
pub mod event_page;
pub mod events;
pub mod html;
pub mod session;
pub mod targets;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};

/// Whether the console (not the bearer-token check) decides who may see `path`: `/ui` and
/// below, and `/`, which only redirects there.
pub fn owns(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

/// Registers the console's routes (call inside the admin `App`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { session::redirect("/ui/events") }),
    )
    .service(
        web::scope("/ui")
            .wrap(from_fn(session::authenticate))
            .route(
                "",
                web::get().to(|| async { session::redirect("/ui/events") }),
            )
            .route(
                "/",
                web::get().to(|| async { session::redirect("/ui/events") }),
            )
            .route("/assets/console.css", web::get().to(css))
            .route("/assets/console.js", web::get().to(js))
            .route("/login", web::get().to(session::login_form))
            .route("/login", web::post().to(session::login))
            .route("/logout", web::post().to(session::logout))
            .route("/events", web::get().to(events::list))
            .route("/events/rows", web::get().to(events::rows))
            .route("/events/{seq}", web::get().to(event_page::show))
            .route(
                "/events/{seq}/deliveries",
                web::get().to(event_page::deliveries),
            )
            .route("/events/{seq}/replay", web::post().to(event_page::replay))
            .route("/dlq", web::get().to(dlq::list))
            .route("/dlq/retry", web::post().to(dlq::retry_many))
            .route("/dlq/{job_id}/retry", web::post().to(dlq::retry_one))
            .route("/targets", web::get().to(targets::page))
            .route("/targets/table", web::get().to(targets::table_fragment))
            .route("/targets/{name}/{action}", web::post().to(targets::switch))
            .route("/config", web::get().to(config_page::page)),
    );
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=300"))
        .body(html::CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=300"))
        .body(html::JS)
}
