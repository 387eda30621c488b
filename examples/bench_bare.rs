//! The bare row of `bench/run.sh`: the least an actix-web server can do for a webhook, reading
//! the body and answering 200 with a small JSON body, on one worker. Its rate is the limit of
//! HTTP on this machine, which every other row is measured against.
//!
//! Usage: `cargo run --release --example bench_bare -- 127.0.0.1:18081`

use actix_web::{web, App, HttpResponse, HttpServer};

async fn accept(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(format!(r#"{{"status":"accepted","bytes":{}}}"#, body.len()))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    HttpServer::new(|| App::new().default_service(web::to(accept)))
        .workers(1)
        .bind(addr)?
        .run()
        .await
}
