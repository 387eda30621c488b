//! The loopback target of `bench/run.sh` and `bench/backlog_rss.sh`: answers every POST with 200
//! and counts them; `GET /count` answers the count. With `--hang` it never answers a POST, so a
//! target pointed at it holds its jobs pending (delivery paused without a config switch).
//!
//! Usage: `cargo run --release --example bench_sink -- 127.0.0.1:18090 [--hang]`

use actix_web::{web, App, HttpResponse, HttpServer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Sink {
    received: AtomicU64,
    hang: bool,
}

async fn receive(sink: web::Data<Sink>, _body: web::Bytes) -> HttpResponse {
    if sink.hang {
        std::future::pending::<()>().await;
    }
    sink.received.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().finish()
}

async fn count(sink: web::Data<Sink>) -> HttpResponse {
    HttpResponse::Ok().body(sink.received.load(Ordering::Relaxed).to_string())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18090".into());
    let sink = web::Data::from(Arc::new(Sink {
        received: AtomicU64::new(0),
        hang: args.any(|a| a == "--hang"),
    }));
    HttpServer::new(move || {
        App::new()
            .app_data(sink.clone())
            .route("/count", web::get().to(count))
            .default_service(web::post().to(receive))
    })
    .workers(1)
    .bind(addr)?
    .run()
    .await
}
